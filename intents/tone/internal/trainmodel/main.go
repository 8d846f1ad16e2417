// Command trainmodel learns the tone analyzer's word weights from GoEmotions train.tsv, picks
// the regularisation and decision thresholds on dev.tsv, and writes the weight file the tone
// package embeds. Test.tsv is never read here; `attune eval tone` reports it.
//
//	go run ./intents/tone/internal/trainmodel -goemotions ../shared/datasets/goemotions -out intents/tone/tone_weights.tsv
//
// Frustration is the hard tone: its dev F1 is 0.516 at the 9 % neutral budget (0.565 without a
// budget, at 18 % of neutral texts marked). What did not raise it on dev, beyond ±0.01: weighting
// gold-neutral negatives, a pairwise frustration-vs-neutral objective, one model per GoEmotions
// label combined by max or noisy-or, stacking, self-distillation, bagging, skip-bigrams and
// trigrams, and, unlike for the intent classifier, pretrained word vectors: the plain or
// idf-weighted mean of the GloVe vectors the classifier embeds (0.511-0.518 at block norms 0.5-2,
// negated words apart or not), a one-hidden-layer network over the words and that mean (32 or
// 64 units, alone 0.490-0.495, averaged with the regression 0.502-0.517), and a convolutional
// network over the sequence of GloVe vectors (width 3, 64-200 max-pooled filters, 3-10 epochs:
// alone 0.39-0.45, averaged with the regression at most 0.525, which would also cost far more than
// the analyzer's 10 µs). Nor did other letter groups than the 4-grams inside words (0.502
// without any): 3-grams alone 0.513, 3+4 0.515, 4+5 0.498, 5 alone 0.498, 3-5 0.497 (0.488-0.516
// at other min counts, hashing, l2, lr, epochs, NB smoothing or eight seeds); only the first and
// last groups of each word (0.495-0.507), or such affixes added to the 4-grams (0.495-0.516); the
// letter-group block scaled 0.3-1.5 or penalised ×0.3 or ×3 (0.498-0.516); groups inside negation
// scopes (0.497-0.503), across the space between words (0.493-0.511), only for words rarer than
// 5-1000 in train (0.488-0.510); letter runs cut to two ("sooo" → "soo": 0.516). Nor did discrete
// word clusters made from the GloVe vectors (spherical k-means from a fixed seed over the 20,000-
// 50,000 most frequent words; one NB-scaled feature per word for its cluster, NOT_-marked in a
// negation scope): one k of 100-3000 made 0.508-0.522, several at once 0.514-0.517, cluster
// bigrams 0.509-0.523, clusters only for rare words 0.509-0.520. Over 8 seeds the best (k 256 with
// k-100 cluster bigrams) made 0.523 against 0.511 for the words alone, and without the budget both
// reach 0.56-0.57: neither letter groups nor clusters rank frustrated texts better. Anxiety swings
// 0.56-0.66 with the seeds and its share of the neutral budget whatever the features.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/intents/tone/internal/cues"
	"github.com/attune-chat/attune/intents/tone/internal/feat"
	"github.com/attune-chat/attune/intents/tone/internal/goemo"
)

// nOut is the number of learned tones: frustration, confusion, anxiety, delight.
const nOut = 4

// learnedCue maps the learned outputs onto the cue tone indexes.
var learnedCue = [nOut]int{cues.Frus, cues.Conf, cues.Anx, cues.Del}

type sample struct {
	idx    []int32
	dense  [feat.NumDense]float64
	off    [nOut]float64
	gold   [5]bool
	labels uint32
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trainmodel:", err)
		os.Exit(1)
	}
}

type corpus struct {
	vocab []string
	train []sample
	dev   []sample
}

func load(dir string, minCount int) (*corpus, error) {
	train, err := goemo.Load(filepath.Join(dir, "train.tsv"))
	if err != nil {
		return nil, err
	}
	dev, err := goemo.Load(filepath.Join(dir, "dev.tsv"))
	if err != nil {
		return nil, err
	}
	an := tone.New()
	cs := cues.New()
	counts := map[string]int{}
	trainKeys := make([][]string, len(train))
	for i, ex := range train {
		toks := feat.Tokenize(ex.Text, nil)
		keys := uniq(feat.Keys(toks))
		trainKeys[i] = keys
		for _, k := range keys {
			counts[k]++
		}
	}
	c := &corpus{}
	for k, n := range counts {
		if n >= minCount {
			c.vocab = append(c.vocab, k)
		}
	}
	sort.Strings(c.vocab)
	index := make(map[string]int32, len(c.vocab))
	for i, k := range c.vocab {
		index[k] = int32(i)
	}
	mk := func(ex goemo.Example, keys []string) sample {
		toks := feat.Tokenize(ex.Text, nil)
		if keys == nil {
			keys = uniq(feat.Keys(toks))
		}
		s := sample{gold: ex.Gold, labels: ex.Labels}
		for _, k := range keys {
			if j, ok := index[k]; ok {
				s.idx = append(s.idx, j)
			}
		}
		v := an.Valence(ex.Text)
		s.dense = feat.Dense(v.Compound, v.Pos, v.Neg, ex.Text, toks)
		z := cs.Logits(cs.Match(toks, nil))
		for k, t := range learnedCue {
			s.off[k] = z[t]
		}
		return s
	}
	c.train = make([]sample, len(train))
	for i, ex := range train {
		c.train[i] = mk(ex, trainKeys[i])
	}
	c.dev = make([]sample, len(dev))
	for i, ex := range dev {
		c.dev[i] = mk(ex, nil)
	}
	return c, nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("trainmodel", flag.ContinueOnError)
	dir := fs.String("goemotions", "../shared/datasets/goemotions", "GoEmotions folder")
	out := fs.String("out", "intents/tone/tone_weights.tsv", "weight file to write")
	minCount := fs.Int("min-count", 5, "minimum train count for a word feature")
	l2 := fs.Float64("l2", 0.1, "L2 penalty per feature occurrence")
	lr := fs.Float64("lr", 0.05, "AdaGrad learning rate")
	nb := fs.Float64("nb", 1, "naive-Bayes feature scaling smoothing (0: plain features)")
	epochs := fs.Int("epochs", 3, "passes over train")
	seeds := fs.Int("seeds", 4, "training runs whose weights are averaged")
	fpMax := fs.Float64("neutral-fp", 0.09, "largest share of gold-neutral dev texts marked frustrated or anxious")
	anxFloor := fs.Float64("anxiety-floor", 0.55, "smallest anxiety dev F1 the joint threshold search may settle for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := load(*dir, *minCount)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "train %d, dev %d, vocabulary %d features (min count %d)\n", len(c.train), len(c.dev), len(c.vocab), *minCount)
	m := fit(c, trainOpts{l2: *l2, epochs: *epochs, lr: *lr, nbAlpha: *nb, posW: 1}, *seeds)
	m.tune(c.dev, *fpMax, *anxFloor)
	fmt.Fprintf(stdout, "l2=%g lr=%g nb=%g epochs=%d seeds=%d dev F1 frus %.3f conf %.3f anx %.3f del %.3f, neutral FP %.3f, thresholds %.2f\n",
		*l2, *lr, *nb, *epochs, *seeds, m.devF1[0], m.devF1[1], m.devF1[2], m.devF1[3], m.devFP, m.thr)
	return m.write(*out, c.vocab, stdout)
}

// model is the four tone regressions, each the average of several seeds' weights.
type model struct {
	tones [nOut]*binModel
	thr   [nOut]float64
	opts  trainOpts
	seeds int
	devF1 [nOut]float64
	devFP float64
}

// fit trains every tone on GoEmotions alone, averaging the weights of seeds runs (two at a
// time) to cut the variance of stochastic training. The support cues are deliberately not an
// offset during training: Reddit says "still waiting for season 2" calmly, and a model trained
// around the cue learns to cancel it (a -1.2 weight on "still waiting"), which defeats the
// cues' purpose in support chat. Thresholds are tuned with the cues added, as at inference.
func fit(c *corpus, o trainOpts, seeds int) *model {
	m := &model{opts: o, seeds: seeds}
	for k := 0; k < nOut; k++ {
		ms := make([]*binModel, seeds)
		sem := make(chan struct{}, 2)
		var wg sync.WaitGroup
		for r := range ms {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				o := o
				o.seed = uint64(r + 1)
				ms[r] = trainBin(c.train, len(c.vocab), func(s *sample) bool { return s.gold[k] }, o)
				<-sem
			}()
		}
		wg.Wait()
		m.tones[k] = average(ms)
	}
	return m
}

// tune picks each tone's threshold on dev: the best F1 for confusion and delight, and for
// frustration and anxiety the pair that keeps the share of gold-neutral texts marked either
// within fpMax, because apologising to a calm visitor is the costlier mistake in support (see
// jointTune for how the budget is shared).
func (m *model) tune(dev []sample, fpMax, anxFloor float64) {
	var p [nOut][]float64
	var g [5][]bool
	for t := range g {
		g[t] = make([]bool, len(dev))
		for i := range dev {
			g[t][i] = dev[i].gold[t]
		}
	}
	for k := 0; k < nOut; k++ {
		p[k] = make([]float64, len(dev))
		for i := range dev {
			p[k][i] = sigmoid(m.tones[k].logit(&dev[i], dev[i].off[k]))
			// cues.Combine floors the learned logit at cues.LearnedFloor below the decision
			// point when the cues argue for the tone, so cues that reach -LearnedFloor on
			// their own decide whatever the threshold: exactly what the analyzer does.
			if off := dev[i].off[k]; off > 0 && off+cues.LearnedFloor >= 0 {
				p[k][i] = 1
			}
		}
	}
	m.devF1[1], m.thr[1] = bestF1(p[1], g[1])
	m.devF1[3], m.thr[3] = bestF1(p[3], g[3])
	m.thr[0], m.thr[2], m.devF1[0], m.devF1[2], m.devFP = jointTune(p[0], p[2], g[0], g[2], g[4], fpMax, anxFloor)
}

// write stores the weights with each tone's bias shifted by its threshold's logit, so that a
// score of 0.5 is the tuned decision point for every tone.
func (m *model) write(path string, vocab []string, stdout io.Writer) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# Attune tone weights. Derived by intents/tone/internal/trainmodel from the GoEmotions train split")
	fmt.Fprintln(w, "# (Demszky et al., \"GoEmotions: A Dataset of Fine-Grained Emotions\", ACL 2020; data Apache-2.0,")
	fmt.Fprintln(w, "# google-research/google-research goemotions/data). Only feature names and weights are stored, never")
	fmt.Fprintf(w, "# comment text. l2=%g lr=%g nb=%g epochs=%d, %d seeds averaged; thresholds tuned on dev.tsv; decision point is score 0.5.\n", m.opts.l2, m.opts.lr, m.opts.nbAlpha, m.opts.epochs, m.seeds)
	fmt.Fprintln(w, "#feature\tfrustration\tconfusion\tanxiety\tdelight")
	row := func(name string, v [nOut]float64) {
		fmt.Fprintf(w, "%s\t%.3f\t%.3f\t%.3f\t%.3f\n", name, v[0], v[1], v[2], v[3])
	}
	var b [nOut]float64
	for t := 0; t < nOut; t++ {
		b[t] = m.tones[t].bias - math.Log(m.thr[t]/(1-m.thr[t]))
	}
	row("_bias", b)
	for d := 0; d < feat.NumDense; d++ {
		var v [nOut]float64
		for t := range v {
			v[t] = m.tones[t].dense[d]
		}
		row(feat.DenseNames[d], v)
	}
	kept := 0
	for j, k := range vocab {
		var v [nOut]float64
		big := false
		for t := range v {
			v[t] = m.tones[t].w[j]
			if math.Abs(v[t]) >= 0.0005 {
				big = true
			}
		}
		if big {
			row(k, v)
			kept++
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d word features\n", path, kept)
	return nil
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

func average(ms []*binModel) *binModel {
	out := &binModel{w: make([]float64, len(ms[0].w))}
	for _, m := range ms {
		for j, x := range m.w {
			out.w[j] += x / float64(len(ms))
		}
		for d, x := range m.dense {
			out.dense[d] += x / float64(len(ms))
		}
		out.bias += m.bias / float64(len(ms))
	}
	return out
}

// jointTune picks the frustration and anxiety thresholds that share the neutral budget: the
// share of gold-neutral texts marked either stays within budget, anxiety keeps a dev F1 of at
// least anxFloor, and within those frustration's F1 is the largest (ties: anxiety's F1).
// Frustration is the tone the issue measures on its own and the one that spends the budget;
// anxiety, a small class with clear words, loses little F1 when its threshold rises. If no pair
// reaches anxFloor, the largest frustration+anxiety F1 within budget is taken instead.
func jointTune(pf, pa []float64, gf, ga, gn []bool, budget, anxFloor float64) (tf, ta, bestFF, bestFA, bestFP float64) {
	nNeutral := 0
	for _, n := range gn {
		if n {
			nNeutral++
		}
	}
	type pick struct{ f, a, ff, fa, fp float64 }
	var floor, fallback pick
	floor.ff, fallback.ff = -1, -1
	for a := 0.05; a < 0.96; a += 0.01 {
		fa := f1At(pa, ga, a)
		for f := 0.05; f < 0.96; f += 0.01 {
			nfp := 0
			for i := range pf {
				if gn[i] && (pf[i] >= f || pa[i] >= a) {
					nfp++
				}
			}
			fpr := float64(nfp) / float64(max(nNeutral, 1))
			if fpr > budget {
				continue
			}
			ff := f1At(pf, gf, f)
			p := pick{f, a, ff, fa, fpr}
			if fa >= anxFloor && (ff > floor.ff || ff == floor.ff && fa > floor.fa) {
				floor = p
			}
			if ff+fa > fallback.ff+fallback.fa {
				fallback = p
			}
		}
	}
	best := floor
	if best.ff < 0 {
		best = fallback
	}
	return best.f, best.a, best.ff, best.fa, best.fp
}

// f1At is the F1 of predictions p >= thr against gold.
func f1At(p []float64, g []bool, thr float64) float64 {
	tp, fp, fn := 0, 0, 0
	for i := range p {
		pr := p[i] >= thr
		switch {
		case pr && g[i]:
			tp++
		case pr:
			fp++
		case g[i]:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn)
}
