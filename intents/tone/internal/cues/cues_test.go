package cues

import (
	"testing"

	"github.com/attune-chat/attune/intents/tone/internal/feat"
)

func TestMatch(t *testing.T) {
	s := New()
	tests := []struct {
		text    string
		phrases []string
		negated []bool
	}{
		// The longest phrase wins: "thanks for nothing", not "thanks".
		{"well thanks for nothing", []string{"thanks for nothing"}, []bool{false}},
		{"I'm not worried, just curious", []string{"worried", "just curious"}, []bool{true, false}},
		{"third time asking, STILL WAITING", []string{"third time", "still waiting"}, []bool{false, false}},
		{"hello there", nil, nil},
	}
	for _, tt := range tests {
		hits := s.Match(feat.Tokenize(tt.text, nil), nil)
		if len(hits) != len(tt.phrases) {
			t.Errorf("%q: %d hits, want %v", tt.text, len(hits), tt.phrases)
			continue
		}
		for i, h := range hits {
			if got := s.List[h.Cue].Phrase; got != tt.phrases[i] || h.Negated != tt.negated[i] {
				t.Errorf("%q: hit %d = %q negated %v, want %q %v", tt.text, i, got, h.Negated, tt.phrases[i], tt.negated[i])
			}
		}
	}
}

func TestWeight(t *testing.T) {
	s := New()
	hits := s.Match(feat.Tokenize("not worried", nil), nil)
	if len(hits) != 1 {
		t.Fatalf("hits %v", hits)
	}
	plain := s.List[hits[0].Cue].W[Anx]
	if got := s.Weight(hits[0], Anx); got != -0.6*plain {
		t.Errorf("negated anxiety weight %v, want %v", got, -0.6*plain)
	}
	hits = s.Match(feat.Tokenize("STILL waiting", nil), nil)
	if got, want := s.Logits(hits)[Frus], 1.25*s.List[hits[0].Cue].W[Frus]; got != want {
		t.Errorf("emphasised frustration %v, want %v", got, want)
	}
}
