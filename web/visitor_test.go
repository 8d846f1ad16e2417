package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/store"
	"github.com/gorilla/websocket"
)

// dialVisitor opens a visitor socket on e's server.
func (e *consoleEnv) dialVisitor(t *testing.T) *sock {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &sock{t: t, conn: conn}
}

// agentServing returns an agent socket that has accepted the queued conversation of visitor v.
func (e *consoleEnv) agentServing(t *testing.T) (agent, visitor *sock, conv string) {
	t.Helper()
	a, _, _, _ := e.mustAgent(t, "ana", 2)
	v, conv, _ := e.visitorQueued(t)
	a.send(map[string]any{"type": "accept", "id": "acc", "conversation_id": conv})
	if f := a.next(replyTo("acc")); f.str("type") != "ack" {
		t.Fatalf("accept: %v", f)
	}
	v.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "agent" })
	return a, v, conv
}

// readUntil reads raw frames from s until one satisfies stop, counting those of type typ; it
// fails the test if the socket ends first.
func readUntil(t *testing.T, s *sock, typ string, stop func(wsFrame) bool) int {
	t.Helper()
	n := 0
	_ = s.conn.SetReadDeadline(time.Now().Add(waitFrame))
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			t.Fatalf("socket ended after %d %s frames: %v", n, typ, err)
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame is not JSON: %s", data)
		}
		if f.str("type") == typ {
			n++
		}
		if stop(f) {
			return n
		}
	}
}

// A visitor (or a script posing as one) sending typing frames as fast as it can must not flood
// the console of the agent serving it: the agent was dropped as a slow consumer (1013) within a
// fraction of a second, on loopback.
func TestVisitorTypingFloodDoesNotDropTheAgent(t *testing.T) {
	e := startConsole(t, Options{})
	a, v, _ := e.agentServing(t)

	// Read the visitor's frames as they come, as a browser would.
	vframes := make(chan wsFrame, 4096)
	go func() {
		defer close(vframes)
		for {
			_, data, err := v.conn.ReadMessage()
			if err != nil {
				return
			}
			var f wsFrame
			_ = json.Unmarshal(data, &f)
			vframes <- f
		}
	}()
	const flood = 3000
	for i := range flood {
		v.send(map[string]any{"type": "typing", "on": i%2 == 0})
	}
	v.send(map[string]any{"type": "message", "id": "after", "text": "are you still there?"})

	typing := readUntil(t, a, "typing", func(f wsFrame) bool { return f.str("type") == "message" && f.str("text") == "are you still there?" })
	if typing > 2*typingBurst {
		t.Errorf("the agent received %d of %d typing frames; want them limited to about %d", typing, flood, typingBurst)
	}
	// The visitor was told, and its socket stays usable.
	limited := 0
	for f := range vframes {
		if f.str("type") == "ack" && f.str("id") == "after" {
			if limited == 0 {
				t.Error("the flood got no rate_limited error frame")
			}
			return
		}
		if f.str("type") == "error" && (f.str("code") != codeRateLimited || f.str("message") == "") {
			t.Fatalf("got %v, want rate_limited errors", f)
		}
		if f.str("type") == "error" {
			limited++
		}
	}
	t.Fatal("the visitor socket ended before the ack of its message")
}

// What a widget sends while someone types (a repeated "on", then "off") reaches the agent as
// one "on" and one "off"; an "on" is repeated after typingRefresh so indicators stay up.
func TestVisitorTypingReachesTheAgentOnChanges(t *testing.T) {
	clock := &testClock{t: time.Now()}
	e := startConsole(t, Options{Now: clock.now})
	a, v, _ := e.agentServing(t)

	onOff := func(f wsFrame) bool { return f.str("type") == "typing" && f.str("from") == "visitor" }
	v.send(map[string]any{"type": "typing", "on": true})
	v.send(map[string]any{"type": "typing", "on": true})
	v.send(map[string]any{"type": "typing", "on": false})
	v.send(map[string]any{"type": "typing", "on": false})
	if f := a.next(onOff); f["on"] != true {
		t.Fatalf("first typing frame %v, want on", f)
	}
	if f := a.next(onOff); f["on"] != false {
		t.Fatalf("second typing frame %v, want off (the repeated on must not be forwarded)", f)
	}
	v.send(map[string]any{"type": "typing", "on": true})
	if f := a.next(onOff); f["on"] != true {
		t.Fatalf("typing frame %v, want on", f)
	}
	clock.advance(typingRefresh)
	v.send(map[string]any{"type": "typing", "on": true}) // still typing, a refresh later
	v.send(map[string]any{"type": "message", "id": "m2", "text": "hello?"})
	got := []any{}
	readUntil(t, a, "typing", func(f wsFrame) bool {
		if onOff(f) {
			got = append(got, f["on"])
		}
		return f.str("type") == "message" && f.str("text") == "hello?"
	})
	if len(got) != 1 || got[0] != true {
		t.Fatalf("typing frames after the refresh: %v, want [true]", got)
	}
}

// testClock is a clock the test moves forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// slowListener hands out connections each of whose writes takes delay: a visitor on a slow
// link (a millisecond: about a thousand frames a second).
type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return slowConn{c, l.delay}, nil
}

type slowConn struct {
	net.Conn
	delay time.Duration
}

func (c slowConn) Write(b []byte) (int, error) {
	time.Sleep(c.delay)
	return c.Conn.Write(b)
}

// dialSlow opens a visitor socket to e's server over a link whose writes take delay each.
func (e *consoleEnv) dialSlow(t *testing.T, delay time.Duration) *sock {
	t.Helper()
	slow := httptest.NewUnstartedServer(e.srv.Handler())
	slow.Listener = slowListener{slow.Listener, delay}
	slow.Start()
	t.Cleanup(slow.Close)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(slow.URL, "http")+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &sock{t: t, conn: conn}
}

// addHistory stores n visitor messages in a conversation, straight into the database.
func (e *consoleEnv) addHistory(t *testing.T, conv string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				m := store.Message{ConversationID: conv, ClientID: fmt.Sprintf("old-%d", i), From: store.FromVisitor, Text: "an earlier message"}
				if _, _, err := e.db.AppendMessage(context.Background(), m); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

// A visitor resuming a long conversation over a slow link while the conversation goes on (the
// bot answering a message sent from another tab, here) must get the history and then the live
// frames, in order; it was disconnected as a slow consumer (1013) instead, because the replay
// keeps its send queue full and a live frame arriving meanwhile did not fit.
func TestResumeOverASlowLinkWhileTheConversationGoesOn(t *testing.T) {
	e := startConsole(t, Options{})
	fast := e.dialVisitor(t)
	fast.send(map[string]any{"type": "hello"})
	w := fast.next(typed("welcome"))
	fast.next(typed("message")) // the greeting
	conv, token := w.str("conversation_id"), w.str("token")

	// A long history: 400 more messages.
	const history = 400
	e.addHistory(t, conv, history)

	v := e.dialSlow(t, time.Millisecond)
	v.send(map[string]any{"type": "hello", "token": token, "last_seq": 0})
	if f := v.next(typed("welcome")); f["resumed"] != true {
		t.Fatalf("welcome %v, want resumed", f)
	}
	// While the replay is on its way, the other tab asks something and the bot answers.
	time.Sleep(50 * time.Millisecond)
	fast.send(map[string]any{"type": "message", "id": "live", "text": "Do you deliver to London?"})
	fast.next(func(f wsFrame) bool { return f.str("type") == "message" && f.str("from") == "bot" })

	want := int64(history + 3) // greeting, history, the live question and its answer
	var seqs []int64
	for len(seqs) == 0 || seqs[len(seqs)-1] < want {
		f := v.next(typed("message"))
		seqs = append(seqs, int64(f["seq"].(float64)))
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("message %d has seq %d: the replay and the live messages must arrive once each, in order", i+1, s)
		}
	}
}

// Leaving an email address writes to the database and pushes the queue to every console; a
// script repeating it as fast as it could did so thousands of times a second. Email frames count
// against the message rate limit.
func TestVisitorEmailFramesAreRateLimited(t *testing.T) {
	e := startConsole(t, Options{RateBurst: 3, RatePerSecond: 0.001})
	v, _, _ := e.visitorQueued(t) // its message took one token
	for i := range 3 {
		id := fmt.Sprintf("e%d", i)
		v.send(map[string]any{"type": "email", "id": id, "email": "ana@example.com"})
		f := v.next(func(f wsFrame) bool { return f.str("id") == id })
		if i < 2 && f.str("type") != "email_saved" {
			t.Fatalf("email %d: %v, want email_saved", i, f)
		}
		if i == 2 && (f.str("type") != "error" || f.str("code") != codeRateLimited) {
			t.Fatalf("email %d: %v, want a rate_limited error", i, f)
		}
	}
}

// A last_seq beyond the conversation's last seq counts as that last seq (docs/protocol.md,
// hello): nothing is replayed and the messages stored from then on arrive.
func TestHelloLastSeqBeyondTheConversation(t *testing.T) {
	e := startConsole(t, Options{})
	v := e.dialVisitor(t)
	v.send(map[string]any{"type": "hello"})
	token := v.next(typed("welcome")).str("token")
	v.next(typed("message")) // the greeting, seq 1
	v.conn.Close()

	v2 := e.dialVisitor(t)
	v2.send(map[string]any{"type": "hello", "token": token, "last_seq": 999})
	v2.next(typed("welcome"))
	v2.send(map[string]any{"type": "message", "id": "m", "text": "thanks"})
	if f := v2.next(typed("message")); f["seq"] != 2.0 || f.str("client_id") != "m" {
		t.Fatalf("first message after hello: %v, want the visitor's own message, seq 2", f)
	}
}

// slowNotes makes opening a conversation take a while, as a long transcript does.
type slowNotes struct{ *store.DB }

func (s slowNotes) Notes(ctx context.Context, conversationID string) ([]store.Note, error) {
	time.Sleep(300 * time.Millisecond)
	return s.DB.Notes(ctx, conversationID)
}

// A visitor message stored while the agent's console opens the conversation must be in the
// transcript or follow it. It used to arrive before the transcript, which the console then
// drew in place of everything it had: the agent never saw the message.
func TestMessageWhileTheAgentOpensTheConversation(t *testing.T) {
	e := startConsoleWith(t, Options{}, func(db *store.DB) AgentStore { return slowNotes{db} })
	a, v, conv := e.agentServing(t)

	a.send(map[string]any{"type": "open", "id": "o", "conversation_id": conv})
	time.Sleep(100 * time.Millisecond) // the server is reading the conversation
	const text = "it is STILL not here, this is the third time"
	v.send(map[string]any{"type": "message", "id": "during", "text": text})
	v.next(replyTo("during"))

	isIt := func(f wsFrame) bool {
		return f.str("type") == "message" && f.str("conversation_id") == conv && f.str("text") == text
	}
	before := false
	_ = a.conn.SetReadDeadline(time.Now().Add(waitFrame))
	for {
		_, data, err := a.conn.ReadMessage()
		if err != nil {
			t.Fatalf("agent socket: %v", err)
		}
		var f wsFrame
		_ = json.Unmarshal(data, &f)
		if isIt(f) && !before {
			before = true
			continue
		}
		if f.str("type") != "conversation" || f.str("conversation_id") != conv {
			continue
		}
		for _, m := range f["messages"].([]any) {
			if m.(map[string]any)["text"] == text {
				return // in the transcript
			}
		}
		break
	}
	if before {
		t.Fatal("the visitor's message arrived before the conversation frame and is not in it: the console loses it")
	}
	readUntil(t, a, "message", isIt) // after the transcript: fine
}

// The replay after hello is paced by the visitor's link; a history that took longer than ten
// seconds to send was cut off with 1011 ("could not load your conversation") and an error in
// the log, because every page of it was read under the one ten-second deadline of the hello.
func TestLongReplayOverASlowLinkIsNotCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a 560-message history over a link of 33 frames a second (about 17 s)")
	}
	e := startConsole(t, Options{})
	v := e.dialVisitor(t)
	v.send(map[string]any{"type": "hello"})
	w := v.next(typed("welcome"))
	v.next(typed("message")) // the greeting
	const history = 560      // more than one page of 500
	e.addHistory(t, w.str("conversation_id"), history)

	slow := e.dialSlow(t, 30*time.Millisecond)
	slow.send(map[string]any{"type": "hello", "token": w.str("token"), "last_seq": 0})
	slow.next(typed("welcome"))
	_ = slow.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for want := int64(1); want <= history+1; want++ {
		_, data, err := slow.conn.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", want-1, history+1, err)
		}
		var f wsFrame
		_ = json.Unmarshal(data, &f)
		if f.str("type") != "message" || f["seq"] != float64(want) {
			t.Fatalf("frame %s, want message seq %d", data, want)
		}
	}
}

// A visitor who leaves while typing (closes the tab, loses the network) must not leave the agent
// looking at "the visitor is typing" until the console's own timeout.
func TestVisitorLeavingWhileTypingStopsTheIndicator(t *testing.T) {
	e := startConsole(t, Options{})
	a, v, _ := e.agentServing(t)
	onOff := func(f wsFrame) bool { return f.str("type") == "typing" && f.str("from") == "visitor" }
	v.send(map[string]any{"type": "typing", "on": true})
	if f := a.next(onOff); f["on"] != true {
		t.Fatalf("typing frame %v, want on", f)
	}
	v.conn.Close()
	if f := a.next(onOff); f["on"] != false {
		t.Fatalf("typing frame %v, want off", f)
	}
}

// welcome carries the conversation's latest seq, so a client replaying the history knows where
// the replay ends and which messages are new (the widget builds the history off-page and has only
// the new ones announced by screen readers).
func TestWelcomeCarriesTheLatestSeq(t *testing.T) {
	e := startConsole(t, Options{})
	v := e.dialVisitor(t)
	v.send(map[string]any{"type": "hello"})
	w := v.next(typed("welcome"))
	if got, ok := w["last_seq"].(float64); !ok || got != 0 {
		t.Fatalf("welcome of a new conversation %v: want last_seq 0 (the greeting follows)", w)
	}
	v.next(typed("message")) // the greeting, seq 1
	const history = 5
	e.addHistory(t, w.str("conversation_id"), history)
	// The bot has answered them: a resume owes the visitor nothing, so the conversation's latest
	// seq stays put across the resumes below (unanswered messages would be answered on resume).
	if _, _, err := e.db.AppendMessage(context.Background(), store.Message{ConversationID: w.str("conversation_id"), From: store.FromBot, Text: "an earlier answer"}); err != nil {
		t.Fatal(err)
	}
	latest := float64(history + 2)
	for _, from := range []int{0, 3, history + 2} {
		r := e.dialVisitor(t)
		r.send(map[string]any{"type": "hello", "token": w.str("token"), "last_seq": from})
		if f := r.next(typed("welcome")); f["last_seq"] != latest || f["resumed"] != true {
			t.Errorf("hello with last_seq %d: welcome %v, want resumed with last_seq %v (the conversation's latest)", from, f, latest)
		}
	}
}

// A resent id must be acknowledged again with its original seq (docs/protocol.md, guarantee 4),
// whatever the rate limit says: the message is stored, so "rate_limited … (it was not stored)" is
// false, and a widget would keep resending it. Resends carry nothing new, so they do not use up
// the limit either: after a reconnect with many unacknowledged messages, the new ones still go
// through.
func TestResendIsAcknowledgedWhateverTheRateLimit(t *testing.T) {
	e := startConsole(t, Options{RateBurst: 3, RatePerSecond: 0.001})
	v := e.dialVisitor(t)
	v.send(map[string]any{"type": "hello"})
	token := v.next(typed("welcome")).str("token")
	seqs := map[string]float64{}
	for _, id := range []string{"m1", "m2", "m3"} {
		v.send(map[string]any{"type": "message", "id": id, "text": "do you deliver on sundays? " + id})
		f := v.next(replyTo(id))
		if f.str("type") != "ack" {
			t.Fatalf("message %s: %v, want ack", id, f)
		}
		seqs[id] = f["seq"].(float64)
	}
	// The burst is used up: a resend on the same socket is still acknowledged.
	v.send(map[string]any{"type": "message", "id": "m1", "text": "do you deliver on sundays? m1"})
	if f := v.next(replyTo("m1")); f.str("type") != "ack" || f["seq"] != seqs["m1"] {
		t.Fatalf("resend of m1 over the rate limit: %v, want ack with seq %v", f, seqs["m1"])
	}
	// A new message on that socket is refused, honestly.
	v.send(map[string]any{"type": "message", "id": "new1", "text": "and on saturdays?"})
	if f := v.next(replyTo("new1")); f.str("type") != "error" || f.str("code") != codeRateLimited {
		t.Fatalf("new message over the rate limit: %v, want rate_limited", f)
	}
	v.conn.Close()

	// Reconnect and resend everything unacknowledged (as if no ack had arrived), then a new one.
	v2 := e.dialVisitor(t)
	v2.send(map[string]any{"type": "hello", "token": token, "last_seq": 0})
	v2.next(typed("welcome"))
	for _, id := range []string{"m1", "m2", "m3", "m1"} {
		v2.send(map[string]any{"type": "message", "id": id, "text": "do you deliver on sundays? " + id})
		if f := v2.next(replyTo(id)); f.str("type") != "ack" || f["seq"] != seqs[id] {
			t.Fatalf("resend of %s after reconnect: %v, want ack with seq %v", id, f, seqs[id])
		}
	}
	v2.send(map[string]any{"type": "message", "id": "new2", "text": "and on saturdays?"})
	if f := v2.next(replyTo("new2")); f.str("type") != "ack" {
		t.Fatalf("new message after resends: %v, want ack (resends must not use up the rate limit)", f)
	}
	msgs, err := e.db.MessagesAfter(context.Background(), v2ConvID(t, e, token), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, m := range msgs {
		if m.ClientID != "" {
			stored[m.ClientID]++
		}
	}
	want := map[string]int{"m1": 1, "m2": 1, "m3": 1, "new2": 1}
	if fmt.Sprint(stored) != fmt.Sprint(want) {
		t.Fatalf("stored visitor messages by id: %v, want %v", stored, want)
	}
}

// v2ConvID returns the conversation id of a resume token.
func v2ConvID(t *testing.T, e *consoleEnv, token string) string {
	t.Helper()
	conv, err := e.db.ConversationByToken(context.Background(), hashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return conv.ID
}

// A visitor whose message was acknowledged before the server stopped, and not answered (its
// reply could not be stored, or the server stopped first), gets the answer when they come back.
func TestResumeAnswersAnAcknowledgedMessage(t *testing.T) {
	e := startConsole(t, Options{})
	v := e.dialVisitor(t)
	v.send(map[string]any{"type": "hello"})
	token := v.next(typed("welcome")).str("token")
	v.next(typed("message")) // the greeting, seq 1
	v.conn.Close()
	// Stored and acknowledged, then the server stopped before the answer was stored.
	conv := v2ConvID(t, e, token)
	if _, _, err := e.db.AppendMessage(context.Background(), store.Message{ConversationID: conv, ClientID: "m", From: store.FromVisitor, Text: "do you deliver on sundays?"}); err != nil {
		t.Fatal(err)
	}

	v2 := e.dialVisitor(t)
	v2.send(map[string]any{"type": "hello", "token": token, "last_seq": 1})
	v2.next(typed("welcome"))
	if f := v2.next(typed("message")); f["seq"] != 2.0 || f.str("client_id") != "m" {
		t.Fatalf("replay: %v, want the visitor's message, seq 2", f)
	}
	if f := v2.next(typed("message")); f["seq"] != 3.0 || f.str("from") != "bot" {
		t.Fatalf("after the replay: %v, want the bot's answer, seq 3", f)
	}
}

// The engine's notice that an answer is delayed reaches every socket of the conversation as an
// unavailable error without id: nothing for the client to resend.
func TestDelayedAnswerNoticeIsAnErrorFrame(t *testing.T) {
	e := startConsole(t, Options{})
	v := e.dialVisitor(t)
	v.send(map[string]any{"type": "hello"})
	conv := v.next(typed("welcome")).str("conversation_id")
	v.next(typed("message"))
	e.srv.hub.Publish(conv, bot.Event{Notice: "the answer is delayed"})
	f := v.next(typed("error"))
	if f.str("code") != codeUnavailable || f.str("message") != "the answer is delayed" || f["id"] != nil {
		t.Fatalf("notice frame %v; want an unavailable error with the text and no id", f)
	}
}
