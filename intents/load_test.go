package intents_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// golden compares got with testdata/NAME.golden, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./intents -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// problemLine is the shape `attune check` promises: FILE:LINE:COL: what is wrong — how to fix it.
// Line and column are left out only where there is no file to point into.
var problemLine = regexp.MustCompile(`^(testdata/broken/[a-z_]+\.yaml)(:[1-9][0-9]*:[1-9][0-9]*)?: [^ ].* — [^ ].*$`)

func TestLoadBroken(t *testing.T) {
	tests := []struct {
		file string
		// want are fragments that must appear, so that a golden file cannot silently bless a
		// regression; the golden file pins the exact wording, order and positions.
		want []string
	}{
		{"unknown_key", []string{
			// unknown keys do not hide the other problems of the file...
			`unknown_key.yaml:4:13: unknown time zone "Mars/Olympus"`,
			`unknown_key.yaml:5:1: unknown key "colour" at the top level — remove it, or use one of: business, classifier, faq,`,
			// ...but what a typo leaves empty ("0 examples") is not reported twice.
			`unknown_key.yaml:8:5: unknown key "exmples" in intents[0] — did you mean "examples"?`,
			`unknown_key.yaml:14:3: unknown key "acent" in widget — did you mean "accent"?`}},
		{"wrong_type", []string{
			`wrong_type.yaml:5:9: expected text here, found a list — write text`,
			`wrong_type.yaml:7:7: each answer variant must be plain text — write "- your answer", without text: or a nested list`,
			`wrong_type.yaml:15:14: expected true or false here, found text "maybe" — write true or false`,
			`wrong_type.yaml:16:11: expected a list here, found text "orders"`,
			`wrong_type.yaml:18:22: expected a whole number here, found text "lots"`,
			`wrong_type.yaml:19:20: expected a list here, found text "https://shop.example.com" — write a list`,
			`wrong_type.yaml:21:19: expected a whole number here, found text "30" (in quotes) — remove the quotes`}},
		{"wrong_numbers", []string{
			// yaml.v3 would store 2.5 as 2 and .nan as a number that passes every range check.
			`wrong_numbers.yaml:12:14: expected a number here, found .nan — write a number, e.g. 0.5`,
			`wrong_numbers.yaml:15:18: expected a number here, found .inf — write a number, e.g. 0.5`,
			`wrong_numbers.yaml:17:25: expected a whole number here, found 2.5 — write a whole number such as 3, without a decimal point or exponent`,
			`wrong_numbers.yaml:18:18: expected a whole number here, found 1e3 — write a whole number such as 3, without a decimal point or exponent`,
			`wrong_numbers.yaml:19:23: 99999999999 seconds is more than a day — use at most 86400, e.g. 120`,
			`wrong_numbers.yaml:21:16: expected a number here, found .NaN`,
			`wrong_numbers.yaml:23:22: expected a whole number here, found 4000.9`,
			`wrong_numbers.yaml:25:19: expected a whole number here, found 30.5`}},
		{"duplicate_keys", []string{
			`duplicate_keys.yaml:7:5: key "mon" is given twice in business.hours (first at line 6) — keep one of them`,
			`duplicate_keys.yaml:15:5: key "answer" is given twice in intents[0] (first at line 14) — keep one of them`,
			`duplicate_keys.yaml:16:1: key "intents" is given twice at the top level (first at line 8) — keep one of them; put every item of the list under the first`}},
		// yaml.v3 names the line where the enclosing block began, without a column; the problem
		// points at the line and column of the mistake itself, and says how to fix that mistake.
		{"two_documents", []string{
			// yaml.Unmarshal reads the first document only: the FAQ after "---" was dropped silently.
			`two_documents.yaml:11:1: a second YAML document starts here, and only the first is read — remove the --- line so that everything is one document`}},
		{"syntax_error", []string{`syntax_error.yaml:8:4: YAML syntax error: did not find expected '-' indicator — check indentation`}},
		{"syntax_tab", []string{`syntax_tab.yaml:3:1: YAML syntax error: found a tab in the indentation — indent with spaces, not tabs`}},
		{"syntax_tab_block", []string{`syntax_tab_block.yaml:8:1: YAML syntax error: found a tab in the indentation — indent with spaces, not tabs`}},
		{"syntax_colon", []string{`syntax_colon.yaml:11:17: YAML syntax error: ": " inside a value that is not in quotes — put the whole value in quotes: "…"`}},
		{"syntax_brace", []string{`syntax_brace.yaml:11:13: YAML syntax error: a value starting with { is read as a mapping — put the whole value in quotes: "…"`}},
		{"syntax_quote", []string{`syntax_quote.yaml:7:13: YAML syntax error: a quoted value is not closed — end it with ", the quote it starts with`}},
		{"syntax_at", []string{`syntax_at.yaml:11:13: YAML syntax error: a value cannot start with @ — put the whole value in quotes: "…"`}},
		{"empty", []string{`empty.yaml:1:1: the file is empty`}},
		{"not_a_mapping", []string{`not_a_mapping.yaml:1:1: the file must be a mapping of sections`}},
		{"missing_version", []string{`missing_version.yaml:1:1: the version key is missing — add "version: 1"`}},
		{"duplicate_intent", []string{`duplicate_intent.yaml:14:11: intent "order_status" is defined twice (first at line 5)`}},
		{"two_examples", []string{
			`two_examples.yaml:6:15: intent "order_status" has 2 example(s); at least 3 are needed`,
			`two_examples.yaml:12:7: intent "greeting" has 2 example(s)`}},
		{"empty_answer", []string{
			`empty_answer.yaml:10:13: the text is empty`,
			`empty_answer.yaml:11:5: intent "delivery_cost" has no answer — add answer:`,
			`empty_answer.yaml:20:9: the text is empty`}},
		{"bad_hours", []string{
			`bad_hours.yaml:6:14: bad opening hours for mon-fri: "9" is not a time of day (use 24-hour HH:MM)`,
			`bad_hours.yaml:8:10: bad opening hours for sat: "14:00-09:00" ends before it starts`,
			`bad_hours.yaml:9:10: bad opening hours for sun: "11:00-15:00" overlaps the previous range`,
			`bad_hours.yaml:10:5: bad opening-hours day "funday": "funday" is not a day`,
			`bad_hours.yaml:11:14: bad opening hours for thu-sat: "25:00" is not a time of day`}},
		{"overlapping_days", []string{`overlapping_days.yaml:7:5: Friday is given twice (in "mon-fri" and "fri-sat") — give each day once`}},
		{"bad_timezone", []string{`bad_timezone.yaml:4:13: unknown time zone "Europe/Bristol" — use an IANA time zone name`}},
		{"hours_without_timezone", []string{`hours_without_timezone.yaml:3:3: opening hours are given without a time zone`}},
		{"bad_accent", []string{`bad_accent.yaml:12:11: "#12345" is not a hex colour — write it as "#7a3e9d"`}},
		{"bad_widget", []string{
			`bad_widget.yaml:12:11: "brown" is not a hex colour`,
			`bad_widget.yaml:13:13: position "centre" is not left or right`,
			`bad_widget.yaml:14:22: max_message_chars 100000 is out of range`,
			`bad_widget.yaml:15:21: "https://shop.example/path" is not an origin`,
			`bad_widget.yaml:15:48: "shop.example" is not an origin`,
			`bad_widget.yaml:17:19: retention_days -1 is out of range`}},
		{"unknown_placeholder", []string{
			`unknown_placeholder.yaml:7:13: unknown placeholder {customer} — use one of {business}, {bot}, {email}`,
			`unknown_placeholder.yaml:16:9: unknown placeholder {opening_hours}`,
			// The offline message is expanded like an answer, so it is checked like one.
			`unknown_placeholder.yaml:18:20: unknown placeholder {mail} — use one of {business}, {bot}, {email}`,
			`unknown_placeholder.yaml:18:20: {phone} is used but business.contact.phone is not set`,
			// In a block answer the problem is on the line of the placeholder, not the block's first.
			`unknown_placeholder.yaml:23:7: unknown placeholder {adress}`}},
		{"greeting_no_bot", []string{
			`greeting_no_bot.yaml:8:7: the greeting does not tell visitors they are talking to a bot`,
			`greeting_no_bot.yaml:9:12: the clarifying question does not mention {options}`}},
		{"phrase_clash", []string{
			`phrase_clash.yaml:10:7: the phrasing "thank you so much" is used by more than one topic: the built-in thanks intent, line 10 (order_status)`,
			`phrase_clash.yaml:15:7: the phrasing "where is my order" is used by more than one topic: line 7 (order_status), line 15 (change_order)`,
			`phrase_clash.yaml:25:7: the phrasing "edit my order" is used by more than one topic: line 16 (change_order), line 25 (out_of_scope)`}},
		{"examples_shape", []string{
			`examples_shape.yaml:6:15: examples must be a list — write them on their own lines after "|", each starting with "- "`,
			`examples_shape.yaml:11:7: example "is shipping free" does not start with "- " — put "- " before each example`,
			`examples_shape.yaml:17:15: examples after ">" are folded into one line — use "|" so that each "- example" line stays separate`}},
		{"example_quality", []string{
			`example_quality.yaml:8:7: example "👍" of intent delivery_cost has no words (only punctuation, symbols or emoji) — write it in words, or remove the line`,
			`example_quality.yaml:10:7: example "How much is delivery?" of intent delivery_cost repeats line 7 — remove one of them`,
			`example_quality.yaml:11:7: an example of intent delivery_cost is empty`,
			`example_quality.yaml:16:9: example "do you deliver on sundays" of FAQ do_you_deliver_on_sundays repeats line 14`}},
		{"bad_names", []string{
			`bad_names.yaml:3:9: the business name is missing`,
			`bad_names.yaml:5:12: "not an address" is not an email address`,
			`bad_names.yaml:6:14: "crumb.example" is not a web address`,
			`bad_names.yaml:8:11: intent name "Order Status" is not lowercase_with_underscores — rename it, e.g. order_status`,
			`bad_names.yaml:14:12: tag "Orders Team" is not lowercase letters, digits, - or _ — rename the tag, e.g. orders-team`,
			`bad_names.yaml:15:11: the intent name out_of_scope is reserved`,
			`bad_names.yaml:21:5: an intent has no name`,
			`bad_names.yaml:27:15: FAQ entry "do_you_deliver" duplicates the entry at line 25`,
			`bad_names.yaml:29:5: an FAQ entry has no question`,
			`bad_names.yaml:32:19: tag "Bread & Rolls" is not lowercase letters, digits, - or _ — rename the tag, e.g. bread-rolls`}},
		{"bad_sections", []string{
			`bad_sections.yaml:1:10: unsupported version 2 — set "version: 1"`,
			`bad_sections.yaml:13:18: threshold 1.5 for frustration is out of range`,
			`bad_sections.yaml:14:5: unknown tone "boredom"`,
			`bad_sections.yaml:16:14: unknown placeholder {customer}`,
			`bad_sections.yaml:18:26: frustration_threshold 2 is out of range`,
			`bad_sections.yaml:19:25: max_unresolved_turns is negative`,
			`bad_sections.yaml:20:18: the number of seconds is negative`,
			`bad_sections.yaml:22:7: a canned reply needs both a title and a text`,
			`bad_sections.yaml:24:13: "localhost:11434" is not an http(s) URL`,
			`bad_sections.yaml:24:3: llm.base_url is set but llm.model is missing`,
			`bad_sections.yaml:25:20: timeout_seconds 500 is out of range`,
			`bad_sections.yaml:26:16: temperature 3 is out of range`,
			`bad_sections.yaml:27:21: knowledge file "no/such/file.md" cannot be read`,
			// A folder passed os.Stat, so check said ok and the server then refused to start.
			`bad_sections.yaml:27:38: knowledge file "." is a folder, not a file — list the files in it one by one`}},
		{"bad_classifier", []string{
			`bad_classifier.yaml:12:14: threshold 1.5 is out of range`,
			`bad_classifier.yaml:13:14: ambiguity -0.1 is out of range`,
			`bad_classifier.yaml:16:5: example "???" of classifier.out_of_scope has no words`,
			`bad_classifier.yaml:17:5: an example of classifier.out_of_scope is empty`,
			`bad_classifier.yaml:18:5: example "What's the weather?" of classifier.out_of_scope repeats line 15`}},
		{"bad_acknowledgements", []string{
			// An acknowledgement is added after the answer's placeholders are filled in: only
			// {name}, {business} and {bot} are filled in it, the rest would reach visitors as braces.
			`bad_acknowledgements.yaml:20:9: unknown placeholder {email} — use one of {name}, {business}, {bot}`,
			// The bot silently drops an acknowledgement that promises what only a person can grant.
			`bad_acknowledgements.yaml:22:9: the acknowledgement promises "guarantee" — acknowledge the feeling only; refunds, guarantees and exceptions are for a person to grant`,
			`bad_acknowledgements.yaml:24:9: unknown placeholder {today_hours} — use one of {name}, {business}, {bot}`}},
		{"unset_detail", []string{
			`unset_detail.yaml:13:9: {hours} is used but business.hours is not set — set business.hours, or remove {hours} from the text`,
			`unset_detail.yaml:13:9: {today_hours} is used but business.hours is not set`,
			`unset_detail.yaml:20:9: {address} is used but business.contact.address is not set`,
			`unset_detail.yaml:23:13: {phone} is used but business.contact.phone is not set`}},
		{"llm_key_in_file", []string{
			// The key itself is never repeated in a problem: check output lands in CI logs, and a
			// rejected reload is logged.
			`llm_key_in_file.yaml:12:13: llm.base_url carries a user name or password — remove them from the URL: put the key in an environment variable and name it with api_key_env: (default OPENAI_API_KEY)`,
			`llm_key_in_file.yaml:14:3: an API key is written in the file (llm.api_key) — delete the line: put the key in an environment variable and name it with api_key_env: (default OPENAI_API_KEY)`,
			`llm_key_in_file.yaml:15:16: llm.api_key_env holds what looks like the key itself, not the name of an environment variable — put the key in an environment variable, e.g. export OPENAI_API_KEY=..., and write its name here: api_key_env: OPENAI_API_KEY`}},
		{"missing_file", []string{`testdata/broken/missing_file.yaml: cannot read the file: no such file or directory — check the path, or run without --config`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/broken/" + tt.file + ".yaml"
			cfg, err := intents.Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want problems", path)
			}
			if cfg != nil {
				t.Errorf("Load(%s) returned a configuration with its error", path)
			}
			var ce *intents.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *intents.ConfigError: %v", err, err)
			}
			got := err.Error()
			if n := strings.Count(got, "\n") + 1; n != len(ce.Problems) {
				t.Errorf("Error() has %d lines for %d problems", n, len(ce.Problems))
			}
			for _, line := range strings.Split(got, "\n") {
				if m := problemLine.FindStringSubmatch(line); m == nil || m[1] != path {
					t.Errorf("problem line does not read %s:LINE:COL: what — fix:\n%s", path, line)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems do not contain\n  %s\ngot:\n%s", w, got)
				}
			}
			golden(t, "broken/"+tt.file, got+"\n")
		})
	}
}

// TestLoadBrokenCoversEveryFixture keeps the table above and testdata/broken in step.
func TestLoadBrokenCoversEveryFixture(t *testing.T) {
	yamls, _ := filepath.Glob("testdata/broken/*.yaml")
	goldens, _ := filepath.Glob("testdata/broken/*.golden")
	if len(yamls) == 0 {
		t.Fatal("no fixtures in testdata/broken")
	}
	// Every fixture has a golden file; missing_file has a golden file but, by design, no fixture.
	if len(goldens) != len(yamls)+1 {
		t.Errorf("%d fixtures but %d golden files: every testdata/broken/X.yaml needs a case in TestLoadBroken", len(yamls), len(goldens))
	}
	for _, y := range yamls {
		if _, err := os.Stat(strings.TrimSuffix(y, ".yaml") + ".golden"); err != nil {
			t.Errorf("%s has no golden file: add it to TestLoadBroken and run with -update", y)
		}
	}
}

func TestProblemsAreSortedByPosition(t *testing.T) {
	_, err := intents.Load("testdata/broken/bad_sections.yaml")
	var ce *intents.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConfigError, got %v", err)
	}
	for i := 1; i < len(ce.Problems); i++ {
		a, b := ce.Problems[i-1], ce.Problems[i]
		if a.Line > b.Line || a.Line == b.Line && a.Col > b.Col {
			t.Errorf("problem %d (%d:%d) comes after problem %d (%d:%d)", i-1, a.Line, a.Col, i, b.Line, b.Col)
		}
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    intents.Problem
		want string
	}{
		{intents.Problem{File: "a.yaml", Line: 3, Col: 7, What: "bad", Fix: "fix it"}, "a.yaml:3:7: bad — fix it"},
		{intents.Problem{File: "a.yaml", Line: 3, What: "bad", Fix: "fix it"}, "a.yaml:3: bad — fix it"},
		{intents.Problem{File: "a.yaml", What: "unreadable", Fix: "check the path"}, "a.yaml: unreadable — check the path"},
		{intents.Problem{File: "a.yaml", Line: 1, Col: 1, What: "bad"}, "a.yaml:1:1: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseDemo(t *testing.T) {
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatalf("the embedded demo is invalid:\n%v", err)
	}
	if cfg.Source != configs.DemoName {
		t.Errorf("Source = %q", cfg.Source)
	}
	var own, handoff int
	for _, in := range cfg.Intents {
		if in.Builtin {
			continue
		}
		own++
		if in.Handoff {
			handoff++
		}
		if n := len(in.Examples); n < 8 || n > 15 {
			t.Errorf("demo intent %s has %d examples, want 8-15 so the demo shows realistic variety", in.Name, n)
		}
		if len(in.Tags) == 0 {
			t.Errorf("demo intent %s has no tags", in.Name)
		}
		if len(in.Answer) == 0 {
			t.Errorf("demo intent %s has no answer", in.Name)
		}
	}
	if own < 15 {
		t.Errorf("demo has %d business intents, want at least 15", own)
	}
	if handoff < 2 {
		t.Errorf("demo has %d hand-off intents, want at least 2", handoff)
	}
	if len(cfg.FAQ) < 20 {
		t.Errorf("demo has %d FAQ entries, want at least 20", len(cfg.FAQ))
	}
	for _, f := range cfg.FAQ {
		if n := len(f.Phrasings); n < 2 || n > 5 {
			t.Errorf("demo FAQ %s has %d alternative phrasings, want 2-5", f.ID, n)
		}
	}
	if n := len(cfg.Classifier.OutOfScope); n < 12 {
		t.Errorf("demo has %d out-of-scope phrasings, want about 15", n)
	}
	if cfg.Location == nil || cfg.Location.String() != "Europe/London" {
		t.Errorf("Location = %v, want Europe/London", cfg.Location)
	}
	if len(cfg.Handoff.Canned) == 0 || cfg.LLMEnabled() || cfg.Widget.MaxMessageChars != intents.DefaultMaxMessageChars {
		t.Errorf("demo sections: canned=%d llm=%v max_message_chars=%d", len(cfg.Handoff.Canned), cfg.LLMEnabled(), cfg.Widget.MaxMessageChars)
	}
	// The demo overrides only the goodbye answer; the built-in examples stay.
	bye, ok := cfg.Intent(intents.IntentGoodbye)
	if !ok || !bye.Builtin || len(bye.Examples) == 0 || !strings.Contains(bye.Answer.First(), "popping in") {
		t.Errorf("goodbye override not applied: %+v", bye)
	}
	if _, err := intents.Train(cfg); err != nil {
		t.Fatalf("train on the demo: %v", err)
	}
}

func TestLoadDemoFromDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bakery.yaml")
	if err := os.WriteFile(path, configs.Demo, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := intents.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Source != path {
		t.Errorf("Source = %q, want %q", cfg.Source, path)
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := intents.Load(dir)
	var ce *intents.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("Load(directory) = %v, want one problem", err)
	}
	p := ce.Problems[0]
	if p.File != dir || !strings.Contains(p.What, "cannot read the file") || p.Fix != "check the path and that the file is readable" {
		t.Errorf("problem = %+v", p)
	}
}

// TestLoadNeverEchoesTheAPIKey: a key written into the file by mistake must not be copied into
// `attune check` output or the reload log, wherever in the llm section it was written.
func TestLoadNeverEchoesTheAPIKey(t *testing.T) {
	_, err := intents.Load("testdata/broken/llm_key_in_file.yaml")
	if err == nil {
		t.Fatal("a configuration with an API key in it was accepted")
	}
	for _, secret := range []string{"sk-live-0123456789abcdefABCDEF", "sk-proj-0123456789abcdefABCDEF0123456789", "0123456789abcdef"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the problems repeat the key %q:\n%s", secret, err)
		}
	}

	// Keys that happen to be valid variable names are recognised too; variable names are not.
	for value, isKey := range map[string]bool{
		"AIzaSyD0123456789abcdefGHIJKLmnopqrstu": true,  // Google style
		"0a1b2c3d4e5f60718293a4b5c6d7e8f9":       true,  // Azure style, 32 hex digits
		"a1b2c3d4e5f60718293a4b5c6d7e8f9":        true,  // the same, starting with a letter
		"OPENAI_API_KEY":                         false, //
		"openai_api_key_production2":             false, // lower case with digits, but a name
		"MY_LLM_KEY":                             false,
	} {
		src := strings.Replace(watchedConfig("ok"), "intents:", "llm:\n  base_url: https://api.example/v1\n  model: m\n  api_key_env: "+value+"\nintents:", 1)
		_, err := intents.Parse("k.yaml", []byte(src))
		if got := err != nil && strings.Contains(err.Error(), "api_key_env holds what looks like the key itself"); got != isKey {
			t.Errorf("api_key_env: %s: refused as a key %v, want %v (%v)", value, got, isKey, err)
		}
	}

	// A URL that does not even parse is quoted back, minus its user information.
	bad := strings.Replace(watchedConfig("ok"), "intents:", "llm:\n  base_url: https://me:s3cr%zzT@api.example/v1\n  model: m\nintents:", 1)
	_, err = intents.Parse("bad.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), `"https://…@api.example/v1" is not an http(s) URL`) || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("an unparsable base_url with a password: %v", err)
	}
}
