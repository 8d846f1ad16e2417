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
		"Why would you do that?! Sooo annoying, what do you mean?",
		"not confused, just naïve? ok",
		"",
	} {
		toks := Tokenize(text, nil)
		var got []uint64
		Each(toks, func(h uint64, _, _ int) { got = append(got, h) })
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

func TestTokenizeQuestion(t *testing.T) {
	tests := []struct {
		text string
		want []string // words that end a question
	}{
		{"what do you mean?!", []string{"mean"}},
		{"Why? Because.", []string{"why"}},
		{"is it, really ?", []string{"really"}},
		{"wait what!? no", []string{"what"}},
		{"\"seriously\"?", []string{"seriously"}},
		{"ok. ?", nil},
		{"fine, (really)? sure", nil},
		{"no question here", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range Tokenize(tt.text, nil) {
			if tk.Question {
				got = append(got, tk.Text)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: question words %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestKeysWordFeatures(t *testing.T) {
	has := func(keys []string, k string) bool {
		for _, x := range keys {
			if x == k {
				return true
			}
		}
		return false
	}
	tests := []struct {
		text      string
		want, not []string
	}{
		// Letter groups carry the elongated word toward the plain one.
		{"sooo annoyed", []string{"sooo", "^<soo", "^sooo", "^ooo>", "~annoy", "^nnoy", "sooo annoyed"}, []string{"^ooo"}},
		// Inside a negation scope the word and its stem are marked and its letter groups are
		// left out, so "not confused" shares no feature with "confused".
		{"not confused", []string{"not", "NOT_confused", "NOT_~confu", "^<not", "^not>"}, []string{"confused", "~confu", "^conf", "^used"}},
		{"so confused", []string{"confused", "~confu", "^conf"}, []string{"NOT_confused", "NOT_~confu"}},
		// Short and non-ASCII words have no letter groups.
		{"a naïve ok", []string{"a", "naïve", "ok", "^<ok>"}, []string{"^<a>", "^<na"}},
		// A question gives its last word, the question itself and its first word.
		{"so why would you do that?! fine", []string{"?that", "?", "Q<so", "do that"}, []string{"?fine", "Q<fine"}},
		{"Fine. Why not?", []string{"Q<why", "?not"}, []string{"Q<fine"}},
	}
	for _, tt := range tests {
		keys := Keys(Tokenize(tt.text, nil))
		for _, k := range tt.want {
			if !has(keys, k) {
				t.Errorf("%q: keys %q lack %q", tt.text, keys, k)
			}
		}
		for _, k := range tt.not {
			if has(keys, k) {
				t.Errorf("%q: keys %q have %q", tt.text, keys, k)
			}
		}
	}
}

// Evidence names the words a feature covers: the word itself for word features, both words
// for a bigram, the clause's first word for the question frame.
func TestEachSpans(t *testing.T) {
	toks := Tokenize("I really hate this. Why?", nil)
	type span struct{ from, to int }
	got := map[uint64]span{}
	Each(toks, func(h uint64, from, to int) { got[h] = span{from, to} })
	for key, want := range map[string]span{
		"hate": {2, 2}, "^hate": {2, 2}, "~reall": {1, 1}, "really hate": {1, 2}, "Q<why": {4, 4}, "?why": {4, 4},
	} {
		if s, ok := got[Hash(key)]; !ok || s != want {
			t.Errorf("%q: span %v (found %v), want %v", key, s, ok, want)
		}
	}
}

// Hashes rolls letter groups and reuses word hashes; whatever the text, it must still name
// exactly the features Keys spells out, in the same order and with the same spans' words.
func FuzzHashesMatchKeys(f *testing.F) {
	for _, s := range []string{"", "ok", "a b", "I'm NOT ok at 6am", "naïve café?", "''quoted'' don't", "WHY?! why... ok?", "\xff\xfeab", "x’y 12 34ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		toks := Tokenize(text, nil)
		got := Hashes(toks, nil)
		keys := Keys(toks)
		if len(got) != len(keys) {
			t.Fatalf("%q: %d hashes, %d keys %q", text, len(got), len(keys), keys)
		}
		for i, k := range keys {
			if got[i].H != Hash(k) {
				t.Fatalf("%q: feature %d is %q but its hash differs", text, i, k)
			}
		}
	})
}
