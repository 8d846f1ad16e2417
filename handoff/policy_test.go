package handoff_test

import (
	"strings"
	"testing"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

func scores(f, a, u float64) map[string]float64 {
	return map[string]float64{"frustration": f, "anxiety": a, "urgency": u, "confusion": 0, "delight": 0, "neutral": 1 - max(f, a, u)}
}

func TestDecide(t *testing.T) {
	off := false
	frustrated := tone.Result{Scores: scores(0.82, 0.1, 0), Dominant: "frustration", Intensity: 0.64, Evidence: []tone.Cue{
		{Tone: "frustration", Phrase: "third time", Weight: 3.8}, {Tone: "frustration", Phrase: "still not arrived", Weight: 1.2},
		{Tone: "frustration", Phrase: "thanks", Weight: -0.4}, {Tone: "anxiety", Phrase: "worried", Weight: 1.0}}}
	tests := []struct {
		name     string
		in       handoff.TurnInput
		cfg      intents.HandoffConfig
		handoff  bool
		reason   string
		evidence string
		reasons  []string
	}{
		{name: "calm answered turn", in: handoff.TurnInput{Tone: tone.Result{Scores: scores(0.1, 0.1, 0)}, Intent: "order_status"}},
		{name: "asked for person (signal)", in: handoff.TurnInput{Text: "can I talk to a real person please", Signals: tone.Signals{AskedForPerson: true}},
			handoff: true, reason: handoff.ReasonAskedForPerson, evidence: "the visitor asked for a person: 'can I talk to a real person please'"},
		{name: "asked for person (intent)", in: handoff.TurnInput{Intent: intents.IntentHuman},
			handoff: true, reason: handoff.ReasonAskedForPerson, evidence: "the visitor asked for a person"},
		{name: "frustration at threshold with cues", in: handoff.TurnInput{Tone: frustrated},
			handoff: true, reason: handoff.ReasonFrustration, evidence: "frustration 0.82 ≥ 0.70: 'third time', 'still not arrived'"},
		{name: "frustration below a custom threshold", in: handoff.TurnInput{Tone: frustrated}, cfg: intents.HandoffConfig{FrustrationThreshold: 0.9}},
		{name: "running frustration", in: handoff.TurnInput{Tone: tone.Result{Scores: scores(0.5, 0, 0)},
			Trajectory: &tone.Trajectory{Turns: 3, Tones: map[string]float64{"frustration": 0.74}}},
			handoff: true, reason: handoff.ReasonFrustration, evidence: "running frustration 0.74 ≥ 0.70 over 3 turns"},
		{name: "rising and repeated", in: handoff.TurnInput{Tone: tone.Result{Scores: scores(0.6, 0.2, 0), Evidence: []tone.Cue{{Tone: "frustration", Phrase: "again", Weight: 1}}},
			Signals:    tone.Signals{RisingNegativity: true, Repeated: true, Asks: 2, Negativity: 0.6},
			Trajectory: &tone.Trajectory{Turns: 3, Tones: map[string]float64{"frustration": 0.4}, Negativity: []float64{0.2, 0.35, 0.6}}},
			handoff: true, reason: handoff.ReasonFrustration, evidence: "frustration/anxiety rising across turns (0.20 → 0.35 → 0.60) and the visitor repeated the question: 'again'"},
		{name: "rising alone is not enough", in: handoff.TurnInput{Tone: tone.Result{Scores: scores(0.6, 0, 0)},
			Signals: tone.Signals{RisingNegativity: true, Negativity: 0.6}}},
		{name: "rising from a low level is not enough", in: handoff.TurnInput{Tone: tone.Result{Scores: scores(0.42, 0, 0)},
			Signals: tone.Signals{RisingNegativity: true, Repeated: true, Negativity: 0.42}}},
		{name: "intent needs a person", in: handoff.TurnInput{Intent: "refund_request", Confidence: 0.91, NeedsPerson: true},
			handoff: true, reason: handoff.ReasonNeedsPerson, evidence: "intent refund_request (0.91) is marked handoff: true"},
		{name: "unresolved at the default limit", in: handoff.TurnInput{Unresolved: 3},
			handoff: true, reason: handoff.ReasonUnresolved, evidence: "3 turns in a row without an answer (limit 3)"},
		{name: "unresolved streak from signals", in: handoff.TurnInput{Signals: tone.Signals{UnresolvedStreak: 4, Asks: 3}}, cfg: intents.HandoffConfig{MaxUnresolvedTurns: 4},
			handoff: true, reason: handoff.ReasonUnresolved, evidence: "4 turns in a row without an answer (limit 4), asked 3 times"},
		{name: "unresolved below the limit", in: handoff.TurnInput{Unresolved: 2}},
		{name: "assistant failed", in: handoff.TurnInput{AssistantFailure: "timeout"},
			handoff: true, reason: handoff.ReasonAssistantUnavailable, evidence: "the assistant (LLM) gave no answer: timeout"},
		{name: "assistant declined", in: handoff.TurnInput{AssistantDeclined: true},
			handoff: true, reason: handoff.ReasonAssistantDeclined, evidence: "the assistant (LLM) found nothing in the business's knowledge to answer with"},
		{name: "several triggers, strongest first", in: handoff.TurnInput{Text: "get me a human", Signals: tone.Signals{AskedForPerson: true}, Tone: frustrated, Unresolved: 3},
			handoff: true, reason: handoff.ReasonAskedForPerson,
			evidence: "the visitor asked for a person: 'get me a human'; frustration 0.82 ≥ 0.70: 'third time', 'still not arrived'; 3 turns in a row without an answer (limit 3)",
			reasons:  []string{handoff.ReasonAskedForPerson, handoff.ReasonFrustration, handoff.ReasonUnresolved}},
		{name: "disabled still explains", in: handoff.TurnInput{Intent: intents.IntentHuman}, cfg: intents.HandoffConfig{Enabled: &off},
			reason: handoff.ReasonAskedForPerson, evidence: "the visitor asked for a person"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := handoff.Decide(tc.in, tc.cfg)
			if d.Handoff != tc.handoff || d.Reason != tc.reason || d.Evidence != tc.evidence {
				t.Fatalf("got handoff=%v reason=%q evidence=%q\nwant handoff=%v reason=%q evidence=%q", d.Handoff, d.Reason, d.Evidence, tc.handoff, tc.reason, tc.evidence)
			}
			if tc.reasons != nil {
				var got []string
				for _, tr := range d.Triggers {
					got = append(got, tr.Reason)
				}
				if strings.Join(got, ",") != strings.Join(tc.reasons, ",") {
					t.Errorf("triggers %v, want %v", got, tc.reasons)
				}
			}
			if tc.reason != "" && !strings.Contains(d.Explanation, "person from the team") {
				t.Errorf("explanation %q does not say a person is coming", d.Explanation)
			}
			if tc.reason == "" && (d.Explanation != "" || len(d.Triggers) != 0) {
				t.Errorf("no trigger expected, got %+v", d)
			}
		})
	}
}

// TestDecideWithAnalyzer runs the real tone analyzer over a conversation that goes wrong, the
// way the bot will feed Decide.
func TestDecideWithAnalyzer(t *testing.T) {
	a := tone.New()
	var tr tone.Trajectory
	msgs := []string{"where is my order", "I asked already, where is my order??", "This is the third time I'm asking, my order still has not arrived! Ridiculous."}
	var d handoff.Decision
	for i, m := range msgs {
		r := a.Analyze(m)
		s := tr.Observe(tone.Turn{Text: m, Result: r, Intent: "order_status", Resolved: true})
		traj := tr
		d = handoff.Decide(handoff.TurnInput{Text: m, Tone: r, Signals: s, Trajectory: &traj, Intent: "order_status"}, intents.HandoffConfig{})
		if i == 0 && d.Handoff {
			t.Fatalf("first calm question handed off: %+v", d)
		}
	}
	if !d.Handoff || d.Reason != handoff.ReasonFrustration {
		t.Fatalf("third angry repeat: got %+v", d)
	}
	if !strings.HasPrefix(d.Evidence, "frustration ") || !strings.Contains(d.Evidence, "'third time'") {
		t.Errorf("evidence %q should quote the cue 'third time'", d.Evidence)
	}
	if !strings.Contains(d.Explanation, "ask more than once") {
		t.Errorf("explanation %q should acknowledge the repeat", d.Explanation)
	}
	if d.Mood.Frustration < 0.9 || !d.Mood.Escalating {
		t.Errorf("mood %+v should carry the frustration and the escalation", d.Mood)
	}
}

func TestExplainNeverLeaksInternals(t *testing.T) {
	for _, r := range []string{handoff.ReasonAskedForPerson, handoff.ReasonNeedsPerson, handoff.ReasonFrustration,
		handoff.ReasonAssistantUnavailable, handoff.ReasonAssistantDeclined, handoff.ReasonUnresolved, "something_new"} {
		e := handoff.Explain(r, tone.Signals{})
		if strings.ContainsAny(e, "_≥") || strings.Contains(e, "LLM") || !strings.Contains(e, "repeat yourself") {
			t.Errorf("%s: %q", r, e)
		}
	}
}
