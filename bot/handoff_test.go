package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/store/handoffstore"
)

// nopNotifier ignores the queue's events: these tests look at what the bot does.
type nopNotifier struct{}

func (nopNotifier) QueueChanged()               {}
func (nopNotifier) Offered(handoff.Offer)       {}
func (nopNotifier) Assigned(handoff.Assignment) {}
func (nopNotifier) Alert(handoff.Alert)         {}
func (nopNotifier) Returned(handoff.Return)     {}

// withQueue rebuilds the fixture's engine with a hand-off queue on the same store.
func withQueue(t *testing.T, f *fixture) *handoff.Queue {
	t.Helper()
	u := f.engine.Understanding()
	q, err := handoff.New(handoff.Options{Config: u.Config.Handoff, Store: handoffstore.New(f.db), Notifier: nopNotifier{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e, err := bot.New(bot.Options{Store: f.db, Publisher: f.pub, Understanding: u, Logger: quiet, Handoff: q,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f.engine = e
	return q
}

func (r *recorder) states() []bot.StateChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []bot.StateChange
	for _, ev := range r.events {
		if ev.State != nil {
			out = append(out, *ev.State)
		}
	}
	return out
}

func TestAskingForAPersonQueuesTheConversation(t *testing.T) {
	f := newFixture(t)
	q := withQueue(t, f)
	reply, d := f.say(t, "a", "I want to talk to a human")
	if d.Source != bot.SourceHandoff || d.Rule != bot.RuleHandoffPrefix+"asked_for_person" {
		t.Fatalf("decision %s/%s, want a hand-off for an explicit request", d.Source, d.Rule)
	}
	if strings.Contains(reply.Text, "can't bring a person") {
		t.Fatalf("with a queue the bot still says it cannot bring a person: %q", reply.Text)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(f.pub.states()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := f.pub.states(); len(st) == 0 || st[0].State != store.StateQueued {
		t.Fatalf("state events %+v, want queued", st)
	}
	if state, _ := q.Owner(f.conv.ID); state != store.StateQueued {
		t.Fatalf("queue owner state %q, want queued", state)
	}
	conv, _ := f.db.Conversation(context.Background(), f.conv.ID)
	if conv.State != store.StateQueued {
		t.Fatalf("stored conversation state %q, want queued", conv.State)
	}

	// While a person is awaited the bot stays silent.
	before := len(f.pub.messages())
	if _, _, err := f.engine.Receive(context.Background(), f.conv.ID, "b", "hello? anyone?", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ms := f.pub.messages(); len(ms) != before+1 || ms[len(ms)-1].From != bot.FromVisitor {
		t.Fatalf("the bot answered a queued conversation: %+v", ms[before:])
	}
}

func TestClosedConversationIsTheBotsAgain(t *testing.T) {
	f := newFixture(t)
	withQueue(t, f)
	f.say(t, "a", "I want to talk to a human")
	if err := f.db.SetState(context.Background(), f.conv.ID, store.StateClosed); err != nil {
		t.Fatal(err)
	}
	f.engine.SetOwner(f.conv.ID, store.StateClosed)
	reply, d := f.say(t, "b", "where is my order")
	if d.Source != bot.SourceIntent || !strings.Contains(reply.Text, "Track your order") {
		t.Fatalf("after the chat closed the bot answered %q (%s)", reply.Text, d.Source)
	}
	conv, _ := f.db.Conversation(context.Background(), f.conv.ID)
	if conv.State != store.StateBot {
		t.Fatalf("stored state %q, want bot", conv.State)
	}
}

// docs/configuration.md: an intent marked handoff: true has its answer "said while a person is
// brought in". And a visitor handed over because they are upset, whose question the bot could
// answer, keeps the answer: the person comes in addition, the answer is not taken away (with an
// LLM it was already streamed on screen).
func TestHandoffKeepsTheAnswer(t *testing.T) {
	tests := []struct {
		name, say, answer string
		llm               bool
	}{
		{"intent marked handoff", "my item arrived broken", "I'm sorry it arrived damaged.", false},
		{"frustrated, FAQ answer", "third time asking, I'm furious: do you ship abroad?!", "We ship to all EU countries.", false},
		{"frustrated, LLM answer", "This is ridiculous, third time asking and I'm furious: what is the weather tomorrow in Paris for shipping?!",
			"Shipping questions are answered from our facts.", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.llm {
				fake := newChatFake(t)
				fake.reply = tc.answer
				f = newLLMFixture(t, fake, nil)
			}
			withQueue(t, f)
			reply, d := f.say(t, "a", tc.say)
			if d.Source != bot.SourceHandoff {
				t.Fatalf("decision %s/%s, want a hand-off: %q", d.Source, d.Rule, reply.Text)
			}
			if !strings.Contains(reply.Text, tc.answer) {
				t.Errorf("reply %q lacks the answer %q", reply.Text, tc.answer)
			}
			if !strings.Contains(reply.Text, "bringing in a person") && !strings.Contains(reply.Text, "bringing one in") {
				t.Errorf("reply %q does not say a person is coming", reply.Text)
			}
			if strings.Contains(reply.Text, "can't bring a person") {
				t.Errorf("reply %q says no person can come while one is being brought in", reply.Text)
			}
		})
	}
	// A visitor who asks for a person gets one, not the bot's answer on top.
	f := newFixture(t)
	withQueue(t, f)
	reply, d := f.say(t, "a", "where is my order, I want a human")
	if d.Rule != bot.RuleHandoffPrefix+handoff.ReasonAskedForPerson || strings.Contains(reply.Text, "Track your order") {
		t.Errorf("asked for a person: %s, reply %q; want the hand-off explanation alone", d.Rule, reply.Text)
	}
}

// The unanswered streak starts again after a hand-off. The decision record must say so, or a
// conversation rebuilt from the store (after a restart, or after its memory was evicted) comes
// back with the old streak and is handed over again at its next unanswered question.
func TestUnresolvedStreakAfterHandoffSurvivesARestart(t *testing.T) {
	f := newFixture(t)
	q := withQueue(t, f)
	f.say(t, "a", "tell me a joke")
	_, d := f.say(t, "b", "this is ridiculous, I'm furious, third time: who won the football match")
	if d.Source != bot.SourceHandoff {
		t.Fatalf("decision %s/%s, want a hand-off for frustration", d.Source, d.Rule)
	}
	// An agent takes it and gives it back to the bot.
	if err := q.Connect(handoff.Agent{ID: "ag", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Accept(context.Background(), "ag", f.conv.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.ReturnToBot(context.Background(), "ag", f.conv.ID); err != nil {
		t.Fatal(err)
	}
	// A restart: a new engine over the same store and queue.
	if err := f.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, err := bot.New(bot.Options{Store: f.db, Publisher: f.pub, Understanding: f.engine.Understanding(), Logger: quiet, Handoff: q,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f.engine = e
	reply, d := f.say(t, "c", "what is the weather tomorrow")
	if d.Source == bot.SourceHandoff || d.Rule == bot.RuleUnresolvedLimit {
		t.Errorf("the first unanswered question after the hand-off ended in %s/%s: %q", d.Source, d.Rule, reply.Text)
	}
}

// The same without a restart: the conversation's running view must not carry the streak either.
func TestUnresolvedStreakEndsWithTheHandoff(t *testing.T) {
	f := newFixture(t)
	q := withQueue(t, f)
	f.say(t, "a", "tell me a joke")
	if _, d := f.say(t, "b", "this is ridiculous, I'm furious, third time: who won the football match"); d.Source != bot.SourceHandoff {
		t.Fatalf("decision %s/%s, want a hand-off for frustration", d.Source, d.Rule)
	}
	if err := q.Connect(handoff.Agent{ID: "ag", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Accept(context.Background(), "ag", f.conv.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.ReturnToBot(context.Background(), "ag", f.conv.ID); err != nil {
		t.Fatal(err)
	}
	f.engine.SetOwner(f.conv.ID, store.StateBot) // what the queue's notifier does in the server
	reply, d := f.say(t, "c", "what is the weather tomorrow")
	if d.Source == bot.SourceHandoff || d.Rule == bot.RuleUnresolvedLimit {
		t.Errorf("the first unanswered question after the hand-off ended in %s/%s: %q", d.Source, d.Rule, reply.Text)
	}
}

// Issue 5: priority comes from tone and waiting time. A visitor who grows upset or urgent while
// waiting for a person moves up the queue; the bot stays silent but still reads the tone.
func TestWaitingVisitorsToneRaisesPriority(t *testing.T) {
	f := newFixture(t)
	q := withQueue(t, f)
	f.say(t, "a", "I want to talk to a human") // first in the queue, calm
	token := make([]byte, 32)
	token[0] = 1 // another visitor's token
	other, err := f.db.CreateConversation(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	first := *f
	f.conv = other
	f.say(t, "b", "I want to talk to a human") // second, calm
	if w := q.View().Waiting; len(w) != 2 || w[0].ConversationID != first.conv.ID {
		t.Fatalf("queue %+v, want the first visitor ahead", w)
	}
	before := len(f.pub.messages())
	if _, _, err := f.engine.Receive(context.Background(), other.ID, "c", "URGENT!!! my flight leaves in an hour and I'm panicking, please hurry!!!", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if w := q.View().Waiting; len(w) == 2 && w[0].ConversationID == other.ID {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	w := q.View().Waiting
	if len(w) != 2 || w[0].ConversationID != other.ID {
		t.Errorf("the urgent, anxious visitor is still behind a calm one: %+v", w)
	} else if w[0].Mood.Urgency < 0.5 {
		t.Errorf("mood %+v: want the urgency recorded", w[0].Mood)
	}
	if err := f.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ms := f.pub.messages(); len(ms) != before+1 {
		t.Errorf("the bot answered a queued visitor: %+v", ms[before:])
	}
}
