package handoffstore_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// quietLogger keeps test output readable; failures are asserted, not logged.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// openAt opens the database file at path with a quiet logger and the given clock (nil: real
// time). The caller closes it.
func openAt(tb testing.TB, path string, now func() time.Time) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), path, store.Options{Logger: quietLogger, Now: now})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	return db
}

// MustOpenDB opens a fresh database file in a temporary directory and closes it when the test
// ends. It returns the file's path too, for tests that reopen it.
func MustOpenDB(tb testing.TB, now func() time.Time) (*store.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "attune.db")
	db := openAt(tb, path, now)
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close %s: %v", path, err)
		}
	})
	return db, path
}

// MustCreateConversation creates a conversation (state bot) with a fresh random token.
func MustCreateConversation(tb testing.TB, db *store.DB) store.Conversation {
	tb.Helper()
	h := sha256.Sum256([]byte(store.NewID()))
	c, err := db.CreateConversation(context.Background(), h[:])
	if err != nil {
		tb.Fatalf("create conversation: %v", err)
	}
	return c
}

// MustConversationState reads a conversation's state and fails the test on error.
func MustConversationState(tb testing.TB, db *store.DB, id string) string {
	tb.Helper()
	c, err := db.Conversation(context.Background(), id)
	if err != nil {
		tb.Fatalf("conversation %s: %v", id, err)
	}
	return c.State
}
