package tone

import (
	"bufio"
	"compress/gzip"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

type refRow struct {
	corpus, id, text        string
	gold                    float64
	compound, neg, neu, pos float64
}

func loadReference(t testing.TB) []refRow {
	t.Helper()
	f, err := os.Open("testdata/vader_reference.tsv.gz")
	if err != nil {
		t.Fatalf("open reference: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gunzip reference: %v", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var rows []refRow
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.SplitN(sc.Text(), "\t", 8)
		if len(f) != 8 {
			t.Fatalf("bad reference row %q", sc.Text())
		}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("bad number %q: %v", s, err)
			}
			return v
		}
		rows = append(rows, refRow{corpus: f[0], id: f[1], gold: num(f[2]), compound: num(f[3]), neg: num(f[4]), neu: num(f[5]), pos: num(f[6]), text: f[7]})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read reference: %v", err)
	}
	return rows
}

func TestVADERConformance(t *testing.T) {
	rows := loadReference(t)
	if len(rows) != 23703 {
		t.Fatalf("reference rows = %d, want 23703", len(rows))
	}
	a := New()
	bad, badParts := 0, 0
	for _, r := range rows {
		v := a.Valence(r.text)
		if math.Abs(v.Pos-r.pos) > 1.5e-3 || math.Abs(v.Neg-r.neg) > 1.5e-3 || math.Abs(v.Neu-r.neu) > 1.5e-3 {
			badParts++
		}
		if math.Abs(v.Compound-r.compound) > 5e-4 {
			bad++
			if bad <= 20 {
				t.Logf("%s/%s: got %.4f want %.4f: %q", r.corpus, r.id, v.Compound, r.compound, r.text)
			}
		}
	}
	share := 1 - float64(bad)/float64(len(rows))
	t.Logf("conformance %.4f%% (%d of %d differ)", 100*share, bad, len(rows))
	if badParts > len(rows)/1000 {
		t.Errorf("pos/neg/neu differ on %d texts", badParts)
	}
	if share < 0.999 {
		t.Errorf("conformance %.4f < 0.999", share)
	}
}
