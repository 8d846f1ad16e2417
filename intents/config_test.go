package intents_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/intents"
)

// fixedNow is Monday 6 January 2025, 09:15 UTC.
var fixedNow = time.Date(2025, 1, 6, 9, 15, 0, 0, time.UTC)

func TestDefaults(t *testing.T) {
	cfg := parse(t, "", "")
	checks := []struct {
		name      string
		got, want any
	}{
		{"accent", cfg.Widget.Accent, intents.DefaultAccent},
		{"position", cfg.Widget.Position, "right"},
		{"widget title", cfg.Widget.Title, "Test Bakery"},
		{"max message chars", cfg.Widget.MaxMessageChars, intents.DefaultMaxMessageChars},
		{"retention days", cfg.Privacy.RetentionDays, intents.DefaultRetentionDays},
		{"retention", cfg.Retention(), 90 * 24 * time.Hour},
		{"frustration threshold", cfg.Handoff.FrustrationThreshold, intents.DefaultFrustrationThreshold},
		{"max unresolved turns", cfg.Handoff.MaxUnresolvedTurns, intents.DefaultMaxUnresolvedTurns},
		{"wait alert", cfg.Handoff.WaitAlertSeconds, intents.DefaultWaitAlertSeconds},
		{"grace", cfg.Handoff.GraceSeconds, intents.DefaultGraceSeconds},
		{"offline message set", cfg.Handoff.OfflineMessage != "", true},
		{"api key env", cfg.LLM.APIKeyEnv, intents.DefaultAPIKeyEnv},
		{"llm timeout", cfg.LLM.TimeoutSeconds, float64(intents.DefaultLLMTimeoutSeconds)},
		{"llm max tokens", cfg.LLM.MaxTokens, intents.DefaultLLMMaxTokens},
		{"llm enabled", cfg.LLMEnabled(), false},
		{"handoff enabled", cfg.HandoffEnabled(), true},
		{"tone enabled", cfg.ToneEnabled(), true},
		{"bot name", cfg.BotName(), "Assistant"},
		{"timezone", cfg.Business.Timezone, "UTC"},
		{"threshold left to the classifier", cfg.Classifier.Threshold, 0.0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The default persona must pass the same rules as a written one.
	if g := cfg.Expand(cfg.Persona.Greeting.First(), fixedNow); !strings.Contains(g, "a bot") || !strings.Contains(g, "Test Bakery") {
		t.Errorf("default greeting = %q", g)
	}
	if !strings.Contains(cfg.Persona.Clarify.First(), "{options}") || cfg.Persona.Fallback.First() == "" {
		t.Errorf("default clarify/fallback = %q / %q", cfg.Persona.Clarify.First(), cfg.Persona.Fallback.First())
	}
}

func TestSwitchesOff(t *testing.T) {
	cfg := parse(t, "", `persona:
  name: Rosie
  greeting: "I'm Rosie, an automated assistant."
tone:
  enabled: false
handoff:
  enabled: false
llm:
  base_url: http://localhost:11434/v1
  model: llama3.1:8b
  temperature: 0
`)
	if cfg.ToneEnabled() || cfg.HandoffEnabled() || !cfg.LLMEnabled() || cfg.BotName() != "Rosie" {
		t.Errorf("tone %v handoff %v llm %v bot %q", cfg.ToneEnabled(), cfg.HandoffEnabled(), cfg.LLMEnabled(), cfg.BotName())
	}
	if cfg.LLM.Temperature == nil || *cfg.LLM.Temperature != 0 {
		t.Errorf("an explicit temperature 0 must be kept, got %v", cfg.LLM.Temperature)
	}
}

func TestExpand(t *testing.T) {
	cfg := parse(t, `  timezone: Asia/Tokyo
  hours:
    mon-fri: "09:00-17:00"
    sat: "10:00-13:00"
    sun: closed
  contact:
    email: hello@bakery.example
    phone: "+81 3 1234 5678"
    address: 1-2-3 Ginza, Tokyo
    website: https://bakery.example
`, `persona:
  name: Mochi
`)
	tests := []struct {
		text string
		now  time.Time
		want string
	}{
		{"no placeholders at all", fixedNow, "no placeholders at all"},
		{"{business} / {bot}", fixedNow, "Test Bakery / Mochi"},
		{"Write to {email} or call {phone}.", fixedNow, "Write to hello@bakery.example or call +81 3 1234 5678."},
		{"{address} — {website}", fixedNow, "1-2-3 Ginza, Tokyo — https://bakery.example"},
		{"Open {hours}.", fixedNow, "Open Mon–Fri 09:00–17:00; Sat 10:00–13:00; Sun closed."},
		{"Today: {today_hours}", fixedNow, "Today: 09:00–17:00"},
		// Friday 20:00 UTC is already Saturday in Tokyo: "today" is the business's day.
		{"Today: {today_hours}", time.Date(2025, 1, 10, 20, 0, 0, 0, time.UTC), "Today: 10:00–13:00"},
		{"Today: {today_hours}", time.Date(2025, 1, 11, 16, 0, 0, 0, time.UTC), "Today: closed"},
		{"{email} {email}", fixedNow, "hello@bakery.example hello@bakery.example"},
		{"{options} stays for the bot to fill", fixedNow, "{options} stays for the bot to fill"},
		{"a { brace } alone", fixedNow, "a { brace } alone"},
	}
	for _, tt := range tests {
		if got := cfg.Expand(tt.text, tt.now); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestAnswerAndExampleForms(t *testing.T) {
	src := `version: 1
business:
  name: B
intents:
  - name: block_form
    examples: |
      - where is my order
      -   has my order shipped  
      - track my parcel

      - parcel tracking
    answer: |
      One answer
      on two lines.
  - name: list_form
    examples:
      - how much is delivery
      - "is shipping free?"
      - postage cost
    answer:
      - First variant.
      - Second variant.
faq:
  - question: Do you sell gift cards?
    answer: Yes.
`
	cfg, err := intents.Parse("forms.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := cfg.Intent("block_form")
	wantBlock := intents.Phrases{
		{Text: "where is my order", Line: 7, Col: 7},
		{Text: "has my order shipped", Line: 8, Col: 7},
		{Text: "track my parcel", Line: 9, Col: 7},
		{Text: "parcel tracking", Line: 11, Col: 7},
	}
	if !reflect.DeepEqual(block.Examples, wantBlock) {
		t.Errorf("block examples = %+v\nwant %+v", block.Examples, wantBlock)
	}
	if got := block.Answer; len(got) != 1 || got[0].Text != "One answer\non two lines." || got[0].Line != 13 {
		t.Errorf("block answer = %+v", got)
	}
	list, _ := cfg.Intent("list_form")
	wantList := intents.Phrases{
		{Text: "how much is delivery", Line: 17, Col: 9},
		{Text: "is shipping free?", Line: 18, Col: 9},
		{Text: "postage cost", Line: 19, Col: 9},
	}
	if !reflect.DeepEqual(list.Examples, wantList) {
		t.Errorf("list examples = %+v\nwant %+v", list.Examples, wantList)
	}
	if got := list.Answer.Texts(); !reflect.DeepEqual(got, []string{"First variant.", "Second variant."}) {
		t.Errorf("list answer = %q", got)
	}
	if (intents.Variants{}).First() != "" {
		t.Error("First of no variants should be empty")
	}
	f, ok := cfg.FAQByID("do_you_sell_gift_cards")
	if !ok || f.Line != 24 || f.Answer.First() != "Yes." {
		t.Errorf("FAQ derived id / line: %+v, %v", f, ok)
	}
	if _, ok := cfg.FAQByID("nope"); ok {
		t.Error("FAQByID found an entry that does not exist")
	}
	if _, ok := cfg.Intent("nope"); ok {
		t.Error("Intent found an intent that does not exist")
	}
}

func TestFAQIDs(t *testing.T) {
	cfg := parse(t, "", `faq:
  - question: "What's your 'best-seller'?!"
    answer: The sourdough.
  - question: 24h delivery?
    answer: No.
  - id: custom_id
    question: Can I choose my own id?
    answer: Yes.
`)
	var got []string
	for _, f := range cfg.FAQ {
		got = append(got, f.ID)
	}
	want := []string{"what_s_your_best_seller", "faq_24h_delivery", "custom_id"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FAQ ids = %q, want %q", got, want)
	}
}

func TestParseNeverPanics(t *testing.T) {
	inputs := []string{
		"", "\x00", "---", "--- \n...", "[]", "42", "version: 1", "version: 1\nintents: {}",
		"version: 1\nintents: [1, 2]", "version: 1\nintents:\n  - examples: {a: b}",
		"version: 1\nbusiness:\n  hours: [mon]", "version: 1\nbusiness:\n  hours:\n    mon: [1]",
		"version: 1\npersona:\n  greeting: {a: 1}", "version: 1\npersona:\n  greeting: [[a]]",
		"version: 1\ntone:\n  thresholds: nope", "a: &a [*a]", "version: 1\nfaq:\n  - phrasings: |\n      no dash",
		"version: 1\nbusiness:\n  name: B\n  hours:\n    mon: closed\n    mon: closed",
	}
	for _, in := range inputs {
		cfg, err := intents.Parse("fuzz.yaml", []byte(in))
		var ce *intents.ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("Parse(%q) error is %T, want *ConfigError", in, err)
		}
		if (cfg == nil) == (err == nil) {
			t.Errorf("Parse(%q) = %v, %v: want exactly one of config and error", in, cfg, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\nbusiness:\n  name: B\n"))
	f.Add([]byte("version: 1\nintents:\n  - name: a\n    examples: |\n      - x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := intents.Parse("fuzz.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("want exactly one of config and error, got %v, %v", cfg, err)
		}
	})
}

func TestExpandAvoidsDoubleFullStop(t *testing.T) {
	cfg := &intents.Config{Business: intents.Business{Name: "Crumb & Co."}, Location: time.UTC}
	if got := cfg.Expand("Thanks for visiting {business}. Come back to {business} soon", time.Now()); got != "Thanks for visiting Crumb & Co. Come back to Crumb & Co. soon" {
		t.Fatalf("Expand = %q", got)
	}
}

// The widget's origin check compares allowed_origins with the browser's Origin header as text. A
// browser never sends a default port, a path, a query or user information, so an entry written
// with one would refuse every visitor of the site: the default port is dropped, the rest refused.
func TestAllowedOrigins(t *testing.T) {
	tests := []struct {
		origin string
		want   string // the entry after loading, or "" when it is a problem
	}{
		{"https://shop.example", "https://shop.example"},
		{"https://shop.example/", "https://shop.example"},
		{"https://Shop.Example:443", "https://shop.example"},
		{"HTTP://shop.example:80/", "http://shop.example"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"https://shop.example:8443", "https://shop.example:8443"},
		{"https://shop.example?utm=1", ""},
		{"https://shop.example#top", ""},
		{"https://me@shop.example", ""},
		{"https://shop.example/path", ""},
		{"shop.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			src := watchedConfig("ok") + "widget:\n  allowed_origins: [\"" + tt.origin + "\"]\n"
			cfg, err := intents.Parse("w.yaml", []byte(src))
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "is not an origin — write scheme and host only") {
					t.Errorf("allowed_origins %q: error %v, want \"is not an origin\"", tt.origin, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("allowed_origins %q: %v", tt.origin, err)
			}
			if got := cfg.Widget.AllowedOrigins; len(got) != 1 || got[0] != tt.want {
				t.Errorf("allowed_origins %q loaded as %q, want %q", tt.origin, got, tt.want)
			}
		})
	}
}

// YAML anchors, aliases and merge keys (<<) are YAML, not keys of ours: a shared answer or a
// merged intent loads, and what a merge brings in is checked like keys written in place.
func TestAnchorsAndMergeKeys(t *testing.T) {
	src := `version: 1
business:
  name: Test Shop
intents:
  - &base
    name: order_status
    tags: [orders]
    examples: |
      - where is my order
      - has it shipped
      - track my parcel
    answer: &ans "Soon, email us."
  - <<: *base
    name: late_order
    examples: [my order is late, it never arrived, still waiting for my parcel]
faq:
  - question: Do you ship abroad?
    answer: *ans
`
	cfg, err := intents.Parse("a.yaml", []byte(src))
	if err != nil {
		t.Fatalf("anchors and a merge key: %v", err)
	}
	late, ok := cfg.Intent("late_order")
	if !ok || late.Answer.First() != "Soon, email us." || len(late.Tags) != 1 || late.Tags[0] != "orders" {
		t.Errorf("merged intent = %+v, want the base's answer and tags", late)
	}
	if f, ok := cfg.FAQByID("do_you_ship_abroad"); !ok || f.Answer.First() != "Soon, email us." {
		t.Errorf("aliased FAQ answer = %+v", f)
	}

	bad := strings.Replace(src, "    tags: [orders]", "    tgs: [orders]", 1)
	_, err = intents.Parse("a.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), `a.yaml:7:5: unknown key "tgs" in intents[0] — did you mean "tags"?`) || strings.Contains(err.Error(), `"<<"`) {
		t.Errorf("a typo in merged keys: %v", err)
	}
}

// A model without a base URL used to be reported as `"" is not an http(s) URL`.
func TestLLMModelWithoutBaseURL(t *testing.T) {
	src := strings.Replace(watchedConfig("ok"), "intents:", "llm:\n  model: llama3\nintents:", 1)
	_, err := intents.Parse("l.yaml", []byte(src))
	want := "l.yaml:5:10: llm.model is set but llm.base_url is missing — add base_url: with the endpoint's URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
