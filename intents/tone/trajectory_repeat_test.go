package tone

import "testing"

// A calmly worded question asked a third time after answers makes the conversation
// frustrated even though no single message is; asked once it stays neutral.
func TestRepeatedQuestionFrustratesTrajectory(t *testing.T) {
	a := New()
	turns := []string{
		"How do I change my delivery address?",
		"how can I change the delivery address",
		"How do I change the delivery address please",
	}
	var tr Trajectory
	for i, text := range turns {
		res := a.Analyze(text)
		if res.Has("frustration", 0) {
			t.Fatalf("%q alone scores frustration %.3f; the test needs calm messages", text, res.Scores["frustration"])
		}
		s := tr.Observe(Turn{Text: text, Result: res, Intent: "change_address", Resolved: true})
		if s.Asks != i+1 {
			t.Fatalf("turn %d: asks %d, want %d", i, s.Asks, i+1)
		}
		want := Neutral
		if i == 2 {
			want = "frustration"
		}
		if got := tr.Dominant(); got != want {
			t.Errorf("after turn %d: running dominant %s, want %s (%v)", i, got, want, tr.Tones)
		}
	}
}

func TestAskFrustration(t *testing.T) {
	for asks, want := range map[int]float64{0: 0, 1: 0, 2: 0.4, 3: 0.9, 7: 0.9} {
		if got := askFrustration(asks); got != want {
			t.Errorf("askFrustration(%d) = %v, want %v", asks, got, want)
		}
	}
}
