// Package nlueval implements `attune eval intents`: it trains the intent
// classifier exactly as the server does (nlu.Train with default Options) on a
// public benchmark and reports accuracy, out-of-scope recall, macro-F1,
// training time and classification latency.
package nlueval

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/attune-chat/attune/intents/nlu"
)

// clincOOS is the out-of-scope label of CLINC150; CSV files may use it or
// nlu.OutOfScope.
const clincOOS = "oos"

// Dataset is a benchmark split into train, optional validation and test.
// Labels equal to nlu.OutOfScope mark out-of-scope rows.
type Dataset struct {
	Name  string
	Train []nlu.Example
	Val   []nlu.Example
	Test  []nlu.Example
	// TrainOOS says whether out-of-scope rows of Train are trained as their
	// own class. CLINC150's threshold protocol trains on the 150 intents only.
	TrainOOS bool
}

// Report is the result of one evaluation; its JSON form is the output of
// `attune eval intents --json`.
type Report struct {
	Dataset string `json:"dataset"`
	// InScopeAccuracy is the share of in-scope test rows whose prediction is
	// right and clears the threshold. Without out-of-scope rows and without a
	// threshold it is plain closed-set accuracy.
	InScopeAccuracy float64 `json:"in_scope_accuracy"`
	// OOSRecall is the share of out-of-scope test rows rejected; nil when the
	// test split has none.
	OOSRecall *float64 `json:"oos_recall,omitempty"`
	// ClosedSetAccuracy ignores the threshold (argmax over in-scope labels).
	ClosedSetAccuracy float64 `json:"closed_set_accuracy"`
	// MacroF1 is over all test labels, out-of-scope counting as one label.
	MacroF1 float64 `json:"macro_f1"`
	// Threshold is the confidence threshold used; ThresholdSource says where
	// it came from ("val", "flag", "default" or "none").
	Threshold       float64 `json:"threshold"`
	ThresholdSource string  `json:"threshold_source"`
	// ValAccuracy is the accuracy on the validation split at the threshold,
	// out-of-scope counting as its own class (Larson et al.'s criterion).
	ValAccuracy  *float64 `json:"val_accuracy,omitempty"`
	TrainSeconds float64  `json:"train_seconds"`
	Examples     int      `json:"examples"`
	// DroppedClashing counts training rows left out because identical texts
	// carry different labels.
	DroppedClashing int     `json:"dropped_clashing"`
	Intents         int     `json:"intents"`
	TestRows        int     `json:"test_rows"`
	ClassifyP50US   float64 `json:"classify_p50_us"`
	ClassifyP99US   float64 `json:"classify_p99_us"`
	ModelBytes      int     `json:"model_bytes"`
}

// ErrUsage marks a mistake in the command line itself, as opposed to a
// dataset that cannot be read: the caller exits with status 2 for it.
var ErrUsage = errors.New("usage")

// Command runs `attune eval intents` with args (without the sub-command
// words). It writes the report to stdout and usage or problems to stderr.
func Command(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attune eval intents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clinc := fs.String("clinc", "", "CLINC150 `FILE` as distributed (data_full.json); Larson et al. threshold protocol")
	train := fs.String("train", "", "training CSV `FILE` with header and columns text,category")
	test := fs.String("test", "", "test CSV `FILE` (text,category)")
	val := fs.String("val", "", "optional validation CSV `FILE` (text,category) used to choose the threshold")
	holdout := fs.Float64("holdout", 0, "evaluate on this `FRACTION` of --train held out (every k-th row of each label) instead of --test; for tuning without touching the test split")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	threshold := fs.Float64("threshold", -1, "use this confidence `THRESHOLD` instead of choosing one on the validation split")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: attune eval intents (--clinc FILE | --train FILE (--test FILE | --holdout F) [--val FILE]) [--json] [--threshold T]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	var ds Dataset
	var err error
	switch {
	case *clinc != "" && *train == "":
		ds, err = LoadCLINC(*clinc)
	case *clinc == "" && *train != "" && (*test != "") != (*holdout > 0):
		ds, err = loadCSVDataset(*train, *test, *val, *holdout)
	default:
		fs.Usage()
		return fmt.Errorf("%w: give either --clinc FILE, or --train FILE with exactly one of --test FILE and --holdout F", ErrUsage)
	}
	if err != nil {
		return err
	}
	rep, err := Evaluate(ds, *threshold)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(rep)
	}
	return writeTable(stdout, rep)
}

// Evaluate trains on ds.Train with default options and evaluates on ds.Test.
// A threshold >= 0 is used as is; otherwise it is chosen on ds.Val when the
// validation split has out-of-scope rows, nlu.DefaultThreshold is used when
// only the test split has some, and no threshold is applied when there is
// nothing to reject (closed-set accuracy, as for HWU64).
func Evaluate(ds Dataset, threshold float64) (*Report, error) {
	return EvaluateOptions(ds, threshold, nlu.Options{})
}

// EvaluateOptions is Evaluate with explicit training options, for comparing
// hyper-parameters on validation data; the command always uses the defaults.
func EvaluateOptions(ds Dataset, threshold float64, opt nlu.Options) (*Report, error) {
	train := ds.Train
	if !ds.TrainOOS {
		train = slices.DeleteFunc(slices.Clone(train), func(e nlu.Example) bool { return e.Label == nlu.OutOfScope })
	}
	// Public benchmarks carry a little label noise (HWU64's train split has
	// "please shut off" under two intents). The server would reject such a
	// configuration; the evaluation drops every row of a clashing group, as
	// an owner fixing the config would have to decide, and reports how many.
	var dropped int
	if clashes := nlu.Clashes(train); len(clashes) > 0 {
		drop := map[int]bool{}
		for _, c := range clashes {
			for _, i := range c.Indices {
				drop[i] = true
			}
		}
		kept := make([]nlu.Example, 0, len(train)-len(drop))
		for i, ex := range train {
			if !drop[i] {
				kept = append(kept, ex)
			}
		}
		train, dropped = kept, len(drop)
	}
	start := time.Now()
	model, err := nlu.Train(train, opt)
	if err != nil {
		return nil, fmt.Errorf("train on %s: %w", ds.Name, err)
	}
	rep := &Report{
		Dataset:         ds.Name,
		TrainSeconds:    time.Since(start).Seconds(),
		Examples:        len(train),
		DroppedClashing: dropped,
		ModelBytes:      model.SizeBytes(),
	}
	for _, l := range model.Labels() {
		if l != nlu.OutOfScope {
			rep.Intents++
		}
	}

	switch {
	case threshold >= 0:
		rep.Threshold, rep.ThresholdSource = threshold, "flag"
	case hasOOS(ds.Val):
		preds := classifyAll(model, ds.Val, nil)
		t, acc := ChooseThreshold(ds.Val, preds)
		rep.Threshold, rep.ThresholdSource = t, "val"
		rep.ValAccuracy = &acc
	case hasOOS(ds.Test):
		// Out-of-scope rows to reject but nothing to choose a threshold
		// on: use the product's default, as a new business would.
		rep.Threshold, rep.ThresholdSource = nlu.DefaultThreshold, "default"
	default:
		rep.Threshold, rep.ThresholdSource = 0, "none"
	}

	durations := make([]time.Duration, 0, len(ds.Test))
	preds := classifyAll(model, ds.Test, &durations)
	slices.Sort(durations)
	if len(durations) > 0 {
		rep.ClassifyP50US = float64(durations[len(durations)/2].Nanoseconds()) / 1e3
		rep.ClassifyP99US = float64(durations[len(durations)*99/100].Nanoseconds()) / 1e3
	}
	rep.TestRows = len(ds.Test)

	var inScope, inRight, closedRight, oos, oosRejected int
	gold := make([]string, len(ds.Test))
	got := make([]string, len(ds.Test))
	for i, ex := range ds.Test {
		p := preds[i]
		gold[i] = ex.Label
		got[i] = decide(p, rep.Threshold)
		if ex.Label == nlu.OutOfScope {
			oos++
			if got[i] == nlu.OutOfScope {
				oosRejected++
			}
			continue
		}
		inScope++
		if got[i] == ex.Label {
			inRight++
		}
		if p.Label == ex.Label {
			closedRight++
		}
	}
	if inScope > 0 {
		rep.InScopeAccuracy = float64(inRight) / float64(inScope)
		rep.ClosedSetAccuracy = float64(closedRight) / float64(inScope)
	}
	if oos > 0 {
		r := float64(oosRejected) / float64(oos)
		rep.OOSRecall = &r
	}
	rep.MacroF1 = MacroF1(gold, got)
	return rep, nil
}

// decide applies the threshold to a prediction.
func decide(p nlu.Prediction, threshold float64) string {
	if !p.InScope(threshold) {
		return nlu.OutOfScope
	}
	return p.Label
}

func hasOOS(exs []nlu.Example) bool {
	return slices.ContainsFunc(exs, func(e nlu.Example) bool { return e.Label == nlu.OutOfScope })
}

func classifyAll(m *nlu.Model, exs []nlu.Example, durations *[]time.Duration) []nlu.Prediction {
	preds := make([]nlu.Prediction, len(exs))
	for i, ex := range exs {
		start := time.Now()
		preds[i] = m.Classify(ex.Text)
		if durations != nil {
			*durations = append(*durations, time.Since(start))
		}
	}
	return preds
}

// ChooseThreshold implements the rule of Larson et al. (2019): the threshold
// with the best accuracy on the validation rows, where a prediction below
// the threshold means out-of-scope and out-of-scope is one more class. The
// candidates are the observed confidences (and 0 and 1); among equally good
// thresholds the lowest wins, which keeps the most answers in scope.
func ChooseThreshold(val []nlu.Example, preds []nlu.Prediction) (threshold, accuracy float64) {
	candidates := []float64{0}
	for _, p := range preds {
		candidates = append(candidates, p.Confidence)
	}
	candidates = append(candidates, math.Nextafter(1, 2))
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	// Sweep: with threshold t, an in-scope row is right iff its label is
	// right and conf >= t; an out-of-scope row is right iff conf < t.
	type event struct {
		conf    float64
		inRight bool // in-scope and correctly labelled: right iff conf >= t
		outRow  bool // out-of-scope, predicted in scope: right iff conf < t
	}
	events := make([]event, len(val))
	right := 0 // at t = 0 every row is kept in scope
	for i, ex := range val {
		p := preds[i]
		switch {
		case ex.Label == nlu.OutOfScope && p.Label == nlu.OutOfScope:
			right++ // the model's own out-of-scope class: right at any t
		case ex.Label == nlu.OutOfScope:
			events[i].outRow = true
		case p.Label == ex.Label:
			events[i].inRight = true
			right++
		}
		events[i].conf = p.Confidence
	}
	slices.SortFunc(events, func(a, b event) int { return cmp.Compare(a.conf, b.conf) })
	best, bestT := right, candidates[0]
	j := 0
	for _, t := range candidates[1:] {
		// Rows with conf < t are now rejected.
		for j < len(events) && events[j].conf < t {
			if events[j].inRight {
				right--
			}
			if events[j].outRow {
				right++
			}
			j++
		}
		if right > best {
			best, bestT = right, t
		}
	}
	if len(val) == 0 {
		return 0, 0
	}
	return bestT, float64(best) / float64(len(val))
}

// MacroF1 is the unweighted mean of per-label F1 over every label that
// occurs in gold or got.
func MacroF1(gold, got []string) float64 {
	tp := map[string]int{}
	fp := map[string]int{}
	fn := map[string]int{}
	labels := map[string]bool{}
	for i := range gold {
		labels[gold[i]] = true
		labels[got[i]] = true
		if gold[i] == got[i] {
			tp[gold[i]]++
		} else {
			fp[got[i]]++
			fn[gold[i]]++
		}
	}
	if len(labels) == 0 {
		return 0
	}
	var sum float64
	for l := range labels {
		if d := 2*tp[l] + fp[l] + fn[l]; d > 0 {
			sum += 2 * float64(tp[l]) / float64(d)
		}
	}
	return sum / float64(len(labels))
}

// LoadCLINC reads CLINC150's data_full.json: train on "train" (the oos_train
// rows are kept but not trained, as in the threshold protocol), choose the
// threshold on "val" + "oos_val", test on "test" + "oos_test".
func LoadCLINC(path string) (Dataset, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Dataset{}, fmt.Errorf("load %s: %w", path, err)
	}
	var splits map[string][][2]string
	if err := json.Unmarshal(raw, &splits); err != nil {
		return Dataset{}, fmt.Errorf("load %s: %w", path, err)
	}
	for _, key := range []string{"train", "val", "test", "oos_val", "oos_test"} {
		if len(splits[key]) == 0 {
			return Dataset{}, fmt.Errorf("load %s: split %q is missing or empty; is this CLINC150's data_full.json?", path, key)
		}
	}
	conv := func(keys ...string) []nlu.Example {
		var out []nlu.Example
		for _, k := range keys {
			for _, pair := range splits[k] {
				out = append(out, nlu.Example{Text: pair[0], Label: mapOOS(pair[1])})
			}
		}
		return out
	}
	return Dataset{
		Name:  "clinc150",
		Train: conv("train", "oos_train"),
		Val:   conv("val", "oos_val"),
		Test:  conv("test", "oos_test"),
	}, nil
}

func mapOOS(label string) string {
	if label == clincOOS {
		return nlu.OutOfScope
	}
	return label
}

// LoadCSV reads a CSV file with a header that has the columns text and
// category (in any order, other columns ignored).
func LoadCSV(path string) ([]nlu.Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("load %s: header: %w", path, err)
	}
	textCol, catCol := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "text":
			textCol = i
		case "category":
			catCol = i
		}
	}
	if textCol < 0 || catCol < 0 {
		return nil, fmt.Errorf("load %s: header %q must name the columns text and category", path, header)
	}
	var out []nlu.Example
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		if len(rec) <= max(textCol, catCol) {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("load %s:%d: expected at least %d columns, got %d", path, line, max(textCol, catCol)+1, len(rec))
		}
		out = append(out, nlu.Example{Text: rec[textCol], Label: mapOOS(rec[catCol])})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load %s: no rows", path)
	}
	return out, nil
}

func loadCSVDataset(train, test, val string, holdout float64) (Dataset, error) {
	ds := Dataset{Name: "csv", TrainOOS: true}
	var err error
	if ds.Train, err = LoadCSV(train); err != nil {
		return ds, err
	}
	if holdout > 0 {
		if holdout >= 1 {
			return ds, fmt.Errorf("--holdout %v: must be between 0 and 1", holdout)
		}
		ds.Train, ds.Test = HoldOut(ds.Train, holdout)
		ds.Name = "csv-holdout"
	} else if ds.Test, err = LoadCSV(test); err != nil {
		return ds, err
	}
	if val != "" {
		if ds.Val, err = LoadCSV(val); err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// HoldOut splits examples deterministically: within each label, every
// round(1/fraction)-th example (starting with the last of each stride) goes
// to the held-out part.
func HoldOut(exs []nlu.Example, fraction float64) (rest, held []nlu.Example) {
	stride := max(2, int(math.Round(1/fraction)))
	seen := map[string]int{}
	for _, ex := range exs {
		seen[ex.Label]++
		if seen[ex.Label]%stride == 0 {
			held = append(held, ex)
		} else {
			rest = append(rest, ex)
		}
	}
	return rest, held
}

func writeTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	pct := func(x float64) string { return fmt.Sprintf("%.2f %%", 100*x) }
	fmt.Fprintf(tw, "dataset\t%s\n", r.Dataset)
	fmt.Fprintf(tw, "in-scope accuracy\t%s\n", pct(r.InScopeAccuracy))
	if r.OOSRecall != nil {
		fmt.Fprintf(tw, "out-of-scope recall\t%s\n", pct(*r.OOSRecall))
	}
	fmt.Fprintf(tw, "closed-set accuracy\t%s\n", pct(r.ClosedSetAccuracy))
	fmt.Fprintf(tw, "macro F1\t%.4f\n", r.MacroF1)
	fmt.Fprintf(tw, "threshold\t%.4f (%s)\n", r.Threshold, r.ThresholdSource)
	if r.ValAccuracy != nil {
		fmt.Fprintf(tw, "validation accuracy at threshold\t%s\n", pct(*r.ValAccuracy))
	}
	fmt.Fprintf(tw, "training examples\t%d\n", r.Examples)
	if r.DroppedClashing > 0 {
		fmt.Fprintf(tw, "dropped (clashing labels)\t%d\n", r.DroppedClashing)
	}
	fmt.Fprintf(tw, "intents\t%d\n", r.Intents)
	fmt.Fprintf(tw, "test rows\t%d\n", r.TestRows)
	fmt.Fprintf(tw, "training time\t%.2f s\n", r.TrainSeconds)
	fmt.Fprintf(tw, "classify p50 / p99\t%.1f / %.1f µs\n", r.ClassifyP50US, r.ClassifyP99US)
	fmt.Fprintf(tw, "model size\t%.1f MB\n", float64(r.ModelBytes)/(1<<20))
	return tw.Flush()
}
