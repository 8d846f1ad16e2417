package nlu

// The reference normaliser: the implementation of words before its fast
// paths (every span with punctuation through prose, maps for the
// contractions), kept verbatim so that tests and the fuzz test can show the
// fast one gives exactly the same words and tokens on any input.

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/jdkato/prose/v2"
)

// refContractionSuffixes maps the clitics that prose splits off (and the ones it
// leaves attached, such as 've and 'd) to full refWords, so that "don't" and
// "do not" produce the same features.
var refContractionSuffixes = map[string]string{
	"n't": "not",
	"'m":  "am",
	"'re": "are",
	"'ll": "will",
	"'ve": "have",
	"'d":  "would",
	"'s":  "is",
}

// refBareContractions expands contractions typed without the apostrophe, which
// is how most people write in a chat box. Only unambiguous forms are listed:
// "its", "lets", "wed", "ill" and "well" are real refWords.
var refBareContractions = map[string][]string{
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

// refNegationStems repairs the stem prose leaves in front of "n't" when the
// contraction is irregular ("can't" -> "ca" + "n't").
var refNegationStems = map[string]string{
	"ca":  "can",
	"wo":  "will",
	"sha": "shall",
	"ai":  "am",
}

// refWords appends the normalised refWords of text to dst.
func refWords(text string, dst []string) []string {
	text = fold(text)
	if text == "" {
		return dst
	}
	toks := refProseTokens(text)
	for _, tok := range toks {
		if exp, ok := refContractionSuffixes[tok]; ok {
			if tok == "n't" && len(dst) > 0 {
				if stem, ok := refNegationStems[dst[len(dst)-1]]; ok {
					dst[len(dst)-1] = stem
				}
			}
			dst = append(dst, exp)
			continue
		}
		dst = refAppendWordParts(dst, tok)
	}
	return dst
}

// refAppendWordParts splits one prose token on everything that is not a letter,
// mark or digit (prose keeps "e-mail" and "24/7" whole) and expands
// contractions prose leaves attached, such as "i've".
func refAppendWordParts(dst []string, tok string) []string {
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := tok[start:end]
		start = -1
		if exp, ok := refBareContractions[w]; ok {
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
			if exp, ok := refContractionSuffixes[rest[:end]]; ok {
				flush(i)
				dst = append(dst, exp)
				return refAppendWordParts(dst, rest[end:])
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

// refProseTokens tokenises text with prose's tokenizer. prose splits on white
// space and then works on each span alone, and a span of letters and digits
// only comes out unchanged; such spans, most refWords of most messages, skip
// prose, which costs about a microsecond per span (a regular expression and
// several allocations). Spans with punctuation or apostrophes go through
// prose, so its handling of contractions, quotes and emoticons applies.
func refProseTokens(text string) []string {
	toks := make([]string, 0, 16)
	for _, span := range strings.Fields(text) {
		if refIsPlainWord(span) {
			toks = append(toks, span)
			continue
		}
		toks = refAppendProseTokens(toks, span)
	}
	return toks
}

func refIsPlainWord(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// refAppendProseTokens runs prose on one span. prose indexes a lower-cased copy
// of a token with offsets of the original, which can panic on exotic input;
// a panic must never take a conversation down, so the span is then kept
// whole (refAppendWordParts still splits it on punctuation).
func refAppendProseTokens(dst []string, span string) (out []string) {
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

// proseSeeds are spans that reach every branch of prose's span splitting.
var proseSeeds = []string{
	"don't", "can't", "i'll", "they're", "i'm", "it's", "'s", "'ll", "'lls", "'ss", "n't", "xn't", "DON'T", "I'M", "WE'LL",
	"$100", "(hello)", "\"quoted\"", "[x]", "well,", "end.", "what?!", "a:", "it'", "'quoted'", "u.s.a.", "e.g.", "Mr.", "Mrs.",
	"Dr.", "mr.", ":)", ":-)", ":(", "xD", "o_O", "(:", "8-D", "^___^", "((a))", "\"$5\"", "(i'd)", "that's,", "'n't", "n'tn't",
	"&rsquo;", "don&rsquo;t", "a.b.c", "A.b.", "ab.", "Abc.", "Abcd.", ".", "..", "...", "'", "''", "\"", "$", "(", "$(", "(((x",
	"x)))", "x,,,,,,,,,,,,", "!!!!!!!!!!!!!!!!!!!!", "e-mail", "24/7", "#1", "@user", "http://a.b/c?d=e", "rock'n'roll",
	"it's'll", "x'm're", "don't's", "a're's", "Y'LL'S",
}

// TestProseSplitASCII compares the transcription with prose on the seeds.
func TestProseSplitASCII(t *testing.T) {
	for _, span := range proseSeeds {
		checkProseSplit(t, span)
	}
}

func checkProseSplit(t *testing.T, text string) {
	t.Helper()
	for span := range strings.FieldsSeq(text) {
		if !isASCII(span) || strings.Contains(span, "&rsquo;") {
			continue
		}
		got := proseSplitASCII(span, nil)
		want := refAppendProseTokens(nil, span)
		if !slices.Equal(got, want) {
			t.Fatalf("proseSplitASCII(%q) = %q, prose gives %q", span, got, want)
		}
	}
}

// FuzzProseSplitASCII holds proseSplitASCII to prose's own tokenizer on
// every ASCII span of arbitrary input, and words to the reference
// normaliser (prose on every span with punctuation) on the whole input.
// Run it for minutes after touching either:
//
//	go test -run '^$' -fuzz FuzzProseSplitASCII -fuzztime 5m ./intents/nlu/
func FuzzProseSplitASCII(f *testing.F) {
	for _, s := range proseSeeds {
		f.Add(s)
	}
	f.Add("I'd like my money back, where's my parcel?? (order #123) :) Mr. Smith's e-mail")
	f.Add("Don't won't can't SHAN'T ain't y'all 'tis")
	f.Add("Café crème \u2019quoted\u2019 \u201cdouble\u201d \xff bad")
	f.Fuzz(func(t *testing.T, text string) {
		checkProseSplit(t, text)
		if got, want := words(text, nil), refWords(text, nil); !slices.Equal(got, want) {
			t.Fatalf("words(%q) = %q, reference gives %q", text, got, want)
		}
	})
}
