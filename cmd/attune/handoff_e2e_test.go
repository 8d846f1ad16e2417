package main

// End-to-end tests of the human hand-off (issue 5): the real daemon on a loopback port with a real
// SQLite file, agents created with `attune agent add`, logged in over HTTP with a cookie jar, and
// driven over real visitor and agent websockets as docs/protocol.md (agent console protocol)
// describes them. Every wait polls with a deadline; no sleep decides an assertion.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/web"
	"github.com/gorilla/websocket"
)

const (
	agentPassword = "correct-horse-battery"
	// frustratedText is in scope (order_status, tagged orders) and scores frustration 1.0.
	frustratedText = "This is the third time I'm asking, my order still hasn't arrived and I'm furious!!"
	askHumanText   = "I want to talk to a human"
	// damagedText matches complaint_damaged (handoff: true, tags complaints and orders);
	// refundText matches refund_request (handoff: true, tags billing and complaints).
	damagedText = "my cake arrived damaged"
	refundText  = "I want a refund"
	// demoOfflineMessage is the start of the demo's handoff.offline_message.
	demoOfflineMessage = "The bakers are out of the kitchen right now"
)

// hframe is any frame of the visitor or the agent socket; fields a type does not use stay zero.
type hframe struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	ConversationID string          `json:"conversation_id"`
	Token          string          `json:"token"`
	State          string          `json:"state"`
	Resumed        bool            `json:"resumed"`
	Seq            int64           `json:"seq"`
	From           string          `json:"from"`
	Text           string          `json:"text"`
	ClientID       string          `json:"client_id"`
	Name           string          `json:"name"`
	Code           string          `json:"code"`
	Message        string          `json:"message"`
	Position       int             `json:"position"`
	ETASeconds     *int            `json:"eta_seconds"`
	AgentsOnline   *int            `json:"agents_online"`
	Reason         string          `json:"reason"`
	Evidence       string          `json:"evidence"`
	Offline        bool            `json:"offline"`
	Agent          json.RawMessage `json:"agent"` // a display name on the visitor socket, an object on the agent's
	AgentID        string          `json:"agent_id"`
	AgentName      string          `json:"agent_name"`
	Owner          string          `json:"owner"`
	Why            string          `json:"why"`
	Resolution     string          `json:"resolution"`
	Presence       string          `json:"presence"`
	On             *bool           `json:"on"`
	Waiting        []waitingEntry  `json:"waiting"`
	Assigned       []assignedEntry `json:"assigned"`
	Agents         []agentEntry    `json:"agents"`
	Messages       []hframe        `json:"messages"` // of a `conversation` frame
	Handoff        *struct {
		Reason   string `json:"reason"`
		Evidence string `json:"evidence"`
	} `json:"handoff"`

	raw string
}

type waitingEntry struct {
	ConversationID string  `json:"conversation_id"`
	Position       int     `json:"position"`
	Priority       float64 `json:"priority"`
	Reason         string  `json:"reason"`
	Evidence       string  `json:"evidence"`
	Intent         string  `json:"intent"`
	OfferedTo      string  `json:"offered_to"`
}

type assignedEntry struct {
	ConversationID string `json:"conversation_id"`
	AgentID        string `json:"agent_id"`
	AgentName      string `json:"agent_name"`
}

type agentEntry struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Presence string `json:"presence"`
	Active   int    `json:"active"`
	Capacity int    `json:"capacity"`
}

func (f hframe) String() string {
	if len(f.raw) > 400 {
		return f.raw[:400] + fmt.Sprintf("… (%d bytes)", len(f.raw))
	}
	return f.raw
}

// agentDisplayName is the agent of a visitor `state` frame ("" when absent or not a string).
func (f hframe) agentDisplayName() string {
	var s string
	if len(f.Agent) == 0 || json.Unmarshal(f.Agent, &s) != nil {
		return ""
	}
	return s
}

// waiting returns the queue entry of a conversation in a `queue` frame.
func (f hframe) waiting(conversationID string) (waitingEntry, bool) {
	for _, w := range f.Waiting {
		if w.ConversationID == conversationID {
			return w, true
		}
	}
	return waitingEntry{}, false
}

// peer is one real websocket client whose frames a goroutine reads as they come, so that a busy
// server (queue frames every ~200 ms) never sees a slow socket, and tests can look at the whole
// history afterwards. Only the test goroutine that owns it writes to it.
type peer struct {
	t    testing.TB
	name string
	conn *websocket.Conn

	mu      sync.Mutex
	frames  []hframe
	readErr error
	// badFrames are frames whose fields do not have the protocol's types.
	badFrames []string
	wake      chan struct{}
	done      chan struct{}

	cursor int // next frame until() looks at; test goroutine only
}

func newPeer(t testing.TB, name string, conn *websocket.Conn) *peer {
	p := &peer{t: t, name: name, conn: conn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go p.read()
	t.Cleanup(func() {
		conn.Close()
		<-p.done
		for _, b := range p.badFrames {
			t.Errorf("%s: a frame does not match the protocol's field types: %s", name, b)
		}
	})
	return p
}

func (p *peer) read() {
	defer close(p.done)
	for {
		kind, data, err := p.conn.ReadMessage()
		p.mu.Lock()
		switch {
		case err != nil:
			p.readErr = err
		case kind != websocket.TextMessage:
			p.readErr = fmt.Errorf("server sent a non-text frame (%d): %q", kind, data)
		default:
			var f hframe
			if jerr := json.Unmarshal(data, &f); jerr != nil {
				// Keep going with what can be read, so one field of an unexpected type fails the
				// test with its name (at cleanup) instead of ending every wait on this socket.
				var minimal struct {
					Type           string `json:"type"`
					ID             string `json:"id"`
					ConversationID string `json:"conversation_id"`
				}
				if json.Unmarshal(data, &minimal) != nil {
					p.readErr = fmt.Errorf("server frame is not JSON (%v): %s", jerr, data)
					break
				}
				f = hframe{Type: minimal.Type, ID: minimal.ID, ConversationID: minimal.ConversationID}
				p.badFrames = append(p.badFrames, fmt.Sprintf("%v: %.300s", jerr, data))
			}
			if f.Type == "" {
				p.readErr = fmt.Errorf("server frame without type: %s", data)
				break
			}
			f.raw = string(data)
			p.frames = append(p.frames, f)
		}
		stop := p.readErr != nil
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
		if stop {
			return
		}
	}
}

func (p *peer) send(f map[string]any) {
	p.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		p.t.Fatalf("%s: encode %v: %v", p.name, f, err)
	}
	p.sendRaw(string(b))
}

func (p *peer) sendRaw(s string) {
	p.t.Helper()
	_ = p.conn.SetWriteDeadline(time.Now().Add(frameTimeout))
	if err := p.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		p.t.Fatalf("%s: write %.100q: %v", p.name, s, err)
	}
}

// until consumes frames until one satisfies ok and returns it. An error frame that ok does not
// accept fails the test at once: no flow here expects one it does not ask for.
func (p *peer) until(what string, ok func(hframe) bool) hframe {
	p.t.Helper()
	start := p.cursor
	f, found := p.poll(what, frameTimeout, ok, true)
	if !found {
		p.t.Fatalf("%s: no %s within %v; frames since the last match:\n%s", p.name, what, frameTimeout, p.dumpFrom(start))
	}
	return f
}

// poll is until with a choice of deadline and of what a timeout means.
func (p *peer) poll(what string, wait time.Duration, ok func(hframe) bool, strict bool) (hframe, bool) {
	p.t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	start := p.cursor
	for {
		p.mu.Lock()
		for p.cursor < len(p.frames) {
			f := p.frames[p.cursor]
			p.cursor++
			if ok(f) {
				p.mu.Unlock()
				return f, true
			}
			if strict && f.Type == "error" {
				p.mu.Unlock()
				p.t.Fatalf("%s: unexpected error frame %s while waiting for %s", p.name, f, what)
			}
		}
		err := p.readErr
		p.mu.Unlock()
		if err != nil {
			p.t.Fatalf("%s: socket ended (%v) while waiting for %s; frames:\n%s", p.name, err, what, p.dumpFrom(start))
		}
		select {
		case <-p.wake:
		case <-deadline.C:
			return hframe{}, false
		}
	}
}

// find waits until a frame at index from or later satisfies ok and returns it with its index. It
// reads the history without consuming it: on an agent socket the order of broadcasts (queue,
// offer, assigned) around an ack is not part of the contract.
func (p *peer) find(what string, from int, ok func(hframe) bool) (hframe, int) {
	p.t.Helper()
	deadline := time.NewTimer(frameTimeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for i := from; i < len(p.frames); i++ {
			if ok(p.frames[i]) {
				f := p.frames[i]
				p.mu.Unlock()
				return f, i
			}
		}
		from = max(from, len(p.frames))
		err := p.readErr
		p.mu.Unlock()
		if err != nil {
			p.t.Fatalf("%s: socket ended (%v) while waiting for %s; last frames:\n%s", p.name, err, what, p.dumpFrom(0))
		}
		select {
		case <-p.wake:
		case <-deadline.C:
			p.t.Fatalf("%s: no %s within %v; last frames:\n%s", p.name, what, frameTimeout, p.dumpFrom(0))
		}
	}
}

// mark is the index the next frame will have.
func (p *peer) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.frames)
}

// history returns a copy of every frame received so far.
func (p *peer) history() []hframe {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]hframe(nil), p.frames...)
}

func (p *peer) dumpFrom(i int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if i < len(p.frames)-40 {
		i = len(p.frames) - 40
	}
	for ; i < len(p.frames); i++ {
		fmt.Fprintf(&b, "  %s\n", p.frames[i])
	}
	return b.String()
}

// closeCode waits for the server to close the socket and returns the close code it sent.
func (p *peer) closeCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(frameTimeout):
		p.t.Fatalf("%s: the server did not close the socket", p.name)
	}
	if ce, ok := p.readErr.(*websocket.CloseError); ok {
		return ce.Code
	}
	p.t.Fatalf("%s: socket ended without a close frame: %v", p.name, p.readErr)
	return 0
}

// --- visitors ---

// hvisitor is a visitor's widget on a real socket.
type hvisitor struct {
	*peer
	conversationID, token string
}

func dialVisitor(t testing.TB, td *testDaemon, name string) *hvisitor {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: frameTimeout}
	conn, resp, err := d.Dial(td.wsURL(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", td.wsURL(), err)
	}
	resp.Body.Close()
	return &hvisitor{peer: newPeer(t, name, conn)}
}

// startVisitor opens a new conversation and waits for the greeting.
func startVisitor(t testing.TB, td *testDaemon, name string) *hvisitor {
	t.Helper()
	v := dialVisitor(t, td, name)
	w := v.hello("")
	if w.Resumed || w.State != "bot" {
		t.Fatalf("%s: welcome %s, want a new conversation in state bot", name, w)
	}
	v.until("greeting", func(f hframe) bool { return f.Type == "message" && f.From == "bot" })
	return v
}

// chattingWith opens a visitor who asks for a person and is accepted by agent; it returns once
// the visitor's widget shows the agent.
func chattingWith(t testing.TB, td *testDaemon, agent *console) *hvisitor {
	t.Helper()
	v := startVisitor(t, td, "visitor")
	v.handOff("m1", askHumanText)
	agent.waitingFor(v.conversationID, nil)
	agent.accept("acc", v.conversationID)
	v.until("state agent", isState("agent"))
	return v
}

func (v *hvisitor) hello(token string) hframe {
	v.t.Helper()
	v.send(map[string]any{"type": "hello", "token": token, "last_seq": 0})
	w := v.until("welcome", func(f hframe) bool { return f.Type == "welcome" })
	v.conversationID, v.token = w.ConversationID, w.Token
	return w
}

// say sends a message and returns its stored seq (from the ack).
func (v *hvisitor) say(id, text string) int64 {
	v.t.Helper()
	v.send(map[string]any{"type": "message", "id": id, "text": text})
	ack := v.until("ack of "+id, func(f hframe) bool { return f.Type == "ack" && f.ID == id })
	if ack.Seq <= 0 {
		v.t.Fatalf("%s: ack %s without a seq", v.name, ack)
	}
	return ack.Seq
}

// handOff sends a message that makes the bot bring in a person and checks what the visitor sees:
// the bot's explanation after their message, then a `state` queued frame, which it returns.
func (v *hvisitor) handOff(id, text string) (explanation, queued hframe) {
	v.t.Helper()
	seq := v.say(id, text)
	explanation = v.until("the bot's hand-off explanation", func(f hframe) bool {
		return f.Type == "message" && f.From == "bot" && f.Seq > seq
	})
	if lower := strings.ToLower(explanation.Text); !strings.Contains(lower, "person") || strings.Contains(lower, "can't bring a person") {
		v.t.Fatalf("%s: the bot answered %q to %q; want an explanation that a person is being brought in", v.name, explanation.Text, text)
	}
	queued = v.until("state queued", func(f hframe) bool { return f.Type == "state" })
	if queued.State != "queued" || queued.Position < 1 || queued.AgentsOnline == nil || queued.Reason == "" {
		v.t.Fatalf("%s: after the explanation got %s; want state queued with position ≥ 1, agents_online and a reason", v.name, queued)
	}
	return explanation, queued
}

// messages returns every stored message this socket received, by seq, each once.
func (v *hvisitor) messages() []hframe {
	seen := map[int64]bool{}
	var out []hframe
	for _, f := range v.history() {
		if f.Type == "message" && !seen[f.Seq] {
			seen[f.Seq] = true
			out = append(out, f)
		}
	}
	return out
}

// --- agents ---

// console is an agent logged in over HTTP with a cookie jar and connected to /ws/agent.
type console struct {
	*peer
	td       *testDaemon
	client   *http.Client
	id, name string
	login    string
	csrf     string
}

// loginResponse is the body of POST /console/api/login and GET /console/api/me.
type loginResponse struct {
	Agent struct {
		ID       string   `json:"id"`
		Login    string   `json:"login"`
		Name     string   `json:"name"`
		Role     string   `json:"role"`
		Skills   []string `json:"skills"`
		Capacity int      `json:"capacity"`
	} `json:"agent"`
	CSRF  string `json:"csrf"`
	Error string `json:"error"`
}

// addAgent creates an agent in the database file with `attune agent add`, before a daemon opens it.
func addAgent(t testing.TB, db, login, name, skills string, capacity int) {
	t.Helper()
	args := []string{"add", login, "--db", db, "--name", name, "--role", "agent", "--capacity", strconv.Itoa(capacity)}
	if skills != "" {
		args = append(args, "--skills", skills)
	}
	var errOut bytes.Buffer
	if err := agentCommand(context.Background(), args, strings.NewReader(agentPassword+"\n"), io.Discard, &errOut); err != nil {
		t.Fatalf("attune agent %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
}

// postJSON posts body to the daemon with the client's cookies and returns status and body.
func postJSON(t testing.TB, c *http.Client, td *testDaemon, path string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, td.URL()+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", td.URL())
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// loginHTTP logs an agent in and returns a client holding the session cookie.
func loginHTTP(t testing.TB, td *testDaemon, login string) (*http.Client, loginResponse) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: frameTimeout}
	status, body := postJSON(t, c, td, "/console/api/login", map[string]string{"login": login, "password": agentPassword}, nil)
	if status != http.StatusOK {
		t.Fatalf("login %s: %d %s, want 200", login, status, body)
	}
	var lr loginResponse
	if err := json.Unmarshal(body, &lr); err != nil || lr.Agent.ID == "" || lr.CSRF == "" {
		t.Fatalf("login %s: body %s (%v), want {agent:{id,...}, csrf}", login, body, err)
	}
	return c, lr
}

// dialAgent opens /ws/agent with the client's session cookie and this server's Origin.
func dialAgent(t testing.TB, td *testDaemon, c *http.Client) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: frameTimeout, Jar: c.Jar}
	h := http.Header{"Origin": {td.URL()}}
	return d.Dial("ws"+strings.TrimPrefix(td.URL(), "http")+"/ws/agent", h)
}

// connectAgent logs in and opens the agent socket, and waits for its welcome and first queue frame.
func connectAgent(t testing.TB, td *testDaemon, login string) *console {
	t.Helper()
	c, lr := loginHTTP(t, td, login)
	conn, resp, err := dialAgent(t, td, c)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial /ws/agent as %s: %v (HTTP %d)", login, err, status)
	}
	resp.Body.Close()
	a := &console{peer: newPeer(t, "agent "+login, conn), td: td, client: c, id: lr.Agent.ID, name: lr.Agent.Name, login: login, csrf: lr.CSRF}
	w := a.until("welcome", func(f hframe) bool { return f.Type == "welcome" })
	var wa struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(w.Agent, &wa); err != nil || wa.ID != a.id || w.Presence != "online" {
		t.Fatalf("%s: welcome %s, want agent %s and presence online", a.name, w, a.id)
	}
	a.until("first queue frame", func(f hframe) bool { return f.Type == "queue" })
	return a
}

// reconnect opens a new agent socket with the same session (a reload of the console).
func (a *console) reconnect(t testing.TB) *console {
	t.Helper()
	conn, resp, err := dialAgent(t, a.td, a.client)
	if err != nil {
		t.Fatalf("redial /ws/agent as %s: %v", a.login, err)
	}
	resp.Body.Close()
	b := &console{peer: newPeer(t, "agent "+a.login+" (again)", conn), td: a.td, client: a.client, id: a.id, name: a.name, login: a.login, csrf: a.csrf}
	b.until("welcome", func(f hframe) bool { return f.Type == "welcome" })
	return b
}

// waitingFor waits for a queue frame listing the conversation as waiting (and satisfying ok, if
// given) and returns the frame and the conversation's entry.
func (a *console) waitingFor(conversationID string, ok func(waitingEntry) bool) (hframe, waitingEntry) {
	a.t.Helper()
	f, _ := a.find("queue frame with "+conversationID+" waiting", 0, func(f hframe) bool {
		w, found := f.waiting(conversationID)
		return f.Type == "queue" && found && (ok == nil || ok(w))
	})
	w, _ := f.waiting(conversationID)
	return f, w
}

// offerOf waits for an offer of the conversation to this agent and returns it with its index.
func (a *console) offerOf(conversationID string) (hframe, int) {
	a.t.Helper()
	o, i := a.find("offer of "+conversationID, 0, func(f hframe) bool { return f.Type == "offer" && f.ConversationID == conversationID })
	if o.Reason == "" || o.Evidence == "" {
		a.t.Errorf("%s: offer %s without reason or evidence", a.name, o)
	}
	return o, i
}

// event waits for a frame of the given type about the conversation.
func (a *console) event(typ, conversationID string) hframe {
	a.t.Helper()
	f, _ := a.find(typ+" of "+conversationID, 0, func(f hframe) bool { return f.Type == typ && f.ConversationID == conversationID })
	return f
}

// reply returns the ack or error frame answering the client frame id (ids are unique per test).
func (a *console) reply(id string) hframe {
	a.t.Helper()
	f, _ := a.find("ack or error for "+id, 0, func(f hframe) bool { return (f.Type == "ack" || f.Type == "error") && f.ID == id })
	return f
}

// do sends a frame with an id and fails unless it is acknowledged.
func (a *console) do(f map[string]any) hframe {
	a.t.Helper()
	id, _ := f["id"].(string)
	a.send(f)
	r := a.reply(id)
	if r.Type != "ack" {
		a.t.Fatalf("%s: %v answered with %s, want an ack", a.name, f, r)
	}
	return r
}

func (a *console) accept(id, conversationID string) hframe {
	a.t.Helper()
	return a.do(map[string]any{"type": "accept", "id": id, "conversation_id": conversationID})
}

// expectError sends a frame and checks the error code it is refused with.
func (a *console) expectError(f map[string]any, code string) hframe {
	a.t.Helper()
	id, _ := f["id"].(string)
	a.send(f)
	r := a.reply(id)
	if r.Type != "error" || r.Code != code || len(r.Message) < 10 {
		a.t.Fatalf("%s: %v answered with %s, want an error with code %q and a message", a.name, f, r, code)
	}
	return r
}

// --- daemon ---

// handoffConfig copies the demo configuration with the business always open (so offers do not
// depend on the hour the tests run at) and the given grace period.
func handoffConfig(t testing.TB, graceSeconds int) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range []struct{ old, new string }{
		{"    mon-fri: \"08:00-17:30\"\n    sat: \"09:00-14:00\"\n    sun: closed\n", "    mon-sun: \"00:00-24:00\"\n"},
		{"grace_seconds: 60", fmt.Sprintf("grace_seconds: %d", graceSeconds)},
	} {
		if !strings.Contains(s, r.old) {
			t.Fatalf("the demo configuration no longer contains %q", r.old)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	path := filepath.Join(t.TempDir(), "attune.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startHandoffDaemon starts a daemon on db with cfg; the rate limit is lifted so that the
// visitors of a test never wait for it. When the test ends, the daemon's log must hold no error.
func startHandoffDaemon(t testing.TB, db, cfg string) *testDaemon {
	t.Helper()
	return startHandoffDaemonWith(t, db, cfg, web.Options{})
}

// startHandoffDaemonWith is startHandoffDaemon with transport options (the rate limit is lifted
// whatever wo says).
func startHandoffDaemonWith(t testing.TB, db, cfg string, wo web.Options) *testDaemon {
	t.Helper()
	wo.RateBurst, wo.RatePerSecond = 1000, 1000
	td := mustStart(t, serveConfig{DB: db, Config: cfg, Web: wo})
	t.Cleanup(func() {
		for _, line := range strings.Split(td.logs.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("the daemon logged an error: %s", line)
			}
		}
	})
	return td
}

// logsQuote returns the daemon log lines above debug level that contain any of the texts: the
// house rule is that message text never reaches the log at info level.
func logsQuote(td *testDaemon, texts ...string) []string {
	var out []string
	for _, line := range strings.Split(td.logs.String(), "\n") {
		if strings.Contains(line, "level=DEBUG") {
			continue
		}
		for _, s := range texts {
			if strings.Contains(line, s) {
				out = append(out, line)
			}
		}
	}
	return out
}

// handoffSetup creates the agents (login, name, skills, capacity) in a fresh database and starts
// a daemon on it.
func handoffSetup(t testing.TB, graceSeconds int, agents ...[4]string) (td *testDaemon, db, cfg string) {
	t.Helper()
	return handoffSetupWith(t, graceSeconds, web.Options{}, agents...)
}

// handoffSetupWith is handoffSetup with transport options for the daemon.
func handoffSetupWith(t testing.TB, graceSeconds int, wo web.Options, agents ...[4]string) (td *testDaemon, db, cfg string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "attune.db")
	cfg = handoffConfig(t, graceSeconds)
	for _, a := range agents {
		capacity, err := strconv.Atoi(a[3])
		if err != nil {
			t.Fatal(err)
		}
		addAgent(t, db, a[0], a[1], a[2], capacity)
	}
	return startHandoffDaemonWith(t, db, cfg, wo), db, cfg
}

// --- tests ---

// isState matches a visitor `state` frame with the given state.
func isState(state string) func(hframe) bool {
	return func(f hframe) bool { return f.Type == "state" && f.State == state }
}

// botSpokeBetween returns the bot messages the visitor received with lo < seq < hi.
func botSpokeBetween(v *hvisitor, lo, hi int64) []hframe {
	var out []hframe
	for _, m := range v.messages() {
		if m.From == "bot" && m.Seq > lo && m.Seq < hi {
			out = append(out, m)
		}
	}
	return out
}

// The whole journey: a frustrated visitor (or one who asks) is queued with a reason, the agent
// is offered the conversation and accepts, they talk both ways while the bot stays silent, the
// agent closes, and the bot answers the visitor's next message again.
func TestHandoffFrustratedVisitorToAgentAndBack(t *testing.T) {
	for _, tc := range []struct {
		name, text, reason string
	}{
		{"frustration", frustratedText, "frustration"},
		{"explicit request", askHumanText, "asked_for_person"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td, _, _ := handoffSetup(t, 60, [4]string{"ana", "Ana", "orders", "3"})
			ana := connectAgent(t, td, "ana")
			v := startVisitor(t, td, "visitor")

			expl, queued := v.handOff("m1", tc.text)
			if queued.Position != 1 || *queued.AgentsOnline != 1 || queued.Offline {
				t.Errorf("state %s: want position 1, agents_online 1, not offline", queued)
			}

			_, w := ana.waitingFor(v.conversationID, nil)
			if w.Reason != tc.reason || w.Evidence == "" || w.Position != 1 {
				t.Errorf("queue entry %+v: want reason %q, evidence and position 1", w, tc.reason)
			}
			if tc.reason == "frustration" && !strings.Contains(w.Evidence, "frustration") {
				t.Errorf("evidence %q does not name the frustration that triggered the hand-off", w.Evidence)
			}
			if offer, _ := ana.offerOf(v.conversationID); offer.Reason != tc.reason {
				t.Errorf("offer %s: want reason %q", offer, tc.reason)
			}

			ana.accept("acc1", v.conversationID)
			if asg := ana.event("assigned", v.conversationID); asg.AgentID != ana.id || asg.AgentName != "Ana" {
				t.Errorf("assigned %s: want agent %s (Ana)", asg, ana.id)
			}
			st := v.until("state agent", func(f hframe) bool { return f.Type == "state" && f.State != "queued" })
			if st.State != "agent" || st.agentDisplayName() != "Ana" {
				t.Fatalf("after the accept the visitor got %s, want state agent with agent \"Ana\"", st)
			}

			// Agent → visitor.
			const fromAgent = "Hi, I'm Ana from the bakery. I'm looking at your order now."
			ack := ana.do(map[string]any{"type": "message", "id": "a1", "conversation_id": v.conversationID, "text": fromAgent})
			got := v.until("the agent's message", func(f hframe) bool { return f.Type == "message" && f.From != "visitor" })
			if got.From != "agent" || got.Text != fromAgent || got.Name != "Ana" || ack.Seq <= 0 || got.Seq != ack.Seq {
				t.Fatalf("the visitor got %s (ack %s), want the agent's message from:\"agent\", name Ana, with the acknowledged seq", got, ack)
			}

			// Visitor → agent.
			const fromVisitor = "Thank you, it's order 10452"
			seqV := v.say("m2", fromVisitor)
			seen, _ := ana.find("the visitor's message", 0, func(f hframe) bool {
				return f.Type == "message" && f.ConversationID == v.conversationID && f.From == "visitor" && f.Seq == seqV
			})
			if seen.Text != fromVisitor {
				t.Errorf("the agent got %s, want the visitor's message %q", seen, fromVisitor)
			}
			// The bot says nothing: the visitor socket delivers in storage order, so a bot reply to
			// m2 would arrive before the agent's next message.
			ack2 := ana.do(map[string]any{"type": "message", "id": "a2", "conversation_id": v.conversationID, "text": "Found it: it left this morning."})
			next := v.until("the agent's second message", func(f hframe) bool { return f.Type == "message" && f.Seq > seqV })
			if next.From != "agent" || next.Seq != ack2.Seq {
				t.Fatalf("after the visitor's message while an agent owns the chat got %s, want the agent's next message (the bot must stay silent)", next)
			}

			ana.do(map[string]any{"type": "close", "id": "c1", "conversation_id": v.conversationID, "resolution": "resolved"})
			if closed := ana.event("closed", v.conversationID); closed.Resolution != "resolved" {
				t.Errorf("closed %s: want resolution resolved", closed)
			}
			v.until("state closed", isState("closed"))

			// The bot is back.
			seqAfter := v.say("m3", faqQuestion)
			answer := v.until("the bot's answer after the close", func(f hframe) bool { return f.Type == "message" && f.Seq > seqAfter })
			if answer.From != "bot" || !strings.Contains(answer.Text, faqAnswer) {
				t.Fatalf("after the close the visitor's question got %s, want the bot's FAQ answer", answer)
			}
			// The whole transcript: the bot spoke only up to the hand-off and after the close.
			if extra := botSpokeBetween(v, expl.Seq, seqAfter); len(extra) > 0 {
				t.Errorf("the bot spoke while a person had the conversation: %v", extra)
			}
			if lines := logsQuote(td, tc.text, fromAgent, fromVisitor); len(lines) > 0 {
				t.Errorf("message text in the log above debug level:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// An orders conversation goes to the agent with the orders skill, a billing one to the billing
// agent; an agent at capacity is offered nothing until a chat of theirs ends.
func TestHandoffCapacityAndSkillRouting(t *testing.T) {
	td, _, _ := handoffSetup(t, 60,
		[4]string{"olga", "Olga", "orders", "1"},
		[4]string{"bill", "Bill", "billing", "3"})
	olga := connectAgent(t, td, "olga")
	bill := connectAgent(t, td, "bill")

	a := startVisitor(t, td, "visitor A (damaged cake)")
	a.handOff("a1", damagedText)
	if o, _ := olga.offerOf(a.conversationID); o.Reason != "needs_person" {
		t.Errorf("offer %s: want reason needs_person (complaint_damaged is handoff: true)", o)
	}
	if _, w := bill.waitingFor(a.conversationID, func(w waitingEntry) bool { return w.OfferedTo != "" }); w.OfferedTo != olga.id {
		t.Errorf("the orders conversation was offered to %q, want Olga (%s) who has the orders skill", w.OfferedTo, olga.id)
	}
	olga.accept("acc-a", a.conversationID)
	a.until("state agent", isState("agent"))

	b := startVisitor(t, td, "visitor B (refund)")
	b.handOff("b1", refundText)
	bill.offerOf(b.conversationID)
	if _, w := olga.waitingFor(b.conversationID, func(w waitingEntry) bool { return w.OfferedTo != "" }); w.OfferedTo != bill.id {
		t.Errorf("the billing conversation was offered to %q, want Bill (%s) who has the billing skill", w.OfferedTo, bill.id)
	}
	bill.accept("acc-b", b.conversationID)
	b.until("state agent", isState("agent"))

	// Olga is full (capacity 1): another orders conversation waits, offered to nobody, since the
	// agent with the skill is online and Bill's skills do not fit.
	c := startVisitor(t, td, "visitor C (damaged cake, Olga full)")
	c.handOff("c1", damagedText)
	full, _ := olga.find("queue frame with C waiting and Olga at capacity", 0, func(f hframe) bool {
		if _, found := f.waiting(c.conversationID); f.Type != "queue" || !found {
			return false
		}
		for _, ag := range f.Agents {
			if ag.ID == olga.id {
				return ag.Active == 1 && ag.Capacity == 1
			}
		}
		return false
	})
	if w, _ := full.waiting(c.conversationID); w.OfferedTo != "" {
		t.Errorf("conversation C is offered to %q while Olga, the only orders agent, is at capacity: %+v", w.OfferedTo, w)
	}
	olga.expectError(map[string]any{"type": "accept", "id": "acc-c-full", "conversation_id": c.conversationID}, "at_capacity")
	for _, f := range append(olga.history(), bill.history()...) {
		if f.Type == "offer" && f.ConversationID == c.conversationID {
			t.Errorf("an offer of C went out while Olga was full: %s", f)
		}
	}

	// Olga closes A: she has room, and C is offered to her.
	mark := olga.mark()
	olga.do(map[string]any{"type": "close", "id": "close-a", "conversation_id": a.conversationID, "resolution": "resolved"})
	if _, i := olga.offerOf(c.conversationID); i < mark {
		t.Errorf("C was offered to Olga before she closed A")
	}
	olga.accept("acc-c", c.conversationID)
	if st := c.until("state agent", isState("agent")); st.agentDisplayName() != "Olga" {
		t.Errorf("visitor C got %s, want agent Olga", st)
	}
}

// An agent who drops off mid-chat keeps the conversation for the grace period; then it goes back
// to the queue, the visitor is told, and another online agent is offered it.
func TestHandoffAgentDisconnectGracePeriod(t *testing.T) {
	const grace = 2
	td, _, _ := handoffSetup(t, grace,
		[4]string{"ana", "Ana", "orders", "3"},
		[4]string{"ben", "Ben", "orders", "3"})
	ana := connectAgent(t, td, "ana")
	v := chattingWith(t, td, ana)
	ben := connectAgent(t, td, "ben")

	dropped := time.Now()
	ana.conn.Close() // no close frame: a lost network, as far as the server can tell

	back := v.until("state queued after the agent left", func(f hframe) bool { return f.Type == "state" && f.State != "agent" })
	waited := time.Since(dropped)
	if back.State != "queued" || back.Position != 1 || back.AgentsOnline == nil || *back.AgentsOnline != 1 {
		t.Fatalf("after the agent's grace period the visitor got %s, want state queued at position 1 with 1 agent online", back)
	}
	t.Logf("back in the queue %v after the agent dropped (grace %ds)", waited.Round(time.Millisecond), grace)
	if waited < grace*time.Second*9/10 {
		t.Errorf("the conversation went back to the queue %v after the agent dropped, before the %ds grace period", waited, grace)
	}
	ben.offerOf(v.conversationID)
	ben.accept("acc-ben", v.conversationID)
	if st := v.until("state agent (Ben)", isState("agent")); st.agentDisplayName() != "Ben" {
		t.Errorf("visitor got %s, want agent Ben", st)
	}
}

// An agent who reconnects within the grace period (a console reload) keeps the conversation,
// also once the grace period would have run out.
func TestHandoffAgentReconnectWithinGrace(t *testing.T) {
	const grace = 3
	td, _, _ := handoffSetup(t, grace,
		[4]string{"ana", "Ana", "orders", "3"},
		[4]string{"ben", "Ben", "orders", "3"})
	ana := connectAgent(t, td, "ana")
	v := chattingWith(t, td, ana)
	ben := connectAgent(t, td, "ben") // watches Ana's presence

	ana.conn.Close()
	ben.find("Ana offline in the queue's agent list", 0, func(f hframe) bool {
		for _, ag := range f.Agents {
			if f.Type == "queue" && ag.ID == ana.id && ag.Presence == "offline" {
				return true
			}
		}
		return false
	})
	again := ana.reconnect(t)
	again.find("the conversation assigned to Ana after the reload", 0, func(f hframe) bool {
		for _, as := range f.Assigned {
			if f.Type == "queue" && as.ConversationID == v.conversationID && as.AgentID == ana.id {
				return true
			}
		}
		return false
	})
	// Past the grace period the conversation is still Ana's (a bounded wait for what must not come).
	if f, ok := v.poll("a state change", (grace+2)*time.Second, func(f hframe) bool { return f.Type == "state" }, false); ok {
		t.Fatalf("after a reload within the grace period the visitor got %s, want no change", f)
	}
	ack := again.do(map[string]any{"type": "message", "id": "after-reload", "conversation_id": v.conversationID, "text": "Sorry, my page reloaded."})
	if got := v.until("the agent's message", func(f hframe) bool { return f.Type == "message" && f.From == "agent" }); got.Seq != ack.Seq {
		t.Errorf("visitor got %s, want the message with seq %d", got, ack.Seq)
	}
}

// A queued conversation survives a restart: the new daemon still has it in its queue and the
// visitor resumes in state queued.
func TestHandoffRestartKeepsQueuedConversation(t *testing.T) {
	td, db, cfg := handoffSetup(t, 60, [4]string{"ana", "Ana", "orders", "3"})
	v := startVisitor(t, td, "visitor")
	_, queued := v.handOff("m1", askHumanText)
	if !queued.Offline || *queued.AgentsOnline != 0 {
		t.Errorf("state %s with no agent online: want offline and agents_online 0", queued)
	}
	token, conv := v.token, v.conversationID
	td.stopNow()

	td2 := startHandoffDaemon(t, db, cfg)
	v2 := dialVisitor(t, td2, "visitor after restart")
	w := v2.hello(token)
	if !w.Resumed || w.ConversationID != conv || w.State != "queued" {
		t.Fatalf("resume after restart: %s, want conversation %s resumed in state queued", w, conv)
	}
	// Still waiting for a person: the bot does not answer.
	seq := v2.say("m2", "hello? is anyone there?")

	ana := connectAgent(t, td2, "ana")
	if _, e := ana.waitingFor(conv, nil); e.Reason != "asked_for_person" || e.Evidence == "" {
		t.Errorf("queue entry after restart %+v: want reason asked_for_person with evidence", e)
	}
	ana.offerOf(conv)
	ana.accept("acc", conv)
	v2.until("state agent", isState("agent"))
	// The bot answers in storage order: a reply to m2 would have arrived before the accept.
	if extra := botSpokeBetween(v2, seq, 1<<62); len(extra) > 0 {
		t.Errorf("the bot answered a queued conversation after the restart: %v", extra)
	}
}

// With no agent online the visitor is told honestly, the conversation waits as a ticket, and an
// agent who logs in later sees it and is offered it.
func TestHandoffNoAgentOnline(t *testing.T) {
	td, _, _ := handoffSetup(t, 60, [4]string{"ana", "Ana", "orders", "3"})
	v := startVisitor(t, td, "visitor")
	expl, queued := v.handOff("m1", askHumanText)
	if !strings.Contains(expl.Text, demoOfflineMessage) {
		t.Errorf("with nobody online the bot said %q, want the configured offline message %q", expl.Text, demoOfflineMessage)
	}
	if !queued.Offline || *queued.AgentsOnline != 0 || queued.ETASeconds != nil {
		t.Errorf("state %s: want offline, agents_online 0 and no invented ETA", queued)
	}
	seq := v.say("m2", "ok, I'll wait")

	ana := connectAgent(t, td, "ana")
	if _, e := ana.waitingFor(v.conversationID, nil); e.Reason != "asked_for_person" || e.Position != 1 {
		t.Errorf("queue entry %+v: want asked_for_person at position 1", e)
	}
	ana.offerOf(v.conversationID)
	ana.accept("acc", v.conversationID)
	if st := v.until("state agent", isState("agent")); st.agentDisplayName() != "Ana" {
		t.Errorf("visitor got %s, want agent Ana", st)
	}
	if extra := botSpokeBetween(v, seq, 1<<62); len(extra) > 0 {
		t.Errorf("the bot answered while the visitor waited for a person: %v", extra)
	}
}

// Two agents accepting the same conversation at the same moment: exactly one wins, the other is
// told it was taken.
func TestHandoffConcurrentAcceptExactlyOneWins(t *testing.T) {
	td, _, _ := handoffSetup(t, 60,
		[4]string{"ana", "Ana", "orders", "3"},
		[4]string{"ben", "Ben", "orders", "3"})
	ana := connectAgent(t, td, "ana")
	ben := connectAgent(t, td, "ben")
	consoles := map[string]*console{ana.id: ana, ben.id: ben}
	for round := range 3 {
		v := startVisitor(t, td, fmt.Sprintf("visitor %d", round))
		v.handOff("m1", askHumanText)
		ana.waitingFor(v.conversationID, nil)
		ben.waitingFor(v.conversationID, nil)

		id := fmt.Sprintf("acc-%d", round)
		frameJSON, _ := json.Marshal(map[string]any{"type": "accept", "id": id, "conversation_id": v.conversationID})
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, a := range []*console{ana, ben} {
			wg.Add(1)
			go func() { // each socket has one writer: this goroutine, while the test waits
				defer wg.Done()
				<-start
				_ = a.conn.SetWriteDeadline(time.Now().Add(frameTimeout))
				if err := a.conn.WriteMessage(websocket.TextMessage, frameJSON); err != nil {
					t.Errorf("%s: write accept: %v", a.name, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		ra, rb := ana.reply(id), ben.reply(id)
		var winner *console
		var loser hframe
		switch {
		case ra.Type == "ack" && rb.Type == "error":
			winner, loser = ana, rb
		case rb.Type == "ack" && ra.Type == "error":
			winner, loser = ben, ra
		default:
			t.Fatalf("round %d: Ana got %s, Ben got %s; want exactly one ack and one error", round, ra, rb)
		}
		if loser.Code != "taken" || len(loser.Message) < 10 {
			t.Errorf("round %d: the loser got %s, want code taken with a message", round, loser)
		}
		if st := v.until("state agent", isState("agent")); st.agentDisplayName() != winner.name {
			t.Errorf("round %d: visitor got %s, want the winner %s", round, st, winner.name)
		}
		for _, a := range consoles {
			if asg := a.event("assigned", v.conversationID); asg.AgentID != winner.id {
				t.Errorf("round %d: %s saw %s, want the winner %s", round, a.name, asg, winner.id)
			}
		}
		// Free the winner's seat so every round starts alike.
		winner.do(map[string]any{"type": "close", "id": fmt.Sprintf("close-%d", round), "conversation_id": v.conversationID, "resolution": "resolved"})
	}
}

// Bad input and failure on the agent side: sessions, origins, malformed frames, acting on a
// conversation that is not yours, and writing to a closed conversation.
func TestHandoffAgentBadInput(t *testing.T) {
	td, _, _ := handoffSetup(t, 60,
		[4]string{"ana", "Ana", "orders", "3"},
		[4]string{"ben", "Ben", "orders", "3"})
	agentURL := "ws" + strings.TrimPrefix(td.URL(), "http") + "/ws/agent"

	t.Run("no or forged session", func(t *testing.T) {
		for _, cookie := range []string{"", "attune_session=forged-" + strings.Repeat("x", 40)} {
			h := http.Header{"Origin": {td.URL()}}
			if cookie != "" {
				h.Set("Cookie", cookie)
			}
			conn, resp, err := (&websocket.Dialer{HandshakeTimeout: frameTimeout}).Dial(agentURL, h)
			if err == nil {
				conn.Close()
				t.Fatalf("cookie %q: the agent socket opened, want 401 before the upgrade", cookie)
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("cookie %q: %v (response %v), want 401", cookie, err, resp)
			}
		}
		if code, body := httpGet(t, td, "/console/api/me"); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("GET /console/api/me without a session: %d %s, want 401 with an error", code, body)
		}
		c := &http.Client{Timeout: frameTimeout}
		if status, body := postJSON(t, c, td, "/console/api/login", map[string]string{"login": "ana", "password": "not-the-password"}, nil); status != http.StatusUnauthorized {
			t.Errorf("login with a wrong password: %d %s, want 401", status, body)
		}
	})

	t.Run("foreign origin", func(t *testing.T) {
		c, _ := loginHTTP(t, td, "ben")
		d := websocket.Dialer{HandshakeTimeout: frameTimeout, Jar: c.Jar}
		conn, resp, err := d.Dial(agentURL, http.Header{"Origin": {"http://evil.example"}})
		if err == nil {
			conn.Close()
			t.Fatal("the agent socket opened from a foreign origin")
		}
		if resp == nil || resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("foreign origin: %v (response %v), want a 4xx refusal", err, resp)
		}
	})

	ana := connectAgent(t, td, "ana")
	ben := connectAgent(t, td, "ben")
	v := chattingWith(t, td, ana)

	t.Run("malformed frames keep the socket usable", func(t *testing.T) {
		for i, bad := range []struct{ frame, code, id string }{
			{`{"type":"message",`, "bad_frame", ""},
			{`["accept"]`, "bad_frame", ""},
			{`{"type":"dance","id":"u1"}`, "unknown_type", "u1"},
			{`{"type":"accept","id":"b1"}`, "bad_frame", "b1"},
			{`{"type":"message","id":"b2","conversation_id":"` + v.conversationID + `","text":5}`, "bad_frame", "*"},
		} {
			mark := ben.mark()
			ben.sendRaw(bad.frame)
			f, _ := ben.find(fmt.Sprintf("error for bad frame %d", i), mark, func(f hframe) bool { return f.Type == "error" })
			if f.Code != bad.code || (bad.id != "*" && f.ID != bad.id) || len(f.Message) < 10 {
				t.Errorf("%s: got %s, want an error with code %q, id %q and a message", bad.frame, f, bad.code, bad.id)
			}
		}
		// Still usable: Ben opens the conversation Ana owns and reads it all, bot turns included.
		ben.send(map[string]any{"type": "open", "id": "o1", "conversation_id": v.conversationID})
		conv := ben.event("conversation", v.conversationID)
		if conv.State != "agent" || conv.Owner != ana.id || conv.Handoff == nil || conv.Handoff.Reason != "asked_for_person" {
			t.Errorf("conversation %s: want state agent, owner %s and the hand-off card with reason asked_for_person", conv, ana.id)
		}
		var texts []string
		for _, m := range conv.Messages {
			texts = append(texts, m.From+": "+m.Text)
		}
		if len(conv.Messages) < 3 || conv.Messages[0].From != "bot" || conv.Messages[1].Text != askHumanText {
			t.Errorf("conversation transcript %q: want the greeting, the visitor's request and the bot's explanation", texts)
		}
	})

	t.Run("not yours", func(t *testing.T) {
		ben.expectError(map[string]any{"type": "message", "id": "ny1", "conversation_id": v.conversationID, "text": "I'm not your agent"}, "not_yours")
		ben.expectError(map[string]any{"type": "close", "id": "ny2", "conversation_id": v.conversationID, "resolution": "spam"}, "not_yours")
		ben.expectError(map[string]any{"type": "accept", "id": "ny3", "conversation_id": v.conversationID}, "taken")
		ben.expectError(map[string]any{"type": "open", "id": "nf1", "conversation_id": "no-such-conversation"}, "not_found")
	})

	t.Run("message to a closed conversation", func(t *testing.T) {
		ana.do(map[string]any{"type": "close", "id": "close", "conversation_id": v.conversationID, "resolution": "resolved"})
		v.until("state closed", isState("closed"))
		const late = "One more thing I forgot to say"
		ana.expectError(map[string]any{"type": "message", "id": "late", "conversation_id": v.conversationID, "text": late}, "closed")
		seq := v.say("after", faqQuestion)
		v.until("the bot's answer", func(f hframe) bool { return f.Type == "message" && f.From == "bot" && f.Seq > seq })
		for _, f := range v.history() {
			if f.Text == late {
				t.Errorf("a refused message reached the visitor: %s", f)
			}
		}
	})

	t.Run("logout ends the session", func(t *testing.T) {
		if status, body := postJSON(t, ben.client, td, "/console/api/logout", nil, nil); status != http.StatusForbidden {
			t.Errorf("logout without the CSRF token: %d %s, want 403", status, body)
		}
		if status, body := postJSON(t, ben.client, td, "/console/api/logout", nil, map[string]string{"X-CSRF-Token": ben.csrf}); status != http.StatusNoContent {
			t.Fatalf("logout: %d %s, want 204", status, body)
		}
		if _, resp, err := dialAgent(t, td, ben.client); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("agent socket after logout: %v (response %v), want 401", err, resp)
		}
		// The open socket of the ended session is closed with a reason.
		ben.closeCode()
		if ce, ok := ben.readErr.(*websocket.CloseError); !ok || ce.Text == "" {
			t.Errorf("the socket of a logged-out session ended with %v, want a close frame with a reason", ben.readErr)
		}
	})
}

// An admin removes an agent with the CLI while the server runs and the agent is chatting. The
// server notices at its next session check and cuts the agent's console off; after the grace
// period the conversation goes back to the queue, another agent takes it, and that is what the
// database keeps (the CLI's own re-queue must not make the running queue's saves look outdated).
func TestHandoffAgentRemovedWhileServing(t *testing.T) {
	const grace = 1
	td, db, _ := handoffSetupWith(t, grace, web.Options{SessionCheck: 200 * time.Millisecond},
		[4]string{"ana", "Ana", "orders", "3"},
		[4]string{"ben", "Ben", "orders", "3"})
	ana := connectAgent(t, td, "ana")
	v := chattingWith(t, td, ana)
	ben := connectAgent(t, td, "ben")

	var out, errOut bytes.Buffer
	if err := agentCommand(context.Background(), []string{"remove", "ana", "--db", db}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("attune agent remove ana: %v\n%s", err, errOut.String())
	}
	if code := ana.closeCode(); code != 4401 {
		t.Fatalf("the removed agent's console closed with %d, want 4401", code)
	}
	v.until("state queued after the grace period", isState("queued"))
	ben.offerOf(v.conversationID)
	ben.accept("acc-ben", v.conversationID)
	if st := v.until("state agent (Ben)", isState("agent")); st.agentDisplayName() != "Ben" {
		t.Fatalf("visitor got %s, want agent Ben", st)
	}
	// What the database keeps: Ben's conversation (saves are asynchronous: poll briefly).
	deadline := time.Now().Add(frameTimeout)
	for {
		recs, err := td.store.OpenHandoffRecords(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			if r.ConversationID == v.conversationID {
				got = append(got, r.State+"/"+r.AgentID)
				if r.State == store.StateAgent && r.AgentID == ben.id {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored hand-off of the conversation: %v, want state agent with Ben (%s)", got, ben.id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A close the agent sent just before `attune agent remove` ran, already past its socket's session
// check, is what the database keeps, not the CLI's re-queue (which would bring the ended
// conversation back as waiting at the next start). The socket itself refuses anything sent after
// the removal, so the close is made on the queue directly, as the socket would have made it.
func TestHandoffAgentRemovedThenClosesTheChat(t *testing.T) {
	td, db, _ := handoffSetupWith(t, 60, web.Options{SessionCheck: time.Hour},
		[4]string{"ana", "Ana", "orders", "3"},
		[4]string{"ben", "Ben", "orders", "3"})
	ana := connectAgent(t, td, "ana")
	v := chattingWith(t, td, ana)

	var out, errOut bytes.Buffer
	if err := agentCommand(context.Background(), []string{"remove", "ana", "--db", db}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("attune agent remove ana: %v\n%s", err, errOut.String())
	}
	if err := td.queue.Close(context.Background(), ana.id, v.conversationID, "resolved"); err != nil {
		t.Fatalf("close by the removed agent's socket: %v", err)
	}
	v.until("state closed", isState("closed"))
	td.stopNow() // every save is flushed before the database closes

	check, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	open, err := check.OpenHandoffRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range open {
		if r.ConversationID == v.conversationID {
			t.Fatalf("the closed chat is stored as an open hand-off (%s, agent %q): it would come back as waiting", r.State, r.AgentID)
		}
	}
	conv, err := check.Conversation(context.Background(), v.conversationID)
	if err != nil || conv.State != store.StateClosed {
		t.Fatalf("stored conversation state %q (%v), want closed", conv.State, err)
	}
}
