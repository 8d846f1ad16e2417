package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// A hand-off save that fails after the conversation's state was set leaves neither: the state
// change and the record are one request, one transaction.
func TestSaveHandoffRecordRollsBackStateOnFailure(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDBAt(t, filepath.Join(t.TempDir(), "a.db"), store.Options{})
	conv, _ := MustCreateConversation(t, db)
	// A full disk: the state update rewrites a page in place, but the record's evidence needs
	// new overflow pages, so the upsert fails after the update.
	if err := db.LimitPages(ctx, 0); err != nil {
		t.Fatal(err)
	}
	r := store.HandoffRecord{ID: "h", ConversationID: conv.ID, State: store.StateQueued, Reason: "asked",
		Evidence: strings.Repeat("x", 64<<10), QueuedAt: time.Now(), Version: 1}
	applied, err := db.SaveHandoffRecord(ctx, r)
	if !errors.Is(err, store.ErrFull) || applied {
		t.Fatalf("SaveHandoffRecord on a full disk = %v, %v; want false, ErrFull", applied, err)
	}
	if s := MustConversationState(t, db, conv.ID); s != store.StateBot {
		t.Fatalf("conversation state after a failed save = %q, want bot (rolled back)", s)
	}
	if _, err := db.HandoffRecord(ctx, "h"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record after a failed save: %v, want ErrNotFound", err)
	}

	if err := db.LimitPages(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if applied, err := db.SaveHandoffRecord(ctx, r); err != nil || !applied {
		t.Fatalf("SaveHandoffRecord with room = %v, %v; want true, nil", applied, err)
	}
	if applied, err := db.SaveHandoffRecord(ctx, r); err != nil || applied {
		t.Fatalf("SaveHandoffRecord of the same version again = %v, %v; want false (ignored), nil", applied, err)
	}
	if s := MustConversationState(t, db, conv.ID); s != store.StateQueued {
		t.Fatalf("conversation state = %q, want queued", s)
	}
}
