package nlu

import "math"

// accumulate adds sum_p vals[p] * w[cols[p]] to scores, where w holds one
// row of len(scores) class weights per column. Eight rows are folded per
// pass so that scores is loaded and stored once per eight multiply-adds:
// against four rows per pass, a CLINC150 classification takes 3-5 % less
// CPU time on this machine (two model instances interleaved in one
// process), with the same validation figures. This is the hot loop of both
// training and classification.
func accumulate(scores []float32, w []float32, cols []int32, vals []float32) {
	k := len(scores)
	vals = vals[:len(cols)]
	p := 0
	for ; p+8 <= len(cols); p += 8 {
		cs, vs := cols[p:p+8:p+8], vals[p:p+8:p+8]
		o0, o1, o2, o3 := int(cs[0])*k, int(cs[1])*k, int(cs[2])*k, int(cs[3])*k
		o4, o5, o6, o7 := int(cs[4])*k, int(cs[5])*k, int(cs[6])*k, int(cs[7])*k
		r0, r1, r2, r3 := w[o0:o0+k], w[o1:o1+k], w[o2:o2+k], w[o3:o3+k]
		r4, r5, r6, r7 := w[o4:o4+k], w[o5:o5+k], w[o6:o6+k], w[o7:o7+k]
		r0, r1, r2, r3 = r0[:len(scores)], r1[:len(scores)], r2[:len(scores)], r3[:len(scores)]
		r4, r5, r6, r7 = r4[:len(scores)], r5[:len(scores)], r6[:len(scores)], r7[:len(scores)]
		x0, x1, x2, x3, x4, x5, x6, x7 := vs[0], vs[1], vs[2], vs[3], vs[4], vs[5], vs[6], vs[7]
		for c := range scores {
			scores[c] += (x0*r0[c] + x1*r1[c] + x2*r2[c] + x3*r3[c]) + (x4*r4[c] + x5*r5[c] + x6*r6[c] + x7*r7[c])
		}
	}
	if p+4 <= len(cols) {
		o0, o1, o2, o3 := int(cols[p])*k, int(cols[p+1])*k, int(cols[p+2])*k, int(cols[p+3])*k
		r0, r1, r2, r3 := w[o0:o0+k], w[o1:o1+k], w[o2:o2+k], w[o3:o3+k]
		r0, r1, r2, r3 = r0[:len(scores)], r1[:len(scores)], r2[:len(scores)], r3[:len(scores)]
		x0, x1, x2, x3 := vals[p], vals[p+1], vals[p+2], vals[p+3]
		for c := range scores {
			scores[c] += x0*r0[c] + x1*r1[c] + x2*r2[c] + x3*r3[c]
		}
		p += 4
	}
	for ; p < len(cols); p++ {
		o := int(cols[p]) * k
		r := w[o : o+k]
		r = r[:len(scores)]
		x := vals[p]
		for c := range scores {
			scores[c] += x * r[c]
		}
	}
}

// expNeg returns e^x for x <= 0 with a relative error below 1e-7, several
// times faster than math.Exp; softmax calls it once per class per message.
// Arguments below -87 give 0.
func expNeg(x float64) float64 {
	if x < -87 {
		return 0
	}
	// e^x = 2^n * e^r with |r| <= ln2/2.
	const ln2Hi, ln2Lo, invLn2 = 6.93147180369123816490e-01, 1.90821492927058770002e-10, 1.44269504088896338700e+00
	n := math.Floor(x*invLn2 + 0.5)
	r := x - n*ln2Hi - n*ln2Lo
	// Taylor polynomial to degree 7 (|r| <= 0.347: error < 2e-9).
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return math.Float64frombits(math.Float64bits(p) + uint64(int64(n))<<52)
}
