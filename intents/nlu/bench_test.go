package nlu_test

import (
	"os"
	"path/filepath"
	"runtime"
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
// size named by the training-time target (10 s on one core). It also
// reports the heap the trained model keeps (target: 64 MB).
func BenchmarkTrainCLINC(b *testing.B) {
	train := inScope(loadCLINC(b).Train)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nlu.Train(train, nlu.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := nlu.Train(train, nlu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "model-MB")
	b.ReportMetric(float64(m.SizeBytes())/(1<<20), "est-model-MB")
	runtime.KeepAlive(m)
}

// BenchmarkClassifyFixture classifies with a small support-desk model, the
// size of a typical business configuration; it needs no shared data.
func BenchmarkClassifyFixture(b *testing.B) {
	m := trainSupport(b)
	texts := []string{"I'd like my money back", "are you open on sunday", "where's my parcel", "i forgot my password", "cancel it please"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Classify(texts[i%len(texts)])
		i++
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
	i := 0
	for b.Loop() {
		m.Classify(ds.Val[i%len(ds.Val)].Text)
		i++
	}
}
