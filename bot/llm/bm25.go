package llm

import (
	"math"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Hit is a retrieved chunk with its score (BM25, or fused rank score in hybrid retrieval).
type Hit struct {
	Chunk Chunk
	Score float64
}

// BM25 parameters: the usual defaults, which suit short FAQ-sized documents well.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

type posting struct {
	doc int32
	tf  float32
}

// Index is an in-memory BM25 index over chunks. It is immutable after NewIndex and safe for
// concurrent searches.
type Index struct {
	chunks   []Chunk
	postings map[string][]posting
	idf      map[string]float64
	norm     []float32 // k1*(1-b+b*len/avglen) per document, precomputed
	pool     sync.Pool // *[]float32 score accumulators, one per concurrent search
}

// NewIndex tokenises and indexes chunks (title, text and extra retrieval text).
func NewIndex(chunks []Chunk) *Index {
	ix := &Index{chunks: chunks, postings: map[string][]posting{}, idf: map[string]float64{}, norm: make([]float32, len(chunks))}
	lengths := make([]int, len(chunks))
	total := 0
	tf := map[string]int{}
	for i, ch := range chunks {
		clear(tf)
		n := 0
		for _, s := range []string{ch.Title, ch.Text, ch.Extra} {
			forEachTerm(s, func(t string) { tf[t]++; n++ })
		}
		for t, c := range tf {
			ix.postings[t] = append(ix.postings[t], posting{doc: int32(i), tf: float32(c)})
		}
		lengths[i] = n
		total += n
	}
	avg := 1.0
	if len(chunks) > 0 && total > 0 {
		avg = float64(total) / float64(len(chunks))
	}
	for i, l := range lengths {
		ix.norm[i] = float32(bm25K1 * (1 - bm25B + bm25B*float64(l)/avg))
	}
	n := float64(len(chunks))
	for t, ps := range ix.postings {
		df := float64(len(ps))
		ix.idf[t] = math.Log(1 + (n-df+0.5)/(df+0.5))
	}
	ix.pool.New = func() any { s := make([]float32, len(chunks)); return &s }
	return ix
}

// Len is the number of indexed chunks.
func (ix *Index) Len() int { return len(ix.chunks) }

// Search returns up to k chunks that share at least one term with query, best first.
func (ix *Index) Search(query string, k int) []Hit {
	if k <= 0 || len(ix.chunks) == 0 {
		return nil
	}
	sp := ix.pool.Get().(*[]float32)
	scores := *sp
	var touched []int32
	seen := map[string]bool{}
	forEachTerm(query, func(t string) {
		if seen[t] {
			return // a repeated query word must not outweigh the others
		}
		seen[t] = true
		idf := float32(ix.idf[t])
		for _, p := range ix.postings[t] {
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += idf * p.tf * (bm25K1 + 1) / (p.tf + ix.norm[p.doc])
		}
	})
	top := make([]Hit, 0, k+1)
	for _, d := range touched {
		s := float64(scores[d])
		scores[d] = 0 // reset for the next search that reuses this accumulator
		if s <= 0 || (len(top) == k && s <= top[k-1].Score) {
			continue
		}
		i := sort.Search(len(top), func(i int) bool { return top[i].Score < s })
		top = append(top, Hit{})
		copy(top[i+1:], top[i:])
		top[i] = Hit{Chunk: ix.chunks[d], Score: s}
		if len(top) > k {
			top = top[:k]
		}
	}
	ix.pool.Put(sp)
	return top
}

// stopwords are dropped from queries and documents: they carry no topic.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again all am an and any are as at be because been before
		being below between both but by can could did do does doing down during each few for from further had has have
		having he her here hers herself him himself his how i if in into is it its itself just let me more most my myself
		no nor not of off on once only or other our ours ourselves out over own same she should so some such than that the
		their theirs them themselves then there these they this those through to too under until up very was we were what
		when where which while who whom why will with would you your yours yourself yourselves please hi hello hey thanks
		thank ok okay im i'm i've i'd i'll it's don't dont can't cant won't wont isn't doesn't didn't`) {
		m[w] = true
	}
	return m
}()

// forEachTerm lowercases, splits on anything that is not a letter or digit, drops stopwords and
// stems what remains.
func forEachTerm(s string, fn func(string)) {
	start := -1
	var buf [64]byte
	emit := func(w string) {
		if len(w) > len(buf) {
			w = w[:len(buf)]
		}
		lw := toLower(buf[:0], w)
		if stopwords[string(lw)] {
			return
		}
		fn(stem(string(lw)))
	}
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || (r == '\'' && start >= 0)
		if word && start < 0 {
			start = i
		} else if !word && start >= 0 {
			emit(strings.TrimRight(s[start:i], "'"))
			start = -1
		}
	}
	if start >= 0 {
		emit(strings.TrimRight(s[start:], "'"))
	}
}

func toLower(dst []byte, w string) []byte {
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(w[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// stem is a light English suffix stripper: enough that "deliveries", "delivered" and
// "delivering" meet "delivery"/"deliver" without a full Porter stemmer's cost and surprises.
func stem(w string) string {
	w = strings.TrimSuffix(w, "'s")
	if len(w) <= 3 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "ly") && len(w) > 4:
		w = w[:len(w)-2]
	}
	switch {
	case strings.HasSuffix(w, "ery") && len(w) > 5:
		w = w[:len(w)-1] // delivery, bakery meet deliver(ed), baker
	case strings.HasSuffix(w, "y") && len(w) > 3:
		w = w[:len(w)-1] + "i" // reply meets replies (-> replie -> repli)
	}
	if strings.HasSuffix(w, "e") && len(w) > 3 {
		w = w[:len(w)-1] // freeze/freezing, store/stored meet
	}
	return w
}

// undouble turns "shipp" (from shipping) into "ship".
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("lsz", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}
