package nlu_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/attune-chat/attune/intents/nlu"
	"github.com/attune-chat/attune/intents/nlu/nlueval"
	"github.com/attune-chat/attune/internal/digestfile"
)

// The golden test pins Classify's complete output (label, confidence, top
// three with their probabilities, closest example, the out-of-scope
// decision at DefaultThreshold, and Normalize's output) on several thousand texts, so that a
// speed-up of feature extraction or of the explanation search can show that
// it changes nothing. The file keeps a 32-bit digest of each result's JSON:
// enough to prove identity text by text (a changed result slips through with
// probability 2^-32), small enough to commit, and free of data set texts.
// On a mismatch the test prints the current JSON; to see the old one,
// regenerate at the previous commit.
//
// A change to the model itself (training, weights, probabilities) changes
// the digests by design: regenerate with
//
//	go test ./intents/nlu/ -run TestClassifyGolden -args -update-golden
//
// with ../shared/datasets beside the checkout, and say so in the commit.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/classify_golden.tsv.gz from the current Classify")

const classifyGoldenPath = "testdata/classify_golden.tsv.gz"

// goldenModel is one trained model and the texts it classifies.
type goldenModel struct {
	name  string
	model *nlu.Model
	texts []string
}

// goldenResult is what the digest covers: the whole Prediction plus the
// decision a caller takes from it.
type goldenResult struct {
	nlu.Prediction
	InScope bool `json:"in_scope"`
	// Normalized pins Normalize too, which Clashes relies on.
	Normalized string `json:"normalized"`
}

// goldenExtras are texts chosen to reach the unusual paths: no known word
// (the trigram fallback of the closest example), prose's punctuation
// handling, contractions, non-ASCII folding, invalid UTF-8, truncation.
var goldenExtras = []string{
	"", " ", "\t\n", "?", "!!!???...", "🙂", "🙂🙂🙂 🙏", "refnd pls", "pasword resett", "blorp zax quib",
	"asdf qwerty", "I'd like my money back", "where's my parcel??", "I can't log in, it won't work",
	"dont cancel im waiting", "I\u2019m locked out", "Café crème brûlée", "ＦＵＬＬ width ﬁle", "e-mail me 24/7",
	"order #12345 (urgent!)", "http://example.com/track?id=42", "\"quoted\" 'single' `back`", "(hi) [there] {you}",
	"Привет 你好 مرحبا שלום", "\xff\xfe\xfd", "refund\xff\xfeplease", "refund\x00\x01", "i'll, you'd, they've, she's",
	"İ'll İ'll İ'll", "naïve coöperate façade", "don't won't can't shan't ain't", "y'all gonna wanna",
	":) :( ;-) <3 :D", "mr. smith's dog", "u.s.a. e.g. i.e.", "10:30am", "$100.00", "50%", "a/b/c", "--flag",
	"...hello...", "HELLO WORLD", "ÀÉÎÕÜ ÇÑ", "ß ẞ ﬀ", "ǅ ǈ ǋ", "x\u0301y\u0308", "\u200bzero\u200bwidth",
	strings.Repeat("a", 4000), strings.Repeat("refund", 700), strings.Repeat("İ'll ", 500),
	strings.Repeat("where is my order ", 150), strings.Repeat("é", 1500), strings.Repeat("ab ", 1000),
}

// variants returns altered copies of text that exercise case folding,
// punctuation, contractions, typos (words the model never saw) and
// non-ASCII input, deterministically from rng.
func variants(text string, rng *rand.Rand) []string {
	ws := strings.Fields(text)
	out := []string{strings.ToUpper(text), text + "?!"}
	// Typos: one letter dropped from every word longer than three.
	typo := make([]string, len(ws))
	for i, w := range ws {
		if len(w) > 3 {
			j := rng.IntN(len(w))
			w = w[:j] + w[j+1:]
		}
		typo[i] = w
	}
	out = append(out, strings.Join(typo, " "))
	// Reordered words with glued punctuation and a contraction.
	perm := rng.Perm(len(ws))
	var b strings.Builder
	b.WriteString("I'm sure ")
	for _, p := range perm {
		b.WriteString(ws[p])
		switch rng.IntN(6) {
		case 0:
			b.WriteString(",")
		case 1:
			b.WriteString("'s")
		case 2:
			b.WriteString("n't")
		case 3:
			b.WriteString("-")
		}
		b.WriteByte(' ')
	}
	out = append(out, b.String())
	// Non-ASCII: accents, curly apostrophes, an emoji, a stray invalid byte.
	na := strings.NewReplacer("e", "é", "a", "à", "'", "\u2019", "o", "ö").Replace(text)
	out = append(out, na+" 🙏", text[:len(text)/2]+"\xff"+text[len(text)/2:])
	// Gibberish with the text's letters: almost never a known word.
	letters := []rune(strings.ReplaceAll(text, " ", ""))
	if len(letters) > 0 {
		g := make([]rune, 0, 12)
		for range 12 {
			g = append(g, letters[rng.IntN(len(letters))])
			if rng.IntN(5) == 0 {
				g = append(g, ' ')
			}
		}
		out = append(out, string(g))
	}
	return out
}

// randomText returns arbitrary text: random runes from several scripts,
// punctuation and white space, and now and then invalid bytes.
func randomText(rng *rand.Rand) string {
	pools := []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFXYZ", "0123456789", " \t\n", ".,;:!?'\"-/()[]#@$%&*", "éàüßçñøå", "абвгд", "你好世界", "🙂🙏😡", "\u0301\u0308\u200b\u2019\u2018`´"}
	n := rng.IntN(40)
	var b strings.Builder
	for range n {
		if rng.IntN(50) == 0 {
			b.WriteByte(byte(0x80 + rng.IntN(0x80)))
			continue
		}
		p := []rune(pools[rng.IntN(len(pools))])
		b.WriteRune(p[rng.IntN(len(p))])
	}
	return b.String()
}

func readSlice(t *testing.T) nlueval.Dataset {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "clinc150_slice.json"))
	if err != nil {
		t.Fatal(err)
	}
	var splits map[string][][2]string
	if err := json.Unmarshal(raw, &splits); err != nil {
		t.Fatalf("parse clinc150_slice.json: %v", err)
	}
	conv := func(keys ...string) []nlu.Example {
		var out []nlu.Example
		for _, k := range keys {
			for _, p := range splits[k] {
				label := p[1]
				if label == "oos" {
					label = nlu.OutOfScope
				}
				out = append(out, nlu.Example{Text: p[0], Label: label})
			}
		}
		return out
	}
	return nlueval.Dataset{Train: conv("train", "oos_train"), Val: conv("val", "oos_val")}
}

func mustTrain(t *testing.T, exs []nlu.Example, opt nlu.Options) *nlu.Model {
	t.Helper()
	m, err := nlu.Train(exs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// withVariants returns texts, their variants, and n random texts.
func withVariants(texts []string, seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []string
	for _, s := range texts {
		out = append(out, s)
		out = append(out, variants(s, rng)...)
	}
	for range n {
		out = append(out, randomText(rng))
	}
	return append(out, goldenExtras...)
}

func textsOf(exs []nlu.Example) []string {
	out := make([]string, len(exs))
	for i, e := range exs {
		out[i] = e.Text
	}
	return out
}

// goldenModels trains the models the golden file covers. The small ones come
// from this package's fixtures and testdata, so they always run; the CLINC150
// one classifies val + oos_val (and variants of a third of them) when
// ../shared/datasets is beside the checkout, except with -short or -race
// (training it under the race detector takes minutes). Test splits are not
// used.
func goldenModels(t *testing.T) (models []goldenModel, haveCLINC bool) {
	t.Helper()
	support := supportExamples()
	models = append(models, goldenModel{"support", mustTrain(t, support, nlu.Options{}), withVariants(textsOf(support), 1, 300)})

	withOOS := append([]nlu.Example(nil), support...)
	for _, s := range []string{"what is the capital of france", "tell me a joke", "who won the football match", "recommend a good movie"} {
		withOOS = append(withOOS, nlu.Example{Label: nlu.OutOfScope, Text: s})
	}
	models = append(models, goldenModel{"support-oos-hinge", mustTrain(t, withOOS, nlu.Options{Loss: nlu.SquaredHinge}), withVariants(textsOf(support[:20]), 2, 100)})

	slice := readSlice(t)
	var sliceIn []nlu.Example
	for _, e := range slice.Train {
		if e.Label != nlu.OutOfScope {
			sliceIn = append(sliceIn, e)
		}
	}
	sliceTexts := append(textsOf(slice.Val), textsOf(slice.Train)...)
	models = append(models, goldenModel{"clinc-slice", mustTrain(t, sliceIn, nlu.Options{}), withVariants(sliceTexts, 3, 200)})
	models = append(models, goldenModel{"clinc-slice-oos", mustTrain(t, slice.Train, nlu.Options{}), withVariants(textsOf(slice.Val), 4, 50)})

	hwu, err := nlueval.LoadCSV(filepath.Join("testdata", "hwu64_train_slice.csv"))
	if err != nil {
		t.Fatal(err)
	}
	models = append(models, goldenModel{"hwu-slice", mustTrain(t, hwu, nlu.Options{}), withVariants(textsOf(hwu), 5, 100)})

	if testing.Short() || raceEnabled {
		return models, false
	}
	if _, err := os.Stat(clincPath); err != nil {
		return models, false
	}
	ds, err := nlueval.LoadCLINC(clincPath)
	if err != nil {
		t.Fatal(err)
	}
	var train []nlu.Example
	for _, e := range ds.Train {
		if e.Label != nlu.OutOfScope {
			train = append(train, e)
		}
	}
	m := mustTrain(t, train, nlu.Options{})
	rng := rand.New(rand.NewPCG(6, 1))
	var texts []string
	for i, e := range ds.Val {
		texts = append(texts, e.Text)
		if i%3 == 0 {
			texts = append(texts, variants(e.Text, rng)...)
		}
	}
	models = append(models, goldenModel{"clinc-val", m, append(texts, goldenExtras...)})
	return models, true
}

func predictionDigest(t *testing.T, m *nlu.Model, text string) (string, []byte) {
	t.Helper()
	p := m.Classify(text)
	js, err := json.Marshal(goldenResult{p, p.InScope(nlu.DefaultThreshold), nlu.Normalize(text)})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	h := fnv.New32a()
	h.Write(js)
	return fmt.Sprintf("%08x", h.Sum32()), js
}

func TestClassifyGolden(t *testing.T) {
	models, haveCLINC := goldenModels(t)
	if *updateGolden {
		if !haveCLINC {
			t.Fatal("-update-golden needs ../shared/datasets/clinc150 beside the checkout (and neither -short nor -race) so the file covers every model")
		}
		writeClassifyGolden(t, models)
		return
	}
	want, err := digestfile.Read(classifyGoldenPath)
	if err != nil {
		t.Fatal(err)
	}
	checked, bad := 0, 0
	for _, gm := range models {
		for i, text := range gm.texts {
			key := digestfile.Key(gm.name, strconv.Itoa(i))
			w, ok := want[key]
			if !ok {
				t.Fatalf("%s: not in %s; regenerate it with -update-golden before changing Classify", key, classifyGoldenPath)
			}
			got, js := predictionDigest(t, gm.model, text)
			checked++
			if got != w {
				bad++
				if bad <= 10 {
					name := text
					if len(name) > 60 || !utf8.ValidString(name) {
						name = fmt.Sprintf("%.60q", name)
					}
					t.Errorf("%s (%s): result changed (digest %s, golden %s): %s", key, name, got, w, js)
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d results differ from %s", bad, checked, classifyGoldenPath)
	}
	t.Logf("%d results match %s", checked, classifyGoldenPath)
	if !haveCLINC {
		t.Logf("CLINC150 val was skipped (-short, -race, or ../shared/datasets/clinc150 is not beside the checkout)")
	}
}

func writeClassifyGolden(t *testing.T, models []goldenModel) {
	t.Helper()
	var rows []digestfile.Row
	for _, gm := range models {
		for i, text := range gm.texts {
			d, _ := predictionDigest(t, gm.model, text)
			rows = append(rows, digestfile.Row{Corpus: gm.name, ID: strconv.Itoa(i), Digest: d})
		}
	}
	if err := digestfile.Write(classifyGoldenPath, rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d digests to %s", len(rows), classifyGoldenPath)
}

// TestConcurrentClassifyVaried classifies the golden texts of the small
// models from several goroutines at once, each in its own order, and checks
// every result against the sequential one: pooled scratch must never leak
// between calls whatever their lengths and paths (the trigram fallback,
// truncated input, prose's spans). Run it with -race.
func TestConcurrentClassifyVaried(t *testing.T) {
	slice := readSlice(t)
	m := mustTrain(t, slice.Train, nlu.Options{})
	texts := withVariants(textsOf(slice.Val), 7, 100)
	want := make([]nlu.Prediction, len(texts))
	for i, s := range texts {
		want[i] = m.Classify(s)
	}
	const goroutines = 6
	errs := make(chan string, goroutines)
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for _, i := range rng.Perm(len(texts)) {
				if got := m.Classify(texts[i]); !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("goroutine %d, text %q: %+v, want %+v", g, texts[i], got, want[i])
					return
				}
			}
		}()
	}
	for range goroutines {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
