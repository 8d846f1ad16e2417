package nlueval

import (
	"os"
	"path/filepath"
	"testing"
)

// shared is where CI keeps the public data sets beside the checkout.
var shared = filepath.Join("..", "..", "..", "..", "shared", "datasets")

func skipWithout(b *testing.B, path string) {
	b.Helper()
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s not available (the shared data sets live beside the checkout in CI): %v", path, err)
	}
}

func report(b *testing.B, r *Report) {
	b.ReportMetric(100*r.InScopeAccuracy, "in-scope-%")
	if r.OOSRecall != nil {
		b.ReportMetric(100**r.OOSRecall, "oos-recall-%")
	}
	b.ReportMetric(r.MacroF1, "macro-F1")
	b.ReportMetric(r.Threshold, "threshold")
	b.ReportMetric(r.TrainSeconds, "train-s")
	b.ReportMetric(r.ClassifyP50US, "p50-µs")
	b.ReportMetric(float64(r.ModelBytes)/(1<<20), "model-MB")
}

// BenchmarkEvalCLINC runs the full CLINC150 evaluation (Larson et al.
// threshold protocol), as `attune eval intents --clinc` does. Targets:
// in-scope accuracy >= 93 %, out-of-scope recall >= 55 %.
func BenchmarkEvalCLINC(b *testing.B) {
	path := filepath.Join(shared, "clinc150", "data_full.json")
	skipWithout(b, path)
	ds, err := LoadCLINC(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := Evaluate(ds, -1)
		if err != nil {
			b.Fatal(err)
		}
		report(b, r)
	}
}

// BenchmarkEvalHWU64 runs the HWU64 fold-1 evaluation (closed-set accuracy
// on the 1,076 test rows; target >= 89 %).
func BenchmarkEvalHWU64(b *testing.B) {
	dir := filepath.Join(shared, "hwu64")
	skipWithout(b, filepath.Join(dir, "train.csv"))
	train, err := LoadCSV(filepath.Join(dir, "train.csv"))
	if err != nil {
		b.Fatal(err)
	}
	test, err := LoadCSV(filepath.Join(dir, "test.csv"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := Evaluate(Dataset{Name: "hwu64", Train: train, Test: test, TrainOOS: true}, -1)
		if err != nil {
			b.Fatal(err)
		}
		report(b, r)
	}
}
