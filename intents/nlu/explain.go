package nlu

import "slices"

// The closest training example explains a prediction to an agent. It is
// searched among the examples of the predicted label only, by the cosine of
// the word blocks of the TF-IDF vectors, through a per-label inverted index
// whose columns are found by hashing, so that it costs a probe per word
// feature of the text rather than a scan. When no example
// shares a word with the text (typos, another spelling), the example sharing
// the most character trigrams wins, which still finds "i want a refund" for
// "refnd pls".

// explainIndex holds, per class, postings sorted by column.
type explainIndex struct {
	texts   []string
	members [][]int32 // class -> example indices
	// Word postings per class, sorted by column: the column, the member's
	// position in members[class] and the TF-IDF value.
	post [][]posting
	// Per class, an open-addressing table from column to the index of its
	// first posting, 1<<bits[class] slots at slots[off[class]:], each
	// (column+1)<<32 | index (0: empty). A column is found with one probe,
	// mostly, rather than a binary search over the class's postings, and a
	// column the class lacks (most of a text's word pairs) without reading
	// any posting.
	slots []uint64
	off   []uint32
	bits  []uint8
	// trigrams holds, per example, its sorted distinct trigram buckets.
	trigrams  [][]int32
	trigramFC featureConfig
}

type posting struct {
	col int32
	pos int32
	val float32
}

// slot returns the first slot to probe for col in a table of 1<<bits slots.
func slot(col int32, bits uint8) uint32 {
	return (uint32(col) * 0x9e3779b1) >> (32 - bits)
}

// buildExplanations indexes the examples for Model.closest.
func (m *Model) buildExplanations(examples []Example, y []int32, x *csr) {
	e := &m.expl
	e.texts = make([]string, len(examples))
	e.members = make([][]int32, m.k)
	for i, ex := range examples {
		e.texts[i] = ex.Text
		e.members[y[i]] = append(e.members[y[i]], int32(i))
	}
	e.post = make([][]posting, m.k)
	e.off = make([]uint32, m.k)
	e.bits = make([]uint8, m.k)
	var ps []posting
	for c, members := range e.members {
		ps = ps[:0]
		for pos, i := range members {
			cols, vals := x.row(int(i))
			for j := range cols[:x.split[i]] {
				ps = append(ps, posting{cols[j], int32(pos), vals[j]})
			}
		}
		slices.SortFunc(ps, func(a, b posting) int {
			if a.col != b.col {
				return int(a.col - b.col)
			}
			return int(a.pos - b.pos)
		})
		e.post[c] = slices.Clone(ps)
		distinct := 0
		for j, p := range ps {
			if j == 0 || p.col != ps[j-1].col {
				distinct++
			}
		}
		// At most two thirds full, so that a miss, the common case for a
		// word pair of the text, ends after a probe or two.
		bits := uint8(4)
		for 1<<bits < distinct+distinct/2 {
			bits++
		}
		e.off[c], e.bits[c] = uint32(len(e.slots)), bits
		tab := make([]uint64, 1<<bits)
		for j, p := range ps {
			if j > 0 && p.col == ps[j-1].col {
				continue
			}
			h := slot(p.col, bits)
			for tab[h] != 0 {
				h = (h + 1) & (1<<bits - 1)
			}
			tab[h] = uint64(p.col+1)<<32 | uint64(j)
		}
		e.slots = append(e.slots, tab...)
	}
	e.trigramFC = featureConfig{charMin: 3, charMax: 3, hashBits: m.fc.hashBits}
	e.trigrams = make([][]int32, len(examples))
	var f rawFeatures
	for i, ex := range examples {
		e.trigrams[i] = e.trigramSet(ex.Text, &f, nil)
	}
}

// trigramSet returns the sorted distinct trigram buckets of text.
func (e *explainIndex) trigramSet(text string, f *rawFeatures, dst []int32) []int32 {
	e.trigramFC.extract(text, f)
	dst = dst[:0]
	for _, b := range f.char {
		dst = append(dst, int32(b))
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

// closest returns the text of the training example of class c nearest to
// the text whose vector is vec and whose normalised words are words (for
// the trigram fallback).
func (m *Model) closest(c int, vec *sparse, words []string, s *classifyScratch) string {
	e := &m.expl
	members := e.members[c]
	if len(members) == 0 {
		return ""
	}
	acc := s.acc[:0]
	for range members {
		acc = append(acc, 0)
	}
	s.acc = acc
	post := e.post[c]
	bits := e.bits[c]
	tab := e.slots[e.off[c] : e.off[c]+1<<bits]
	tmask := uint32(len(tab) - 1)
	found := false
	for q, col := range vec.cols[:vec.split] {
		for h := slot(col, bits); tab[h] != 0; h = (h + 1) & tmask {
			if int32(tab[h]>>32) != col+1 {
				continue
			}
			j := int(uint32(tab[h]))
			x := vec.vals[q]
			for ; j < len(post) && post[j].col == col; j++ {
				acc[post[j].pos] += x * post[j].val
			}
			found = true
			break
		}
	}
	best := 0
	if found {
		for i, a := range acc {
			if a > acc[best] {
				best = i
			}
		}
		return e.texts[members[best]]
	}
	// No shared word: count shared character trigrams.
	s.tri = e.trigramSetOfWords(words, &s.feat, s.tri)
	bestN := -1
	for i, ex := range members {
		if n := overlap(s.tri, e.trigrams[ex]); n > bestN {
			best, bestN = i, n
		}
	}
	return e.texts[members[best]]
}

// trigramSetOfWords is trigramSet for a text whose normalised words are
// words, without normalising it again.
func (e *explainIndex) trigramSetOfWords(words []string, f *classifyFeatures, dst []int32) []int32 {
	c := &e.trigramFC
	mask := uint64(1)<<c.hashBits - 1
	f.buckets = f.buckets[:0]
	for _, w := range words {
		f.runes, f.buckets = c.wordCharGrams(w, f.runes, f.buckets, mask)
	}
	dst = dst[:0]
	for _, b := range f.buckets {
		dst = append(dst, int32(b))
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

// overlap counts the common elements of two sorted sets.
func overlap(a, b []int32) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			n++
			i++
			j++
		}
	}
	return n
}
