package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestConsoleFromFirstStart checks that `attune serve` alone gives a working console: the first
// administrator (password from ATTUNE_ADMIN_PASSWORD) logs in, sees a visitor's hand-off, accepts
// it and chats with the visitor while the bot stays silent.
func TestConsoleFromFirstStart(t *testing.T) {
	t.Setenv("ATTUNE_ADMIN_PASSWORD", "first start secret 42")
	td := mustStart(t, serveConfig{})
	if strings.Contains(td.logs.String(), "first start secret 42") {
		t.Fatal("the administrator password appears in the log")
	}

	body, _ := json.Marshal(map[string]string{"login": "admin", "password": "first start secret 42"})
	resp, err := http.Post(td.URL()+"/console/api/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "attune_session" {
			session = c
		}
	}
	if resp.StatusCode != 200 || session == nil {
		t.Fatalf("login: %d, cookie %v", resp.StatusCode, session)
	}

	wsBase := "ws" + strings.TrimPrefix(td.URL(), "http")
	agent, _, err := websocket.DefaultDialer.Dial(wsBase+"/ws/agent", http.Header{"Origin": {td.URL()}, "Cookie": {session.String()}})
	if err != nil {
		t.Fatalf("agent socket: %v", err)
	}
	defer agent.Close()
	visitor, _, err := websocket.DefaultDialer.Dial(wsBase+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer visitor.Close()

	read := func(c *websocket.Conn, what string, ok func(map[string]any) bool) map[string]any {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(frameTimeout))
		for {
			var f map[string]any
			if err := c.ReadJSON(&f); err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if ok(f) {
				return f
			}
		}
	}
	is := func(typ, key, val string) func(map[string]any) bool {
		return func(f map[string]any) bool { return f["type"] == typ && (key == "" || f[key] == val) }
	}

	_ = visitor.WriteJSON(map[string]any{"type": "hello"})
	conv := read(visitor, "welcome", is("welcome", "", ""))["conversation_id"].(string)
	_ = visitor.WriteJSON(map[string]any{"type": "message", "id": "v1", "text": "I want to talk to a human"})
	read(visitor, "queued state", is("state", "state", "queued"))
	read(agent, "the hand-off in the queue", func(f map[string]any) bool {
		w, _ := f["waiting"].([]any)
		return f["type"] == "queue" && len(w) == 1 && w[0].(map[string]any)["conversation_id"] == conv
	})

	_ = agent.WriteJSON(map[string]any{"type": "accept", "id": "a1", "conversation_id": conv})
	read(agent, "accept ack", is("ack", "id", "a1"))
	read(visitor, "agent state", is("state", "agent", "Administrator"))

	_ = agent.WriteJSON(map[string]any{"type": "message", "id": "r1", "conversation_id": conv, "text": "Hello, I'm here to help."})
	got := read(visitor, "the agent's message", is("message", "from", "agent"))
	if got["text"] != "Hello, I'm here to help." {
		t.Fatalf("visitor got %v", got)
	}
	_ = visitor.WriteJSON(map[string]any{"type": "message", "id": "v2", "text": "where is my order?"})
	read(agent, "the visitor's message", is("message", "from", "visitor"))
	// The bot stays silent while the agent owns the conversation: the next frame the visitor
	// gets after its ack is the agent's reply, not a bot answer.
	_ = agent.WriteJSON(map[string]any{"type": "message", "id": "r2", "conversation_id": conv, "text": "Let me check."})
	f := read(visitor, "the agent's second message", func(f map[string]any) bool { return f["type"] == "message" && f["from"] != "visitor" })
	if f["from"] != "agent" || f["text"] != "Let me check." {
		t.Fatalf("the bot answered while an agent owned the conversation: %v", f)
	}
}
