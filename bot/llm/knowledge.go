package llm

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/attune-chat/attune/intents"
)

// Chunk is one retrievable fact with the id it is cited by.
type Chunk struct {
	// Source identifies the chunk: "faq/<id>", "intent/<name>", "business/hours",
	// "file:<name>#<heading>".
	Source string
	// Title is a short label (the FAQ question, the heading).
	Title string
	// Text is what the model is shown.
	Text string
	// Extra is indexed for retrieval but never shown (FAQ phrasings, intent examples).
	Extra string
}

// Profile is what the layer needs to speak in the business's voice and to check replies.
type Profile struct {
	Business    string
	Tagline     string
	Description string
	Bot         string
	Email       string
	Phone       string
	Website     string
	// Canned are the agents' ready-made replies, reused as template suggestions.
	Canned []intents.CannedReply
	// Acknowledgements per tone, reused by template suggestions.
	Acknowledgements map[string][]string
}

// Knowledge is everything the bot may say, indexed for retrieval. It is immutable once built and
// safe for concurrent use; a reloaded configuration gets a new Knowledge.
type Knowledge struct {
	Profile Profile
	chunks  []Chunk
	index   *Index
	// allowed holds the URLs, emails and phone numbers the knowledge contains: a reply may repeat
	// these and no others.
	allowed allowList
}

// maxSectionChars splits long file sections so that one chunk never floods the prompt.
const maxSectionChars = 1500

// BuildKnowledge collects the chunks of a configuration: FAQ entries, the answers of the
// business's own intents, the business profile and the knowledge files listed in llm.knowledge_files
// (paths relative to the configuration file's folder). Placeholders are expanded as of now.
func BuildKnowledge(cfg *intents.Config, now time.Time) (*Knowledge, error) {
	if cfg == nil {
		return nil, fmt.Errorf("build knowledge: no configuration")
	}
	c := *cfg // Expand needs a location; never mutate the caller's config
	if c.Location == nil {
		c.Location = time.UTC
	}
	expand := func(s string) string { return c.Expand(s, now) }
	var chunks []Chunk
	for _, f := range c.FAQ {
		if len(f.Answer) == 0 {
			continue
		}
		chunks = append(chunks, Chunk{
			Source: "faq/" + f.ID,
			Title:  f.Question,
			Text:   "Q: " + f.Question + "\nA: " + joinVariants(f.Answer, expand),
			Extra:  strings.Join(f.Phrasings.Texts(), "\n") + "\n" + strings.Join(f.Tags, " "),
		})
	}
	for _, in := range c.Intents {
		// Built-in small talk (greeting, goodbye, thanks) is not knowledge, and the answers of
		// hand-off intents announce a person rather than state facts.
		if in.Builtin || in.Handoff || len(in.Answer) == 0 {
			continue
		}
		title := strings.ReplaceAll(in.Name, "_", " ")
		chunks = append(chunks, Chunk{
			Source: "intent/" + in.Name,
			Title:  title,
			Text:   joinVariants(in.Answer, expand),
			Extra:  title + "\n" + strings.Join(in.Examples.Texts(), "\n") + "\n" + strings.Join(in.Tags, " "),
		})
	}
	b := c.Business
	if b.Description != "" || b.Tagline != "" {
		chunks = append(chunks, Chunk{Source: "business/description", Title: "About " + b.Name,
			Text: strings.TrimSpace(b.Name + ": " + strings.TrimSpace(b.Tagline+". "+b.Description)), Extra: "about who are you what do you do"})
	}
	if len(b.Hours) > 0 {
		text := "Opening hours: " + strings.Join(c.Schedule.Describe(), "; ")
		if b.Timezone != "" {
			text += " (time zone " + b.Timezone + ")"
		}
		chunks = append(chunks, Chunk{Source: "business/hours", Title: "Opening hours", Text: text + ".", Extra: "open close opening hours when time today weekend"})
	}
	var contact []string
	for _, kv := range [][2]string{{"Email", b.Contact.Email}, {"Phone", b.Contact.Phone}, {"Address", b.Contact.Address}, {"Website", b.Contact.Website}} {
		if kv[1] != "" {
			contact = append(contact, kv[0]+": "+kv[1])
		}
	}
	if len(contact) > 0 {
		chunks = append(chunks, Chunk{Source: "business/contact", Title: "Contact", Text: strings.Join(contact, "\n"), Extra: "contact reach email phone call address where located website"})
	}
	dir := filepath.Dir(c.Source)
	for _, f := range c.LLM.KnowledgeFiles {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, f)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read knowledge file %s: %w", f, err)
		}
		chunks = append(chunks, ChunkDocument(filepath.Base(f), string(data))...)
	}
	k := NewKnowledge(chunks)
	k.Profile = Profile{
		Business: b.Name, Tagline: b.Tagline, Description: strings.TrimSpace(b.Description), Bot: c.BotName(),
		Email: b.Contact.Email, Phone: b.Contact.Phone, Website: b.Contact.Website,
		Canned: c.Handoff.Canned, Acknowledgements: map[string][]string{},
	}
	for tone, vs := range c.Tone.Acknowledgements {
		k.Profile.Acknowledgements[tone] = vs.Texts()
	}
	k.allowed.add(strings.Join([]string{b.Contact.Email, b.Contact.Phone, b.Contact.Website}, "\n"))
	return k, nil
}

func joinVariants(vs intents.Variants, expand func(string) string) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		parts = append(parts, expand(v.Text))
	}
	return strings.Join(parts, "\n")
}

// NewKnowledge indexes chunks as they are (for callers with their own knowledge, and tests).
func NewKnowledge(chunks []Chunk) *Knowledge {
	k := &Knowledge{chunks: chunks, allowed: newAllowList()}
	k.index = NewIndex(chunks)
	for _, ch := range chunks {
		k.allowed.add(ch.Text)
	}
	return k
}

// Chunks returns the indexed chunks; the slice must not be modified.
func (k *Knowledge) Chunks() []Chunk { return k.chunks }

// Search returns the k best chunks for query by BM25 alone.
func (k *Knowledge) Search(query string, n int) []Hit { return k.index.Search(query, n) }

var headingLine = regexp.MustCompile(`^(#{1,6})\s+(.+?)\s*#*\s*$`)

// ChunkDocument splits a Markdown or text document into chunks at its headings, so that each
// chunk is one topic and is cited as "file:<name>#<heading-slug>". Text before the first heading,
// or a document without headings, is split at blank lines into parts of at most about 1,500
// characters.
func ChunkDocument(name, text string) []Chunk {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	type section struct{ heading, body string }
	var secs []section
	cur := section{}
	var body strings.Builder
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if m := headingLine.FindStringSubmatch(line); m != nil && !inFence {
			cur.body = body.String()
			secs = append(secs, cur)
			cur, body = section{heading: m[2]}, strings.Builder{}
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	cur.body = body.String()
	secs = append(secs, cur)

	var out []Chunk
	seen := map[string]int{}
	for _, s := range secs {
		b := strings.TrimSpace(s.body)
		if b == "" {
			continue
		}
		base := "part"
		if s.heading != "" {
			base = headingSlug(s.heading)
		}
		for _, part := range splitParagraphs(b, maxSectionChars) {
			seen[base]++
			id := base
			if seen[base] > 1 {
				id = fmt.Sprintf("%s-%d", base, seen[base])
			}
			title := s.heading
			if title == "" {
				title = strings.TrimSuffix(name, filepath.Ext(name))
			}
			out = append(out, Chunk{Source: "file:" + name + "#" + id, Title: title, Text: strings.TrimSpace(title + "\n" + part)})
		}
	}
	return out
}

// splitParagraphs groups blank-line separated paragraphs into parts no longer than max
// characters (a single longer paragraph stays whole rather than being cut mid-sentence).
func splitParagraphs(text string, max int) []string {
	if len(text) <= max {
		return []string{text}
	}
	var parts []string
	var cur strings.Builder
	for _, p := range strings.Split(text, "\n\n") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if cur.Len() > 0 && cur.Len()+len(p)+2 > max {
			parts = append(parts, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString("\n\n")
		}
		cur.WriteString(p)
	}
	if cur.Len() > 0 {
		parts = append(parts, cur.String())
	}
	return parts
}

// headingSlug makes a stable anchor: "Returns & refunds" -> "returns-refunds".
func headingSlug(h string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(h) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	if b.Len() == 0 {
		return "section"
	}
	return b.String()
}
