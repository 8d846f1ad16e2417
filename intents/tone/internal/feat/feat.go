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
	// Question marks the last word of a question: a '?' follows it, with at most spaces,
	// quotes or '!' between ("what do you mean?!").
	Question bool
	// Hash is Hash(Text), computed once here because the unigram and bigram features and the
	// support-cue lookup all start from it.
	Hash uint64
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

// appendWord appends the word text[start:end] (normalised as word when changed) unless it is
// only apostrophes, and returns the negation scope after it and whether a word was added.
func appendWord(buf []Token, text string, word []byte, changed bool, start, end int, breakBefore, upper bool, scope int) ([]Token, int, bool) {
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
	if w == "" {
		return buf, scope, false
	}
	// Filled in place: copying a whole token into the slice costs a bulk write barrier.
	buf = append(buf, Token{})
	t := &buf[len(buf)-1]
	t.Text, t.Hash, t.Start, t.End = w, Hash(w), start, end
	t.BreakBefore, t.Upper = breakBefore, upper
	if breakBefore {
		scope = 0
	}
	if scope > 0 {
		t.Neg = true
		scope--
	}
	if IsNegator(w) {
		scope = negScope
	}
	return buf, scope, true
}

// Tokenize appends the words of text to buf. It never fails: invalid UTF-8 is read as U+FFFD
// and dropped, and non-word characters only separate words.
func Tokenize(text string, buf []Token) []Token {
	base := len(buf)
	brk := false
	// open is true while the last word may still be closed by a '?'.
	open := false
	scope := 0
	var scratch [64]byte
	// word holds the normalised word only once it differs from the text (changed); until
	// then the text itself is the word and nothing is copied. The per-word state is plain
	// locals (no closure over them) so the byte loop keeps it in registers.
	word := scratch[:0]
	start := -1
	upper, lower := 0, 0
	changed := false
	for i, r := range text {
		if r < utf8.RuneSelf {
			// ASCII fast path: most chat text never reaches the unicode tables.
			c := byte(r)
			switch {
			case 'a' <= c && c <= 'z':
				lower++
				if start < 0 {
					start = i
				}
				if changed {
					word = append(word, c)
				}
				continue
			case 'A' <= c && c <= 'Z':
				upper++
				if start < 0 {
					start = i
				}
				if !changed {
					word, changed = append(word[:0], text[start:i]...), true
				}
				word = append(word, c+('a'-'A'))
				continue
			case '0' <= c && c <= '9':
				if start < 0 {
					start = i
				}
				if !changed {
					word, changed = append(word[:0], text[start:i]...), true
				}
				if n := len(word); n == 0 || word[n-1] != '#' {
					word = append(word, '#')
				}
				continue
			case c == '\'':
				if start < 0 {
					start = i
				}
				if changed {
					word = append(word, c)
				}
				continue
			}
		} else if r != utf8.RuneError && isWordRune(r) {
			if start < 0 {
				start = i
			}
			change := false
			switch {
			case r == '\u2019':
				r, change = '\'', true
			case unicode.IsDigit(r):
				change = true
			case unicode.IsUpper(r):
				upper++
				r, change = unicode.ToLower(r), true
			case unicode.IsLower(r):
				lower++
			}
			if change && !changed {
				word, changed = append(word[:0], text[start:i]...), true
			}
			if unicode.IsDigit(r) {
				if n := len(word); n > 0 && word[n-1] == '#' {
					continue
				}
				r = '#'
			}
			if changed {
				word = utf8.AppendRune(word, r)
			}
			continue
		}
		// Any other character ends the word.
		if start >= 0 {
			var ok bool
			buf, scope, ok = appendWord(buf, text, word, changed, start, i, brk || len(buf) == base, upper >= 2 && lower == 0, scope)
			if ok {
				brk, open = false, true
			}
			word, start, upper, lower, changed = scratch[:0], -1, 0, 0, false
		}
		switch r {
		case '?':
			if open && len(buf) > base {
				buf[len(buf)-1].Question = true
			}
			open, brk = false, true
		case '!':
			brk = true
		case '.', ';', ':', ',', '(', ')', '\n':
			open, brk = false, true
		}
	}
	if start >= 0 {
		buf, _, _ = appendWord(buf, text, word, changed, start, len(text), brk || len(buf) == base, upper >= 2 && lower == 0, scope)
	}
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
// A letter group "^abcd" is hashed from its four bytes packed in a word rather than byte by
// byte: a message has several dozen of them, and packing lets Hashes roll the group along the
// word. No other feature starts with '^', so keys never mix the two schemes.
func Hash(key string) uint64 {
	if len(key) == 1+charN && key[0] == '^' {
		return gramHash(uint32(key[1])<<24 | uint32(key[2])<<16 | uint32(key[3])<<8 | uint32(key[4]))
	}
	return hashAdd(offset64, key)
}

// gramHash spreads four packed bytes over 64 bits (the splitmix64 finaliser, a bijection, so
// distinct groups never collide with each other).
func gramHash(g uint32) uint64 {
	x := uint64(g) | 0x5e<<32
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// charN is the length of the character n-grams taken inside each word (with '<' and '>' marking
// its ends), which let misspellings, elongations ("sooo") and rare inflections share evidence
// with the words they resemble.
const charN = 4

// isASCII reports whether w is plain ASCII; character n-grams are taken only from such words so
// that every feature name stays valid UTF-8.
func isASCII(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] >= 0x80 {
			return false
		}
	}
	return true
}

// charGrams reports how many character n-grams word t has. A word inside a negation scope has
// none: its letter groups would carry "confused" into "not confused" past the NOT_ marking.
func charGrams(t *Token) int {
	if t.Neg || !isASCII(t.Text) || len(t.Text)+2 < charN {
		return 0
	}
	return len(t.Text) + 2 - charN + 1
}

// Hashed is one word feature of a message: its hash and the indexes [From, To] of the words it
// covers, for evidence.
type Hashed struct {
	H        uint64
	From, To int32
}

// Hashes of the fixed feature prefixes, so a feature costs only the hashing of its word.
var (
	hashNot      = Hash("NOT_")
	hashNotStem  = Hash("NOT_~")
	hashStem     = Hash("~")
	hashQuestion = Hash("?")
	hashQFrame   = Hash("Q<")
)

// Each calls fn with the hash of every word feature of toks, in the order of Hashes.
func Each(toks []Token, fn func(h uint64, from, to int)) {
	for _, f := range Hashes(toks, nil) {
		fn(f.H, int(f.From), int(f.To))
	}
}

// Hashes appends the hash of every word feature of toks to buf, in order. Per word: the unigram
// and its 5-letter stem "~" (both prefixed "NOT_" inside a negation scope), its character
// 4-grams "^" (outside a negation scope),
// and for the last word of a question "?" + word, "?" and "Q<" + the clause's first word
// ("why ... ?"); then the bigram "w1 w2" of adjacent words in one clause. The analyzer takes
// them as a slice rather than through a callback so that its weight-table lookups, which
// mostly miss the cache, are independent loads the processor can overlap. toks must come from
// Tokenize (the word hashes are reused).
func Hashes(toks []Token, buf []Hashed) []Hashed {
	clause := 0
	for i := range toks {
		t := &toks[i]
		w := t.Text
		if t.BreakBefore {
			clause = i
		}
		i32 := int32(i)
		if t.Neg {
			buf = append(buf, Hashed{hashAdd(hashNot, w), i32, i32})
			if len(w) > stemLen {
				// The stem is marked like the word, or "not confused" would still fire the
				// "~confu" learned from "confused" and "confusing".
				buf = append(buf, Hashed{hashAdd(hashNotStem, w[:stemLen]), i32, i32})
			}
		} else {
			buf = append(buf, Hashed{t.Hash, i32, i32})
			if len(w) > stemLen {
				buf = append(buf, Hashed{hashAdd(hashStem, w[:stemLen]), i32, i32})
			}
		}
		if !t.Neg && len(w)+2 >= charN {
			// Roll the four bytes of each group of "<" + w + ">" along the word; a non-ASCII
			// byte takes back the word's groups, as charGrams rules.
			mark, ascii := len(buf), true
			g := uint32('<')
			for k := 0; k < len(w); k++ {
				if w[k] >= utf8.RuneSelf {
					ascii = false
					break
				}
				g = g<<8 | uint32(w[k])
				if k >= charN-2 {
					buf = append(buf, Hashed{gramHash(g), i32, i32})
				}
			}
			if ascii {
				buf = append(buf, Hashed{gramHash(g<<8 | '>'), i32, i32})
			} else {
				buf = buf[:mark]
			}
		}
		if t.Question {
			c := int32(clause)
			buf = append(buf, Hashed{hashAdd(hashQuestion, w), i32, i32},
				Hashed{hashQuestion, i32, i32},
				Hashed{hashAdd(hashQFrame, toks[clause].Text), c, c})
		}
		if i > 0 && !t.BreakBefore {
			h2 := (toks[i-1].Hash ^ ' ') * prime64
			buf = append(buf, Hashed{hashAdd(h2, w), i32 - 1, i32})
		}
	}
	return buf
}

// Keys returns the feature keys Each hashes, in the same order, for training and for
// explaining a weight.
func Keys(toks []Token) []string {
	var keys []string
	clause := 0
	for i := range toks {
		t := &toks[i]
		w := t.Text
		if t.BreakBefore {
			clause = i
		}
		if t.Neg {
			keys = append(keys, "NOT_"+w)
		} else {
			keys = append(keys, w)
		}
		if len(w) > stemLen {
			if t.Neg {
				keys = append(keys, "NOT_~"+w[:stemLen])
			} else {
				keys = append(keys, "~"+w[:stemLen])
			}
		}
		if n := charGrams(t); n > 0 {
			p := "<" + w + ">"
			for s := 0; s < n; s++ {
				keys = append(keys, "^"+p[s:s+charN])
			}
		}
		if t.Question {
			keys = append(keys, "?"+w, "?", "Q<"+toks[clause].Text)
		}
		if i > 0 && !t.BreakBefore {
			keys = append(keys, toks[i-1].Text+" "+w)
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
