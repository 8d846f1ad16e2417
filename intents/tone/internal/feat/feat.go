// Package feat turns a message into the word features shared by the tone analyzer and the
// program that learns its weights, so that training and inference can never drift apart.
package feat

import (
	"unicode"
	"unicode/utf8"
)

// Token is one lower-cased word. Digit runs are folded to '#' so "6am" and "7am" share a
// feature; Neg marks words inside a negation scope ("not [worried at all]").
type Token struct {
	Text string
	Neg  bool
	// Upper marks a word written in capitals (two letters or more), a common sign of emphasis.
	Upper bool
	// Start and End are byte offsets in the original text, for evidence.
	Start, End int
	// BreakBefore marks a clause boundary (sentence punctuation) just before the word.
	BreakBefore bool
}

// negScope is how many words a negator reaches, the usual window in sentiment work.
const negScope = 3

// IsNegator reports whether a lower-cased word negates what follows it.
func IsNegator(w string) bool {
	switch w {
	case "not", "no", "never", "cannot", "nothing", "without", "none", "neither", "nor",
		"dont", "didnt", "doesnt", "isnt", "wasnt", "arent", "werent", "cant", "wont", "havent",
		"hasnt", "hadnt", "shouldnt", "wouldnt", "couldnt", "aint":
		return true
	}
	n := len(w)
	return n > 3 && w[n-3:] == "n't"
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '\u2019'
}

// Tokenize appends the words of text to buf. It never fails: invalid UTF-8 is read as U+FFFD
// and dropped, and non-word characters only separate words.
func Tokenize(text string, buf []Token) []Token {
	base := len(buf)
	brk := false
	scope := 0
	var word []byte
	var scratch [64]byte
	start := -1
	upper, lower := 0, 0
	changed := false
	flush := func(end int) {
		if start < 0 {
			return
		}
		// Reuse the text itself when normalising changed nothing, to save an allocation.
		var w string
		if changed {
			w = string(word)
		} else {
			w = text[start:end]
		}
		// Trim apostrophes used as quotes.
		for len(w) > 0 && w[0] == '\'' {
			w = w[1:]
		}
		for len(w) > 0 && w[len(w)-1] == '\'' {
			w = w[:len(w)-1]
		}
		if w != "" {
			t := Token{Text: w, Start: start, End: end, BreakBefore: brk || len(buf) == base, Upper: upper >= 2 && lower == 0}
			if t.BreakBefore {
				scope = 0
			}
			if scope > 0 {
				t.Neg = true
				scope--
			}
			if IsNegator(w) {
				scope = negScope
			}
			buf = append(buf, t)
			brk = false
		}
		word = scratch[:0]
		start = -1
		upper, lower = 0, 0
		changed = false
	}
	word = scratch[:0]
	for i, r := range text {
		if r < utf8.RuneSelf {
			// ASCII fast path: most chat text never reaches the unicode tables.
			c := byte(r)
			switch {
			case 'a' <= c && c <= 'z':
				lower++
			case 'A' <= c && c <= 'Z':
				upper++
				c += 'a' - 'A'
				changed = true
			case '0' <= c && c <= '9':
				changed = true
				if start < 0 {
					start = i
				}
				if n := len(word); n > 0 && word[n-1] == '#' {
					continue
				}
				c = '#'
			case c == '\'':
			default:
				flush(i)
				switch c {
				case '.', '!', '?', ';', ':', ',', '(', ')', '\n':
					brk = true
				}
				continue
			}
			if start < 0 {
				start = i
			}
			word = append(word, c)
			continue
		}
		if r == utf8.RuneError {
			flush(i)
			continue
		}
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			switch {
			case r == '\u2019':
				r, changed = '\'', true
			case unicode.IsDigit(r):
				changed = true
				if n := len(word); n > 0 && word[n-1] == '#' {
					continue
				}
				r = '#'
			case unicode.IsUpper(r):
				upper++
				r, changed = unicode.ToLower(r), true
			case unicode.IsLower(r):
				lower++
			}
			word = utf8.AppendRune(word, r)
			continue
		}
		flush(i)
		switch r {
		case '.', '!', '?', ';', ':', ',', '(', ')', '\n':
			brk = true
		}
	}
	flush(len(text))
	// "but" also ends a negation scope: "not bad but slow".
	for i := base; i < len(buf); i++ {
		if buf[i].Text == "but" {
			for j := i + 1; j < len(buf) && buf[j].Neg; j++ {
				buf[j].Neg = false
			}
		}
	}
	return buf
}

// stemLen is the prefix length of the crude stem feature ("~frust" for frustrated,
// frustrating, frustration), which lets rare inflections share evidence.
const stemLen = 5

// FNV-1a parameters; features are hashed so inference needs no string building.
const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

func hashAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}

// Hash returns the hash of a feature key as written in the model file.
func Hash(key string) uint64 { return hashAdd(offset64, key) }

// Each calls fn with the hash of every word feature of toks, in order: the unigram (prefixed
// "NOT_" inside a negation scope) and the bigram "w1 w2" of adjacent words in one clause.
// idx is the index of the token the feature ends on.
func Each(toks []Token, fn func(h uint64, idx int)) {
	for i := range toks {
		h := uint64(offset64)
		if toks[i].Neg {
			h = hashAdd(h, "NOT_")
		}
		fn(hashAdd(h, toks[i].Text), i)
		if w := toks[i].Text; len(w) > stemLen {
			fn(hashAdd(hashAdd(offset64, "~"), w[:stemLen]), i)
		}
		if i > 0 && !toks[i].BreakBefore {
			h2 := hashAdd(offset64, toks[i-1].Text)
			h2 = hashAdd(h2, " ")
			fn(hashAdd(h2, toks[i].Text), i)
		}
	}
}

// Keys returns the feature keys Each hashes, for training and for explaining a weight.
func Keys(toks []Token) []string {
	var keys []string
	for i := range toks {
		if toks[i].Neg {
			keys = append(keys, "NOT_"+toks[i].Text)
		} else {
			keys = append(keys, toks[i].Text)
		}
		if w := toks[i].Text; len(w) > stemLen {
			keys = append(keys, "~"+w[:stemLen])
		}
		if i > 0 && !toks[i].BreakBefore {
			keys = append(keys, toks[i-1].Text+" "+toks[i].Text)
		}
	}
	return keys
}

// DenseNames names the dense features in the order Dense fills them; the model file stores
// their weights under these names.
var DenseNames = [NumDense]string{"_valence_pos", "_valence_neg", "_vader_pos", "_vader_neg", "_exclaim", "_question", "_caps"}

// NumDense is the number of dense features.
const NumDense = 7

// Dense fills the non-word features: VADER's compound split by sign, its positive and negative
// proportions, and punctuation and capital-letter emphasis.
func Dense(compound, pos, neg float64, text string, toks []Token) [NumDense]float64 {
	var d [NumDense]float64
	if compound > 0 {
		d[0] = compound
	} else {
		d[1] = -compound
	}
	d[2], d[3] = pos, neg
	excl, quest := 0, 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '!':
			excl++
		case '?':
			quest++
		}
	}
	d[4] = float64(min(excl, 3)) / 3
	d[5] = float64(min(quest, 3)) / 3
	for i := range toks {
		if toks[i].Upper {
			d[6] = 1
			break
		}
	}
	return d
}
