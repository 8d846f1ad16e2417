package nlu

import "slices"

// The closest training example explains a prediction to an agent. It is
// searched among the examples of the predicted label only, by the cosine of
// the word blocks of the TF-IDF vectors, through a per-label inverted index
// so that it costs a few binary searches rather than a scan. When no example
// shares a word with the text (typos, another spelling), the example sharing
// the most character trigrams wins, which still finds "i want a refund" for
// "refnd pls".

// explainIndex holds, per class, postings sorted by column.
type explainIndex struct {
	texts   []string
	members [][]int32 // class -> example indices
	// Word postings per class: columns sorted, with the member's position
	// in members[class] and the TF-IDF value.
	wordCols  [][]int32
	wordPos   [][]int32
	wordVals  [][]float32
	trigrams  [][]int32 // example -> sorted distinct trigram buckets
	trigramFC featureConfig
}

type posting struct {
	col int32
	pos int32
	val float32
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
	e.wordCols = make([][]int32, m.k)
	e.wordPos = make([][]int32, m.k)
	e.wordVals = make([][]float32, m.k)
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
		for _, p := range ps {
			e.wordCols[c] = append(e.wordCols[c], p.col)
			e.wordPos[c] = append(e.wordPos[c], p.pos)
			e.wordVals[c] = append(e.wordVals[c], p.val)
		}
	}
	// The lexicon is built here, with the other indexes Classify reads
	// beside the weights, from the same examples.
	texts := make([]string, len(examples))
	for i, ex := range examples {
		texts[i] = ex.Text
	}
	m.lex = newLexicon(&m.fc, m.voc, texts)
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
// the text whose vector is vec (and raw features f, for the fallback).
func (m *Model) closest(c int, vec *sparse, text string, s *classifyScratch) string {
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
	cols, pos, vals := e.wordCols[c], e.wordPos[c], e.wordVals[c]
	found := false
	for q, col := range vec.cols[:vec.split] {
		j, _ := slices.BinarySearch(cols, col)
		for ; j < len(cols) && cols[j] == col; j++ {
			acc[pos[j]] += vec.vals[q] * vals[j]
			found = true
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
	s.tri = e.trigramSet(text, &s.raw, s.tri)
	bestN := -1
	for i, ex := range members {
		if n := overlap(s.tri, e.trigrams[ex]); n > bestN {
			best, bestN = i, n
		}
	}
	return e.texts[members[best]]
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
