package handoff

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

// Reasons a conversation is handed to a person (Decision.Reason, Trigger.Reason). They are short,
// stable codes: stored with the hand-off, shown in the console, sent to the visitor's widget.
const (
	ReasonAskedForPerson       = "asked_for_person"
	ReasonNeedsPerson          = "needs_person"
	ReasonFrustration          = "frustration"
	ReasonAssistantUnavailable = "assistant_unavailable"
	ReasonAssistantDeclined    = "assistant_declined"
	ReasonUnresolved           = "unresolved"
)

// risingFloor is the least negativity (max of frustration and anxiety) at which a rising trend
// counts: a climb from 0.1 to 0.3 is noise, a climb to 0.5 with a repeated question is not.
const risingFloor = 0.45

// maxCues bounds the tone cues quoted in evidence: three phrases say enough to an agent.
const maxCues = 3

// TurnInput is what the bot knows about the visitor turn it has just understood. The bot fills it
// from its decision record; every field is optional and the zero value decides "no hand-off".
type TurnInput struct {
	// Text is the visitor's message, quoted (clipped) in the evidence of an explicit request.
	Text string
	// Tone is the analysis of this message; Signals and Trajectory the conversation's running
	// view after this turn (tone.Trajectory.Observe).
	Tone       tone.Result
	Signals    tone.Signals
	Trajectory *tone.Trajectory
	// Intent is the understood intent or FAQ label, "" when the message was out of scope;
	// Confidence is the classifier's confidence in it.
	Intent     string
	Confidence float64
	// NeedsPerson is true when the matched intent is marked handoff: true in the configuration.
	NeedsPerson bool
	// Unresolved counts the consecutive turns, this one included, the bot could not answer
	// (out of scope or fallback). Signals.UnresolvedStreak is used as well; the larger counts.
	Unresolved int
	// AssistantFailure is why the LLM layer gave no answer this turn (timeout, rate_limited,
	// circuit_open, ...), "" when it answered or was not asked.
	AssistantFailure string
	// AssistantDeclined is true when the LLM layer was asked and said the business's knowledge
	// does not cover the question (it declined rather than guess).
	AssistantDeclined bool
}

// Trigger is one rule that fired, with the evidence an agent reads on the hand-off card.
type Trigger struct {
	Reason   string `json:"reason"`
	Evidence string `json:"evidence"`
}

// Mood is the part of the visitor's tone that sets their priority in the queue. Scores are in
// [0,1]; each is the larger of this message's score and the conversation's running score, so one
// calm message does not send an upset visitor to the back of the queue.
type Mood struct {
	Frustration float64 `json:"frustration"`
	Anxiety     float64 `json:"anxiety"`
	Urgency     float64 `json:"urgency"`
	// Dominant is this message's dominant tone, for the console's tone badge.
	Dominant string `json:"dominant"`
	// Escalating is tone.Signals.Escalating(): the conversation, not just the message, is going badly.
	Escalating bool `json:"escalating"`
}

// Decision is the outcome of the hand-off policy for one turn.
type Decision struct {
	// Handoff is true when the conversation should go to a person now. It is false when no rule
	// fired, and also when hand-off is disabled in the configuration: Reason then still names
	// the rule that would have fired, so the bot can offer the team's contact details instead.
	Handoff bool `json:"handoff"`
	// Reason is the code of the strongest trigger ("" when none fired).
	Reason string `json:"reason,omitempty"`
	// Evidence is the human-readable case for the hand-off, every fired trigger's evidence
	// joined by "; ", strongest first.
	Evidence string `json:"evidence,omitempty"`
	// Triggers lists every rule that fired, strongest first.
	Triggers []Trigger `json:"triggers,omitempty"`
	// Mood is the priority input of the queue.
	Mood Mood `json:"mood"`
	// Explanation is what the visitor is told: why a person is being brought in and what happens
	// next. It never quotes scores or rule names.
	Explanation string `json:"explanation,omitempty"`
}

// Decide applies the hand-off policy to one bot turn. Every trigger is on while hand-off is
// enabled: an explicit request for a person; frustration at or above cfg.FrustrationThreshold
// (default 0.7), or rising across turns while the conversation escalates; an intent marked
// handoff: true; cfg.MaxUnresolvedTurns (default 3) unanswered turns in a row; the LLM layer
// failing or declining. It is pure and allocation-light (a few microseconds), and builds
// evidence text only for triggers that fired.
func Decide(in TurnInput, cfg intents.HandoffConfig) Decision {
	d := Decision{Mood: moodOf(in)}
	threshold := cfg.FrustrationThreshold
	if threshold <= 0 || threshold > 1 {
		threshold = intents.DefaultFrustrationThreshold
	}
	maxUnresolved := cfg.MaxUnresolvedTurns
	if maxUnresolved <= 0 {
		maxUnresolved = intents.DefaultMaxUnresolvedTurns
	}

	if in.Signals.AskedForPerson || in.Intent == intents.IntentHuman {
		ev := "the visitor asked for a person"
		if q := clip(in.Text, 80); q != "" {
			ev += ": " + quote(q)
		}
		d.Triggers = append(d.Triggers, Trigger{ReasonAskedForPerson, ev})
	}
	if in.NeedsPerson {
		ev := "intent " + in.Intent
		if in.Confidence > 0 {
			ev += " (" + f2(in.Confidence) + ")"
		}
		d.Triggers = append(d.Triggers, Trigger{ReasonNeedsPerson, ev + " is marked handoff: true"})
	}
	if ev, ok := frustrationEvidence(in, threshold); ok {
		d.Triggers = append(d.Triggers, Trigger{ReasonFrustration, ev})
	}
	switch {
	case in.AssistantFailure != "":
		d.Triggers = append(d.Triggers, Trigger{ReasonAssistantUnavailable, "the assistant (LLM) gave no answer: " + in.AssistantFailure})
	case in.AssistantDeclined:
		d.Triggers = append(d.Triggers, Trigger{ReasonAssistantDeclined, "the assistant (LLM) found nothing in the business's knowledge to answer with"})
	}
	if n := max(in.Unresolved, in.Signals.UnresolvedStreak); n >= maxUnresolved {
		ev := strconv.Itoa(n) + " turns in a row without an answer (limit " + strconv.Itoa(maxUnresolved) + ")"
		if in.Signals.Asks >= 2 {
			ev += ", asked " + strconv.Itoa(in.Signals.Asks) + " times"
		}
		d.Triggers = append(d.Triggers, Trigger{ReasonUnresolved, ev})
	}
	if len(d.Triggers) == 0 {
		return d
	}
	d.Reason = d.Triggers[0].Reason
	if len(d.Triggers) == 1 {
		d.Evidence = d.Triggers[0].Evidence
	} else {
		parts := make([]string, len(d.Triggers))
		for i, t := range d.Triggers {
			parts[i] = t.Evidence
		}
		d.Evidence = strings.Join(parts, "; ")
	}
	d.Handoff = cfg.Enabled == nil || *cfg.Enabled
	d.Explanation = Explain(d.Reason, in.Signals)
	return d
}

// frustrationEvidence reports whether the frustration trigger fires, and why: the message's
// frustration at or above the threshold (quoting the cues that produced it), the running
// frustration at or above it, or negativity rising across turns while the conversation escalates
// in another way too (a repeat, a rejection, an unanswered streak).
func frustrationEvidence(in TurnInput, threshold float64) (string, bool) {
	if f := in.Tone.Scores["frustration"]; f >= threshold {
		return "frustration " + f2(f) + " ≥ " + f2(threshold) + cueList(in.Tone, "frustration"), true
	}
	if in.Trajectory != nil && in.Trajectory.Turns > 1 {
		if f := in.Trajectory.Tones["frustration"]; f >= threshold {
			return "running frustration " + f2(f) + " ≥ " + f2(threshold) + " over " + strconv.Itoa(in.Trajectory.Turns) + " turns" + cueList(in.Tone, "frustration"), true
		}
	}
	s := in.Signals
	alsoEscalating := s.Repeated || s.NotWhatIAsked || s.UnresolvedStreak >= 2
	if !s.RisingNegativity || !alsoEscalating || s.Negativity < risingFloor {
		return "", false
	}
	var b strings.Builder
	b.WriteString("frustration/anxiety rising across turns")
	if in.Trajectory != nil && len(in.Trajectory.Negativity) >= 2 {
		b.WriteString(" (")
		for i, v := range in.Trajectory.Negativity {
			if i > 0 {
				b.WriteString(" → ")
			}
			b.WriteString(f2(v))
		}
		b.WriteString(")")
	} else {
		b.WriteString(" (now " + f2(s.Negativity) + ")")
	}
	var why []string
	if s.Repeated {
		why = append(why, "the visitor repeated the question")
	}
	if s.NotWhatIAsked {
		why = append(why, "said the answer was not what they asked")
	}
	if s.UnresolvedStreak >= 2 {
		why = append(why, strconv.Itoa(s.UnresolvedStreak)+" unanswered turns")
	}
	b.WriteString(" and " + strings.Join(why, ", "))
	b.WriteString(cueList(in.Tone, "frustration", "anxiety"))
	return b.String(), true
}

// cueList renders the strongest positive cues of the given tones as ": 'a', 'b'" (or "").
func cueList(r tone.Result, tones ...string) string {
	var b strings.Builder
	n := 0
	for _, t := range tones {
		for _, c := range r.Evidence {
			if n == maxCues {
				break
			}
			if c.Tone != t || c.Weight <= 0 || strings.TrimSpace(c.Phrase) == "" {
				continue
			}
			if n == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString(", ")
			}
			b.WriteString("'" + clip(c.Phrase, 40) + "'")
			n++
		}
	}
	return b.String()
}

// moodOf takes the larger of the message's and the conversation's running score per tone.
func moodOf(in TurnInput) Mood {
	m := Mood{
		Frustration: in.Tone.Scores["frustration"],
		Anxiety:     in.Tone.Scores["anxiety"],
		Urgency:     in.Tone.Scores["urgency"],
		Dominant:    in.Tone.Dominant,
		Escalating:  in.Signals.Escalating(),
	}
	if t := in.Trajectory; t != nil && t.Tones != nil {
		m.Frustration = max(m.Frustration, t.Tones["frustration"])
		m.Anxiety = max(m.Anxiety, t.Tones["anxiety"])
		m.Urgency = max(m.Urgency, t.Tones["urgency"])
	}
	return m
}

// nextSteps is the promise every explanation ends with: the agent sees the conversation, so the
// visitor does not repeat themselves. Queue position and waiting time follow as state frames.
const nextSteps = " They'll see everything we've said so far, so you won't need to repeat yourself."

// Explain returns the visitor-facing explanation of a hand-off for reason: why a person is being
// brought in, then what happens next. It is honest without being clinical (no scores, no rule
// names) and does not apologise for a feeling, since the bot's reply composer already
// acknowledged it in the same turn.
func Explain(reason string, s tone.Signals) string {
	switch reason {
	case ReasonAskedForPerson:
		return "Of course — I'm bringing in a person from the team." + nextSteps
	case ReasonNeedsPerson:
		return "This is something a person from the team needs to handle, so I'm bringing one in now." + nextSteps
	case ReasonFrustration:
		if s.Repeated || s.NotWhatIAsked {
			return "You've had to ask more than once, and that isn't good enough — I'm bringing in a person from the team who can sort this out with you." + nextSteps
		}
		return "I want you to get this sorted properly, so I'm bringing in a person from the team." + nextSteps
	case ReasonAssistantUnavailable:
		return "I'm having trouble answering right now, so I'm bringing in a person from the team instead of guessing." + nextSteps
	case ReasonAssistantDeclined:
		return "I don't have that information and I'd rather not guess, so I'm bringing in a person from the team." + nextSteps
	case ReasonUnresolved:
		return "I haven't been able to answer this for you, so I'm bringing in a person from the team." + nextSteps
	}
	return "I'm bringing in a person from the team." + nextSteps
}

// f2 formats a score with two decimals, without fmt's reflection cost on the hot path.
func f2(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func quote(s string) string { return "'" + s + "'" }

// clip shortens s to at most n runes on a word boundary where possible, marking the cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
