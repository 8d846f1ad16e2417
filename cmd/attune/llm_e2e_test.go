package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOpenAI speaks the OpenAI chat-completions wire protocol (streaming as server-sent events
// ending in data: [DONE]) and records every request body it receives.
type fakeOpenAI struct {
	mu       sync.Mutex
	requests []string
	status   int // when non-zero, every request fails with this status
	covered  bool
}

var factSource = regexp.MustCompile(`\[(faq/[a-z0-9_]+)\]`)

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Stream   bool `json:"stream"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	raw := new(strings.Builder)
	dec := json.NewDecoder(r.Body)
	var anyBody json.RawMessage
	if err := dec.Decode(&anyBody); err != nil || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	raw.Write(anyBody)
	_ = json.Unmarshal(anyBody, &body)
	f.mu.Lock()
	f.requests = append(f.requests, raw.String())
	status, covered := f.status, f.covered
	f.mu.Unlock()
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, `{"error":{"message":"the model is overloaded","type":"server_error"}}`)
		return
	}
	source := "faq/none"
	if len(body.Messages) > 0 {
		if m := factSource.FindStringSubmatch(body.Messages[0].Content); m != nil {
			source = m[1]
		}
	}
	meta := fmt.Sprintf(`[[ANSWER_META]] {"covered": %v, "sources": [%q]}`, covered, source)
	pieces := []string{"We bake ", "everything ", "in Bristol, ", "overnight.", "\n" + meta}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	for _, p := range pieces {
		chunk, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
			"choices": []map[string]any{{"index": 0, "delta": map[string]string{"content": p}}}})
		fmt.Fprintf(w, "data: %s\n\n", chunk)
		flusher.Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

func (f *fakeOpenAI) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// startWithLLM runs the demo business with its llm section pointed at fake.
func startWithLLM(t *testing.T, fake *fakeOpenAI, timeoutSeconds int) (*testDaemon, *httptest.Server) {
	t.Helper()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	cfgPath := copyFile(t, "../../configs/demo.yaml", dir)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	section := fmt.Sprintf("\nllm:\n  base_url: %s/v1\n  model: fake-model\n  timeout_seconds: %d\n", ts.URL, timeoutSeconds)
	cfg := regexp.MustCompile(`(?m)^llm:.*\n(?:[ #].*\n|\n)*`).ReplaceAllString(string(b), "") + section
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	td := mustStart(t, serveConfig{Config: cfgPath, DB: filepath.Join(dir, "attune.db")})
	return td, ts
}

const outOfScope = "who painted the mona lisa? my email is jane.doe@example.com and my phone is 07700 900123"

func TestLLMAnswerStreamsThenStoresTheMessage(t *testing.T) {
	fake := &fakeOpenAI{covered: true}
	td, _ := startWithLLM(t, fake, 5)
	v := dial(t, td)
	v.start()
	v.sendMessage("q1", outOfScope)
	v.next("ack")
	v.next("message") // the visitor's own
	var deltas []string
	final, _ := v.until("the bot's message", func(f frame) bool {
		if f.Type == "stream" {
			deltas = append(deltas, f.Delta)
		}
		return f.Type == "message" && f.From == "bot"
	})
	if len(deltas) == 0 {
		t.Fatalf("no stream frames before the final message %s", final)
	}
	if final.StreamID == "" || !strings.Contains(final.Text, "Bristol") {
		t.Fatalf("final message %s: want the streamed answer with its stream_id", final)
	}
	if strings.Contains(final.Text, "ANSWER_META") || strings.Contains(strings.Join(deltas, ""), "ANSWER_META") {
		t.Fatalf("the structured signal leaked to the visitor: %q / %q", final.Text, deltas)
	}
	for _, req := range fake.recorded() {
		for _, secret := range []string{"jane.doe@example.com", "07700 900123", "07700900123"} {
			if strings.Contains(req, secret) {
				t.Fatalf("personal data %q reached the LLM endpoint: %s", secret, req)
			}
		}
	}
}

func TestLLMNotCoveredOffersAPerson(t *testing.T) {
	td, _ := startWithLLM(t, &fakeOpenAI{covered: false}, 5)
	v := dial(t, td)
	v.start()
	v.sendMessage("q1", "who painted the mona lisa?")
	reply, _ := v.until("the bot's message", func(f frame) bool { return f.Type == "message" && f.From == "bot" })
	// The model declined: the visitor hears so honestly, and a person is brought in (the demo has
	// hand-off on; with nobody online the offline message says what happens next).
	if !strings.Contains(reply.Text, "I don't have that information") || !strings.Contains(reply.Text, "person") {
		t.Fatalf("an uncovered question got %q; want an honest 'I don't know' and a person brought in", reply.Text)
	}
}

func TestLLMFailureStillAnswersWithinTheTimeout(t *testing.T) {
	td, _ := startWithLLM(t, &fakeOpenAI{status: http.StatusInternalServerError}, 2)
	v := dial(t, td)
	v.start()
	start := time.Now()
	_, reply := v.ask("q1", "who painted the mona lisa?")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the visitor waited %v on a failing endpoint (timeout 2 s)", took)
	}
	if reply.Text == "" {
		t.Fatal("no reply when the LLM endpoint fails")
	}
}
