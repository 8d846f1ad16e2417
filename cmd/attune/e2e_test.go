package main

// End-to-end tests: the real daemon (startDaemon, as `attune serve` runs it) on a free loopback
// port with a real SQLite file, driven over real websockets. They check the visitor protocol v1
// as docs/protocol.md describes it.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/attune-chat/attune/internal/syncbuf"
	"github.com/attune-chat/attune/web"
	"github.com/gorilla/websocket"
)

const (
	faqQuestion = "How long does your bread stay fresh?"
	faqAnswer   = "Our sourdough keeps 3–4 days in a bread bag"
)

func TestGreetingOnNewConversation(t *testing.T) {
	td := mustStart(t, serveConfig{})
	v := dial(t, td)
	w, g := v.start()

	if w.ConversationID == "" || w.State != "bot" || w.MaxChars != 4000 {
		t.Errorf("welcome %s: want a conversation id, state bot and max_chars 4000", w)
	}
	raw, err := base64.RawURLEncoding.DecodeString(w.Token)
	if err != nil || len(raw)*8 < 128 {
		t.Errorf("token %q: want at least 128 random bits, base64url (%d bytes, err %v)", w.Token, len(raw), err)
	}
	if g.Seq != 1 || g.From != "bot" || g.ClientID != "" {
		t.Errorf("greeting %s: want seq 1 from bot", g)
	}
	if !strings.Contains(strings.ToLower(g.Text), "bot") {
		t.Errorf("greeting %q does not say that it is a bot", g.Text)
	}
	if _, err := time.Parse(time.RFC3339, g.At); err != nil {
		t.Errorf("greeting at %q is not RFC 3339: %v", g.At, err)
	}

	w2, _ := dial(t, td).start()
	if w2.Token == w.Token || w2.ConversationID == w.ConversationID {
		t.Errorf("two new conversations share a token or id: %s and %s", w, w2)
	}
}

func TestFAQAnswer(t *testing.T) {
	td := mustStart(t, serveConfig{})
	v := dial(t, td)
	v.start()
	_, reply := v.ask("q1", faqQuestion)
	if !strings.Contains(reply.Text, faqAnswer) {
		t.Errorf("reply to %q is %q, want the FAQ answer %q", faqQuestion, reply.Text, faqAnswer)
	}
}

func TestAckBeforeReply(t *testing.T) {
	td := mustStart(t, serveConfig{})
	v := dial(t, td)
	v.start()
	// Several messages in a row: each ack must come before the stored message and the bot's
	// answer to it, whatever the interleaving of the bot's work.
	acked := map[string]int64{}
	ids := []string{"a1", "a2", "a3"}
	for _, id := range ids {
		v.sendMessage(id, "Do you deliver to London?")
	}
	replies := 0
	for replies < len(ids) {
		f := v.read(false)
		switch {
		case f.Type == "ack":
			acked[f.ID] = f.Seq
		case f.Type == "message" && f.From == "visitor":
			if seq, ok := acked[f.ClientID]; !ok || seq != f.Seq {
				t.Fatalf("visitor message %s arrived before its ack (acks so far %v)", f, acked)
			}
		case f.Type == "message" && f.From == "bot":
			if len(acked) <= replies {
				t.Fatalf("bot reply %s arrived before the ack of the message it answers (acks so far %v)", f, acked)
			}
			replies++
		case f.Type == "typing":
			if f.From != "bot" || f.On == nil {
				t.Fatalf("typing frame %s: want from bot with on", f)
			}
		default:
			t.Fatalf("unexpected frame %s", f)
		}
	}
	if len(acked) != 3 || acked["a1"] >= acked["a2"] || acked["a2"] >= acked["a3"] {
		t.Errorf("acks %v: want three increasing seqs in sending order", acked)
	}
}

func TestResumeReplaysInOrder(t *testing.T) {
	td := mustStart(t, serveConfig{})
	v := dial(t, td)
	w, greeting := v.start()
	var want []frame
	want = append(want, greeting)
	for i, q := range []string{faqQuestion, "Do you have vegan options?", "Can I freeze your bakes?"} {
		id := fmt.Sprintf("m%d", i)
		ack, reply := v.ask(id, q)
		want = append(want, frame{Type: "message", Seq: ack.Seq, From: "visitor", Text: q, ClientID: id}, reply)
	}
	v.conn.Close()

	for _, lastSeq := range []int64{0, 1, 4, int64(len(want))} {
		t.Run(fmt.Sprintf("last_seq=%d", lastSeq), func(t *testing.T) {
			w2, got := replayed(t, td, w.Token, lastSeq)
			if w2.ConversationID != w.ConversationID || w2.Token != w.Token {
				t.Fatalf("resumed %s, want conversation %s with the same token", w2, w.ConversationID)
			}
			// The marker of an earlier subtest adds messages; only the ones before it matter.
			var got2 []frame
			for _, f := range got {
				if f.Seq <= int64(len(want)) {
					got2 = append(got2, f)
				}
			}
			wantTail := want[lastSeq:]
			if len(got2) != len(wantTail) {
				t.Fatalf("replay after %d has %d messages %v, want %d", lastSeq, len(got2), got2, len(wantTail))
			}
			for i, f := range got2 {
				x := wantTail[i]
				if f.Seq != int64(lastSeq)+int64(i)+1 || f.Seq != x.Seq || f.From != x.From || f.Text != x.Text || f.ClientID != x.ClientID {
					t.Errorf("replayed #%d is %s, want seq %d from %s %q (client_id %q)", i, f, x.Seq, x.From, x.Text, x.ClientID)
				}
			}
			// Nothing already seen, and everything later is strictly in order.
			for i, f := range got {
				if f.Seq <= lastSeq || (i > 0 && f.Seq != got[i-1].Seq+1) {
					t.Fatalf("replay after %d is out of order or repeats: %v", lastSeq, got)
				}
			}
		})
	}
}

func TestDeduplicatedResend(t *testing.T) {
	td := mustStart(t, serveConfig{})
	v := dial(t, td)
	w, _ := v.start()
	ack, _ := v.ask("dup-1", faqQuestion)

	// The same id again, on the same socket: the original seq, nothing stored or answered.
	v.sendMessage("dup-1", faqQuestion)
	again := v.next("ack")
	if again.ID != "dup-1" || again.Seq != ack.Seq {
		t.Fatalf("resend acknowledged as %s, want id dup-1 and the original seq %d", again, ack.Seq)
	}
	// And after a reconnect, as a client that never saw the ack would do.
	v.conn.Close()
	v2 := dial(t, td)
	v2.hello(w.Token, ack.Seq+1)
	v2.sendMessage("dup-1", faqQuestion)
	if f := v2.next("ack"); f.Seq != ack.Seq {
		t.Fatalf("resend after reconnect acknowledged as %s, want seq %d", f, ack.Seq)
	}
	// The bot answers in storage order, so once this is answered any answer to a duplicate
	// would already be stored.
	v2.ask("after", "Do you have vegan options?")
	v2.conn.Close()

	_, msgs := replayed(t, td, w.Token, 0)
	stored, bot := 0, 0
	for _, m := range msgs {
		if m.ClientID == "dup-1" {
			stored++
		}
		if m.From == "bot" {
			bot++
		}
	}
	// greeting, answer to dup-1, answer to "after" (the replay marker's answer comes later).
	if stored != 1 || bot != 3 {
		t.Errorf("replay %v: dup-1 stored %d times (want 1), %d bot messages (want 3)", msgs, stored, bot)
	}
}

func TestSeveralSocketsOneConversation(t *testing.T) {
	td := mustStart(t, serveConfig{})
	a := dial(t, td)
	w, g := a.start()
	b := dial(t, td)
	if wb := b.hello(w.Token, g.Seq); !wb.Resumed || wb.ConversationID != w.ConversationID {
		t.Fatalf("second tab got %s, want the same conversation resumed", wb)
	}

	ack, replyA := a.ask("from-a", faqQuestion)
	own := b.next("message")
	if own.Seq != ack.Seq || own.From != "visitor" || own.ClientID != "from-a" || own.Text != faqQuestion {
		t.Fatalf("tab b got %s, want tab a's message with client_id from-a", own)
	}
	if replyB := b.next("message"); replyB.Seq != replyA.Seq || replyB.Text != replyA.Text {
		t.Fatalf("tab b got reply %s, tab a %s", replyB, replyA)
	}

	ackB, _ := b.ask("from-b", "Do you have vegan options?")
	if f := a.next("message"); f.Seq != ackB.Seq || f.ClientID != "from-b" {
		t.Fatalf("tab a got %s, want tab b's message", f)
	}
	a.next("message") // the bot's reply

	// Typing of one tab is not echoed to the visitor's other tabs.
	a.send(map[string]any{"type": "typing", "on": true})
	ackC, _ := b.ask("from-b-2", "thanks")
	if f := a.next("message"); f.Seq != ackC.Seq {
		t.Fatalf("tab a got %s, want the next message (and no visitor typing)", f)
	}
}

func TestUnknownOrExpiredTokenStartsNewConversation(t *testing.T) {
	clock := &offsetClock{}
	td := mustStart(t, serveConfig{Web: web.Options{Now: clock.Now}})
	old, _ := dial(t, td).start()

	tests := []struct {
		name    string
		token   string
		prepare func()
	}{
		{"unknown", "bm90LWEtcmVhbC10b2tlbi1ub3QtYS1yZWFsLXRva2Vu", func() {}},
		{"too long", strings.Repeat("x", 500), func() {}},
		{"expired", old.Token, func() { clock.Advance(91 * 24 * time.Hour) }}, // demo retention: 90 days
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare()
			v := dial(t, td)
			w := v.hello(tt.token, 7)
			if w.Resumed || w.Token == tt.token || w.ConversationID == old.ConversationID || w.Token == "" {
				t.Fatalf("welcome %s: want a new conversation (resumed:false, new token)", w)
			}
			// last_seq belonged to another conversation: the new one starts from its greeting.
			if g := v.next("message"); g.Seq != 1 || g.From != "bot" {
				t.Fatalf("after welcome got %s, want the greeting with seq 1", g)
			}
			v.ask("x", "thanks") // usable, and no error frame came first
		})
	}
}

func TestBadInput(t *testing.T) {
	clock := &offsetClock{}
	td := mustStart(t, serveConfig{Web: web.Options{Now: clock.Now}})
	long := strings.Repeat("a", 4001)
	emojiOK := strings.Repeat("🥐", 4000)   // 4,000 characters, 16,000 bytes
	emojiLong := strings.Repeat("🥐", 4001) // one character too many
	accentOK := strings.Repeat("é", 3000) + strings.Repeat("b", 1000)

	type row struct {
		name     string
		hello    bool   // send hello before the bad frame
		frame    string // text frame; empty: a binary frame
		code, id string // the error expected; code empty: the frame is accepted
	}
	rows := []row{
		{name: "malformed JSON", hello: true, frame: `{"type":"message",`, code: "bad_frame"},
		{name: "not an object", hello: true, frame: `["message"]`, code: "bad_frame"},
		{name: "wrong field type", hello: true, frame: `{"type":"message","id":"w1","text":5}`, code: "bad_frame"},
		{name: "missing type", hello: true, frame: `{"id":"t1","text":"hi"}`, code: "bad_frame", id: "t1"},
		{name: "unknown type", hello: true, frame: `{"type":"dance","id":"u1"}`, code: "unknown_type", id: "u1"},
		{name: "missing id", hello: true, frame: `{"type":"message","text":"hi"}`, code: "bad_frame"},
		{name: "id too long", hello: true, frame: `{"type":"message","id":"` + strings.Repeat("i", 65) + `","text":"hi"}`, code: "bad_frame", id: strings.Repeat("i", 16) + "…"},
		{name: "missing text", hello: true, frame: `{"type":"message","id":"m1"}`, code: "bad_frame", id: "m1"},
		{name: "empty text", hello: true, frame: `{"type":"message","id":"m2","text":""}`, code: "bad_frame", id: "m2"},
		{name: "blank text", hello: true, frame: `{"type":"message","id":"m3","text":" \n\t"}`, code: "bad_frame", id: "m3"},
		{name: "text over the limit", hello: true, frame: `{"type":"message","id":"l1","text":"` + long + `"}`, code: "too_long", id: "l1"},
		{name: "emoji over the limit", hello: true, frame: `{"type":"message","id":"l2","text":"` + emojiLong + `"}`, code: "too_long", id: "l2"},
		{name: "4000 emoji are fine", hello: true, frame: `{"type":"message","id":"ok1","text":"` + emojiOK + `"}`},
		{name: "4000 accented characters are fine", hello: true, frame: `{"type":"message","id":"ok2","text":"` + accentOK + `"}`},
		{name: "binary frame", hello: true, frame: "", code: "bad_frame"},
		{name: "hello twice", hello: true, frame: `{"type":"hello","token":""}`, code: "bad_frame"},
		{name: "typing without on", hello: true, frame: `{"type":"typing"}`, code: "bad_frame"},
		{name: "message before hello", frame: `{"type":"message","id":"early","text":"hi"}`, code: "not_ready", id: "early"},
		{name: "typing before hello", frame: `{"type":"typing","on":true}`, code: "not_ready"},
		{name: "negative last_seq", frame: `{"type":"hello","token":"","last_seq":-1}`, code: "bad_frame"},
		{name: "garbage before hello", frame: `hello`, code: "bad_frame"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			v := dial(t, td)
			var w frame
			if r.hello {
				w, _ = v.start()
			}
			if r.frame == "" {
				v.sendRaw(websocket.BinaryMessage, `{"type":"message","id":"b1","text":"hi"}`)
			} else {
				v.sendRaw(websocket.TextMessage, r.frame)
			}
			if r.code == "" {
				ack := v.next("ack")
				echo := v.next("message")
				if echo.Seq != ack.Seq || echo.From != "visitor" || utf8.RuneCountInString(echo.Text) != 4000 {
					t.Fatalf("after %s got %s, want the 4,000-character message back", ack, echo)
				}
				v.next("message") // the bot's answer
			} else {
				v.expectError(r.code, r.id)
			}

			// Proof that the socket is still usable.
			if !r.hello {
				w, _ = v.start()
				if w.Token == "" {
					t.Fatal("no token after hello")
				}
			}
			ack, _ := v.ask("proof", "thanks")
			if r.code != "" && ack.Seq != 2 {
				t.Errorf("the proof message got seq %d, want 2: the refused frame was stored", ack.Seq)
			}
		})
	}

	t.Run("rate limited", func(t *testing.T) {
		// Its own daemon: a burst of 3 and (nearly) no refill, so that the test clock decides.
		clock := &offsetClock{}
		td := mustStart(t, serveConfig{Web: web.Options{Now: clock.Now, RateBurst: 3, RatePerSecond: 0.001}})
		v := dial(t, td)
		w, _ := v.start()
		for i := range 3 {
			v.sendMessage(fmt.Sprintf("r%d", i), "thanks")
		}
		v.sendMessage("r3", "one too many")
		got, _ := v.until("rate_limited error", func(f frame) bool { return f.Type == "error" })
		if got.Code != "rate_limited" || got.ID != "r3" {
			t.Fatalf("got %s, want rate_limited for r3", got)
		}
		clock.Advance(time.Hour) // the bucket refills
		v.sendMessage("r3", "one too many")
		if f, _ := v.until("ack of r3", func(f frame) bool { return f.Type == "ack" || f.Type == "error" }); f.Type != "ack" || f.ID != "r3" {
			t.Fatalf("after the bucket refilled got %s, want the ack of r3", f)
		}
		// The refused attempt was not stored: r3 is stored once.
		v.conn.Close()
		_, msgs := replayed(t, td, w.Token, 0)
		n := 0
		for _, m := range msgs {
			if m.ClientID == "r3" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("r3 stored %d times, want once", n)
		}
	})
}

func TestFrameOverHardLimitCloses1009(t *testing.T) {
	td := mustStart(t, serveConfig{Web: web.Options{ReadLimit: 8 << 10}})
	other := dial(t, td)
	other.start()

	v := dial(t, td)
	v.start()
	// Just over the limit: small enough that the write completes before the server reacts.
	v.sendRaw(websocket.TextMessage, `{"type":"message","id":"big","text":"`+strings.Repeat("x", 9<<10)+`"}`)
	if code := v.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009 (message too big)", code)
	}

	// The server keeps serving the sockets it has and new ones.
	other.ask("still-here", "thanks")
	dial(t, td).start()
}

func TestGracefulShutdownLosesNothingAcknowledged(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "attune.db")
	td := mustStart(t, serveConfig{DB: dbPath})
	v := dial(t, td)
	w, _ := v.start()
	v.ask("before", faqQuestion)
	// A burst in flight while the server shuts down: what was acknowledged must survive.
	const burst = 8
	for i := range burst {
		v.sendMessage(fmt.Sprintf("burst-%d", i), "Do you deliver to London?")
	}
	// Wait for at least one ack so the shutdown happens with work in progress.
	v.next("ack")
	acked := map[string]bool{"before": true, "burst-0": true}
	go td.stopNow()
	code := 0
	for code == 0 {
		_ = v.conn.SetReadDeadline(time.Now().Add(frameTimeout))
		_, data, err := v.conn.ReadMessage()
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			code = ce.Code
		case err != nil:
			t.Fatalf("socket ended without a close frame: %v", err)
		default:
			if m := regexp.MustCompile(`"type":"ack","id":"([^"]+)"`).FindSubmatch(data); m != nil {
				acked[string(m[1])] = true
			}
		}
	}
	if code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001 (going away)", code)
	}
	td.stopNow() // waits for the shutdown to finish

	td2 := mustStart(t, serveConfig{DB: dbPath})
	w2, msgs := replayed(t, td2, w.Token, 0)
	if w2.ConversationID != w.ConversationID {
		t.Fatalf("after restart resumed %s, want %s", w2.ConversationID, w.ConversationID)
	}
	stored := map[string]bool{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("replay after restart has a gap or is out of order: %v", msgs)
		}
		stored[m.ClientID] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Errorf("message %s was acknowledged before shutdown but is not stored after restart", id)
		}
	}
}

func TestDeadPeerIsDropped(t *testing.T) {
	td := mustStart(t, serveConfig{Web: web.Options{PingPeriod: 200 * time.Millisecond, PongWait: 2 * time.Second}})
	live := dial(t, td)
	live.start()
	dead := dial(t, td)
	dead.start()
	eventually(t, "both sockets registered", func() bool { return td.hub.Clients() == 2 })

	// The dead peer keeps its TCP connection open but never answers pings.
	dead.conn.SetPingHandler(func(string) error { return nil })
	deadGone := make(chan error, 1)
	go func() {
		for {
			_ = dead.conn.SetReadDeadline(time.Now().Add(frameTimeout))
			if _, _, err := dead.conn.ReadMessage(); err != nil {
				deadGone <- err
				return
			}
		}
	}()

	// The live peer answers pings, as browsers do, while a goroutine reads its frames.
	var pings atomic.Int32
	live.conn.SetPingHandler(func(data string) error {
		pings.Add(1)
		return live.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(frameTimeout))
	})
	liveFrames := make(chan string, 100)
	liveErr := make(chan error, 1)
	go func() {
		for {
			_ = live.conn.SetReadDeadline(time.Now().Add(2 * frameTimeout))
			_, data, err := live.conn.ReadMessage()
			if err != nil {
				liveErr <- err
				return
			}
			liveFrames <- string(data)
		}
	}()

	select {
	case err := <-deadGone:
		if websocket.IsCloseError(err, websocket.CloseGoingAway, websocket.CloseMessageTooBig) {
			t.Errorf("dead peer closed with %v, want a plain drop", err)
		}
	case <-time.After(frameTimeout):
		t.Fatal("the peer that does not answer pings was not dropped")
	}
	eventually(t, "the dead socket unregistered", func() bool { return td.hub.Clients() == 1 })
	// Ping-pong kept the live one: it has seen pings for longer than PongWait and still works.
	eventually(t, "pings on the live socket", func() bool { return pings.Load() >= 3 })
	live.sendMessage("alive", "thanks")
	deadline := time.After(frameTimeout)
	for {
		select {
		case f := <-liveFrames:
			if strings.Contains(f, `"type":"ack","id":"alive"`) {
				return
			}
		case err := <-liveErr:
			t.Fatalf("the live peer was dropped after %d pings: %v", pings.Load(), err)
		case <-deadline:
			t.Fatal("no ack on the live socket")
		}
	}
}

func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	cfgPath := copyFile(t, "../../configs/demo.yaml", dir)
	original, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	td := mustStart(t, serveConfig{Config: cfgPath, ReloadInterval: 50 * time.Millisecond,
		Web: web.Options{RateBurst: 10000, RatePerSecond: 10000}})
	v := dial(t, td)
	w, greeting := v.start()
	_, before := v.ask("q0", faqQuestion)
	if !strings.Contains(before.Text, faqAnswer) {
		t.Fatalf("before the change the answer is %q, want %q", before.Text, faqAnswer)
	}

	const newAnswer = "Reloaded: our loaves keep five days"
	changed := strings.Replace(string(original), faqAnswer, newAnswer, 1)
	if changed == string(original) {
		t.Fatalf("the demo configuration no longer contains %q", faqAnswer)
	}
	writeFileAtomic(t, cfgPath, []byte(changed))
	// Each check asks from a fresh conversation: asking one visitor's question over and over would
	// (rightly) read as a conversation going nowhere and bring in a person.
	ask := func() string {
		fresh := dial(t, td)
		fresh.start()
		_, r := fresh.ask("q", faqQuestion)
		fresh.conn.Close()
		return r.Text
	}
	eventually(t, "the changed answer", func() bool { return strings.Contains(ask(), newAnswer) })

	// The conversation opened before the reload carries on with the new answers, and a resume
	// replays it whole, from before and after the reload, in order.
	ack, after := v.ask("q1", faqQuestion)
	if !strings.Contains(after.Text, newAnswer) || ack.Seq != before.Seq+1 {
		t.Fatalf("on the socket opened before the reload: ack seq %d, answer %q; want seq %d and the reloaded answer", ack.Seq, after.Text, before.Seq+1)
	}
	v.conn.Close()
	w2, got := replayed(t, td, w.Token, 0)
	if !w2.Resumed || w2.ConversationID != w.ConversationID {
		t.Fatalf("resume after the reload: %s, want conversation %s resumed", w2, w.ConversationID)
	}
	want := []string{greeting.Text, faqQuestion, before.Text, faqQuestion, after.Text}
	for i, text := range want {
		if i >= len(got) || got[i].Seq != int64(i+1) || got[i].Text != text {
			t.Fatalf("replay after the reload is %v, want seqs 1-%d with %q", got, len(want), want)
		}
	}

	// An invalid version is rejected, logged, and the previous one keeps serving.
	writeFileAtomic(t, cfgPath, []byte(changed+"\nbogus_section: 1\n"))
	eventually(t, "the invalid change to be rejected in the log", func() bool {
		return strings.Contains(td.logs.String(), "configuration change rejected")
	})
	if !strings.Contains(td.logs.String(), "bogus_section") {
		t.Errorf("the rejection log does not name the problem:\n%s", td.logs.String())
	}
	if got := ask(); !strings.Contains(got, newAnswer) {
		t.Errorf("after an invalid change the answer is %q, want the last valid one %q", got, newAnswer)
	}
}

func TestHealthEndpoints(t *testing.T) {
	td := mustStart(t, serveConfig{})
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := httpGet(t, td, p); code != 200 {
			t.Errorf("GET %s: %d %q, want 200", p, code, body)
		}
	}
}

func TestRunCommands(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular-file")
	if err := os.WriteFile(regular, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(dir, "ok.db")
	broken := filepath.Join("testdata", "broken.yaml")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErr    []string // substrings of stderr
		wantOutRes []*regexp.Regexp
	}{
		{
			name: "check a broken config", args: []string{"check", broken}, wantCode: 1,
			wantOut: []string{
				broken + `:14:15: intent "repair_booking" has 2 example(s); at least 3 are needed`,
				broken + `:24:13: the text is empty — `,
			},
			wantErr:    []string{"2 problem(s)"},
			wantOutRes: []*regexp.Regexp{regexp.MustCompile(`(?m)\A(` + regexp.QuoteMeta(broken) + `:\d+:\d+: [^\n]+ — [^\n]+\n)+\z`)},
		},
		{
			name: "check the demo", args: []string{"check", "../../configs/demo.yaml"}, wantCode: 0,
			wantOut: []string{"../../configs/demo.yaml: ok"},
		},
		{
			name: "check a missing file", args: []string{"check", filepath.Join(dir, "nope.yaml")}, wantCode: 1,
			wantOut: []string{"nope.yaml"},
		},
		{
			name: "serve with a database under a regular file", wantCode: 1,
			args:    []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(regular, "attune.db"), "--log-level", "error"},
			wantErr: []string{"regular-file", "--db"},
		},
		{
			name: "serve on a port in use", wantCode: 1,
			args:    []string{"serve", "--addr", busy.Addr().String(), "--db", db, "--log-level", "error"},
			wantErr: []string{busy.Addr().String(), "in use", "--addr"},
		},
		{
			name: "serve with a broken config", wantCode: 1,
			args:    []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--config", broken, "--log-level", "error"},
			wantErr: []string{"configuration is invalid", broken + ":14:15:", broken + ":24:13:", "attune check"},
		},
		{
			name: "serve with a missing config", wantCode: 1,
			args:    []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--config", filepath.Join(dir, "missing.yaml"), "--log-level", "error"},
			wantErr: []string{"missing.yaml"},
		},
		{
			name: "serve with an unknown flag", wantCode: 2,
			args:    []string{"serve", "--port", "8080"},
			wantErr: []string{"-port"},
		},
		// Asking for help is a success, not a failure; a wrong flag is a usage mistake (2).
		{name: "eval tone --help", args: []string{"eval", "tone", "--help"}, wantCode: 0, wantErr: []string{"-goemotions"}},
		{name: "eval intents -h", args: []string{"eval", "intents", "-h"}, wantCode: 0, wantErr: []string{"-clinc"}},
		{name: "serve --help", args: []string{"serve", "--help"}, wantCode: 0, wantErr: []string{"--trusted-proxies"}},
		{name: "check --help", args: []string{"check", "--help"}, wantCode: 0, wantOut: []string{"attune check FILE"}},
		{name: "config --help", args: []string{"config", "--help"}, wantCode: 0, wantOut: []string{"attune config default"}},
		{name: "eval tone with an unknown flag", args: []string{"eval", "tone", "--bogus"}, wantCode: 2, wantErr: []string{"-bogus"}},
		{name: "eval tone without a data set", args: []string{"eval", "tone"}, wantCode: 2, wantErr: []string{"--vader DIR, --goemotions DIR, --test FILE"}},
		{name: "eval tone with a train split", args: []string{"eval", "tone", "--goemotions", dir, "--split", "train"}, wantCode: 2, wantErr: []string{`--split "train"`}},
		{name: "eval intents with a stray argument", args: []string{"eval", "intents", "data.csv"}, wantCode: 2, wantErr: []string{`unexpected argument "data.csv"`}},
		{name: "eval tone with a missing folder", args: []string{"eval", "tone", "--goemotions", filepath.Join(dir, "nope")}, wantCode: 1, wantErr: []string{"nope"}},
		{
			name: "serve with a malformed trusted proxy", wantCode: 2,
			args:    []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--trusted-proxies", "10.0.0.1, 10.0.0.0/33"},
			wantErr: []string{"--trusted-proxies", `"10.0.0.0/33" is neither an IP address nor a CIDR range`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A serve that wrongly succeeds would run until the context ends: bound it.
			ctx, cancel := context.WithTimeout(context.Background(), frameTimeout)
			defer cancel()
			var stdout, stderr syncbuf.Buffer
			code := run(ctx, tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr.String())
				}
			}
			for _, re := range tt.wantOutRes {
				if !re.MatchString(stdout.String()) {
					t.Errorf("stdout does not match %s:\n%s", re, stdout.String())
				}
			}
		})
	}
}

// A socket that has not sent hello yet (a widget between connecting and saying hello, or any
// client that is slow to start) must be told to reconnect like the others, and must not hold up
// the shutdown.
func TestShutdownClosesSocketsBeforeHello(t *testing.T) {
	td := mustStart(t, serveConfig{})
	chatting := dial(t, td)
	chatting.start()
	silent := dial(t, td) // connected, no hello

	type result struct {
		code int
		err  error
	}
	codes := make(chan result, 2)
	for _, v := range []*visitor{chatting, silent} {
		go func() {
			for {
				_ = v.conn.SetReadDeadline(time.Now().Add(frameTimeout))
				_, _, err := v.conn.ReadMessage()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					codes <- result{code: ce.Code}
					return
				}
				if err != nil {
					codes <- result{err: err}
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), frameTimeout)
	defer cancel()
	td.once.Do(func() {
		if err := td.Shutdown(ctx); err != nil {
			t.Errorf("shutdown with a socket that never sent hello: %v", err)
		}
	})
	for range 2 {
		if r := <-codes; r.err != nil || r.code != websocket.CloseGoingAway {
			t.Errorf("socket ended with code %d, error %v; want close code 1001", r.code, r.err)
		}
	}
}

// Every message within the configured character limit must be accepted: the hard frame limit
// (which closes the socket) has to leave room for the largest allowed message, or a visitor
// writing within the limit the widget announces loses the connection instead of getting an answer.
func TestLargestAllowedMessageFitsUnderHardLimit(t *testing.T) {
	dir := t.TempDir()
	cfgPath := copyFile(t, "../../configs/demo.yaml", dir)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	const maxChars = 32000 // the largest value `attune check` accepts
	changed := strings.Replace(string(b), "max_message_chars: 4000", fmt.Sprintf("max_message_chars: %d", maxChars), 1)
	if changed == string(b) {
		t.Fatal("the demo configuration no longer sets max_message_chars: 4000")
	}
	writeFileAtomic(t, cfgPath, []byte(changed))
	td := mustStart(t, serveConfig{Config: cfgPath})
	v := dial(t, td)
	if w, _ := v.start(); w.MaxChars != maxChars {
		t.Fatalf("welcome %s, want max_chars %d", w, maxChars)
	}
	text := strings.Repeat("🥐", maxChars) // within the limit; 4 bytes a character
	frameJSON := `{"type":"message","id":"big","text":"` + text + `"}`
	_ = v.conn.SetWriteDeadline(time.Now().Add(frameTimeout))
	if err := v.conn.WriteMessage(websocket.TextMessage, []byte(frameJSON)); err != nil {
		t.Fatalf("the server dropped the socket while a %d-character (%d-byte) message, within max_chars %d, was sent: %v",
			maxChars, len(frameJSON), maxChars, err)
	}
	_ = v.conn.SetReadDeadline(time.Now().Add(frameTimeout))
	_, data, err := v.conn.ReadMessage()
	if err != nil {
		t.Fatalf("a %d-character (%d-byte) message within max_chars %d closed the socket (%v); want an ack",
			maxChars, len(frameJSON), maxChars, err)
	}
	if !strings.HasPrefix(string(data), `{"type":"ack","id":"big"`) {
		t.Fatalf("got %.200s, want the ack", data)
	}
}
