package intents

import (
	"fmt"
	"strings"

	"github.com/attune-chat/attune/intents/nlu"
)

// faqLabelPrefix marks classifier labels that stand for FAQ entries, as Rasa's retrieval intents do.
const faqLabelPrefix = "faq/"

// Understanding is a configuration together with the classifier trained on it. It is immutable
// and safe for concurrent use; a reload builds a new one.
type Understanding struct {
	Config    *Config
	Model     *nlu.Model
	Threshold float64
	Ambiguity float64
}

// Match is what a visitor message was understood to be about.
type Match struct {
	Prediction nlu.Prediction `json:"prediction"`
	// InScope is false when the best candidate is not confident enough to act on.
	InScope bool `json:"in_scope"`
	// Ambiguous is true when the two best candidates are too close to choose between.
	Ambiguous bool `json:"ambiguous,omitempty"`
	// Intent or FAQ is the matched topic (nil when out of scope).
	Intent *Intent    `json:"-"`
	FAQ    *FAQEntry  `json:"-"`
	Runner nlu.Scored `json:"runner_up"`
}

// Train builds the classifier of a validated configuration.
func Train(cfg *Config) (*Understanding, error) {
	examples, _ := cfg.trainingExamples()
	model, err := nlu.Train(examples, nlu.Options{})
	if err != nil {
		return nil, fmt.Errorf("train classifier for %s: %w", cfg.Source, err)
	}
	u := &Understanding{Config: cfg, Model: model, Threshold: cfg.Classifier.Threshold, Ambiguity: cfg.Classifier.Ambiguity}
	if u.Threshold == 0 {
		u.Threshold = nlu.DefaultThreshold
	}
	if u.Ambiguity == 0 {
		u.Ambiguity = DefaultAmbiguity
	}
	return u, nil
}

// Understand classifies a visitor message against the configured intents and FAQ.
func (u *Understanding) Understand(text string) Match {
	p := u.Model.Classify(text)
	m := Match{Prediction: p, InScope: p.InScope(u.Threshold)}
	if len(p.Top) > 1 {
		m.Runner = p.Top[1]
	}
	if !m.InScope {
		return m
	}
	m.Intent, m.FAQ = u.topic(p.Label)
	// Two real topics this close are a coin toss: asking costs one turn, a wrong answer costs trust.
	// Small talk and the out-of-scope class never make a topic ambiguous.
	if isSmallTalk(p.Label) {
		return m
	}
	for _, s := range p.Top[1:] {
		if s.Label == nlu.OutOfScope || isSmallTalk(s.Label) {
			continue
		}
		if p.Top[0].Score-s.Score < u.Ambiguity {
			m.Ambiguous, m.Runner = true, s
		}
		break
	}
	return m
}

// Settle resolves an ambiguous match in favour of label, one of its two close candidates (a tie
// broken by the LLM). The classifier's own view (Top, Runner) is kept for the decision record; the
// closest example is dropped when the choice changes, since it illustrated the other topic. Any
// other label, or a match that is not ambiguous, comes back unchanged.
func (u *Understanding) Settle(m Match, label string) Match {
	if !m.Ambiguous || len(m.Prediction.Top) == 0 {
		return m
	}
	switch label {
	case m.Prediction.Top[0].Label:
	case m.Runner.Label:
		m.Prediction.Label, m.Prediction.Closest = label, ""
		m.Prediction.Confidence = u.Model.Confidence(m.Runner.Score)
		m.Intent, m.FAQ = u.topic(label)
	default:
		return m
	}
	m.Ambiguous = false
	return m
}

// Topic resolves a classifier label to the intent or FAQ entry it stands for.
func (u *Understanding) topic(label string) (*Intent, *FAQEntry) {
	if id, ok := strings.CutPrefix(label, faqLabelPrefix); ok {
		f, _ := u.Config.FAQByID(id)
		return nil, f
	}
	in, _ := u.Config.Intent(label)
	return in, nil
}

// Describe names a label for a visitor: an FAQ's question or an intent's first example.
func (u *Understanding) Describe(label string) string {
	in, f := u.topic(label)
	switch {
	case f != nil:
		return strings.TrimRight(f.Question, "?")
	case in != nil && len(in.Examples) > 0:
		return in.Examples[0].Text
	}
	return strings.ReplaceAll(label, "_", " ")
}

func isSmallTalk(label string) bool {
	switch label {
	case IntentGreeting, IntentThanks, IntentGoodbye, IntentAffirm, IntentDeny:
		return true
	}
	return false
}

// trainingExamples lists what the classifier learns from, with where each example stands.
func (c *Config) trainingExamples() ([]nlu.Example, []Phrase) {
	var ex []nlu.Example
	var where []Phrase
	add := func(label string, p Phrase) {
		ex = append(ex, nlu.Example{Label: label, Text: p.Text})
		where = append(where, p)
	}
	for _, in := range c.Intents {
		for _, p := range in.Examples {
			add(in.Name, p)
		}
	}
	for _, f := range c.FAQ {
		add(faqLabelPrefix+f.ID, Phrase{Text: f.Question, Line: f.Line})
		for _, p := range f.Phrasings {
			add(faqLabelPrefix+f.ID, p)
		}
	}
	for _, p := range c.Classifier.OutOfScope {
		add(nlu.OutOfScope, p)
	}
	return ex, where
}
