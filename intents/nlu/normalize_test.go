package nlu

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"case and punctuation", "Where is MY order?!", "where is my order"},
		{"contraction n't", "I don't know", "i do not know"},
		{"irregular negation", "I can't log in, it won't work", "i can not log in it will not work"},
		{"clitics", "I'm sure you're right, they'll call; I've paid", "i am sure you are right they will call i have paid"},
		{"curly apostrophe", "I\u2019m locked out", "i am locked out"},
		{"bare contraction", "dont cancel im waiting", "do not cancel i am waiting"},
		{"accents", "Café crème brûlée", "cafe creme brulee"},
		{"compatibility forms", "ＦＵＬＬ width ﬁle", "full width file"},
		{"hyphen and slash split", "e-mail me 24/7", "e mail me 24 7"},
		{"emoji dropped", "thanks 🙏🙏", "thanks"},
		{"only emoji", "🙂🙂", ""},
		{"white space", "  refund\t\nplease  ", "refund please"},
		{"invalid utf-8", "refund\xff\xfeplease", "refund please"},
		{"numbers kept", "order 12345", "order 12345"},
		{"mixed scripts", "Привет hello 你好", "привет hello 你好"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeBoundsLongInput(t *testing.T) {
	long := strings.Repeat("refund ", 2000)
	got := strings.Fields(Normalize(long))
	if len(got) == 0 || len(got) > maxInputBytes/len("refund ")+1 {
		t.Fatalf("Normalize of %d bytes gave %d words, want at most %d", len(long), len(got), maxInputBytes/len("refund ")+1)
	}
}

func TestFeatures(t *testing.T) {
	fc := Options{}.withDefaults().features()
	var f rawFeatures
	fc.extract("Reset my PIN", &f)
	if want := []string{"reset", "my", "pin"}; !slices.Equal(f.words, want) {
		t.Fatalf("words = %q, want %q", f.words, want)
	}
	// 3 unigrams + 2 bigrams + first and last word marked.
	if len(f.word) != 7 {
		t.Errorf("word features = %d, want 7", len(f.word))
	}
	// " reset " has 7 runes: 6+5+4 n-grams of length 2..4; " my ": 3+2+1;
	// " pin ": 4+3+2.
	if want := 15 + 6 + 9; len(f.char) != want {
		t.Errorf("char features = %d, want %d", len(f.char), want)
	}
	var g rawFeatures
	fc.extract("reset my pin", &g)
	if !slices.Equal(f.word, g.word) || !slices.Equal(f.char, g.char) {
		t.Error("features differ between texts that normalise alike")
	}
	fc.extract("pin my reset", &g)
	if slices.Equal(f.word, g.word) {
		t.Error("word order is not reflected in the word block (bigrams missing)")
	}
}

func TestClashes(t *testing.T) {
	exs := []Example{
		{"refund", "I want a refund"},
		{"refund", "money back please"},
		{"cancel", "i want a REFUND!"},
		{"greeting", "hello"},
		{"greeting", "Hello!"}, // same label: harmless
		{"refund", "i want a refund"},
	}
	got := Clashes(exs)
	want := []Clash{{Text: "i want a refund", Indices: []int{0, 2, 5}}}
	if len(got) != len(want) || got[0].Text != want[0].Text || !slices.Equal(got[0].Indices, want[0].Indices) {
		t.Fatalf("Clashes = %+v, want %+v", got, want)
	}
	if _, err := Train(exs, Options{}); err == nil {
		t.Fatal("Train accepted clashing examples")
	} else if ce, ok := err.(*ClashError); !ok || len(ce.Clashes) != 1 {
		t.Fatalf("Train error = %v, want a *ClashError with one clash", err)
	}
}
