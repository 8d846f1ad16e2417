package nlu

import (
	"math"
	"unicode/utf8"
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
		if c.charMax == 0 {
			continue
		}
		f.runes = append(f.runes[:0], ' ')
		for _, r := range w {
			f.runes = append(f.runes, r)
		}
		if len(f.runes) > maxCharWordRunes+1 {
			continue
		}
		f.runes = append(f.runes, ' ')
		f.char = c.appendCharGrams(f.char, f.runes, mask)
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
// table sized to the vocabulary (a CLINC150 model has about 60,000 columns),
// so a small configuration does not pay for the whole hash space. A slot packs
// the bucket and its column into one word, so that a lookup, which usually
// misses the cache, touches one cache line rather than two.
type vocab struct {
	slots []uint64  // (bucket+1)<<32 | column per slot, 0 when empty
	mask  uint32    // len(slots)-1
	idf   []float32 // column -> idf
	// maxIDF is the idf of a feature never seen in training.
	maxIDF float32
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
}

// vectorize turns bucket lists into one TF-IDF vector: each block is mapped
// to columns (unknown buckets dropped), counted, weighted and l2-normalised,
// and the two blocks are concatenated (so the whole vector has norm sqrt 2
// when both blocks are present, as scikit-learn's FeatureUnion does).
func (v *vocab) vectorize(c *featureConfig, f *rawFeatures, dst *sparse) {
	dst.cols = dst.cols[:0]
	dst.vals = dst.vals[:0]
	v.appendBlock(c, f.word, dst, c.wordWeight)
	dst.split = len(dst.cols)
	v.appendBlock(c, f.char, dst, 1)
}

func (v *vocab) appendBlock(c *featureConfig, buckets []uint32, dst *sparse, weight float32) {
	start := len(dst.cols)
	dst.vals = dst.vals[:start]
	unknown := 0
	// Count repeated columns with a small open-addressing table whose
	// slots are invalidated by bumping a generation stamp, not by clearing:
	// cheaper than sorting the block, and allocation-free once warm.
	size := 64
	for size < 2*len(buckets) {
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
	for _, b := range buckets {
		col := v.column(b)
		if col < 0 {
			unknown++
			continue
		}
		for h := (uint32(col) * 0x9e3779b1) & mask; ; h = (h + 1) & mask {
			if dst.stamp[h] != dst.gen {
				dst.stamp[h] = dst.gen
				dst.slot[h] = int32(len(dst.cols))
				dst.cols = append(dst.cols, col)
				dst.vals = append(dst.vals, 1)
				break
			}
			if dst.cols[dst.slot[h]] == col {
				dst.vals[dst.slot[h]]++
				break
			}
		}
	}
	for i := start; i < len(dst.cols); i++ {
		tf := dst.vals[i]
		if c.sublinear && tf > 1 {
			tf = 1 + float32(math.Log(float64(tf)))
		}
		dst.vals[i] = tf * v.idf[dst.cols[i]]
	}
	if len(dst.cols) == start && unknown == 0 {
		return
	}
	var norm float64
	for _, x := range dst.vals[start:] {
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
	for i := start; i < len(dst.vals); i++ {
		dst.vals[i] *= inv
	}
}
