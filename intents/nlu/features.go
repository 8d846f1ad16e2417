package nlu

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/attune-chat/attune/intents/nlu/internal/wordvec"
)

// Feature namespaces keep a word, a word pair and a character n-gram with
// the same bytes from sharing a hash.
const (
	nsWord     = 1
	nsBigram   = 2
	nsChar     = 3
	nsTrigram  = 4
	nsBoundary = 6
)

// maxCharWordRunes skips character n-grams for very long "words" (URLs,
// order numbers, a key held down): they add hundreds of features that carry
// no intent and would dominate the vector.
const maxCharWordRunes = 30

// fnv-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = hashByte(h, s[i])
	}
	return h
}

func hashRune(h uint64, r rune) uint64 {
	if r < utf8.RuneSelf {
		return hashByte(h, byte(r))
	}
	var buf [4]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, b := range buf[:n] {
		h = hashByte(h, b)
	}
	return h
}

// featureConfig is the part of Options that decides which features a text
// produces; training and classification must use the same one.
type featureConfig struct {
	wordN      int // word n-grams 1..wordN (1 to 3)
	charMin    int // character n-grams inside words, charMin..charMax runes,
	charMax    int // the word padded with a space on each side (0 disables)
	hashBits   uint
	sublinear  bool
	wordWeight float32
	// unknownInNorm counts features unseen in training in the l2 norm.
	unknownInNorm bool
	// wv holds the word vectors of the dense block (nil: no dense block),
	// wvWeight its l2 norm.
	wv       *wordvec.Table
	wvWeight float32
}

// denseCols is the number of columns of the dense block.
func (c *featureConfig) denseCols() int {
	if c.wv == nil {
		return 0
	}
	return c.wv.Dim()
}

// denseWord is one word's share of the dense block: its row in the word
// vector table, its weight (the idf of the word as a unigram) and, for a
// word seen in training, its row of Model.proj (-1 otherwise).
type denseWord struct {
	row, proj int32
	idf       float32
}

// wordIDF returns the idf of a word whose unigram has column col (-1: a
// word unseen in training, which gets the rarest idf).
func (v *vocab) wordIDF(col int32) float32 {
	if col >= 0 {
		return v.idf[col]
	}
	return v.maxIDF
}

// appendDense appends the dense block to dst: the idf-weighted sum of the
// pretrained vectors of the text's words (those the table has),
// l2-normalised and scaled by c.wvWeight, in columns v.dense onwards. It
// appends nothing when no word has a vector. Words are weighted by idf so
// that "what", "is" and "my", which every intent uses, do not outweigh the
// words that tell intents apart.
func (v *vocab) appendDense(c *featureConfig, ws []denseWord, dst *sparse) {
	dst.denseAt = -1
	if c.wv == nil || len(ws) == 0 {
		return
	}
	d := c.wv.Dim()
	if cap(dst.dense) < d {
		dst.dense = make([]float32, d)
	}
	acc := dst.dense[:d]
	clear(acc)
	for _, w := range ws {
		q, scale := c.wv.Vector(w.row)
		f := w.idf * scale
		q = q[:len(acc)]
		for j := range acc {
			acc[j] += f * float32(int8(q[j]))
		}
	}
	var norm float64
	for _, x := range acc {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		return
	}
	inv := c.wvWeight / float32(math.Sqrt(norm))
	dst.denseAt, dst.denseInv = len(dst.cols), inv
	for j, x := range acc {
		dst.cols = append(dst.cols, v.dense+int32(j))
		dst.vals = append(dst.vals, x*inv)
	}
}

// rawFeatures holds the hashed buckets of one text, split into the word block
// and the character block because each block is l2-normalised on its own.
type rawFeatures struct {
	words []string
	runes []rune
	word  []uint32
	char  []uint32
}

// extract fills f with the hashed buckets of text.
func (c *featureConfig) extract(text string, f *rawFeatures) {
	f.words = words(text, f.words[:0])
	f.word = f.word[:0]
	f.char = f.char[:0]
	mask := uint64(1)<<c.hashBits - 1
	for i, w := range f.words {
		f.word = append(f.word, uint32(mix(hashString(fnvOffset^nsWord, w))&mask))
		if c.wordN >= 2 && i > 0 {
			h := hashString(fnvOffset^nsBigram, f.words[i-1])
			h = hashByte(h, ' ')
			h = hashString(h, w)
			f.word = append(f.word, uint32(mix(h)&mask))
		}
		// The first and last words marked as such: how a request starts
		// ("how do", "can i") and ends carries its intent.
		if c.wordN >= 2 && (i == 0 || i == len(f.words)-1) {
			h := hashString(fnvOffset^nsBoundary, w)
			if i == 0 {
				h = hashByte(h, '^')
			}
			if i == len(f.words)-1 {
				h = hashByte(h, '$')
			}
			f.word = append(f.word, uint32(mix(h)&mask))
		}
		if c.wordN >= 3 && i > 1 {
			h := hashString(fnvOffset^nsTrigram, f.words[i-2])
			h = hashByte(h, ' ')
			h = hashString(h, f.words[i-1])
			h = hashByte(h, ' ')
			h = hashString(h, w)
			f.word = append(f.word, uint32(mix(h)&mask))
		}
		if c.charMax != 0 {
			f.runes, f.char = c.wordCharGrams(w, f.runes, f.char, mask)
		}
	}
}

// appendCharGrams appends the buckets of the charMin..charMax-rune n-grams
// of rs. The hash of each n-gram extends that of its prefix, so a start
// position costs charMax rune hashes rather than the sum of the lengths.
func (c *featureConfig) appendCharGrams(dst []uint32, rs []rune, mask uint64) []uint32 {
	for s := range rs {
		h := uint64(fnvOffset ^ nsChar)
		for n, r := range rs[s:min(len(rs), s+c.charMax)] {
			h = hashRune(h, r)
			if n+1 >= c.charMin {
				dst = append(dst, uint32(mix(h)&mask))
			}
		}
	}
	return dst
}

// mix spreads fnv's weak low bits before masking.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// vocab maps hash buckets seen in training to dense columns of the weight
// matrix, with their inverse document frequency. The map is an open-addressing
// table sized to the vocabulary (a CLINC150 model has about 24,500 columns),
// so a small configuration does not pay for the whole hash space. A slot packs
// the bucket and its column into one word, so that a lookup, which usually
// misses the cache, touches one cache line rather than two.
type vocab struct {
	slots []uint64  // (bucket+1)<<32 | column per slot, 0 when empty
	mask  uint32    // len(slots)-1
	idf   []float32 // column -> idf
	// maxIDF is the idf of a feature never seen in training.
	maxIDF float32
	// dense is the first column of the dense block, after the hashed
	// features' columns.
	dense int32
}

func newVocab(buckets []uint32, idf []float32) *vocab {
	size := 16
	for size < 2*len(buckets) {
		size *= 2
	}
	v := &vocab{slots: make([]uint64, size), mask: uint32(size - 1), idf: idf}
	for col, b := range buckets {
		// Buckets are already mixed hashes: their low bits index the table.
		i := b & v.mask
		for v.slots[i] != 0 {
			i = (i + 1) & v.mask
		}
		v.slots[i] = uint64(b+1)<<32 | uint64(uint32(col))
	}
	return v
}

// column returns the column of bucket b, or -1 if training never saw it.
func (v *vocab) column(b uint32) int32 {
	i := b & v.mask
	for {
		s := v.slots[i]
		switch uint32(s >> 32) {
		case b + 1:
			return int32(uint32(s))
		case 0:
			return -1
		}
		i = (i + 1) & v.mask
	}
}

// sparse is a sparse vector with distinct columns.
type sparse struct {
	cols []int32
	vals []float32
	// split is where the word block ends and the character block starts;
	// each block's columns are distinct, in order of first occurrence.
	split int
	// Scratch of appendBlock's duplicate counting.
	stamp []uint32
	slot  []int32
	gen   uint32
	// featBuf holds appendBlock's features before counting; idf the idf
	// of each distinct column of the block being appended.
	featBuf []feature
	idf     []float32
	// words and dense are appendDense's input and accumulator; denseAt is
	// where the dense block starts in cols (-1: no block), denseInv the
	// factor that normalised it.
	words    []denseWord
	dense    []float32
	denseAt  int
	denseInv float32
	// pcols and pvals are Model.scoreDense's scratch.
	pcols []int32
	pvals []float32
}

// vectorize turns bucket lists into one TF-IDF vector: each block is mapped
// to columns (unknown buckets dropped), counted, weighted and l2-normalised,
// and the two blocks are concatenated (so the whole vector has norm sqrt 2
// when both blocks are present, as scikit-learn's FeatureUnion does). The
// dense block of word vectors follows them.
func (v *vocab) vectorize(c *featureConfig, f *rawFeatures, dst *sparse) {
	dst.cols = dst.cols[:0]
	dst.vals = dst.vals[:0]
	v.appendBlock(c, f.word, dst, c.wordWeight)
	dst.split = len(dst.cols)
	v.appendBlock(c, f.char, dst, 1)
	mask := uint64(1)<<c.hashBits - 1
	ws := dst.words[:0]
	if c.wv != nil {
		for _, w := range f.words {
			if row := c.wv.Row(w); row >= 0 {
				col := v.column(uint32(mix(hashString(fnvOffset^nsWord, w)) & mask))
				ws = append(ws, denseWord{row, -1, v.wordIDF(col)})
			}
		}
	}
	dst.words = ws
	v.appendDense(c, ws, dst)
}

func (v *vocab) appendBlock(c *featureConfig, buckets []uint32, dst *sparse, weight float32) {
	fs := dst.featBuf[:0]
	unknown := 0
	for _, b := range buckets {
		if col := v.column(b); col >= 0 {
			fs = append(fs, feature{col, v.idf[col]})
		} else {
			unknown++
		}
	}
	dst.featBuf = fs
	v.appendFeatures(c, fs, unknown, dst, weight)
}

// feature is a vocabulary column with its idf, carried along so that the
// TF-IDF weighting reads it where it was found (for a word in the lexicon,
// next to the word's other columns) rather than from the idf array.
type feature struct {
	col int32
	idf float32
}

// appendFeatures appends one block to dst from its features in order
// (repeats included) and the number of its features unseen in training:
// the distinct columns in order of first occurrence, each valued its
// TF-IDF, l2-normalised and scaled by weight.
func (v *vocab) appendFeatures(c *featureConfig, fs []feature, unknown int, dst *sparse, weight float32) {
	start := len(dst.cols)
	dst.vals = dst.vals[:start]
	dst.idf = dst.idf[:0]
	// Count repeated columns with a small open-addressing table whose
	// slots are invalidated by bumping a generation stamp, not by clearing:
	// cheaper than sorting the block, and allocation-free once warm.
	size := 64
	for size < 2*len(fs) {
		size *= 2
	}
	if len(dst.stamp) < size {
		dst.stamp = make([]uint32, size)
		dst.slot = make([]int32, size)
		dst.gen = 0
	}
	mask := uint32(len(dst.stamp) - 1)
	dst.gen++
	if dst.gen == 0 {
		clear(dst.stamp)
		dst.gen = 1
	}
	// At most len(fs) distinct columns: room for all of them up front, so
	// that the loop stores by index rather than appending.
	cols := slices.Grow(dst.cols, len(fs))[:start+len(fs)]
	vals := slices.Grow(dst.vals, len(fs))[:start+len(fs)]
	idf := slices.Grow(dst.idf, len(fs))[:len(fs)]
	stamp, slot, gen := dst.stamp, dst.slot, dst.gen
	n := start
	for _, f := range fs {
		for h := (uint32(f.col) * 0x9e3779b1) & mask; ; h = (h + 1) & mask {
			if stamp[h] != gen {
				stamp[h] = gen
				slot[h] = int32(n)
				cols[n], vals[n], idf[n-start] = f.col, 1, f.idf
				n++
				break
			}
			if cols[slot[h]] == f.col {
				vals[slot[h]]++
				break
			}
		}
	}
	dst.cols, dst.vals, dst.idf = cols[:n], vals[:n], idf
	if n == start && unknown == 0 {
		return
	}
	var norm float64
	for i := start; i < n; i++ {
		tf := vals[i]
		if c.sublinear && tf > 1 {
			tf = 1 + float32(math.Log(float64(tf)))
		}
		x := tf * idf[i-start]
		vals[i] = x
		norm += float64(x) * float64(x)
	}
	if c.unknownInNorm {
		// Words the model never saw still count in the length of the text,
		// at the rarest idf: a message that is mostly unknown words gets a
		// short known part, small scores and so a low confidence, which is
		// what out-of-scope detection needs. (Dropping them before
		// normalising, as scikit-learn does, inflates the few known ones.)
		norm += float64(unknown) * float64(v.maxIDF) * float64(v.maxIDF)
	}
	inv := weight / float32(math.Sqrt(norm))
	for i := start; i < n; i++ {
		vals[i] *= inv
	}
}

// lexicon caches, per word seen in training, the columns of the features
// that depend on that word alone: its unigram, its three boundary forms and
// its character n-grams. Classify looks a known word up once instead of
// hashing its n-grams rune by rune and probing the vocabulary for each (a
// cache miss apiece in a table of a megabyte for CLINC150); the columns come
// out in the order extract and vectorize would produce them, so the vector
// is the same to the bit. Words the lexicon lacks take the general path.
type lexicon struct {
	// slots holds, by word hash, the hash's high 32 bits << 32 | entry
	// index+1 (0 when empty), so that a probe rarely touches an entry that
	// is not the word's.
	slots   []uint64
	mask    uint32
	entries []lexEntry
	// words holds the entries' words back to back.
	words string
	// chars holds the known character n-gram features of every entry, in
	// n-gram order, entry after entry.
	chars []feature
}

type lexEntry struct {
	hash uint64 // hashString(fnvOffset^nsWord, word)
	// words[wordOff:wordOff+wordLen] is the word.
	wordOff, wordLen uint32
	// Columns, or -1 for a feature unseen in training: the unigram, and the
	// word as the first, the last and the only word of a text.
	uni, first, last, only int32
	// vec is the word's row in the word vector table and proj its row of
	// Model.proj, or -1.
	vec, proj int32
	// chars[charOff:charEnd] are the known character n-gram features;
	// charUnknown counts the n-grams unseen in training.
	charOff, charEnd uint32
	charUnknown      int32
}

// newLexicon builds the lexicon of the distinct words of texts (as words
// normalises them), for the features c produces and the columns of v.
func newLexicon(c *featureConfig, v *vocab, texts []string) lexicon {
	var lx lexicon
	mask := uint64(1)<<c.hashBits - 1
	col := func(h uint64) int32 { return v.column(uint32(mix(h) & mask)) }
	seen := map[string]bool{}
	var ws []string
	var runes []rune
	var buckets []uint32
	var arena strings.Builder
	for _, text := range texts {
		ws = words(text, ws[:0])
		for _, w := range ws {
			if seen[w] {
				continue
			}
			seen[w] = true
			h := hashString(fnvOffset^nsWord, w)
			e := lexEntry{hash: h, wordOff: uint32(arena.Len()), wordLen: uint32(len(w)), uni: col(h), first: -1, last: -1, only: -1, vec: -1, proj: -1, charOff: uint32(len(lx.chars))}
			if c.wv != nil {
				e.vec = c.wv.Row(w)
			}
			arena.WriteString(w)
			if c.wordN >= 2 {
				hb := hashString(fnvOffset^nsBoundary, w)
				e.first = col(hashByte(hb, '^'))
				e.last = col(hashByte(hb, '$'))
				e.only = col(hashByte(hashByte(hb, '^'), '$'))
			}
			if c.charMax != 0 {
				runes, buckets = c.wordCharGrams(w, runes, buckets[:0], mask)
				for _, b := range buckets {
					if k := v.column(b); k >= 0 {
						lx.chars = append(lx.chars, feature{k, v.idf[k]})
					} else {
						e.charUnknown++
					}
				}
			}
			e.charEnd = uint32(len(lx.chars))
			lx.entries = append(lx.entries, e)
		}
	}
	lx.words = arena.String()
	size := 16
	for size < 2*len(lx.entries) {
		size *= 2
	}
	lx.slots = make([]uint64, size)
	lx.mask = uint32(size - 1)
	for i, e := range lx.entries {
		j := uint32(mix(e.hash)) & lx.mask
		for lx.slots[j] != 0 {
			j = (j + 1) & lx.mask
		}
		lx.slots[j] = e.hash>>32<<32 | uint64(i+1)
	}
	return lx
}

// find returns the entry of word w, whose hash is h, or nil.
func (lx *lexicon) find(h uint64, w string) *lexEntry {
	if len(lx.slots) == 0 {
		return nil
	}
	for j := uint32(mix(h)) & lx.mask; ; j = (j + 1) & lx.mask {
		s := lx.slots[j]
		if s == 0 {
			return nil
		}
		if s>>32 != h>>32 {
			continue
		}
		e := &lx.entries[uint32(s)-1]
		if e.hash == h && lx.words[e.wordOff:e.wordOff+e.wordLen] == w {
			return e
		}
	}
}

// lexEntryBytes is the size of a lexEntry (52 bytes of fields, aligned).
const lexEntryBytes = 56

// sizeBytes estimates the memory the lexicon holds.
func (lx *lexicon) sizeBytes() int {
	return len(lx.slots)*8 + len(lx.entries)*lexEntryBytes + len(lx.words) + len(lx.chars)*8
}

// wordCharGrams appends to buckets the character n-gram buckets of word w
// exactly as extract does (none for a word over maxCharWordRunes runes),
// using runes as scratch.
func (c *featureConfig) wordCharGrams(w string, runes []rune, buckets []uint32, mask uint64) ([]rune, []uint32) {
	runes = append(runes[:0], ' ')
	for _, r := range w {
		runes = append(runes, r)
	}
	if len(runes) > maxCharWordRunes+1 {
		return runes, buckets
	}
	runes = append(runes, ' ')
	return runes, c.appendCharGrams(buckets, runes, mask)
}

// classifyFeatures holds Classify's per-call feature scratch.
type classifyFeatures struct {
	words     []string
	runes     []rune
	buckets   []uint32
	wordFeats []feature
	charFeats []feature
}

// vectorizeText sets dst to the TF-IDF vector of text: the same vector, to
// the bit, as m.fc.extract followed by m.voc.vectorize, but with the
// features of words seen in training taken from the lexicon.
func (m *Model) vectorizeText(text string, f *classifyFeatures, dst *sparse) {
	c, v := &m.fc, m.voc
	mask := uint64(1)<<c.hashBits - 1
	f.words = words(text, f.words[:0])
	wordFeats, charFeats := f.wordFeats[:0], f.charFeats[:0]
	wordUnknown, charUnknown := 0, 0
	dense := dst.words[:0]
	addCol := func(col int32) {
		if col >= 0 {
			wordFeats = append(wordFeats, feature{col, v.idf[col]})
		} else {
			wordUnknown++
		}
	}
	addWord := func(h uint64) { addCol(v.column(uint32(mix(h) & mask))) }
	last := len(f.words) - 1
	for i, w := range f.words {
		h := hashString(fnvOffset^nsWord, w)
		e := m.lex.find(h, w)
		uni, row, proj := int32(-1), int32(-1), int32(-1)
		if e != nil {
			uni, row, proj = e.uni, e.vec, e.proj
		} else {
			uni = v.column(uint32(mix(h) & mask))
			if c.wv != nil {
				row = c.wv.Row(w)
			}
		}
		addCol(uni)
		if row >= 0 {
			dense = append(dense, denseWord{row, proj, v.wordIDF(uni)})
		}
		if c.wordN >= 2 && i > 0 {
			h := hashString(fnvOffset^nsBigram, f.words[i-1])
			h = hashByte(h, ' ')
			addWord(hashString(h, w))
		}
		if c.wordN >= 2 && (i == 0 || i == last) {
			if e != nil {
				col := e.first
				if i == last {
					col = e.last
					if i == 0 {
						col = e.only
					}
				}
				addCol(col)
			} else {
				h := hashString(fnvOffset^nsBoundary, w)
				if i == 0 {
					h = hashByte(h, '^')
				}
				if i == last {
					h = hashByte(h, '$')
				}
				addWord(h)
			}
		}
		if c.wordN >= 3 && i > 1 {
			h := hashString(fnvOffset^nsTrigram, f.words[i-2])
			h = hashByte(h, ' ')
			h = hashString(h, f.words[i-1])
			h = hashByte(h, ' ')
			addWord(hashString(h, w))
		}
		if c.charMax == 0 {
			continue
		}
		if e != nil {
			charFeats = append(charFeats, m.lex.chars[e.charOff:e.charEnd]...)
			charUnknown += int(e.charUnknown)
			continue
		}
		f.runes, f.buckets = c.wordCharGrams(w, f.runes, f.buckets[:0], mask)
		for _, b := range f.buckets {
			if col := v.column(b); col >= 0 {
				charFeats = append(charFeats, feature{col, v.idf[col]})
			} else {
				charUnknown++
			}
		}
	}
	f.wordFeats, f.charFeats = wordFeats, charFeats
	dst.cols = dst.cols[:0]
	dst.vals = dst.vals[:0]
	v.appendFeatures(c, wordFeats, wordUnknown, dst, c.wordWeight)
	dst.split = len(dst.cols)
	v.appendFeatures(c, charFeats, charUnknown, dst, 1)
	dst.words = dense
	v.appendDense(c, dense, dst)
}
