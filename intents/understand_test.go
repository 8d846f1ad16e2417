package intents_test

import (
	"testing"

	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/nlu"
)

// demoUnderstanding trains the classifier of the embedded demo configuration.
func demoUnderstanding(t *testing.T) *intents.Understanding {
	t.Helper()
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	u, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTrainSettings(t *testing.T) {
	cfg := parse(t, "", "")
	u, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.Threshold != nlu.DefaultThreshold || u.Ambiguity != intents.DefaultAmbiguity || u.Config != cfg {
		t.Errorf("defaults: threshold %v ambiguity %v", u.Threshold, u.Ambiguity)
	}
	tuned := parse(t, "", "classifier:\n  threshold: 0.3\n  ambiguity: 0.05\n")
	u, err = intents.Train(tuned)
	if err != nil {
		t.Fatal(err)
	}
	if u.Threshold != 0.3 || u.Ambiguity != 0.05 {
		t.Errorf("configured: threshold %v ambiguity %v", u.Threshold, u.Ambiguity)
	}
}

func TestUnderstandResolvesTopics(t *testing.T) {
	u := demoUnderstanding(t)
	// Training examples themselves: what is under test is the mapping from label to topic.
	m := u.Understand("where is my order")
	if !m.InScope || m.Intent == nil || m.Intent.Name != "order_status" || m.FAQ != nil {
		t.Errorf("intent match = %+v", m)
	}
	m = u.Understand("How long does your bread stay fresh?")
	if !m.InScope || m.FAQ == nil || m.FAQ.ID != "how_long_does_your_bread_stay_fresh" || m.Intent != nil {
		t.Errorf("FAQ match = %+v", m)
	}
	if m.Runner.Label == "" || m.Runner.Label == m.Prediction.Label {
		t.Errorf("runner-up = %+v", m.Runner)
	}
	m = u.Understand("my car is making a strange noise")
	if m.InScope || m.Intent != nil || m.FAQ != nil || m.Ambiguous {
		t.Errorf("out-of-scope match = %+v", m)
	}
	// Small talk is answered, never turned into a clarifying question.
	if m := u.Understand("thanks"); !m.InScope || m.Ambiguous || m.Intent == nil || m.Intent.Name != intents.IntentThanks {
		t.Errorf("thanks = %+v", m)
	}

	describe := []struct{ label, want string }{
		{"faq/how_long_does_your_bread_stay_fresh", "How long does your bread stay fresh"},
		{"order_status", "where is my order"},
		{"no_such_topic", "no such topic"},
	}
	for _, d := range describe {
		if got := u.Describe(d.label); got != d.want {
			t.Errorf("Describe(%q) = %q, want %q", d.label, got, d.want)
		}
	}
}

func TestUnderstandAmbiguous(t *testing.T) {
	u := demoUnderstanding(t)
	const text = "how much is delivery"
	m := u.Understand(text)
	if !m.InScope || m.Runner.Label == nlu.OutOfScope || intents.IsBuiltin(m.Runner.Label) {
		t.Fatalf("%q: want an in-scope match whose runner-up is another business topic, got %+v", text, m)
	}
	gap := m.Prediction.Confidence - m.Runner.Score
	// The same scores are a coin toss or a clear answer depending only on the configured gap.
	wide, narrow := *u, *u
	wide.Ambiguity = gap + 0.01
	narrow.Ambiguity = gap - 0.01
	if got := wide.Understand(text); !got.Ambiguous || !got.InScope {
		t.Errorf("gap %.3f under ambiguity %.3f: Ambiguous = %v", gap, wide.Ambiguity, got.Ambiguous)
	}
	if got := narrow.Understand(text); got.Ambiguous {
		t.Errorf("gap %.3f over ambiguity %.3f: Ambiguous = true", gap, narrow.Ambiguity)
	}
	// Small talk never becomes a clarifying question, however wide the gap setting.
	wide.Ambiguity = 1
	if got := wide.Understand("thanks"); got.Ambiguous {
		t.Errorf("thanks was made ambiguous: %+v", got)
	}
}

func TestSettle(t *testing.T) {
	u := demoUnderstanding(t)
	wide := *u
	wide.Ambiguity = 1
	m := wide.Understand("how much is delivery")
	if !m.Ambiguous {
		t.Fatalf("want an ambiguous match to settle, got %+v", m)
	}
	best, runner := m.Prediction.Top[0].Label, m.Runner.Label
	tests := []struct {
		name, label   string
		wantAmbiguous bool
		wantLabel     string
	}{
		{"the classifier's choice", best, false, best},
		{"the runner-up", runner, false, runner},
		{"a label that was not offered", "greeting", true, best},
		{"nothing", "", true, best},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := wide.Settle(m, tc.label)
			if got.Ambiguous != tc.wantAmbiguous || got.Prediction.Label != tc.wantLabel {
				t.Fatalf("Settle(%q) = ambiguous %v label %q, want %v %q", tc.label, got.Ambiguous, got.Prediction.Label, tc.wantAmbiguous, tc.wantLabel)
			}
			in, faq := got.Intent, got.FAQ
			name := ""
			switch {
			case in != nil:
				name = in.Name
			case faq != nil:
				name = "faq/" + faq.ID
			}
			if name != tc.wantLabel {
				t.Errorf("Settle(%q) resolved the topic %q, want %q", tc.label, name, tc.wantLabel)
			}
			// The classifier's own view stays in the record.
			if got.Prediction.Top[0].Label != best || got.Runner.Label != runner {
				t.Errorf("Settle(%q) rewrote the classifier's ranking: %+v", tc.label, got.Prediction.Top)
			}
			if tc.wantLabel == runner && (got.Prediction.Confidence >= m.Prediction.Confidence || got.Prediction.Closest != "") {
				t.Errorf("runner-up settled with confidence %.3f (best had %.3f) and closest %q", got.Prediction.Confidence, m.Prediction.Confidence, got.Prediction.Closest)
			}
		})
	}
	// A clear answer is never re-decided.
	clear := u.Understand("thanks")
	if got := u.Settle(clear, runner); got.Prediction.Label != clear.Prediction.Label {
		t.Errorf("Settle changed a match that was not ambiguous: %q", got.Prediction.Label)
	}
}
