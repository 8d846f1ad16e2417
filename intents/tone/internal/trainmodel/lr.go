package main

import (
	"math"
	"math/rand/v2"

	"github.com/attune-chat/attune/intents/tone/internal/feat"
)

// binModel is one logistic regression over the sparse and dense features.
type binModel struct {
	w     []float64
	dense [feat.NumDense]float64
	bias  float64
}

func (m *binModel) logit(s *sample, off float64) float64 {
	z := m.bias + off
	for _, j := range s.idx {
		z += m.w[j]
	}
	for d, x := range s.dense {
		if x != 0 {
			z += m.dense[d] * x
		}
	}
	return z
}

type trainOpts struct {
	l2     float64
	epochs int
	posW   float64
	lr     float64
	seed   uint64
	// nbAlpha > 0 scales every word feature by its naive-Bayes log-count ratio (Wang and
	// Manning 2012, "NBSVM"), smoothed by nbAlpha.
	nbAlpha float64
}

// nbRatios returns each feature's log-count ratio log((a_j+α)/(P+α) / ((b_j+α)/(N+α))) where a_j
// and b_j count the positive and negative examples with feature j.
func nbRatios(data []sample, nFeat int, y func(*sample) bool, alpha float64) []float64 {
	pos, neg := make([]float64, nFeat), make([]float64, nFeat)
	np, nn := 0.0, 0.0
	for i := range data {
		c := neg
		if y(&data[i]) {
			c = pos
			np++
		} else {
			nn++
		}
		for _, j := range data[i].idx {
			c[j]++
		}
	}
	r := make([]float64, nFeat)
	for j := range r {
		r[j] = math.Log((pos[j] + alpha) / (np + alpha) / ((neg[j] + alpha) / (nn + alpha)))
	}
	return r
}

// trainBin fits one logistic regression with AdaGrad; L2 is applied to the weights an example
// touches (scaled so each feature is regularised in proportion to its frequency).
//
// With naive-Bayes scaling the regression learns u_j on the feature value r_j and returns the
// folded weight u_j*r_j, so inference needs no ratio table. AdaGrad's steps are the same size
// whatever a feature's scale, so the effect is that words which already separate the classes
// by their counts move their weight faster and are shrunk less: a prior that helps most for the
// rare, telling words of a small class, where plain L2 flattens them.
func trainBin(data []sample, nFeat int, y func(*sample) bool, o trainOpts) *binModel {
	m := &binModel{w: make([]float64, nFeat)}
	var r []float64
	if o.nbAlpha > 0 {
		r = nbRatios(data, nFeat, y, o.nbAlpha)
	}
	val := func(j int32) float64 {
		if r == nil {
			return 1
		}
		return r[j]
	}
	gw := make([]float64, nFeat)
	var gd [feat.NumDense]float64
	var gb float64
	rng := rand.New(rand.NewPCG(o.seed, 7))
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	lr := o.lr
	for ep := 0; ep < o.epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, n := range order {
			s := &data[n]
			z := m.bias
			for _, j := range s.idx {
				z += m.w[j] * val(j)
			}
			for d, x := range s.dense {
				z += m.dense[d] * x
			}
			g := sigmoid(z)
			if y(s) {
				g = (g - 1) * o.posW
			}
			gb += g * g
			m.bias -= lr * g / math.Sqrt(gb+1e-8)
			for _, j := range s.idx {
				gj := g*val(j) + o.l2*m.w[j]
				gw[j] += gj * gj
				m.w[j] -= lr * gj / math.Sqrt(gw[j]+1e-8)
			}
			for d, x := range s.dense {
				if x != 0 {
					gj := g*x + o.l2*m.dense[d]
					gd[d] += gj * gj
					m.dense[d] -= lr * gj / math.Sqrt(gd[d]+1e-8)
				}
			}
		}
	}
	for j := range r {
		m.w[j] *= r[j]
	}
	return m
}

// bestF1 returns the best F1 of predictions p >= thr against gold and that threshold.
func bestF1(probs []float64, gold []bool) (f1, thr float64) {
	for t := 0.05; t < 0.96; t += 0.01 {
		tp, fp, fn := 0, 0, 0
		for i, p := range probs {
			pr := p >= t
			switch {
			case pr && gold[i]:
				tp++
			case pr:
				fp++
			case gold[i]:
				fn++
			}
		}
		if tp > 0 {
			if f := 2 * float64(tp) / float64(2*tp+fp+fn); f > f1 {
				f1, thr = f, t
			}
		}
	}
	return
}
func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
