package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/attune-chat/attune/internal/syncbuf"
)

// frameTimeout bounds every wait for a frame or a condition. It is generous on purpose: the suite
// runs with -race on a loaded 2-core machine, and it only decides failure, never success.
const frameTimeout = 20 * time.Second

// offsetClock is a clock that tests move forward (never back: read deadlines are computed from it)
// to refill rate-limit buckets or to age conversations past their retention without waiting.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *offsetClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// testDaemon is a real daemon started as `attune serve` starts it, on a free loopback port.
type testDaemon struct {
	*daemon
	t    testing.TB
	logs *syncbuf.Buffer
	db   string
	once sync.Once
}

// mustStart starts a daemon; sc.Addr and sc.DB default to a free loopback port and a fresh SQLite
// file in t.TempDir(). The daemon is shut down when the test ends, and its log is printed if the
// test failed.
func mustStart(t testing.TB, sc serveConfig) *testDaemon {
	t.Helper()
	if sc.Addr == "" {
		sc.Addr = "127.0.0.1:0"
	}
	if sc.DB == "" {
		sc.DB = filepath.Join(t.TempDir(), "attune.db")
	}
	if sc.LogLevel == "" {
		sc.LogLevel = "debug"
	}
	if sc.LogFormat == "" {
		sc.LogFormat = "text"
	}
	if sc.ReloadInterval == 0 {
		sc.ReloadInterval = 2 * time.Second
	}
	logs := &syncbuf.Buffer{}
	d, err := startDaemon(context.Background(), sc, logs)
	if err != nil {
		t.Fatalf("startDaemon: %v\nlog:\n%s", err, logs.String())
	}
	td := &testDaemon{daemon: d, t: t, logs: logs, db: sc.DB}
	t.Cleanup(func() {
		td.stopNow()
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return td
}

// stopNow shuts the daemon down once; later calls do nothing.
func (td *testDaemon) stopNow() {
	td.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameTimeout)
		defer cancel()
		if err := td.Shutdown(ctx); err != nil {
			td.t.Errorf("shutdown: %v", err)
		}
	})
}

func (td *testDaemon) wsURL() string {
	return "ws" + strings.TrimPrefix(td.URL(), "http") + "/ws/visitor"
}

// frame is any frame the server sends; fields a type does not use stay zero.
type frame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Token          string `json:"token"`
	State          string `json:"state"`
	Resumed        bool   `json:"resumed"`
	MaxChars       int    `json:"max_chars"`
	ID             string `json:"id"`
	Seq            int64  `json:"seq"`
	From           string `json:"from"`
	Text           string `json:"text"`
	At             string `json:"at"`
	ClientID       string `json:"client_id"`
	On             *bool  `json:"on"`
	Code           string `json:"code"`
	Message        string `json:"message"`
	StreamID       string `json:"stream_id"`
	Delta          string `json:"delta"`

	raw string
}

func (f frame) String() string {
	if len(f.raw) > 300 {
		return f.raw[:300] + fmt.Sprintf("… (%d bytes)", len(f.raw))
	}
	return f.raw
}

// visitor is one real websocket client.
type visitor struct {
	t    testing.TB
	conn *websocket.Conn
}

func dial(t testing.TB, td *testDaemon) *visitor {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: frameTimeout}
	conn, resp, err := d.Dial(td.wsURL(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", td.wsURL(), err)
	}
	resp.Body.Close()
	v := &visitor{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	return v
}

func (v *visitor) sendRaw(kind int, data string) {
	v.t.Helper()
	_ = v.conn.SetWriteDeadline(time.Now().Add(frameTimeout))
	if err := v.conn.WriteMessage(kind, []byte(data)); err != nil {
		v.t.Fatalf("write frame %.80q: %v", data, err)
	}
}

func (v *visitor) send(f map[string]any) {
	v.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		v.t.Fatalf("encode %v: %v", f, err)
	}
	v.sendRaw(websocket.TextMessage, string(b))
}

func (v *visitor) sendMessage(id, text string) {
	v.t.Helper()
	v.send(map[string]any{"type": "message", "id": id, "text": text})
}

// read returns the next frame, skipping typing and state frames when skipTyping is set.
func (v *visitor) read(skipTyping bool) frame {
	v.t.Helper()
	for {
		_ = v.conn.SetReadDeadline(time.Now().Add(frameTimeout))
		kind, data, err := v.conn.ReadMessage()
		if err != nil {
			v.t.Fatalf("read frame: %v", err)
		}
		if kind != websocket.TextMessage {
			v.t.Fatalf("server sent a non-text frame (%d): %q", kind, data)
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			v.t.Fatalf("server frame is not JSON: %v: %s", err, data)
		}
		f.raw = string(data)
		if f.Type == "" {
			v.t.Fatalf("server frame without type: %s", data)
		}
		// state frames (hand-off progress) are as incidental to these tests as typing.
		if skipTyping && (f.Type == "typing" || f.Type == "state") {
			continue
		}
		return f
	}
}

// next returns the next non-typing frame and checks its type.
func (v *visitor) next(wantType string) frame {
	v.t.Helper()
	f := v.read(true)
	if f.Type != wantType {
		v.t.Fatalf("got frame %s, want a %q frame", f, wantType)
	}
	return f
}

// until reads non-typing frames until one satisfies ok and returns it with the frames before it.
func (v *visitor) until(what string, ok func(frame) bool) (frame, []frame) {
	v.t.Helper()
	var before []frame
	for {
		f := v.read(true)
		if ok(f) {
			return f, before
		}
		before = append(before, f)
		if len(before) > 10000 {
			v.t.Fatalf("no %s in 10000 frames", what)
		}
	}
}

// hello opens or resumes a conversation and returns the welcome frame.
func (v *visitor) hello(token string, lastSeq int64) frame {
	v.t.Helper()
	v.send(map[string]any{"type": "hello", "token": token, "last_seq": lastSeq})
	w := v.next("welcome")
	return w
}

// start opens a new conversation and consumes its greeting.
func (v *visitor) start() (welcome, greeting frame) {
	v.t.Helper()
	w := v.hello("", 0)
	if w.Resumed {
		v.t.Fatalf("a hello without token resumed a conversation: %s", w)
	}
	g := v.next("message")
	return w, g
}

// ask sends a message and returns its ack and the bot's answer, checking the order on the way:
// ack, then the visitor's own message, then the bot's reply.
func (v *visitor) ask(id, text string) (ack, reply frame) {
	v.t.Helper()
	v.sendMessage(id, text)
	ack = v.next("ack")
	if ack.ID != id || ack.Seq <= 0 {
		v.t.Fatalf("ack %s, want id %q and a positive seq", ack, id)
	}
	echo := v.next("message")
	if echo.Seq != ack.Seq || echo.From != "visitor" || echo.ClientID != id || echo.Text != text {
		v.t.Fatalf("after ack %s got %s, want the visitor's own message with seq %d and client_id %q", ack, echo, ack.Seq, id)
	}
	reply = v.next("message")
	if reply.From != "bot" || reply.Seq <= ack.Seq {
		v.t.Fatalf("after the visitor's message %s got %s, want the bot's reply", echo, reply)
	}
	return ack, reply
}

// expectError reads until the error frame, skipping stored messages (greeting, bot replies), and
// fails on anything that suggests the bad frame was accepted.
func (v *visitor) expectError(code, id string) frame {
	v.t.Helper()
	for {
		f := v.read(true)
		switch f.Type {
		case "message":
			if f.From == "visitor" {
				v.t.Fatalf("a refused frame was stored: %s", f)
			}
			continue
		case "error":
			if f.Code != code || f.ID != id {
				v.t.Fatalf("got %s, want an error with code %q and id %q", f, code, id)
			}
			if len(f.Message) < 10 {
				v.t.Fatalf("error %s does not explain the problem", f)
			}
			return f
		default:
			v.t.Fatalf("got %s, want an error with code %q", f, code)
		}
	}
}

// closeCode waits for the server to close the socket and returns the close code it sent.
func (v *visitor) closeCode() int {
	v.t.Helper()
	for {
		_ = v.conn.SetReadDeadline(time.Now().Add(frameTimeout))
		_, _, err := v.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		v.t.Fatalf("socket ended without a close frame: %v", err)
	}
}

// replayed resumes a conversation on a new socket and returns every message the server replays,
// in the order received. A marker message sent after hello bounds the replay: the server handles
// frames in order, so everything before the marker's ack is the replay.
func replayed(t testing.TB, td *testDaemon, token string, lastSeq int64) (frame, []frame) {
	t.Helper()
	v := dial(t, td)
	w := v.hello(token, lastSeq)
	if !w.Resumed {
		t.Fatalf("resume with a valid token: %s, want resumed:true", w)
	}
	marker := "replay-end-" + time.Now().Format("150405.000000000")
	v.sendMessage(marker, "thanks")
	_, before := v.until("ack of the marker", func(f frame) bool { return f.Type == "ack" && f.ID == marker })
	for _, f := range before {
		if f.Type != "message" {
			t.Fatalf("replay contains %s, want only message frames", f)
		}
	}
	v.conn.Close()
	return w, before
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(frameTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyFile copies src to a new file in dir and returns its path.
func copyFile(t testing.TB, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeFileAtomic replaces path in one rename, so the reloader never sees half a file.
func writeFileAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// httpGet fetches a path of the daemon and returns status and body.
func httpGet(t testing.TB, td *testDaemon, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: frameTimeout}
	resp, err := c.Get(td.URL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
