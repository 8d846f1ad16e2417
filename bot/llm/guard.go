package llm

import (
	"regexp"
	"strings"
)

// Reasons a model reply is replaced by a safe one (Answer.Blocked).
const (
	BlockedLeak       = "prompt_leak"
	BlockedURL        = "unknown_url"
	BlockedEmail      = "unknown_email"
	BlockedPhone      = "unknown_phone"
	BlockedPromise    = "unsupported_promise"
	BlockedLength     = "too_long"
	BlockedEmpty      = "empty"
	BlockedNoSignal   = "missing_signal"
	BlockedUngrounded = "no_valid_sources"
)

var (
	// urlRe finds links: with a scheme or www., or a bare domain with any top-level domain
	// (there are well over a thousand, .bike and .xyz among them); findURLs then drops file names.
	urlRe = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'\])]+|\b(?:[a-z0-9-]+\.)+[a-z]{2,24}(?:/[^\s<>"'\])]*)?\b`)
	// replyPhoneRe is looser than the redaction pattern: anything with seven digits or more in
	// phone-like grouping must be a number from the knowledge.
	replyPhoneRe = regexp.MustCompile(`\+?\(?\d[\d \-().]{5,18}\d`)
	// promiseRes find the bot committing the business to something: refunds, compensation,
	// exceptions, free replacements, discounts. They are allowed only when the facts given to the
	// model contain the same kind of word. A promise comes in several voices ("we will refund",
	// "you'll get a refund", "a refund will be issued", "your money back is guaranteed"); each
	// pattern's one capture group is the promise term.
	promiseRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:we|i)(?:'ll| will| can| shall| are going to| have| 've| would| 'd| could)?\s+(?:\w+\s+){0,4}?(` + promiseAlt + `)`),
		regexp.MustCompile(`(?i)\byou\b[^.!?,;\n]{0,30}?\b(?:get|receive|be given|be offered|be sent|have|qualify for|eligible for|entitled to|guaranteed)\s+(?:\w+\s+){0,3}?(` + promiseAlt + `)`),
		regexp.MustCompile(`(?i)\b(` + promiseAlt + `)\w*\s+(?:will|shall|is going to|are going to|'ll|can|would)\s+(?:\w+\s+){0,2}?be\s+(?:issued|sent|processed|paid|given|applied|credited|arranged|made|granted|approved|provided|added|refunded)`),
		regexp.MustCompile(`(?i)\b(` + promiseAlt + `)\w*\s+(?:is|are)\s+(?:\w+\s+){0,1}?guaranteed`),
	}
	// negatedRe marks a sentence that declines rather than promises ("I can't promise a refund").
	negatedRe = regexp.MustCompile(`(?i)\b(?:not|never|no|cannot)\b|n't\b|n’t\b`)
	// injectionRe recognises the common ways visitors try to steer the model.
	injectionRe = regexp.MustCompile(`(?i)(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)?(previous|prior|above|earlier|system|original)?\s*(instructions|prompts?|rules|directions)|system\s*prompt|(reveal|show|print|repeat|tell me|what (is|are)|output)\s+(me\s+)?(your|the)\s+(instructions|prompt|rules|system message|initial prompt)|developer mode|jailbreak|you are now\b|act as (an? )?(unrestricted|dan)|\bDAN\b`)
)

// allowList holds what the knowledge says, normalised, so that a reply can only repeat contact
// details and links the business wrote itself.
type allowList struct {
	urls   map[string]bool
	emails map[string]bool
	phones map[string]bool
	text   string // lowercase concatenation of the knowledge, for promise terms
}

func newAllowList() allowList {
	return allowList{urls: map[string]bool{}, emails: map[string]bool{}, phones: map[string]bool{}}
}

func (a *allowList) add(text string) {
	for _, u := range findURLs(text) {
		a.urls[normURL(u)] = true
	}
	for _, e := range emailRe.FindAllString(text, -1) {
		a.emails[strings.ToLower(e)] = true
	}
	for _, p := range replyPhoneRe.FindAllString(text, -1) {
		if countDigits(text) < 7 {
			break
		}
		if d := digitsOf(p); len(d) >= 7 {
			a.phones[d] = true
		}
	}
	a.text += strings.ToLower(text) + "\n"
}

// fileExts end names that look like domains but are files or technologies ("manual.pdf",
// "Node.js"); a bare name ending in one is not taken for a link.
var fileExts = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`js ts md txt pdf csv json yaml yml xml html htm css png jpg jpeg gif svg webp
		doc docx xls xlsx ppt pptx odt zip gz tar exe dmg apk mp3 mp4 mov avi wav py go rb php sh java`) {
		fileExts[e] = true
	}
}

// findURLs returns the links in text (see urlRe).
func findURLs(text string) []string {
	all := urlRe.FindAllString(text, -1)
	out := all[:0]
	for _, u := range all {
		lu := strings.ToLower(u)
		if !strings.HasPrefix(lu, "http") && !strings.HasPrefix(lu, "www.") && !strings.Contains(u, "/") {
			if fileExts[lu[strings.LastIndexByte(lu, '.')+1:]] {
				continue
			}
		}
		out = append(out, u)
	}
	return out
}

// normURL compares links by host and path: scheme, "www.", case and trailing punctuation do not
// make a link new.
func normURL(u string) string {
	u = strings.ToLower(strings.TrimRight(u, ".,;:!?)"))
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	u = strings.TrimPrefix(u, "www.")
	return strings.TrimRight(u, "/")
}

// checker validates model text against the knowledge and the facts of one request.
type checker struct {
	allowed  *allowList
	facts    string // lowercase text of the facts given to the model
	shingles map[string]bool
	maxChars int
}

// leakShingleWords is the length of the word runs of the instructions that a reply must never
// contain: long enough that ordinary phrases ("a person from the team") do not trip it.
const leakShingleWords = 7

func newChecker(allowed *allowList, facts, instructions string, maxChars int) *checker {
	c := &checker{allowed: allowed, facts: strings.ToLower(facts), shingles: map[string]bool{}, maxChars: maxChars}
	words := leakWords(instructions)
	for i := 0; i+leakShingleWords <= len(words); i++ {
		c.shingles[strings.Join(words[i:i+leakShingleWords], " ")] = true
	}
	return c
}

func leakWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r > 127)
	})
}

// markers are our own delimiters; a reply that contains one is repeating the prompt.
var markers = []string{"<facts", "</facts", "<visitor_message", "</visitor_message", "<conversation", trailerMarker}

// check returns the reason text must not reach the visitor, or "". text is the model's output
// with placeholders still in it (so a visitor's own redacted address is never "unknown").
func (c *checker) check(text string) string {
	lower := strings.ToLower(text)
	for _, m := range markers {
		if strings.Contains(lower, strings.ToLower(m)) {
			return BlockedLeak
		}
	}
	if len(c.shingles) > 0 {
		words := leakWords(text)
		for i := 0; i+leakShingleWords <= len(words); i++ {
			if c.shingles[strings.Join(words[i:i+leakShingleWords], " ")] {
				return BlockedLeak
			}
		}
	}
	// The regular expressions below dominate the cost of checking a streamed reply; cheap byte
	// tests skip them for the common text that cannot match.
	if strings.IndexByte(text, '@') >= 0 {
		for _, e := range emailRe.FindAllString(text, -1) {
			if !c.allowed.emails[strings.ToLower(e)] {
				return BlockedEmail
			}
		}
	}
	if strings.IndexByte(text, '.') >= 0 {
		for _, u := range findURLs(text) {
			if strings.Contains(u, "@") {
				continue // the host part of an email address, checked above
			}
			if !c.allowed.urls[normURL(u)] {
				return BlockedURL
			}
		}
	}
	if countDigits(text) >= 7 {
		for _, p := range replyPhoneRe.FindAllString(text, -1) {
			if d := digitsOf(p); looksLikePhone(strings.TrimSpace(p)) && !c.allowed.phones[d] {
				return BlockedPhone
			}
		}
	}
	if mentionsPromise(lower) {
		for _, re := range promiseRes {
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				if !negatedRe.MatchString(m[0]) && !strings.Contains(c.facts, strings.ToLower(m[1])) {
					return BlockedPromise
				}
			}
		}
	}
	if c.maxChars > 0 && len([]rune(text)) > c.maxChars {
		return BlockedLength
	}
	return ""
}

// promiseAlt is the alternation of promise terms the patterns look for.
const promiseAlt = `refund|reimburse|compensat|money back|exception|waive|free replacement|replace it free|discount|voucher|make an exception|goodwill|guarantee`

var promiseTerms = []string{"refund", "reimburse", "compensat", "money back", "exception", "waive", "free replacement", "replace it free", "discount", "voucher", "goodwill", "guarantee"}

func mentionsPromise(lower string) bool {
	for _, t := range promiseTerms {
		if strings.Contains(lower, t) {
			return true
		}
	}
	return false
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// LooksLikeInjection reports whether a visitor message tries to instruct the model (asks for its
// prompt, tells it to ignore its instructions). Such messages are still answered normally; the
// flag goes into the decision record.
func LooksLikeInjection(text string) bool { return injectionRe.MatchString(text) }

// neutralise keeps untrusted text from closing or opening our delimiters.
func neutralise(s string) string {
	if !strings.ContainsAny(s, "<[") {
		return s
	}
	lower := strings.ToLower(s)
	for _, m := range markers {
		lm := strings.ToLower(m)
		for {
			i := strings.Index(lower, lm)
			if i < 0 {
				break
			}
			repl := strings.Repeat("_", len(m))
			s = s[:i] + repl + s[i+len(m):]
			lower = lower[:i] + repl + lower[i+len(m):]
		}
	}
	return s
}
