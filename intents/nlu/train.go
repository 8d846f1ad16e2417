package nlu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/attune-chat/attune/intents/nlu/internal/wordvec"
)

// OutOfScope is the reserved label of out-of-scope training examples. A
// configuration may list some; they are trained as an ordinary class, and a
// prediction of this label is never in scope.
const OutOfScope = "out_of_scope"

// Example is one labelled training text.
type Example struct {
	Label, Text string
}

// Options are the classifier's hyper-parameters. The zero value selects the
// defaults, which were chosen on the CLINC150 validation split and on
// held-out tenths of the HWU64 training split (never on a test split). The
// server and `attune eval intents` both train with the zero value.
type Options struct {
	// Loss selects the linear model; the zero value is Ensemble.
	Loss Loss
	// Epochs is the number of passes of stochastic gradient descent: 8 by
	// default, 6 for each of the Ensemble's two trained parts (as accurate
	// on the validation data as 8, and it keeps training within budget).
	Epochs int
	// C is the inverse L2 regularisation strength, as in scikit-learn's
	// LinearSVC and LogisticRegression: the objective is
	// C*sum(loss) + |W|^2/2. The default is 1 for SquaredHinge and 20 for
	// Logistic. The Ensemble trains each part with that part's default,
	// which was chosen for it alone, and ignores C.
	C float64
	// LearningRate is the initial SGD step; it decays linearly to zero.
	// The default is 0.3 for SquaredHinge and 1 for Logistic (the Ensemble
	// uses each part's default and ignores it).
	LearningRate float64
	// Temperature divides the linear scores before the softmax that turns
	// them into probabilities. The default is 0.15 for SquaredHinge, whose
	// margins lie around -1 and +1, and 1 for Logistic, whose scores are
	// already log-odds. The Ensemble's folded scores are log-odds too; the
	// default there is 1 as well.
	Temperature float64
	// CharMin and CharMax bound the character n-grams taken inside each
	// word (padded with a space on each side); the defaults are 2 and 4.
	// CharMax < 0 disables them. 5-grams (CharMax 5) were as accurate on
	// the validation data with the Ensemble and cost a quarter more
	// features per message, hence time in training and classification.
	CharMin, CharMax int
	// WordNgrams is the longest word n-gram (1 to 3).
	WordNgrams int
	// HashBits is the log2 of the number of hash buckets for features.
	HashBits int
	// MinDF drops features seen in fewer training examples. The default is
	// 1 below 2,000 examples, where a word used once in a business's
	// twenty examples still matters, and 2 from there on, where singletons
	// are mostly noise and make up a third of the weight matrix.
	MinDF int
	// WordWeight scales the l2-normalised word block relative to the
	// character block (default 1).
	WordWeight float64
	// DropUnknown leaves features unseen in training out of the l2 norm
	// of a text, as scikit-learn does; by default they count, which lowers
	// the confidence of texts made mostly of unknown words.
	DropUnknown bool
	// SublinearTF uses 1+log(count) as term frequency instead of the count
	// (slightly worse on the CLINC150 validation split: messages are short
	// and repeats are rare, so they may as well count in full).
	SublinearTF bool
	// WordVectors is the l2 norm of the dense block appended to every
	// vector: the idf-weighted mean of the pretrained GloVe vectors of the
	// text's words (package wordvec: the 50,000 most frequent words, 100
	// dimensions), which lets the linear model credit "reimburse" with
	// what it learnt from "refund". The default is 1; a negative value
	// leaves the block out. See the package doc for what it changed.
	WordVectors float64
	// Seed drives the example order of SGD; training is deterministic for a
	// given seed and example list.
	Seed uint64
}

// Loss is the training objective of the linear model.
type Loss int

const (
	// Ensemble (the default) trains a Logistic and a SquaredHinge model on
	// the same TF-IDF vectors and adds multinomial naive Bayes
	// log-probabilities computed from them; all three are linear in the
	// features, so their scores are folded into one weight matrix and a
	// prediction costs what a single model's does. The scores are
	// 0.55 x the logistic log-odds + 0.45 x the SVM margins / 0.15 + 0.1 x
	// the naive Bayes log-likelihoods (presence counts, additive smoothing
	// 0.001, see naiveBayes), with the weights chosen on the CLINC150
	// validation split and on the HWU64 training split, each tenth held out
	// in turn. Against Logistic alone (8 epochs, character 2-5-grams, the
	// previous default) it raised the 151-class accuracy at the Larson
	// threshold on CLINC150's validation split from 91.7 % to 93.0 % and
	// the held-out HWU64 accuracy from 88.8 % to 89.6 %, for about the same
	// training time (two models of 6 epochs on fewer features).
	Ensemble Loss = iota
	// Logistic trains a multinomial logistic regression.
	Logistic
	// SquaredHinge trains one linear SVM per label against the others
	// (one-vs-rest, squared hinge loss, as scikit-learn's LinearSVC) with
	// one bias shared by all labels, and turns the margins into
	// probabilities by a softmax of the margins divided by Temperature.
	// The shared bias keeps a text without known features at uniform
	// probabilities (Confidence 0): per-label biases favour labels with
	// short examples ("yes", "ok") and gave gibberish a confidence of 0.3.
	// On the CLINC150 validation split it is more accurate than Logistic
	// (closed-set 93.5 % against 93.0 %, 151-class accuracy at the Larson
	// threshold 92.2 % against 91.7 %) but rejects fewer out-of-scope
	// queries (64 % against 73 % of oos_val) and is less accurate on
	// held-out HWU64 data, so it is only a part of the Ensemble.
	SquaredHinge
)

// The Ensemble's mixing weights (see Ensemble).
const (
	ensembleLogistic   = 0.55
	ensembleHinge      = 0.45
	ensembleNaiveBayes = 0.1
	naiveBayesAlpha    = 0.001
)

// Defaults of Options.
const (
	defaultEpochs            = 8
	ensembleEpochs           = 6
	defaultHingeC            = 1
	defaultHingeLearningRate = 0.3
	defaultHingeTemperature  = 0.15
	defaultLogisticC         = 20
	defaultLogisticRate      = 1.0
	defaultCharMin           = 2
	defaultCharMax           = 4
	defaultWordNgrams        = 2
	defaultHashBits          = 20
	defaultSeed              = 0x5eed
	defaultWordVectors       = 1
	minDFLarge               = 2000
)

func (o Options) withDefaults() Options {
	if o.Epochs <= 0 {
		o.Epochs = defaultEpochs
		if o.Loss == Ensemble {
			o.Epochs = ensembleEpochs
		}
	}
	if o.C <= 0 {
		o.C = defaultHingeC
		if o.Loss != SquaredHinge {
			o.C = defaultLogisticC
		}
	}
	if o.LearningRate <= 0 {
		o.LearningRate = defaultHingeLearningRate
		if o.Loss != SquaredHinge {
			o.LearningRate = defaultLogisticRate
		}
	}
	if o.Temperature <= 0 {
		o.Temperature = defaultHingeTemperature
		if o.Loss != SquaredHinge {
			o.Temperature = 1
		}
	}
	if o.CharMax == 0 {
		o.CharMax = defaultCharMax
	}
	if o.CharMin <= 0 {
		o.CharMin = defaultCharMin
	}
	if o.WordNgrams <= 0 {
		o.WordNgrams = defaultWordNgrams
	}
	if o.HashBits <= 0 {
		o.HashBits = defaultHashBits
	}
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	if o.WordVectors == 0 {
		o.WordVectors = defaultWordVectors
	}
	return o
}

func (o Options) features() featureConfig {
	fc := featureConfig{
		wordN:         min(o.WordNgrams, 3),
		unknownInNorm: !o.DropUnknown,
		charMin:       o.CharMin,
		charMax:       o.CharMax,
		hashBits:      uint(min(max(o.HashBits, 10), 24)),
		sublinear:     o.SublinearTF,
		wordWeight:    float32(o.WordWeight),
	}
	if fc.wordWeight <= 0 {
		fc.wordWeight = 1
	}
	if fc.charMax < 0 {
		fc.charMax = 0
	}
	return fc
}

// ErrTooFewLabels is returned by Train when the examples name fewer than two
// labels: there is nothing to decide between.
var ErrTooFewLabels = errors.New("need examples of at least two labels")

// ClashError is returned by Train when identical texts carry different
// labels.
type ClashError struct {
	Clashes []Clash
}

func (e *ClashError) Error() string {
	c := e.Clashes[0]
	return fmt.Sprintf("%d texts are used for more than one label, first %q (examples %v)", len(e.Clashes), c.Text, c.Indices)
}

// EmptyExampleError is returned by Train for an example that has no words
// after normalisation (only punctuation or emoji, for instance).
type EmptyExampleError struct {
	Index int
	Text  string
}

func (e *EmptyExampleError) Error() string {
	return fmt.Sprintf("example %d (%q) has no words", e.Index, e.Text)
}

// Train fits a classifier to the examples. It is deterministic: the same
// examples in the same order with the same options give the same model.
func Train(examples []Example, opt Options) (*Model, error) {
	opt = opt.withDefaults()
	if opt.MinDF <= 0 {
		opt.MinDF = 1
		if len(examples) >= minDFLarge {
			opt.MinDF = 2
		}
	}
	if cl := Clashes(examples); len(cl) > 0 {
		return nil, &ClashError{Clashes: cl}
	}
	labelSet := map[string]bool{}
	for i, ex := range examples {
		if ex.Label == "" {
			return nil, fmt.Errorf("example %d (%q) has no label", i, ex.Text)
		}
		labelSet[ex.Label] = true
	}
	labels := make([]string, 0, len(labelSet))
	for l := range labelSet {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	if len(labels) < 2 {
		return nil, ErrTooFewLabels
	}
	if opt.Loss != SquaredHinge && opt.Loss != Logistic && opt.Loss != Ensemble {
		return nil, fmt.Errorf("unknown loss %d", opt.Loss)
	}
	labelIndex := make(map[string]int32, len(labels))
	for i, l := range labels {
		labelIndex[l] = int32(i)
	}

	fc := opt.features()
	if opt.WordVectors > 0 {
		wv, err := wordvec.Default()
		if err != nil {
			return nil, err
		}
		fc.wv, fc.wvWeight = wv, float32(opt.WordVectors)
	}
	buckets := 1 << fc.hashBits

	// Pass 1: hash every example and count document frequencies per bucket.
	raws := make([]struct {
		word, char []uint32
		words      []string
	}, len(examples))
	df := make([]int32, buckets)
	var f rawFeatures
	seen := make([]int32, buckets) // last example index+1 that counted a bucket
	for i, ex := range examples {
		fc.extract(ex.Text, &f)
		if len(f.words) == 0 {
			return nil, &EmptyExampleError{Index: i, Text: ex.Text}
		}
		raws[i].word = slices.Clone(f.word)
		raws[i].char = slices.Clone(f.char)
		raws[i].words = slices.Clone(f.words)
		for _, blk := range [2][]uint32{f.word, f.char} {
			for _, b := range blk {
				if seen[b] != int32(i+1) {
					seen[b] = int32(i + 1)
					df[b]++
				}
			}
		}
	}

	// Columns in bucket order: deterministic and independent of example order.
	var kept []uint32
	var idf []float32
	n := float64(len(examples))
	for b := range df {
		if df[b] >= int32(opt.MinDF) {
			kept = append(kept, uint32(b))
			// scikit-learn's smooth idf.
			idf = append(idf, float32(math.Log((1+n)/(1+float64(df[b])))+1))
		}
	}
	voc := newVocab(kept, idf)
	voc.maxIDF = float32(math.Log(1+n) + 1)
	voc.dense = int32(len(voc.idf))
	nFeatures := len(voc.idf) + fc.denseCols()

	// Pass 2: TF-IDF vectors in CSR form.
	x := csr{rowPtr: make([]int32, 1, len(examples)+1), nbCols: len(voc.idf)}
	y := make([]int32, len(examples))
	var v sparse
	for i := range examples {
		f.word, f.char, f.words = raws[i].word, raws[i].char, raws[i].words
		voc.vectorize(&fc, &f, &v)
		x.cols = append(x.cols, v.cols...)
		x.vals = append(x.vals, v.vals...)
		x.rowPtr = append(x.rowPtr, int32(len(x.cols)))
		x.split = append(x.split, v.split)
		y[i] = labelIndex[examples[i].Label]
	}
	raws = nil

	var w, bias []float32
	if opt.Loss == Ensemble {
		w, bias = trainEnsemble(&x, y, len(labels), nFeatures, opt)
	} else {
		w, bias = trainLinear(&x, y, len(labels), nFeatures, opt)
	}

	m := &Model{
		labels:   labels,
		fc:       fc,
		voc:      voc,
		w:        w,
		bias:     bias,
		k:        len(labels),
		oosIndex: -1,
		invTemp:  float32(1 / opt.Temperature),
	}
	if i, ok := labelIndex[OutOfScope]; ok {
		m.oosIndex = int(i)
	}
	m.buildExplanations(examples, y, &x)
	texts := make([]string, len(examples))
	for i, ex := range examples {
		texts[i] = ex.Text
	}
	m.lex = newLexicon(&m.fc, m.voc, texts)
	m.buildProjections()
	return m, nil
}

// csr is a row-compressed sparse matrix.
type csr struct {
	rowPtr []int32
	cols   []int32
	vals   []float32
	split  []int // per row, the length of the word block (training only)
	// nbCols is the number of leading columns naive Bayes counts: the
	// hashed features, not the dense block (0: all).
	nbCols int
}

func (x *csr) row(i int) ([]int32, []float32) {
	a, b := x.rowPtr[i], x.rowPtr[i+1]
	return x.cols[a:b], x.vals[a:b]
}

// trainEnsemble fits the Logistic and SquaredHinge parts of the Ensemble and
// folds them, with the naive Bayes part, into one weight matrix whose scores
// are log-odds. The SVM's bias is shared by all classes and so drops out of
// the softmax.
func trainEnsemble(x *csr, y []int32, k, nFeatures int, opt Options) ([]float32, []float32) {
	lo := opt
	lo.Loss, lo.C, lo.LearningRate = Logistic, defaultLogisticC, defaultLogisticRate
	w, bias := trainLinear(x, y, k, nFeatures, lo)
	ho := opt
	ho.Loss, ho.C, ho.LearningRate = SquaredHinge, defaultHingeC, defaultHingeLearningRate
	wh, _ := trainLinear(x, y, k, nFeatures, ho)
	fl, fh := float32(ensembleLogistic), float32(ensembleHinge/defaultHingeTemperature)
	for i := range w {
		w[i] = fl*w[i] + fh*wh[i]
	}
	for c := range bias {
		bias[c] *= fl
	}
	// wh is no longer needed: it holds the naive Bayes weights.
	naiveBayes(wh, x, y, k, naiveBayesAlpha)
	for i := range w {
		w[i] += ensembleNaiveBayes * wh[i]
	}
	return w, bias
}

// naiveBayes sets nb (feature-major, k per feature) to the log-probabilities
// of a multinomial naive Bayes model whose counts are the numbers of a
// class's examples that have each feature (x's non-zero entries, whatever
// their values), with additive smoothing alpha, each feature's row centred on
// its mean. Centring changes no softmax (a feature adds the same amount to
// every class) but keeps a text's scores near zero, and so its confidence
// low, when its features are equally likely under every class. The class
// priors are left out: CLINC150's and most configurations' classes are
// balanced, and the Logistic part learns biases.
//
// Presence counts with a small alpha make the part a sharp "has this class
// ever been seen with this feature" vote, which the two discriminative parts
// lack: against counting the TF-IDF values with alpha 0.01 (the previous
// default) it raised the held-out HWU64 accuracy from 89.3 % to 89.6 % and
// the CLINC150 validation 151-class accuracy from 92.8 % to 93.0 % (oos_val
// recall at the Larson threshold 66 % against 68 %, the threshold 0.35
// against 0.27: confidences are higher), at no cost in training or
// classification time. On
// CLINC150 (24,500 columns, 106 non-zero features per example) the
// smoothing mass alpha x columns is now 25 against about 10,600 counts per
// class; with TF-IDF values (12 per example, 1,200 per class) and alpha
// 0.01 it was 245, enough to flatten the part.
func naiveBayes(nb []float32, x *csr, y []int32, k int, alpha float64) {
	clear(nb)
	total := make([]float64, k)
	for i, c := range y {
		cols, _ := x.row(i)
		counted := 0
		for _, col := range cols {
			if x.nbCols > 0 && int(col) >= x.nbCols {
				continue
			}
			nb[int(col)*k+int(c)]++
			counted++
		}
		total[c] += float64(counted)
	}
	nFeatures := len(nb) / k
	if x.nbCols > 0 {
		// The dense block's rows stay zero: word vector components are
		// not counts, and nearly every text has all of them.
		nFeatures = x.nbCols
	}
	logTotal := make([]float64, k)
	for c := range total {
		logTotal[c] = math.Log(total[c] + alpha*float64(nFeatures))
	}
	row := make([]float64, k)
	for f := 0; f < nFeatures; f++ {
		r := nb[f*k : f*k+k]
		var mean float64
		for c := range r {
			row[c] = math.Log(float64(r[c])+alpha) - logTotal[c]
			mean += row[c]
		}
		mean /= float64(k)
		for c := range r {
			r[c] = float32(row[c] - mean)
		}
	}
}

// trainLinear fits one row of class weights per feature with L2
// regularisation by plain SGD: shuffled examples, a linearly decaying step,
// the weight decay applied lazily through a global scale so that each step
// only touches the example's non-zero features. The weights are stored
// feature-major (one row of k class weights per feature) so that scoring is
// a sequence of short contiguous vector additions.
//
// Only classes with a non-negligible gradient for an example are updated:
// for the squared hinge those inside the margin, for the softmax those whose
// probability is not yet nearly right. This makes late epochs several times
// cheaper than early ones.
func trainLinear(x *csr, y []int32, k, nFeatures int, opt Options) ([]float32, []float32) {
	n := len(y)
	v := make([]float32, nFeatures*k)
	bias := make([]float64, k)
	scale := 1.0
	// The objective C*sum(loss) + |W|^2/2, divided by C*n, is
	// mean(loss) + lambda/2 |W|^2.
	lambda := 1 / (opt.C * float64(n))
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	scores := make([]float32, k)
	grad := make([]float64, k)
	active := make([]int, 0, k)
	total := float64(opt.Epochs * n)
	step := 0
	for epoch := 0; epoch < opt.Epochs; epoch++ {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			eta := opt.LearningRate * (1 - float64(step)/total)
			step++
			cols, vals := x.row(i)
			for c := range scores {
				scores[c] = 0
			}
			accumulate(scores, v, cols, vals)
			if opt.Loss == Logistic {
				active = softmaxGradient(scores, bias, scale, int(y[i]), grad, active)
			} else {
				active = hingeGradient(scores, bias, scale, int(y[i]), grad, active)
			}
			scale *= 1 - eta*lambda
			coef := eta / scale
			for p, col := range cols {
				xv := float64(vals[p]) * coef
				row := v[int(col)*k : int(col)*k+k]
				for _, c := range active {
					row[c] -= float32(xv * grad[c])
				}
			}
			if opt.Loss == Logistic {
				for _, c := range active {
					bias[c] -= eta * grad[c]
				}
			} else {
				// One bias shared by all classes: see sharedBias.
				var g float64
				for _, c := range active {
					g += grad[c]
				}
				g *= eta / float64(k)
				for c := range bias {
					bias[c] -= g
				}
			}
			if scale < 1e-3 {
				for j := range v {
					v[j] *= float32(scale)
				}
				scale = 1
			}
		}
	}
	for j := range v {
		v[j] *= float32(scale)
	}
	b32 := make([]float32, k)
	for c := range bias {
		b32[c] = float32(bias[c])
	}
	return v, b32
}

// hingeGradient sets grad to the gradient of the one-vs-rest squared hinge
// loss, sum_c max(0, 1 - y_c s_c)^2 with y_c = +1 for the true class and -1
// for the others, with respect to the true scores s = scale*scores + bias,
// and returns the classes inside the margin (the others have zero gradient).
func hingeGradient(scores []float32, bias []float64, scale float64, truth int, grad []float64, active []int) []int {
	active = active[:0]
	for c := range scores {
		s := scale*float64(scores[c]) + bias[c]
		yc := -1.0
		if c == truth {
			yc = 1
		}
		if m := yc * s; m < 1 {
			grad[c] = -2 * yc * (1 - m)
			active = append(active, c)
		}
	}
	return active
}

// softmaxGradient sets grad to the gradient of the cross-entropy of the
// softmax of the true scores s = scale*scores + bias, and returns the
// classes whose gradient is not negligible.
func softmaxGradient(scores []float32, bias []float64, scale float64, truth int, grad []float64, active []int) []int {
	maxS := math.Inf(-1)
	for c := range scores {
		s := scale*float64(scores[c]) + bias[c]
		grad[c] = s
		maxS = max(maxS, s)
	}
	var sum float64
	for c := range grad {
		grad[c] = expNeg(grad[c] - maxS)
		sum += grad[c]
	}
	active = active[:0]
	for c := range grad {
		g := grad[c] / sum
		if c == truth {
			g--
		}
		grad[c] = g
		if g > 1e-4 || g < -1e-4 {
			active = append(active, c)
		}
	}
	return active
}
