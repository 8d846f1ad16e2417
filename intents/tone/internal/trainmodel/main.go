// Command trainmodel learns the tone analyzer's word weights from GoEmotions train.tsv, picks
// the regularisation and decision thresholds on dev.tsv, and writes the weight file the tone
// package embeds. Test.tsv is never read here; `attune eval tone` reports it.
//
//	go run ./intents/tone/internal/trainmodel -goemotions ../shared/datasets/goemotions -out intents/tone/tone_weights.tsv
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/intents/tone/internal/feat"
	"github.com/attune-chat/attune/intents/tone/internal/goemo"
)

// nOut is the number of learned tones: frustration, confusion, anxiety, delight.
const nOut = 4

type sample struct {
	idx   []int32
	dense [feat.NumDense]float64
	gold  [5]bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trainmodel:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("trainmodel", flag.ContinueOnError)
	dir := fs.String("goemotions", "../shared/datasets/goemotions", "GoEmotions folder")
	out := fs.String("out", "intents/tone/tone_weights.tsv", "weight file to write")
	minCount := fs.Int("min-count", 3, "minimum train count for a word feature")
	fpMax := fs.Float64("neutral-fp", 0.08, "largest share of gold-neutral dev texts marked frustrated or anxious")
	if err := fs.Parse(args); err != nil {
		return err
	}
	train, err := goemo.Load(filepath.Join(*dir, "train.tsv"))
	if err != nil {
		return err
	}
	dev, err := goemo.Load(filepath.Join(*dir, "dev.tsv"))
	if err != nil {
		return err
	}
	an := tone.New()
	counts := map[string]int{}
	trainKeys := make([][]string, len(train))
	for i, ex := range train {
		keys := uniq(feat.Keys(feat.Tokenize(ex.Text, nil)))
		trainKeys[i] = keys
		for _, k := range keys {
			counts[k]++
		}
	}
	var vocab []string
	for k, c := range counts {
		if c >= *minCount {
			vocab = append(vocab, k)
		}
	}
	sort.Strings(vocab)
	index := make(map[string]int32, len(vocab))
	for i, k := range vocab {
		index[k] = int32(i)
	}
	mk := func(ex goemo.Example, keys []string) sample {
		toks := feat.Tokenize(ex.Text, nil)
		if keys == nil {
			keys = uniq(feat.Keys(toks))
		}
		s := sample{gold: ex.Gold}
		for _, k := range keys {
			if j, ok := index[k]; ok {
				s.idx = append(s.idx, j)
			}
		}
		v := an.Valence(ex.Text)
		s.dense = feat.Dense(v.Compound, v.Pos, v.Neg, ex.Text, toks)
		return s
	}
	trS := make([]sample, len(train))
	for i, ex := range train {
		trS[i] = mk(ex, trainKeys[i])
	}
	devS := make([]sample, len(dev))
	for i, ex := range dev {
		devS[i] = mk(ex, nil)
	}
	fmt.Fprintf(stdout, "train %d, dev %d, vocabulary %d features (min count %d)\n", len(trS), len(devS), len(vocab), *minCount)

	var best *model
	bestScore := -1.0
	for _, l2 := range []float64{3e-2, 0.1} {
		for _, epochs := range []int{3, 5} {
			m := trainLR(trS, len(vocab), l2, epochs)
			m.tune(devS, *fpMax)
			score := m.devMacro
			fmt.Fprintf(stdout, "l2=%g epochs=%d dev F1 frus %.3f conf %.3f anx %.3f del %.3f (mean %.3f) neutral FP %.3f\n",
				l2, epochs, m.devF1[0], m.devF1[1], m.devF1[2], m.devF1[3], score, m.devFP)
			if score > bestScore {
				best, bestScore = m, score
			}
		}
	}
	fmt.Fprintf(stdout, "chosen l2=%g epochs=%d thresholds %.3f\n", best.l2, best.epochs, best.thr)
	return best.write(*out, vocab)
}

func uniq(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

type model struct {
	w        [][nOut]float64
	dense    [feat.NumDense][nOut]float64
	bias     [nOut]float64
	thr      [nOut]float64
	l2       float64
	epochs   int
	devF1    [nOut]float64
	devFP    float64
	devMacro float64
}

func (m *model) logits(s *sample) [nOut]float64 {
	z := m.bias
	for _, j := range s.idx {
		for t := 0; t < nOut; t++ {
			z[t] += m.w[j][t]
		}
	}
	for d := 0; d < feat.NumDense; d++ {
		if s.dense[d] != 0 {
			for t := 0; t < nOut; t++ {
				z[t] += m.dense[d][t] * s.dense[d]
			}
		}
	}
	return z
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// trainLR fits one logistic regression per tone with AdaGrad and L2 applied to the features
// each example touches; the seed is fixed so the weight file is reproducible.
func trainLR(data []sample, nFeat int, l2 float64, epochs int) *model {
	m := &model{w: make([][nOut]float64, nFeat), l2: l2, epochs: epochs}
	gw := make([][nOut]float64, nFeat)
	var gd [feat.NumDense][nOut]float64
	var gb [nOut]float64
	const lr = 0.2
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	for ep := 0; ep < epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, n := range order {
			s := &data[n]
			z := m.logits(s)
			for t := 0; t < nOut; t++ {
				y := 0.0
				if s.gold[t] {
					y = 1
				}
				g := sigmoid(z[t]) - y
				gb[t] += g * g
				m.bias[t] -= lr * g / math.Sqrt(gb[t]+1e-8)
				for _, j := range s.idx {
					gj := g + l2*m.w[j][t]
					gw[j][t] += gj * gj
					m.w[j][t] -= lr * gj / math.Sqrt(gw[j][t]+1e-8)
				}
				for d := 0; d < feat.NumDense; d++ {
					if s.dense[d] != 0 {
						gj := g * s.dense[d]
						gd[d][t] += gj * gj
						m.dense[d][t] -= lr * gj / math.Sqrt(gd[d][t]+1e-8)
					}
				}
			}
		}
	}
	return m
}

// tune picks each tone's probability threshold for the best dev F1; frustration and anxiety
// are held to the neutral false-positive budget, because apologising to a calm visitor is the
// costlier mistake in support.
func (m *model) tune(dev []sample, fpMax float64) {
	probs := make([][nOut]float64, len(dev))
	nNeutral := 0
	for i := range dev {
		z := m.logits(&dev[i])
		for t := 0; t < nOut; t++ {
			probs[i][t] = sigmoid(z[t])
		}
		if dev[i].gold[4] {
			nNeutral++
		}
	}
	f1At := func(t int, thr float64) (f1, fp float64) {
		tp, fpos, fn, nfp := 0, 0, 0, 0
		for i := range dev {
			pred := probs[i][t] >= thr
			switch {
			case pred && dev[i].gold[t]:
				tp++
			case pred:
				fpos++
			case dev[i].gold[t]:
				fn++
			}
			if pred && dev[i].gold[4] {
				nfp++
			}
		}
		if tp == 0 {
			return 0, float64(nfp) / float64(nNeutral)
		}
		return 2 * float64(tp) / float64(2*tp+fpos+fn), float64(nfp) / float64(nNeutral)
	}
	budget := [nOut]float64{fpMax * 0.85, 1, fpMax * 0.15, 1}
	for t := 0; t < nOut; t++ {
		bestF, bestThr := -1.0, 0.5
		for thr := 0.05; thr < 0.95; thr += 0.01 {
			f, fp := f1At(t, thr)
			if fp <= budget[t] && f > bestF {
				bestF, bestThr = f, thr
			}
		}
		m.thr[t], m.devF1[t] = bestThr, bestF
	}
	nfp := 0
	for i := range dev {
		if dev[i].gold[4] && (probs[i][0] >= m.thr[0] || probs[i][2] >= m.thr[2]) {
			nfp++
		}
	}
	m.devFP = float64(nfp) / float64(nNeutral)
	m.devMacro = (m.devF1[0] + m.devF1[1] + m.devF1[2] + m.devF1[3]) / 4
}

// write stores the weights with each tone's bias shifted by its threshold's logit, so that a
// score of 0.5 is the tuned decision point for every tone.
func (m *model) write(path string, vocab []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# Attune tone weights. Derived by intents/tone/internal/trainmodel from the GoEmotions train split")
	fmt.Fprintln(w, "# (Demszky et al., \"GoEmotions: A Dataset of Fine-Grained Emotions\", ACL 2020; data Apache-2.0,")
	fmt.Fprintln(w, "# google-research/google-research goemotions/data). Only feature names and weights are stored, never")
	fmt.Fprintf(w, "# comment text. Thresholds tuned on dev.tsv: l2=%g epochs=%d; decision point is score 0.5.\n", m.l2, m.epochs)
	fmt.Fprintln(w, "#feature\tfrustration\tconfusion\tanxiety\tdelight")
	row := func(name string, v [nOut]float64) {
		fmt.Fprintf(w, "%s\t%.3f\t%.3f\t%.3f\t%.3f\n", name, v[0], v[1], v[2], v[3])
	}
	var b [nOut]float64
	for t := 0; t < nOut; t++ {
		b[t] = m.bias[t] - math.Log(m.thr[t]/(1-m.thr[t]))
	}
	row("_bias", b)
	for d := 0; d < feat.NumDense; d++ {
		row(feat.DenseNames[d], m.dense[d])
	}
	kept := 0
	for j, k := range vocab {
		big := false
		for t := 0; t < nOut; t++ {
			if math.Abs(m.w[j][t]) >= 0.05 {
				big = true
			}
		}
		if big {
			row(k, m.w[j])
			kept++
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Printf("wrote %s: %d word features\n", path, kept)
	return nil
}
