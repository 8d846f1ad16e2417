// Package empathy composes the bot's replies so that a feeling is acknowledged before the
// answer, in proportion to it: nothing for a neutral question, a light touch for mild
// annoyance, a real apology for the third failed attempt. It never repeats an acknowledgement
// within a conversation and never promises what the business has not configured.
package empathy

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

// Reply styles.
const (
	StyleNeutral     = "neutral"
	StyleStepByStep  = "step_by_step"
	StyleReassure    = "reassure"
	StyleFastest     = "fastest"
	StyleWarmClose   = "warm_close"
	StyleAcknowledge = "acknowledge"
)

// Levels of acknowledgement, from none to a real apology.
const (
	LevelNone = iota
	LevelLight
	LevelReal
	LevelStrong
)

// Input is everything the composer needs about one turn.
type Input struct {
	Tone       tone.Result
	Trajectory tone.Trajectory
	Signals    tone.Signals
	// VisitorName personalises the acknowledgement when known.
	VisitorName string
	// Used holds the AckKey and the Said keys of every reply already sent in this conversation.
	Used []string
	// Business and Bot fill the {business} and {bot} placeholders of configured phrasing.
	Business string
	Bot      string
	// Expand, when set, fills the configuration's other placeholders ({email}, {phone},
	// {hours} ...), which configured acknowledgements may use like answers do.
	Expand func(string) string
	// Offer is the sentence that offers a person, as far as the business can offer one right now
	// (the bot knows whether hand-off is possible; the composer must not promise more). Empty when
	// the answer already offers one, or when nothing can be offered. It is made once in a
	// conversation (OfferKey in Used): a visitor who was told once knows how to ask.
	Offer string
}

// Reply is the composed message.
type Reply struct {
	Text string `json:"text"`
	// Ack is the acknowledgement put before the answer, "" when none was needed.
	Ack string `json:"ack,omitempty"`
	// AckKey identifies the acknowledgement by its wording (not its place in a list, which a
	// reload may change); the caller adds it to Input.Used.
	AckKey string `json:"ack_key,omitempty"`
	// Said identifies the stock sentences the reply added after the answer (the offer of a
	// person, the warm close); the caller adds them to Input.Used too, so none is said twice.
	Said []string `json:"said,omitempty"`
	// Tone is the tone acknowledged, "" when none.
	Tone  string `json:"tone,omitempty"`
	Level int    `json:"level"`
	Style string `json:"style"`
}

// Composer turns answers into empathetic replies. It is immutable and safe for concurrent use.
type Composer struct {
	thresholds map[string]float64
	acks       map[string][]string // tone -> configured variants, safe ones only
}

// New builds a composer from the business's tone section; empty fields fall back to defaults.
// Configured acknowledgements that promise refunds, exceptions or compensation are ignored
// (CheckAcknowledgement reports them so `attune check` can flag them).
func New(cfg intents.ToneConfig) *Composer {
	c := &Composer{thresholds: map[string]float64{}, acks: map[string][]string{}}
	for _, t := range tone.Tones {
		c.thresholds[t] = tone.DecisionPoint
	}
	for t, v := range cfg.Thresholds {
		if v > 0 && v <= 1 {
			c.thresholds[t] = v
		}
	}
	for t, vs := range cfg.Acknowledgements {
		for _, v := range vs {
			if strings.TrimSpace(v.Text) != "" && CheckAcknowledgement(v.Text) == nil {
				c.acks[t] = append(c.acks[t], v.Text)
			}
		}
	}
	return c
}

var promise = regexp.MustCompile(`(?i)\b(refund|reimburs|compensat|guarantee|free of charge|for free|waive|exception|credit (it|you|your)|we will make it up|money back)`)

// CheckAcknowledgement rejects phrasing that promises something only a person can grant.
func CheckAcknowledgement(text string) error {
	if m := promise.FindString(text); m != "" {
		return fmt.Errorf("acknowledgement promises %q; the bot must not promise refunds, exceptions or compensation, leave that to a person", m)
	}
	return nil
}

// Compose puts an acknowledgement in proportion to the tone before answer (already
// placeholder-expanded) and adapts the style.
func (c *Composer) Compose(in Input, answer string) Reply {
	answer = strings.TrimSpace(answer)
	t, score := c.activeTone(in)
	level := c.level(in, t, score)
	r := Reply{Style: StyleNeutral, Level: level}
	if t == "" || level == LevelNone {
		r.Text = answer
		return r
	}
	r.Tone = t
	used := c.usedKeys(in.Used)
	// An answer that already opens with an apology needs no second one in front of it.
	if !(apologises(answer) && (t == "frustration" || t == toneStalled)) {
		r.Ack, r.AckKey = c.pickAck(in, used, t, level, answer)
	}
	offer := func() string {
		if in.Offer == "" || used[OfferKey] {
			return ""
		}
		r.Said = append(r.Said, OfferKey)
		return in.Offer
	}
	parts := []string{}
	if r.Ack != "" {
		parts = append(parts, r.Ack)
	}
	switch t {
	case "confusion":
		r.Style = StyleStepByStep
		parts = append(parts, steps(answer))
	case "anxiety":
		r.Style = StyleReassure
		parts = append(parts, answer)
		// The concrete next step: a person, unless the visitor already asked for one.
		if !in.Signals.AskedForPerson {
			parts = append(parts, offer())
		}
	case "urgency":
		r.Style = StyleFastest
		parts = append(parts, answer)
		if level >= LevelReal {
			parts = append(parts, offer())
		}
	case "delight":
		r.Style = StyleWarmClose
		parts = append(parts, answer)
		switch {
		case strings.Contains(strings.ToLower(answer), "anything else"):
			r.Said = append(r.Said, CloseKey) // the answer asks it itself
		case !strings.HasSuffix(answer, "?") && !used[CloseKey]:
			parts = append(parts, warmClose)
			r.Said = append(r.Said, CloseKey)
		}
	default: // frustration
		r.Style = StyleAcknowledge
		parts = append(parts, answer)
		if level >= LevelReal && !in.Signals.AskedForPerson {
			parts = append(parts, offer())
		}
	}
	r.Text = join(parts)
	return r
}

// activeTone picks the tone to acknowledge: the one furthest past its threshold, and
// frustration when the conversation itself is failing even if the wording is polite.
func (c *Composer) activeTone(in Input) (string, float64) {
	best, bestMargin, bestScore := "", 0.0, 0.0
	for _, t := range tone.Tones {
		s := in.Tone.Scores[t]
		th := c.thresholds[t]
		if s >= th && s-th >= bestMargin {
			best, bestMargin, bestScore = t, s-th, s
		}
	}
	if best == "" && (in.Signals.Repeated || in.Signals.NotWhatIAsked || in.Signals.UnresolvedStreak >= 2) {
		// The words are calm but the conversation is failing: own the failure rather than tell the
		// visitor how they feel.
		return toneStalled, in.Tone.Scores["frustration"]
	}
	return best, bestScore
}

// toneStalled is the acknowledgement for a conversation that is going nowhere although the
// visitor's words are calm: the bot apologises for its own answers, not for a feeling it guessed.
const toneStalled = "stalled"

var apologyOpening = regexp.MustCompile(`(?i)^[^.!?]{0,40}\b(sorry|apologi[sz]e)`)

// apologises reports whether a text opens with an apology.
func apologises(text string) bool { return apologyOpening.MatchString(text) }

// level sizes the acknowledgement: the message's own strength, raised by how the conversation
// has gone (asked again, rejected an answer, several unresolved turns).
func (c *Composer) level(in Input, t string, score float64) int {
	if t == "" {
		return LevelNone
	}
	lvl := LevelLight
	if score >= 0.8 {
		lvl = LevelReal
	}
	if t == "frustration" || t == "anxiety" || t == toneStalled {
		if in.Signals.Escalating() && lvl < LevelReal {
			lvl = LevelReal
		}
		if in.Signals.Asks >= 3 || in.Signals.UnresolvedStreak >= 3 || (score >= 0.9 && in.Signals.Escalating()) {
			lvl = LevelStrong
		}
	}
	if t == "delight" || t == "confusion" || t == "urgency" {
		lvl = min(lvl, LevelReal)
	}
	return lvl
}

// OfferKey marks, in Input.Used, that a person was offered in this conversation, whatever the
// wording (the offer differs with and without a hand-off queue; the promise is the same).
const OfferKey = "offer"

// CloseKey marks, in Input.Used, that the visitor was asked whether there is anything else: a
// warm close is asked once, not after every happy turn.
const CloseKey = "close"

// warmClose ends the first reply to a delighted visitor.
const warmClose = "Anything else I can help with?"

// Key identifies a stock sentence by its wording, placeholders unfilled, so that the same
// sentence is recognised across reloads that reorder a list, across tones, and across restarts.
func Key(text string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(strings.Fields(strings.ToLower(text)), " ")))
	return "h" + strconv.FormatUint(h.Sum64(), 36)
}

// usedKeys is the set of keys already said. Records written before keys named wording
// ("frustration.2.0", "frustration.cfg.1") are read as the wording they point to now.
func (c *Composer) usedKeys(keys []string) map[string]bool {
	used := make(map[string]bool, len(keys))
	for _, k := range keys {
		used[k] = true
		parts := strings.Split(k, ".")
		if len(parts) != 3 {
			continue
		}
		i, err := strconv.Atoi(parts[2])
		if err != nil || i < 0 {
			continue
		}
		if parts[1] == "cfg" {
			if i < len(c.acks[parts[0]]) {
				used[Key(c.acks[parts[0]][i])] = true
			}
			continue
		}
		if l, err := strconv.Atoi(parts[1]); err == nil && l >= 0 && l < len(defaults[parts[0]]) && i < len(defaults[parts[0]][l]) {
			used[Key(defaults[parts[0]][l][i])] = true
		}
	}
	return used
}

// Themes an acknowledgement may share with the rest of the reply (a hand-off explanation, an
// answer): the visitor having had to ask again, and the bot having failed. When the reply already
// says it, the acknowledgement must not say it again.
var themes = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\{asks\}|\bhad to ask|\bask(ed|ing)? (again|more than once|twice|three times|\w+ times)|\brepeat(ed|ing)? (yourself|the question)`),
	regexp.MustCompile(`(?i)\bhaven'?t (been able|been (more )?help|got it right|managed)|\bnot getting (this|it) right|\bhit the mark|\bround in circles|\bmy (last )?answers\b|\bunable to (help|answer)|\bcouldn'?t (help|answer)`),
}

// repeats reports whether an acknowledgement says something the reply already says.
func repeats(ack, answer string) bool {
	for _, th := range themes {
		if th.MatchString(ack) && th.MatchString(answer) {
			return true
		}
	}
	return false
}

// pickAck chooses the first acknowledgement not said yet in the conversation that does not
// repeat what the rest of the reply says.
func (c *Composer) pickAck(in Input, used map[string]bool, t string, level int, answer string) (string, string) {
	try := func(text string) (string, string, bool) {
		key := Key(text)
		if used[key] || text == "" || repeats(text, answer) {
			return "", "", false
		}
		filled := fill(text, in)
		if repeats(filled, answer) {
			return "", "", false
		}
		return filled, key, true
	}
	// The business's own phrasing wins; defaults follow so a conversation never runs dry.
	for _, v := range c.acks[t] {
		if a, k, ok := try(v); ok {
			return a, k
		}
	}
	for l := level; l >= LevelLight; l-- {
		for _, v := range defaults[t][l] {
			if a, k, ok := try(v); ok {
				return a, k
			}
		}
	}
	return "", ""
}

var numberWords = []string{"", "once", "twice", "three times", "four times", "five times"}

// fill expands {name}, {asks}, {business} and {bot}, then the configuration's placeholders;
// without a name the address is dropped.
func fill(text string, in Input) string {
	name := strings.TrimSpace(in.VisitorName)
	if name == "" {
		for _, p := range []string{", {name},", ", {name}", "{name}, ", " {name}", "{name}"} {
			text = strings.ReplaceAll(text, p, map[bool]string{true: ",", false: ""}[p == ", {name},"])
		}
		text = capitalise(text)
	} else {
		text = strings.ReplaceAll(text, "{name}", name)
	}
	asks := "again"
	if a := in.Signals.Asks; a >= 2 && a < len(numberWords) {
		asks = numberWords[a]
	} else if a >= len(numberWords) {
		asks = "so many times"
	}
	r := strings.NewReplacer("{asks}", asks, "{business}", orDefault(in.Business, "our team"), "{bot}", orDefault(in.Bot, "I"))
	text = r.Replace(text)
	if in.Expand != nil {
		text = in.Expand(text)
	}
	return text
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

// capitalise upper-cases the first letter, whatever its script: acknowledgements are written in
// the business's language.
func capitalise(s string) string {
	s = strings.TrimSpace(s)
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

var sentenceEnd = regexp.MustCompile(`([.!?])\s+`)

// steps lays an answer of several sentences out as numbered steps; a one-sentence answer is
// already one step.
func steps(answer string) string {
	if strings.Contains(answer, "\n1.") || strings.HasPrefix(answer, "1.") {
		return answer
	}
	marked := sentenceEnd.ReplaceAllString(answer, "$1\x00")
	var parts []string
	for _, p := range strings.Split(marked, "\x00") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) < 2 {
		return answer
	}
	var b strings.Builder
	b.WriteString("Step by step:")
	for i, p := range parts {
		fmt.Fprintf(&b, "\n%d. %s", i+1, p)
	}
	return b.String()
}

func join(parts []string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

// defaults[tone][level] are the built-in acknowledgements. None promises an outcome.
var defaults = map[string][][]string{
	"frustration": {
		LevelLight: {"I understand, {name}, let's sort this out.", "Fair point, {name}.", "Got it, {name}, let's get this fixed."},
		LevelReal: {"I'm sorry this has been frustrating, {name}.", "I'm sorry, {name}, that's not the experience you should have.",
			"I hear you, {name}, and I'm sorry for the hassle."},
		LevelStrong: {"I'm really sorry you've had to ask {asks}, {name}. Let's get you a proper answer.",
			"I'm truly sorry, {name}; you've been more than patient.", "I'm very sorry it has taken this long, {name}."},
	},
	toneStalled: {
		LevelLight: {"Sorry I haven't been more help so far, {name}.", "Let me try to do better than my last answers, {name}."},
		LevelReal:  {"I'm sorry, {name}, my answers haven't hit the mark.", "Sorry, {name}, I'm clearly not getting this right yet."},
		LevelStrong: {"I'm sorry, {name}: you've had to ask {asks} and I still haven't got it right.",
			"I'm sorry for going round in circles, {name}."},
	},
	"confusion": {
		LevelLight: {"No problem, {name}, let me make it clearer.", "Good question, {name}.", "Let me explain it differently."},
		LevelReal:  {"Sorry for the confusion, {name}; let's go through it together.", "That's understandably confusing, {name}. Here it is one step at a time."},
	},
	"anxiety": {
		LevelLight: {"I understand the concern, {name}.", "Don't worry, {name}, let's look at this together.", "That's a fair thing to check, {name}."},
		LevelReal: {"I understand this is worrying, {name}; let's check it together.", "I can see why that's stressful, {name}.",
			"That sounds worrying, {name}; here is what we can do."},
		LevelStrong: {"I'm sorry, {name}, I know this is stressful. Here is exactly what happens next.", "I understand how worrying this is, {name}."},
	},
	"urgency": {
		LevelLight: {"Right away, {name}.", "Quick answer, {name}:", "Let's be quick, {name}."},
		LevelReal:  {"Understood, {name}, this is urgent. Fastest route first:", "I'll keep this short, {name}:"},
	},
	"delight": {
		LevelLight: {"Glad to hear it, {name}!", "Great, {name}!", "Happy that helped, {name}!"},
		LevelReal:  {"That's great news, {name}, thanks for letting me know!", "Wonderful, {name}! Glad it's sorted."},
	},
}
