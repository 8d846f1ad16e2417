package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// Retention takes a conversation's hand-off records, waits and notes with it.
func TestRetentionDeletesHandoffRecordsAndNotes(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)
	db, _ := MustOpenDBWithClock(t, start)
	ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
	conv, _ := MustCreateConversation(t, db)
	r := store.HandoffRecord{ID: "h", ConversationID: conv.ID, State: store.StateAgent, Reason: "asked",
		AgentID: ana.ID, QueuedAt: start, AcceptedAt: start.Add(time.Minute), Version: 1}
	if applied, err := db.SaveHandoffRecord(ctx, r); err != nil || !applied {
		t.Fatalf("save = %v, %v", applied, err)
	}
	if err := db.AddNote(ctx, conv.ID, ana.ID, "called back"); err != nil {
		t.Fatal(err)
	}
	// Retention keeps an open hand-off (TestDeleteExpiredKeepsOpenHandoffs): close it first.
	r.State, r.EndedAt, r.Resolution, r.Version = store.StateClosed, start.Add(2*time.Minute), "resolved", 2
	if applied, err := db.SaveHandoffRecord(ctx, r); err != nil || !applied {
		t.Fatalf("save closed = %v, %v", applied, err)
	}
	if n, err := db.DeleteExpired(ctx, start.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, err := db.HandoffRecord(ctx, "h"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("hand-off of a deleted conversation: error = %v, want ErrNotFound", err)
	}
	if open, err := db.OpenHandoffRecords(ctx); err != nil || len(open) != 0 {
		t.Errorf("open hand-offs after retention = %+v, %v; want none", open, err)
	}
	if waits, err := db.RecentHandoffWaits(ctx, 10); err != nil || len(waits) != 0 {
		t.Errorf("waits after retention = %+v, %v; want none", waits, err)
	}
	if notes, err := db.Notes(ctx, conv.ID); err != nil || len(notes) != 0 {
		t.Errorf("notes of a deleted conversation = %+v, %v; want none", notes, err)
	}
}

func TestNotes(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)

	t.Run("InOrderWithAuthor", func(t *testing.T) {
		db, clock := MustOpenDBWithClock(t, start)
		ana, err := db.CreateAgent(ctx, store.Agent{Login: "ana", Name: "Ana Silva"}, fakeHash("a"))
		if err != nil {
			t.Fatal(err)
		}
		bo := MustCreateAgent(t, db, "bo", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)
		other, _ := MustCreateConversation(t, db)
		writes := []struct {
			conv, agent, text string
		}{
			{conv.ID, ana.ID, "  VIP customer  "},
			{other.ID, bo.ID, "elsewhere"},
			{conv.ID, bo.ID, "order #1234 confirmed lost"},
			{conv.ID, ana.ID, "refund approved"},
		}
		for i, w := range writes {
			clock.Set(start.Add(time.Duration(i) * time.Second)) // same-second notes are ordered by seq, not time
			if err := db.AddNote(ctx, w.conv, w.agent, w.text); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Notes(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Note{
			{ConversationID: conv.ID, Seq: 1, AgentID: ana.ID, AgentName: "Ana Silva", Text: "VIP customer", At: start},
			{ConversationID: conv.ID, Seq: 2, AgentID: bo.ID, AgentName: "bo", Text: "order #1234 confirmed lost", At: start.Add(2 * time.Second)},
			{ConversationID: conv.ID, Seq: 3, AgentID: ana.ID, AgentName: "Ana Silva", Text: "refund approved", At: start.Add(3 * time.Second)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Notes = %+v\nwant %+v", got, want)
		}
		// Notes are not messages: the visitor's transcript has none of them.
		msgs, err := db.MessagesAfter(ctx, conv.ID, 0, 0)
		if err != nil || len(msgs) != 0 {
			t.Fatalf("messages after adding notes = %+v, %v; want none", msgs, err)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		db := MustOpenDB(t)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)
		tests := []struct {
			name, conv, agent, text string
			want                    error
			message                 string
		}{
			{"Empty", conv.ID, ana.ID, " \n ", store.ErrInvalid, "empty"},
			{"TooLong", conv.ID, ana.ID, strings.Repeat("x", store.MaxNoteLen+1), store.ErrInvalid, "at most"},
			{"UnknownConversation", "nope", ana.ID, "hi", store.ErrNotFound, "conversation nope"},
			{"UnknownAgent", conv.ID, "ghost", "hi", store.ErrNotFound, "agent ghost"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := db.AddNote(ctx, tc.conv, tc.agent, tc.text)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
					t.Fatalf("AddNote error = %v, want %v containing %q", err, tc.want, tc.message)
				}
			})
		}
		if notes, err := db.Notes(ctx, conv.ID); err != nil || len(notes) != 0 {
			t.Fatalf("notes after refused writes = %+v, %v; want none", notes, err)
		}
		if notes, err := db.Notes(ctx, "unknown"); err != nil || notes == nil || len(notes) != 0 {
			t.Fatalf("Notes(unknown) = %#v, %v; want empty, no error", notes, err)
		}
	})
}
