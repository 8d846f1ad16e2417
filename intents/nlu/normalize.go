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

// contractionSuffixes maps the clitics that prose splits off (and the ones it
// leaves attached, such as 've and 'd) to full words, so that "don't" and
// "do not" produce the same features.
var contractionSuffixes = map[string]string{
	"n't": "not",
	"'m":  "am",
	"'re": "are",
	"'ll": "will",
	"'ve": "have",
	"'d":  "would",
	"'s":  "is",
}

// bareContractions expands contractions typed without the apostrophe, which
// is how most people write in a chat box. Only unambiguous forms are listed:
// "its", "lets", "wed", "ill" and "well" are real words.
var bareContractions = map[string][]string{
	"dont":     {"do", "not"},
	"doesnt":   {"does", "not"},
	"didnt":    {"did", "not"},
	"cant":     {"can", "not"},
	"cannot":   {"can", "not"},
	"wont":     {"will", "not"},
	"isnt":     {"is", "not"},
	"arent":    {"are", "not"},
	"wasnt":    {"was", "not"},
	"werent":   {"were", "not"},
	"havent":   {"have", "not"},
	"hasnt":    {"has", "not"},
	"couldnt":  {"could", "not"},
	"shouldnt": {"should", "not"},
	"wouldnt":  {"would", "not"},
	"im":       {"i", "am"},
	"ive":      {"i", "have"},
	"youre":    {"you", "are"},
	"youve":    {"you", "have"},
	"theyre":   {"they", "are"},
	"whats":    {"what", "is"},
	"thats":    {"that", "is"},
	"wheres":   {"where", "is"},
	"hows":     {"how", "is"},
	"whos":     {"who", "is"},
	"theres":   {"there", "is"},
}

// negationStems repairs the stem prose leaves in front of "n't" when the
// contraction is irregular ("can't" -> "ca" + "n't").
var negationStems = map[string]string{
	"ca":  "can",
	"wo":  "will",
	"sha": "shall",
	"ai":  "am",
}

// Normalize returns the canonical form of a text as the classifier sees it:
// Unicode compatibility-normalised, accents removed, lower case, contractions
// expanded, punctuation and symbols (including emoji) dropped, words separated
// by single spaces. Two texts with the same Normalize value are
// indistinguishable to the model, which is what Clashes relies on.
func Normalize(text string) string {
	return strings.Join(words(text, nil), " ")
}

// words appends the normalised words of text to dst.
func words(text string, dst []string) []string {
	text = fold(text)
	if text == "" {
		return dst
	}
	toks := proseTokens(text)
	for _, tok := range toks {
		if exp, ok := contractionSuffixes[tok]; ok {
			if tok == "n't" && len(dst) > 0 {
				if stem, ok := negationStems[dst[len(dst)-1]]; ok {
					dst[len(dst)-1] = stem
				}
			}
			dst = append(dst, exp)
			continue
		}
		dst = appendWordParts(dst, tok)
	}
	return dst
}

// appendWordParts splits one prose token on everything that is not a letter,
// mark or digit (prose keeps "e-mail" and "24/7" whole) and expands
// contractions prose leaves attached, such as "i've".
func appendWordParts(dst []string, tok string) []string {
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := tok[start:end]
		start = -1
		if exp, ok := bareContractions[w]; ok {
			dst = append(dst, exp...)
			return
		}
		dst = append(dst, w)
	}
	for i, r := range tok {
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
			if exp, ok := contractionSuffixes[rest[:end]]; ok {
				flush(i)
				dst = append(dst, exp)
				return appendWordParts(dst, rest[end:])
			}
		}
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(tok))
	return dst
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// proseTokens tokenises text with prose's tokenizer. prose splits on white
// space and then works on each span alone, and a span of letters and digits
// only comes out unchanged; such spans, most words of most messages, skip
// prose, which costs about a microsecond per span (a regular expression and
// several allocations). Spans with punctuation or apostrophes go through
// prose, so its handling of contractions, quotes and emoticons applies.
func proseTokens(text string) []string {
	toks := make([]string, 0, 16)
	for _, span := range strings.Fields(text) {
		if isPlainWord(span) {
			toks = append(toks, span)
			continue
		}
		toks = appendProseTokens(toks, span)
	}
	return toks
}

func isPlainWord(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
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
