package handoffstore_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/store/handoffstore"
)

// t0 has sub-millisecond digits and a zone on purpose: the store keeps UTC milliseconds.
var t0 = time.Date(2025, 6, 2, 14, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))

// stored is r as it comes back from the store: times in UTC, truncated to the millisecond.
func stored(r handoff.Record) handoff.Record {
	for _, t := range []*time.Time{&r.CreatedAt, &r.QueuedAt, &r.AcceptedAt, &r.EndedAt} {
		if !t.IsZero() {
			*t = time.UnixMilli(t.UnixMilli()).UTC()
		}
	}
	return r
}

func queued(id, conv string, version int64) handoff.Record {
	return handoff.Record{
		ID: id, ConversationID: conv, State: handoff.StateQueued,
		Reason: "frustration", Evidence: "frustration 0.82 ≥ 0.70: 'third time', 'still not arrived'",
		Intent: "order_status", Tags: []string{"orders", "delivery"},
		Mood:      handoff.Mood{Frustration: 0.82, Anxiety: 0.1, Urgency: 0.4, Dominant: "frustration", Escalating: true},
		CreatedAt: t0, QueuedAt: t0, Version: version,
	}
}

func mustSave(tb testing.TB, st *handoffstore.Adapter, r handoff.Record) {
	tb.Helper()
	if err := st.SaveHandoff(context.Background(), r); err != nil {
		tb.Fatalf("save %s v%d: %v", r.ID, r.Version, err)
	}
}

func mustLoadOpen(tb testing.TB, st *handoffstore.Adapter) []handoff.Record {
	tb.Helper()
	rs, err := st.LoadOpenHandoffs(context.Background())
	if err != nil {
		tb.Fatalf("load open hand-offs: %v", err)
	}
	return rs
}

func TestSaveAndLoad(t *testing.T) {
	ctx := context.Background()

	t.Run("RoundTripEveryField", func(t *testing.T) {
		db, _ := MustOpenDB(t, nil)
		st := handoffstore.New(db)
		conv := MustCreateConversation(t, db)
		r := queued("h1", conv.ID, 3)
		r.State, r.AgentID = handoff.StateAgent, "agent-ana"
		r.Email, r.Returns = "visitor@example.com", 2
		r.AcceptedAt = t0.Add(90 * time.Second)
		mustSave(t, st, r)

		got := mustLoadOpen(t, st)
		if want := []handoff.Record{stored(r)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("LoadOpenHandoffs =\n %+v\nwant\n %+v", got, want)
		}
		if s := MustConversationState(t, db, conv.ID); s != handoff.StateAgent {
			t.Errorf("conversation state = %q, want agent", s)
		}
	})

	t.Run("OnlyQueuedAndAgentAreOpen", func(t *testing.T) {
		db, _ := MustOpenDB(t, nil)
		st := handoffstore.New(db)
		var want []handoff.Record
		for i, state := range []string{handoff.StateQueued, handoff.StateAgent, handoff.StateBot, handoff.StateClosed} {
			conv := MustCreateConversation(t, db)
			r := queued("h"+state, conv.ID, 1)
			r.State, r.Tags = state, nil // no tags must come back as nil, as the queue builds them
			r.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			if state == handoff.StateAgent {
				r.AgentID, r.AcceptedAt = "agent-bo", r.CreatedAt.Add(time.Minute)
			}
			if state == handoff.StateBot || state == handoff.StateClosed {
				r.EndedAt, r.Resolution = r.CreatedAt.Add(time.Hour), "solved"
			}
			mustSave(t, st, r)
			if r.Open() {
				want = append(want, stored(r))
			}
			if s := MustConversationState(t, db, conv.ID); s != state {
				t.Errorf("conversation of %s hand-off: state %q, want %q", state, s, state)
			}
		}
		if got := mustLoadOpen(t, st); !reflect.DeepEqual(got, want) {
			t.Fatalf("LoadOpenHandoffs =\n %+v\nwant (oldest first)\n %+v", got, want)
		}
	})

	t.Run("EmptyStore", func(t *testing.T) {
		db, _ := MustOpenDB(t, nil)
		st := handoffstore.New(db)
		if got := mustLoadOpen(t, st); len(got) != 0 {
			t.Fatalf("LoadOpenHandoffs on an empty store = %+v, want none", got)
		}
		if ws, err := st.RecentWaits(ctx, 10); err != nil || len(ws) != 0 {
			t.Fatalf("RecentWaits on an empty store = %v, %v; want none", ws, err)
		}
	})
}

func TestVersionRule(t *testing.T) {
	ctx := context.Background()
	// Each case saves first, then second, and expects the stored record and conversation state
	// of want.
	tests := []struct {
		name          string
		first, second func(conv string) handoff.Record
		wantSecond    bool // the second save wins
	}{
		{
			name:  "NewerOverwrites",
			first: func(c string) handoff.Record { return queued("h", c, 1) },
			second: func(c string) handoff.Record {
				r := queued("h", c, 2)
				r.State, r.AgentID, r.AcceptedAt = handoff.StateAgent, "ana", t0.Add(time.Minute)
				return r
			},
			wantSecond: true,
		},
		{
			name: "OlderIgnored",
			first: func(c string) handoff.Record {
				r := queued("h", c, 5)
				r.State, r.EndedAt, r.Resolution = handoff.StateClosed, t0.Add(time.Hour), "solved"
				return r
			},
			second: func(c string) handoff.Record { return queued("h", c, 4) },
		},
		{
			name:  "SameVersionIgnored",
			first: func(c string) handoff.Record { return queued("h", c, 2) },
			second: func(c string) handoff.Record {
				r := queued("h", c, 2)
				r.State, r.Reason = handoff.StateBot, "changed"
				return r
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := MustOpenDB(t, nil)
			st := handoffstore.New(db)
			conv := MustCreateConversation(t, db)
			first, second := tc.first(conv.ID), tc.second(conv.ID)
			mustSave(t, st, first)
			mustSave(t, st, second) // an ignored save is not an error
			want := first
			if tc.wantSecond {
				want = second
			}
			got, err := db.HandoffRecord(ctx, "h")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != want.Version || got.State != want.State || got.Reason != want.Reason {
				t.Errorf("stored v%d %s %q, want v%d %s %q", got.Version, got.State, got.Reason, want.Version, want.State, want.Reason)
			}
			if s := MustConversationState(t, db, conv.ID); s != want.State {
				t.Errorf("conversation state = %q, want %q (the state of the winning version)", s, want.State)
			}
		})
	}

	t.Run("ConcurrentSavesKeepHighest", func(t *testing.T) {
		db, _ := MustOpenDB(t, nil)
		st := handoffstore.New(db)
		conv := MustCreateConversation(t, db)
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for v := int64(n); v >= 1; v-- { // the highest version is sent first
			wg.Go(func() {
				r := queued("h", conv.ID, v)
				if v == n {
					r.State = handoff.StateClosed
				}
				errs <- st.SaveHandoff(ctx, r)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.HandoffRecord(ctx, "h")
		if err != nil || got.Version != n || got.State != handoff.StateClosed {
			t.Fatalf("after concurrent saves: v%d %s, %v; want v%d closed", got.Version, got.State, err, n)
		}
		if s := MustConversationState(t, db, conv.ID); s != handoff.StateClosed {
			t.Fatalf("conversation state = %q, want closed", s)
		}
	})
}

func TestSaveFailures(t *testing.T) {
	ctx := context.Background()
	db, _ := MustOpenDB(t, nil)
	st := handoffstore.New(db)
	conv := MustCreateConversation(t, db)
	other := MustCreateConversation(t, db)
	mustSave(t, st, queued("h", conv.ID, 1))

	tests := []struct {
		name string
		rec  handoff.Record
		want error
	}{
		{"UnknownConversation", queued("h2", "no-such-conversation", 1), store.ErrNotFound},
		{"IDOfAnotherConversation", func() handoff.Record {
			r := queued("h", other.ID, 2)
			r.State, r.AgentID, r.AcceptedAt = handoff.StateAgent, "ana", t0.Add(time.Minute)
			return r
		}(), store.ErrConflict},
		{"UnknownState", func() handoff.Record { r := queued("h3", other.ID, 1); r.State = "lost"; return r }(), store.ErrInvalid},
		{"NoID", queued("", other.ID, 1), store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := st.SaveHandoff(ctx, tc.rec); !errors.Is(err, tc.want) {
				t.Fatalf("SaveHandoff error = %v, want %v", err, tc.want)
			}
		})
	}
	// Nothing of the failed saves is left: not the records, not a state, not a wait.
	if s := MustConversationState(t, db, other.ID); s != handoff.StateBot {
		t.Errorf("other conversation state = %q, want bot (untouched)", s)
	}
	if got := mustLoadOpen(t, st); len(got) != 1 || got[0].ConversationID != conv.ID || got[0].Version != 1 {
		t.Errorf("open hand-offs after failed saves = %+v, want only h v1 of the first conversation", got)
	}
	if ws, err := st.RecentWaits(ctx, 10); err != nil || len(ws) != 0 {
		t.Errorf("waits after failed saves = %v, %v; want none", ws, err)
	}
}

func TestRecentWaits(t *testing.T) {
	ctx := context.Background()
	db, _ := MustOpenDB(t, nil)
	st := handoffstore.New(db)

	// accept saves the acceptance of hand-off id, queued at q and accepted after wait.
	accept := func(id, conv string, version int64, q time.Time, wait time.Duration) {
		r := queued(id, conv, version)
		r.QueuedAt = q
		r.State, r.AgentID, r.AcceptedAt = handoff.StateAgent, "ana", q.Add(wait)
		mustSave(t, st, r)
	}
	a, b, c := MustCreateConversation(t, db), MustCreateConversation(t, db), MustCreateConversation(t, db)
	accept("a", a.ID, 2, t0, 30*time.Second)                     // accepted at +30s
	accept("b", b.ID, 2, t0.Add(10*time.Second), 5*time.Minute)  // accepted at +5m10s
	accept("c", c.ID, 2, t0.Add(time.Minute), 2*time.Second)     // accepted at +1m2s
	accept("c", c.ID, 2, t0.Add(time.Minute), 2*time.Second)     // a retried save: not counted twice
	accept("a", a.ID, 4, t0.Add(10*time.Minute), 45*time.Second) // back in the queue, accepted again at +10m45s
	// An outdated snapshot of an acceptance still counts: the visitor did wait.
	mustSave(t, st, func() handoff.Record { r := queued("a", a.ID, 5); return r }())
	accept("a", a.ID, 3, t0.Add(6*time.Minute), 20*time.Second) // accepted at +6m20s, arrives late
	// A queued or closed save is no acceptance.
	d := MustCreateConversation(t, db)
	mustSave(t, st, queued("d", d.ID, 1))

	all := []time.Duration{45 * time.Second, 20 * time.Second, 5 * time.Minute, 2 * time.Second, 30 * time.Second}
	tests := []struct {
		n    int
		want []time.Duration
	}{
		{10, all},
		{5, all},
		{2, all[:2]},
		{1, all[:1]},
		{0, []time.Duration{}},
		{-1, []time.Duration{}},
	}
	for _, tc := range tests {
		got, err := st.RecentWaits(ctx, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("RecentWaits(%d) = %v, want %v (newest acceptance first)", tc.n, got, tc.want)
		}
	}
}

func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()

	t.Run("RecordsAndWaits", func(t *testing.T) {
		db, path := MustOpenDB(t, nil)
		st := handoffstore.New(db)
		conv, done := MustCreateConversation(t, db), MustCreateConversation(t, db)
		r := queued("h", conv.ID, 1)
		r.Email = "visitor@example.com"
		mustSave(t, st, r)
		e := queued("e", done.ID, 2)
		e.State, e.AgentID, e.AcceptedAt = handoff.StateAgent, "ana", t0.Add(42*time.Second)
		mustSave(t, st, e)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		db = openAt(t, path, nil)
		defer db.Close()
		st = handoffstore.New(db)
		if got, want := mustLoadOpen(t, st), []handoff.Record{stored(e), stored(r)}; !reflect.DeepEqual(got, want) {
			// Equal CreatedAt: ordered by id.
			t.Fatalf("after reopen LoadOpenHandoffs =\n %+v\nwant\n %+v", got, want)
		}
		if ws, err := st.RecentWaits(ctx, 10); err != nil || !reflect.DeepEqual(ws, []time.Duration{42 * time.Second}) {
			t.Fatalf("after reopen RecentWaits = %v, %v; want [42s]", ws, err)
		}
		if s := MustConversationState(t, db, conv.ID); s != handoff.StateQueued {
			t.Fatalf("after reopen conversation state = %q, want queued", s)
		}
	})

	t.Run("QueueRestoresThroughTheAdapter", func(t *testing.T) {
		clock := &fakeNow{t: t0}
		db, path := MustOpenDB(t, nil)
		conv := MustCreateConversation(t, db)
		waiting := MustCreateConversation(t, db)
		q := newQueue(t, handoffstore.New(db), clock)
		if err := q.Connect(handoff.Agent{ID: "ana", Name: "Ana", Capacity: 2}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{conv.ID, waiting.ID} {
			if _, err := q.Enqueue(ctx, handoff.Request{ConversationID: c,
				Decision: handoff.Decision{Handoff: true, Reason: "asked", Evidence: "asked for a person"}}); err != nil {
				t.Fatal(err)
			}
		}
		clock.add(75 * time.Second)
		if _, err := q.Accept(ctx, "ana", conv.ID); err != nil {
			t.Fatal(err)
		}
		if q.Unsaved() != 0 {
			t.Fatalf("%d hand-offs unsaved", q.Unsaved())
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		db = openAt(t, path, nil)
		defer db.Close()
		if s := MustConversationState(t, db, conv.ID); s != handoff.StateAgent {
			t.Errorf("accepted conversation state = %q, want agent", s)
		}
		q = newQueue(t, handoffstore.New(db), clock)
		if err := q.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		if state, agent := q.Owner(conv.ID); state != handoff.StateAgent || agent != "ana" {
			t.Errorf("after restart Owner(accepted) = %s, %s; want agent, ana", state, agent)
		}
		if state, _ := q.Owner(waiting.ID); state != handoff.StateQueued {
			t.Errorf("after restart Owner(waiting) = %s, want queued", state)
		}
		ws, err := handoffstore.New(db).RecentWaits(ctx, 10)
		if err != nil || !reflect.DeepEqual(ws, []time.Duration{75 * time.Second}) {
			t.Errorf("after restart RecentWaits = %v, %v; want [1m15s]", ws, err)
		}
	})
}

// fakeNow is the queue's clock in tests: it only moves when told to.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeNow) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newQueue(tb testing.TB, st handoff.Store, clock *fakeNow) *handoff.Queue {
	tb.Helper()
	q, err := handoff.New(handoff.Options{Store: st, Now: clock.Now, Logger: quietLogger})
	if err != nil {
		tb.Fatal(err)
	}
	return q
}
