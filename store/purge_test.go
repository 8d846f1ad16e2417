package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// assertNoTrace fails when any of the database's files (the main file, its
// WAL) still holds secret: a deleted transcript must not be recoverable from
// a copy of the files, such as a backup taken after the deletion.
func assertNoTrace(tb testing.TB, path, secret string) {
	tb.Helper()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			tb.Errorf("%s (%d bytes) still holds the deleted text %q", filepath.Base(p), len(b), secret)
		}
	}
}

// An expired transcript is gone from the files, not just from the tables: while the database is
// still open (a running server after its retention sweep) and after it is closed.
func TestDeleteExpiredLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := newFakeClock(day0)
	path := filepath.Join(t.TempDir(), "attune.db")
	db, err := store.Open(ctx, path, store.Options{Now: clock.Now, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const secret = "card 4111111111111111 for Jane Roe zqxjk"
	old, _ := MustCreateConversation(t, db)
	MustAppend(t, db, store.Message{ConversationID: old.ID, From: store.FromVisitor, Text: secret})
	if _, err := db.AppendBotTurn(ctx, store.Message{ConversationID: old.ID, Text: "noted: " + secret},
		store.Decision{InReplyTo: 1, Intent: "payment", Source: "intent", Rule: "answer"}); err != nil {
		t.Fatal(err)
	}
	clock.Set(day0.AddDate(0, 0, 30))
	fresh, _ := MustCreateConversation(t, db)
	MustAppend(t, db, store.Message{ConversationID: fresh.ID, From: store.FromVisitor, Text: "still here"})

	if n, err := db.DeleteExpired(ctx, day0.AddDate(0, 0, 1)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	t.Run("WhileOpen", func(t *testing.T) { assertNoTrace(t, path, "zqxjk") })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("AfterClose", func(t *testing.T) { assertNoTrace(t, path, "zqxjk") })
}
