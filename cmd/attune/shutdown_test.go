package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/store/handoffstore"
	"github.com/attune-chat/attune/web"
)

// stallingStore is a hand-off store whose next save can be made to fail (a transient database
// error), and whose next save after that can be held until its context ends: a queue tick in
// flight when the shutdown begins.
type stallingStore struct {
	handoff.Store
	failNext, stallNext atomic.Bool
	stalled             chan struct{} // closed when the held save starts
}

func (s *stallingStore) SaveHandoff(ctx context.Context, r handoff.Record) error {
	if s.failNext.CompareAndSwap(true, false) {
		return errors.New("database is locked (injected by the test)")
	}
	if s.stallNext.CompareAndSwap(true, false) {
		close(s.stalled)
		<-ctx.Done()
	}
	return s.Store.SaveHandoff(ctx, r)
}

// A hand-off change whose save failed waits for the queue's next tick to be saved; when the
// shutdown cuts that tick short, the change must still reach the database before it is closed.
func TestGracefulShutdownSavesHandoffChangesOfTheQueueTick(t *testing.T) {
	db := filepath.Join(t.TempDir(), "attune.db")
	st := &stallingStore{stalled: make(chan struct{})}
	td := mustStart(t, serveConfig{DB: db, Config: handoffConfig(t, 60),
		Web:   web.Options{RateBurst: 1000, RatePerSecond: 1000},
		hooks: testHooks{handoffStore: func(s handoff.Store) handoff.Store { st.Store = s; return st }}})
	v := startVisitor(t, td, "visitor")
	v.handOff("m1", askHumanText)

	st.failNext.Store(true)
	st.stallNext.Store(true)
	const email = "ann@example.com"
	if err := td.queue.LeaveEmail(context.Background(), v.conversationID, email); err != nil {
		t.Fatal(err)
	}
	if td.queue.Unsaved() != 1 {
		t.Fatalf("unsaved hand-offs %d after the injected failure, want 1", td.queue.Unsaved())
	}
	select {
	case <-st.stalled: // the queue's tick is retrying the save
	case <-time.After(frameTimeout):
		t.Fatal("the queue never retried the failed save")
	}
	td.stopNow()

	sdb, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	recs, err := handoffstore.New(sdb).LoadOpenHandoffs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Email != email {
		t.Fatalf("after the shutdown the database holds %+v; want the queued hand-off with the email the visitor left", recs)
	}
}

// A housekeeping sweep in flight when the shutdown begins finishes before the database closes.
func TestGracefulShutdownWaitsForHousekeeping(t *testing.T) {
	inSweep, release := make(chan struct{}), make(chan struct{})
	dbc := make(chan *store.DB, 1)
	wrote := make(chan error, 1)
	var once sync.Once
	td := mustStart(t, serveConfig{hooks: testHooks{sweep: func(ctx context.Context) {
		once.Do(func() {
			close(inSweep)
			<-ctx.Done()
			<-release
			// What a sweep does: delete expired console sessions.
			_, err := (<-dbc).DeleteExpiredSessions(context.Background(), time.Now())
			wrote <- err
		})
	}}})
	dbc <- td.store
	waitServing(t, td)
	<-inSweep
	stopped := make(chan struct{})
	go func() { td.stopNow(); close(stopped) }()
	select {
	case <-stopped:
		t.Error("Shutdown returned while a housekeeping sweep was still running")
	case <-time.After(2 * time.Second): // Shutdown is waiting, as it should
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Errorf("the sweep in flight at shutdown could not write: %v", err)
	}
	<-stopped
}

// The daily refresh of the knowledge reads the understanding in force and applies it again; a
// reload landing in between must not be undone by the old configuration.
func TestDailyRefreshDoesNotUndoAReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bakery.yaml")
	data, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	newer, err := intents.Parse(path, bytes.Replace(data, []byte("name: Crumb & Co."), []byte("name: Crumb & Daughters"), 1))
	if err != nil {
		t.Fatal(err)
	}
	u, err := intents.Train(newer)
	if err != nil {
		t.Fatal(err)
	}

	clock := &offsetClock{}
	var td atomic.Pointer[testDaemon]
	reloaded := make(chan error, 1)
	var once sync.Once
	refreshing := func() {
		once.Do(func() {
			// A reload lands between the refresh's read and its apply. It may have to wait for
			// the refresh (that is the fix); give it a second to show that it does not.
			go func() { reloaded <- td.Load().apply(u) }()
			select {
			case err := <-reloaded:
				reloaded <- err
			case <-time.After(time.Second):
			}
		})
	}
	td.Store(mustStart(t, serveConfig{Config: path, hooks: testHooks{now: clock.Now, refreshing: refreshing}}))
	waitServing(t, td.Load())
	clock.Advance(24 * time.Hour)
	td.Load().refreshDay() // the housekeeping may also get there first: either way the hook runs once
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if got := td.Load().engine.Understanding().Config.Business.Name; got != "Crumb & Daughters" {
		t.Fatalf("after a reload and the daily refresh the business is %q, want the reloaded Crumb & Daughters", got)
	}
}

// waitServing returns once the daemon answers HTTP: a shutdown before the web server has begun
// serving is a race of its own (see the report), not what these tests are about.
func waitServing(t *testing.T, td *testDaemon) {
	t.Helper()
	resp, err := http.Get(td.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
