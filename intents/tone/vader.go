package tone

import (
	_ "embed"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The VADER lexicon (Hutto & Gilbert, ICWSM 2014) is embedded byte for byte; its MIT licence
// notice is kept beside it in LICENSE-VADER.txt, as the licence requires.
//
//go:embed vader_lexicon.txt
var vaderLexiconFile string

// Constants of the reference implementation (vaderSentiment 3.3.2). They are empirical values
// from the paper; changing any of them breaks conformance with the published scores.
const (
	bIncr   = 0.293
	bDecr   = -0.293
	cIncr   = 0.733
	nScalar = -0.74
)

var negateWords = []string{
	"aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt",
	"ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't",
	"dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither",
	"don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't",
	"neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing", "nowhere",
	"oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
	"oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't",
	"without", "wont", "wouldnt", "won't", "wouldn't", "rarely", "seldom", "despite",
}

var boosterWords = map[string]float64{
	"absolutely": bIncr, "amazingly": bIncr, "awfully": bIncr,
	"completely": bIncr, "considerable": bIncr, "considerably": bIncr,
	"decidedly": bIncr, "deeply": bIncr, "effing": bIncr, "enormous": bIncr, "enormously": bIncr,
	"entirely": bIncr, "especially": bIncr, "exceptional": bIncr, "exceptionally": bIncr,
	"extreme": bIncr, "extremely": bIncr,
	"fabulously": bIncr, "flipping": bIncr, "flippin": bIncr, "frackin": bIncr, "fracking": bIncr,
	"fricking": bIncr, "frickin": bIncr, "frigging": bIncr, "friggin": bIncr, "fully": bIncr,
	"fuckin": bIncr, "fucking": bIncr, "fuggin": bIncr, "fugging": bIncr,
	"greatly": bIncr, "hella": bIncr, "highly": bIncr, "hugely": bIncr,
	"incredible": bIncr, "incredibly": bIncr, "intensely": bIncr,
	"major": bIncr, "majorly": bIncr, "more": bIncr, "most": bIncr, "particularly": bIncr,
	"purely": bIncr, "quite": bIncr, "really": bIncr, "remarkably": bIncr,
	"so": bIncr, "substantially": bIncr,
	"thoroughly": bIncr, "total": bIncr, "totally": bIncr, "tremendous": bIncr, "tremendously": bIncr,
	"uber": bIncr, "unbelievably": bIncr, "unusually": bIncr, "utter": bIncr, "utterly": bIncr,
	"very":   bIncr,
	"almost": bDecr, "barely": bDecr, "hardly": bDecr, "just enough": bDecr,
	"kind of": bDecr, "kinda": bDecr, "kindof": bDecr, "kind-of": bDecr,
	"less": bDecr, "little": bDecr, "marginal": bDecr, "marginally": bDecr,
	"occasional": bDecr, "occasionally": bDecr, "partly": bDecr,
	"scarce": bDecr, "scarcely": bDecr, "slight": bDecr, "slightly": bDecr, "somewhat": bDecr,
	"sort of": bDecr, "sorta": bDecr, "sortof": bDecr, "sort-of": bDecr,
}

// specialCases are the reference's idioms that contain lexicon words; the value replaces the
// valence of the word they end on.
var specialCases = map[string]float64{
	"the shit": 3, "the bomb": 3, "bad ass": 1.5, "badass": 1.5, "bus stop": 0.0,
	"yeah right": -2, "kiss of death": -1.5, "to die for": 3,
	"beating heart": 3.1, "broken heart": -2.9,
}

// vaderLexicon is the parsed lexicon plus the word-class flags the rules look up, so a token
// needs one lookup instead of four. The lookup is open-addressed on an FNV-1a hash computed
// while the token is lower-cased, since a string-keyed map lookup of every token was the
// largest part of VADER's time; the word itself is compared on a hash match, so the result is
// exactly the map's.
type vaderLexicon struct {
	slots []lexSlot
	shift uint
	ents  []lexWord
}

type lexSlot struct {
	hash uint64
	ent  int32 // index into ents plus one; 0 when empty
}

type lexWord struct {
	word string
	lexEntry
}

// FNV-1a parameters of the lexicon hash.
const (
	lexOffset = 14695981039346656037
	lexPrime  = 1099511628211
)

func lexHash(s string) uint64 {
	h := uint64(lexOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= lexPrime
	}
	return h
}

func (lx *vaderLexicon) buildTable(words map[string]lexEntry) {
	size, shift := 1, uint(64)
	for size < 2*len(words) {
		size <<= 1
		shift--
	}
	lx.slots, lx.shift = make([]lexSlot, size), shift
	lx.ents = make([]lexWord, 0, len(words))
	for w, e := range words {
		lx.ents = append(lx.ents, lexWord{w, e})
		h := lexHash(w)
		i := int((h * 0x9E3779B97F4A7C15) >> shift)
		for lx.slots[i].ent != 0 {
			i = (i + 1) & (size - 1)
		}
		lx.slots[i] = lexSlot{hash: h, ent: int32(len(lx.ents))}
	}
}

// lookupFold returns the lexicon word equal to the ASCII word raw once lower-cased, whose
// lower-cased form has lexHash h, so that a capitalised word in the lexicon needs no
// lower-cased copy.
func (lx *vaderLexicon) lookupFold(raw string, h uint64) (*lexWord, bool) {
	for i := int((h * 0x9E3779B97F4A7C15) >> lx.shift); ; i = (i + 1) & (len(lx.slots) - 1) {
		sl := &lx.slots[i]
		if sl.ent == 0 {
			return nil, false
		}
		if sl.hash != h {
			continue
		}
		e := &lx.ents[sl.ent-1]
		if len(e.word) != len(raw) {
			continue
		}
		same := true
		for k := 0; k < len(raw); k++ {
			c := raw[k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != e.word[k] {
				same = false
				break
			}
		}
		if same {
			return e, true
		}
	}
}

// asciiLower holds the lower-case letters, so a capital standing alone ("I", "A") is
// lower-cased without an allocation.
const asciiLower = "abcdefghijklmnopqrstuvwxyz"

// lookup returns the entry of the lower-cased word low, whose lexHash is h.
func (lx *vaderLexicon) lookup(low string, h uint64) lexEntry {
	for i := int((h * 0x9E3779B97F4A7C15) >> lx.shift); ; i = (i + 1) & (len(lx.slots) - 1) {
		sl := &lx.slots[i]
		if sl.ent == 0 {
			return lexEntry{}
		}
		if sl.hash == h {
			if e := &lx.ents[sl.ent-1]; e.word == low {
				return e.lexEntry
			}
		}
	}
}

// lexEntry describes one lower-cased word: its valence if it is in the lexicon, its booster
// scalar if it is a booster, whether it negates, and whether it starts a special case.
type lexEntry struct {
	valence   float64
	inLex     bool
	booster   float64
	isBooster bool
	negates   bool
	idiom     bool
}

func newVaderLexicon() *vaderLexicon {
	lx := &vaderLexicon{}
	words := make(map[string]lexEntry, 8000)
	for _, line := range strings.Split(strings.TrimRight(vaderLexiconFile, "\n"), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Split(strings.TrimSpace(line), "\t")
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		e := words[fields[0]]
		e.valence, e.inLex = v, true
		words[fields[0]] = e
	}
	for w, s := range boosterWords {
		e := words[w]
		e.booster, e.isBooster = s, true
		words[w] = e
	}
	for _, w := range negateWords {
		e := words[w]
		e.negates = true
		words[w] = e
	}
	for k := range specialCases {
		for _, w := range strings.Fields(k) {
			e := words[w]
			e.idiom = true
			words[w] = e
		}
	}
	lx.buildTable(words)
	return lx
}

// vtoken is one whitespace token after the reference's punctuation stripping.
type vtoken struct {
	raw   string
	low   string
	upper bool
	lexEntry
}

// Valence is VADER's output for one text: the compound score (rounded to 4 decimals, as the
// reference does) and the positive, negative and neutral proportions (rounded to 3).
type Valence struct {
	Compound float64 `json:"compound"`
	Pos      float64 `json:"pos"`
	Neg      float64 `json:"neg"`
	Neu      float64 `json:"neu"`
}

// isPySpace reports whether Python's str.split() would split on r; Go's unicode.IsSpace misses
// the four ASCII information separators.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// isASCIIPunct matches Python's string.punctuation.
func isASCIIPunct(c byte) bool {
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')
}

// pyIsUpper mirrors Python's str.isupper: at least one cased character and no lower- or
// title-case one.
func pyIsUpper(s string) bool {
	cased := false
	for _, r := range s {
		if r < utf8.RuneSelf {
			if r >= 'a' && r <= 'z' {
				return false
			}
			if r >= 'A' && r <= 'Z' {
				cased = true
			}
			continue
		}
		if unicode.IsLower(r) || unicode.IsTitle(r) {
			return false
		}
		if unicode.IsUpper(r) {
			cased = true
		}
	}
	return cased
}

// stripPunc mirrors SentiText._strip_punc_if_word: strip ASCII punctuation at both ends unless
// that leaves two characters or fewer (then the token was probably an emoticon).
func stripPunc(tok string) string {
	i, j := 0, len(tok)
	for i < j && isASCIIPunct(tok[i]) {
		i++
	}
	for j > i && isASCIIPunct(tok[j-1]) {
		j--
	}
	s := tok[i:j]
	// Only a string of at most 8 bytes can be two runes or fewer, so longer words skip the count.
	if len(s) <= 2 || (len(s) <= 2*utf8.UTFMax && utf8.RuneCountInString(s) <= 2) {
		return tok
	}
	return s
}

// tokenize splits text as SentiText does, appending to buf to avoid allocations.
func (lx *vaderLexicon) tokenize(text string, buf []vtoken) []vtoken {
	start := -1
	for i := 0; i < len(text); {
		var space bool
		size := 1
		if c := text[i]; c < utf8.RuneSelf {
			// ASCII fast path: Python splits on \t \n \v \f \r, the information separators
			// 0x1c-0x1f and the space.
			space = c == ' ' || ('\t' <= c && c <= '\r') || (0x1c <= c && c <= 0x1f)
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(text[i:])
			space = isPySpace(r)
		}
		if space {
			if start >= 0 {
				buf = lx.appendToken(buf, text[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		buf = lx.appendToken(buf, text[start:])
	}
	return buf
}

func (lx *vaderLexicon) appendToken(buf []vtoken, raw string) []vtoken {
	raw = stripPunc(raw)
	// One pass for plain ASCII tokens: is it lower case already, Python's isupper, and the
	// hash of its lower-cased form.
	h := uint64(lexOffset)
	hasUpper, hasLower := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= utf8.RuneSelf:
			low := strings.ToLower(raw)
			t := vtoken{raw: raw, low: low, upper: pyIsUpper(raw)}
			t.lexEntry = lx.lookup(low, lexHash(low))
			return append(buf, t)
		case 'A' <= c && c <= 'Z':
			hasUpper = true
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z':
			hasLower = true
		}
		h ^= uint64(c)
		h *= lexPrime
	}
	// Filled in place: copying a whole token into the slice costs a bulk write barrier.
	buf = append(buf, vtoken{})
	t := &buf[len(buf)-1]
	t.raw, t.low, t.upper = raw, raw, hasUpper && !hasLower
	switch {
	case !hasUpper:
		t.lexEntry = lx.lookup(raw, h)
	case len(raw) == 1:
		k := raw[0] - 'A'
		t.low = asciiLower[k : k+1]
		t.lexEntry = lx.lookup(t.low, h)
	default:
		if e, ok := lx.lookupFold(raw, h); ok {
			t.low, t.lexEntry = e.word, e.lexEntry
		} else {
			t.low = strings.ToLower(raw)
		}
	}
	return buf
}

// negatedWord mirrors negated([w]) of the reference for one lower-cased word.
func negatedWord(t *vtoken) bool {
	return t.negates || strings.Contains(t.low, "n't")
}

// polarity computes the reference's polarity_scores on text, using toks (already tokenised
// from text) and sentiments as scratch space. It returns the unrounded compound as well, which
// the tone layer uses as a feature.
func (lx *vaderLexicon) polarity(text string, toks []vtoken, sentiments []float64) (Valence, []float64) {
	capDiff := false
	if n := len(toks); n > 0 {
		caps := 0
		for i := range toks {
			if toks[i].upper {
				caps++
			}
		}
		d := n - caps
		capDiff = d > 0 && d < n
	}
	sentiments = sentiments[:0]
	for i := range toks {
		t := &toks[i]
		if t.isBooster {
			sentiments = append(sentiments, 0)
			continue
		}
		if i < len(toks)-1 && t.low == "kind" && toks[i+1].low == "of" {
			sentiments = append(sentiments, 0)
			continue
		}
		sentiments = append(sentiments, lx.sentimentValence(toks, i, capDiff))
	}
	butCheck(toks, sentiments)
	return scoreValence(sentiments, text), sentiments
}

func (lx *vaderLexicon) sentimentValence(toks []vtoken, i int, capDiff bool) float64 {
	t := &toks[i]
	if !t.inLex {
		return 0
	}
	valence := t.valence
	if t.low == "no" && i != len(toks)-1 && toks[i+1].inLex {
		valence = 0
	}
	if (i > 0 && toks[i-1].low == "no") ||
		(i > 1 && toks[i-2].low == "no") ||
		(i > 2 && toks[i-3].low == "no" && (toks[i-1].low == "or" || toks[i-1].low == "nor")) {
		valence = t.valence * nScalar
	}
	if t.upper && capDiff {
		if valence > 0 {
			valence += cIncr
		} else {
			valence -= cIncr
		}
	}
	for startI := 0; startI < 3; startI++ {
		if i > startI && !toks[i-(startI+1)].inLex {
			s := scalarIncDec(&toks[i-(startI+1)], valence, capDiff)
			if startI == 1 && s != 0 {
				s *= 0.95
			}
			if startI == 2 && s != 0 {
				s *= 0.9
			}
			valence += s
			valence = negationCheck(valence, toks, startI, i)
			if startI == 2 {
				valence = specialIdiomsCheck(valence, toks, i)
			}
		}
	}
	return leastCheck(valence, toks, i)
}

func scalarIncDec(t *vtoken, valence float64, capDiff bool) float64 {
	if !t.isBooster {
		return 0
	}
	scalar := t.booster
	if valence < 0 {
		scalar *= -1
	}
	if t.upper && capDiff {
		if valence > 0 {
			scalar += cIncr
		} else {
			scalar -= cIncr
		}
	}
	return scalar
}

func negationCheck(valence float64, toks []vtoken, startI, i int) float64 {
	switch startI {
	case 0:
		if negatedWord(&toks[i-1]) {
			valence *= nScalar
		}
	case 1:
		w2, w1 := toks[i-2].low, toks[i-1].low
		switch {
		case w2 == "never" && (w1 == "so" || w1 == "this"):
			valence *= 1.25
		case w2 == "without" && w1 == "doubt":
		case negatedWord(&toks[i-2]):
			valence *= nScalar
		}
	case 2:
		w3, w2, w1 := toks[i-3].low, toks[i-2].low, toks[i-1].low
		// The reference's condition reads `A and B or C`, so "so"/"this" right before the word
		// boosts whether or not "never" precedes it; kept for conformance.
		switch {
		case (w3 == "never" && (w2 == "so" || w2 == "this")) || (w1 == "so" || w1 == "this"):
			valence *= 1.25
		case w3 == "without" && (w2 == "doubt" || w1 == "doubt"):
		case negatedWord(&toks[i-3]):
			valence *= nScalar
		}
	}
	return valence
}

func seqIs(toks []vtoken, idx ...int) (string, bool) {
	for _, k := range idx {
		if k < 0 || k >= len(toks) || !toks[k].idiom {
			return "", false
		}
	}
	var b strings.Builder
	for n, k := range idx {
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(toks[k].low)
	}
	return b.String(), true
}

func specialIdiomsCheck(valence float64, toks []vtoken, i int) float64 {
	for _, seq := range [][]int{{i - 1, i}, {i - 2, i - 1, i}, {i - 2, i - 1}, {i - 3, i - 2, i - 1}, {i - 3, i - 2}} {
		if s, ok := seqIs(toks, seq...); ok {
			if v, ok := specialCases[s]; ok {
				valence = v
				break
			}
		}
	}
	if len(toks)-1 > i {
		if s, ok := seqIs(toks, i, i+1); ok {
			if v, ok := specialCases[s]; ok {
				valence = v
			}
		}
	}
	if len(toks)-1 > i+1 {
		if s, ok := seqIs(toks, i, i+1, i+2); ok {
			if v, ok := specialCases[s]; ok {
				valence = v
			}
		}
	}
	// Booster bigrams such as "kind of" before the word: the reference adds their raw scalar,
	// without the sign flip single boosters get.
	for _, pair := range [][2]int{{i - 3, i - 2}, {i - 2, i - 1}} {
		a, b := toks[pair[0]].low, toks[pair[1]].low
		switch {
		case a == "just" && b == "enough", a == "kind" && b == "of", a == "sort" && b == "of":
			valence += bDecr
		}
	}
	return valence
}

func leastCheck(valence float64, toks []vtoken, i int) float64 {
	if i > 1 && !toks[i-1].inLex && toks[i-1].low == "least" {
		if toks[i-2].low != "at" && toks[i-2].low != "very" {
			valence *= nScalar
		}
	} else if i > 0 && !toks[i-1].inLex && toks[i-1].low == "least" {
		valence *= nScalar
	}
	return valence
}

// butCheck mirrors _but_check, including its quirk: each value is located with list.index, so
// when two sentiments are equal the first occurrence is the one rescaled.
func butCheck(toks []vtoken, sentiments []float64) {
	bi := -1
	for i := range toks {
		if toks[i].low == "but" {
			bi = i
			break
		}
	}
	if bi < 0 {
		return
	}
	for k := range sentiments {
		v := sentiments[k]
		si := k
		for j := 0; j < k; j++ {
			if sentiments[j] == v {
				si = j
				break
			}
		}
		if si < bi {
			sentiments[si] = v * 0.5
		} else if si > bi {
			sentiments[si] = v * 1.5
		}
	}
}

func punctuationEmphasis(text string) float64 {
	ep := strings.Count(text, "!")
	if ep > 4 {
		ep = 4
	}
	amp := float64(ep) * 0.292
	qm := strings.Count(text, "?")
	if qm > 1 {
		if qm <= 3 {
			amp += float64(qm) * 0.18
		} else {
			amp += 0.96
		}
	}
	return amp
}

func normalize(score float64) float64 {
	n := score / math.Sqrt(score*score+15)
	return math.Max(-1, math.Min(1, n))
}

func scoreValence(sentiments []float64, text string) Valence {
	if len(sentiments) == 0 {
		return Valence{}
	}
	sum := 0.0
	for _, s := range sentiments {
		sum += s
	}
	amp := punctuationEmphasis(text)
	if sum > 0 {
		sum += amp
	} else if sum < 0 {
		sum -= amp
	}
	compound := normalize(sum)
	posSum, negSum, neu := 0.0, 0.0, 0
	for _, s := range sentiments {
		if s > 0 {
			posSum += s + 1
		}
		if s < 0 {
			negSum += s - 1
		}
		if s == 0 {
			neu++
		}
	}
	if posSum > math.Abs(negSum) {
		posSum += amp
	} else if posSum < math.Abs(negSum) {
		negSum -= amp
	}
	total := posSum + math.Abs(negSum) + float64(neu)
	return Valence{
		Compound: pyRound(compound, 4),
		Pos:      pyRound(math.Abs(posSum/total), 3),
		Neg:      pyRound(math.Abs(negSum/total), 3),
		Neu:      pyRound(math.Abs(float64(neu)/total), 3),
	}
}

var pow10 = [...]float64{1, 10, 100, 1000, 10000}

// pyRound rounds like Python's round(x, n) in all but exact binary ties, which the 5e-4
// conformance tolerance absorbs.
func pyRound(x float64, n int) float64 {
	p := pow10[n]
	r := math.RoundToEven(x*p) / p
	if r == 0 {
		return 0
	}
	return r
}

// stripPyWhitespace mirrors Python's str.strip() without arguments.
func stripPyWhitespace(s string) string {
	return strings.TrimFunc(s, isPySpace)
}
