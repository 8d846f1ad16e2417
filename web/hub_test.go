package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/store"
)

func newTestClient(queue int) *client {
	return &client{socket: newSocket(nil, queue, "too slow")}
}

func drain(c *client) []messageFrame {
	var out []messageFrame
	for {
		select {
		case b := <-c.send:
			var f messageFrame
			_ = json.Unmarshal(b, &f)
			out = append(out, f)
		default:
			return out
		}
	}
}

func msg(seq int64) bot.Event {
	return bot.Event{Message: &store.Message{Seq: seq, From: "bot", Text: "x", At: time.Unix(0, 0)}}
}

func TestHubDeliversToEverySocketOfTheConversation(t *testing.T) {
	h := NewHub()
	a, b, other := newTestClient(8), newTestClient(8), newTestClient(8)
	h.subscribe("c1", a)
	h.subscribe("c1", b)
	h.subscribe("c2", other)
	h.Publish("c1", msg(1))
	if len(drain(a)) != 1 || len(drain(b)) != 1 || len(drain(other)) != 0 {
		t.Fatal("a message must reach both sockets of c1 and none of c2")
	}
	h.unsubscribe("c1", a)
	h.Publish("c1", msg(2))
	if len(drain(a)) != 0 || len(drain(b)) != 1 {
		t.Fatal("an unsubscribed socket still receives messages")
	}
	if h.Clients() != 2 {
		t.Fatalf("Clients() = %d, want 2", h.Clients())
	}
}

func TestHubDoesNotEchoVisitorTypingToVisitors(t *testing.T) {
	h := NewHub()
	a := newTestClient(8)
	h.subscribe("c", a)
	h.Publish("c", bot.Event{Typing: &bot.Typing{From: bot.FromVisitor, On: true}})
	h.Publish("c", bot.Event{Typing: &bot.Typing{From: bot.FromBot, On: true}})
	if got := drain(a); len(got) != 1 || got[0].From != bot.FromBot {
		t.Fatalf("visitor socket got %+v, want only the bot's typing", got)
	}
}

// During the replay after hello, live messages are held and merged in seq order without duplicates.
func TestClientHoldsLiveMessagesDuringReplay(t *testing.T) {
	c := newTestClient(16)
	c.replaying = true
	c.deliver(mustJSON(messageFrameOf(msg(3).Message)), 3)
	c.deliver(mustJSON(messageFrameOf(msg(4).Message)), 4)
	if len(drain(c)) != 0 {
		t.Fatal("live messages leaked during replay")
	}
	// The replay itself sent 1..3; what was held must follow without repeating 3.
	c.finishReplay(3)
	c.deliver(mustJSON(messageFrameOf(msg(4).Message)), 4) // a late duplicate
	c.deliver(mustJSON(messageFrameOf(msg(5).Message)), 5)
	var seqs []int64
	for _, f := range drain(c) {
		seqs = append(seqs, f.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 4 || seqs[1] != 5 {
		t.Fatalf("delivered seqs %v, want [4 5]", seqs)
	}
}

func TestSlowSocketIsDisconnectedNotWaitedFor(t *testing.T) {
	h := NewHub()
	slow := newTestClient(2)
	h.subscribe("c", slow)
	done := make(chan struct{})
	go func() {
		for i := int64(1); i <= 10; i++ {
			h.Publish("c", msg(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow socket")
	}
	select {
	case <-slow.done:
	default:
		t.Fatal("a socket that cannot keep up must be closed (it resumes on reconnect)")
	}
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := tokenBucket{capacity: 3, perSecond: 1, tokens: 3, last: now}
	for i := 0; i < 3; i++ {
		if !b.allow(now) {
			t.Fatalf("message %d of the burst refused", i+1)
		}
	}
	if b.allow(now) {
		t.Fatal("a fourth message at once must be refused")
	}
	if !b.allow(now.Add(1100 * time.Millisecond)) {
		t.Fatal("a message after a second's refill must pass")
	}
	if b.allow(now.Add(1200 * time.Millisecond)) {
		t.Fatal("the refill must not exceed the rate")
	}
}

func TestTokensAreUnguessableAndHashed(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok, err := newToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) < 43 || seen[tok] { // 256 bits in base64url
			t.Fatalf("token %q is too short or repeated", tok)
		}
		seen[tok] = true
		if h := hashToken(tok); len(h) != 32 || string(h) == tok {
			t.Fatal("token hash must be a 32-byte SHA-256")
		}
	}
}
