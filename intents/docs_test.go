package intents_test

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/intents"
)

// TestConfigurationDocsCheckExamples runs the broken bakery.yaml of docs/configuration.md, as
// written and with its misspelt key, and compares the problems with the output the page shows:
// the reference must not promise a report that `attune check` does not give.
func TestConfigurationDocsCheckExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(doc)
	start := strings.Index(page, "A broken one, `bakery.yaml`:")
	if start < 0 {
		t.Fatal("docs/configuration.md no longer has the broken bakery.yaml example")
	}
	page = page[start:]
	src := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(page)
	outputs := regexp.MustCompile("(?s)```text\n\\$ attune check bakery.yaml\n(.*?)```").FindAllStringSubmatch(page, -1)
	if src == nil || len(outputs) != 2 {
		t.Fatalf("want the bakery.yaml source and two outputs of attune check after it, found %d outputs", len(outputs))
	}
	cases := []struct{ name, yaml, output string }{
		{"as written", src[1], outputs[0][1]},
		{"with examples misspelt", strings.Replace(src[1], "    examples: |\n      - where is my order\n      - has it shipped", "    exmples: |\n      - where is my order\n      - has it shipped", 1), outputs[1][1]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := intents.Parse("bakery.yaml", []byte(c.yaml))
			var ce *intents.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("the example is valid: %v", err)
			}
			var want []string
			for _, line := range strings.Split(strings.TrimSpace(c.output), "\n") {
				if strings.HasPrefix(line, "bakery.yaml:") && !strings.Contains(line, " problem(s)") {
					want = append(want, line)
				}
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("attune check prints:\n%s\nthe docs show:\n%s", got, strings.Join(want, "\n"))
			}
			if n := strings.Count(c.output, "problem(s)"); n != 1 || !strings.Contains(c.output, "bakery.yaml: "+strconv.Itoa(len(ce.Problems))+" problem(s)") {
				t.Errorf("the docs' problem count does not say %d problem(s):\n%s", len(ce.Problems), c.output)
			}
		})
	}
}

// TestConfigurationDocsListEveryKey checks docs/configuration.md against the Config struct both
// ways: every key the loader accepts has a row in its section's table, and every row names a key
// the loader accepts (a documented key that does not exist would be refused as unknown).
func TestConfigurationDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	// Rows of the key tables: "| `key` | type | default | rule |", under "## `section`".
	documented := map[string]bool{}
	section := ""
	heading := regexp.MustCompile("^## `([a-z_]+)`")
	row := regexp.MustCompile("^\\| `([a-z_.]+)` \\|")
	for _, line := range strings.Split(string(doc), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			section = m[1]
			documented[section] = true
			continue
		}
		if strings.HasPrefix(line, "## ") {
			section = ""
		}
		if m := row.FindStringSubmatch(line); m != nil && section != "" {
			documented[section+"."+m[1]] = true
		}
	}

	accepted := map[string]bool{}
	var walk func(t reflect.Type, path string, inList bool)
	walk = func(t reflect.Type, path string, inList bool) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := name
			if path != "" {
				key = path + "." + name
			}
			// The fields of list items inside a section (handoff.canned's title and text) are
			// described in their parent's row.
			if !inList {
				accepted[key] = true
			}
			ft := t.Field(i).Type
			walk(ft, key, inList || (path != "" && ft.Kind() == reflect.Slice))
		}
	}
	walk(reflect.TypeOf(intents.Config{}), "", false)

	parentOfDocumented := func(key string) bool { // business.contact, documented as contact.email, ...
		for d := range documented {
			if strings.HasPrefix(d, key+".") {
				return true
			}
		}
		return false
	}
	for key := range accepted {
		if !documented[key] && !parentOfDocumented(key) {
			t.Errorf("the loader accepts %s, but docs/configuration.md has no row for it", key)
		}
	}
	for key := range documented {
		if !accepted[key] {
			t.Errorf("docs/configuration.md documents %s, which the loader refuses as an unknown key", key)
		}
	}
}
