package llm

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorded is one request the fake endpoint received, exactly as sent.
type recorded struct {
	Path          string
	Authorization string
	Body          string
	Stream        bool
	System        string // the system message, for chat requests
	Messages      []struct{ Role, Content string }
}

// reply scripts one response of the fake endpoint.
type reply struct {
	status     int    // non-200: an OpenAI error body
	errMessage string // message of the error body
	retryAfter string
	content    []string // content pieces (streamed one per chunk)
	toolName   string
	toolArgs   []string // tool-call argument fragments (streamed one per chunk)
	cut        bool     // end the stream without data: [DONE]
	badJSON    bool     // a malformed body / chunk
	hang       time.Duration
	echoSystem bool // leak: reply with the system prompt
}

// fakeOpenAI is an in-process server speaking the OpenAI wire protocol: POST /v1/chat/completions
// with and without stream (SSE chunks ending in data: [DONE]), tool calls including fragmented
// streamed arguments, POST /v1/embeddings, and error bodies with status codes and Retry-After.
type fakeOpenAI struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	queue    []reply
	// fallback answers when the queue is empty; nil means a grounded answer citing the first fact.
	fallback func(r recorded) reply
	embedErr int // status for /v1/embeddings, 0 = OK
}

func newFake(t testing.TB) *fakeOpenAI {
	f := &fakeOpenAI{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) URL() string { return f.srv.URL + "/v1" }

func (f *fakeOpenAI) push(r ...reply) {
	f.mu.Lock()
	f.queue = append(f.queue, r...)
	f.mu.Unlock()
}

func (f *fakeOpenAI) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeOpenAI) count(path string) int {
	n := 0
	for _, r := range f.recorded() {
		if r.Path == path {
			n++
		}
	}
	return n
}

var factID = regexp.MustCompile(`(?m)^\[([^\]]+)\] `)

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := recorded{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: string(body)}
	var req struct {
		Stream   bool
		Messages []struct{ Role, Content string }
		Input    []string
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, 400)
		return
	}
	rec.Stream, rec.Messages = req.Stream, req.Messages
	if len(req.Messages) > 0 && req.Messages[0].Role == "system" {
		rec.System = req.Messages[0].Content
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	f.mu.Unlock()

	switch r.URL.Path {
	case "/v1/embeddings":
		f.embeddings(w, req.Input)
	case "/v1/chat/completions":
		f.chat(w, r, rec)
	default:
		writeError(w, 404, "unknown path "+r.URL.Path, "")
	}
}

func (f *fakeOpenAI) next(rec recorded) reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) > 0 {
		r := f.queue[0]
		f.queue = f.queue[1:]
		return r
	}
	if f.fallback != nil {
		return f.fallback(rec)
	}
	id := "none"
	if m := factID.FindStringSubmatch(rec.System); m != nil {
		id = m[1]
	}
	return reply{content: splitWords(fmt.Sprintf("According to our facts, here is the answer. %s {\"covered\": true, \"sources\": [%q]}", trailerMarker, id))}
}

// splitWords cuts text into small pieces the way models stream tokens (a word and its space).
func splitWords(s string) []string {
	var out []string
	for len(s) > 0 {
		n := min(len(s), 5)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "server_error", "code": nil}})
	w.Write(b)
}

func (f *fakeOpenAI) chat(w http.ResponseWriter, r *http.Request, rec recorded) {
	rp := f.next(rec)
	if rp.hang > 0 {
		select {
		case <-time.After(rp.hang):
		case <-r.Context().Done():
			return
		}
	}
	if rp.status != 0 && rp.status != 200 {
		writeError(w, rp.status, rp.errMessage, rp.retryAfter)
		return
	}
	if rp.echoSystem {
		rp.content = splitWords(rec.System)
	}
	if !rec.Stream {
		w.Header().Set("Content-Type", "application/json")
		if rp.badJSON {
			io.WriteString(w, `{"id":"x","choices":[{"index":0,"message":{"role":"assist`)
			return
		}
		msg := map[string]any{"role": "assistant", "content": strings.Join(rp.content, "")}
		finish := "stop"
		if rp.toolName != "" {
			msg["content"] = nil
			msg["tool_calls"] = []map[string]any{{"id": "call_1", "type": "function",
				"function": map[string]any{"name": rp.toolName, "arguments": strings.Join(rp.toolArgs, "")}}}
			finish = "tool_calls"
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model",
			"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	send := func(delta map[string]any, finish any) {
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil)
	for i, c := range rp.content {
		if rp.badJSON && i == len(rp.content)/2 {
			io.WriteString(w, "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\n\n")
			fl.Flush()
			return
		}
		send(map[string]any{"content": c}, nil)
	}
	if rp.toolName != "" {
		send(map[string]any{"tool_calls": []map[string]any{{"index": 0, "id": "call_1", "type": "function",
			"function": map[string]any{"name": rp.toolName, "arguments": ""}}}}, nil)
		for _, a := range rp.toolArgs {
			send(map[string]any{"tool_calls": []map[string]any{{"index": 0, "function": map[string]any{"arguments": a}}}}, nil)
		}
	}
	if rp.cut {
		return // the connection ends mid-answer: no finish_reason, no [DONE]
	}
	finish := "stop"
	if rp.toolName != "" {
		finish = "tool_calls"
	}
	send(map[string]any{}, finish)
	io.WriteString(w, "data: [DONE]\n\n")
	fl.Flush()
}

// embeddings returns deterministic bag-of-words vectors: texts sharing stemmed words are close.
func (f *fakeOpenAI) embeddings(w http.ResponseWriter, input []string) {
	f.mu.Lock()
	status := f.embedErr
	f.mu.Unlock()
	if status != 0 {
		writeError(w, status, "model not found", "")
		return
	}
	data := make([]map[string]any, len(input))
	for i, text := range input {
		v := make([]float64, 32)
		forEachTerm(text, func(t string) {
			h := fnv.New32a()
			h.Write([]byte(t))
			v[h.Sum32()%32]++
		})
		var n float64
		for _, x := range v {
			n += x * x
		}
		if n == 0 {
			v[0], n = 1, 1
		}
		for j := range v {
			v[j] /= math.Sqrt(n)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "test-embed",
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}
