package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/attune-chat/attune/store"
)

func TestOpen(t *testing.T) {
	t.Run("MigrationsAppliedOnceAndDataSurvivesReopen", func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "nested", "dir", "attune.db") // parent dirs are created
		db, err := store.Open(ctx, path, store.Options{Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		first, err := db.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) == 0 || first[0] != "0001_init" {
			t.Fatalf("migrations after first open = %v, want to start with 0001_init", first)
		}
		conv, token := MustCreateConversation(t, db)
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "hello", ClientID: "c1"})
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		for i := range 2 { // reopening twice must not re-apply anything
			db = MustOpenDBAt(t, path, store.Options{})
			again, err := db.Migrations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, first) {
				t.Fatalf("reopen %d: migrations = %v, want %v", i, again, first)
			}
			got, err := db.ConversationByToken(ctx, tokenHash(token))
			if err != nil {
				t.Fatalf("reopen %d: conversation lost: %v", i, err)
			}
			if got.ID != conv.ID || got.LastSeq != 1 {
				t.Fatalf("reopen %d: conversation = %+v, want id %s last_seq 1", i, got, conv.ID)
			}
			msgs, err := db.MessagesAfter(ctx, conv.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].Text != "hello" || msgs[0].ClientID != "c1" {
				t.Fatalf("reopen %d: messages = %+v", i, msgs)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("WALAndCompanionFiles", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "attune.db")
		db := MustOpenDBAt(t, path, store.Options{})
		MustCreateConversation(t, db)
		if _, err := os.Stat(path + "-wal"); err != nil {
			t.Fatalf("no WAL file beside the database: %v", err)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		db := MustOpenDB(t)
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular-file")
	if err := os.WriteFile(regular, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not an SQLite file ", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want []string // substrings of the error message
	}{
		{"UnderRegularFile", filepath.Join(regular, "attune.db"), []string{"open database " + filepath.Join(regular, "attune.db"), "create directory", "not a directory"}},
		{"IsDirectory", dir, []string{"open database " + dir, "is a directory"}},
		{"Empty", "", []string{"open database", "empty path"}},
		{"NotADatabase", notDB, []string{"open database " + notDB, "not a database"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(context.Background(), tt.path, store.Options{Logger: quietLogger})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.path)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q) error = %q, want it to contain %q", tt.path, err, w)
				}
			}
		})
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()

	t.Run("WriteAfterCloseIsErrClosed", func(t *testing.T) {
		db, err := store.Open(ctx, filepath.Join(t.TempDir(), "attune.db"), store.Options{Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		conv, token := MustCreateConversation(t, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
		calls := []struct {
			name string
			call func() error
		}{
			{"AppendMessage", func() error {
				_, _, err := db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "x"})
				return err
			}},
			{"AppendBotTurn", func() error {
				_, err := db.AppendBotTurn(ctx, store.Message{ConversationID: conv.ID, Text: "x"}, store.Decision{})
				return err
			}},
			{"CreateConversation", func() error { _, err := db.CreateConversation(ctx, tokenHash("new")); return err }},
			{"SetState", func() error { return db.SetState(ctx, conv.ID, store.StateClosed) }},
			{"DeleteExpired", func() error { _, err := db.DeleteExpired(ctx, conv.CreatedAt); return err }},
			{"Conversation", func() error { _, err := db.Conversation(ctx, conv.ID); return err }},
			{"ConversationByToken", func() error { _, err := db.ConversationByToken(ctx, tokenHash(token)); return err }},
			{"MessagesAfter", func() error { _, err := db.MessagesAfter(ctx, conv.ID, 0, 0); return err }},
			{"Decisions", func() error { _, err := db.Decisions(ctx, conv.ID); return err }},
			{"Ping", func() error { return db.Ping(ctx) }},
		}
		for _, c := range calls {
			if err := c.call(); !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
			}
		}
	})

	t.Run("QueuedWritesFinish", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "attune.db")
		db, err := store.Open(ctx, path, store.Options{Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		conv, _ := MustCreateConversation(t, db)
		resume, wait := db.PauseWriter(ctx)
		const n = 20
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, _, err := db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "queued", ClientID: string(rune('a' + i))})
				errs <- err
			}()
		}
		waitQueued(t, db, n)
		closed := make(chan error, 1)
		go func() { closed <- db.Close() }()
		resume()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := <-errs; err != nil {
				t.Errorf("queued write during Close: %v", err)
			}
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}

		db = MustOpenDBAt(t, path, store.Options{})
		got, err := db.Conversation(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastSeq != n {
			t.Fatalf("after Close and reopen last_seq = %d, want %d", got.LastSeq, n)
		}
	})
}
