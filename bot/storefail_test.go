package bot_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/store"
)

// failingReplies is the real store, except that storing a bot reply fails with a full disk while
// fail is above zero (each failure counts it down; -1 fails until changed).
type failingReplies struct {
	*store.DB
	mu    sync.Mutex
	fail  int
	tries int
}

func (s *failingReplies) setFail(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

func (s *failingReplies) AppendBotTurn(ctx context.Context, m store.Message, d store.Decision) (store.Message, error) {
	s.mu.Lock()
	s.tries++
	fail := s.fail
	if s.fail > 0 {
		s.fail--
	}
	s.mu.Unlock()
	if fail != 0 {
		return store.Message{}, fmt.Errorf("append bot turn to %s: %w", m.ConversationID, store.ErrFull)
	}
	return s.DB.AppendBotTurn(ctx, m, d)
}

// withFailingReplies rebuilds the fixture's engine on a store whose bot replies fail.
func withFailingReplies(t *testing.T, f *fixture) *failingReplies {
	t.Helper()
	fs := &failingReplies{DB: f.db}
	e, err := bot.New(bot.Options{Store: fs, Publisher: f.pub, Understanding: f.engine.Understanding(), Logger: quiet,
		RetryAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.engine.Close(context.Background())
	f.engine = e
	t.Cleanup(func() { e.Close(context.Background()) })
	return fs
}

// notices returns the notices published so far.
func (r *recorder) notices() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		if ev.Notice != "" {
			out = append(out, ev.Notice)
		}
	}
	return out
}

// waitNotice waits until a notice has been published.
func (r *recorder) waitNotice(t *testing.T) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if ns := r.notices(); len(ns) > 0 {
			return ns[0]
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatal("no notice was published")
		}
	}
}

// A visitor whose message was acknowledged is owed an answer: when the reply cannot be stored
// (a full disk for a moment), the visitor is told that it is delayed, the bot tries again, and the
// visitor gets it, once, in reply to their message.
func TestReplyThatCannotBeStoredIsRetried(t *testing.T) {
	f := newFixture(t)
	fs := withFailingReplies(t, f)
	fs.setFail(2)
	saved, _, err := f.engine.Receive(context.Background(), f.conv.ID, "m1", "where is my order", nil)
	if err != nil {
		t.Fatal(err)
	}
	ms := f.pub.waitMessages(t, 2)
	if ms[1].From != bot.FromBot || ms[1].Seq != saved.Seq+1 {
		t.Fatalf("published %+v; want the bot's reply after the visitor's message", ms)
	}
	ds, err := f.db.Decisions(context.Background(), f.conv.ID)
	if err != nil || len(ds) != 1 || ds[0].InReplyTo != saved.Seq {
		t.Fatalf("decisions %+v (%v); want one, in reply to seq %d", ds, err, saved.Seq)
	}
	if ns := f.pub.notices(); len(ns) != 1 || !strings.Contains(ns[0], "could not be saved") {
		t.Errorf("notices %q; want one telling the visitor the answer is delayed", ns)
	}
	if fs.tries != 3 {
		t.Errorf("the reply was stored after %d attempts, want 3 (two refused)", fs.tries)
	}
	// The next message is answered as usual.
	f.say(t, "m2", "do you ship to germany")
}

// The reply still cannot be stored when the server stops (the visitor was told): after a restart,
// the visitor coming back gets the answer to their message, once.
func TestUnstoredReplyIsAnsweredAfterRestart(t *testing.T) {
	f := newFixture(t)
	fs := withFailingReplies(t, f)
	fs.setFail(-1)
	saved, _, err := f.engine.Receive(context.Background(), f.conv.ID, "m1", "where is my order", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.pub.waitNotice(t)
	// A second question, acknowledged while the first answer waits.
	saved2, _, err := f.engine.Receive(context.Background(), f.conv.ID, "m2", "do you ship to germany", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Close(context.Background()); err != nil {
		t.Fatalf("Close while a reply waits to be stored: %v", err)
	}
	if ms := f.pub.messages(); len(ms) != 2 {
		t.Fatalf("published %+v before the restart; want only the visitor's messages", ms)
	}

	// The restarted server, its disk working again.
	e, err := bot.New(bot.Options{Store: f.db, Publisher: f.pub, Understanding: f.engine.Understanding(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f.engine = e
	conv, err := f.db.Conversation(context.Background(), f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Two tabs come back at once.
	for range 2 {
		if err := e.AnswerPending(context.Background(), conv); err != nil {
			t.Fatal(err)
		}
	}
	ms := f.pub.waitMessages(t, 4)
	if ms[2].From != bot.FromBot || !strings.Contains(ms[2].Text, "Track your order") ||
		ms[3].From != bot.FromBot || !strings.Contains(ms[3].Text, "EU countries") {
		t.Fatalf("after the restart published %+v; want the answers to %q and %q, in order", ms, saved.Text, saved2.Text)
	}
	// Once answered, coming back again changes nothing.
	if conv, err = f.db.Conversation(context.Background(), f.conv.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.AnswerPending(context.Background(), conv); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, _ := f.db.MessagesAfter(context.Background(), f.conv.ID, 0, 0)
	ds, _ := f.db.Decisions(context.Background(), f.conv.ID)
	if len(all) != 4 || len(ds) != 2 || ds[0].InReplyTo != saved.Seq || ds[1].InReplyTo != saved2.Seq {
		t.Fatalf("stored %d messages and %d decisions; want the two messages and one answer to each", len(all), len(ds))
	}
}

// A conversation whose last message is the bot's, or that a person looks after, owes nothing.
func TestAnswerPendingOwesNothing(t *testing.T) {
	f := newFixture(t)
	f.say(t, "m1", "where is my order")
	ctx := context.Background()
	conv, err := f.db.Conversation(ctx, f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.engine.AnswerPending(ctx, conv); err != nil {
		t.Fatal(err)
	}
	// A message the visitor wrote to a person is the person's to answer: while the person has the
	// conversation, and after they gave it back to the bot.
	if err := f.db.SetState(ctx, f.conv.ID, store.StateAgent); err != nil {
		t.Fatal(err)
	}
	for _, m := range []store.Message{{ClientID: "a1", From: store.FromAgent, Text: "Hi, Ana here"}, {ClientID: "m2", From: store.FromVisitor, Text: "hello?"}} {
		m.ConversationID = f.conv.ID
		if _, _, err := f.db.AppendMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, state := range []string{store.StateAgent, store.StateBot} {
		if err := f.db.SetState(ctx, f.conv.ID, state); err != nil {
			t.Fatal(err)
		}
		if conv, err = f.db.Conversation(ctx, f.conv.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.engine.AnswerPending(ctx, conv); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.engine.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ds, _ := f.db.Decisions(ctx, f.conv.ID); len(ds) != 1 {
		t.Fatalf("%d decisions; want only the first answer", len(ds))
	}
}
