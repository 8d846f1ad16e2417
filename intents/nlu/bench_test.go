package nlu_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/attune-chat/attune/intents/nlu"
	"github.com/attune-chat/attune/intents/nlu/nlueval"
)

// clincPath is where CI keeps the shared data sets beside the checkout.
var clincPath = filepath.Join("..", "..", "..", "shared", "datasets", "clinc150", "data_full.json")

func loadCLINC(b *testing.B) nlueval.Dataset {
	b.Helper()
	if _, err := os.Stat(clincPath); err != nil {
		b.Skipf("CLINC150 not available at %s (the shared data sets live beside the checkout in CI): %v", clincPath, err)
	}
	ds, err := nlueval.LoadCLINC(clincPath)
	if err != nil {
		b.Fatal(err)
	}
	return ds
}

func inScope(exs []nlu.Example) []nlu.Example {
	var out []nlu.Example
	for _, e := range exs {
		if e.Label != nlu.OutOfScope {
			out = append(out, e)
		}
	}
	return out
}

// BenchmarkTrainCLINC trains on CLINC150's 15,000 training examples, the
// size named by the training-time target (10 s on one core).
func BenchmarkTrainCLINC(b *testing.B) {
	train := inScope(loadCLINC(b).Train)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nlu.Train(train, nlu.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyCLINC classifies CLINC150 validation queries one at a
// time with the CLINC150 model (target: 30 µs per message).
func BenchmarkClassifyCLINC(b *testing.B) {
	ds := loadCLINC(b)
	m, err := nlu.Train(inScope(ds.Train), nlu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Classify(ds.Val[i%len(ds.Val)].Text)
		i++
	}
}
