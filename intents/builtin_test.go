package intents_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/attune-chat/attune/intents"
)

var builtinNames = []string{
	intents.IntentGreeting, intents.IntentThanks, intents.IntentGoodbye, intents.IntentHuman,
	intents.IntentBotCheck, intents.IntentAffirm, intents.IntentDeny,
}

func TestBuiltinsEveryBusinessGets(t *testing.T) {
	cfg := parse(t, "", "")
	for i, name := range builtinNames {
		if !intents.IsBuiltin(name) {
			t.Errorf("IsBuiltin(%q) = false", name)
		}
		in, ok := cfg.Intent(name)
		if !ok {
			t.Fatalf("built-in %q missing from a configuration that does not mention it", name)
		}
		if !in.Builtin || len(in.Examples) < 10 {
			t.Errorf("%s: Builtin=%v with %d examples", name, in.Builtin, len(in.Examples))
		}
		// Built-ins come first, in a fixed order, so that logs and explanations are stable.
		if cfg.Intents[i].Name != name {
			t.Errorf("Intents[%d] = %s, want %s", i, cfg.Intents[i].Name, name)
		}
	}
	if own := cfg.Intents[len(builtinNames)]; own.Name != "order_status" || own.Builtin {
		t.Errorf("first business intent = %+v", own)
	}
	for _, name := range []string{"order_status", "out_of_scope", "faq", ""} {
		if intents.IsBuiltin(name) {
			t.Errorf("IsBuiltin(%q) = true", name)
		}
	}
	// Every built-in answer but the human one (which the bot decides on) discloses nothing wrong:
	// the bot_check answer must say it is a bot.
	bc, _ := cfg.Intent(intents.IntentBotCheck)
	if got := cfg.Expand(bc.Answer.First(), fixedNow); !strings.Contains(got, "a bot") || !strings.Contains(got, "Test Bakery") {
		t.Errorf("bot_check answer = %q", got)
	}
}

func TestBuiltinOverrides(t *testing.T) {
	defaults := parse(t, "", "")
	def := func(name string) *intents.Intent {
		in, _ := defaults.Intent(name)
		return in
	}
	cfg := parse(t, "", `  - name: greeting
    examples: |
      - hiya
      - alright mate
      - good day to you
      - howdy partner
  - name: goodbye
    answer:
      - "Bye from {business}!"
      - "Cheers, see you soon!"
  - name: human
    handoff: true
    tags: [escalation]
  - name: thanks
    tags: [smalltalk]
`)
	greeting, _ := cfg.Intent(intents.IntentGreeting)
	if got := greeting.Examples.Texts(); !reflect.DeepEqual(got, []string{"hiya", "alright mate", "good day to you", "howdy partner"}) {
		t.Errorf("greeting examples = %q, want the YAML ones only", got)
	}
	if greeting.Examples[0].Line == 0 {
		t.Error("overriding examples lost their file positions")
	}
	if greeting.Answer.First() != def(intents.IntentGreeting).Answer.First() {
		t.Errorf("greeting answer = %q, want the built-in one (not overridden)", greeting.Answer.First())
	}
	goodbye, _ := cfg.Intent(intents.IntentGoodbye)
	if got := goodbye.Answer.Texts(); !reflect.DeepEqual(got, []string{"Bye from {business}!", "Cheers, see you soon!"}) {
		t.Errorf("goodbye answer = %q", got)
	}
	if !reflect.DeepEqual(goodbye.Examples.Texts(), def(intents.IntentGoodbye).Examples.Texts()) {
		t.Error("goodbye examples changed although the YAML gave none")
	}
	human, _ := cfg.Intent(intents.IntentHuman)
	if !human.Handoff || !reflect.DeepEqual(human.Tags, []string{"escalation"}) || !human.Builtin {
		t.Errorf("human override = handoff %v tags %q builtin %v", human.Handoff, human.Tags, human.Builtin)
	}
	thanks, _ := cfg.Intent(intents.IntentThanks)
	if !reflect.DeepEqual(thanks.Tags, []string{"smalltalk"}) || thanks.Answer.First() != def(intents.IntentThanks).Answer.First() {
		t.Errorf("thanks override = %+v", thanks)
	}
	// An override replaces the built-in in place: no second intent of the same name.
	seen := map[string]int{}
	for _, in := range cfg.Intents {
		seen[in.Name]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("intent %s appears %d times", name, n)
		}
	}
	if len(cfg.Intents) != len(builtinNames)+1 {
		t.Errorf("%d intents, want the %d built-ins and order_status", len(cfg.Intents), len(builtinNames))
	}
	// Overriding one configuration must not leak into the next: built-ins are fresh per load.
	again := parse(t, "", "")
	if g, _ := again.Intent(intents.IntentGreeting); g.Examples[0].Text != "hi" {
		t.Errorf("a previous override leaked into a new configuration: %q", g.Examples.Texts())
	}
	if h, _ := again.Intent(intents.IntentHuman); h.Handoff || len(h.Tags) != 0 {
		t.Errorf("a previous override leaked into a new configuration: %+v", h)
	}
	if _, err := intents.Train(cfg); err != nil {
		t.Errorf("Train with overrides: %v", err)
	}
}

func TestBuiltinOverrideProblems(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"too few examples", `  - name: deny
    examples: [nope, nah]
`, `intent "deny" has 2 example(s)`},
		{"empty answer", `  - name: affirm
    answer: ""
`, `the text is empty`},
		{"clash with another built-in", `  - name: affirm
    examples: [yes, sure thing, thank you]
`, `the phrasing "thank you" is used by more than one topic: the built-in thanks intent, line `},
		{"defined twice", `  - name: thanks
    tags: [a]
  - name: thanks
    tags: [b]
`, `intent "thanks" is defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\nbusiness:\n  name: B\nintents:\n" + tt.yaml
			_, err := intents.Parse("b.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want a problem containing %q", err, tt.want)
			}
		})
	}
}
