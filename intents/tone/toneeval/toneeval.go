// Package toneeval implements `attune eval tone`: VADER conformance and the paper's protocol
// on VADER's corpora, per-tone figures on GoEmotions, figures on any labelled CSV, and the
// analyzer's median latency.
package toneeval

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/intents/tone/internal/goemo"
)

// PRF holds one tone's precision, recall and F1.
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Corpus holds the VADER figures of one ground-truth corpus.
type Corpus struct {
	Name        string  `json:"name"`
	Texts       int     `json:"texts"`
	Conformance float64 `json:"conformance"`
	F1          float64 `json:"f1"`
	R           float64 `json:"r"`
	RefF1       float64 `json:"reference_f1"`
	RefR        float64 `json:"reference_r"`
}

// Report is every figure of one run; absent parts are omitted.
type Report struct {
	PerTone          map[string]PRF `json:"per_tone,omitempty"`
	MacroF1          *float64       `json:"macro_f1,omitempty"`
	FrustrationF1    *float64       `json:"frustration_f1,omitempty"`
	ApologyFPRate    *float64       `json:"apology_fp_rate,omitempty"`
	GoEmotionsSplit  string         `json:"goemotions_split,omitempty"`
	VaderConformance *float64       `json:"vader_conformance,omitempty"`
	VaderCorpora     []Corpus       `json:"vader_corpora,omitempty"`
	TestFile         map[string]PRF `json:"test_file_per_tone,omitempty"`
	AnalyzeP50us     float64        `json:"analyze_p50_us"`
}

// ErrUsage marks a mistake in the command line itself, as opposed to a
// dataset that cannot be read: the caller exits with status 2 for it.
var ErrUsage = errors.New("usage")

// Command runs `attune eval tone` with args (without the "eval tone" words).
func Command(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval tone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vaderDir := fs.String("vader", "", "VADER dataset folder (ground_truth/, reference_scores/)")
	goDir := fs.String("goemotions", "", "GoEmotions folder (test.tsv)")
	split := fs.String("split", "test", "GoEmotions split to report: test or dev")
	testFile := fs.String("test", "", "CSV file with header text,tones (tones separated by |)")
	asJSON := fs.Bool("json", false, "print one JSON object with every figure")
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
	if *vaderDir == "" && *goDir == "" && *testFile == "" {
		fs.Usage()
		return fmt.Errorf("%w: give at least one of --vader DIR, --goemotions DIR, --test FILE", ErrUsage)
	}
	a := tone.New()
	var rep Report
	var text strings.Builder
	if *vaderDir != "" {
		if err := evalVader(a, *vaderDir, &rep, &text); err != nil {
			return err
		}
	}
	if *goDir != "" {
		if *split != "test" && *split != "dev" {
			return fmt.Errorf("%w: --split %q: want test or dev (train is what the weights learned from)", ErrUsage, *split)
		}
		if err := evalGoEmotions(a, filepath.Join(*goDir, *split+".tsv"), &rep, &text); err != nil {
			return err
		}
		rep.GoEmotionsSplit = *split
	}
	if *testFile != "" {
		if err := evalCSV(a, *testFile, &rep, &text); err != nil {
			return err
		}
	}
	rep.AnalyzeP50us = latencyP50(a)
	fmt.Fprintf(&text, "analyze one 20-word message: p50 %.2f us\n", rep.AnalyzeP50us)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err := io.WriteString(stdout, text.String())
	return err
}

var corpora = []string{"tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets"}

func evalVader(a *tone.Analyzer, dir string, rep *Report, out *strings.Builder) error {
	total, within := 0, 0
	fmt.Fprintf(out, "VADER (%s)\n%-22s %7s %12s %8s %8s %8s %8s\n", dir, "corpus", "texts", "conformance", "F1", "r", "ref F1", "ref r")
	for _, name := range corpora {
		gt, err := readGroundTruth(filepath.Join(dir, "ground_truth", name+"_GroundTruth.txt"))
		if err != nil {
			return err
		}
		ref, err := readReference(filepath.Join(dir, "reference_scores", name+"_vader_reference.tsv"))
		if err != nil {
			return err
		}
		c := Corpus{Name: name, Texts: len(gt)}
		var gold, got, refs []float64
		ok := 0
		for _, row := range gt {
			r, found := ref[row.id]
			if !found {
				return fmt.Errorf("eval tone: %s: id %s missing from reference scores", name, row.id)
			}
			v := a.Valence(row.text).Compound
			if math.Abs(v-r) <= 5e-4 {
				ok++
			}
			gold, got, refs = append(gold, row.mean), append(got, v), append(refs, r)
		}
		c.Conformance = float64(ok) / float64(len(gt))
		c.F1, c.R = weightedF1(gold, got), pearson(gold, got)
		c.RefF1, c.RefR = weightedF1(gold, refs), pearson(gold, refs)
		total += len(gt)
		within += ok
		rep.VaderCorpora = append(rep.VaderCorpora, c)
		fmt.Fprintf(out, "%-22s %7d %11.3f%% %8.3f %8.3f %8.3f %8.3f\n", name, c.Texts, 100*c.Conformance, c.F1, c.R, c.RefF1, c.RefR)
	}
	conf := float64(within) / float64(total)
	rep.VaderConformance = &conf
	fmt.Fprintf(out, "conformance: %d of %d texts within 5e-4 of vaderSentiment 3.3.2 (%.3f%%)\n\n", within, total, 100*conf)
	return nil
}

type gtRow struct {
	id, text string
	mean     float64
}

func readGroundTruth(path string) ([]gtRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var rows []gtRow
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("load %s: line %d: want 3 tab-separated fields", path, n+1)
		}
		m, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("load %s: line %d: %w", path, n+1, err)
		}
		rows = append(rows, gtRow{id: f[0], mean: m, text: f[2]})
	}
	return rows, nil
}

func readReference(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		if n == 0 {
			continue
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 3 {
			return nil, fmt.Errorf("load %s: line %d: want id, gold_mean, compound", path, n+1)
		}
		v, err := strconv.ParseFloat(fs[2], 64)
		if err != nil {
			return nil, fmt.Errorf("load %s: line %d: %w", path, n+1, err)
		}
		out[fs[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return out, nil
}

func class3(x, band float64) int {
	switch {
	case x >= band && x > 0:
		return 1
	case x <= -band && x < 0:
		return -1
	}
	return 0
}

// weightedF1 is the paper's protocol as reproduced in the dataset README: gold is the sign of
// the human mean, prediction uses ±0.05, F1 is averaged over the three classes by support.
func weightedF1(gold, pred []float64) float64 {
	var tp, fp, fn, sup [3]int
	for i := range gold {
		g, p := class3(gold[i], 0)+1, class3(pred[i], 0.05)+1
		sup[g]++
		if g == p {
			tp[g]++
		} else {
			fp[p]++
			fn[g]++
		}
	}
	f1, n := 0.0, 0
	for c := 0; c < 3; c++ {
		f1 += float64(sup[c]) * prf(tp[c], fp[c], fn[c]).F1
		n += sup[c]
	}
	return f1 / float64(n)
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, syy, sxy float64
	for i := range x {
		sx, sy = sx+x[i], sy+y[i]
		sxx, syy, sxy = sxx+x[i]*x[i], syy+y[i]*y[i], sxy+x[i]*y[i]
	}
	d := math.Sqrt((n*sxx - sx*sx) * (n*syy - sy*sy))
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func prf(tp, fp, fn int) PRF {
	var r PRF
	if tp+fp > 0 {
		r.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r.Recall = float64(tp) / float64(tp+fn)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	r.Support = tp + fn
	return r
}

// predicted reports the analyzer's decision for one tone name, neutral included.
func predicted(res tone.Result, name string) bool {
	if name == tone.Neutral {
		return res.Dominant == tone.Neutral
	}
	return res.Scores[name] >= tone.DecisionPoint
}

func evalGoEmotions(a *tone.Analyzer, path string, rep *Report, out *strings.Builder) error {
	data, err := goemo.Load(path)
	if err != nil {
		return err
	}
	var tp, fp, fn [5]int
	neutral, apology := 0, 0
	for _, ex := range data {
		res := a.Analyze(ex.Text)
		for t, name := range goemo.Tones {
			p := predicted(res, name)
			switch {
			case p && ex.Gold[t]:
				tp[t]++
			case p:
				fp[t]++
			case ex.Gold[t]:
				fn[t]++
			}
		}
		if ex.Gold[4] {
			neutral++
			if predicted(res, "frustration") || predicted(res, "anxiety") {
				apology++
			}
		}
	}
	rep.PerTone = map[string]PRF{}
	macro := 0.0
	fmt.Fprintf(out, "GoEmotions %s (%d texts)\n%-12s %9s %9s %9s %8s\n", path, len(data), "tone", "precision", "recall", "F1", "support")
	for t, name := range goemo.Tones {
		r := prf(tp[t], fp[t], fn[t])
		rep.PerTone[name] = r
		macro += r.F1
		fmt.Fprintf(out, "%-12s %9.3f %9.3f %9.3f %8d\n", name, r.Precision, r.Recall, r.F1, r.Support)
	}
	macro /= float64(len(goemo.Tones))
	frus := rep.PerTone["frustration"].F1
	fpRate := float64(apology) / float64(max(neutral, 1))
	rep.MacroF1, rep.FrustrationF1, rep.ApologyFPRate = &macro, &frus, &fpRate
	fmt.Fprintf(out, "macro-F1 (5 tones) %.3f, frustrated-vs-not F1 %.3f, apology false-positive rate on neutral %.3f (%d of %d)\n\n",
		macro, frus, fpRate, apology, neutral)
	return nil
}

func evalCSV(a *tone.Analyzer, path string, rep *Report, out *strings.Builder) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("load %s: header: %w", path, err)
	}
	ti, gi := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "text":
			ti = i
		case "tones":
			gi = i
		}
	}
	if ti < 0 || gi < 0 {
		return fmt.Errorf("load %s: header must name the columns text and tones", path)
	}
	names := append(append([]string{}, tone.Tones...), tone.Neutral)
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	tp, fp, fn := map[string]int{}, map[string]int{}, map[string]int{}
	rows := 0
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", path, err)
		}
		gold := map[string]bool{}
		for _, g := range strings.Split(rec[gi], "|") {
			g = strings.ToLower(strings.TrimSpace(g))
			if g == "" {
				continue
			}
			if !known[g] {
				return fmt.Errorf("load %s: line %d: unknown tone %q (want one of %s)", path, line, g, strings.Join(names, ", "))
			}
			gold[g] = true
		}
		if len(gold) == 0 {
			gold[tone.Neutral] = true
		}
		res := a.Analyze(rec[ti])
		for _, n := range names {
			p := predicted(res, n)
			switch {
			case p && gold[n]:
				tp[n]++
			case p:
				fp[n]++
			case gold[n]:
				fn[n]++
			}
		}
		rows++
	}
	rep.TestFile = map[string]PRF{}
	fmt.Fprintf(out, "%s (%d texts)\n%-12s %9s %9s %9s %8s\n", path, rows, "tone", "precision", "recall", "F1", "support")
	sort.Strings(names)
	for _, n := range names {
		p := prf(tp[n], fp[n], fn[n])
		if p.Support == 0 && fp[n] == 0 {
			continue
		}
		rep.TestFile[n] = p
		fmt.Fprintf(out, "%-12s %9.3f %9.3f %9.3f %8d\n", n, p.Precision, p.Recall, p.F1, p.Support)
	}
	fmt.Fprintln(out)
	return nil
}

// LatencyText is the 20-word support message timed for analyze_p50_us.
const LatencyText = "I have been waiting for two hours and my order still has not arrived, can you please check it now?"

// latencyP50 times Analyze on LatencyText one call at a time and returns the median in µs.
func latencyP50(a *tone.Analyzer) float64 {
	const n = 3001
	for i := 0; i < 200; i++ {
		a.Analyze(LatencyText)
	}
	d := make([]float64, n)
	for i := range d {
		start := time.Now()
		a.Analyze(LatencyText)
		d[i] = float64(time.Since(start).Nanoseconds()) / 1000
	}
	sort.Float64s(d)
	return math.Round(d[n/2]*100) / 100
}
