package main

import (
	"math"
	"testing"
)

func TestNBRatios(t *testing.T) {
	// Feature 0 only in positives, 1 only in negatives, 2 in both alike.
	data := []sample{
		{idx: []int32{0, 2}, gold: [5]bool{true}},
		{idx: []int32{0, 2}, gold: [5]bool{true}},
		{idx: []int32{1, 2}},
		{idx: []int32{1, 2}},
	}
	r := nbRatios(data, 3, func(s *sample) bool { return s.gold[0] }, 1)
	if want := math.Log(3); math.Abs(r[0]-want) > 1e-12 || math.Abs(r[1]+want) > 1e-12 {
		t.Errorf("ratios %v, want ±log 3 for the one-sided features", r)
	}
	if r[2] != 0 {
		t.Errorf("ratio of a feature shared alike = %v, want 0", r[2])
	}
}

// A naive-Bayes-scaled model is returned folded: its plain logit separates the classes, and
// training is deterministic for a seed.
func TestTrainBinNBFolded(t *testing.T) {
	var data []sample
	for i := 0; i < 200; i++ {
		pos := i%4 == 0
		s := sample{idx: []int32{2}, gold: [5]bool{pos}}
		if pos {
			s.idx = append(s.idx, 0)
		} else {
			s.idx = append(s.idx, 1)
		}
		data = append(data, s)
	}
	y := func(s *sample) bool { return s.gold[0] }
	o := trainOpts{l2: 0.1, epochs: 3, posW: 1, lr: 0.05, seed: 1, nbAlpha: 1}
	m := trainBin(data, 3, y, o)
	if p, n := m.logit(&data[0], 0), m.logit(&data[1], 0); p <= 0 || n >= 0 {
		t.Errorf("logits positive %.3f, negative %.3f: the folded weights do not separate", p, n)
	}
	m2 := trainBin(data, 3, y, o)
	for j := range m.w {
		if m.w[j] != m2.w[j] {
			t.Fatalf("weight %d: %v then %v for the same seed", j, m.w[j], m2.w[j])
		}
	}
}

func TestJointTune(t *testing.T) {
	// Ten texts: 0-3 frustrated, 4-5 anxious, 6-9 neutral. Neutral text 6 scores high on
	// frustration and 7 on anxiety, so each tone's recall costs neutral budget.
	pf := []float64{0.9, 0.8, 0.7, 0.3, 0.1, 0.1, 0.75, 0.1, 0.1, 0.1}
	pa := []float64{0.1, 0.1, 0.1, 0.1, 0.9, 0.4, 0.1, 0.6, 0.1, 0.1}
	gf := []bool{true, true, true, true, false, false, false, false, false, false}
	ga := []bool{false, false, false, false, true, true, false, false, false, false}
	gn := []bool{false, false, false, false, false, false, true, true, true, true}

	// Budget of one neutral text in four, anxiety needing F1 0.6: anxiety keeps only text 4
	// (threshold above 0.6, no neutral cost) and frustration spends the budget on text 6 to
	// reach all four frustrated texts (F1 8/9).
	tf, ta, ff, fa, fp := jointTune(pf, pa, gf, ga, gn, 0.25, 0.6)
	if fp > 0.25 || fa < 0.6 {
		t.Fatalf("fp %.2f, anxiety F1 %.2f: budget or floor broken", fp, fa)
	}
	if tf > 0.3 || math.Abs(ff-8.0/9) > 1e-9 {
		t.Errorf("frustration threshold %.2f F1 %.3f, want <= 0.3 and F1 8/9", tf, ff)
	}
	if ta <= 0.6 {
		t.Errorf("anxiety threshold %.2f, want above the neutral text's 0.6", ta)
	}

	// A floor nothing reaches falls back to the best sum within budget: 8/9 + 2/3 as above
	// beats giving anxiety the neutral slot (4/5 + 2/3).
	_, _, ff, fa, fp = jointTune(pf, pa, gf, ga, gn, 0.25, 1.01)
	if fp > 0.25 || math.Abs(ff+fa-(8.0/9+2.0/3)) > 1e-9 {
		t.Errorf("fallback: fp %.2f, F1 sum %.2f", fp, ff+fa)
	}

	// No budget: nothing neutral may be marked.
	_, _, _, _, fp = jointTune(pf, pa, gf, ga, gn, 0, 0)
	if fp != 0 {
		t.Errorf("zero budget marked %.2f of neutral texts", fp)
	}
}
