package intents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, parses and validates the configuration file at path. An invalid file yields a
// *ConfigError listing every problem as FILE:LINE:COL: what — fix.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		fix := "check the path and that the file is readable"
		if errors.Is(err, fs.ErrNotExist) {
			fix = "check the path, or run without --config to use the embedded demo configuration"
		}
		return nil, &ConfigError{Problems: []Problem{{File: path, What: "cannot read the file: " + unwrapPathError(err), Fix: fix}}}
	}
	return Parse(path, data)
}

func unwrapPathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse parses and validates a configuration; name is used in problem locations.
func Parse(name string, data []byte) (*Config, error) {
	ps := &problems{file: name}
	if len(bytes.TrimSpace(data)) == 0 {
		ps.add(1, 1, "the file is empty", "start from `attune config default` or configs/demo.yaml")
		return nil, ps.err()
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, col, what, fix := locateSyntaxError(data, err)
		ps.add(line, col, "YAML syntax error: "+what, fix)
		return nil, ps.err()
	}
	if line, ok := secondDocument(data); ok {
		// yaml.Unmarshal reads the first document only: whatever follows "---" would be dropped.
		ps.add(line, 1, "a second YAML document starts here, and only the first is read", "remove the --- line so that everything is one document")
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		ps.add(1, 1, "the file must be a mapping of sections", "start it with \"version: 1\" followed by business:, persona:, intents:, faq:")
		return nil, ps.err()
	}
	doc := root.Content[0]

	// Strict keys first: a typo must never pass silently, and yaml.v3's own KnownFields check stops
	// at the first unknown key without a column, so we walk the tree against the struct tags.
	pos := map[string]*yaml.Node{}
	checkKeys(doc, reflect.TypeOf(Config{}), "", pos, ps)

	// Unknown keys do not stop validation (everything wrong is reported in one run), but values of
	// the wrong type do: the config they leave behind would produce misleading follow-on problems.
	var cfg Config
	if err := doc.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			ps.add(lineOf(err.Error()), 0, stripLinePrefix(err.Error()), "fix the value's type")
			return nil, ps.err()
		}
		for _, msg := range te.Errors {
			if alreadyDefined.MatchString(msg) {
				continue // reported by checkKeys, with its column
			}
			line, col, text := lineOf(msg), colOf(msg), stripLinePrefix(msg)
			if col == 0 {
				var n *yaml.Node
				if n, col = typeErrorNode(doc, line, text), firstColumn(data, line); n != nil {
					col = n.Column
					// yaml.v3 shortens long values ("https:/..."); quote the whole one.
					text = strings.Replace(text, "`"+unmarshalMsg.FindStringSubmatch(text)[2]+"`", "`"+n.Value+"`", 1)
				}
			}
			what, fix := explainTypeError(text)
			ps.add(line, col, what, fix)
		}
		return nil, ps.err()
	}
	cfg.Source = name
	cfg.Digest = digest(data)
	fillColumns(&cfg, data)
	v := validator{data: data, cfg: &cfg, pos: pos, ps: ps}
	v.validate()
	if err := ps.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// secondDocument reports whether data holds more than one YAML document, with the line of the
// "---" that starts the second (an empty document after a trailing "---" does not count).
func secondDocument(data []byte) (int, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if dec.Decode(&first) != nil {
		return 0, false
	}
	err := dec.Decode(&second)
	if errors.Is(err, io.EOF) || (err == nil && (len(second.Content) == 0 || second.Content[0].Tag == "!!null")) {
		return 0, false
	}
	lines := strings.Split(string(data), "\n")
	end := len(lines)
	if err == nil {
		end = second.Content[0].Line
	}
	for i := max(first.Content[0].Line, 1); i <= end && i <= len(lines); i++ {
		if strings.HasPrefix(lines[i-1], "---") {
			return i, true
		}
	}
	return end, true
}

// linePrefix matches yaml.v3's "line N: " and our own unmarshalers' "line N:COL: ".
// locateSyntaxError finds where a YAML syntax error is. yaml.v3 names the line where the
// enclosing block began (its "context", often the "intents:" line far above the mistake) and no
// column. The mistake is on the first line whose addition makes the text fail the same way, at
// or after that line; the character that YAML stumbles on there also says how to fix it.
func locateSyntaxError(data []byte, err error) (line, col int, what, fix string) {
	msg := strings.TrimPrefix(stripLinePrefix(strings.TrimPrefix(err.Error(), "yaml: ")), "yaml: ")
	what = msg
	fix = "check indentation (spaces, not tabs) and quote values that contain \": \" or start with a special character"
	lines := strings.Split(string(data), "\n")
	line = lineOf(err.Error())
	for k := max(line-1, 1); k <= len(lines); k++ {
		var n yaml.Node
		e := yaml.Unmarshal([]byte(strings.Join(lines[:k], "\n")), &n)
		if e != nil && strings.TrimPrefix(stripLinePrefix(strings.TrimPrefix(e.Error(), "yaml: ")), "yaml: ") == msg {
			line = k
			break
		}
	}
	if line < 1 || line > len(lines) {
		return line, 0, what, fix
	}
	text := lines[line-1]
	col = firstColumn(data, line)
	// The value after "key: " or "- ", where most mistakes are.
	valueCol := 0
	if i := strings.Index(text, ": "); i >= 0 {
		if j := strings.IndexFunc(text[i+2:], func(r rune) bool { return r != ' ' }); j >= 0 {
			valueCol = i + 2 + j + 1
		}
	}
	const quote = "put the whole value in quotes: \"…\""
	indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
	switch {
	case strings.Contains(indent, "\t"):
		return line, strings.Index(text, "\t") + 1, "found a tab in the indentation", "indent with spaces, not tabs"
	case strings.Contains(msg, "mapping values are not allowed") && valueCol > 0 && strings.Contains(text[valueCol-1:], ": "):
		return line, valueCol + strings.Index(text[valueCol-1:], ": "), "\": \" inside a value that is not in quotes", quote
	case valueCol > 0 && (text[valueCol-1] == '{' || text[valueCol-1] == '['):
		open := text[valueCol-1]
		closer := map[byte]string{'{': "}", '[': "]"}[open]
		value := strings.TrimSpace(text[valueCol-1:])
		if !strings.Contains(value, closer) {
			return line, valueCol, fmt.Sprintf("the %s started with %c is not closed on its line", map[byte]string{'{': "mapping", '[': "list"}[open], open),
				fmt.Sprintf("end it with %s, or put the whole value in quotes if it is text: \"…\"", closer)
		}
		if !strings.HasSuffix(value, closer) { // "{hours} is when we are open"
			return line, valueCol, fmt.Sprintf("a value starting with %c is read as a %s", open, map[byte]string{'{': "mapping", '[': "list"}[open]), quote
		}
	case strings.Contains(msg, "end of stream") && valueCol > 0 && (text[valueCol-1] == '"' || text[valueCol-1] == '\'') && strings.Count(text[valueCol-1:], text[valueCol-1:valueCol]) == 1:
		return line, valueCol, "a quoted value is not closed", fmt.Sprintf("end it with %s, the quote it starts with", text[valueCol-1:valueCol])
	case valueCol > 0 && (text[valueCol-1] == '@' || text[valueCol-1] == '`'):
		return line, valueCol, fmt.Sprintf("a value cannot start with %c", text[valueCol-1]), quote
	}
	return line, col, what, fix
}

var linePrefix = regexp.MustCompile(`^(yaml: )?line (\d+)(?::(\d+))?: `)

func lineOf(msg string) int {
	m := linePrefix.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

func colOf(msg string) int {
	m := linePrefix.FindStringSubmatch(msg)
	if m == nil || m[3] == "" {
		return 0
	}
	n, _ := strconv.Atoi(m[3])
	return n
}

// typeErrorNode finds the value a yaml.v3 type error points at: the errors say "line 15: cannot
// unmarshal !!str `maybe` into bool", without a column, and may shorten the value ("https:/...").
func typeErrorNode(doc *yaml.Node, line int, msg string) *yaml.Node {
	m := unmarshalMsg.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	prefix := strings.TrimSuffix(m[2], "...")
	var find func(n *yaml.Node, isKey bool) *yaml.Node
	find = func(n *yaml.Node, isKey bool) *yaml.Node {
		if !isKey && n.Line == line && n.Tag == "!!"+m[1] && strings.HasPrefix(n.Value, prefix) {
			return n
		}
		for i, c := range n.Content {
			if found := find(c, n.Kind == yaml.MappingNode && i%2 == 0); found != nil {
				return found
			}
		}
		return nil
	}
	return find(doc, false)
}

// firstColumn is the column of the first character written on a line, or 0.
func firstColumn(data []byte, line int) int {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return 0
	}
	l := lines[line-1]
	if strings.TrimSpace(l) == "" {
		return 0
	}
	return len(l) - len(strings.TrimLeft(l, " \t")) + 1
}

func stripLinePrefix(msg string) string { return linePrefix.ReplaceAllString(msg, "") }

var alreadyDefined = regexp.MustCompile(`mapping key ".*" already defined at line \d+$`)

var unmarshalMsg = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// explainTypeError turns yaml.v3's Go-flavoured type errors into what a business owner can act on.
func explainTypeError(msg string) (what, fix string) {
	m := unmarshalMsg.FindStringSubmatch(msg)
	if m == nil {
		// Our own unmarshalers (Phrases, Variants) already say what is wrong — and how to fix it.
		if what, fix, ok := strings.Cut(msg, " — "); ok {
			return what, fix
		}
		return msg, "fix the value"
	}
	kinds := map[string]string{"str": "text", "int": "a whole number", "float": "a number", "bool": "true/false",
		"seq": "a list", "map": "a mapping", "null": "nothing"}
	got := kinds[m[1]]
	if got == "" {
		got = m[1]
	}
	want := m[3]
	switch {
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "intents."):
		want = "a mapping (key: value lines)"
	case strings.Contains(want, "int"):
		want = "a whole number"
	case strings.Contains(want, "float"):
		want = "a number"
	case want == "bool" || want == "*bool":
		want = "true or false"
	case want == "string":
		want = "text"
	}
	if m[2] == "" { // a list or a mapping: yaml.v3 does not quote those
		return fmt.Sprintf("expected %s here, found %s", want, got), "write " + want
	}
	if _, err := strconv.ParseFloat(m[2], 64); err == nil && m[1] == "str" {
		return fmt.Sprintf("expected %s here, found text %q (in quotes)", want, m[2]), "remove the quotes"
	}
	return fmt.Sprintf("expected %s here, found %s %q", want, got, m[2]), "write " + want
}

// secretKey matches the keys people write an API key under (api_key, key, token, secret, ...).
var secretKey = regexp.MustCompile(`(?i)(key|token|secret|password|passwd|auth|bearer)`)

// keyFix says where an LLM API key belongs.
const keyFix = "put the key in an environment variable and name it with api_key_env: (default " + DefaultAPIKeyEnv + ")"

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys reports every mapping key that does not name a field, and records the node of every
// path (e.g. "intents[2].name") for validation messages.
func checkKeys(n *yaml.Node, t reflect.Type, path string, pos map[string]*yaml.Node, ps *problems) {
	pos[path] = n
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// yaml.v3 stores 2.5 in an int as 2 without a word: a typo would quietly become a setting.
		if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
			ps.add(n.Line, n.Column, fmt.Sprintf("expected a whole number here, found %s", n.Value), "write a whole number such as 3, without a decimal point or exponent")
		}
	case reflect.Float32, reflect.Float64:
		// .nan passes every range check (all comparisons with it are false), and .inf is no setting.
		if f, ok := yamlFloat(n); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			ps.add(n.Line, n.Column, fmt.Sprintf("expected a number here, found %s", n.Value), "write a number, e.g. 0.5")
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if duplicateKey(n, i, path, ps) {
				continue
			}
			if key.Tag == "!!merge" {
				// "<<: *base" merges a mapping written elsewhere, whose keys are checked where
				// they are written; Decode applies the merge.
				continue
			}
			f, ok := fields[key.Value]
			if !ok {
				fix := suggest(key.Value, fields)
				if path == "llm" && secretKey.MatchString(key.Value) && !strings.HasPrefix(fix, "did you mean") {
					// "remove it, or use one of: api_key_env, ..." would invite writing the key
					// into api_key_env instead; say where a key belongs.
					ps.add(key.Line, key.Column, fmt.Sprintf("an API key is written in the file (llm.%s)", key.Value), "delete the line: "+keyFix)
					continue
				}
				ps.add(key.Line, key.Column, fmt.Sprintf("unknown key %q%s", key.Value, where(path)), fix)
				if strings.HasPrefix(fix, "did you mean") {
					pos[path+":misspelt"] = key // validation stays quiet about what the typo left empty
				}
				continue
			}
			child := key.Value
			if path != "" {
				child = path + "." + key.Value
			}
			pos[child+":key"] = key
			checkKeys(val, f.Type, child, pos, ps)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), pos, ps)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if duplicateKey(n, i, path, ps) {
				continue
			}
			pos[path+"."+key.Value+":key"] = key
			checkKeys(val, t.Elem(), path+"."+key.Value, pos, ps)
		}
	}
}

// duplicateKey reports the key at n.Content[i] if an earlier key of mapping n has the same name.
// yaml.v3 would say only "mapping key already defined", without a column, for the first one.
func duplicateKey(n *yaml.Node, i int, path string, ps *problems) bool {
	key := n.Content[i]
	for j := 0; j < i; j += 2 {
		if first := n.Content[j]; first.Value == key.Value {
			fix := "keep one of them"
			if n.Content[i+1].Kind == yaml.SequenceNode {
				fix += "; put every item of the list under the first"
			}
			ps.add(key.Line, key.Column, fmt.Sprintf("key %q is given twice%s (first at line %d)", key.Value, where(path), first.Line), fix)
			return true
		}
	}
	return false
}

// yamlFloat decodes a scalar that YAML reads as a float (1.5, 1e3, .nan, -.Inf).
func yamlFloat(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!float" {
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		return 0, false
	}
	return f, true
}

func where(path string) string {
	if path == "" {
		return " at the top level"
	}
	return " in " + path
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f
	}
	return out
}

// suggest proposes the closest known key, or lists them all when nothing is close.
func suggest(key string, fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, name := range names {
		if d := editDistance(strings.ToLower(key), name); d < bestD {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "remove it, or use one of: " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fillColumns gives block-scalar phrasings and answers their column (the decoder only knows
// their line).
func fillColumns(cfg *Config, data []byte) {
	fix := func(ps Phrases) {
		for i := range ps {
			if ps[i].Col == 0 {
				ps[i].Col = firstColumn(data, ps[i].Line)
			}
		}
	}
	for i := range cfg.Intents {
		fix(cfg.Intents[i].Examples)
		fix(Phrases(cfg.Intents[i].Answer))
	}
	for i := range cfg.FAQ {
		fix(cfg.FAQ[i].Phrasings)
		fix(Phrases(cfg.FAQ[i].Answer))
	}
	fix(cfg.Classifier.OutOfScope)
	fix(Phrases(cfg.Persona.Greeting))
	fix(Phrases(cfg.Persona.Fallback))
	fix(Phrases(cfg.Persona.Clarify))
	for _, vs := range cfg.Tone.Acknowledgements {
		fix(Phrases(vs))
	}
}
