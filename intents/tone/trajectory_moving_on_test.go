package tone

import "testing"

// Related questions about different topics are a visitor moving on, not repeating themselves.
func TestMovingOnIsNotRepeating(t *testing.T) {
	a := New()
	var tr Trajectory
	turns := []struct{ text, intent string }{
		{"where is my order", "order_status"},
		{"can I change my order", "change_order"},
		{"cancel my order", "cancel_order"},
	}
	var s Signals
	for _, tt := range turns {
		s = tr.Observe(Turn{Text: tt.text, Result: a.Analyze(tt.text), Intent: tt.intent, Resolved: true})
	}
	if s.Repeated || s.Asks != 1 || s.UnresolvedStreak != 0 {
		t.Fatalf("three different answered topics read as repetition: %+v", s)
	}
	// The same words with no understood topic are still a rephrasing.
	tr = Trajectory{}
	tr.Observe(Turn{Text: "blorp my order", Result: a.Analyze("blorp my order")})
	if s := tr.Observe(Turn{Text: "my order blorp?", Result: a.Analyze("my order blorp?")}); !s.Repeated {
		t.Fatalf("an unanswered rephrasing was not noticed: %+v", s)
	}
}
