package llm

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"sync"
)

// Kinds of personal data Redact replaces, as they appear in placeholders ([EMAIL_1]).
const (
	KindEmail = "EMAIL"
	KindPhone = "PHONE"
	KindCard  = "CARD"
	KindIBAN  = "IBAN"
	KindName  = "NAME"
)

// Names: github.com/jdkato/prose/v2 NER was measured on this machine at about 460 ms and 106 MB
// allocated per short message (it reloads its model for every document) and still missed
// lower-case names such as "john smith", so it is not used: the LLM path's whole budget is 2 ms.
// Instead Redact catches names where visitors actually give them: self-introductions ("my name
// is Sarah Connor", "this is Sarah", "I'm Sarah Connor") with capitalised words.

var (
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// ibanRe: country code, check digits, then groups of four alphanumerics (spaced or not) and a
	// shorter last group; the grouping keeps the following word out of the match.
	ibanRe = regexp.MustCompile(`(?i)\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b`)
	// cardRe: 13-19 digits, optionally grouped by spaces (a no-break one too, as pasted from a
	// banking app), dashes or dots.
	cardRe = regexp.MustCompile(`\b\d(?:[ \x{00A0}\-.]?\d){12,18}\b`)
	// phoneRe: an optional + or opening parenthesis, then digits with the separators people type
	// ("030/1234567" is how German numbers are written).
	phoneRe = regexp.MustCompile(`(?:\+|\B\(|\b)\d[\d \x{00A0}\-()./]{5,18}\d\b`)
	// phoneCueRe ends the text before a number that is a phone number even when it is a short
	// local one ("call me on 555-0123", "my number is 5550123", "tel: 555 01 23").
	// A number already redacted in between counts as words ("call 555-0123 or 555-0124").
	phoneCueRe = regexp.MustCompile(`(?i)\b(?:call|ring|phone|telephone|tel|mobile|cell|cellphone|landline|number|text|sms|whatsapp|reach|contact|fax)\b(?:[^\d\n\[]|\[PHONE_\d+\]){0,16}$`)
	// notPhoneCueRe ends the text before a number that is a reference, whatever its length
	// ("order 0012345678", "order number is 5550123", "ref #20240501-0042", "INV-2024-000123").
	notPhoneCueRe = regexp.MustCompile(`(?i)(?:\b(?:order|ref|reference|invoice|receipt|tracking|shipment|parcel|package|booking|reservation|ticket|case|confirmation|transaction|item|sku|model|serial)(?:\s*(?:number|no\.?|nr\.?|num|id|code))?(?:\s+(?:is|was))?|#|\b\p{Lu}{2,}[-_/])\s*[:#]?\s*$`)
	// dateRe is a whole match that is a date (05.01.2024, 01/05/2024, 2024-05-01), perhaps with
	// the hour after it ("2024-05-01 09" of "2024-05-01 09:30"), not a phone.
	dateRe = regexp.MustCompile(`^(?:\d{1,2}[./\-]\d{1,2}[./\-](?:\d{2}|\d{4})|\d{4}[./\-]\d{1,2}[./\-]\d{1,2})(?:[ \x{00A0}]+\d{1,4})?$`)
	nameRe = regexp.MustCompile(`(?i:\b(?:my name is|my name's|name:|this is|i am|i'm|im|call me|it's|signed)\s+)(` + nameWords + `)`)
	// placeholderRe finds what Redact wrote, so that Restore can put the originals back.
	placeholderRe = regexp.MustCompile(`\[(EMAIL|PHONE|CARD|IBAN|NAME)_(\d+)\]`)
)

// nameWord is one capitalised word of a name, hyphens and apostrophes included: "Sarah",
// "Jean-Pierre", "Ana-María", "O'Neil", "McDonald". nameWords is up to three of them.
const (
	nameWord  = `\p{Lu}(?:\p{Ll}+|'\p{Lu}\p{Ll}+)(?:\p{Lu}\p{Ll}+)?(?:[-']\p{Lu}?\p{Ll}+)*`
	nameWords = nameWord + `(?:\s+` + nameWord + `){0,2}`
)

// introRe finds a visitor naming themselves beyond doubt: "my name is …", "call me …", or a
// greeting followed by "I'm …" / "this is …". A bare "I'm Furious" is not an introduction.
var introRe = regexp.MustCompile(`(?i:\b(?:my name is|my name's|name:|call me)\s+|^\s*(?:hi|hello|hey|good (?:morning|afternoon|evening))(?:\s+there)?[\s,!.]+(?:i am|i'm|im|this is|it's)\s+)(` + nameWords + `)`)

// IntroducedName returns the name a visitor gives for themselves in text ("my name is Sarah
// Lee", "Hi, I'm Sam"), or "" when they give none; the reply composer addresses them by it.
func IntroducedName(text string) string {
	m := introRe.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	if first := strings.FieldsFunc(m[1], func(r rune) bool { return r == ' ' || r == '-' || r == '\'' })[0]; notNames[first] {
		return ""
	}
	return m[1]
}

// notNames are capitalised words that follow "I'm"/"this is" without being a name.
var notNames = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`Not Sure Looking Trying Just So Very Really Still Going Here There Back Sorry Happy
		Annoyed Angry Confused Worried Interested Waiting Calling Writing Asking About The A An In On At It This That
		Please Thanks Ok Okay Fine Good Great Done Unable Able Afraid Glad New Ready Now From With Your Our My
		Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Tomorrow Yesterday January February March April
		May June July August September October November December Christmas Easter
		Furious Upset Frustrated Disappointed Desperate Fed Sick Tired Livid Mad Unhappy Concerned Anxious Nervous
		Scared Stressed Panicking Lost Stuck Having Contacting Messaging Following Here Again`) {
		notNames[w] = true
	}
}

// Restorer remembers what Redact replaced so that the placeholders can be put back into a reply.
// One Restorer per conversation keeps placeholders stable across turns ([EMAIL_1] is the same
// address in every message). It is safe for concurrent use.
type Restorer struct {
	mu       sync.Mutex
	byValue  map[string]string // kind+normalised value -> placeholder
	original map[string]string // placeholder -> original text
	counts   map[string]int
}

// NewRestorer returns an empty Restorer.
func NewRestorer() *Restorer {
	return &Restorer{byValue: map[string]string{}, original: map[string]string{}, counts: map[string]int{}}
}

// Redact replaces emails, phone numbers, payment card numbers (Luhn-checked), IBANs (mod-97
// checked) and self-introduced names with placeholders such as [EMAIL_1], and returns the text
// with a Restorer that puts them back.
func Redact(text string) (string, *Restorer) {
	r := NewRestorer()
	return r.Redact(text), r
}

// Redact replaces personal data in text, reusing this Restorer's placeholders for values seen
// before.
func (r *Restorer) Redact(text string) string {
	if text == "" {
		return text
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Order matters: an IBAN or card number also looks like a phone number.
	text = ibanRe.ReplaceAllStringFunc(text, func(m string) string {
		iban, rest, ok := ibanPrefix(m)
		if !ok {
			return m
		}
		return r.placeholder(KindIBAN, strings.ToUpper(strings.ReplaceAll(iban, " ", "")), iban) + rest
	})
	text = cardRe.ReplaceAllStringFunc(text, func(m string) string {
		start, end, ok := cardSpan(m)
		if !ok {
			return m
		}
		return m[:start] + r.placeholder(KindCard, digitsOf(m[start:end]), m[start:end]) + m[end:]
	})
	text = emailRe.ReplaceAllStringFunc(text, func(m string) string {
		return r.placeholder(KindEmail, strings.ToLower(m), m)
	})
	text = r.redactPhones(text)
	text = replaceSubmatch(nameRe, text, func(name string) string {
		first := strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '-' || r == '\'' })[0]
		if notNames[first] {
			return name
		}
		return r.placeholder(KindName, strings.ToLower(name), name)
	})
	return text
}

// redactPhones replaces the phone numbers in text. Whether a number is one depends on the words
// before it as well as on its shape: a short local number is one after "call me on", and no
// number is one after "order" or "ref".
func (r *Restorer) redactPhones(text string) string {
	idx := phoneRe.FindAllStringIndex(text, -1)
	if idx == nil {
		return text
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		match := text[m[0]:m[1]]
		// The words before, as redacted so far: "call me on [PHONE_1] or 555-0123".
		b.WriteString(text[last:m[0]])
		last = m[0]
		out := b.String()
		if !isPhone(match, out[max(0, len(out)-48):]) {
			continue
		}
		b.WriteString(r.placeholder(KindPhone, digitsOf(match), strings.TrimSpace(match)))
		last = m[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

// isPhone decides whether a match of phoneRe, after the text before, is a phone number: 7-15
// digits, not a date, not after a word that introduces a reference number, and either shaped
// like a phone number (looksLikePhone) or a shorter local number after a word such as "call".
func isPhone(m, before string) bool {
	d := digitsOf(m)
	if len(d) < 7 || len(d) > 15 || dateRe.MatchString(strings.Trim(m, "() ")) || notPhoneCueRe.MatchString(before) {
		return false
	}
	return looksLikePhone(m) || phoneCueRe.MatchString(before)
}

// replaceSubmatch replaces the first capture group of every match.
func replaceSubmatch(re *regexp.Regexp, text string, fn func(string) string) string {
	idx := re.FindAllStringSubmatchIndex(text, -1)
	if idx == nil {
		return text
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		b.WriteString(text[last:m[2]])
		b.WriteString(fn(text[m[2]:m[3]]))
		last = m[3]
	}
	b.WriteString(text[last:])
	return b.String()
}

func (r *Restorer) placeholder(kind, norm, original string) string {
	key := kind + "\x00" + norm
	if p, ok := r.byValue[key]; ok {
		return p
	}
	r.counts[kind]++
	p := fmt.Sprintf("[%s_%d]", kind, r.counts[kind])
	r.byValue[key] = p
	r.original[p] = original
	return p
}

// Restore puts the originals back in place of the placeholders. Card numbers and IBANs come back
// masked to their last four characters: a chat reply never needs to repeat them in full.
// Placeholders this Restorer did not write are left as they are.
func (r *Restorer) Restore(text string) string {
	if r == nil || !strings.Contains(text, "[") {
		return text
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return placeholderRe.ReplaceAllStringFunc(text, func(p string) string {
		orig, ok := r.original[p]
		if !ok {
			return p
		}
		switch {
		case strings.HasPrefix(p, "[CARD_"):
			d := digitsOf(orig)
			return "card ending " + d[len(d)-4:]
		case strings.HasPrefix(p, "[IBAN_"):
			s := strings.ReplaceAll(orig, " ", "")
			return "account ending " + s[len(s)-4:]
		}
		return orig
	})
}

// Len is the number of distinct values redacted so far.
func (r *Restorer) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.original)
}

// Placeholders lists the placeholders written so far.
func (r *Restorer) Placeholders() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.original))
	for p := range r.original {
		out = append(out, p)
	}
	return out
}

func digitsOf(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// looksLikePhone keeps order numbers, prices and dates out: a phone number has 7-15 digits and
// either an international prefix, a trunk 0, or at least 10 digits.
func looksLikePhone(m string) bool {
	d := digitsOf(m)
	if len(d) < 7 || len(d) > 15 {
		return false
	}
	t := strings.TrimLeft(m, "(")
	return strings.HasPrefix(t, "+") || strings.HasPrefix(t, "0") || len(d) >= 10
}

// luhn is the payment card checksum; it keeps random long numbers (order ids) from being taken
// for cards.
func luhn(d string) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// ibanPrefix finds the IBAN in a match of ibanRe. The pattern's optional last group also takes
// in a short word or number typed after the IBAN ("... 7034 is mine", "... 1332 and"), and the
// whole match then fails the check: the longest prefix ending before a space that passes it is
// the IBAN, and rest is what followed it.
func ibanPrefix(m string) (iban, rest string, ok bool) {
	for end := len(m); end > 0; end = strings.LastIndexByte(m[:end], ' ') {
		if validIBAN(m[:end]) {
			return m[:end], m[end:], true
		}
	}
	return "", "", false
}

// cardSpan finds a card number inside a match of cardRe. People type other numbers beside a
// card (an expiry date or security code after it, a quantity before it) and the pattern takes
// those in too, so the whole match fails the Luhn check: the longest run of whole digit groups
// with 13-19 digits that passes it, leftmost first, is the card.
func cardSpan(m string) (start, end int, ok bool) {
	// Digit groups as [start, end) byte offsets, split at the separators the pattern allows.
	// Printed card numbers come in groups of up to 6 digits (4-4-4-4, 4-6-5) or in one run: a
	// longer group beside others belongs to something else, such as an order number
	// ("112-4567890-1234567"), and the run must not pass for a card because its digits pass Luhn.
	var groups [][2]int
	for i := 0; i < len(m); {
		if m[i] < '0' || m[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(m) && m[j] >= '0' && m[j] <= '9' {
			j++
		}
		groups = append(groups, [2]int{i, j})
		i = j
	}
	bestLen := 0
	for a := range groups {
		for b := a; b < len(groups); b++ {
			d := digitsOf(m[groups[a][0]:groups[b][1]])
			if len(d) > 19 {
				break
			}
			if len(d) >= 13 && len(d) > bestLen && (a == b || cardGroups(groups[a:b+1])) && luhn(d) {
				start, end, bestLen, ok = groups[a][0], groups[b][1], len(d), true
			}
		}
	}
	return start, end, ok
}

// cardGroups reports whether digit groups are grouped as card numbers are printed.
func cardGroups(groups [][2]int) bool {
	for _, g := range groups {
		if g[1]-g[0] > 6 {
			return false
		}
	}
	return true
}

// validIBAN applies the ISO 13616 mod-97 check.
func validIBAN(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			fmt.Fprintf(&b, "%d", c-'A'+10)
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}
