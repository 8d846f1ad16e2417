package tone

import (
	"strings"

	"github.com/attune-chat/attune/intents/tone/internal/feat"
)

// Alpha is the weight of the newest turn in the exponentially weighted tone: 0.5 lets one
// calm message soften, but not erase, two angry ones.
const Alpha = 0.5

// recentTurns is how many earlier visitor turns repetition is checked against.
const recentTurns = 3

// Turn is one visitor turn as the bot saw it.
type Turn struct {
	Text   string
	Result Result
	// Intent is the understood topic label, "" if the message was out of scope.
	Intent string
	// Resolved is true when the bot answered this turn from a known intent or FAQ entry, and
	// false for a fallback, a clarifying question or a hand-off. A resolved turn that the
	// visitor then repeats or rejects still counts as unresolved (see Signals.UnresolvedStreak).
	Resolved bool
}

// Trajectory is the running view of a conversation's tone. It holds no message text (only
// hashed content words for repetition checks), so it can be stored in every turn's decision
// record and rebuilt after a restart by unmarshalling the last one.
type Trajectory struct {
	// Turns counts the visitor turns observed.
	Turns int `json:"turns"`
	// Tones is the exponentially weighted score of each tone (Alpha per turn); a repeated
	// question adds to frustration (see askFrustration).
	Tones map[string]float64 `json:"tones"`
	// Valence is the exponentially weighted VADER compound.
	Valence float64 `json:"valence"`
	// Negativity holds max(frustration, anxiety) of the last few turns, oldest first.
	Negativity []float64 `json:"negativity"`
	// Recent holds hashed content words of the last visitor turns, oldest first.
	Recent [][]uint64 `json:"recent,omitempty"`
	// LastIntent is the intent of the previous turn.
	LastIntent string `json:"last_intent,omitempty"`
	// Asks counts how many times in a row the visitor has asked the current question (1 for a
	// new question).
	Asks int `json:"asks"`
	// UnresolvedStreak counts consecutive turns that did not get the visitor what they wanted.
	UnresolvedStreak int `json:"unresolved_streak"`
	// lastResolved remembers whether the previous turn was answered, so a repeat after an
	// answer is read as "that answer did not help".
	LastResolved bool `json:"last_resolved"`
}

// Signals are the conversation-level facts of one turn, for hand-off rules and reply style.
type Signals struct {
	// Repeated is true when the visitor asks again what they asked in one of the last turns
	// (same intent or mostly the same content words).
	Repeated bool `json:"repeated"`
	// Asks is how many times the visitor has now asked this question.
	Asks int `json:"asks"`
	// NotWhatIAsked is true for "that's not what I asked" and similar rejections.
	NotWhatIAsked bool `json:"not_what_i_asked"`
	// UnresolvedStreak counts consecutive turns, this one included, that were not resolved.
	UnresolvedStreak int `json:"unresolved_streak"`
	// RisingNegativity is true when frustration or anxiety climbs over the last turns.
	RisingNegativity bool `json:"rising_negativity"`
	// AskedForPerson is true when the visitor explicitly asks for a human.
	AskedForPerson bool `json:"asked_for_person"`
	// Negativity is this turn's max(frustration, anxiety).
	Negativity float64 `json:"negativity"`
}

// Escalating reports whether the conversation, not just this message, is going badly.
func (s Signals) Escalating() bool {
	return s.Repeated || s.NotWhatIAsked || s.UnresolvedStreak >= 2 || s.RisingNegativity
}

var rejectionPhrases = []string{
	"not what i asked", "not what i meant", "not what i said", "not my question", "that's not it",
	"thats not it", "doesn't answer", "didn't answer", "does not answer", "did not answer",
	"you didn't understand", "you don't understand", "wrong answer", "that's wrong", "not helpful",
	"didn't help", "doesn't help", "useless", "read my question", "i already said", "i already told",
	"i just said", "not the question",
}

var personPhrases = []string{
	"human", "real person", "a person", "an agent", "live agent", "the agent", "representative",
	"speak to someone", "talk to someone", "speak with someone", "talk with someone", "operator",
	"your manager", "a manager", "customer service", "someone real", "actual person", "staff member",
	"call me", "phone me",
}

// stopwords are dropped before comparing turns, so "how do I X" and "I need X" still match.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields("a an the i i'm im me my you your we our it it's its is are was were be been am do does did " +
		"to of in on for at by with and or but so if this that these those there here how what when where why which who " +
		"can could would should will just please hi hello hey thanks thank again still now yet not no any some about " +
		"again ok okay yes need want have has had get got asking ask asked question") {
		m[w] = true
	}
	return m
}()

// Observe folds one visitor turn into the trajectory and returns that turn's signals.
func (t *Trajectory) Observe(turn Turn) Signals {
	r := turn.Result
	lower := strings.ToLower(strings.ReplaceAll(turn.Text, "\u2019", "'"))
	toks := feat.Tokenize(turn.Text, nil)
	words := contentWords(toks)

	var s Signals
	s.NotWhatIAsked = containsAny(lower, rejectionPhrases)
	s.AskedForPerson = askedForPerson(toks, lower)

	// Repetition: same intent as the turn just answered, or mostly the same words as a recent turn.
	// Shared words do not make a repeat when the two turns were understood as different topics:
	// "where is my order" then "cancel my order" is a visitor moving on, not going round in circles.
	sameIntent := turn.Intent != "" && turn.Intent == t.LastIntent
	otherTopic := turn.Intent != "" && t.LastIntent != "" && turn.Intent != t.LastIntent
	for _, prev := range t.Recent {
		if !otherTopic && overlap(words, prev) >= 0.5 {
			s.Repeated = true
		}
	}
	if sameIntent && t.Turns > 0 {
		s.Repeated = true
	}
	if s.Repeated {
		t.Asks++
	} else {
		t.Asks = 1
	}
	s.Asks = t.Asks

	// A turn is unresolved if the bot could not answer it, or if it tells us the previous
	// answer did not help (a repeat or a rejection after an answer).
	failedBefore := t.Turns > 0 && (s.Repeated || s.NotWhatIAsked)
	if !turn.Resolved || failedBefore {
		t.UnresolvedStreak++
	} else {
		t.UnresolvedStreak = 0
	}
	if failedBefore && t.UnresolvedStreak < 2 {
		// The previous answer failed, so that turn was not really resolved either.
		t.UnresolvedStreak = 2
	}
	s.UnresolvedStreak = t.UnresolvedStreak

	neg := max(r.Scores["frustration"], r.Scores["anxiety"])
	s.Negativity = neg
	prevEWMA := 0.0
	if t.Tones != nil {
		prevEWMA = max(t.Tones["frustration"], t.Tones["anxiety"])
	}
	if t.Turns > 0 && neg >= 0.4 && neg > prevEWMA+0.15 {
		s.RisingNegativity = true
	}
	if n := len(t.Negativity); n >= 2 && neg >= 0.4 && t.Negativity[n-2] < t.Negativity[n-1] && t.Negativity[n-1] < neg {
		s.RisingNegativity = true
	}

	// Update the running view.
	if t.Tones == nil {
		t.Tones = make(map[string]float64, len(Tones))
	}
	for _, name := range Tones {
		v := r.Scores[name]
		if name == "frustration" {
			v = max(v, askFrustration(s.Asks))
		}
		if t.Turns == 0 {
			t.Tones[name] = round3(v)
		} else {
			t.Tones[name] = round3(Alpha*v + (1-Alpha)*t.Tones[name])
		}
	}
	if t.Turns == 0 {
		t.Valence = r.Compound
	} else {
		t.Valence = round3(Alpha*r.Compound + (1-Alpha)*t.Valence)
	}
	t.Negativity = appendCapped(t.Negativity, neg, 4)
	if len(words) > 0 {
		t.Recent = append(t.Recent, words)
		if len(t.Recent) > recentTurns {
			t.Recent = t.Recent[len(t.Recent)-recentTurns:]
		}
	}
	t.LastIntent = turn.Intent
	t.LastResolved = turn.Resolved
	t.Turns++
	return s
}

// askFrustration is the frustration a turn carries in the running view because of how many
// times the visitor has now asked the same question, whatever its words. The message score
// reads one message the way GoEmotions' annotators would, and a calmly worded third "how do
// I change my address?" reads as calm; the conversation is not. Asking a second time is a
// hint (below the decision point); a third time is a clear signal.
func askFrustration(asks int) float64 {
	switch {
	case asks >= 3:
		return 0.9
	case asks == 2:
		return 0.4
	}
	return 0
}

// Dominant returns the strongest running tone at or above DecisionPoint, or Neutral.
func (t *Trajectory) Dominant() string {
	best, name := DecisionPoint, Neutral
	for _, n := range Tones {
		if v := t.Tones[n]; v >= best {
			best, name = v, n
		}
	}
	return name
}

func appendCapped(s []float64, v float64, n int) []float64 {
	s = append(s, v)
	if len(s) > n {
		s = append(s[:0:0], s[len(s)-n:]...)
	}
	return s
}

func contentWords(toks []feat.Token) []uint64 {
	var out []uint64
	seen := map[uint64]bool{}
	for _, tk := range toks {
		w := tk.Text
		if stopwords[w] || len(w) < 2 {
			continue
		}
		// Fold plurals so "refunds" and "refund" match.
		if len(w) > 3 && w[len(w)-1] == 's' {
			w = w[:len(w)-1]
		}
		h := feat.Hash(w)
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// overlap is the share of the shorter word set found in the other one.
func overlap(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	in := 0
	for _, x := range a {
		for _, y := range b {
			if x == y {
				in++
				break
			}
		}
	}
	return float64(in) / float64(len(a))
}

func containsAny(s string, phrases []string) bool {
	for _, p := range phrases {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// askedForPerson matches a request for a human unless it is negated ("I don't need a human").
func askedForPerson(toks []feat.Token, lower string) bool {
	if !containsAny(lower, personPhrases) {
		return false
	}
	for _, tk := range toks {
		switch tk.Text {
		case "human", "person", "agent", "representative", "someone", "operator", "manager", "staff", "service", "me":
			if !tk.Neg {
				return true
			}
		}
	}
	return false
}
