package tone

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/attune-chat/attune/intents/tone/internal/feat"
)

var shared = New()

func TestSupportPhrases(t *testing.T) {
	tests := []struct {
		text     string
		dominant string
		also     []string // tones that must also reach the decision point
		not      []string // tones that must stay below it
	}{
		{"How do I reset my password?", Neutral, nil, []string{"frustration", "confusion", "anxiety", "urgency", "delight"}},
		{"What are your opening hours?", Neutral, nil, []string{"confusion", "frustration"}},
		{"I'm not worried, just curious how refunds work", Neutral, nil, []string{"anxiety", "frustration"}},
		{"thanks for nothing", "frustration", nil, []string{"delight"}},
		{"thanks, that fixed it!", "delight", nil, []string{"frustration", "anxiety"}},
		{"This is the third time I'm asking about my order", "frustration", nil, []string{"delight"}},
		{"Still waiting for my refund.", "frustration", nil, []string{"delight"}},
		{"I have been on hold for 2 hours", "frustration", nil, nil},
		{"I want to cancel my account", "frustration", nil, nil},
		{"URGENT my flight is at 6am and my booking vanished", "urgency", []string{"anxiety"}, []string{"delight"}},
		{"I'm so confused, where do I find the invoice?", "confusion", nil, nil},
		{"I'm really worried my card was charged twice", "anxiety", nil, nil},
		{"No rush, whenever you get a chance: do you ship to Canada?", Neutral, nil, []string{"urgency"}},
		{"This is not urgent, just a question about sizes", Neutral, nil, []string{"urgency"}},
		{"I'm not confused, I just want the invoice", "", nil, []string{"confusion"}},
		// Waiting in words rather than digits, and things that still have not come.
		{"I've been waiting for two hours", "frustration", nil, []string{"delight"}},
		{"It has been three days and nobody replied", "frustration", nil, nil},
		{"My order has been stuck for a week", "frustration", nil, nil},
		{"My parcel still hasn't arrived", "frustration", nil, nil},
		{"I still haven't heard back from anyone", "frustration", nil, nil},
		{"We still have not received the refund", "frustration", nil, nil},
		{"The package still has not arrived", "frustration", nil, nil},
		{"thanks for nothing!", "frustration", nil, []string{"delight"}},
		{"I'm not worried, just curious", Neutral, nil, []string{"anxiety"}},
		{"Still waiting...", "frustration", nil, nil},
		{"third time I ask this", "frustration", nil, nil},
		{"please cancel my account", "frustration", nil, nil},
		{"I was on hold for 2 hours yesterday", "frustration", nil, nil},
	}
	for _, tt := range tests {
		r := shared.Analyze(tt.text)
		if tt.dominant != "" && r.Dominant != tt.dominant {
			t.Errorf("%q: dominant %s, want %s (scores %v)", tt.text, r.Dominant, tt.dominant, r.Scores)
		}
		for _, tone := range tt.also {
			if !r.Has(tone, 0) {
				t.Errorf("%q: %s = %.3f, want >= %.1f", tt.text, tone, r.Scores[tone], DecisionPoint)
			}
		}
		for _, tone := range tt.not {
			if r.Has(tone, 0) {
				t.Errorf("%q: %s = %.3f, want < %.1f", tt.text, tone, r.Scores[tone], DecisionPoint)
			}
		}
	}
}

// Negation turns a cue against its tone, and the evidence says so.
func TestNegatedCues(t *testing.T) {
	tests := []struct {
		plain, negated, tone string
	}{
		{"I'm worried about my order", "I'm not worried about my order", "anxiety"},
		{"This is urgent", "This isn't urgent", "urgency"},
		{"I am confused by the bill", "I am not confused by the bill", "confusion"},
		{"I'm frustrated with the app", "I'm not frustrated with the app", "frustration"},
	}
	for _, tt := range tests {
		p, n := shared.Analyze(tt.plain), shared.Analyze(tt.negated)
		if n.Scores[tt.tone] >= p.Scores[tt.tone] || n.Has(tt.tone, 0) {
			t.Errorf("%s: %q=%.3f, %q=%.3f; negation should lower it below the decision point",
				tt.tone, tt.plain, p.Scores[tt.tone], tt.negated, n.Scores[tt.tone])
		}
		found := false
		for _, e := range n.Evidence {
			if e.Tone == tt.tone && e.Weight < 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: no negative %s evidence in %+v", tt.negated, tt.tone, n.Evidence)
		}
	}
}

func TestEvidenceExplainsScore(t *testing.T) {
	r := shared.Analyze("This is the third time I ask, still waiting!")
	want := map[string]bool{"third time": false, "still waiting": false}
	for _, e := range r.Evidence {
		if e.Tone == "frustration" && e.Weight > 0 {
			if _, ok := want[e.Phrase]; ok {
				want[e.Phrase] = true
			}
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("evidence %+v lacks frustration cue %q", r.Evidence, p)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"compound"`, `"pos"`, `"neg"`, `"neu"`, `"scores"`, `"dominant"`, `"intensity"`, `"evidence"`, `"phrase"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

// Learned evidence names whole words (a word's letter groups are summed into the word), and
// every tone that reaches the decision point has positive evidence.
func TestEvidenceNamesWholeWords(t *testing.T) {
	isLetter := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '\'' }
	for _, text := range []string{
		"Why would you do that? This is sooo annoying",
		"Ugh, this app is garbage and the support is useless",
		"I'm terrified my account got hacked",
		"what do you mean? I don't get it",
		"Thank you so much, you're amazing!",
	} {
		r := shared.Analyze(text)
		low := strings.ToLower(text)
		for _, e := range r.Evidence {
			i := strings.Index(low, e.Phrase)
			if i < 0 {
				t.Errorf("%q: evidence %q not in text", text, e.Phrase)
				continue
			}
			if end := i + len(e.Phrase); i > 0 && isLetter(low[i-1]) || end < len(low) && isLetter(low[end]) {
				t.Errorf("%q: evidence %q is part of a word", text, e.Phrase)
			}
		}
		for _, tone := range Tones {
			if !r.Has(tone, 0) {
				continue
			}
			found := false
			for _, e := range r.Evidence {
				if e.Tone == tone && e.Weight > 0 {
					found = true
				}
			}
			if !found {
				t.Errorf("%q: %s = %.3f with no positive evidence in %+v", text, tone, r.Scores[tone], r.Evidence)
			}
		}
	}
}

func TestScoresInRange(t *testing.T) {
	for _, s := range []string{"", "ok", "WHY IS THIS BROKEN AGAIN?!?!", "😡😡😡", "I love you guys!!! thank you"} {
		r := shared.Analyze(s)
		if len(r.Scores) != len(Tones)+1 {
			t.Errorf("%q: %d scores, want %d", s, len(r.Scores), len(Tones)+1)
		}
		for k, v := range r.Scores {
			if v < 0 || v > 1 {
				t.Errorf("%q: %s=%v out of [0,1]", s, k, v)
			}
		}
		if r.Intensity < 0 || r.Intensity > 1 {
			t.Errorf("%q: intensity %v", s, r.Intensity)
		}
		if (r.Dominant == Neutral) != (r.Intensity == 0) {
			t.Errorf("%q: dominant %s with intensity %v", s, r.Dominant, r.Intensity)
		}
	}
}

func TestConcurrentAnalyze(t *testing.T) {
	want := shared.Analyze("still waiting, this is ridiculous").Scores["frustration"]
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if got := shared.Analyze("still waiting, this is ridiculous").Scores["frustration"]; got != want {
					t.Errorf("concurrent score %v, want %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"", "😀🙏💔", "\xff\xfe\xfd", "Привет, мне нужна помощь", "我的订单在哪里？", "مرحبا", "こんにちは!!!",
		"no no no NOT good but", "kind of", "least", "?!?!?!", strings.Repeat("but so very not good ", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := shared.Analyze(s)
		v := shared.Valence(s)
		if v.Compound < -1 || v.Compound > 1 || r.Dominant == "" {
			t.Fatalf("%q: compound %v dominant %q", s, v.Compound, r.Dominant)
		}
		for _, e := range r.Evidence {
			if !utf8.ValidString(s) {
				continue
			}
			if !strings.Contains(strings.ToLower(s), e.Phrase) {
				t.Fatalf("%q: evidence phrase %q not in text", s, e.Phrase)
			}
		}
	})
}

func TestHugeInput(t *testing.T) {
	s := strings.Repeat("this is still not working but thanks 😡 ", 2600) // > 100 KB
	if len(s) < 100<<10 {
		t.Fatalf("input only %d bytes", len(s))
	}
	r := shared.Analyze(s)
	if r.Dominant == "" {
		t.Fatal("no dominant tone")
	}
	_ = shared.Valence(s)
}

// benchText is a typical 20-word support message.
const benchText = "I have been waiting for two hours and my order still has not arrived, can you please check it now?"

func BenchmarkAnalyze20Words(b *testing.B) {
	if n := len(strings.Fields(benchText)); n != 20 {
		b.Fatalf("bench text has %d words", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		shared.Analyze(benchText)
	}
}

func BenchmarkValence20Words(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		shared.Valence(benchText)
	}
}

func BenchmarkAnalyzeParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			shared.Analyze(benchText)
		}
	})
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New()
	}
}

// Every feature line of the embedded weights is loaded, including names that start with '#'
// (digits fold to '#': "# hours"), which an earlier loader skipped as comments.
func TestWeightsFileLoadsEveryFeature(t *testing.T) {
	features, hashed := 0, 0
	for _, line := range strings.Split(weightsFile, "\n") {
		if !strings.Contains(line, "\t") || strings.HasPrefix(line, "#feature\t") {
			continue
		}
		features++
		if name, _, _ := strings.Cut(line, "\t"); !strings.HasPrefix(name, "_") {
			hashed++
			if strings.HasPrefix(name, "#") && testing.Verbose() {
				t.Logf("feature %q", name)
			}
		}
	}
	if shared.feats.rows != hashed {
		t.Fatalf("loaded %d word features, the file has %d (of %d feature lines)", shared.feats.rows, hashed, features)
	}
	probe := &Analyzer{}
	if err := probe.loadWeights("#feature\tfrustration\tconfusion\tanxiety\tdelight\n# a comment\n_bias\t0\t0\t0\t0\n# hours\t1\t0\t0\t0\n"); err != nil {
		t.Fatal(err)
	}
	j := probe.feats.get(feat.Hash("# hours"))
	if probe.feats.rows != 1 || j < 0 || probe.feats.slots[j].w[0] != 1 {
		t.Fatalf("a feature named %q was not loaded: %d rows, slot %d", "# hours", probe.feats.rows, j)
	}
}
