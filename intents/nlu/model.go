package nlu

import (
	"math"
	"sync"
)

// DefaultThreshold is the recommended out-of-scope confidence threshold: a
// prediction whose Confidence is below it is out of scope. It is the
// threshold chosen by the rule of Larson et al. (2019) on the CLINC150
// validation split (val + oos_val: the best accuracy over the 151 classes,
// out-of-scope counting as its own class) for a model trained with default
// Options on CLINC150 train: 0.4379, rounded to 0.44. `attune eval intents
// --clinc FILE` prints the chosen value again. Because Confidence is
// corrected for chance it carries over to smaller label sets; a business
// that prefers handing over to answering wrongly raises it.
const DefaultThreshold = 0.44

// Scored is one label with its calibrated probability.
type Scored struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// Prediction is the classifier's answer for one text, with what an agent
// needs to understand it.
type Prediction struct {
	// Label is the best label, even when its confidence is below the
	// threshold. It is OutOfScope only if the model was trained with
	// out-of-scope examples and that class scored best.
	Label string `json:"label"`
	// Confidence is the probability of Label above chance, in [0,1]:
	// (p - 1/K) / (1 - 1/K) for K labels. It equals the probability for
	// large label sets (CLINC150's 150) and is 0 for a text the model knows
	// nothing about whatever K is, so one threshold means the same for a
	// business with 10 intents and one with 150; a plain probability would
	// put an unknown text at 1/K, above any sensible threshold when K is
	// small.
	Confidence float64 `json:"confidence"`
	// Top holds the three most probable labels (fewer if the model has
	// fewer), best first, with their probabilities.
	Top []Scored `json:"top"`
	// Closest is the training example of Label most similar to the text
	// (cosine of TF-IDF vectors), shown to agents as an explanation.
	Closest string `json:"closest"`
}

// InScope reports whether the prediction clears the threshold and is not
// the OutOfScope label.
func (p Prediction) InScope(threshold float64) bool {
	return p.Label != "" && p.Label != OutOfScope && p.Confidence >= threshold
}

// Model is a trained intent classifier. It is immutable and safe for
// concurrent use.
type Model struct {
	labels   []string
	fc       featureConfig
	voc      *vocab
	w        []float32 // feature-major: w[col*k+class]
	bias     []float32
	k        int
	oosIndex int // class index of OutOfScope, or -1
	invTemp  float32

	expl explainIndex
	// lex holds the features of the words seen in training.
	lex lexicon
	// proj holds, for each word of the lexicon that has a word vector, its
	// vector times the dense block's weights (k per word): see
	// scoreDense.
	proj    []float32
	scratch sync.Pool
}

type classifyScratch struct {
	feat   classifyFeatures
	vec    sparse
	scores []float32
	probs  []float64
	acc    []float32
	tri    []int32
}

// Labels returns the labels the model can predict, sorted.
func (m *Model) Labels() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.labels...)
}

// Confidence converts a label's probability into the confidence scale of
// Prediction.Confidence, for a label other than the best one (such as the
// runner-up a tie-breaker chose).
func (m *Model) Confidence(p float64) float64 {
	return aboveChance(p, len(m.labels))
}

// Classify predicts the label of text. Any input, including empty or invalid
// UTF-8 text, gives a prediction; a text with no known feature gets nearly
// uniform probabilities and therefore a low confidence.
func (m *Model) Classify(text string) Prediction {
	if m == nil || m.voc == nil {
		return Prediction{} // not a trained model: nothing is in scope
	}
	s, _ := m.scratch.Get().(*classifyScratch)
	if s == nil {
		s = &classifyScratch{scores: make([]float32, m.k), probs: make([]float64, m.k)}
	}
	defer m.scratch.Put(s)

	m.vectorizeText(text, &s.feat, &s.vec)
	m.probabilities(&s.vec, s.scores, s.probs)

	// The three best classes, an earlier class winning a tie, kept in
	// registers: t0, t1, t2 (-1 until filled) with their probabilities.
	n := min(3, m.k)
	t0, t1, t2 := -1, -1, -1
	var p0, p1, p2 float64
	for c, p := range s.probs {
		switch {
		case t0 < 0 || p > p0:
			t2, p2, t1, p1 = t1, p1, t0, p0
			t0, p0 = c, p
		case n < 2:
		case t1 < 0 || p > p1:
			t2, p2 = t1, p1
			t1, p1 = c, p
		case n < 3:
		case t2 < 0 || p > p2:
			t2, p2 = c, p
		}
	}
	top := [3]int{t0, t1, t2}
	pred := Prediction{
		Label:      m.labels[top[0]],
		Confidence: aboveChance(s.probs[top[0]], m.k),
		Top:        make([]Scored, n),
	}
	for i := 0; i < n; i++ {
		pred.Top[i] = Scored{Label: m.labels[top[i]], Score: s.probs[top[i]]}
	}
	pred.Closest = m.closest(top[0], &s.vec, s.feat.words, s)
	return pred
}

// probabilities computes the softmax of the linear scores of vec.
func (m *Model) probabilities(vec *sparse, scores []float32, probs []float64) {
	copy(scores, m.bias)
	if !m.scoreDense(vec, scores) {
		accumulate(scores, m.w, vec.cols, vec.vals)
	}
	maxS := float32(math.Inf(-1))
	for _, s := range scores {
		maxS = max(maxS, s)
	}
	var sum float64
	for c, s := range scores {
		e := expNeg(float64((s - maxS) * m.invTemp))
		probs[c] = e
		sum += e
	}
	for c := range probs {
		probs[c] /= sum
	}
}

// scoreDense adds the scores of vec to scores using proj for the dense
// block, and reports whether it could: every word that contributed to the
// block must have been seen in training (otherwise the caller scores the
// block's columns as usual). The dense block is
// inv x sum_i idf_i v_i, so its scores are sum_i (idf_i x inv) x (v_i W):
// one row of k per word, as cheap as a sparse feature, rather than the
// block's 100 rows. On CLINC150 (150 classes) scoring the block's rows made
// a classification 1.5x as long as without the block; through the
// projections it is 1.2x. The scores differ from the block's in float32
// rounding only (TestScoreDenseMatchesBlock).
func (m *Model) scoreDense(vec *sparse, scores []float32) bool {
	if vec.denseAt < 0 || m.proj == nil {
		return false
	}
	cols, vals := vec.pcols[:0], vec.pvals[:0]
	for _, w := range vec.words {
		if w.proj < 0 {
			return false
		}
		cols = append(cols, w.proj)
		vals = append(vals, w.idf*vec.denseInv)
	}
	vec.pcols, vec.pvals = cols, vals
	accumulate(scores, m.w, vec.cols[:vec.denseAt], vec.vals[:vec.denseAt])
	accumulate(scores, m.proj, cols, vals)
	return true
}

// buildProjections fills proj (see scoreDense) once the weights and the
// lexicon are final.
func (m *Model) buildProjections() {
	wv := m.fc.wv
	if wv == nil {
		return
	}
	k, d := m.k, wv.Dim()
	dense := m.w[int(m.voc.dense)*k : (int(m.voc.dense)+d)*k]
	row := make([]float64, k)
	for i := range m.lex.entries {
		e := &m.lex.entries[i]
		if e.vec < 0 {
			continue
		}
		e.proj = int32(len(m.proj) / k)
		q, scale := wv.Vector(e.vec)
		clear(row)
		for j := range d {
			x := float64(scale) * float64(int8(q[j]))
			for c, w := range dense[j*k : j*k+k] {
				row[c] += x * float64(w)
			}
		}
		for _, x := range row {
			m.proj = append(m.proj, float32(x))
		}
	}
}

// SizeBytes estimates the memory the model holds (weights, vocabulary and
// explanation index), for the memory budget of a configuration. The word
// vector table is shared by every model of the process and not counted:
// 5.6 MB of read-only data in the binary plus 2.3 MB of heap for its word
// index once the first model is trained.
func (m *Model) SizeBytes() int {
	n := len(m.w)*4 + len(m.proj)*4 + len(m.bias)*4 + len(m.voc.slots)*8 + len(m.voc.idf)*4
	e := &m.expl
	for _, t := range e.texts {
		n += len(t) + 16
	}
	for c := range e.members {
		n += len(e.members[c])*4 + len(e.post[c])*12 + 2*24
	}
	n += len(e.slots)*8 + len(e.off)*5
	for _, t := range e.trigrams {
		n += len(t)*4 + 24
	}
	for _, l := range m.labels {
		n += len(l) + 16
	}
	return n + m.lex.sizeBytes()
}

// aboveChance rescales the top probability p of k labels so that chance
// (1/k) maps to 0 and certainty to 1.
func aboveChance(p float64, k int) float64 {
	chance := 1 / float64(k)
	return min(1, max(0, (p-chance)/(1-chance)))
}
