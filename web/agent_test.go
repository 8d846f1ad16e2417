package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/store/handoffstore"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
)

const waitFrame = 15 * time.Second

// consoleEnv is a server with the hand-off queue and the console, over a real SQLite file.
type consoleEnv struct {
	srv   *Server
	ts    *httptest.Server
	db    *store.DB
	queue *handoff.Queue
}

func startConsole(t *testing.T, opt Options) *consoleEnv {
	t.Helper()
	return startConsoleWith(t, opt, nil)
}

// startConsoleWith is startConsole with the agent store wrapped (nil: the database itself).
func startConsoleWith(t *testing.T, opt Options, wrap func(*store.DB) AgentStore) *consoleEnv {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Business.Hours = nil // always open, whatever the day the test runs
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "console.db"), store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub()
	relay := NewRelay(quiet)
	q, err := handoff.New(handoff.Options{Config: cfg.Handoff, Store: handoffstore.New(db), Notifier: relay, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := bot.New(bot.Options{Store: db, Publisher: hub, Understanding: und, Logger: quiet, Handoff: q})
	if err != nil {
		t.Fatal(err)
	}
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	opt.Engine, opt.Store, opt.Hub, opt.Handoff, opt.Agents, opt.Relay = engine, db, hub, q, db, relay
	if wrap != nil {
		opt.Agents = wrap(db)
	}
	srv, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFrame)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
		_ = engine.Close(ctx)
		_ = db.Close()
	})
	return &consoleEnv{srv: srv, ts: ts, db: db, queue: q}
}

func (e *consoleEnv) addAgent(t *testing.T, login, password string, capacity int) store.Agent {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.db.CreateAgent(context.Background(), store.Agent{Login: login, Name: strings.ToUpper(login[:1]) + login[1:], Capacity: capacity}, hash)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type apiResult struct {
	status int
	body   map[string]any
	cookie *http.Cookie
	header http.Header
}

func (e *consoleEnv) api(t *testing.T, method, path string, body any, cookie *http.Cookie, hdr map[string]string) apiResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := apiResult{status: resp.StatusCode, header: resp.Header}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "attune_session" || c.Name == "__Host-attune_session" {
			r.cookie = c
		}
	}
	return r
}

// login logs in and returns the session cookie and CSRF token.
func (e *consoleEnv) login(t *testing.T, login, password string) (*http.Cookie, string) {
	t.Helper()
	r := e.api(t, "POST", "/console/api/login", map[string]string{"login": login, "password": password}, nil, nil)
	if r.status != 200 || r.cookie == nil {
		t.Fatalf("login %s: status %d body %v", login, r.status, r.body)
	}
	return r.cookie, r.body["csrf"].(string)
}

type wsFrame map[string]any

func (f wsFrame) str(k string) string { s, _ := f[k].(string); return s }

type sock struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	// backlog keeps frames read while looking for another, in order: events and acks of one
	// action may arrive in either order.
	backlog []wsFrame
}

func (e *consoleEnv) dialAgent(t *testing.T, cookie *http.Cookie) (*sock, *http.Response, error) {
	t.Helper()
	h := http.Header{"Origin": {e.ts.URL}}
	if cookie != nil {
		h.Set("Cookie", cookie.String())
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/agent", h)
	if err != nil {
		return nil, resp, err
	}
	s := &sock{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	return s, resp, nil
}

func (e *consoleEnv) mustAgent(t *testing.T, login string, capacity int) (*sock, store.Agent, *http.Cookie, string) {
	t.Helper()
	a := e.addAgent(t, login, "correct horse "+login, capacity)
	ck, csrf := e.login(t, login, "correct horse "+login)
	s, resp, err := e.dialAgent(t, ck)
	if err != nil {
		t.Fatalf("dial agent socket: %v (%v)", err, resp)
	}
	s.next(func(f wsFrame) bool { return f.str("type") == "welcome" })
	return s, a, ck, csrf
}

func (s *sock) send(v any) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if raw, ok := v.(string); ok {
		err = s.conn.WriteMessage(websocket.TextMessage, []byte(raw))
	} else {
		err = s.conn.WriteJSON(v)
	}
	if err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

// next returns the first frame, kept or new, that satisfies ok; it fails the test after waitFrame.
func (s *sock) next(ok func(wsFrame) bool) wsFrame {
	s.t.Helper()
	for i, f := range s.backlog {
		if ok(f) {
			s.backlog = append(s.backlog[:i], s.backlog[i+1:]...)
			return f
		}
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(waitFrame))
	var seen []string
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			s.t.Fatalf("read: %v; frames seen: %s", err, strings.Join(seen, "\n"))
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			s.t.Fatalf("frame is not JSON: %s", data)
		}
		if ok(f) {
			return f
		}
		s.backlog = append(s.backlog, f)
		seen = append(seen, string(data))
	}
}

func typed(typ string) func(wsFrame) bool {
	return func(f wsFrame) bool { return f.str("type") == typ }
}

func replyTo(id string) func(wsFrame) bool {
	return func(f wsFrame) bool { return f.str("id") == id && (f.str("type") == "ack" || f.str("type") == "error") }
}

// visitorQueued opens a visitor conversation and asks for a person: it ends queued.
func (e *consoleEnv) visitorQueued(t *testing.T) (*sock, string, string) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	v := &sock{t: t, conn: conn}
	v.send(map[string]any{"type": "hello"})
	w := v.next(typed("welcome"))
	v.send(map[string]any{"type": "message", "id": "m1", "text": "I want to talk to a human please"})
	v.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "queued" })
	return v, w.str("conversation_id"), w.str("token")
}

func TestConsoleLoginSessionAndCSRF(t *testing.T) {
	e := startConsole(t, Options{})
	e.addAgent(t, "ana", "correct horse battery", 2)

	for _, tc := range []struct{ name, login, password string }{
		{"wrong password", "ana", "wrong"},
		{"unknown login", "nobody", "correct horse battery"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.api(t, "POST", "/console/api/login", map[string]string{"login": tc.login, "password": tc.password}, nil, nil)
			if r.status != 401 || r.body["error"] != "wrong login or password" || r.cookie != nil {
				t.Fatalf("got %d %v cookie=%v, want 401 wrong login or password", r.status, r.body, r.cookie)
			}
		})
	}
	if r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil,
		map[string]string{"Origin": "https://evil.example"}); r.status != 403 {
		t.Fatalf("login from a foreign origin: %d, want 403", r.status)
	}

	r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ANA", "password": "correct horse battery"}, nil, nil)
	if r.status != 200 || r.cookie == nil {
		t.Fatalf("login: %d %v", r.status, r.body)
	}
	ck := r.cookie
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("cookie flags: %+v (want HttpOnly, SameSite=Strict, Path=/, not Secure over plain http)", ck)
	}
	agent := r.body["agent"].(map[string]any)
	if agent["login"] != "ana" || agent["role"] != "agent" || agent["capacity"] != 2.0 || agent["password_hash"] != nil {
		t.Fatalf("agent JSON: %v", agent)
	}
	csrf := r.body["csrf"].(string)

	behindTLS := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil,
		map[string]string{"X-Forwarded-Proto": "https"})
	if behindTLS.cookie == nil || !behindTLS.cookie.Secure {
		t.Fatalf("behind TLS the cookie must be Secure: %+v", behindTLS.cookie)
	}

	if me := e.api(t, "GET", "/console/api/me", nil, ck, nil); me.status != 200 || me.body["csrf"] != csrf {
		t.Fatalf("me: %d %v, want 200 with the same csrf", me.status, me.body)
	}
	if me := e.api(t, "GET", "/console/api/me", nil, nil, nil); me.status != 401 {
		t.Fatalf("me without a cookie: %d, want 401", me.status)
	}
	forged := &http.Cookie{Name: sessionCookie, Value: "forged-token"}
	if me := e.api(t, "GET", "/console/api/me", nil, forged, nil); me.status != 401 {
		t.Fatalf("me with a forged cookie: %d, want 401", me.status)
	}
	for _, tc := range []struct {
		name  string
		token string
	}{{"no token", ""}, {"wrong token", "x" + csrf}, {"token of another session", behindTLS.body["csrf"].(string)}} {
		hdr := map[string]string{}
		if tc.token != "" {
			hdr["X-CSRF-Token"] = tc.token
		}
		if lo := e.api(t, "POST", "/console/api/logout", nil, ck, hdr); lo.status != 403 {
			t.Fatalf("logout with %s: %d, want 403", tc.name, lo.status)
		}
	}
	lo := e.api(t, "POST", "/console/api/logout", nil, ck, map[string]string{"X-CSRF-Token": csrf})
	if lo.status != 204 || lo.cookie == nil || lo.cookie.MaxAge >= 0 {
		t.Fatalf("logout: %d cookie %+v, want 204 and the cookie cleared", lo.status, lo.cookie)
	}
	if me := e.api(t, "GET", "/console/api/me", nil, ck, nil); me.status != 401 {
		t.Fatalf("me after logout: %d, want 401", me.status)
	}
}

func TestConsoleLoginRateLimit(t *testing.T) {
	e := startConsole(t, Options{})
	e.addAgent(t, "ana", "correct horse battery", 2)
	for i := 0; i < loginFailures; i++ {
		if r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "guess"}, nil, nil); r.status != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, r.status)
		}
	}
	// Even the right password waits now: the limit must not tell a guesser they found it.
	r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil, nil)
	msg, _ := r.body["error"].(string)
	if r.status != 429 || !strings.HasPrefix(msg, "too many attempts; wait ") || r.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d %q, want 429 too many attempts", r.status, msg)
	}
}

func TestLoginLimiterWindow(t *testing.T) {
	l := newLoginLimiter()
	t0 := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < loginFailures; i++ {
		if w := l.wait(t0.Add(time.Duration(i)*time.Minute), "login:ana", "ip:1"); w != 0 {
			t.Fatalf("attempt %d waits %v before the limit", i, w)
		}
		l.fail(t0.Add(time.Duration(i)*time.Minute), "login:ana", "ip:1")
	}
	at := t0.Add(5 * time.Minute)
	if w := l.wait(at, "login:ana", "ip:2"); w != 10*time.Minute {
		t.Fatalf("same login, other address: wait %v, want 10m (until the first failure leaves the window)", w)
	}
	if w := l.wait(at, "login:bob", "ip:1"); w != 10*time.Minute {
		t.Fatalf("other login, same address: wait %v, want 10m", w)
	}
	if w := l.wait(at, "login:bob", "ip:2"); w != 0 {
		t.Fatalf("other login and address: wait %v, want 0", w)
	}
	if w := l.wait(t0.Add(15*time.Minute), "login:ana"); w != 0 {
		t.Fatalf("after the first failure left the window: wait %v, want 0 (4 failures left)", w)
	}
	l.reset("login:ana")
	if w := l.wait(at, "login:ana"); w != 0 {
		t.Fatalf("after reset: wait %v", w)
	}
}

func TestAgentSocketRefusals(t *testing.T) {
	e := startConsole(t, Options{SessionCheck: 50 * time.Millisecond})
	e.addAgent(t, "ana", "correct horse battery", 2)
	ck, csrf := e.login(t, "ana", "correct horse battery")

	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		origin string
		want   int
	}{
		{"no session", nil, e.ts.URL, 401},
		{"forged session", &http.Cookie{Name: sessionCookie, Value: "forged"}, e.ts.URL, 401},
		{"foreign origin", ck, "https://evil.example", 403},
		{"no origin", ck, "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			if tc.cookie != nil {
				h.Set("Cookie", tc.cookie.String())
			}
			_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/agent", h)
			if err == nil || resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("dial: err=%v resp=%v, want HTTP %d before the upgrade", err, resp, tc.want)
			}
		})
	}

	// A session that ends while the socket is open closes it with a reason.
	s, _, err := e.dialAgent(t, ck)
	if err != nil {
		t.Fatal(err)
	}
	s.next(typed("queue"))
	if lo := e.api(t, "POST", "/console/api/logout", nil, ck, map[string]string{"X-CSRF-Token": csrf}); lo.status != 204 {
		t.Fatalf("logout: %d", lo.status)
	}
	expectClosed(t, s, closeSessionEnded, "logged out")

	// Expired or revoked (here: deleted behind the socket's back) is noticed by the periodic check.
	ck2, _ := e.login(t, "ana", "correct horse battery")
	s2, _, err := e.dialAgent(t, ck2)
	if err != nil {
		t.Fatal(err)
	}
	s2.next(typed("queue"))
	if err := e.db.DeleteSession(context.Background(), hashToken(ck2.Value)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, s2, closeSessionEnded, "session expired; log in again")
}

func expectClosed(t *testing.T, s *sock, code int, reason string) {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(waitFrame))
	for {
		_, _, err := s.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || ce.Text != reason {
			t.Fatalf("socket ended with %v, want close %d %q", err, code, reason)
		}
		return
	}
}

func TestAgentMalformedFrames(t *testing.T) {
	e := startConsole(t, Options{})
	s, _, _, _ := e.mustAgent(t, "ana", 2)
	for _, tc := range []struct {
		name, frame, code string
	}{
		{"not JSON", `{"type":`, "bad_frame"},
		{"an array", `[1,2]`, "bad_frame"},
		{"no type", `{"id":"1"}`, "bad_frame"},
		{"unknown type", `{"type":"explode","id":"2"}`, "unknown_type"},
		{"accept without conversation", `{"type":"accept","id":"3"}`, "bad_frame"},
		{"message without id", `{"type":"message","conversation_id":"c1","text":"hi"}`, "bad_frame"},
		{"message without text", `{"type":"message","id":"4","conversation_id":"c1"}`, "bad_frame"},
		{"id of the wrong type", `{"type":"open","id":5,"conversation_id":"c1"}`, "bad_frame"},
		{"bad presence", `{"type":"presence","presence":"asleep","id":"6"}`, "bad_frame"},
		{"close without resolution", `{"type":"close","id":"7","conversation_id":"c1"}`, "bad_frame"},
		{"transfer nowhere", `{"type":"transfer","id":"8","conversation_id":"c1"}`, "bad_frame"},
		{"typing without on", `{"type":"typing","conversation_id":"c1"}`, "bad_frame"},
		{"open unknown conversation", `{"type":"open","id":"9","conversation_id":"nope"}`, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.send(tc.frame)
			f := s.next(typed("error"))
			if f.str("code") != tc.code || f.str("message") == "" {
				t.Fatalf("got %v, want error %s with a message", f, tc.code)
			}
		})
	}
	if err := s.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if f := s.next(typed("error")); f.str("code") != "bad_frame" {
		t.Fatalf("binary frame: %v", f)
	}
	// Still usable.
	s.send(map[string]any{"type": "presence", "presence": "away", "id": "p"})
	if f := s.next(replyTo("p")); f.str("type") != "ack" {
		t.Fatalf("presence after bad frames: %v", f)
	}
}

func TestTwoAgentsAcceptAtOnce(t *testing.T) {
	e := startConsole(t, Options{})
	a, agentA, _, _ := e.mustAgent(t, "ana", 2)
	b, agentB, _, _ := e.mustAgent(t, "bob", 2)
	_, conv, _ := e.visitorQueued(t)

	var wg sync.WaitGroup
	results := make([]wsFrame, 2)
	for i, s := range []*sock{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.send(map[string]any{"type": "accept", "id": "acc", "conversation_id": conv})
		}()
		_ = i
	}
	wg.Wait()
	results[0], results[1] = a.next(replyTo("acc")), b.next(replyTo("acc"))
	acks, taken := 0, 0
	winner := ""
	for i, r := range results {
		switch {
		case r.str("type") == "ack":
			acks++
			winner = []string{agentA.ID, agentB.ID}[i]
		case r.str("code") == "taken" && strings.Contains(r.str("message"), "accepted it first"):
			taken++
		}
	}
	if acks != 1 || taken != 1 {
		t.Fatalf("results %v: want exactly one ack and one taken", results)
	}
	for _, s := range []*sock{a, b} {
		f := s.next(typed("assigned"))
		if f.str("conversation_id") != conv || f.str("agent_id") != winner {
			t.Fatalf("assigned: %v, want %s owning %s", f, winner, conv)
		}
	}
	if state, owner := e.queue.Owner(conv); state != handoff.StateAgent || owner != winner {
		t.Fatalf("queue owner %s %s", state, owner)
	}
}

func TestAgentChatNotYoursAndClosed(t *testing.T) {
	e := startConsole(t, Options{})
	a, agentA, _, _ := e.mustAgent(t, "ana", 2)
	b, _, _, _ := e.mustAgent(t, "bob", 2)
	v, conv, _ := e.visitorQueued(t)

	a.send(map[string]any{"type": "accept", "id": "acc", "conversation_id": conv})
	if f := a.next(replyTo("acc")); f.str("type") != "ack" {
		t.Fatalf("accept: %v", f)
	}
	if f := v.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "agent" }); f.str("agent") != "Ana" {
		t.Fatalf("visitor state: %v, want agent Ana", f)
	}

	// The owner's conversation view has the transcript with tone on visitor messages.
	a.send(map[string]any{"type": "open", "id": "o", "conversation_id": conv})
	cf := a.next(typed("conversation"))
	if cf.str("state") != "agent" || cf.str("owner") != agentA.ID || cf["handoff"] == nil {
		t.Fatalf("conversation frame: %v", cf)
	}
	msgs := cf["messages"].([]any)
	var sawVisitorTone bool
	for _, m := range msgs {
		mm := m.(map[string]any)
		if mm["from"] == "visitor" && mm["tone"] != nil {
			sawVisitorTone = true
		}
		if mm["from"] == "bot" && mm["tone"] != nil {
			t.Fatalf("bot message with a tone: %v", mm)
		}
	}
	if !sawVisitorTone || cf["handoff"].(map[string]any)["reason"] != handoff.ReasonAskedForPerson {
		t.Fatalf("conversation frame lacks tone or reason: %v", cf)
	}

	// The owner asks for help: suggested replies and a hand-off summary, marked as generated.
	a.send(map[string]any{"type": "suggest", "id": "s1", "conversation_id": conv})
	sf := a.next(typed("suggestions"))
	sum, _ := sf["summary"].(map[string]any)
	if sugg, _ := sf["suggestions"].([]any); len(sugg) == 0 || sum == nil || sum["wants"] == "" || sum["source"] != "template" || sum["label"] == "" {
		t.Fatalf("suggestions frame without suggestions or a template summary: %v", sf)
	}

	// Not yours: another agent may not reply, type, return or close.
	for _, fr := range []map[string]any{
		{"type": "message", "id": "x1", "conversation_id": conv, "text": "hijack"},
		{"type": "return", "id": "x2", "conversation_id": conv},
		{"type": "close", "id": "x3", "conversation_id": conv, "resolution": "spam"},
		{"type": "suggest", "id": "x4", "conversation_id": conv},
	} {
		b.send(fr)
		f := b.next(replyTo(fr["id"].(string)))
		if f.str("code") != "not_yours" {
			t.Fatalf("%s by another agent: %v, want not_yours", fr["type"], f)
		}
		if fr["type"] == "message" && f.str("text") != "hijack" {
			t.Fatalf("refused message text not given back: %v", f)
		}
	}

	// Messages both ways; the bot stays silent.
	a.send(map[string]any{"type": "message", "id": "r1", "conversation_id": conv, "text": "Hi, I'm Ana. How can I help?"})
	ack := a.next(replyTo("r1"))
	if ack.str("type") != "ack" || ack["seq"] == nil {
		t.Fatalf("agent message ack: %v", ack)
	}
	vm := v.next(func(f wsFrame) bool { return f.str("type") == "message" && f.str("from") == "agent" })
	if vm.str("text") != "Hi, I'm Ana. How can I help?" || vm.str("name") != "Ana" {
		t.Fatalf("visitor got %v", vm)
	}
	v.send(map[string]any{"type": "message", "id": "m2", "text": "My order never arrived and I'm really annoyed"})
	am := a.next(func(f wsFrame) bool { return f.str("type") == "message" && f.str("from") == "visitor" })
	if am.str("conversation_id") != conv || am["tone"] == nil {
		t.Fatalf("agent got %v", am)
	}

	// Closing, then writing to the closed conversation: a clear error, the text given back, nothing stored.
	a.send(map[string]any{"type": "close", "id": "c", "conversation_id": conv, "resolution": "resolved"})
	if f := a.next(replyTo("c")); f.str("type") != "ack" {
		t.Fatalf("close: %v", f)
	}
	if f := a.next(typed("closed")); f.str("conversation_id") != conv || f.str("resolution") != "resolved" {
		t.Fatalf("closed frame: %v", f)
	}
	v.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "closed" })
	before, err := e.db.MessagesAfter(context.Background(), conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.send(map[string]any{"type": "message", "id": "late", "conversation_id": conv, "text": "One more thing"})
	f := a.next(replyTo("late"))
	if f.str("code") != "closed" || f.str("text") != "One more thing" || !strings.Contains(f.str("message"), "closed") {
		t.Fatalf("message to a closed conversation: %v", f)
	}
	after, err := e.db.MessagesAfter(context.Background(), conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("a refused message was stored: %d messages, had %d", len(after), len(before))
	}
	// Bot silence while Ana owned it: no bot message between the hand-off and the close.
	var afterHandoff bool
	for _, m := range after {
		if m.From == store.FromAgent {
			afterHandoff = true
		}
		if afterHandoff && m.From == store.FromBot {
			t.Fatalf("the bot answered while an agent owned the conversation: %q", m.Text)
		}
	}
}

func TestVisitorResumeQueuedAndEmail(t *testing.T) {
	e := startConsole(t, Options{})
	v, conv, token := e.visitorQueued(t)

	for _, tc := range []struct{ email, want string }{
		{"not-an-email", "invalid_email"},
		{"", "invalid_email"},
		{"ana@example.com", "email_saved"},
	} {
		v.send(map[string]any{"type": "email", "id": "e-" + tc.email, "email": tc.email})
		f := v.next(func(f wsFrame) bool { return f.str("id") == "e-"+tc.email })
		if got := f.str("type"); got != tc.want && f.str("code") != tc.want {
			t.Fatalf("email %q: %v, want %s", tc.email, f, tc.want)
		}
	}
	if tk, ok := e.queue.Ticket(conv); !ok || tk.Email != "ana@example.com" {
		t.Fatalf("ticket email: %+v", tk)
	}

	// Resume: welcome carries the state, then the position follows at once.
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v2 := &sock{t: t, conn: conn}
	v2.send(map[string]any{"type": "hello", "token": token})
	w := v2.next(func(wsFrame) bool { return true })
	if w.str("type") != "welcome" || w.str("state") != "queued" || w["resumed"] != true {
		t.Fatalf("first frame: %v", w)
	}
	st := v2.next(func(wsFrame) bool { return true })
	if st.str("type") != "state" || st.str("state") != "queued" || st["position"] != 1.0 {
		t.Fatalf("frame after welcome: %v, want state queued position 1", st)
	}
}

func TestRelayCoalescesQueueChanges(t *testing.T) {
	e := startConsole(t, Options{})
	s, _, _, _ := e.mustAgent(t, "ana", 2)
	s.next(typed("queue"))
	start := time.Now()
	for i := 0; i < 50; i++ {
		e.srv.relay.QueueChanged()
	}
	s.next(typed("queue"))
	// The burst costs at most two pushes (one at once, one after the interval); a third frame
	// would have to come from a new change.
	_ = s.conn.SetReadDeadline(time.Now().Add(3 * QueueCoalesce))
	n := 0
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			break
		}
		if bytes.Contains(data, []byte(`"type":"queue"`)) {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("50 changes in %v gave %d more queue frames, want at most 1", time.Since(start), n)
	}
}

// A visitor handed over learns it from the bot first: the hand-over message, then the state
// frame with their place, and no earlier or duplicate state from the relay's queue push that
// the hand-over itself triggered.
func TestHandoverMessageComesBeforeQueueState(t *testing.T) {
	e := startConsole(t, Options{})
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v := &sock{t: t, conn: conn}
	v.send(map[string]any{"type": "hello"})
	v.next(typed("welcome"))
	v.send(map[string]any{"type": "message", "id": "m1", "text": "I want to talk to a human please"})
	var order []string
	_ = conn.SetReadDeadline(time.Now().Add(3 * QueueCoalesce))
	for {
		var f wsFrame
		if err := conn.ReadJSON(&f); err != nil {
			break
		}
		switch typ := f.str("type"); typ {
		case "message":
			if f.str("from") == "visitor" {
				order = nil // what came before was the greeting
				continue
			}
			order = append(order, "message:"+f.str("from"))
		case "state":
			order = append(order, "state:"+f.str("state"))
		}
	}
	want := []string{"message:bot", "state:queued"}
	if !slices.Equal(order, want) {
		t.Fatalf("visitor frames after asking for a person = %v, want %v", order, want)
	}
}

// A visitor whose chat ended starts a new one: same visitor, empty transcript, and the agent who
// opens the new chat sees the ended one under earlier conversations. While a person is still
// involved, asking for a new chat resumes the current one instead.
func TestNewChatAfterOneEndedListsTheEarlierOne(t *testing.T) {
	e := startConsole(t, Options{})
	a, _, _, _ := e.mustAgent(t, "ana", 2)
	v, first, token := e.visitorQueued(t)
	hello := func(fields map[string]any) (*sock, wsFrame) {
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/visitor", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		s := &sock{t: t, conn: conn}
		s.send(fields)
		return s, s.next(typed("welcome"))
	}

	// Queued: a person is about to be involved, so no new chat.
	if _, w := hello(map[string]any{"type": "hello", "token": token, "new": true}); w.str("conversation_id") != first || w["resumed"] != true {
		t.Fatalf("new chat while queued: %v, want conversation %s resumed", w, first)
	}

	a.send(map[string]any{"type": "accept", "id": "acc", "conversation_id": first})
	a.next(replyTo("acc"))
	a.send(map[string]any{"type": "close", "id": "c", "conversation_id": first, "resolution": "resolved"})
	a.next(replyTo("c"))
	v.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "closed" })

	v2, w := hello(map[string]any{"type": "hello", "token": token, "new": true})
	second := w.str("conversation_id")
	if second == first || w["resumed"] != false || w.str("token") == token || w.str("state") != "bot" {
		t.Fatalf("new chat after the end: %v, want a new bot conversation with a new token", w)
	}
	if g := v2.next(typed("message")); g.str("from") != "bot" || g["seq"] != float64(1) {
		t.Fatalf("the new chat starts with %v, want the bot's greeting as seq 1", g)
	}
	c1, err := e.db.Conversation(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.db.Conversation(context.Background(), second)
	if err != nil || c2.VisitorID != c1.VisitorID {
		t.Fatalf("new chat of visitor %q, want the same visitor %q (%v)", c2.VisitorID, c1.VisitorID, err)
	}
	// The old token still opens the ended chat (it is kept, not handed to someone else).
	if _, w := hello(map[string]any{"type": "hello", "token": token}); w.str("conversation_id") != first || w.str("state") != "closed" {
		t.Fatalf("old token: %v, want the ended conversation", w)
	}

	v2.send(map[string]any{"type": "message", "id": "h", "text": "I want to talk to a human please"})
	v2.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "queued" })
	a.send(map[string]any{"type": "open", "id": "o", "conversation_id": second})
	cf := a.next(typed("conversation"))
	earlier, _ := cf["earlier"].([]any)
	if len(earlier) != 1 || earlier[0].(map[string]any)["conversation_id"] != first {
		t.Fatalf("earlier conversations %v, want only %s", cf["earlier"], first)
	}
	if n, _ := earlier[0].(map[string]any)["messages"].(float64); n < 3 {
		t.Errorf("earlier conversation counts %v messages, want its whole transcript", earlier[0])
	}
	// The ended chat does not list the later one as earlier.
	a.send(map[string]any{"type": "open", "id": "o1", "conversation_id": first})
	if cf := a.next(typed("conversation")); len(cf["earlier"].([]any)) != 0 {
		t.Fatalf("the first chat lists %v as earlier", cf["earlier"])
	}
	// And a stranger's chat lists none.
	_, other, _ := e.visitorQueued(t)
	a.send(map[string]any{"type": "open", "id": "o2", "conversation_id": other})
	if cf := a.next(typed("conversation")); len(cf["earlier"].([]any)) != 0 {
		t.Fatalf("a new visitor has earlier conversations: %v", cf["earlier"])
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy configured for this peer", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted proxy names the client", "10.1.1.1:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged hop left of the real one is ignored", "10.1.1.1:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"chained trusted proxies are skipped", "127.0.0.1:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines read as one list", "10.1.1.1:443", []string{"1.2.3.4", "198.51.100.2"}, "198.51.100.2"},
		{"a malformed hop stops the walk", "10.1.1.1:443", []string{"198.51.100.1, bogus"}, "10.1.1.1"},
		{"only trusted hops: the leftmost", "10.1.1.1:443", []string{"10.2.2.2"}, "10.2.2.2"},
		{"trusted proxy without the header", "10.1.1.1:443", nil, "10.1.1.1"},
		{"IPv4-mapped peer", "[::ffff:10.1.1.1]:443", []string{"2001:db8::1"}, "2001:db8::1"},
		{"unparsable remote address", "pipe", []string{"198.51.100.1"}, "pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/console/api/login", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, trusted); got != tc.want {
				t.Errorf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

// Behind a trusted proxy, one client's failed logins do not lock out another; without the
// setting every client behind the proxy shares the peer's limit, whatever header it sends.
func TestLoginLimitPerClientBehindAProxy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		trusted    []netip.Prefix
		wantOthers int
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}, 200},
		{"not trusted", nil, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startConsole(t, Options{TrustedProxies: tc.trusted})
			e.addAgent(t, "ana", "correct horse battery", 2)
			from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
			for i := 0; i < loginFailures; i++ {
				body := map[string]string{"login": fmt.Sprintf("guess%d", i), "password": "guess"}
				if r := e.api(t, "POST", "/console/api/login", body, nil, from("198.51.100.7")); r.status != 401 {
					t.Fatalf("failure %d: %d, want 401", i+1, r.status)
				}
			}
			body := map[string]string{"login": "someone", "password": "guess"}
			if r := e.api(t, "POST", "/console/api/login", body, nil, from("198.51.100.7")); r.status != 429 {
				t.Fatalf("the guessing client's next attempt: %d, want 429", r.status)
			}
			if r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil, from("198.51.100.8")); r.status != tc.wantOthers {
				t.Fatalf("another client's login: %d, want %d", r.status, tc.wantOthers)
			}
		})
	}
}

// The hand-off summary says what the visitor first came for, even in a chat longer than the
// latest messages the reply suggestions read.
func TestSummaryOfALongConversationKeepsItsOpening(t *testing.T) {
	e := startConsole(t, Options{})
	a, _, _, _ := e.mustAgent(t, "ana", 2)
	_, conv, _ := e.visitorQueued(t)
	a.send(map[string]any{"type": "accept", "id": "acc", "conversation_id": conv})
	if f := a.next(replyTo("acc")); f.str("type") != "ack" {
		t.Fatalf("accept: %v", f)
	}
	for i := range 2 * suggestWindow {
		from := []string{store.FromAgent, store.FromVisitor}[i%2]
		if _, _, err := e.db.AppendMessage(context.Background(), store.Message{ConversationID: conv, From: from, Text: fmt.Sprintf("detail number %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	a.send(map[string]any{"type": "suggest", "id": "s1", "conversation_id": conv})
	sf := a.next(typed("suggestions"))
	sum, _ := sf["summary"].(map[string]any)
	if wants, _ := sum["wants"].(string); !strings.Contains(wants, "talk to a human") {
		t.Fatalf("summary of a %d-message chat: wants %q; want the opening request (\"I want to talk to a human please\")", 2*suggestWindow+3, wants)
	}
}
