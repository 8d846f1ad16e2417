package cues

import (
	"math"
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
		// Waiting written in words, and deliveries that still have not come.
		{"I've waited for two hours", []string{"for two hours"}, []bool{false}},
		{"it has been three days", []string{"been three days"}, []bool{false}},
		{"on hold for a week already", []string{"on hold", "for a week"}, []bool{false, false}},
		{"my parcel still hasn't arrived", []string{"still hasn't arrived"}, []bool{false}},
		{"I still haven't heard back", []string{"still haven't heard"}, []bool{false}},
		{"we still have not received it", []string{"still have not received"}, []bool{false}},
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

func TestCombine(t *testing.T) {
	tests := []struct {
		name       string
		z, cue     float64
		want       float64
		wantAbove0 bool
	}{
		{"no cue leaves the learned logit", -6, 0, -6, false},
		{"a cue on a confident-calm logit counts from the floor", -6, 3.8, LearnedFloor + 3.8, true},
		{"a weak cue cannot overturn the floor", -6, 1.0, LearnedFloor + 1.0, false},
		{"above the floor the cue simply adds", -1, 1.5, 0.5, true},
		{"a negative cue is never floored", -6, -2.4, -8.4, false},
	}
	for _, tt := range tests {
		got := Combine(tt.z, tt.cue)
		if math.Abs(got-tt.want) > 1e-12 || (got >= 0) != tt.wantAbove0 {
			t.Errorf("%s: Combine(%v, %v) = %v, want %v", tt.name, tt.z, tt.cue, got, tt.want)
		}
	}
}

// Every phrase appears once: a second entry would never match (the first of equal length
// wins) and would only mislead whoever edits the table.
func TestPhrasesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range New().List {
		p := c.Phrase
		if seen[p] {
			t.Errorf("phrase %q listed twice", p)
		}
		seen[p] = true
	}
}
