package llm

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// embedBatch is how many chunks go into one /v1/embeddings request.
const embedBatch = 64

// embedRetry is how long hybrid retrieval stays off after the embeddings endpoint failed: a
// misconfigured embeddings model must not slow every turn down.
const embedRetry = time.Minute

// rrfK is the usual reciprocal-rank-fusion constant: it keeps one list's top rank from drowning
// the other list.
const rrfK = 60

// embeddings caches the chunk vectors of one Knowledge, computed lazily on first use.
type embeddings struct {
	// sem is a mutex that a waiting caller can give up on when its context ends.
	sem     chan struct{}
	know    *Knowledge
	vecs    [][]float32 // unit length, aligned with know.chunks
	retryAt time.Time
}

// Retrieve returns the best facts for query: BM25, fused with embedding similarity when the
// endpoint has an embeddings model. Embedding failures never fail retrieval; they fall back to
// BM25. The query should already be redacted.
func (c *Client) Retrieve(ctx context.Context, query string, k int) []Hit {
	know := c.know.Load()
	if k <= 0 {
		k = c.topK
	}
	// A deeper BM25 list gives the fusion candidates that lexical matching ranks lower.
	lex := know.Search(query, k*4)
	if c.ep.EmbeddingsModel == "" {
		return trim(lex, k)
	}
	vecs, err := c.chunkVectors(ctx, know)
	if err != nil {
		c.log.Warn("llm embeddings unavailable, using keyword retrieval", "reason", Reason(err))
		return trim(lex, k)
	}
	qv, err := c.embed(ctx, []string{query})
	if err != nil || len(qv) != 1 {
		c.log.Warn("llm query embedding failed, using keyword retrieval", "reason", Reason(err))
		return trim(lex, k)
	}
	type scored struct {
		i int
		s float64
	}
	sem := make([]scored, len(vecs))
	for i, v := range vecs {
		sem[i] = scored{i, dot(qv[0], v)}
	}
	sort.Slice(sem, func(a, b int) bool { return sem[a].s > sem[b].s })
	fused := map[string]float64{}
	byID := map[string]Chunk{}
	for r, h := range lex {
		fused[h.Chunk.Source] += 1.0 / float64(rrfK+r+1)
		byID[h.Chunk.Source] = h.Chunk
	}
	for r := 0; r < len(sem) && r < k*4; r++ {
		ch := know.chunks[sem[r].i]
		fused[ch.Source] += 1.0 / float64(rrfK+r+1)
		byID[ch.Source] = ch
	}
	out := make([]Hit, 0, len(fused))
	for id, s := range fused {
		out = append(out, Hit{Chunk: byID[id], Score: s})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Score != out[b].Score {
			return out[a].Score > out[b].Score
		}
		return out[a].Chunk.Source < out[b].Chunk.Source
	})
	return trim(out, k)
}

func trim(h []Hit, k int) []Hit {
	if len(h) > k {
		return h[:k]
	}
	return h
}

// chunkVectors embeds every chunk once per Knowledge. Concurrent first callers wait for one
// computation rather than each paying for it.
func (c *Client) chunkVectors(ctx context.Context, know *Knowledge) ([][]float32, error) {
	select {
	case c.emb.sem <- struct{}{}:
		defer func() { <-c.emb.sem }()
	case <-ctx.Done():
		return nil, classify(ctx, ctx.Err(), nil, c.ep.key)
	}
	if c.emb.know == know && c.emb.vecs != nil {
		return c.emb.vecs, nil
	}
	if c.emb.know == know && c.now().Before(c.emb.retryAt) {
		return nil, &UnavailableError{Reason: ReasonDisabled, detail: "embeddings failed recently"}
	}
	texts := make([]string, len(know.chunks))
	for i, ch := range know.chunks {
		texts[i] = ch.Title + "\n" + ch.Text
	}
	var vecs [][]float32
	for i := 0; i < len(texts); i += embedBatch {
		end := min(i+embedBatch, len(texts))
		v, err := c.embed(ctx, texts[i:end])
		if err != nil {
			c.emb.know, c.emb.vecs, c.emb.retryAt = know, nil, c.now().Add(embedRetry)
			return nil, err
		}
		vecs = append(vecs, v...)
	}
	c.emb.know, c.emb.vecs = know, vecs
	return vecs, nil
}

// embed calls /v1/embeddings outside the circuit breaker (a broken embeddings model must not
// stop chat answers) but within the call timeout, and normalises the vectors.
func (c *Client) embed(ctx context.Context, texts []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, c.ep.Timeout)
	defer cancel()
	st := &callState{}
	resp, err := c.api.CreateEmbeddings(context.WithValue(ctx, callStateKey{}, st), openai.EmbeddingRequestStrings{
		Input: texts, Model: openai.EmbeddingModel(c.ep.EmbeddingsModel),
	})
	if err != nil {
		return nil, classify(ctx, err, st, c.ep.key)
	}
	if len(resp.Data) != len(texts) {
		return nil, &UnavailableError{Reason: ReasonBadResponse, detail: fmt.Sprintf("embeddings: asked for %d vectors, got %d", len(texts), len(resp.Data))}
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(out) || len(d.Embedding) == 0 {
			return nil, &UnavailableError{Reason: ReasonBadResponse, detail: "embeddings: bad vector index"}
		}
		out[d.Index] = normalise(d.Embedding)
	}
	for _, v := range out {
		if v == nil {
			return nil, &UnavailableError{Reason: ReasonBadResponse, detail: "embeddings: missing vector"}
		}
	}
	return out, nil
}

func normalise(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return v
	}
	n := float32(1 / math.Sqrt(s))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * n
	}
	return out
}

// dot of two unit vectors is their cosine similarity; vectors of different length score 0.
func dot(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return float64(s)
}
