// Package tone tells how a visitor feels: VADER valence (a conformant port of vaderSentiment
// 3.3.2), scores for the support tones frustration, confusion, anxiety, urgency and delight,
// the cues that produced each score, and the running tone of a conversation.
//
// Word weights were learned from the GoEmotions train split (Demszky et al., ACL 2020,
// Apache-2.0) by internal/trainmodel: one L2 logistic regression per tone over unigrams and
// 5-letter stems (both marked inside a negation scope), bigrams, letter 4-grams inside words
// (outside a negation scope), question frames ("why ... ?") and VADER/punctuation features, each word
// feature scaled by its naive-Bayes log-count ratio while learning (NBSVM; folded into the
// stored weight), the average of four seeded runs. Each tone's threshold is tuned on dev with
// the support cues combined as at inference (cues.Combine: a cue arguing for a tone counts from
// at most 3 logits below the decision point, so a confident "calm" reading of Reddit-like text
// cannot cancel "still waiting"); frustration and anxiety share a budget of 9 % of gold-neutral dev
// texts, spent on frustration's F1 while anxiety keeps a dev F1 of at least 0.55. The support
// cues in internal/cues are Attune's own. The VADER lexicon is MIT-licensed, see
// LICENSE-VADER.txt and NOTICE.md.
//
// GoEmotions test (`attune eval tone --goemotions`): F1 frustration 0.557, confusion 0.413,
// anxiety 0.570, delight 0.781, neutral 0.607 (macro 0.585), apology false positives on neutral
// 8.3 %; VADER conformance 100 % of 23,703 reference texts.
package tone

import (
	"bufio"
	"cmp"
	_ "embed"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/attune-chat/attune/intents/tone/internal/cues"
	"github.com/attune-chat/attune/intents/tone/internal/feat"
)

//go:generate go run ./internal/trainmodel -goemotions ../../../shared/datasets/goemotions -out tone_weights.tsv

//go:embed tone_weights.tsv
var weightsFile string

// Tones lists the support tones in score order; "neutral" is scored as well but is not a tone
// the bot reacts to.
var Tones = []string{"frustration", "confusion", "anxiety", "urgency", "delight"}

// Neutral is the Dominant value when no tone reaches its decision point.
const Neutral = "neutral"

// DecisionPoint is the score at which a tone counts as present. The learned weights are shifted
// so that this point is each tone's threshold tuned on GoEmotions dev.
const DecisionPoint = 0.5

// MaxAnalyzedBytes bounds the text the tone layer reads; a chat message longer than this is
// analysed on its first MaxAnalyzedBytes bytes so one paste cannot cost milliseconds.
const MaxAnalyzedBytes = 8 << 10

// urgencyBias is urgency's logit with no cue: GoEmotions has no urgency label, so urgency is
// cue-only and must start clearly below the decision point.
const urgencyBias = -3.0

// Cue is one piece of evidence: a phrase of the message and its contribution to a tone's
// log-odds (+2.2 multiplies the odds by about 9; negative when it argued against the tone).
// Log-odds are used rather than score differences because they stay readable when a score
// saturates near 1.
type Cue struct {
	Tone   string  `json:"tone"`
	Phrase string  `json:"phrase"`
	Weight float64 `json:"weight"`
}

// Result is the analysis of one message.
type Result struct {
	// Compound is VADER's compound valence in [-1,1], identical to vaderSentiment 3.3.2.
	Compound float64 `json:"compound"`
	Pos      float64 `json:"pos"`
	Neg      float64 `json:"neg"`
	Neu      float64 `json:"neu"`
	// Scores holds every tone of Tones plus "neutral", each in [0,1].
	Scores map[string]float64 `json:"scores"`
	// Dominant is the strongest tone at or above DecisionPoint, or "neutral".
	Dominant string `json:"dominant"`
	// Intensity says how far past the decision point the dominant tone is: 0 at the point or
	// for a neutral message, 1 for a certain one.
	Intensity float64 `json:"intensity"`
	// Evidence lists the cues behind each tone at or above 0.3 (and negated cues), strongest
	// first per tone.
	Evidence []Cue `json:"evidence"`
}

// Score returns the score of one tone, 0 for an unknown name.
func (r Result) Score(tone string) float64 { return r.Scores[tone] }

// Has reports whether tone reaches threshold (DecisionPoint when threshold is 0).
func (r Result) Has(tone string, threshold float64) bool {
	if threshold <= 0 {
		threshold = DecisionPoint
	}
	return r.Scores[tone] >= threshold
}

// Analyzer scores messages. It is immutable after New and safe for concurrent use.
type Analyzer struct {
	lex   *vaderLexicon
	feats featTable
	dense [feat.NumDense][4]float64
	bias  [4]float64
	cues  *cues.Set
	pool  sync.Pool
}

// scratch holds the per-call buffers, pooled so Analyze allocates little.
type scratch struct {
	vt   []vtoken
	sent []float64
	ft   []feat.Token
	fh   []feat.Hashed
	hits []hit
	cues []cues.Hit
	ev   []Cue
	// seen has bit j set while table slot j is counted in this call (a feature counts once
	// per message, as in training); the bits of s.hits are cleared when the call ends, so a
	// call touches only its own few words of this bitmap.
	seen []uint64
}

// hit is one weighted feature of the message (its featTable slot) and the words [from, to]
// it covers.
type hit struct {
	feat     int32
	from, to int32
}

// New builds the analyzer from the embedded lexicon and weights. It panics only if the
// embedded weight file is corrupt, which the package tests rule out.
func New() *Analyzer {
	a := &Analyzer{lex: newVaderLexicon(), cues: cues.New()}
	if err := a.loadWeights(weightsFile); err != nil {
		panic(fmt.Sprintf("tone: embedded weights: %v", err))
	}
	a.pool.New = func() any { return &scratch{} }
	return a
}

func (a *Analyzer) loadWeights(file string) error {
	sc := bufio.NewScanner(strings.NewReader(file))
	line := 0
	seenBias := false
	var hashes []uint64
	var rows [][4]float32
	for sc.Scan() {
		line++
		s := sc.Text()
		// Comments and the column header start with '#' and, but for the header, have no
		// tab; a feature's name may start with '#' too, since digits are folded to it
		// ("# hours", "#k upvotes"), and its line always has tabs.
		if s == "" || strings.HasPrefix(s, "#feature\t") || (s[0] == '#' && !strings.Contains(s, "\t")) {
			continue
		}
		f := strings.Split(s, "\t")
		if len(f) != 5 {
			return fmt.Errorf("line %d: %d fields, want 5", line, len(f))
		}
		var v [4]float64
		for i := range v {
			x, err := strconv.ParseFloat(f[i+1], 64)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			v[i] = x
		}
		switch name := f[0]; {
		case name == "_bias":
			a.bias, seenBias = v, true
		case strings.HasPrefix(name, "_"):
			found := false
			for d, dn := range feat.DenseNames {
				if dn == name {
					a.dense[d], found = v, true
				}
			}
			if !found {
				return fmt.Errorf("line %d: unknown dense feature %q", line, name)
			}
		default:
			hashes = append(hashes, feat.Hash(name))
			rows = append(rows, [4]float32{float32(v[0]), float32(v[1]), float32(v[2]), float32(v[3])})
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !seenBias {
		return fmt.Errorf("no _bias row")
	}
	a.feats = newFeatTable(hashes, rows)
	return nil
}

// featTable maps feature hashes to weight rows with open addressing: a lookup per word
// feature is the analyzer's hottest path, and this is several times cheaper than a Go map.
// Each slot keeps its hash and weights side by side in 32 bytes, so a probe and the weights of
// a hit touch one cache line: with letter-group features a message makes about a hundred
// lookups into a table of 2 MB, and most of them miss the cache.
type featTable struct {
	slots []featSlot
	shift uint
	// rows is how many weight rows were loaded, repeated names included.
	rows int
}

type featSlot struct {
	key  uint64
	w    [4]float32
	used bool
}

func newFeatTable(hashes []uint64, rows [][4]float32) featTable {
	// A load factor of at most 2/3: linear probing stays short and the table half the size
	// of one at 1/2, which matters more here than a probe or two in the same cache line.
	size, shift := 1, uint(64)
	for size < len(hashes)+len(hashes)/2+1 {
		size <<= 1
		shift--
	}
	t := featTable{slots: make([]featSlot, size), shift: shift, rows: len(rows)}
	for row, h := range hashes {
		slot := t.slot(h)
		for t.slots[slot].used && t.slots[slot].key != h {
			slot = (slot + 1) & (len(t.slots) - 1)
		}
		// A repeated name keeps its last row, as the map it replaces did.
		t.slots[slot] = featSlot{key: h, w: rows[row], used: true}
	}
	return t
}

func (t *featTable) slot(h uint64) int { return int((h * 0x9E3779B97F4A7C15) >> t.shift) }

// get returns the slot of hash h, or -1.
func (t *featTable) get(h uint64) int32 {
	for slot := t.slot(h); ; slot = (slot + 1) & (len(t.slots) - 1) {
		e := &t.slots[slot]
		if !e.used {
			return -1
		}
		if e.key == h {
			return int32(slot)
		}
	}
}

// learned maps the four learned outputs onto Tones indexes (urgency has no label).
var learned = [4]int{tFrus, tConf, tAnx, tDel}

// Valence returns the VADER scores of text exactly as vaderSentiment 3.3.2 computes them
// (emoji are not translated: the reference's emoji table is not embedded).
func (a *Analyzer) Valence(text string) Valence {
	s := a.pool.Get().(*scratch)
	defer a.pool.Put(s)
	text = stripPyWhitespace(text)
	s.vt = a.lex.tokenize(text, s.vt[:0])
	var v Valence
	v, s.sent = a.lex.polarity(text, s.vt, s.sent)
	return v
}

// Analyze scores one message. Unknown words are neutral; any input, including invalid UTF-8,
// is accepted.
func (a *Analyzer) Analyze(text string) Result {
	if len(text) > MaxAnalyzedBytes {
		cut := MaxAnalyzedBytes
		for cut > 0 && !isRuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	s := a.pool.Get().(*scratch)
	defer a.pool.Put(s)

	vtext := stripPyWhitespace(text)
	s.vt = a.lex.tokenize(vtext, s.vt[:0])
	var v Valence
	v, s.sent = a.lex.polarity(vtext, s.vt, s.sent)

	s.ft = feat.Tokenize(text, s.ft[:0])
	toks := s.ft
	var z [numTones]float64
	for k, t := range learned {
		z[t] = a.bias[k]
	}
	z[tUrg] = urgencyBias
	dense := feat.Dense(v.Compound, v.Pos, v.Neg, text, toks)
	for d, x := range dense {
		if x != 0 {
			for k, t := range learned {
				z[t] += a.dense[d][k] * x
			}
		}
	}
	s.hits = s.hits[:0]
	if n := (len(a.feats.slots) + 63) / 64; len(s.seen) != n {
		s.seen = make([]uint64, n)
	}
	s.fh = feat.Hashes(toks, s.fh[:0])
	// The four learned logits are summed in registers, each in feature order as before, so
	// the sums are bit for bit those of adding into z directly.
	z0, z1, z2, z3 := z[learned[0]], z[learned[1]], z[learned[2]], z[learned[3]]
	for _, f := range s.fh {
		j := a.feats.get(f.H)
		if j < 0 {
			continue
		}
		bit := &s.seen[j>>6]
		if *bit&(1<<(j&63)) != 0 {
			continue
		}
		*bit |= 1 << (j & 63)
		w := &a.feats.slots[j].w
		z0 += float64(w[0])
		z1 += float64(w[1])
		z2 += float64(w[2])
		z3 += float64(w[3])
		s.hits = append(s.hits, hit{feat: j, from: f.From, to: f.To})
	}
	z[learned[0]], z[learned[1]], z[learned[2]], z[learned[3]] = z0, z1, z2, z3
	for _, h := range s.hits {
		s.seen[h.feat>>6] &^= 1 << (h.feat & 63)
	}

	// Support cues, combined with the learned logits as the thresholds were tuned.
	s.cues = a.cues.Match(toks, s.cues[:0])
	cueHits := s.cues
	var cz [numTones]float64
	for _, h := range cueHits {
		for t := 0; t < numTones; t++ {
			cz[t] += a.cues.Weight(h, t)
		}
	}
	for t := range z {
		z[t] = cues.Combine(z[t], cz[t])
	}

	r := Result{Compound: v.Compound, Pos: v.Pos, Neg: v.Neg, Neu: v.Neu, Scores: make(map[string]float64, numTones+1)}
	// Evidence is gathered in scratch and copied out at its exact size: one small allocation,
	// and less garbage than room for the usual eight.
	evid := s.ev[:0]
	var score [numTones]float64
	best, bestTone := 0.0, -1
	for t := 0; t < numTones; t++ {
		score[t] = sigmoid(z[t])
		r.Scores[Tones[t]] = round3(score[t])
		if score[t] > best {
			best = score[t]
			bestTone = t
		}
	}
	r.Scores[Neutral] = round3(1 - best)
	r.Dominant = Neutral
	if bestTone >= 0 && best >= DecisionPoint {
		r.Dominant = Tones[bestTone]
		r.Intensity = round3(math.Min(1, (best-DecisionPoint)/(1-DecisionPoint)))
	}

	// Evidence for every tone that is at least plausible.
	for t := 0; t < numTones; t++ {
		if score[t] < 0.3 && !anyCue(a, cueHits, t) {
			continue
		}
		start := len(evid)
		for _, h := range cueHits {
			w := a.cues.Weight(h, t)
			if w == 0 {
				continue
			}
			evid = addEvidence(evid, start, Cue{Tone: Tones[t], Phrase: span(text, toks, int(h.From), int(h.To)-1), Weight: w})
		}
		if k := learnedIndex(t); k >= 0 && score[t] >= 0.3 {
			// The two phrases whose features pushed hardest, so owners see what the model
			// learned. A word's features (the word, its stem, its letter groups) arrive in a
			// run and are summed, so the evidence names the word, not a fragment of it.
			var top [2]hit
			var topW [2]float64
			consider := func(h hit, w float64) {
				switch {
				case w > topW[0]:
					top[1], topW[1] = top[0], topW[0]
					top[0], topW[0] = h, w
				case w > topW[1]:
					top[1], topW[1] = h, w
				}
			}
			var run hit
			runW := 0.0
			for i, h := range s.hits {
				if i > 0 && (h.from != run.from || h.to != run.to) {
					consider(run, runW)
					runW = 0
				}
				run = h
				runW += float64(a.feats.slots[h.feat].w[k])
			}
			if len(s.hits) > 0 {
				consider(run, runW)
			}
			for n := 0; n < 2; n++ {
				if topW[n] < 0.3 {
					continue
				}
				evid = addEvidence(evid, start, Cue{Tone: Tones[t], Phrase: span(text, toks, int(top[n].from), int(top[n].to)), Weight: topW[n]})
			}
		}
		ev := evid[start:]
		for i := range ev {
			ev[i].Weight = round3(ev[i].Weight)
		}
		slices.SortStableFunc(ev, func(x, y Cue) int { return cmp.Compare(math.Abs(y.Weight), math.Abs(x.Weight)) })
	}
	s.ev = evid
	if len(cueHits) > 0 || len(s.hits) > 0 {
		// Non-nil even when empty, as callers have always seen it.
		r.Evidence = make([]Cue, len(evid))
		copy(r.Evidence, evid)
	}
	// The pooled scratch must not keep phrases of this message alive.
	clear(evid)
	return r
}

// anyCue reports whether a cue mainly about tone t fired, so its evidence is worth showing
// even when the tone ended up low.
func anyCue(a *Analyzer, hits []cues.Hit, t int) bool {
	for _, h := range hits {
		if a.cues.List[h.Cue].Primary == t {
			return true
		}
	}
	return false
}

// addEvidence merges a cue into the evidence of the current tone (entries from start on):
// the same phrase seen as a word, its stem and a support cue is one piece of evidence.
func addEvidence(ev []Cue, start int, c Cue) []Cue {
	for i := start; i < len(ev); i++ {
		if ev[i].Phrase == c.Phrase {
			ev[i].Weight += c.Weight
			return ev
		}
	}
	return append(ev, c)
}

func learnedIndex(t int) int {
	for k, lt := range learned {
		if lt == t {
			return k
		}
	}
	return -1
}

func span(text string, toks []feat.Token, from, to int) string {
	if from < 0 {
		from = 0
	}
	if from > to || to >= len(toks) {
		return ""
	}
	return strings.ToLower(text[toks[from].Start:toks[to].End])
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
