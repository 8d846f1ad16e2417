package tone

import (
	"math"
	"testing"
)

// The examples published in the vaderSentiment README, with the scores 3.3.2 prints.
func TestVADERPublishedExamples(t *testing.T) {
	a := New()
	tests := []struct {
		text string
		want float64
	}{
		{"VADER is smart, handsome, and funny.", 0.8316},
		{"VADER is smart, handsome, and funny!", 0.8439},
		{"VADER is very smart, handsome, and funny.", 0.8545},
		{"VADER is VERY SMART, handsome, and FUNNY.", 0.9227},
		{"VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342},
		{"VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0.9469},
		{"VADER is not smart, handsome, nor funny.", -0.7424},
		{"The book was good.", 0.4404},
		{"At least it isn't a horrible book.", 0.431},
		{"The book was only kind of good.", 0.3832},
		{"The plot was good, but the characters are uncompelling and the dialog is not great.", -0.7042},
		{"Today SUX!", -0.5461},
		{"Today only kinda sux! But I'll get by, lol", 0.5249},
		{"Not bad at all", 0.431},
		{"", 0},
	}
	for _, tt := range tests {
		if got := a.Valence(tt.text).Compound; math.Abs(got-tt.want) > 5e-4 {
			t.Errorf("Valence(%q) = %.4f, want %.4f", tt.text, got, tt.want)
		}
	}
}

// Each heuristic of the paper moves the score in its direction; base is the sentence without it.
func TestVADERHeuristics(t *testing.T) {
	a := New()
	c := func(s string) float64 { return a.Valence(s).Compound }
	tests := []struct {
		rule       string
		base, with string
		cmp        func(base, with float64) bool
	}{
		{"booster raises", "The service is good.", "The service is extremely good.", greater},
		{"booster decays with distance", "The service is very good.", "Very the service good.", less},
		{"dampener lowers", "The service is good.", "The service is slightly good.", less},
		{"booster bigram kind of lowers", "It was a good day.", "It was sort of a good day.", less},
		{"negation flips", "The service is good.", "The service is not good.", flipped},
		{"contraction negates", "It is good.", "It isn't good.", flipped},
		{"negation reaches three words back", "Good.", "Not really that good.", flipped},
		{"never so boosts", "It has never been good.", "It has never been so good.", greater},
		{"without doubt does not negate", "An excellent idea.", "Without doubt excellent idea.", notFlipped},
		{"ALL CAPS emphasis", "The service is good today.", "The service is GOOD today.", greater},
		{"exclamation emphasis", "The service is good.", "The service is good!!", greater},
		{"exclamation capped at four", "Good!!!!", "Good!!!!!!!", equal},
		{"question marks emphasis", "Is it good?", "Is it good???", greater},
		{"but shifts weight to the second clause", "It was good and the staff was rude.", "It was good but the staff was rude.", less},
		{"least negates", "It was the most compelling film.", "It was the least compelling film.", flipped},
		{"at least does not negate", "Compelling.", "At least compelling.", notFlipped},
		{"no negates the next word", "Good help.", "No good help.", flipped},
		{"idiom the shit", "This is shit.", "This is the shit.", flipped},
		{"idiom bad ass", "He is a bad guy.", "He is a bad ass.", flipped},
		{"unknown words are neutral", "zzxq blorf", "zzxq blorf quux", equal},
	}
	for _, tt := range tests {
		b, w := c(tt.base), c(tt.with)
		if !tt.cmp(b, w) {
			t.Errorf("%s: %q=%.4f, %q=%.4f", tt.rule, tt.base, b, tt.with, w)
		}
	}
}

func greater(b, w float64) bool    { return w > b }
func less(b, w float64) bool       { return w < b }
func equal(b, w float64) bool      { return b == w }
func flipped(b, w float64) bool    { return b != 0 && w != 0 && (b > 0) != (w > 0) }
func notFlipped(b, w float64) bool { return b > 0 && w > 0 }

func TestPyIsUpperAndStrip(t *testing.T) {
	for s, want := range map[string]bool{"GOOD": true, "Good": false, "G00D!": true, ":)": false, "ÉTÉ": true, "": false} {
		if got := pyIsUpper(s); got != want {
			t.Errorf("pyIsUpper(%q) = %v", s, got)
		}
	}
	for in, want := range map[string]string{"good!": "good", ":)": ":)", "'ok'": "'ok'", "(wow)": "wow", "!!!": "!!!"} {
		if got := stripPunc(in); got != want {
			t.Errorf("stripPunc(%q) = %q, want %q", in, got, want)
		}
	}
}
