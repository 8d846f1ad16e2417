package wordvec

import (
	"bytes"
	"math"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	words := []string{"refund", "money", "refund", "été"}
	vecs := [][]float32{{0.5, -1.27, 0}, {2.54, 0.01, -0.02}, {9, 9, 9}, {0, 0, 0}}
	var buf bytes.Buffer
	if err := Encode(&buf, words, vecs); err != nil {
		t.Fatal(err)
	}
	tab, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 3 || tab.Dim() != 3 {
		t.Fatalf("Len %d Dim %d, want 3 and 3 (the repeated word dropped)", tab.Len(), tab.Dim())
	}
	for _, tc := range []struct {
		word string
		row  int32
		want []float32
	}{
		{"refund", 0, vecs[0]}, {"money", 1, vecs[1]}, {"été", 2, vecs[3]},
	} {
		r := tab.Row(tc.word)
		if r != tc.row {
			t.Fatalf("Row(%q) = %d, want %d", tc.word, r, tc.row)
		}
		q, scale := tab.Vector(r)
		for j, x := range tc.want {
			got := scale * float32(int8(q[j]))
			if math.Abs(float64(got-x)) > float64(scale)/2+1e-7 {
				t.Errorf("%q component %d: %v after rounding, want %v (scale %v)", tc.word, j, got, x, scale)
			}
		}
	}
	if r := tab.Row("banana"); r != -1 {
		t.Errorf("Row of a missing word = %d, want -1", r)
	}
}

func TestEncodeRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		words []string
		vecs  [][]float32
	}{
		"no words":        {nil, nil},
		"count mismatch":  {[]string{"a", "b"}, [][]float32{{1}}},
		"ragged":          {[]string{"a", "b"}, [][]float32{{1, 2}, {1}}},
		"zero dimensions": {[]string{"a"}, [][]float32{{}}},
	} {
		if err := Encode(&bytes.Buffer{}, tc.words, tc.vecs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, []string{"a", "bb"}, [][]float32{{1, 2}, {3, 4}}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for name, data := range map[string][]byte{
		"empty":       nil,
		"bad magic":   append([]byte("XXXX\x01"), good[5:]...),
		"truncated":   good[:len(good)-1],
		"extra bytes": append(bytes.Clone(good), 0),
		"cut in word": good[:13],
	} {
		if _, err := Decode(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDefaultTable checks the embedded table: its size, GloVe's order and
// values, and that it means something ("refund" nearer "reimbursement" than
// "banana").
func TestDefaultTable(t *testing.T) {
	tab, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 50000 || tab.Dim() != 100 {
		t.Fatalf("Len %d Dim %d, want 50000 and 100", tab.Len(), tab.Dim())
	}
	if r := tab.Row("the"); r != 0 {
		t.Errorf(`Row("the") = %d, want 0 (GloVe's most frequent word)`, r)
	}
	// GloVe 6B 100d's first components of "the".
	q, scale := tab.Vector(0)
	for j, want := range []float32{-0.038194, -0.24487, 0.72812} {
		if got := scale * float32(int8(q[j])); math.Abs(float64(got-want)) > float64(scale)/2+1e-6 {
			t.Errorf("the[%d] = %v, want %v", j, got, want)
		}
	}
	cos := func(a, b string) float64 {
		ra, rb := tab.Row(a), tab.Row(b)
		if ra < 0 || rb < 0 {
			t.Fatalf("%q or %q missing", a, b)
		}
		qa, _ := tab.Vector(ra)
		qb, _ := tab.Vector(rb)
		var ab, aa, bb float64
		for j := range qa {
			x, y := float64(int8(qa[j])), float64(int8(qb[j]))
			ab, aa, bb = ab+x*y, aa+x*x, bb+y*y
		}
		return ab / math.Sqrt(aa*bb)
	}
	if near, far := cos("refund", "reimbursement"), cos("refund", "banana"); near <= far {
		t.Errorf("cos(refund, reimbursement) = %.3f, not above cos(refund, banana) = %.3f", near, far)
	}
}
