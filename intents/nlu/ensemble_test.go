package nlu

import (
	"math"
	"testing"
)

// naiveBayesReference computes the centred naive Bayes log-probabilities of
// the documentation (counts of the examples with a feature) directly, class
// by class, in float64.
func naiveBayesReference(rows [][]float32, y []int32, k, nFeatures int, alpha float64) [][]float64 {
	sum := make([][]float64, k) // class -> feature -> summed value
	for c := range sum {
		sum[c] = make([]float64, nFeatures)
	}
	for i, r := range rows {
		for f, v := range r {
			if v != 0 {
				sum[y[i]][f]++ // presence, whatever the value
			}
		}
	}
	out := make([][]float64, nFeatures) // feature -> class
	for f := range out {
		out[f] = make([]float64, k)
		var mean float64
		for c := 0; c < k; c++ {
			var total float64
			for _, v := range sum[c] {
				total += v
			}
			out[f][c] = math.Log((sum[c][f] + alpha) / (total + alpha*float64(nFeatures)))
			mean += out[f][c] / float64(k)
		}
		for c := range out[f] {
			out[f][c] -= mean
		}
	}
	return out
}

// denseCSR turns dense rows into the sparse matrix training uses.
func denseCSR(rows [][]float32) *csr {
	x := &csr{rowPtr: []int32{0}}
	for _, r := range rows {
		for f, v := range r {
			if v != 0 {
				x.cols = append(x.cols, int32(f))
				x.vals = append(x.vals, v)
			}
		}
		x.rowPtr = append(x.rowPtr, int32(len(x.cols)))
	}
	return x
}

func TestNaiveBayes(t *testing.T) {
	rows := [][]float32{
		{0.8, 0.6, 0, 0},
		{0.6, 0, 0.8, 0},
		{0, 0, 0.6, 0.8},
		{0, 0.3, 0, 0.95},
		{0.5, 0.5, 0.5, 0.5},
	}
	y := []int32{0, 0, 1, 2, 2}
	const k, nFeatures = 3, 4
	for _, alpha := range []float64{0.001, 1} {
		nb := make([]float32, nFeatures*k)
		for i := range nb {
			nb[i] = 42 // must be overwritten, not added to
		}
		naiveBayes(nb, denseCSR(rows), y, k, alpha)
		want := naiveBayesReference(rows, y, k, nFeatures, alpha)
		for f := 0; f < nFeatures; f++ {
			for c := 0; c < k; c++ {
				if got := float64(nb[f*k+c]); math.Abs(got-want[f][c]) > 1e-5 {
					t.Errorf("alpha %v feature %d class %d: got %v, want %v", alpha, f, c, got, want[f][c])
				}
			}
		}
	}
	// Feature 0 occurs in both examples of class 0 and in one of class 2,
	// never in class 1.
	nb := make([]float32, nFeatures*k)
	naiveBayes(nb, denseCSR(rows), y, k, naiveBayesAlpha)
	if !(nb[0] > nb[2] && nb[2] > nb[1]) {
		t.Errorf("feature 0 weights %v: want class 0 > class 2 > class 1", nb[:3])
	}
	// Counts are presences: the same non-zero pattern with other values
	// gives the same weights.
	scaled := make([][]float32, len(rows))
	for i, r := range rows {
		scaled[i] = make([]float32, len(r))
		for f, v := range r {
			scaled[i][f] = v * float32(1+i+3*f)
		}
	}
	nb2 := make([]float32, nFeatures*k)
	naiveBayes(nb2, denseCSR(scaled), y, k, naiveBayesAlpha)
	for i := range nb {
		if math.Abs(float64(nb[i]-nb2[i])) > 1e-6 {
			t.Fatalf("weight %d is %v with the values scaled, %v without: want presence counts", i, nb2[i], nb[i])
		}
	}
}

// TestEnsembleFolds checks that the default model's weights are the
// documented combination of its parts, each trained on its own, naive Bayes
// counting the hashed features only (its rows of the dense block are zero).
func TestEnsembleFolds(t *testing.T) {
	exs := []Example{
		{"refund", "i want a refund"}, {"refund", "can i get my money back"}, {"refund", "refund my order please"},
		{"hours", "when are you open"}, {"hours", "what are your opening hours"}, {"hours", "are you open on sunday"},
		{"track", "where is my order"}, {"track", "track my package"}, {"track", "my parcel has not arrived"},
	}
	ens, err := Train(exs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	logit, err := Train(exs, Options{Loss: Logistic, Epochs: ensembleEpochs})
	if err != nil {
		t.Fatal(err)
	}
	hinge, err := Train(exs, Options{Loss: SquaredHinge, Epochs: ensembleEpochs})
	if err != nil {
		t.Fatal(err)
	}
	if ens.invTemp != 1 || len(ens.w) != len(logit.w) || len(ens.w) != len(hinge.w) {
		t.Fatalf("ensemble has temperature %v and %d weights, logistic %d, hinge %d", 1/ens.invTemp, len(ens.w), len(logit.w), len(hinge.w))
	}
	nFeatures := len(ens.voc.idf)
	if d := ens.fc.denseCols(); d != 100 || len(ens.w) != (nFeatures+d)*ens.k {
		t.Fatalf("%d weights for %d hashed columns, %d dense and %d classes", len(ens.w), nFeatures, d, ens.k)
	}
	rows := make([][]float32, len(exs))
	y := make([]int32, len(exs))
	var f rawFeatures
	var v sparse
	for i, ex := range exs {
		ens.fc.extract(ex.Text, &f)
		ens.voc.vectorize(&ens.fc, &f, &v)
		rows[i] = make([]float32, nFeatures)
		for p, col := range v.cols {
			if int(col) < nFeatures {
				rows[i][col] = v.vals[p]
			}
		}
		for c, l := range ens.labels {
			if l == ex.Label {
				y[i] = int32(c)
			}
		}
	}
	nb := naiveBayesReference(rows, y, ens.k, nFeatures, naiveBayesAlpha)
	for col := 0; col < len(ens.w)/ens.k; col++ {
		for c := 0; c < ens.k; c++ {
			i := col*ens.k + c
			want := ensembleLogistic*float64(logit.w[i]) + ensembleHinge/defaultHingeTemperature*float64(hinge.w[i])
			if col < nFeatures {
				want += ensembleNaiveBayes * nb[col][c]
			}
			if got := float64(ens.w[i]); math.Abs(got-want) > 1e-5*max(1, math.Abs(want)) {
				t.Fatalf("weight of column %d class %d: got %v, want %v", col, c, got, want)
			}
		}
	}
	for c := range ens.bias {
		if want := float32(ensembleLogistic) * logit.bias[c]; math.Abs(float64(ens.bias[c]-want)) > 1e-6 {
			t.Errorf("bias %d: got %v, want %v", c, ens.bias[c], want)
		}
	}
}

func TestVocabColumn(t *testing.T) {
	// 5 buckets give a 16-slot table: buckets equal modulo 16 collide and
	// must be found by probing; 15 and 31 wrap around the table's end.
	buckets := []uint32{3, 19, 35, 15, 31}
	v := newVocab(buckets, make([]float32, len(buckets)))
	if len(v.slots) != 16 {
		t.Fatalf("table of %d slots, want 16", len(v.slots))
	}
	for col, b := range buckets {
		if got := v.column(b); got != int32(col) {
			t.Errorf("column(%d) = %d, want %d", b, got, col)
		}
	}
	for _, b := range []uint32{0, 51, 47, 4, 1<<20 - 1} {
		if got := v.column(b); got != -1 {
			t.Errorf("column(%d) = %d for a bucket never seen, want -1", b, got)
		}
	}
}
