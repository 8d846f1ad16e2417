package handoff

import (
	"slices"
	"strings"
	"unicode"

	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

// Where a suggestion came from, and how the console labels it. The LLM layer may later replace
// template suggestions with its own, using the same shape.
const (
	SourceTemplate = "template"
	SourceCanned   = "canned"
	// SuggestionLabel marks generated text in the console: agents must never mistake it for
	// what the visitor or a colleague wrote.
	SuggestionLabel = "Suggestion"
)

// Suggestion is one reply an agent may send, edit or ignore.
type Suggestion struct {
	Text string `json:"text"`
	// Title names a canned reply ("" for a template).
	Title  string `json:"title,omitempty"`
	Source string `json:"source"`
	Label  string `json:"label"`
}

// AssistInput is what the console knows when it asks for suggestions.
type AssistInput struct {
	// Tone is the analysis of the visitor's latest message.
	Tone tone.Result
	// Reason is the hand-off's reason code; FirstReply is true before the agent has written
	// anything, when an introduction fits.
	Reason     string
	FirstReply bool
	// Agent is the agent's display name, used in an introduction.
	Agent string
	// LastVisitor is the visitor's latest message, matched against the canned replies.
	LastVisitor string
	Canned      []intents.CannedReply
}

// toneReplies are acknowledgements in proportion to the feeling: mild, then strong. They promise
// nothing the agent has not decided (no refunds, no deadlines).
var toneReplies = map[string][2]string{
	"frustration": {
		"I understand this has been annoying — let me sort it out with you now.",
		"I'm really sorry you've had to chase this. I've read everything so far, so you won't need to repeat yourself, and I'm on it now.",
	},
	"anxiety": {
		"I understand this is worrying — I'm checking it for you now.",
		"I can hear how worried you are, and I'm sorry. I'm looking into it right now and I'll tell you exactly what I find.",
	},
	"confusion": {
		"Sorry for the confusion — let me explain what's happening.",
		"I'm sorry this has been so confusing. Let me go through it step by step with you.",
	},
	"urgency": {
		"I can see this is time-sensitive, so I'm on it straight away.",
		"I understand this can't wait — I'm dealing with it right now.",
	},
	"delight": {
		"That's lovely to hear, thank you!",
		"That's wonderful — thank you so much for telling us!",
	},
}

// reasonOpeners introduce the agent, fitting why they were brought in.
var reasonOpeners = map[string]string{
	ReasonAskedForPerson:       "Hi, I'm {agent} from the team — thanks for waiting. I've read your conversation, so let me take it from here.",
	ReasonNeedsPerson:          "Hi, I'm {agent} from the team. I've read what you've told us so far and I'll take care of this personally.",
	ReasonFrustration:          "Hi, I'm {agent} from the team. I've read the whole conversation — you won't need to repeat anything.",
	ReasonUnresolved:           "Hi, I'm {agent} from the team. I've read your questions — let me help with what the assistant couldn't answer.",
	ReasonAssistantUnavailable: "Hi, I'm {agent} from the team — thanks for your patience. I've read your question and I'm looking into it.",
	ReasonAssistantDeclined:    "Hi, I'm {agent} from the team. I've read your question and I'll find out for you.",
}

var genericReplies = []string{
	"Thanks for waiting — I've read through your conversation and I'm looking into it now.",
	"Is there anything else I should know, such as an order number, before I check?",
}

// Suggest proposes up to n (3 when n ≤ 0) replies for the agent: an introduction when the agent
// has not written yet, an acknowledgement of the visitor's current feeling in proportion to its
// intensity, the canned replies that best match the visitor's last message, then generic ones.
// It is deterministic, so the console can show the same list again.
func Suggest(in AssistInput, n int) []Suggestion {
	if n <= 0 {
		n = 3
	}
	out := make([]Suggestion, 0, n)
	add := func(s Suggestion) {
		if len(out) < n && !slices.ContainsFunc(out, func(x Suggestion) bool { return x.Text == s.Text }) {
			s.Label = SuggestionLabel
			out = append(out, s)
		}
	}
	if in.FirstReply {
		agent := strings.TrimSpace(in.Agent)
		if agent == "" {
			agent = "a person"
		}
		if o, ok := reasonOpeners[in.Reason]; ok {
			add(Suggestion{Text: strings.ReplaceAll(o, "{agent}", agent), Source: SourceTemplate})
		}
	}
	if v, ok := toneReplies[in.Tone.Dominant]; ok {
		strong := 0
		if in.Tone.Intensity >= 0.5 {
			strong = 1
		}
		add(Suggestion{Text: v[strong], Source: SourceTemplate})
	}
	for _, c := range MatchCanned(in.Canned, in.LastVisitor, n) {
		add(Suggestion{Text: c.Text, Title: c.Title, Source: SourceCanned})
	}
	for _, g := range genericReplies {
		add(Suggestion{Text: g, Source: SourceTemplate})
	}
	return out
}

// MatchCanned returns up to n canned replies sharing words with text, most shared first (ties
// keep the configuration's order); with no text or no overlap it returns none, so an unrelated
// canned reply is never pushed at the agent.
func MatchCanned(canned []intents.CannedReply, text string, n int) []intents.CannedReply {
	words := wordSet(text)
	if len(words) == 0 || n <= 0 {
		return nil
	}
	type scored struct {
		i, score int
	}
	var hits []scored
	for i, c := range canned {
		s := 0
		for w := range wordSet(c.Title + " " + c.Text) {
			if words[w] {
				s++
			}
		}
		if s > 0 {
			hits = append(hits, scored{i, s})
		}
	}
	slices.SortStableFunc(hits, func(a, b scored) int { return b.score - a.score })
	out := make([]intents.CannedReply, 0, min(n, len(hits)))
	for _, h := range hits[:min(n, len(hits))] {
		out = append(out, canned[h.i])
	}
	return out
}

// assistStop are words too common to say two texts are about the same thing.
var assistStop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields("the and for you your our with this that have has had was were are can could would will just " +
		"what when where how why who which from into about there their they them then than too very not but all any " +
		"get got its it's i'm i've we'll we're you'll you're please thanks thank hello again still") {
		m[w] = true
	}
	return m
}()

// wordSet is the set of lower-case content words of s, plurals folded.
func wordSet(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' }) {
		w = strings.Trim(w, "'")
		if len(w) < 3 || assistStop[w] {
			continue
		}
		if len(w) > 3 && strings.HasSuffix(w, "s") {
			w = w[:len(w)-1]
		}
		out[w] = true
	}
	return out
}
