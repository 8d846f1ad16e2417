package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

// visitorFixture is a visitor with two conversations holding every kind of
// record the store keeps about a person, and a stranger who must be left alone.
type visitorFixture struct {
	db                  *store.DB
	path                string
	jane                string // visitor id
	janeConvs           []string
	stranger            string
	strangerConv        string
	handoffID           string
	agentID             string
	janeText, noteText  string
	janeEmail, wildcard string
}

func newVisitorFixture(t *testing.T) visitorFixture {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	f := visitorFixture{path: filepath.Join(t.TempDir(), "attune.db"),
		janeText: "my order for Jane zqxjk never came", noteText: "Jane is upset, call back qpwmv",
		janeEmail: "Jane_Roe@Example.com", wildcard: "janexroe@example.com"}
	f.db = MustOpenDBAt(t, f.path, store.Options{Now: clock.Now})
	db := f.db
	ana := MustCreateAgent(t, db, "ana", store.RoleAgent)
	f.agentID = ana.ID

	first, _ := MustCreateConversation(t, db)
	f.jane = first.VisitorID
	MustAppend(t, db, store.Message{ConversationID: first.ID, From: store.FromVisitor, ClientID: "c1", Text: f.janeText})
	if _, err := db.AppendBotTurn(ctx, store.Message{ConversationID: first.ID, Text: "sorry to hear that"},
		store.Decision{InReplyTo: 1, Intent: "where_is_my_order", Confidence: 0.9, Source: "intent", Rule: "answer",
			Details: []byte(`{"tone":{"frustration":0.8}}`)}); err != nil {
		t.Fatal(err)
	}
	f.handoffID = "h-jane"
	if _, err := db.SaveHandoffRecord(ctx, store.HandoffRecord{ID: f.handoffID, ConversationID: first.ID,
		State: store.StateAgent, Reason: "frustration", Evidence: "'never came'", AgentID: ana.ID,
		Email: "jane_roe@example.com", QueuedAt: start, AcceptedAt: start.Add(time.Minute), Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddNote(ctx, first.ID, ana.ID, f.noteText); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(time.Hour))
	second, err := db.CreateConversationFor(ctx, tokenHash("jane-again"), f.jane)
	if err != nil {
		t.Fatal(err)
	}
	MustAppend(t, db, store.Message{ConversationID: second.ID, From: store.FromVisitor, Text: "write to JANE_ROE@example.com please"})
	f.janeConvs = []string{first.ID, second.ID}

	other, _ := MustCreateConversation(t, db)
	f.stranger, f.strangerConv = other.VisitorID, other.ID
	// An address that only a wildcard reading of "_" would take for Jane's.
	MustAppend(t, db, store.Message{ConversationID: other.ID, From: store.FromVisitor, Text: "I am " + f.wildcard})
	return f
}

func TestVisitorsByEmail(t *testing.T) {
	f := newVisitorFixture(t)
	ctx := context.Background()
	tests := []struct {
		name, email string
		want        []string
		err         error
	}{
		{"hand-off email and own message, any case", "  " + f.janeEmail + " ", []string{f.jane}, nil},
		{"underscore is not a wildcard", "jane_roe@example.com", []string{f.jane}, nil},
		{"message only", f.wildcard, []string{f.stranger}, nil},
		{"nobody", "nobody@example.com", []string{}, nil},
		{"not an email", "jane", nil, store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.db.VisitorsByEmail(ctx, tc.email)
			if !errors.Is(err, tc.err) {
				t.Fatalf("VisitorsByEmail(%q) error = %v, want %v", tc.email, err, tc.err)
			}
			if tc.err == nil && !slices.Equal(got, tc.want) {
				t.Errorf("VisitorsByEmail(%q) = %v, want %v", tc.email, got, tc.want)
			}
		})
	}
}

func TestExportVisitor(t *testing.T) {
	f := newVisitorFixture(t)
	ctx := context.Background()
	x, err := f.db.ExportVisitor(ctx, f.jane)
	if err != nil {
		t.Fatal(err)
	}
	if x.VisitorID != f.jane || len(x.Conversations) != 2 {
		t.Fatalf("export = visitor %s with %d conversations, want %s with 2", x.VisitorID, len(x.Conversations), f.jane)
	}
	first, second := x.Conversations[0], x.Conversations[1]
	if first.ID != f.janeConvs[0] || second.ID != f.janeConvs[1] {
		t.Fatalf("conversations %s, %s; want %v oldest first", first.ID, second.ID, f.janeConvs)
	}
	if len(first.Messages) != 2 || first.Messages[0].Text != f.janeText || first.Messages[1].From != store.FromBot {
		t.Errorf("first conversation's messages = %+v", first.Messages)
	}
	if len(first.Decisions) != 1 || first.Decisions[0].Intent != "where_is_my_order" || string(first.Decisions[0].Details) == "" {
		t.Errorf("first conversation's decisions = %+v", first.Decisions)
	}
	if len(first.Handoffs) != 1 || first.Handoffs[0].Email != "jane_roe@example.com" {
		t.Errorf("first conversation's hand-offs = %+v", first.Handoffs)
	}
	if len(first.Notes) != 1 || first.Notes[0].Text != f.noteText || first.Notes[0].AgentName != "ana" {
		t.Errorf("first conversation's notes = %+v", first.Notes)
	}
	if len(second.Messages) != 1 || len(second.Decisions) != 0 || len(second.Handoffs) != 0 || len(second.Notes) != 0 {
		t.Errorf("second conversation = %+v", second)
	}
	if _, err := f.db.ExportVisitor(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("export of an unknown visitor = %v, want ErrNotFound", err)
	}
}

// Deleting a visitor takes every record about them, from the tables and from the files, and
// nothing of anyone else.
func TestDeleteVisitor(t *testing.T) {
	f := newVisitorFixture(t)
	ctx := context.Background()
	db := f.db
	// Jane is still with an agent: a running server holds that hand-off, so she is not deleted yet.
	if n, err := db.DeleteVisitor(ctx, f.jane); !errors.Is(err, store.ErrOpenHandoff) || n != 0 || !strings.Contains(err.Error(), f.janeConvs[0]) {
		t.Fatalf("DeleteVisitor with an open hand-off = %d, %v; want ErrOpenHandoff naming %s", n, err, f.janeConvs[0])
	}
	if _, err := db.Conversation(ctx, f.janeConvs[0]); err != nil {
		t.Fatalf("the refused delete took the conversation: %v", err)
	}
	closed, err := db.HandoffRecord(ctx, f.handoffID)
	if err != nil {
		t.Fatal(err)
	}
	closed.State, closed.EndedAt, closed.Resolution, closed.Version = store.StateClosed, closed.AcceptedAt.Add(time.Minute), "resolved", closed.Version+1
	if applied, err := db.SaveHandoffRecord(ctx, closed); err != nil || !applied {
		t.Fatalf("close the hand-off = %v, %v", applied, err)
	}
	n, err := db.DeleteVisitor(ctx, f.jane)
	if err != nil || n != 2 {
		t.Fatalf("DeleteVisitor = %d, %v; want 2 conversations", n, err)
	}
	if _, err := db.ExportVisitor(ctx, f.jane); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("export after delete = %v, want ErrNotFound", err)
	}
	for _, id := range f.janeConvs {
		if _, err := db.Conversation(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("conversation %s still there: %v", id, err)
		}
		assertEmpty(t, db, id)
		if ns, err := db.Notes(ctx, id); err != nil || len(ns) != 0 {
			t.Errorf("notes of %s = %+v, %v", id, ns, err)
		}
	}
	if _, err := db.HandoffRecord(ctx, f.handoffID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("hand-off record still there: %v", err)
	}
	if ws, err := db.RecentHandoffWaits(ctx, 10); err != nil || len(ws) != 0 {
		t.Errorf("waits = %+v, %v; want none", ws, err)
	}
	if got, err := db.VisitorsByEmail(ctx, f.janeEmail); err != nil || len(got) != 0 {
		t.Errorf("VisitorsByEmail after delete = %v, %v", got, err)
	}
	// The stranger and the agent stay.
	if msgs, err := db.MessagesAfter(ctx, f.strangerConv, 0, 0); err != nil || len(msgs) != 1 {
		t.Errorf("stranger's messages = %+v, %v", msgs, err)
	}
	if _, err := db.Agent(ctx, f.agentID); err != nil {
		t.Errorf("agent: %v", err)
	}
	if n, err := db.DeleteVisitor(ctx, f.jane); !errors.Is(err, store.ErrNotFound) || n != 0 {
		t.Errorf("second DeleteVisitor = %d, %v; want ErrNotFound", n, err)
	}
	for _, secret := range []string{"zqxjk", "qpwmv", "jane_roe", "JANE_ROE"} {
		assertNoTrace(t, f.path, secret)
	}
}
