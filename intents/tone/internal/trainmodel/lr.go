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
}

// trainBin fits one logistic regression with AdaGrad; L2 is applied to the weights an example
// touches (scaled so each feature is regularised in proportion to its frequency).
func trainBin(data []sample, nFeat int, y func(*sample) bool, o trainOpts) *binModel {
	m := &binModel{w: make([]float64, nFeat)}
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
			z := m.logit(s, 0)
			g := sigmoid(z)
			if y(s) {
				g = (g - 1) * o.posW
			}
			gb += g * g
			m.bias -= lr * g / math.Sqrt(gb+1e-8)
			for _, j := range s.idx {
				gj := g + o.l2*m.w[j]
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
