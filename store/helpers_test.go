package store_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// quietLogger keeps test output readable; failures are asserted, not logged.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// MustOpenDB opens a fresh database file in a temporary directory and closes
// it when the test ends.
func MustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	return MustOpenDBAt(tb, filepath.Join(tb.TempDir(), "attune.db"), store.Options{})
}

// MustOpenDBAt opens the database at path with opt (quiet logger unless set)
// and closes it when the test ends.
func MustOpenDBAt(tb testing.TB, path string, opt store.Options) *store.DB {
	tb.Helper()
	if opt.Logger == nil {
		opt.Logger = quietLogger
	}
	db, err := store.Open(context.Background(), path, opt)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close %s: %v", path, err)
		}
	})
	return db
}

// tokenHash returns the SHA-256 of a resume token, as the web layer stores it.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// MustCreateConversation creates a conversation with a fresh random token and
// returns it with that token.
func MustCreateConversation(tb testing.TB, db *store.DB) (store.Conversation, string) {
	tb.Helper()
	token := store.NewID()
	c, err := db.CreateConversation(context.Background(), tokenHash(token))
	if err != nil {
		tb.Fatalf("create conversation: %v", err)
	}
	return c, token
}

// MustAppend appends a message and fails the test on error.
func MustAppend(tb testing.TB, db *store.DB, m store.Message) store.Message {
	tb.Helper()
	saved, _, err := db.AppendMessage(context.Background(), m)
	if err != nil {
		tb.Fatalf("append %+v: %v", m, err)
	}
	return saved
}

// fakeClock is an injectable Options.Now that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(start time.Time) *fakeClock { return &fakeClock{now: start} }

// MustOpenDBWithClock opens a new store file whose clock starts at start and
// moves only when the test sets it.
func MustOpenDBWithClock(tb testing.TB, start time.Time) (*store.DB, *fakeClock) {
	tb.Helper()
	clock := newFakeClock(start)
	return MustOpenDBAt(tb, filepath.Join(tb.TempDir(), "a.db"), store.Options{Now: clock.Now}), clock
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// waitQueued waits until n write requests sit in the writer's queue.
func waitQueued(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for db.QueuedWrites() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d write requests queued after 10s", db.QueuedWrites(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// nanValue is a confidence SQLite stores as NULL, which the NOT NULL column
// refuses: a way to make a decision insert fail after its message insert.
func nanValue() float64 { return math.NaN() }
