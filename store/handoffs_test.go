package store_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// MustSaveHandoff saves h and fails the test on error.
func MustSaveHandoff(tb testing.TB, db *store.DB, h store.Handoff) {
	tb.Helper()
	if err := db.SaveHandoff(context.Background(), h); err != nil {
		tb.Fatalf("save hand-off %+v: %v", h, err)
	}
}

// MustHandoff reads a conversation's hand-off and fails the test on error.
func MustHandoff(tb testing.TB, db *store.DB, conversationID string) store.Handoff {
	tb.Helper()
	h, err := db.Handoff(context.Background(), conversationID)
	if err != nil {
		tb.Fatalf("hand-off of %s: %v", conversationID, err)
	}
	return h
}

func TestHandoffs(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)

	t.Run("LifecycleUpsertsAndMovesConversationState", func(t *testing.T) {
		clock := newFakeClock(start)
		db := MustOpenDBAt(t, filepath.Join(t.TempDir(), "a.db"), store.Options{Now: clock.Now})
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)

		queued := store.Handoff{
			ConversationID: conv.ID, Reason: "frustration",
			Evidence: "frustration 0.82 ≥ 0.70: 'third time', 'still not arrived'",
			Priority: 0.82, Tags: []string{"orders", " ", "delivery"},
		}
		steps := []struct {
			name      string
			at        time.Time
			change    func(h *store.Handoff)
			want      store.Handoff
			convState string
			open      bool
		}{
			{
				name:   "Queued",
				at:     start,
				change: func(h *store.Handoff) { h.State = store.HandoffQueued },
				want: store.Handoff{ConversationID: conv.ID, Reason: "frustration", Evidence: queued.Evidence,
					Priority: 0.82, Tags: []string{"orders", "delivery"}, State: store.HandoffQueued, QueuedAt: start},
				convState: store.StateQueued, open: true,
			},
			{
				name: "OfferedWithEmail",
				at:   start.Add(time.Minute),
				change: func(h *store.Handoff) {
					h.State, h.AgentID, h.QueuedAt, h.VisitorEmail = store.HandoffOffered, ana.ID, start, " visitor@example.org "
				},
				want: store.Handoff{ConversationID: conv.ID, Reason: "frustration", Evidence: queued.Evidence,
					Priority: 0.82, Tags: []string{"orders", "delivery"}, State: store.HandoffOffered, AgentID: ana.ID,
					QueuedAt: start, VisitorEmail: "visitor@example.org"},
				convState: store.StateQueued, open: true,
			},
			{
				name: "Assigned",
				at:   start.Add(2 * time.Minute),
				change: func(h *store.Handoff) {
					h.State, h.Priority = store.HandoffAssigned, 0.9
				},
				want: store.Handoff{ConversationID: conv.ID, Reason: "frustration", Evidence: queued.Evidence,
					Priority: 0.9, Tags: []string{"orders", "delivery"}, State: store.HandoffAssigned, AgentID: ana.ID,
					QueuedAt: start, AssignedAt: start.Add(2 * time.Minute), VisitorEmail: "visitor@example.org"},
				convState: store.StateAgent, open: true,
			},
			{
				name: "ClosedWithResolution",
				at:   start.Add(10 * time.Minute),
				change: func(h *store.Handoff) {
					h.State, h.AssignedAt, h.Resolution = store.HandoffClosed, start.Add(2*time.Minute), "refunded"
				},
				want: store.Handoff{ConversationID: conv.ID, Reason: "frustration", Evidence: queued.Evidence,
					Priority: 0.9, Tags: []string{"orders", "delivery"}, State: store.HandoffClosed, AgentID: ana.ID,
					QueuedAt: start, AssignedAt: start.Add(2 * time.Minute), ClosedAt: start.Add(10 * time.Minute),
					Resolution: "refunded", VisitorEmail: "visitor@example.org"},
				convState: store.StateClosed, open: false,
			},
			{
				name: "HandedOffAgainReusesTheRow",
				at:   start.Add(time.Hour),
				change: func(h *store.Handoff) {
					*h = store.Handoff{ConversationID: conv.ID, Reason: "asked for a person", State: store.HandoffQueued,
						AssignedAt: start, ClosedAt: start} // stale times are cleared for a queued hand-off
				},
				want: store.Handoff{ConversationID: conv.ID, Reason: "asked for a person", Tags: []string{},
					State: store.HandoffQueued, QueuedAt: start.Add(time.Hour)},
				convState: store.StateQueued, open: true,
			},
		}
		h := queued
		for _, step := range steps {
			clock.Set(step.at)
			step.change(&h)
			MustSaveHandoff(t, db, h)
			got := MustHandoff(t, db, conv.ID)
			if !reflect.DeepEqual(got, step.want) {
				t.Fatalf("%s: hand-off = %+v\nwant %+v", step.name, got, step.want)
			}
			if s := MustConversationState(t, db, conv.ID); s != step.convState {
				t.Fatalf("%s: conversation state = %q, want %q", step.name, s, step.convState)
			}
			open, err := db.OpenHandoffs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if (len(open) == 1) != step.open || len(open) > 1 {
				t.Fatalf("%s: open hand-offs = %+v, want open=%t (one row per conversation)", step.name, open, step.open)
			}
		}
	})

	t.Run("ReturnToBot", func(t *testing.T) {
		db := MustOpenDB(t)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)
		MustSaveHandoff(t, db, store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffAssigned, AgentID: ana.ID})
		MustSaveHandoff(t, db, store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffClosed,
			AgentID: ana.ID, Resolution: "returned to bot", ConversationState: store.StateBot})
		if s := MustConversationState(t, db, conv.ID); s != store.StateBot {
			t.Fatalf("conversation state after return to bot = %q, want bot", s)
		}
		if h := MustHandoff(t, db, conv.ID); h.State != store.HandoffClosed || h.ClosedAt.IsZero() {
			t.Fatalf("hand-off after return to bot = %+v, want closed with a close time", h)
		}
	})

	t.Run("OpenHandoffsOldestFirst", func(t *testing.T) {
		db := MustOpenDB(t)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		var ids []string
		for i, state := range []string{store.HandoffAssigned, store.HandoffClosed, store.HandoffQueued, store.HandoffOffered} {
			c, _ := MustCreateConversation(t, db)
			h := store.Handoff{ConversationID: c.ID, Reason: "asked", State: state,
				QueuedAt: start.Add(-time.Duration(i) * time.Minute)} // later conversations waited longer
			if state != store.HandoffQueued {
				h.AgentID = ana.ID
			}
			MustSaveHandoff(t, db, h)
			if state != store.HandoffClosed {
				ids = append(ids, c.ID)
			}
		}
		open, err := db.OpenHandoffs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range open {
			got = append(got, h.ConversationID)
		}
		want := []string{ids[2], ids[1], ids[0]} // offered (-3m), queued (-2m), assigned (0)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("open hand-offs = %v, want oldest first %v", got, want)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		db := MustOpenDB(t)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)
		ok := store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffQueued}
		tests := []struct {
			name    string
			change  func(h *store.Handoff)
			want    error
			message string
		}{
			{"NoConversation", func(h *store.Handoff) { h.ConversationID = "" }, store.ErrInvalid, "no conversation id"},
			{"UnknownConversation", func(h *store.Handoff) { h.ConversationID = "nope" }, store.ErrNotFound, "conversation nope"},
			{"UnknownState", func(h *store.Handoff) { h.State = "waiting" }, store.ErrInvalid, `state "waiting"`},
			{"NoReason", func(h *store.Handoff) { h.Reason = " " }, store.ErrInvalid, "no reason"},
			{"NaNPriority", func(h *store.Handoff) { h.Priority = math.NaN() }, store.ErrInvalid, "priority"},
			{"InfPriority", func(h *store.Handoff) { h.Priority = math.Inf(1) }, store.ErrInvalid, "priority"},
			{"QueuedWithAgent", func(h *store.Handoff) { h.AgentID = ana.ID }, store.ErrInvalid, "queued hand-off has no agent"},
			{"AssignedWithoutAgent", func(h *store.Handoff) { h.State = store.HandoffAssigned }, store.ErrInvalid, "needs the agent"},
			{"OfferedWithoutAgent", func(h *store.Handoff) { h.State = store.HandoffOffered }, store.ErrInvalid, "needs the agent"},
			{"AssignedToUnknownAgent", func(h *store.Handoff) { h.State, h.AgentID = store.HandoffAssigned, "ghost" }, store.ErrNotFound, "agent ghost"},
			{"QueuedButConversationClosed", func(h *store.Handoff) { h.ConversationState = store.StateClosed }, store.ErrInvalid, `state "closed"`},
			{"AssignedButBot", func(h *store.Handoff) {
				h.State, h.AgentID, h.ConversationState = store.HandoffAssigned, ana.ID, store.StateBot
			}, store.ErrInvalid, `state "bot"`},
			{"BadEmail", func(h *store.Handoff) { h.VisitorEmail = "not an address" }, store.ErrInvalid, "e-mail"},
			{"LongEmail", func(h *store.Handoff) { h.VisitorEmail = strings.Repeat("a", 250) + "@x.org" }, store.ErrInvalid, "e-mail"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				h := ok
				tc.change(&h)
				err := db.SaveHandoff(ctx, h)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
					t.Fatalf("SaveHandoff error = %v, want %v containing %q", err, tc.want, tc.message)
				}
			})
		}
		if _, err := db.Handoff(ctx, conv.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused hand-off was stored: %v", err)
		}
		if s := MustConversationState(t, db, conv.ID); s != store.StateBot {
			t.Fatalf("conversation state after refused hand-offs = %q, want bot", s)
		}
	})

	// The state change and the hand-off row commit together or not at all:
	// the conversation update runs first, so a failing upsert must undo it.
	t.Run("StateChangeIsAtomicWithTheHandoff", func(t *testing.T) {
		db := MustOpenDB(t)
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)
		MustSaveHandoff(t, db, store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffQueued})

		err := db.SaveHandoff(ctx, store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffAssigned, AgentID: "ghost"})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("assign to a missing agent: error = %v, want ErrNotFound", err)
		}
		if s := MustConversationState(t, db, conv.ID); s != store.StateQueued {
			t.Fatalf("conversation state after a failed assignment = %q, want queued (rolled back)", s)
		}
		if h := MustHandoff(t, db, conv.ID); h.State != store.HandoffQueued || h.AgentID != "" {
			t.Fatalf("hand-off after a failed assignment = %+v, want still queued", h)
		}

		// The same inside one group-commit batch: the failing request is
		// rolled back to its savepoint alone; its neighbour commits.
		other, _ := MustCreateConversation(t, db)
		resume, wait := db.PauseWriter(ctx)
		errs := make(chan error, 2)
		go func() {
			errs <- db.SaveHandoff(ctx, store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffAssigned, AgentID: "ghost"})
		}()
		go func() {
			errs <- db.SaveHandoff(ctx, store.Handoff{ConversationID: other.ID, Reason: "asked", State: store.HandoffAssigned, AgentID: ana.ID})
		}()
		waitQueued(t, db, 2)
		resume()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		var failed, succeeded int
		for range 2 {
			if err := <-errs; err == nil {
				succeeded++
			} else if errors.Is(err, store.ErrNotFound) {
				failed++
			} else {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if failed != 1 || succeeded != 1 {
			t.Fatalf("batch outcomes: %d failed, %d succeeded; want 1 and 1", failed, succeeded)
		}
		if s := MustConversationState(t, db, conv.ID); s != store.StateQueued {
			t.Errorf("failed request's conversation = %q, want queued", s)
		}
		if s := MustConversationState(t, db, other.ID); s != store.StateAgent {
			t.Errorf("successful neighbour's conversation = %q, want agent", s)
		}
		if h := MustHandoff(t, db, other.ID); h.State != store.HandoffAssigned || h.AgentID != ana.ID {
			t.Errorf("successful neighbour's hand-off = %+v, want assigned to ana", h)
		}
	})

	t.Run("RetentionDeletesHandoffsAndNotes", func(t *testing.T) {
		clock := newFakeClock(start)
		db := MustOpenDBAt(t, filepath.Join(t.TempDir(), "a.db"), store.Options{Now: clock.Now})
		ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
		conv, _ := MustCreateConversation(t, db)
		MustSaveHandoff(t, db, store.Handoff{ConversationID: conv.ID, Reason: "asked", State: store.HandoffQueued})
		if err := db.AddNote(ctx, conv.ID, ana.ID, "called back"); err != nil {
			t.Fatal(err)
		}
		if n, err := db.DeleteExpired(ctx, start.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
		}
		if _, err := db.Handoff(ctx, conv.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("hand-off of a deleted conversation: error = %v, want ErrNotFound", err)
		}
		if notes, err := db.Notes(ctx, conv.ID); err != nil || len(notes) != 0 {
			t.Errorf("notes of a deleted conversation = %+v, %v; want none", notes, err)
		}
		if open, err := db.OpenHandoffs(ctx); err != nil || len(open) != 0 {
			t.Errorf("open hand-offs after retention = %+v, %v; want none", open, err)
		}
	})
}

func TestNotes(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)

	t.Run("InOrderWithAuthor", func(t *testing.T) {
		clock := newFakeClock(start)
		db := MustOpenDBAt(t, filepath.Join(t.TempDir(), "a.db"), store.Options{Now: clock.Now})
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
