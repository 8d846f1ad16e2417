package intents

import (
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/attune-chat/attune/intents/nlu"
	"gopkg.in/yaml.v3"
)

// Tones are the feelings the tone analyzer scores and the tone section configures.
var Tones = []string{"frustration", "confusion", "anxiety", "urgency", "delight"}

type validator struct {
	data []byte // the file, for the columns of lines inside block scalars
	cfg  *Config
	pos  map[string]*yaml.Node
	ps   *problems
}

// at finds the line and column of path, falling back to its nearest recorded ancestor.
func (v *validator) at(path string) (int, int) {
	for p := path; ; {
		if n, ok := v.pos[p]; ok {
			return n.Line, n.Column
		}
		if p == "" {
			return 1, 1
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			p = ""
		} else {
			p = p[:i]
		}
	}
}

func (v *validator) bad(path, what, fix string) {
	if v.underTypo(path) {
		return
	}
	line, col := v.at(path)
	v.ps.add(line, col, what, fix)
}

// underTypo reports whether path lies in a mapping with a misspelt key: "intent has no examples"
// after "unknown key exmples — did you mean examples?" would only repeat the same problem.
func (v *validator) underTypo(path string) bool {
	for p := path; p != ""; {
		if _, ok := v.pos[p+":misspelt"]; ok {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return false
}

func (v *validator) badAt(line, col int, what, fix string) { v.ps.add(line, col, what, fix) }

var (
	namePattern   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	tagPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	accentPattern = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	placeholder   = regexp.MustCompile(`\{([a-z_]*)\}`)
	botDisclosure = regexp.MustCompile(`(?i)\b(bot|chatbot|virtual assistant|automated assistant|ai assistant|digital assistant)\b`)
)

// answerPlaceholders are the names Expand fills in; validation rejects any other.
var answerPlaceholders = []string{"business", "bot", "email", "phone", "address", "website", "hours", "today_hours"}

func (v *validator) validate() {
	c := v.cfg
	if c.Version != 1 {
		if _, ok := v.pos["version"]; ok {
			v.bad("version", fmt.Sprintf("unsupported version %d", c.Version), "set \"version: 1\"")
		} else {
			v.badAt(1, 1, "the version key is missing", "add \"version: 1\" as the first line")
		}
	}
	v.business()
	v.persona()
	v.intents()
	v.faq()
	v.classifier()
	v.examplesClash()
	v.tone()
	v.handoff()
	v.llm()
	v.widget()
	if c.Privacy.RetentionDays < 0 || c.Privacy.RetentionDays > 3650 {
		v.bad("privacy.retention_days", fmt.Sprintf("retention_days %d is out of range", c.Privacy.RetentionDays), "use a number of days from 1 to 3650")
	}
	if c.Privacy.RetentionDays == 0 {
		c.Privacy.RetentionDays = DefaultRetentionDays
	}
}

func (v *validator) business() {
	b := &v.cfg.Business
	if strings.TrimSpace(b.Name) == "" {
		v.bad("business.name", "the business name is missing", "add business: name: \"Your Business\"")
	}
	if b.Timezone == "" {
		b.Timezone = "UTC"
		if len(b.Hours) > 0 {
			v.bad("business", "opening hours are given without a time zone", "add business: timezone: with an IANA name such as Europe/London")
		}
	}
	loc, err := time.LoadLocation(b.Timezone)
	if err == nil && loc == time.Local {
		// LoadLocation reads "Local" as the machine's zone (UTC in most containers): the hours
		// would move with the server, not stay with the business.
		v.bad("business.timezone", fmt.Sprintf("time zone %q is the server's own zone, not the business's", b.Timezone),
			"use the IANA name of the business's time zone, such as Europe/London or America/New_York")
		loc = time.UTC
	} else if err != nil {
		fix := "use an IANA time zone name such as Europe/London or America/New_York"
		if name, ok := zoneSpelling(b.Timezone); ok {
			fix = fmt.Sprintf("did you mean %q?", name)
		}
		v.bad("business.timezone", fmt.Sprintf("unknown time zone %q", b.Timezone), fix)
		loc = time.UTC
	}
	v.cfg.Location = loc
	seen := map[time.Weekday]string{}
	for _, key := range v.hourKeys() {
		val := b.Hours[key]
		path := "business.hours." + key
		days, err := parseDays(key)
		if err != nil {
			line, col := v.at(path + ":key")
			v.badAt(line, col, fmt.Sprintf("bad opening-hours day %q: %v", key, err), "use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri")
			continue
		}
		ivs, err := parseIntervals(val)
		if err != nil {
			what, fix, ok := strings.Cut(err.Error(), " — ")
			if !ok {
				fix = "write \"08:00-18:00\", several ranges as \"08:00-12:00, 13:00-17:00\", or \"closed\""
			}
			v.bad(path, fmt.Sprintf("bad opening hours for %s: %s", key, what), fix)
			continue
		}
		for _, d := range days {
			if other, dup := seen[d]; dup {
				line, col := v.at(path + ":key")
				v.badAt(line, col, fmt.Sprintf("%s is given twice (in %q and %q)", d, other, key), "give each day once")
				continue
			}
			seen[d] = key
			v.cfg.Schedule[d] = ivs
		}
	}
	if e := b.Contact.Email; e != "" {
		if _, err := mail.ParseAddress(e); err != nil || strings.ContainsAny(e, "<> ") {
			v.bad("business.contact.email", fmt.Sprintf("%q is not an email address", e), "write it as name@example.com")
		}
	}
	if w := b.Contact.Website; w != "" {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.bad("business.contact.website", fmt.Sprintf("%q is not a web address", w), "write it as https://example.com")
		}
	}
}

// zoneSpelling finds the known spelling of a time zone written in the wrong case
// ("europe/london", "AMERICA/NEW_YORK"): the database's names are case-sensitive.
func zoneSpelling(zone string) (string, bool) {
	for _, name := range []string{strings.ToUpper(zone), titleZone(zone)} {
		if name == zone {
			continue
		}
		if _, err := time.LoadLocation(name); err == nil && name != "Local" {
			return name, true
		}
	}
	return "", false
}

// titleZone capitalises each word of a zone name: america/new_york -> America/New_York.
func titleZone(zone string) string {
	b := []byte(strings.ToLower(zone))
	for i := range b {
		if (i == 0 || b[i-1] == '/' || b[i-1] == '_' || b[i-1] == '-') && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// hourKeys lists the opening-hours keys in file order: ranging over the map would make "given
// twice" problems, and which of two overlapping keys wins, change from run to run.
func (v *validator) hourKeys() []string {
	keys := make([]string, 0, len(v.cfg.Business.Hours))
	for k := range v.cfg.Business.Hours {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, ci := v.at("business.hours." + keys[i] + ":key")
		lj, cj := v.at("business.hours." + keys[j] + ":key")
		if li != lj {
			return li < lj
		}
		return ci < cj
	})
	return keys
}

func (v *validator) persona() {
	p := &v.cfg.Persona
	if len(p.Greeting) == 0 {
		p.Greeting = Variants{{Text: "Hi! I'm {bot}, the virtual assistant (a bot) of {business}. Ask me anything — and if you'd rather talk to a person, just say so."}}
	}
	for i, g := range p.Greeting {
		path := fmt.Sprintf("persona.greeting[%d]", i)
		if len(p.Greeting) == 1 {
			path = "persona.greeting"
		}
		if !botDisclosure.MatchString(g.Text) {
			v.badAt(g.Line, g.Col, "the greeting does not tell visitors they are talking to a bot",
				"say it plainly, e.g. \"Hi, I'm {bot}, the virtual assistant (a bot) of {business}\"")
		}
		v.placeholders(path, g, answerPlaceholders)
	}
	if len(p.Fallback) == 0 {
		p.Fallback = Variants{{Text: "Sorry, I'm not sure I understood. Could you put it another way? If you'd rather talk to a person, just say so."}}
	}
	if len(p.Clarify) == 0 {
		p.Clarify = Variants{{Text: "Just to be sure I help with the right thing: do you mean {options}?"}}
	}
	for i, f := range p.Fallback {
		v.placeholders(fmt.Sprintf("persona.fallback[%d]", i), f, answerPlaceholders)
	}
	for i, f := range p.Clarify {
		v.placeholders(fmt.Sprintf("persona.clarify[%d]", i), f, append([]string{"options"}, answerPlaceholders...))
		if !strings.Contains(f.Text, "{options}") {
			v.badAt(f.Line, f.Col, "the clarifying question does not mention {options}", "include {options} where the two candidate topics go")
		}
	}
}

// placeholders checks that a text uses only the given {names}.
func (v *validator) placeholders(path string, t Variant, allowed []string) {
	if t.Text == "" {
		v.badAtOr(path, t, "the text is empty", "write the text, or remove the entry")
		return
	}
	for _, idx := range placeholder.FindAllStringSubmatchIndex(t.Text, -1) {
		m := []string{t.Text[idx[0]:idx[1]], t.Text[idx[2]:idx[3]]}
		t := v.lineOf(t, idx[0])
		ok := false
		for _, a := range allowed {
			if m[1] == a {
				ok = true
			}
		}
		if !ok {
			v.badAtOr(path, t, fmt.Sprintf("unknown placeholder {%s}", m[1]), "use one of {"+strings.Join(allowed, "}, {")+"}")
			continue
		}
		if key, unset := v.unsetDetail(m[1]); unset {
			// Expand would print an empty string ("call  today") or, for the
			// hours, "Mon–Sun closed": a visitor would be told something false.
			v.badAtOr(path, t, fmt.Sprintf("{%s} is used but %s is not set", m[1], key), fmt.Sprintf("set %s, or remove {%s} from the text", key, m[1]))
		}
	}
}

// lineOf points a text at the line holding its byte i: in a multi-line block answer
// ("answer: |"), each text line is a line of the file, at the block's indentation.
func (v *validator) lineOf(t Variant, i int) Variant {
	if n := strings.Count(t.Text[:i], "\n"); n > 0 && t.Line > 0 {
		t.Line += n
		t.Col = firstColumn(v.data, t.Line)
	}
	return t
}

// unsetDetail reports whether the business detail behind placeholder name is
// missing from the configuration, with the key that would set it.
func (v *validator) unsetDetail(name string) (key string, unset bool) {
	b := v.cfg.Business
	switch name {
	case "email":
		return "business.contact.email", strings.TrimSpace(b.Contact.Email) == ""
	case "phone":
		return "business.contact.phone", strings.TrimSpace(b.Contact.Phone) == ""
	case "address":
		return "business.contact.address", strings.TrimSpace(b.Contact.Address) == ""
	case "website":
		return "business.contact.website", strings.TrimSpace(b.Contact.Website) == ""
	case "hours", "today_hours":
		return "business.hours", len(b.Hours) == 0
	}
	return "", false
}

func (v *validator) badAtOr(path string, t Variant, what, fix string) {
	if t.Line > 0 {
		v.badAt(t.Line, t.Col, what, fix)
		return
	}
	v.bad(path, what, fix)
}

func (v *validator) intents() {
	c := v.cfg
	seen := map[string]string{}
	for i := range c.Intents {
		in := &c.Intents[i]
		path := fmt.Sprintf("intents[%d]", i)
		switch {
		case in.Name == "":
			v.bad(path, "an intent has no name", "add name: with a lowercase name such as order_status")
			continue
		case !namePattern.MatchString(in.Name):
			v.bad(path+".name", fmt.Sprintf("intent name %q is not lowercase_with_underscores", in.Name), "rename it, e.g. "+strings.ToLower(strings.NewReplacer(" ", "_", "-", "_").Replace(in.Name)))
		case in.Name == nlu.OutOfScope:
			v.bad(path+".name", "the intent name out_of_scope is reserved", "list out-of-scope phrasings under classifier: out_of_scope: instead")
		}
		if prev, dup := seen[in.Name]; dup {
			v.bad(path+".name", fmt.Sprintf("intent %q is defined twice (first at %s)", in.Name, prev), "merge the two definitions or rename one")
		}
		line, _ := v.at(path)
		seen[in.Name] = fmt.Sprintf("line %d", line)
		builtin := IsBuiltin(in.Name)
		if len(in.Examples) < 3 && !(builtin && len(in.Examples) == 0) {
			v.bad(path+".examples", fmt.Sprintf("intent %q has %d example(s); at least 3 are needed to recognise it", in.Name, len(in.Examples)),
				"add more ways a customer might say it, one \"- example\" per line")
		}
		v.duplicatePhrases(in.Examples, "intent "+in.Name)
		if len(in.Answer) == 0 && !in.Handoff && !builtin {
			v.bad(path, fmt.Sprintf("intent %q has no answer", in.Name), "add answer: with what the bot should say, or handoff: true if a person must take it")
		}
		for j, a := range in.Answer {
			v.placeholders(fmt.Sprintf("%s.answer[%d]", path, j), a, answerPlaceholders)
		}
		v.tags(path, in.Tags)
	}
	c.Intents = mergeBuiltins(c.Intents)
}

// tags checks routing tags, which intents and FAQ entries share.
func (v *validator) tags(path string, tags []string) {
	for j, tag := range tags {
		if !tagPattern.MatchString(tag) {
			v.bad(fmt.Sprintf("%s.tags[%d]", path, j), fmt.Sprintf("tag %q is not lowercase letters, digits, - or _", tag), "rename the tag, e.g. "+tagSuggestion(tag))
		}
	}
}

// tagSuggestion proposes a valid tag close to a bad one: "Bread & Rolls" -> bread-rolls.
func tagSuggestion(tag string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(tag) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "orders"
	}
	return b.String()
}

func (v *validator) duplicatePhrases(ps Phrases, owner string) {
	first := map[string]Phrase{}
	for _, p := range ps {
		if p.Text == "" {
			v.badAt(p.Line, p.Col, "an example of "+owner+" is empty", "remove the empty \"- \" line")
			continue
		}
		key := nlu.Normalize(p.Text)
		if key == "" {
			// nlu.Train refuses such an example, so a file that passed `attune check` would fail to load.
			v.badAt(p.Line, p.Col, fmt.Sprintf("example %q of %s has no words (only punctuation, symbols or emoji)", p.Text, owner), "write it in words, or remove the line")
			continue
		}
		if f, dup := first[key]; dup {
			v.badAt(p.Line, p.Col, fmt.Sprintf("example %q of %s repeats line %d", p.Text, owner, f.Line), "remove one of them")
			continue
		}
		first[key] = p
	}
}

func (v *validator) faq() {
	c := v.cfg
	ids := map[string]int{}
	for i := range c.FAQ {
		f := &c.FAQ[i]
		path := fmt.Sprintf("faq[%d]", i)
		f.Line, _ = v.at(path)
		if strings.TrimSpace(f.Question) == "" {
			v.bad(path, "an FAQ entry has no question", "add question: with the question as a customer would ask it")
			continue
		}
		if f.ID == "" {
			f.ID = slug(f.Question)
		} else if !namePattern.MatchString(f.ID) {
			v.bad(path+".id", fmt.Sprintf("FAQ id %q is not lowercase_with_underscores", f.ID), "rename it, or remove id: to derive it from the question")
		}
		if prev, dup := ids[f.ID]; dup {
			v.bad(path+".question", fmt.Sprintf("FAQ entry %q duplicates the entry at line %d", f.ID, prev), "merge the two entries, or give one a distinct id:")
		}
		ids[f.ID] = f.Line
		qLine, qCol := v.at(path + ".question")
		all := append(Phrases{{Text: f.Question, Line: qLine, Col: qCol}}, f.Phrasings...)
		v.duplicatePhrases(all, "FAQ "+f.ID)
		if len(f.Answer) == 0 {
			v.bad(path, fmt.Sprintf("FAQ entry %q has no answer", f.ID), "add answer: with the reply")
		}
		for j, a := range f.Answer {
			v.placeholders(fmt.Sprintf("%s.answer[%d]", path, j), a, answerPlaceholders)
		}
		v.tags(path, f.Tags)
	}
}

// slug derives a stable FAQ id from its question: "Do you deliver on Sundays?" -> do_you_deliver_on_sundays.
func slug(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			under = false
		default:
			under = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	if b.Len() == 0 || b.String()[0] >= '0' && b.String()[0] <= '9' {
		return "faq_" + b.String()
	}
	return b.String()
}

// examplesClash rejects configurations whose classes cannot be told apart: the same phrasing
// under two intents or FAQ entries.
func (v *validator) examplesClash() {
	examples, where := v.cfg.trainingExamples()
	for _, cl := range nlu.Clashes(examples) {
		var places []string
		var at Phrase
		for _, i := range cl.Indices {
			if where[i].Line == 0 {
				places = append(places, "the built-in "+examples[i].Label+" intent")
				continue
			}
			places = append(places, fmt.Sprintf("line %d (%s)", where[i].Line, examples[i].Label))
			at = where[i]
		}
		v.badAt(at.Line, at.Col, fmt.Sprintf("the phrasing %q is used by more than one topic: %s", cl.Text, strings.Join(places, ", ")),
			"keep it under the one topic it belongs to, or reword one of them")
	}
}

// classifier checks the knobs that decide what counts as understood: a threshold of 1.5 would
// silently turn every answer into a fallback, and an empty out-of-scope line would pass check but
// make training fail on load.
func (v *validator) classifier() {
	c := &v.cfg.Classifier
	if c.Threshold < 0 || c.Threshold >= 1 {
		v.bad("classifier.threshold", fmt.Sprintf("threshold %v is out of range", c.Threshold), "use a number from 0 to below 1, e.g. 0.5, or leave it out for the calibrated default")
	}
	if c.Ambiguity < 0 || c.Ambiguity >= 1 {
		v.bad("classifier.ambiguity", fmt.Sprintf("ambiguity %v is out of range", c.Ambiguity), "use a small number from 0 to below 1, e.g. 0.1")
	}
	v.duplicatePhrases(c.OutOfScope, "classifier.out_of_scope")
}

func (v *validator) tone() {
	t := &v.cfg.Tone
	for name, th := range t.Thresholds {
		if !isTone(name) {
			line, col := v.at("tone.thresholds." + name + ":key")
			v.badAt(line, col, fmt.Sprintf("unknown tone %q", name), "use one of "+strings.Join(Tones, ", "))
		} else if th <= 0 || th > 1 {
			v.bad("tone.thresholds."+name, fmt.Sprintf("threshold %v for %s is out of range", th, name), "use a number above 0 and at most 1, e.g. 0.5")
		}
	}
	for name, vs := range t.Acknowledgements {
		if !isTone(name) {
			line, col := v.at("tone.acknowledgements." + name + ":key")
			v.badAt(line, col, fmt.Sprintf("unknown tone %q", name), "use one of "+strings.Join(Tones, ", "))
			continue
		}
		for j, a := range vs {
			path := fmt.Sprintf("tone.acknowledgements.%s[%d]", name, j)
			v.placeholders(path, a, ackPlaceholders)
			if m := ackPromise.FindString(a.Text); m != "" {
				v.badAtOr(path, a, fmt.Sprintf("the acknowledgement promises %q", m),
					"acknowledge the feeling only; refunds, guarantees and exceptions are for a person to grant")
			}
		}
	}
}

// ackPlaceholders are the names filled in an acknowledgement. It is put before an answer whose
// own placeholders are already filled, so {email}, {hours} and the rest would stay as braces.
var ackPlaceholders = []string{"name", "business", "bot"}

// ackPromise is the phrasing bot/empathy refuses in an acknowledgement (it drops such a variant
// without a word): a promise only a person can make. Kept in step with empathy's own pattern,
// which intents cannot import.
var ackPromise = regexp.MustCompile(`(?i)\b(refund|reimburs|compensat|guarantee|free of charge|for free|waive|exception|credit (it|you|your)|we will make it up|money back)`)

func isTone(name string) bool {
	for _, t := range Tones {
		if t == name {
			return true
		}
	}
	return false
}

func (v *validator) handoff() {
	h := &v.cfg.Handoff
	if h.FrustrationThreshold == 0 {
		h.FrustrationThreshold = DefaultFrustrationThreshold
	} else if h.FrustrationThreshold < 0 || h.FrustrationThreshold > 1 {
		v.bad("handoff.frustration_threshold", fmt.Sprintf("frustration_threshold %v is out of range", h.FrustrationThreshold), "use a number above 0 and at most 1, e.g. 0.7")
	}
	if h.MaxUnresolvedTurns == 0 {
		h.MaxUnresolvedTurns = DefaultMaxUnresolvedTurns
	} else if h.MaxUnresolvedTurns < 0 {
		v.bad("handoff.max_unresolved_turns", "max_unresolved_turns is negative", "use a whole number such as 3")
	}
	for _, f := range []struct {
		path string
		val  *int
		def  int
	}{{"handoff.wait_alert_seconds", &h.WaitAlertSeconds, DefaultWaitAlertSeconds}, {"handoff.grace_seconds", &h.GraceSeconds, DefaultGraceSeconds}} {
		if *f.val == 0 {
			*f.val = f.def
		} else if *f.val < 0 {
			v.bad(f.path, "the number of seconds is negative", fmt.Sprintf("use a positive number such as %d", f.def))
		} else if *f.val > maxHandoffSeconds {
			// Far beyond any use, and past ~292 years time.Duration overflows into a negative wait.
			v.bad(f.path, fmt.Sprintf("%d seconds is more than a day", *f.val), fmt.Sprintf("use at most %d, e.g. %d", maxHandoffSeconds, f.def))
		}
	}
	if h.OfflineMessage != "" {
		// Said to visitors through Expand, like an answer: a typo must not reach them as braces.
		line, col := v.at("handoff.offline_message")
		v.placeholders("handoff.offline_message", Variant{Text: h.OfflineMessage, Line: line, Col: col}, answerPlaceholders)
	}
	if h.OfflineMessage == "" {
		h.OfflineMessage = "Nobody from the team is available right now. Leave your email address and we'll get back to you as soon as we're in — your conversation is saved."
	}
	for i, cr := range h.Canned {
		if strings.TrimSpace(cr.Title) == "" || strings.TrimSpace(cr.Text) == "" {
			v.bad(fmt.Sprintf("handoff.canned[%d]", i), "a canned reply needs both a title and a text", "fill in title: and text:")
		}
	}
}

// maxHandoffSeconds bounds handoff's waits: one day.
const maxHandoffSeconds = 24 * 60 * 60

func (v *validator) llm() {
	l := &v.cfg.LLM
	if l.APIKeyEnv == "" {
		l.APIKeyEnv = DefaultAPIKeyEnv
	} else if !envName.MatchString(l.APIKeyEnv) || looksLikeKey(l.APIKeyEnv) {
		// The value is not repeated: it may be the key, and problems reach CI logs and the server log.
		v.bad("llm.api_key_env", "llm.api_key_env holds what looks like the key itself, not the name of an environment variable",
			"put the key in an environment variable, e.g. export "+DefaultAPIKeyEnv+"=..., and write its name here: api_key_env: "+DefaultAPIKeyEnv)
	}
	if l.TimeoutSeconds == 0 {
		l.TimeoutSeconds = DefaultLLMTimeoutSeconds
	} else if l.TimeoutSeconds < 0 || l.TimeoutSeconds > 120 {
		v.bad("llm.timeout_seconds", fmt.Sprintf("timeout_seconds %v is out of range", l.TimeoutSeconds), "use a number of seconds from 1 to 120")
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = DefaultLLMMaxTokens
	} else if l.MaxTokens < 0 {
		v.bad("llm.max_tokens", "max_tokens is negative", "use a positive number such as 400")
	}
	if l.Temperature != nil && (*l.Temperature < 0 || *l.Temperature > 2) {
		v.bad("llm.temperature", fmt.Sprintf("temperature %v is out of range", *l.Temperature), "use a number from 0 to 2")
	}
	if l.BaseURL == "" && l.Model == "" {
		return
	}
	if l.BaseURL == "" {
		v.bad("llm.model", "llm.model is set but llm.base_url is missing", "add base_url: with the endpoint's URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1")
	} else if u, err := url.Parse(l.BaseURL); err == nil && u.User != nil {
		// The server refuses such an endpoint at start; check must say so, without the password.
		v.bad("llm.base_url", "llm.base_url carries a user name or password", "remove them from the URL: "+keyFix)
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.bad("llm.base_url", fmt.Sprintf("%q is not an http(s) URL", withoutUserinfo(l.BaseURL)), "write the endpoint's base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1")
	}
	if l.Model == "" {
		v.bad("llm", "llm.base_url is set but llm.model is missing", "add model: with the model name the endpoint serves")
	}
	dir := filepath.Dir(v.cfg.Source)
	for i, f := range l.KnowledgeFiles {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, f)
		}
		// Opened, not just stat'ed: the server reads every file at start and refuses to start
		// on one it cannot read, so check must not call it fine.
		path := fmt.Sprintf("llm.knowledge_files[%d]", i)
		fh, err := os.Open(p)
		if err != nil {
			v.bad(path, fmt.Sprintf("knowledge file %q cannot be read", f), "check the path (relative paths start at the configuration file's folder)")
			continue
		}
		info, err := fh.Stat()
		fh.Close()
		if err == nil && info.IsDir() {
			v.bad(path, fmt.Sprintf("knowledge file %q is a folder, not a file", f), "list the files in it one by one")
		}
	}
}

// envName is what a shell accepts as an environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// looksLikeKey reports whether a would-be variable name is more likely a pasted key: long, with
// lower-case letters and digits, and either upper case too or no "_" (generated keys such as
// Google's AIza... or Azure's 32 hex digits), where variable names are OPENAI_API_KEY-like.
func looksLikeKey(s string) bool {
	lower, upper, digit := false, false, false
	for _, r := range s {
		lower = lower || r >= 'a' && r <= 'z'
		upper = upper || r >= 'A' && r <= 'Z'
		digit = digit || r >= '0' && r <= '9'
	}
	return len(s) >= 20 && lower && digit && (upper || !strings.Contains(s, "_"))
}

// withoutUserinfo drops "user:password@" from a URL-like text that url.Parse refused, so that a
// problem never repeats a password.
func withoutUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	authority, path, slash := strings.Cut(rest, "/")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = "…" + authority[i:]
	}
	if slash {
		authority += "/" + path
	}
	return scheme + "://" + authority
}

func (v *validator) widget() {
	w := &v.cfg.Widget
	if w.Accent == "" {
		w.Accent = DefaultAccent
	} else if !accentPattern.MatchString(w.Accent) {
		v.bad("widget.accent", fmt.Sprintf("%q is not a hex colour", w.Accent), "write it as \"#7a3e9d\" (quotes needed: # starts a comment)")
	}
	switch w.Position {
	case "":
		w.Position = "right"
	case "left", "right":
	default:
		v.bad("widget.position", fmt.Sprintf("position %q is not left or right", w.Position), "use left or right")
	}
	if w.Title == "" {
		w.Title = v.cfg.Business.Name
	}
	if w.MaxMessageChars == 0 {
		w.MaxMessageChars = DefaultMaxMessageChars
	} else if w.MaxMessageChars < 1 || w.MaxMessageChars > 32000 {
		v.bad("widget.max_message_chars", fmt.Sprintf("max_message_chars %d is out of range", w.MaxMessageChars), "use a number from 1 to 32000 (default 4000)")
	}
	for i, o := range w.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#") {
			v.bad(fmt.Sprintf("widget.allowed_origins[%d]", i), fmt.Sprintf("%q is not an origin", withoutUserinfo(o)), "write scheme and host only, e.g. https://www.example.com")
			continue
		}
		// Written as a browser sends its Origin header, which the socket check compares it with:
		// lowercase, no trailing slash, no default port.
		host := strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
			host += ":" + port
		}
		w.AllowedOrigins[i] = u.Scheme + "://" + host
	}
}

// Expand fills the placeholders of an answer with the business's details as of now.
func (c *Config) Expand(text string, now time.Time) string {
	if !strings.Contains(text, "{") {
		return text
	}
	b := c.Business
	if strings.HasSuffix(b.Name, ".") { // "Crumb & Co." at the end of a sentence: no double full stop
		text = strings.ReplaceAll(text, "{business}.", b.Name)
	}
	return strings.NewReplacer(
		"{business}", b.Name,
		"{bot}", c.BotName(),
		"{email}", b.Contact.Email,
		"{phone}", b.Contact.Phone,
		"{address}", b.Contact.Address,
		"{website}", b.Contact.Website,
		"{hours}", strings.Join(c.Schedule.Describe(), "; "),
		"{today_hours}", c.Schedule.Today(now.In(c.Location)),
	).Replace(text)
}

// OpenAt reports whether the business is open at t.
func (c *Config) OpenAt(t time.Time) bool { return c.Schedule.OpenAt(t.In(c.Location)) }
