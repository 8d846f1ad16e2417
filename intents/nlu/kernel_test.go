package nlu

import (
	"math"
	"testing"
)

func TestExpNeg(t *testing.T) {
	for x := -90.0; x <= 0; x += 0.001 {
		want := math.Exp(x)
		got := expNeg(x)
		if x < -87 {
			if got != 0 {
				t.Fatalf("expNeg(%v) = %v, want 0", x, got)
			}
			continue
		}
		if rel := math.Abs(got-want) / want; rel > 1e-7 {
			t.Fatalf("expNeg(%v) = %v, want %v (relative error %g)", x, got, want, rel)
		}
	}
}

func TestAccumulate(t *testing.T) {
	const k = 7
	w := make([]float32, 10*k)
	for i := range w {
		w[i] = float32(i%13) - 6
	}
	for n := 0; n <= 21; n++ {
		cols := make([]int32, n)
		vals := make([]float32, n)
		for i := range cols {
			cols[i] = int32((i * 3) % 10)
			vals[i] = float32(i) + 0.5
		}
		got := make([]float32, k)
		accumulate(got, w, cols, vals)
		for c := 0; c < k; c++ {
			var want float32
			for i := range cols {
				want += vals[i] * w[int(cols[i])*k+c]
			}
			if math.Abs(float64(got[c]-want)) > 1e-4 {
				t.Fatalf("n=%d class %d: got %v, want %v", n, c, got[c], want)
			}
		}
	}
}
