package tone

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attune-chat/attune/internal/digestfile"
)

// The golden test pins Analyze's full output (scores, dominant tone, intensity, evidence) on
// about 32,000 texts, so that a speed-up can show it changes nothing. The golden file keeps a
// 64-bit digest of each result's JSON rather than the JSON itself: GoEmotions comments must not
// ship in testdata, and a digest is enough to prove identity. On a mismatch the test prints the
// current JSON; to see the old one, regenerate at the previous commit.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/analyze_golden.tsv.gz from the current Analyze")

const goldenPath = "testdata/analyze_golden.tsv.gz"

// goldenSupport are support-chat messages that exercise cues, negation, capitals, digits,
// questions, evidence merging and non-ASCII words, which the review corpora rarely do.
var goldenSupport = []string{
	"",
	"I have been waiting for two hours and my order still has not arrived, can you please check it now?",
	"This is the THIRD time I've asked. Still waiting!!! Unacceptable.",
	"I'm not worried at all, just curious how the refund works",
	"I don't understand what you mean?? Which one do I pick?",
	"thanks for nothing, you people are useless",
	"That fixed it, you're the best! Thank you so much :)",
	"URGENT: my flight leaves at 6am and the booking vanished",
	"Not bad but slow. Not confused, not frustrated, but not happy either",
	"why is my account locked out again?",
	"Waited for 3 days, been refunded? no. still hasn't arrived",
	"kind of annoyed, sort of ok, just enough info… ‘not sure what’ to do",
	"Привет, мне нужна помощь 😡 我的订单在哪里？",
	"my money is gone!!! HACKED?!? please help me ASAP",
	"no rush, whenever you can. cheers",
	"How do I change my address? Can you help? what time do you open",
	"it’s been over a week and I still haven’t heard back, this is ridiculous",
	"\xff\xfe broken \xfd still not working",
	"The app doesn't work, it stopped working yesterday and it keeps happening",
	"I'm so relieved, it worked! Brilliant, appreciate the help",
}

type goldenCase struct{ corpus, id, text string }

// goldenCorpus returns the texts the golden file covers: the support messages, the 23,703 VADER
// reference texts (in testdata, so always present) with upper- and question-variants of a tenth
// of them, and GoEmotions dev when ../shared/datasets is beside the checkout.
func goldenCorpus(t *testing.T) (cases []goldenCase, haveGoEmo bool) {
	t.Helper()
	for i, s := range goldenSupport {
		cases = append(cases, goldenCase{"support", fmt.Sprint(i), s})
	}
	for i, r := range loadReference(t) {
		id := r.corpus + "/" + r.id
		cases = append(cases, goldenCase{"vader", id, r.text})
		if i%10 == 0 {
			cases = append(cases, goldenCase{"vader-upper", id, strings.ToUpper(r.text)})
			cases = append(cases, goldenCase{"vader-question", id, "why is it that " + r.text + "?"})
		}
	}
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "datasets", "goemotions", "dev.tsv"))
	if err != nil {
		return cases, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 0; sc.Scan(); n++ {
		text, _, _ := strings.Cut(sc.Text(), "\t")
		cases = append(cases, goldenCase{"goemotions-dev", fmt.Sprint(n), text})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read goemotions dev: %v", err)
	}
	return cases, true
}

func resultDigest(t *testing.T, r Result) (string, []byte) {
	t.Helper()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	h := fnv.New64a()
	h.Write(js)
	return fmt.Sprintf("%016x", h.Sum64()), js
}

func TestAnalyzeGolden(t *testing.T) {
	cases, haveGoEmo := goldenCorpus(t)
	if *updateGolden {
		if !haveGoEmo {
			t.Fatal("-update-golden needs ../shared/datasets/goemotions beside the checkout so the file covers every corpus")
		}
		writeGolden(t, cases)
		return
	}
	want, err := digestfile.Read(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	checked, bad := 0, 0
	for _, c := range cases {
		key := digestfile.Key(c.corpus, c.id)
		w, ok := want[key]
		if !ok {
			t.Fatalf("%s: not in %s; regenerate it with -update-golden before changing Analyze", key, goldenPath)
		}
		got, js := resultDigest(t, shared.Analyze(c.text))
		checked++
		if got != w {
			bad++
			if bad <= 10 {
				t.Errorf("%s: result changed (digest %s, golden %s): %s", key, got, w, js)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d results differ from %s", bad, checked, goldenPath)
	}
	if !haveGoEmo {
		t.Logf("checked %d texts; ../shared/datasets/goemotions (beside the checkout) is absent, so GoEmotions dev was skipped", checked)
	}
}

func writeGolden(t *testing.T, cases []goldenCase) {
	t.Helper()
	rows := make([]digestfile.Row, len(cases))
	for i, c := range cases {
		d, _ := resultDigest(t, shared.Analyze(c.text))
		rows[i] = digestfile.Row{Corpus: c.corpus, ID: c.id, Digest: d}
	}
	if err := digestfile.Write(goldenPath, rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d digests to %s", len(cases), goldenPath)
}
