package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/handoff"
)

var ctx = context.Background()

func order(f *fixture) string {
	var ids []string
	for _, w := range f.q.View().Waiting {
		ids = append(ids, w.ConversationID)
	}
	return strings.Join(ids, ",")
}

func TestPriorityAndAging(t *testing.T) {
	f := mustQueue(t, nil, nil)
	calm := handoff.Mood{}
	upset := handoff.Mood{Frustration: 0.9, Anxiety: 0.5}
	furious := handoff.Mood{Frustration: 1, Anxiety: 1, Urgency: 1, Escalating: true}

	f.enqueue(t, "calm", calm)
	f.clock.Advance(time.Minute)
	f.enqueue(t, "upset", upset)
	if got := order(f); got != "upset,calm" {
		t.Fatalf("tone should raise priority: order %s", got)
	}
	f.clock.Advance(9 * time.Minute) // calm has waited 10 min: 0.2+2.5 < furious newcomer's 2.9
	f.enqueue(t, "furious1", furious)
	if got := order(f); got != "upset,furious1,calm" {
		t.Fatalf("after 10 min: order %s", got)
	}
	f.clock.Advance(10 * time.Minute) // calm has waited 20 min: 0.2+5 > 2.9
	f.enqueue(t, "furious2", furious)
	if got := order(f); got != "upset,furious1,calm,furious2" {
		t.Fatalf("aging must let a long wait overtake a newcomer: order %s", got)
	}
	v := f.q.View()
	for i, w := range v.Waiting {
		if w.Position != i+1 {
			t.Errorf("%s: position %d, want %d", w.ConversationID, w.Position, i+1)
		}
		if i > 0 && w.Priority > v.Waiting[i-1].Priority {
			t.Errorf("priorities not descending: %v then %v", v.Waiting[i-1].Priority, w.Priority)
		}
	}
	if w := v.Waiting[2]; w.Waited != 20*time.Minute {
		t.Errorf("calm waited %v, want 20m", w.Waited)
	}
}

func TestRoutingBySkillAndCapacity(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "bill", 1, "billing")
	f.clock.Advance(time.Second)
	f.connect(t, "gen", 2)
	f.clock.Advance(time.Second)
	f.connect(t, "ord", 2, "Orders")

	step := func(conv, wantAgent string, tags ...string) {
		t.Helper()
		f.enqueue(t, conv, handoff.Mood{}, tags...)
		o := f.note.lastOffer()
		if o.Ticket.ConversationID != conv || o.AgentID != wantAgent {
			t.Fatalf("%s %v: offered to %q (%s), want %s", conv, tags, o.AgentID, o.Ticket.ConversationID, wantAgent)
		}
		if _, err := f.q.Accept(ctx, wantAgent, conv); err != nil {
			t.Fatal(err)
		}
	}
	step("c1", "bill", "billing") // skill match
	step("c2", "gen", "billing")  // bill is full (capacity 1): the generalist, not ord
	step("c3", "ord", "orders")   // case-insensitive skill
	step("c4", "gen", "delivery") // nobody has the skill: the generalist before agents of other teams
	step("c5", "ord")             // untagged: anyone; bill and gen are full
	f.enqueue(t, "c6", handoff.Mood{})
	if o := f.note.lastOffer(); o.Ticket.ConversationID == "c6" {
		t.Fatalf("everyone is at capacity, yet c6 was offered to %s", o.AgentID)
	}
	if _, err := f.q.Accept(ctx, "bill", "c6"); !errors.Is(err, handoff.ErrAtCapacity) || !strings.Contains(err.Error(), "1 of 1") {
		t.Fatalf("accept beyond capacity: %v", err)
	}
	if err := f.q.Close(ctx, "bill", "c1", "refunded"); err != nil {
		t.Fatal(err)
	}
	if o := f.note.lastOffer(); o.Ticket.ConversationID != "c6" || o.AgentID != "bill" {
		t.Fatalf("freed capacity should be offered the waiting c6, got %+v", o)
	}
	if got := f.store.state("c1"); got != handoff.StateClosed {
		t.Errorf("c1 state in store %q, want closed", got)
	}
}

func TestRoutingLeastBusyThenLongestIdle(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 3)
	f.clock.Advance(time.Minute)
	f.connect(t, "b", 3)
	f.enqueue(t, "c1", handoff.Mood{})
	if o := f.note.lastOffer(); o.AgentID != "a" {
		t.Fatalf("equal load: the agent idle longest (a) should get it, got %s", o.AgentID)
	}
	if _, err := f.q.Accept(ctx, "a", "c1"); err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "c2", handoff.Mood{})
	if o := f.note.lastOffer(); o.AgentID != "b" {
		t.Fatalf("least busy (b) should get it, got %s", o.AgentID)
	}
}

func TestRoutingSkillFallbackWhenNobodyFits(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "ord", 2, "orders")
	f.enqueue(t, "c1", handoff.Mood{}, "billing")
	if o := f.note.lastOffer(); o.AgentID != "ord" || o.Ticket.ConversationID != "c1" {
		t.Fatalf("with nobody of the team online the ticket must still be offered, got %+v", o)
	}
	// A fitting agent online, but busy: the ticket waits for them instead of going elsewhere.
	g := mustQueue(t, nil, nil)
	g.connect(t, "bill", 1, "billing")
	g.connect(t, "ord", 2, "orders")
	g.enqueue(t, "x1", handoff.Mood{}, "billing")
	if _, err := g.q.Accept(ctx, "bill", "x1"); err != nil {
		t.Fatal(err)
	}
	g.enqueue(t, "x2", handoff.Mood{}, "billing")
	if o := g.note.lastOffer(); o.Ticket.ConversationID == "x2" {
		t.Fatalf("x2 went to %s although the billing agent is online", o.AgentID)
	}
	if err := g.q.TransferToTeam(ctx, "bill", "x1", "orders"); err != nil {
		t.Fatal(err)
	}
	// The transfer frees bill, who is offered the billing ticket x2; x1 goes to ord.
	got := map[string]string{}
	for _, o := range g.note.offers {
		got[o.Ticket.ConversationID] = o.AgentID
	}
	if got["x1"] != "ord" || got["x2"] != "bill" {
		t.Fatalf("after the transfer: offers %v, want x1→ord and x2→bill", got)
	}
}

func TestAcceptRace(t *testing.T) {
	f := mustQueue(t, nil, nil)
	const n = 100
	for i := range n {
		f.connect(t, fmt.Sprintf("agent%03d", i), 1)
	}
	f.enqueue(t, "conv", handoff.Mood{Frustration: 0.9})
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = f.q.Accept(ctx, fmt.Sprintf("agent%03d", i), "conv")
		}()
	}
	close(start)
	wg.Wait()
	winners, taken, winner := 0, 0, ""
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			winner = fmt.Sprintf("agent%03d", i)
		case errors.Is(err, handoff.ErrTaken):
			taken++
			if !strings.Contains(err.Error(), "accepted it first") {
				t.Errorf("unclear message: %v", err)
			}
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if winners != 1 || taken != n-1 {
		t.Fatalf("%d winners and %d ErrTaken, want 1 and %d", winners, taken, n-1)
	}
	if st, owner := f.q.Owner("conv"); st != handoff.StateAgent || owner != winner {
		t.Fatalf("owner %s/%s, want agent/%s", st, owner, winner)
	}
	if got := f.store.state("conv"); got != handoff.StateAgent {
		t.Fatalf("store state %q, want agent", got)
	}
	if len(f.note.assigned) != 1 {
		t.Fatalf("%d Assigned events, want 1", len(f.note.assigned))
	}
	loser := "agent000"
	if loser == winner {
		loser = "agent001"
	}
	for _, err := range []error{
		f.q.Authorize(loser, "conv"),
		f.q.Close(ctx, loser, "conv", "done"),
		f.q.ReturnToBot(ctx, loser, "conv"),
		f.q.Release(ctx, loser, "conv"),
	} {
		if !errors.Is(err, handoff.ErrNotYours) || !strings.Contains(err.Error(), "owns it") {
			t.Errorf("loser acting: %v, want ErrNotYours naming the owner", err)
		}
	}
	if err := f.q.Authorize(winner, "conv"); err != nil {
		t.Errorf("winner not authorised: %v", err)
	}
	if err := f.q.Authorize(winner, "nope"); !errors.Is(err, handoff.ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
}

func TestOfferTimeoutMovesOn(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 2)
	f.clock.Advance(time.Second)
	f.connect(t, "b", 2)
	f.enqueue(t, "c1", handoff.Mood{})
	if o := f.note.lastOffer(); o.AgentID != "a" || !o.Deadline.Equal(f.clock.Now().Add(30*time.Second)) {
		t.Fatalf("first offer %+v", o)
	}
	f.clock.Advance(29 * time.Second)
	f.tick(t)
	if o := f.note.lastOffer(); o.AgentID != "a" || len(f.note.offers) != 1 {
		t.Fatalf("offer moved before its deadline: %+v", f.note.offers)
	}
	f.clock.Advance(time.Second)
	f.tick(t)
	if o := f.note.lastOffer(); o.AgentID != "b" {
		t.Fatalf("after the timeout the offer should move to b, got %s", o.AgentID)
	}
	if s := f.status(t, "a"); s.Offered != "" {
		t.Errorf("a still holds the offer of %s", s.Offered)
	}
	// b declines: everyone has let it pass, so a new round starts with a.
	if err := f.q.Decline("b", "c1"); err != nil {
		t.Fatal(err)
	}
	if o := f.note.lastOffer(); o.AgentID != "a" || len(f.note.offers) != 3 {
		t.Fatalf("after everyone passed, a new round should start with a: %+v", f.note.offers)
	}
	if err := f.q.Decline("b", "c1"); !errors.Is(err, handoff.ErrNotYours) {
		t.Errorf("declining an offer one does not hold: %v", err)
	}
}

func TestGracePeriod(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 2)
	f.enqueue(t, "c1", handoff.Mood{})
	if _, err := f.q.Accept(ctx, "a", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Disconnect("a"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(59 * time.Second)
	f.tick(t)
	if st, owner := f.q.Owner("c1"); st != handoff.StateAgent || owner != "a" {
		t.Fatalf("within grace: %s/%s", st, owner)
	}
	// A reconnect inside the grace period keeps the conversation.
	f.connect(t, "a", 2)
	f.clock.Advance(time.Hour)
	f.tick(t)
	if st, _ := f.q.Owner("c1"); st != handoff.StateAgent {
		t.Fatalf("reconnected agent lost c1")
	}
	if err := f.q.Disconnect("a"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(61 * time.Second)
	f.tick(t)
	if st, owner := f.q.Owner("c1"); st != handoff.StateQueued || owner != "" {
		t.Fatalf("after grace: %s/%s, want queued", st, owner)
	}
	if len(f.note.returns) != 1 || f.note.returns[0].Why != handoff.WhyAgentGone || f.note.returns[0].State != handoff.StateQueued || f.note.returns[0].AgentID != "a" {
		t.Fatalf("visitor must be told: %+v", f.note.returns)
	}
	if got := f.store.state("c1"); got != handoff.StateQueued {
		t.Errorf("store state %q, want queued", got)
	}
	tk, _ := f.q.Ticket("c1")
	if tk.Returns != 1 {
		t.Errorf("returns %d, want 1", tk.Returns)
	}
	// Back in the queue it goes ahead of an equally calm newcomer.
	f.enqueue(t, "c2", handoff.Mood{})
	if got := order(f); got != "c1,c2" {
		t.Errorf("order %s, want the returned conversation first", got)
	}
}

func TestWaitAlert(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 1)
	f.connect(t, "b", 1)
	if err := f.q.SetPresence("b", handoff.Away); err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "c1", handoff.Mood{})
	if _, err := f.q.Accept(ctx, "a", "c1"); err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "c2", handoff.Mood{})
	f.clock.Advance(119 * time.Second)
	f.tick(t)
	if len(f.note.alerts) != 0 {
		t.Fatalf("alert before wait_alert_seconds: %+v", f.note.alerts)
	}
	f.clock.Advance(time.Second)
	f.tick(t)
	if len(f.note.alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(f.note.alerts))
	}
	al := f.note.alerts[0]
	if al.Ticket.ConversationID != "c2" || al.Waited != 120*time.Second || strings.Join(al.Agents, ",") != "a" {
		t.Fatalf("alert %+v: want c2 after 2m to online agent a only", al)
	}
	f.clock.Advance(60 * time.Second)
	f.tick(t)
	if len(f.note.alerts) != 1 {
		t.Fatalf("alerted again within the interval")
	}
	f.clock.Advance(60 * time.Second)
	f.tick(t)
	if len(f.note.alerts) != 2 {
		t.Fatalf("no repeat alert after another interval")
	}
}

func TestETAFromRecordedWaits(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 10)
	if err := f.q.SetPresence("a", handoff.Away); err != nil { // picks only, no offers in the way
		t.Fatal(err)
	}
	f.connect(t, "b", 10)
	if err := f.q.SetPresence("b", handoff.Away); err != nil {
		t.Fatal(err)
	}
	for i, wait := range []time.Duration{60 * time.Second, 180 * time.Second, 120 * time.Second, 360 * time.Second} {
		conv := fmt.Sprintf("w%d", i)
		o := f.enqueue(t, conv, handoff.Mood{})
		if i == 0 && o.ETA != nil {
			t.Fatalf("ETA %v without any history, want nil", *o.ETA)
		}
		f.clock.Advance(wait)
		if _, err := f.q.Accept(ctx, "a", conv); err != nil {
			t.Fatal(err)
		}
	}
	// Median of 60, 180, 120 and 360 s is 150 s; two agents online share the queue.
	for _, id := range []string{"a", "b"} {
		if err := f.q.SetPresence(id, handoff.Online); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"x1", "x2", "x3"} {
		f.enqueue(t, c, handoff.Mood{})
	}
	for _, w := range f.q.View().Waiting {
		want := time.Duration(w.Position) * 150 * time.Second / 2
		if w.ETA == nil || *w.ETA != want {
			t.Errorf("%s at %d: ETA %v, want %v", w.ConversationID, w.Position, w.ETA, want)
		}
	}
	w, ok := f.q.Waiting("x3")
	if !ok || w.Position != 3 || w.ETA == nil || *w.ETA != 225*time.Second {
		t.Errorf("Waiting(x3) = %+v", w)
	}
}

func TestOfflineOutcome(t *testing.T) {
	t.Run("outside hours", func(t *testing.T) {
		open := false
		f := mustQueue(t, nil, func(time.Time) bool { return open })
		f.connect(t, "a", 2)
		o := f.enqueue(t, "c1", handoff.Mood{})
		if !o.Offline || o.OfflineReason != handoff.OfflineClosed || !strings.Contains(o.Message, "Leave your email") || o.ETA != nil {
			t.Fatalf("outcome %+v", o)
		}
		if o.Position != 1 || o.AgentsOnline != 1 {
			t.Errorf("position %d, agents %d", o.Position, o.AgentsOnline)
		}
		if len(f.note.offers) != 0 {
			t.Fatalf("offered outside hours: %+v", f.note.offers)
		}
		if err := f.q.LeaveEmail(ctx, "c1", "not an email"); !errors.Is(err, handoff.ErrInvalid) {
			t.Errorf("bad email accepted: %v", err)
		}
		if err := f.q.LeaveEmail(ctx, "c1", "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		// The ticket waits; an agent working late may still pick it.
		tk, err := f.q.Accept(ctx, "a", "c1")
		if err != nil || tk.Email != "ann@example.com" {
			t.Fatalf("pick outside hours: %v %+v", err, tk)
		}
		open = true
		f.enqueue(t, "c2", handoff.Mood{})
		if o := f.note.lastOffer(); o.Ticket.ConversationID != "c2" {
			t.Fatalf("offers should resume in hours")
		}
	})
	t.Run("no agent online", func(t *testing.T) {
		f := mustQueue(t, nil, nil)
		f.connect(t, "away", 2)
		if err := f.q.SetPresence("away", handoff.Away); err != nil {
			t.Fatal(err)
		}
		o := f.enqueue(t, "c1", handoff.Mood{})
		if !o.Offline || o.OfflineReason != handoff.OfflineNoAgents || o.AgentsOnline != 0 || o.Message == "" {
			t.Fatalf("outcome %+v", o)
		}
		if st, _ := f.q.Owner("c1"); st != handoff.StateQueued {
			t.Fatalf("the ticket must wait, state %s", st)
		}
		if got := f.store.state("c1"); got != handoff.StateQueued {
			t.Fatalf("store state %q", got)
		}
		f.connect(t, "b", 2)
		if o := f.note.lastOffer(); o.AgentID != "b" || o.Ticket.ConversationID != "c1" {
			t.Fatalf("the next agent online should be offered the open ticket, got %+v", o)
		}
		if w, _ := f.q.Waiting("c1"); w.Offline {
			t.Errorf("still offline with an agent online")
		}
	})
}

func TestRestart(t *testing.T) {
	st := newMemStore()
	f := mustQueue(t, st, nil)
	f.connect(t, "a", 5)
	f.enqueue(t, "owned", handoff.Mood{})
	f.clock.Advance(90 * time.Second)
	if _, err := f.q.Accept(ctx, "a", "owned"); err != nil {
		t.Fatal(err)
	}
	if err := f.q.SetPresence("a", handoff.Away); err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "calm", handoff.Mood{})
	f.enqueue(t, "upset", handoff.Mood{Frustration: 0.95})
	f.enqueue(t, "gone", handoff.Mood{})
	if err := f.q.Cancel(ctx, "gone"); err != nil {
		t.Fatal(err)
	}

	g := mustQueue(t, st, nil) // a new process on the same store
	g.clock.t = f.clock.Now().Add(5 * time.Second)
	if err := g.q.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if got := order(g); got != "upset,calm" {
		t.Fatalf("restored order %q, want upset,calm", got)
	}
	if s, owner := g.q.Owner("owned"); s != handoff.StateAgent || owner != "a" {
		t.Fatalf("owned: %s/%s", s, owner)
	}
	if s, _ := g.q.Owner("gone"); s != handoff.StateBot {
		t.Fatalf("cancelled hand-off came back: %s", s)
	}
	if w, _ := g.q.Waiting("upset"); w.ETA != nil || !w.Offline {
		t.Errorf("no agent online after restart: ETA should be unknown and the ticket offline, got %+v", w)
	}
	g.connect(t, "b", 5)
	if err := g.q.SetPresence("b", handoff.Away); err != nil {
		t.Fatal(err)
	}
	g.connect(t, "c", 5)
	if w, _ := g.q.Waiting("calm"); w.ETA == nil || *w.ETA != 2*90*time.Second {
		t.Errorf("ETA after restart %v, want the recorded 90s wait × position 2", w.ETA)
	}
	// a never comes back: after the grace period "owned" returns to the queue.
	g.clock.Advance(61 * time.Second)
	g.tick(t)
	if s, _ := g.q.Owner("owned"); s != handoff.StateQueued {
		t.Fatalf("owned after grace: %s", s)
	}
}

func TestSaveFailures(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 2)
	f.store.fail = errDiskFull
	if _, err := f.q.Enqueue(ctx, handoff.Request{ConversationID: "c1"}); !errors.Is(err, errDiskFull) {
		t.Fatalf("enqueue with a failing store: %v", err)
	}
	if s, _ := f.q.Owner("c1"); s != handoff.StateBot || len(f.q.View().Waiting) != 0 {
		t.Fatalf("a hand-off that could not be saved must be undone, state %s", s)
	}
	if s := f.status(t, "a"); s.Offered != "" {
		t.Fatalf("undone hand-off still offered to a")
	}
	f.store.fail = nil
	f.enqueue(t, "c1", handoff.Mood{})
	f.store.fail = errDiskFull
	if _, err := f.q.Accept(ctx, "a", "c1"); err != nil {
		t.Fatalf("accept is decided in memory: %v", err)
	}
	if f.q.Unsaved() != 1 || f.store.state("c1") != handoff.StateQueued {
		t.Fatalf("unsaved %d, store state %s", f.q.Unsaved(), f.store.state("c1"))
	}
	f.store.fail = nil
	f.tick(t)
	if f.q.Unsaved() != 0 || f.store.state("c1") != handoff.StateAgent {
		t.Fatalf("tick should retry the save: unsaved %d, state %s", f.q.Unsaved(), f.store.state("c1"))
	}
}

func TestAgentActions(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.connect(t, "a", 2)
	f.connect(t, "b", 1)
	f.enqueue(t, "c1", handoff.Mood{})
	if _, err := f.q.Accept(ctx, "a", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.q.Accept(ctx, "a", "c1"); err != nil {
		t.Fatalf("accepting one's own conversation again: %v", err)
	}
	if err := f.q.Transfer(ctx, "a", "c1", "b"); err != nil {
		t.Fatal(err)
	}
	if _, owner := f.q.Owner("c1"); owner != "b" {
		t.Fatalf("owner after transfer %s", owner)
	}
	last := f.note.assigned[len(f.note.assigned)-1]
	if last.Via != handoff.ViaTransfer || last.From != "a" || last.AgentName != "Agent b" {
		t.Errorf("assignment %+v", last)
	}
	f.enqueue(t, "c2", handoff.Mood{})
	if _, err := f.q.Accept(ctx, "a", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Transfer(ctx, "a", "c2", "b"); !errors.Is(err, handoff.ErrAtCapacity) {
		t.Errorf("transfer to a full agent: %v", err)
	}
	if err := f.q.ReturnToBot(ctx, "b", "c1"); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.q.Owner("c1"); s != handoff.StateBot || f.store.state("c1") != handoff.StateBot {
		t.Fatalf("return to bot: %s / %s", s, f.store.state("c1"))
	}
	if _, err := f.q.Accept(ctx, "b", "c1"); !errors.Is(err, handoff.ErrNotFound) {
		t.Errorf("accepting an ended hand-off: %v", err)
	}
	if err := f.q.Cancel(ctx, "c2"); !errors.Is(err, handoff.ErrTaken) {
		t.Errorf("visitor cancelling an owned conversation: %v", err)
	}
	if err := f.q.SetPresence("a", "busy"); !errors.Is(err, handoff.ErrInvalid) {
		t.Errorf("unknown presence: %v", err)
	}
	if _, err := f.q.Accept(ctx, "ghost", "c2"); !errors.Is(err, handoff.ErrUnknownAgent) {
		t.Errorf("unknown agent: %v", err)
	}
	o := f.enqueue(t, "c2", handoff.Mood{}) // already handed over: the same hand-off back
	if o.Ticket.AgentID != "a" || o.Ticket.State != handoff.StateAgent {
		t.Errorf("repeated enqueue %+v", o.Ticket)
	}
}

func TestRaiseMood(t *testing.T) {
	f := mustQueue(t, nil, nil)
	f.enqueue(t, "first", handoff.Mood{Frustration: 0.2})
	f.clock.Advance(time.Minute)
	f.enqueue(t, "second", handoff.Mood{Frustration: 0.2})
	if got := order(f); got != "first,second" {
		t.Fatalf("order %s", got)
	}
	// Calmer words change nothing.
	if err := f.q.RaiseMood(ctx, "second", handoff.Mood{Frustration: 0.1, Dominant: "neutral"}); err != nil {
		t.Fatal(err)
	}
	if tk, _ := f.q.Ticket("second"); tk.Mood.Frustration != 0.2 || tk.Version != 1 {
		t.Errorf("a calmer message changed the ticket: %+v", tk.Record)
	}
	// Growing urgent and anxious while waiting moves the visitor up, and the store knows it.
	if err := f.q.RaiseMood(ctx, "second", handoff.Mood{Anxiety: 0.8, Urgency: 0.9, Dominant: "urgency"}); err != nil {
		t.Fatal(err)
	}
	if got := order(f); got != "second,first" {
		t.Errorf("after the urgent message: order %s, want second first", got)
	}
	tk, _ := f.q.Ticket("second")
	if tk.Mood.Urgency != 0.9 || tk.Mood.Anxiety != 0.8 || tk.Mood.Frustration != 0.2 || tk.Mood.Dominant != "urgency" {
		t.Errorf("mood %+v", tk.Mood)
	}
	f.store.mu.Lock()
	saved := f.store.recs[tk.ID]
	f.store.mu.Unlock()
	if saved.Mood != tk.Mood {
		t.Errorf("stored mood %+v, want %+v (it must survive a restart)", saved.Mood, tk.Mood)
	}
	// A conversation an agent owns, or none at all, is left alone.
	f.connect(t, "a1", 1)
	if _, err := f.q.Accept(ctx, "a1", "second"); err != nil {
		t.Fatal(err)
	}
	if err := f.q.RaiseMood(ctx, "second", handoff.Mood{Frustration: 1}); err != nil {
		t.Fatal(err)
	}
	if tk, _ := f.q.Ticket("second"); tk.Mood.Frustration != 0.2 {
		t.Errorf("an owned conversation's mood changed: %+v", tk.Mood)
	}
	if err := f.q.RaiseMood(ctx, "nobody", handoff.Mood{Frustration: 1}); err != nil {
		t.Errorf("unknown conversation: %v", err)
	}
}
