package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/store"
)

// chatFake is a minimal OpenAI-compatible endpoint: /v1/chat/completions streamed as
// server-sent events ending in data: [DONE], answering with a grounded reply that cites the first
// fact of the prompt. It records every request body.
type chatFake struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
	// reply, when set, is the text of the answer (the trailer is added).
	reply string
	// fail scripts failures of the next requests, one per request (see failure).
	fail []failure
}

// failure is one scripted misbehaviour of the endpoint.
type failure struct {
	status     int    // an error status with an OpenAI error body
	retryAfter string // its Retry-After header
	cutAfter   int    // stream this many chunks, then drop the connection
	badJSON    bool   // a malformed chunk midway
	hang       time.Duration
}

var firstFact = regexp.MustCompile(`(?m)^\[([^\]]+)\] `)

func newChatFake(t *testing.T) *chatFake {
	f := &chatFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(body))
		text := f.reply
		var fl failure
		if len(f.fail) > 0 {
			fl, f.fail = f.fail[0], f.fail[1:]
		}
		f.mu.Unlock()
		if fl.hang > 0 {
			select {
			case <-time.After(fl.hang):
			case <-r.Context().Done():
				return
			}
		}
		if fl.status != 0 {
			if fl.retryAfter != "" {
				w.Header().Set("Retry-After", fl.retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fl.status)
			io.WriteString(w, `{"error":{"message":"scripted failure","type":"server_error","code":null}}`)
			return
		}
		var req struct {
			Messages []struct{ Role, Content string }
		}
		json.Unmarshal(body, &req)
		id := "none"
		if len(req.Messages) > 0 {
			if m := firstFact.FindStringSubmatch(req.Messages[0].Content); m != nil {
				id = m[1]
			}
		}
		if text == "" {
			text = "Here is what our facts say about that."
		}
		content := text + "\n[[ANSWER_META]] " + fmt.Sprintf(`{"covered": true, "sources": [%q]}`, id)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; len(content) > 0; i++ {
			if fl.cutAfter > 0 && i == fl.cutAfter {
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the connection drops mid-answer
			}
			if fl.badJSON && i == 3 {
				io.WriteString(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\n\n")
				w.(http.Flusher).Flush()
			}
			n := min(len(content), 6)
			b, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
				"choices": []map[string]any{{"index": 0, "delta": map[string]any{"content": content[:n]}, "finish_reason": nil}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			content = content[n:]
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *chatFake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

// llmUnderstanding trains the shop configuration pointed at the fake endpoint; edit may change
// the llm section first.
func llmUnderstanding(t *testing.T, f *chatFake, edit func(*intents.LLMConfig)) *intents.Understanding {
	t.Helper()
	cfg, err := intents.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.LLM.BaseURL, cfg.LLM.Model = f.srv.URL+"/v1", "test-model"
	if edit != nil {
		edit(&cfg.LLM)
	}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return und
}

// newLLMFixture is newFixture with the LLM layer on.
func newLLMFixture(t *testing.T, f *chatFake, edit func(*intents.LLMConfig)) *fixture {
	t.Helper()
	fx := newFixture(t)
	e, err := bot.New(bot.Options{Store: fx.db, Publisher: fx.pub, Understanding: llmUnderstanding(t, f, edit), Logger: quiet,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	fx.engine = e
	return fx
}

// A reloaded configuration that changes only the llm section's temperature or max_tokens must
// take effect: the endpoint is the same, but the requests are not.
func TestReloadChangesTemperatureAndMaxTokens(t *testing.T) {
	f := newChatFake(t)
	one, two := 0.7, 0.1
	fx := newLLMFixture(t, f, func(l *intents.LLMConfig) { l.Temperature, l.MaxTokens = &one, 300 })
	if _, d := fx.say(t, "a", "what is the weather tomorrow in Paris for shipping"); d.Source != bot.SourceLLM {
		t.Fatalf("first answer from %s, want the LLM: %s", d.Source, d.Details)
	}
	if err := fx.engine.SetUnderstanding(llmUnderstanding(t, f, func(l *intents.LLMConfig) { l.Temperature, l.MaxTokens = &two, 120 })); err != nil {
		t.Fatal(err)
	}
	if _, d := fx.say(t, "b", "who won the football match in france, do you ship there"); d.Source != bot.SourceLLM {
		t.Fatalf("second answer from %s, want the LLM", d.Source)
	}
	reqs := f.requests()
	var last struct {
		Temperature float64 `json:"temperature"`
		MaxTokens   int     `json:"max_tokens"`
	}
	if err := json.Unmarshal([]byte(reqs[len(reqs)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Temperature < 0.099 || last.Temperature > 0.101 || last.MaxTokens != 120 {
		t.Errorf("after the reload the request had temperature %v, max_tokens %d; want 0.1 and 120", last.Temperature, last.MaxTokens)
	}
}

// After a restart (or after the conversation's memory was evicted) the bot rebuilds the
// conversation from the store. The message being answered is already stored by then: it must
// reach the model once, as the question, not also as the last turn of the history.
func TestRestoredHistoryDoesNotRepeatTheQuestion(t *testing.T) {
	f := newChatFake(t)
	fx := newLLMFixture(t, f, nil)
	fx.say(t, "a", "what is the weather tomorrow in Paris for shipping")
	// A restart: a new engine over the same store.
	if err := fx.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, err := bot.New(bot.Options{Store: fx.db, Publisher: fx.pub, Understanding: llmUnderstanding(t, f, nil), Logger: quiet,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	fx.engine = e
	const q = "who won the football match in france, do you ship there"
	if _, d := fx.say(t, "b", q); d.Source != bot.SourceLLM {
		t.Fatalf("answer from %s, want the LLM", d.Source)
	}
	reqs := f.requests()
	var last struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal([]byte(reqs[len(reqs)-1]), &last); err != nil {
		t.Fatal(err)
	}
	n := 0
	var roles []string
	for _, m := range last.Messages {
		roles = append(roles, m.Role)
		if strings.Contains(m.Content, q) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the question reached the model %d times (roles %v), want once", n, roles)
	}
	// The history still holds the earlier exchange.
	if len(last.Messages) < 4 {
		t.Errorf("messages %v: want the system prompt, the earlier question and answer, then the question", roles)
	}
}

// Whatever the endpoint does, the visitor gets a reply within the configured timeout, and a reply
// that replaces streamed text says so (same stream id), so no half answer stays on screen.
func TestEveryEndpointFailureEndsInAReply(t *testing.T) {
	tests := []struct {
		name string
		fail []failure
		// covered: the endpoint recovers within the turn and the answer is the LLM's.
		covered bool
	}{
		{"stream cut midway", []failure{{cutAfter: 8}}, false},
		{"malformed chunk", []failure{{badJSON: true}}, false},
		{"429 then success", []failure{{status: 429, retryAfter: "0.2"}}, true},
		{"429 twice", []failure{{status: 429, retryAfter: "0.1"}, {status: 429, retryAfter: "0.1"}}, false},
		{"429 asking longer than the timeout", []failure{{status: 429, retryAfter: "30"}}, false},
		{"503", []failure{{status: 503, retryAfter: "1"}}, false},
		{"slow endpoint", []failure{{hang: 5 * time.Second}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newChatFake(t)
			f.reply = "Shipping questions like this one are answered from our facts, word by word, at length."
			f.fail = tc.fail
			fx := newLLMFixture(t, f, func(l *intents.LLMConfig) { l.TimeoutSeconds = 1 })
			start := time.Now()
			reply, d := fx.say(t, "a", "what is the weather tomorrow in Paris for shipping")
			took := time.Since(start)
			if took > 1500*time.Millisecond {
				t.Errorf("the reply took %v, want within the 1 s timeout", took)
			}
			if strings.TrimSpace(reply.Text) == "" {
				t.Fatal("empty reply")
			}
			if got := d.Source == bot.SourceLLM; got != tc.covered {
				t.Errorf("reply from %s (%s): %q", d.Source, d.Rule, reply.Text)
			}
			var streamID, finalStream string
			fx.pub.mu.Lock()
			for _, ev := range fx.pub.events {
				if ev.Stream != nil {
					streamID = ev.Stream.ID
				}
				if ev.Message != nil && ev.Message.From == bot.FromBot {
					finalStream = ev.StreamID
				}
			}
			fx.pub.mu.Unlock()
			if streamID != "" && finalStream != streamID {
				t.Errorf("text was streamed as %q but the stored reply names stream %q: the partial text stays on screen", streamID, finalStream)
			}
		})
	}
}

// After a person hands the conversation back, the bot's next LLM answer must know what was said
// meanwhile: the agent's replies and the visitor's messages to them belong to the history.
func TestHistoryAfterAnAgentIncludesTheirExchange(t *testing.T) {
	f := newChatFake(t)
	fx := newLLMFixture(t, f, nil)
	q := withQueue(t, fx)
	// withQueue rebuilt the engine without the LLM: put it back, with the queue.
	e, err := bot.New(bot.Options{Store: fx.db, Publisher: fx.pub, Understanding: llmUnderstanding(t, f, nil), Logger: quiet,
		Getenv: func(string) string { return "" }, Handoff: q})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	fx.engine = e
	fx.say(t, "a", "I want to talk to a human")
	if err := q.Connect(handoff.Agent{ID: "ag", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Accept(context.Background(), "ag", fx.conv.ID); err != nil {
		t.Fatal(err)
	}
	fx.engine.SetOwner(fx.conv.ID, store.StateAgent)
	if _, _, err := fx.engine.Receive(context.Background(), fx.conv.ID, "b", "my parcel 5531 is lost", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fx.engine.AgentSay(context.Background(), fx.conv.ID, "ag1", "Ada", "I have sent a replacement for parcel 5531 today.", nil); err != nil {
		t.Fatal(err)
	}
	if err := q.ReturnToBot(context.Background(), "ag", fx.conv.ID); err != nil {
		t.Fatal(err)
	}
	fx.engine.SetOwner(fx.conv.ID, store.StateBot)
	if _, d := fx.say(t, "c", "what is the weather tomorrow in Paris for shipping"); d.Source != bot.SourceLLM {
		t.Fatalf("answer from %s, want the LLM", d.Source)
	}
	reqs := f.requests()
	last := reqs[len(reqs)-1]
	for _, want := range []string{"parcel 5531 is lost", "sent a replacement for parcel 5531"} {
		if !strings.Contains(last, want) {
			t.Errorf("the LLM request lacks %q from the agent's part of the conversation", want)
		}
	}
}
