package nlu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sliceModel trains on the CLINC150 slice in testdata.
func sliceModel(t testing.TB) (*Model, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "clinc150_slice.json"))
	if err != nil {
		t.Fatal(err)
	}
	var splits map[string][][2]string
	if err := json.Unmarshal(raw, &splits); err != nil {
		t.Fatal(err)
	}
	var exs []Example
	var texts []string
	for _, p := range splits["train"] {
		exs = append(exs, Example{Label: p[1], Text: p[0]})
		texts = append(texts, p[0])
	}
	for _, p := range splits["val"] {
		texts = append(texts, p[0])
	}
	m, err := Train(exs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m, texts
}

// TestVectorizeTextMatchesTraining checks that Classify's vectors, built
// with the lexicon, are bit for bit those of the training path (extract,
// then vectorize), for known words, unknown words, one-word texts and the
// other feature configurations.
func TestVectorizeTextMatchesTraining(t *testing.T) {
	_, texts := sliceModel(t)
	texts = append(texts, "", "translate", "TRANSLATE this", "zzqx", "pin pin pin pin", "weather", "what's the weather in paris, france?",
		"book a flight book a flight", strings.Repeat("supercalifragilistic", 3)+" weather", "Привет weather 你好", "\xff weather")
	for _, opt := range []Options{{}, {WordNgrams: 1}, {WordNgrams: 3}, {CharMax: -1}, {CharMin: 3, CharMax: 5}, {SublinearTF: true, DropUnknown: true, WordWeight: 0.5}} {
		var exs []Example
		for i, s := range texts[:len(texts)/2] {
			exs = append(exs, Example{Label: []string{"a", "b", "c"}[i%3], Text: s})
		}
		mo, err := Train(exs, opt)
		if err != nil {
			t.Fatalf("train with %+v: %v", opt, err)
		}
		for _, text := range texts {
			var f rawFeatures
			var want, got sparse
			mo.fc.extract(text, &f)
			mo.voc.vectorize(&mo.fc, &f, &want)
			var cf classifyFeatures
			mo.vectorizeText(text, &cf, &got)
			if !slices.Equal(got.cols, want.cols) || !slices.Equal(got.vals, want.vals) || got.split != want.split {
				t.Errorf("options %+v, %q: vectorizeText = %v %v (split %d), want %v %v (split %d)", opt, text, got.cols, got.vals, got.split, want.cols, want.vals, want.split)
			}
		}
	}
}

// TestScoreDenseMatchesBlock checks that scoring the dense block through
// the per-word projections gives the scores of its columns (up to float32
// rounding), and that a text with a word vector unseen in training, which
// has no projection, is scored through the columns.
func TestScoreDenseMatchesBlock(t *testing.T) {
	m, texts := sliceModel(t)
	texts = append(texts, "weather", "the weather in paris", "translate hello", "pin pin pin", "zzqx")
	projected := 0
	for _, text := range texts {
		var cf classifyFeatures
		var vec sparse
		m.vectorizeText(text, &cf, &vec)
		want := slices.Clone(m.bias)
		accumulate(want, m.w, vec.cols, vec.vals)
		got := slices.Clone(m.bias)
		if !m.scoreDense(&vec, got) {
			continue
		}
		projected++
		for c := range want {
			if d := got[c] - want[c]; d > 1e-4 || d < -1e-4 {
				t.Errorf("%q class %d: projected score %v, block score %v", text, c, got[c], want[c])
			}
		}
	}
	if projected < len(texts)/2 {
		t.Errorf("only %d of %d texts scored through projections", projected, len(texts))
	}
	var cf classifyFeatures
	var vec sparse
	m.vectorizeText("weather in helsinki", &cf, &vec) // "helsinki" is in GloVe, not in the slice
	if vec.denseAt < 0 {
		t.Fatal("no dense block for a text of common words")
	}
	if m.scoreDense(&vec, make([]float32, m.k)) {
		t.Error("a word seen only in GloVe was scored through a projection it cannot have")
	}
}
