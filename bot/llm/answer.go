package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Request is one visitor turn the local understanding could not answer with confidence.
type Request struct {
	// Message is the visitor's message, as typed (Answer redacts it).
	Message string
	// History is the conversation before Message, oldest first; only the last turns are sent.
	History []Turn
	Tone    Tone
	// Restorer carries the conversation's placeholders so that [EMAIL_1] means the same address
	// in every turn; nil means a fresh one for this request.
	Restorer *Restorer
}

// Answer is the outcome of a grounded answer. Text is always safe to show: when the model's reply
// failed a check, Text is a neutral safe reply and Blocked says why.
type Answer struct {
	// Text is the reply for the visitor, personal details restored.
	Text string
	// Covered is the model's structured signal that the facts answer the question. When false the
	// policy should offer a person.
	Covered bool
	// Sources are the ids of the facts the model says it used, limited to those it was given.
	Sources []string
	// Retrieved are the facts that were given to the model, best first (also set on error, for a
	// fallback to the best match).
	Retrieved []Hit
	// Blocked is the reason the model's reply was replaced by a safe one (Blocked* constants).
	Blocked string
	// Injection is true when the visitor's message tried to instruct the model.
	Injection bool
	// Streamed is true when deltas were sent through onDelta; the final message (Text) replaces
	// them, whatever they said.
	Streamed bool
	// Redacted counts the distinct personal details of the conversation replaced by placeholders
	// before anything left for the endpoint.
	Redacted int
	Elapsed  time.Duration
}

// answerTool is the function the model calls under ProtocolTool.
var answerTool = openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
	Name:        "answer",
	Description: "Give the reply for the visitor, the ids of the facts used, and whether the facts cover the question.",
	Parameters: json.RawMessage(`{"type":"object","properties":{` +
		`"text":{"type":"string","description":"the reply for the visitor"},` +
		`"sources":{"type":"array","items":{"type":"string"},"description":"ids of the facts used"},` +
		`"covered":{"type":"boolean","description":"true only when the facts answer the question"}},` +
		`"required":["text","sources","covered"]}`),
}}

// meta is the structured part of an answer, from the trailer or the tool call.
type meta struct {
	Text    string   `json:"text"`
	Covered *bool    `json:"covered"`
	Sources []string `json:"sources"`
}

// Answer answers a visitor's question from the business's knowledge. The visitor's words and the
// history are redacted before they leave; retrieval picks the facts; the model's tokens are passed
// to onDelta as they arrive (nil onDelta makes a non-streaming request); the reply is checked
// (links, contact details, promises, prompt leaks, length) and its placeholders restored.
//
// Endpoint failures return an *UnavailableError (errors.Is(err, ErrUnavailable)) within the
// configured timeout, with Answer.Retrieved set so that the caller can fall back to the best
// match. onDelta is called from the calling goroutine, never after Answer returns.
func (c *Client) Answer(ctx context.Context, req Request, onDelta func(delta string)) (Answer, error) {
	start := c.now()
	ctx, cancel := context.WithTimeout(ctx, c.ep.Timeout)
	defer cancel()
	know := c.know.Load()
	rs := req.Restorer
	if rs == nil {
		rs = NewRestorer()
	}
	message := rs.Redact(req.Message)
	history := lastTurns(req.History, c.history)
	redHist := make([]Turn, len(history))
	for i, t := range history {
		redHist[i] = Turn{From: t.From, Text: rs.Redact(t.Text)}
	}
	ans := Answer{Injection: LooksLikeInjection(req.Message), Redacted: rs.Len()}
	defer func() { ans.Elapsed = c.now().Sub(start) }()

	// Retrieval gets at most a third of the budget for the embeddings call, so the answer itself
	// always has time; without embeddings it takes microseconds.
	rctx, rcancel := context.WithTimeout(ctx, c.ep.Timeout/3)
	query := message
	if n := len(redHist); n > 0 && redHist[n-1].From == FromVisitor && len(strings.Fields(message)) < 4 {
		query = redHist[n-1].Text + " " + message // "and on Sundays?" needs the question before it
	}
	ans.Retrieved = c.Retrieve(rctx, query, c.topK)
	rcancel()

	pr := buildPrompt(know.Profile, ans.Retrieved, redHist, message, req.Tone, c.protocol, c.maxChars/6)
	chk := newChecker(&know.allowed, pr.facts, pr.instructions, c.maxChars)
	rl := &relay{check: chk.check, restore: rs.Restore, onDelta: onDelta}

	//lint:ignore SA1019 max_tokens on purpose: see Endpoint.MaxTokens.
	creq := openai.ChatCompletionRequest{Model: c.ep.Model, MaxTokens: c.ep.MaxTokens}
	creq.Temperature = c.ep.temperature()
	for _, m := range pr.messages {
		creq.Messages = append(creq.Messages, openai.ChatCompletionMessage{Role: m.role, Content: m.content})
	}
	if c.protocol == ProtocolTool {
		creq.Tools = []openai.Tool{answerTool}
		creq.ToolChoice = openai.ToolChoice{Type: openai.ToolTypeFunction, Function: openai.ToolFunction{Name: "answer"}}
	}

	var out collected
	err := c.guarded(ctx, "answer", func(ctx context.Context) error {
		out = collected{}
		rl.reset()
		if onDelta == nil {
			resp, err := c.api.CreateChatCompletion(ctx, creq)
			if err != nil {
				return err
			}
			if len(resp.Choices) == 0 {
				return &UnavailableError{Reason: ReasonBadResponse, detail: "no choices in the response"}
			}
			msg := resp.Choices[0].Message
			out.content = msg.Content
			for _, tc := range msg.ToolCalls {
				if tc.Function.Name == "answer" {
					out.toolArgs = tc.Function.Arguments
					out.tool = true
				}
			}
			return nil
		}
		return c.stream(ctx, creq, &out, rl)
	})
	if err != nil {
		return ans, err
	}
	ans.Streamed = rl.sent

	m, ok := out.parse()
	if !ok {
		c.log.Warn("llm reply without the structured signal", "protocol", c.protocol)
		return c.safe(ans, know, BlockedNoSignal), nil
	}
	text := strings.TrimSpace(m.Text)
	if text == "" {
		return c.safe(ans, know, BlockedEmpty), nil
	}
	text = boundLength(text, c.maxChars)
	if reason := rl.blocked; reason != "" {
		return c.safe(ans, know, reason), nil
	}
	if reason := chk.check(text); reason != "" {
		return c.safe(ans, know, reason), nil
	}
	ans.Sources = validSources(m.Sources, ans.Retrieved)
	ans.Covered = *m.Covered && len(ans.Sources) > 0
	if *m.Covered && len(ans.Sources) == 0 {
		// A "covered" answer that cites none of the facts is not grounded.
		return c.safe(ans, know, BlockedUngrounded), nil
	}
	ans.Text = rs.Restore(text)
	rl.finish(text)
	return ans, nil
}

// safe replaces the model's reply with a neutral one; the policy offers a person since Covered is
// false.
func (c *Client) safe(ans Answer, know *Knowledge, reason string) Answer {
	biz := know.Profile.Business
	if biz == "" {
		biz = "us"
	}
	ans.Text = "Sorry, I can't help with that one here. I can answer questions about " + biz + ", or bring in a person from the team."
	ans.Covered, ans.Sources, ans.Blocked = false, nil, reason
	return ans
}

// boundLength cuts an over-long reply at its last sentence end within max characters; a reply
// with no sentence end in its second half stays too long and is blocked by the check.
func boundLength(text string, max int) string {
	r := []rune(text)
	if len(r) <= max {
		return text
	}
	cut := string(r[:max])
	i := strings.LastIndexAny(cut, ".!?")
	if i < len(cut)/2 {
		return text
	}
	return cut[:i+1]
}

// validSources keeps the cited ids that were really given to the model, in citation order.
func validSources(cited []string, hits []Hit) []string {
	given := map[string]string{}
	for _, h := range hits {
		given[strings.ToLower(h.Chunk.Source)] = h.Chunk.Source
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range cited {
		s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "[]"))
		if id, ok := given[s]; ok && !seen[id] {
			out = append(out, id)
			seen[id] = true
		}
	}
	return out
}

// collected is what one completion produced.
type collected struct {
	content  string
	toolArgs string
	tool     bool
	sawStop  bool
}

var metaJSON = regexp.MustCompile(`(?s)\{.*\}`)

// parse extracts the structured signal: the tool call's arguments, else the trailer of the text.
func (o collected) parse() (meta, bool) {
	var m meta
	if o.tool {
		if err := json.Unmarshal([]byte(o.toolArgs), &m); err != nil || m.Covered == nil {
			return meta{}, false
		}
		return m, true
	}
	i := strings.Index(o.content, trailerMarker)
	if i < 0 {
		return meta{}, false
	}
	raw := metaJSON.FindString(o.content[i+len(trailerMarker):])
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m.Covered == nil {
		return meta{}, false
	}
	m.Text = o.content[:i]
	return m, true
}

// stream runs a streaming completion, relaying text as it arrives.
func (c *Client) stream(ctx context.Context, creq openai.ChatCompletionRequest, out *collected, rl *relay) error {
	creq.Stream = true
	s, err := c.api.CreateChatCompletionStream(ctx, creq)
	if err != nil {
		return err
	}
	defer s.Close()
	st, _ := ctx.Value(callStateKey{}).(*callState)
	var content, args strings.Builder
	var ex textExtractor
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			if st != nil && !st.sawDone {
				return errStreamCut
			}
			break
		}
		if err != nil {
			return err
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			if ch.FinishReason != "" {
				out.sawStop = true
			}
			d := ch.Delta
			if d.Content != "" {
				content.WriteString(d.Content)
				if !out.tool {
					rl.write(d.Content, true)
				}
			}
			for _, tc := range d.ToolCalls {
				if tc.Index != nil && *tc.Index != 0 {
					continue
				}
				if tc.Function.Name != "" && tc.Function.Name != "answer" {
					continue
				}
				out.tool = true
				args.WriteString(tc.Function.Arguments)
				if t := ex.feed(tc.Function.Arguments); t != "" {
					rl.write(t, false)
				}
			}
		}
	}
	out.content, out.toolArgs = content.String(), args.String()
	return nil
}

// relay passes model text to onDelta as it arrives, but only complete words, never the trailer,
// never a placeholder half-written, and never past a failed check: the check runs on what would
// be emitted before it is.
type relay struct {
	check   func(string) string
	restore func(string) string
	onDelta func(string)
	buf     strings.Builder
	emitted int // bytes of buf already passed on (or skipped, for leading blanks)
	sent    bool
	blocked string
}

func (r *relay) reset() { r.buf.Reset(); r.emitted, r.sent, r.blocked = 0, false, "" }

// checkWindow is how much already-emitted text is re-checked with the new words: enough for a
// seven-word prompt shingle, a promise sentence or a phone number split across chunks.
const checkWindow = 320

func (r *relay) write(s string, trailer bool) {
	r.buf.WriteString(s)
	if r.onDelta == nil || r.blocked != "" {
		return
	}
	text := r.buf.String()
	limit := len(text)
	if trailer {
		if i := strings.Index(text, trailerMarker); i >= 0 {
			limit = i
		} else {
			limit -= partialSuffix(text, trailerMarker)
		}
	}
	// Only whole words: a URL, an address or a placeholder is checked complete. The space after
	// the last word waits for the next word, so the deltas add up to the trimmed final text.
	end := strings.LastIndexAny(text[:limit], " \n\t") + 1
	for end > 0 && isSpace(text[end-1]) {
		end--
	}
	// A number may continue after a space ("+1 312 555" becomes "+1 312 555 0142"): numeric
	// words wait until a word that is not a number follows, so a phone number is judged whole.
	for end > 0 {
		w := strings.LastIndexAny(text[:end], " \n\t") + 1
		if !numericWord(text[w:end]) {
			break
		}
		end = w
		for end > 0 && isSpace(text[end-1]) {
			end--
		}
	}
	if r.emitted == 0 {
		r.emitted = len(text) - len(strings.TrimLeft(text, " \n\t")) // no leading blank delta
	}
	// Deltas of a few words rather than single tokens: still live for the visitor, and the checks
	// run a quarter as often.
	if end-r.emitted < minDelta {
		return
	}
	r.emitUpTo(text, end)
}

// minDelta is the smallest delta worth a check and a websocket frame.
const minDelta = 16

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' }

// numericWord reports whether w could be part of a phone number.
func numericWord(w string) bool {
	digits := false
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case strings.IndexByte("+-().", c) >= 0:
		default:
			return false
		}
	}
	return digits
}

func (r *relay) emitUpTo(text string, end int) {
	from := r.emitted - checkWindow
	if from <= 0 {
		from = 0
	} else {
		// Start the window at a word that is not a number, so that a phone number is never
		// checked by its tail.
		for from < r.emitted {
			j := strings.IndexAny(text[from:r.emitted], " \n\t")
			if j < 0 {
				from = r.emitted
				break
			}
			from += j + 1
			if from < len(text) && !strings.ContainsRune("0123456789+(", rune(text[from])) {
				break
			}
		}
	}
	if reason := r.check(text[from:end]); reason != "" {
		r.blocked = reason
		return
	}
	r.onDelta(r.restore(text[r.emitted:end]))
	r.emitted, r.sent = end, true
}

// finish passes on the rest of a reply that passed the final check.
func (r *relay) finish(final string) {
	if r.onDelta == nil || r.blocked != "" {
		return
	}
	// final is the trimmed text before the trailer: what was emitted is a prefix of it unless the
	// reply was cut to length, in which case the final message corrects it.
	sent := strings.TrimLeft(r.buf.String()[:r.emitted], " \n\t")
	if strings.HasPrefix(final, sent) && len(final) > len(sent) {
		r.onDelta(r.restore(final[len(sent):]))
		r.emitted, r.sent = len(final), true
	}
}

// partialSuffix is the length of the longest suffix of s that is a prefix of marker.
func partialSuffix(s, marker string) int {
	for n := min(len(marker)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, marker[:n]) {
			return n
		}
	}
	return 0
}

// textExtractor streams the value of the "text" field out of a JSON object that arrives in
// fragments (tool-call arguments), decoding escapes as they complete.
type textExtractor struct {
	buf   strings.Builder
	start int // index in buf after the opening quote of the value; 0 = not found yet
	pos   int // next undecoded index
	done  bool
}

var textKey = regexp.MustCompile(`"text"\s*:\s*"`)

func (x *textExtractor) feed(frag string) string {
	x.buf.WriteString(frag)
	if x.done {
		return ""
	}
	s := x.buf.String()
	if x.start == 0 {
		loc := textKey.FindStringIndex(s)
		if loc == nil {
			return ""
		}
		x.start, x.pos = loc[1], loc[1]
	}
	var out strings.Builder
	for x.pos < len(s) {
		ch := s[x.pos]
		if ch == '"' {
			x.done = true
			break
		}
		if ch != '\\' {
			out.WriteByte(ch)
			x.pos++
			continue
		}
		if x.pos+1 >= len(s) {
			break // the escape is not complete yet
		}
		n := 2
		if s[x.pos+1] == 'u' {
			n = 6
			if x.pos+n <= len(s) && s[x.pos+2] == 'd' && strings.ContainsRune("89abAB", rune(s[x.pos+3])) || x.pos+n <= len(s) && s[x.pos+2] == 'D' && strings.ContainsRune("89abAB", rune(s[x.pos+3])) {
				n = 12 // a surrogate pair: wait for both halves
			}
		}
		if x.pos+n > len(s) {
			break
		}
		var dec string
		if err := json.Unmarshal([]byte(`"`+s[x.pos:x.pos+n]+`"`), &dec); err != nil {
			x.done = true // malformed: the final parse will reject the arguments
			break
		}
		out.WriteString(dec)
		x.pos += n
	}
	return out.String()
}
