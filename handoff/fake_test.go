package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
)

// memStore is an in-memory handoff.Store that keeps the same contract as the SQLite adapter:
// highest version wins, the conversation state follows the record.
type memStore struct {
	mu     sync.Mutex
	recs   map[string]handoff.Record
	states map[string]string
	waits  []time.Duration // newest first
	fail   error           // returned by SaveHandoff while set
	saves  int
}

var _ handoff.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{recs: map[string]handoff.Record{}, states: map[string]string{}}
}

func (s *memStore) SaveHandoff(_ context.Context, r handoff.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.saves++
	if old, ok := s.recs[r.ID]; ok && old.Version >= r.Version {
		return nil
	}
	if old := s.recs[r.ID]; r.State == handoff.StateAgent && !r.AcceptedAt.Equal(old.AcceptedAt) {
		s.waits = slices.Insert(s.waits, 0, r.AcceptedAt.Sub(r.QueuedAt))
	}
	s.recs[r.ID] = r
	s.states[r.ConversationID] = r.State
	return nil
}

func (s *memStore) LoadOpenHandoffs(context.Context) ([]handoff.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []handoff.Record
	for _, r := range s.recs {
		if r.Open() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b handoff.Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *memStore) RecentWaits(_ context.Context, n int) ([]time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits[:min(n, len(s.waits))]), nil
}

func (s *memStore) state(conv string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[conv]
}

// recorder is a handoff.Notifier that remembers every event.
type recorder struct {
	mu       sync.Mutex
	changes  int
	offers   []handoff.Offer
	assigned []handoff.Assignment
	alerts   []handoff.Alert
	returns  []handoff.Return
}

func (r *recorder) QueueChanged() {
	r.mu.Lock()
	r.changes++
	r.mu.Unlock()
}
func (r *recorder) Offered(o handoff.Offer) {
	r.mu.Lock()
	r.offers = append(r.offers, o)
	r.mu.Unlock()
}
func (r *recorder) Assigned(a handoff.Assignment) {
	r.mu.Lock()
	r.assigned = append(r.assigned, a)
	r.mu.Unlock()
}
func (r *recorder) Alert(a handoff.Alert) { r.mu.Lock(); r.alerts = append(r.alerts, a); r.mu.Unlock() }
func (r *recorder) Returned(x handoff.Return) {
	r.mu.Lock()
	r.returns = append(r.returns, x)
	r.mu.Unlock()
}

func (r *recorder) lastOffer() handoff.Offer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.offers) == 0 {
		return handoff.Offer{}
	}
	return r.offers[len(r.offers)-1]
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	q     *handoff.Queue
	store *memStore
	note  *recorder
	clock *clock
	ids   int
}

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// mustQueue builds a queue on a fake store, notifier and clock. open may be nil (always open).
func mustQueue(tb testing.TB, st *memStore, open func(time.Time) bool) *fixture {
	tb.Helper()
	if st == nil {
		st = newMemStore()
	}
	f := &fixture{store: st, note: &recorder{}, clock: &clock{t: t0}}
	cfg := intents.HandoffConfig{WaitAlertSeconds: 120, GraceSeconds: 60, OfflineMessage: "Nobody is in right now. Leave your email and we'll reply."}
	q, err := handoff.New(handoff.Options{Config: cfg, Open: open, Store: st, Notifier: f.note, Now: f.clock.Now,
		NewID: func() string { f.ids++; return fmt.Sprintf("h%d", f.ids) }, OfferTimeout: 30 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	f.q = q
	return f
}

func (f *fixture) connect(tb testing.TB, id string, capacity int, skills ...string) {
	tb.Helper()
	if err := f.q.Connect(handoff.Agent{ID: id, Name: "Agent " + id, Capacity: capacity, Skills: skills}); err != nil {
		tb.Fatal(err)
	}
}

func (f *fixture) enqueue(tb testing.TB, conv string, mood handoff.Mood, tags ...string) handoff.Outcome {
	tb.Helper()
	o, err := f.q.Enqueue(context.Background(), handoff.Request{ConversationID: conv, Tags: tags,
		Decision: handoff.Decision{Handoff: true, Reason: handoff.ReasonUnresolved, Evidence: "test", Mood: mood}})
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

func (f *fixture) tick(tb testing.TB) {
	tb.Helper()
	f.q.Tick(context.Background())
}

func (f *fixture) status(tb testing.TB, id string) handoff.AgentStatus {
	tb.Helper()
	for _, a := range f.q.Agents() {
		if a.ID == id {
			return a
		}
	}
	tb.Fatalf("agent %s unknown", id)
	return handoff.AgentStatus{}
}

var errDiskFull = errors.New("disk full")
