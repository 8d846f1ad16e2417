package feat

import (
	"reflect"
	"testing"
)

// Training names features with Keys and inference looks them up with Each; the two must
// produce the same features in the same order or the learned weights silently stop applying.
func TestEachMatchesKeys(t *testing.T) {
	for _, text := range []string{
		"I'm NOT happy, still waiting since 6am!!",
		"Ça ne marche pas, je suis très déçu",
		"don't understand why it isn't working... again",
		"",
	} {
		toks := Tokenize(text, nil)
		var got []uint64
		Each(toks, func(h uint64, _ int) { got = append(got, h) })
		var want []uint64
		for _, k := range Keys(toks) {
			want = append(want, Hash(k))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Each gave %d hashes, Keys %v", text, len(got), Keys(toks))
		}
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		text  string
		words []string
		neg   []bool
		upper []bool
	}{
		{"Not worried at all, thanks", []string{"not", "worried", "at", "all", "thanks"}, []bool{false, true, true, true, false}, nil},
		{"WHY is it 2am", []string{"why", "is", "it", "#am"}, nil, []bool{true, false, false, false}},
		{"Déjà VU’S café", []string{"déjà", "vu's", "café"}, nil, []bool{false, true, false}},
		{"'quoted' \xff word", []string{"quoted", "word"}, nil, nil},
	}
	for _, tt := range tests {
		toks := Tokenize(tt.text, nil)
		var words []string
		for i, tk := range toks {
			words = append(words, tk.Text)
			if tt.neg != nil && i < len(tt.neg) && tk.Neg != tt.neg[i] {
				t.Errorf("%q: word %q Neg=%v", tt.text, tk.Text, tk.Neg)
			}
			if tt.upper != nil && i < len(tt.upper) && tk.Upper != tt.upper[i] {
				t.Errorf("%q: word %q Upper=%v", tt.text, tk.Text, tk.Upper)
			}
		}
		if !reflect.DeepEqual(words, tt.words) {
			t.Errorf("%q: words %q, want %q", tt.text, words, tt.words)
		}
	}
}
