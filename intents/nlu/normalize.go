package nlu

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
	"golang.org/x/text/unicode/norm"
)

// maxInputBytes bounds the work done on one message. Intent is carried by the
// first sentences of a message; a visitor pasting a log file must not cost
// milliseconds of CPU per turn.
const maxInputBytes = 2048

// tokenizerModel is handed to prose.NewDocument so that it does not load its
// tagger and entity models (about 200 ms) on every call. Tagging and
// extraction are switched off, so the empty model is never read; prose never
// writes to it, which makes sharing it between goroutines safe.
var tokenizerModel = &prose.Model{Name: "attune-tokenize-only"}

// proseOptions asks prose for tokenisation only.
var proseOptions = []prose.DocOpt{
	prose.WithTagging(false),
	prose.WithSegmentation(false),
	prose.WithExtraction(false),
	prose.UsingModel(tokenizerModel),
}

// contractionSuffix maps the clitics that prose splits off (and the ones it
// leaves attached, such as 've and 'd) to full words, so that "don't" and
// "do not" produce the same features. A switch rather than a map: it runs
// for every token, and rejects most on their first byte.
func contractionSuffix(tok string) (string, bool) {
	if len(tok) < 2 || (tok[0] != '\'' && tok[0] != 'n') {
		return "", false
	}
	switch tok {
	case "n't":
		return "not", true
	case "'m":
		return "am", true
	case "'re":
		return "are", true
	case "'ll":
		return "will", true
	case "'ve":
		return "have", true
	case "'d":
		return "would", true
	case "'s":
		return "is", true
	}
	return "", false
}

// bareContraction expands contractions typed without the apostrophe, which
// is how most people write in a chat box. Only unambiguous forms are listed:
// "its", "lets", "wed", "ill" and "well" are real words.
func bareContraction(w string) (a, b string, ok bool) {
	if len(w) < 2 || len(w) > 8 {
		return "", "", false
	}
	switch w {
	case "dont":
		return "do", "not", true
	case "doesnt":
		return "does", "not", true
	case "didnt":
		return "did", "not", true
	case "cant", "cannot":
		return "can", "not", true
	case "wont":
		return "will", "not", true
	case "isnt":
		return "is", "not", true
	case "arent":
		return "are", "not", true
	case "wasnt":
		return "was", "not", true
	case "werent":
		return "were", "not", true
	case "havent":
		return "have", "not", true
	case "hasnt":
		return "has", "not", true
	case "couldnt":
		return "could", "not", true
	case "shouldnt":
		return "should", "not", true
	case "wouldnt":
		return "would", "not", true
	case "im":
		return "i", "am", true
	case "ive":
		return "i", "have", true
	case "youre":
		return "you", "are", true
	case "youve":
		return "you", "have", true
	case "theyre":
		return "they", "are", true
	case "whats":
		return "what", "is", true
	case "thats":
		return "that", "is", true
	case "wheres":
		return "where", "is", true
	case "hows":
		return "how", "is", true
	case "whos":
		return "who", "is", true
	case "theres":
		return "there", "is", true
	}
	return "", "", false
}

// negationStem repairs the stem prose leaves in front of "n't" when the
// contraction is irregular ("can't" -> "ca" + "n't").
func negationStem(w string) (string, bool) {
	switch w {
	case "ca":
		return "can", true
	case "wo":
		return "will", true
	case "sha":
		return "shall", true
	case "ai":
		return "am", true
	}
	return "", false
}

// Normalize returns the canonical form of a text as the classifier sees it:
// Unicode compatibility-normalised, accents removed, lower case, contractions
// expanded, punctuation and symbols (including emoji) dropped, words separated
// by single spaces. Two texts with the same Normalize value are
// indistinguishable to the model, which is what Clashes relies on.
func Normalize(text string) string {
	return strings.Join(words(text, nil), " ")
}

// words appends the normalised words of text to dst. The words are
// substrings of the folded text, so a message already in lower-case ASCII
// costs no allocation beyond dst's growth.
//
// Tokenisation is prose's: prose splits on white space and then works on
// each span alone. A span of letters and digits only comes out of prose
// unchanged, so such spans, most words of most messages, skip it. An ASCII
// span with punctuation goes through proseSplitASCII, a transcription of
// prose's span splitting (its prefixes, suffixes, clitics and emoticons)
// that FuzzProseSplitASCII holds to prose's output on arbitrary input. Other
// spans go through prose itself.
func words(text string, dst []string) []string {
	text = fold(text)
	if text == "" {
		return dst
	}
	var buf [16]string
	for span := range strings.FieldsSeq(text) {
		if isPlainWord(span) {
			dst = appendWord(dst, span)
			continue
		}
		var toks []string
		if isASCII(span) && !strings.Contains(span, "&rsquo;") {
			toks = proseSplitASCII(span, buf[:0])
		} else {
			toks = appendProseTokens(buf[:0], span)
		}
		for _, tok := range toks {
			dst = appendToken(dst, tok)
		}
	}
	return dst
}

// appendToken appends the words of one prose token.
func appendToken(dst []string, tok string) []string {
	if exp, ok := contractionSuffix(tok); ok {
		if tok == "n't" && len(dst) > 0 {
			if stem, ok := negationStem(dst[len(dst)-1]); ok {
				dst[len(dst)-1] = stem
			}
		}
		return append(dst, exp)
	}
	return appendWordParts(dst, tok)
}

// appendWord appends one run of word runes, expanded if it is a bare
// contraction.
func appendWord(dst []string, w string) []string {
	if a, b, ok := bareContraction(w); ok {
		return append(dst, a, b)
	}
	return append(dst, w)
}

// appendWordParts splits one prose token on everything that is not a letter,
// mark or digit (prose keeps "e-mail" and "24/7" whole) and expands
// contractions prose leaves attached, such as "i've".
func appendWordParts(dst []string, tok string) []string {
	start := -1
	for i := 0; i < len(tok); {
		r, size := rune(tok[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(tok[i:])
		}
		if r == '\'' && start >= 0 {
			// A clitic glued to its word: "i've" -> "i" + "have".
			rest := tok[i:]
			end := len(rest)
			for j, r2 := range rest[1:] {
				if !isWordRune(r2) {
					end = j + 1
					break
				}
			}
			if exp, ok := contractionSuffix(rest[:end]); ok {
				dst = appendWord(dst, tok[start:i])
				dst = append(dst, exp)
				return appendWordParts(dst, rest[end:])
			}
		}
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			dst = appendWord(dst, tok[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		dst = appendWord(dst, tok[start:])
	}
	return dst
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func isPlainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			return isPlainWordUnicode(s[i:])
		} else if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func isPlainWordUnicode(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// proseSplitASCII appends the tokens prose's tokenizer makes of span, an
// ASCII string without white space or "&rsquo;" (the one ASCII sequence
// prose's sanitizer rewrites). It follows prose v2.0.0's doSplit step by
// step, including its quirks: the clitic search looks for "'ll", "'s",
// "'re" and "'m" in that order rather than for the leftmost, and a token
// that starts with one and is longer (such as "'ss") is dropped, because
// the loop stops when a step leaves the token as it was. The tokens are
// substrings of span.
func proseSplitASCII(span string, dst []string) []string {
	off, end := 0, len(span) // the token is span[off:end]
	var suffs [8]int         // offsets of the stripped suffix bytes
	nSuffs := 0
	var moreSuffs []int
	last := 0
	for off < end && end-off != last {
		token := span[off:end]
		if isProseSpecial(token) {
			dst = append(dst, token)
			break
		}
		last = len(token)
		if len(token) > 1 && (token[0] == '$' || token[0] == '(' || token[0] == '"' || token[0] == '[') {
			dst = append(dst, token[:1])
			off++
		} else if idx := cliticIndex(token); idx > -1 {
			if idx > 0 {
				dst = append(dst, token[:idx])
			}
			off += idx
		} else if idx := indexFoldASCII(token, "n't"); idx > -1 && len(token) > 3 {
			if idx > 0 {
				dst = append(dst, token[:idx])
			}
			off += idx
		} else if len(token) > 1 && isProseSuffix(token[len(token)-1]) {
			end--
			if nSuffs < len(suffs) {
				suffs[nSuffs] = end
				nSuffs++
			} else {
				moreSuffs = append(moreSuffs, end)
			}
		} else {
			dst = append(dst, token)
		}
	}
	// prose prepends each stripped suffix: the last stripped comes first.
	for i := len(moreSuffs) - 1; i >= 0; i-- {
		dst = append(dst, span[moreSuffs[i]:moreSuffs[i]+1])
	}
	for i := nSuffs - 1; i >= 0; i-- {
		dst = append(dst, span[suffs[i]:suffs[i]+1])
	}
	return dst
}

// cliticIndex is prose's hasAnyIndex(lower, "'ll", "'s", "'re", "'m"): the
// position of the first of these, in that order, found in t (ignoring ASCII
// case), provided t is longer than it.
func cliticIndex(t string) int {
	for _, c := range [...]string{"'ll", "'s", "'re", "'m"} {
		if idx := indexFoldASCII(t, c); idx >= 0 && len(t) > len(c) {
			return idx
		}
	}
	return -1
}

// indexFoldASCII returns the first index of lower-case pat in the ASCII
// string s lower-cased, or -1.
func indexFoldASCII(s, pat string) int {
	for i := 0; i+len(pat) <= len(s); i++ {
		j := 0
		for ; j < len(pat); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != pat[j] {
				break
			}
		}
		if j == len(pat) {
			return i
		}
	}
	return -1
}

// isProseSuffix reports whether prose strips b from the end of a token.
func isProseSuffix(b byte) bool {
	switch b {
	case ',', ')', '"', ']', '!', ';', '.', '?', ':', '\'':
		return true
	}
	return false
}

// isProseSpecial is prose's isSpecial for ASCII tokens: one of its
// emoticons, or a match of `^(?:[A-Za-z]\.){2,}$|^[A-Z][a-z]{1,2}\.$`
// (abbreviations such as "u.s." and "Mr.").
func isProseSpecial(t string) bool {
	switch t {
	case "(-8", "(-;", "(-_-)", "(._.)", "(:", "(=", "(o:", "-__-", "8-)", "8-D", "8D",
		":(", ":((", ":(((", ":()", ":)))", ":-)", ":-))", ":-)))", ":-*", ":-/", ":-X", ":-]",
		":-o", ":-p", ":-x", ":-|", ":-}", ":0", ":3", ":P", ":]", ":`(", ":`)", ":`-(", ":o", ":o)",
		"=(", "=)", "=D", "=|", "@_@", "O.o", "O_o", "V_V", "XDD", "[-:", "^___^", "o_0", "o_O",
		"o_o", "v_v", "xD", "xDD":
		return true
	}
	isLetter := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
	if len(t) >= 4 && len(t)%2 == 0 {
		abbrev := true
		for i := 0; i < len(t); i += 2 {
			if !isLetter(t[i]) || t[i+1] != '.' {
				abbrev = false
				break
			}
		}
		if abbrev {
			return true
		}
	}
	if (len(t) == 3 || len(t) == 4) && 'A' <= t[0] && t[0] <= 'Z' && t[len(t)-1] == '.' {
		for i := 1; i < len(t)-1; i++ {
			if !('a' <= t[i] && t[i] <= 'z') {
				return false
			}
		}
		return true
	}
	return false
}

// appendProseTokens runs prose on one span. prose indexes a lower-cased copy
// of a token with offsets of the original, which can panic on exotic input;
// a panic must never take a conversation down, so the span is then kept
// whole (appendWordParts still splits it on punctuation).
func appendProseTokens(dst []string, span string) (out []string) {
	defer func() {
		if recover() != nil {
			out = append(dst, span)
		}
	}()
	doc, err := prose.NewDocument(span, proseOptions...)
	if err != nil {
		return append(dst, span)
	}
	for _, t := range doc.Tokens() {
		dst = append(dst, t.Text)
	}
	return dst
}

// fold makes text valid UTF-8, bounds its length, applies NFKC, removes
// combining accents and lower-cases it. ASCII text, the common case, takes a
// fast path without allocation beyond the lower-cased copy.
func fold(text string) string {
	if len(text) > maxInputBytes {
		cut := maxInputBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	if isASCII(text) {
		return strings.ToLower(text)
	}
	text = strings.ToValidUTF8(text, " ")
	text = norm.NFKD.String(text)
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Mn, r):
			// Accents: "café" and "cafe" are the same word to a visitor.
			// Scripts that need their marks (Devanagari, Thai) lose them too;
			// the n-grams still separate their words well enough.
			continue
		case r == '\u2019' || r == '\u2018' || r == '`' || r == '\u00b4':
			b.WriteByte('\'')
		case unicode.IsSpace(r) || unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return norm.NFC.String(b.String())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
