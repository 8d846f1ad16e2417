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

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/intents"
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
}

var firstFact = regexp.MustCompile(`(?m)^\[([^\]]+)\] `)

func newChatFake(t *testing.T) *chatFake {
	f := &chatFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(body))
		text := f.reply
		f.mu.Unlock()
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
		for len(content) > 0 {
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
