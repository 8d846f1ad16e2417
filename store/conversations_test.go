package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

func TestConversations(t *testing.T) {
	ctx := context.Background()

	t.Run("CreateAndLookUpByToken", func(t *testing.T) {
		start := time.Date(2025, 5, 2, 8, 0, 0, 0, time.UTC)
		db := MustOpenDBAt(t, t.TempDir()+"/a.db", store.Options{Now: newFakeClock(start).Now})
		a, tokenA := MustCreateConversation(t, db)
		b, tokenB := MustCreateConversation(t, db)
		if a.ID == b.ID || a.VisitorID == b.VisitorID || a.ID == "" || a.VisitorID == "" {
			t.Fatalf("conversations share ids: %+v %+v", a, b)
		}
		if a.State != store.StateBot || a.LastSeq != 0 || !a.CreatedAt.Equal(start) || !a.UpdatedAt.Equal(start) {
			t.Fatalf("new conversation = %+v, want state bot, last_seq 0, created and updated %v", a, start)
		}
		for _, tc := range []struct {
			token string
			want  store.Conversation
		}{{tokenA, a}, {tokenB, b}} {
			got, err := db.ConversationByToken(ctx, tokenHash(tc.token))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ConversationByToken = %+v, want %+v", got, tc.want)
			}
			byID, err := db.Conversation(ctx, tc.want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if byID != tc.want {
				t.Errorf("Conversation(%s) = %+v, want %+v", tc.want.ID, byID, tc.want)
			}
		}
	})

	t.Run("LookupErrors", func(t *testing.T) {
		db := MustOpenDB(t)
		_, token := MustCreateConversation(t, db)
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"UnknownToken", func() error { _, err := db.ConversationByToken(ctx, tokenHash("guess")); return err }, store.ErrNotFound},
			{"RawTokenInsteadOfHash", func() error { _, err := db.ConversationByToken(ctx, []byte(token)); return err }, store.ErrInvalid},
			{"NilHash", func() error { _, err := db.ConversationByToken(ctx, nil); return err }, store.ErrInvalid},
			{"UnknownID", func() error { _, err := db.Conversation(ctx, "nope"); return err }, store.ErrNotFound},
			{"CreateWithShortHash", func() error { _, err := db.CreateConversation(ctx, []byte("short")); return err }, store.ErrInvalid},
			{"CreateWithTakenHash", func() error { _, err := db.CreateConversation(ctx, tokenHash(token)); return err }, store.ErrConflict},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			})
		}
	})

	t.Run("SetState", func(t *testing.T) {
		start := time.Date(2025, 5, 2, 8, 0, 0, 0, time.UTC)
		clock := newFakeClock(start)
		db := MustOpenDBAt(t, t.TempDir()+"/a.db", store.Options{Now: clock.Now})
		conv, _ := MustCreateConversation(t, db)
		tests := []struct {
			name  string
			id    string
			state string
			want  error
		}{
			{"Queued", conv.ID, store.StateQueued, nil},
			{"Agent", conv.ID, store.StateAgent, nil},
			{"Closed", conv.ID, store.StateClosed, nil},
			{"BackToBot", conv.ID, store.StateBot, nil},
			{"Unknown", conv.ID, "escalated", store.ErrInvalid},
			{"Empty", conv.ID, "", store.ErrInvalid},
			{"MissingConversation", "nope", store.StateClosed, store.ErrNotFound},
		}
		state := conv.State
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				now := start.Add(time.Duration(i+1) * time.Minute)
				clock.Set(now)
				err := db.SetState(ctx, tt.id, tt.state)
				if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Fatalf("SetState(%q, %q) = %v, want %v", tt.id, tt.state, err, tt.want)
				}
				if err == nil {
					state = tt.state
				}
				got, err := db.Conversation(ctx, conv.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != state {
					t.Fatalf("state = %q, want %q", got.State, state)
				}
				if tt.want == nil && !got.UpdatedAt.Equal(now) {
					t.Fatalf("updated_at = %v, want %v", got.UpdatedAt, now)
				}
			})
		}
	})
}

func TestDeleteExpired(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := newFakeClock(day0)
	db := MustOpenDBAt(t, t.TempDir()+"/a.db", store.Options{Now: clock.Now})

	// old: created and last active on day 0, with a bot turn.
	old, oldToken := MustCreateConversation(t, db)
	MustAppend(t, db, store.Message{ConversationID: old.ID, From: store.FromVisitor, ClientID: "c", Text: "hi"})
	if _, err := db.AppendBotTurn(ctx, store.Message{ConversationID: old.ID, Text: "hello"}, store.Decision{InReplyTo: 1, Intent: "greeting", Source: "builtin", Rule: "greeting"}); err != nil {
		t.Fatal(err)
	}
	// revived: created on day 0, active again on day 20.
	revived, _ := MustCreateConversation(t, db)
	clock.Set(day0.AddDate(0, 0, 20))
	MustAppend(t, db, store.Message{ConversationID: revived.ID, From: store.FromVisitor, Text: "back again"})
	// fresh: created on day 25.
	clock.Set(day0.AddDate(0, 0, 25))
	fresh, _ := MustCreateConversation(t, db)

	tests := []struct {
		name    string
		cutoff  time.Time
		want    int
		gone    []store.Conversation
		present []store.Conversation
	}{
		{"NothingBeforeDay0", day0, 0, nil, []store.Conversation{old, revived, fresh}},
		{"Day10", day0.AddDate(0, 0, 10), 1, []store.Conversation{old}, []store.Conversation{revived, fresh}},
		{"Idempotent", day0.AddDate(0, 0, 10), 0, []store.Conversation{old}, []store.Conversation{revived, fresh}},
		{"CutoffIsExclusive", day0.AddDate(0, 0, 20), 0, nil, []store.Conversation{revived, fresh}},
		{"Day21", day0.AddDate(0, 0, 21), 1, []store.Conversation{revived}, []store.Conversation{fresh}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := db.DeleteExpired(ctx, tt.cutoff)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Fatalf("DeleteExpired(%v) = %d, want %d", tt.cutoff, n, tt.want)
			}
			for _, c := range tt.gone {
				if _, err := db.Conversation(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("conversation %s still there: %v", c.ID, err)
				}
				assertEmpty(t, db, c.ID)
			}
			for _, c := range tt.present {
				if _, err := db.Conversation(ctx, c.ID); err != nil {
					t.Errorf("conversation %s deleted too early: %v", c.ID, err)
				}
			}
		})
	}
	if _, err := db.ConversationByToken(ctx, tokenHash(oldToken)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token still resumes: %v", err)
	}
	if n, err := db.CountVisitors(ctx); err != nil || n != 1 {
		t.Fatalf("visitors left = %d (err %v), want 1 (only fresh's)", n, err)
	}
}

func assertEmpty(tb testing.TB, db *store.DB, conversationID string) {
	tb.Helper()
	ctx := context.Background()
	msgs, err := db.MessagesAfter(ctx, conversationID, 0, 0)
	if err != nil {
		tb.Fatal(err)
	}
	ds, err := db.Decisions(ctx, conversationID)
	if err != nil {
		tb.Fatal(err)
	}
	if len(msgs) != 0 || len(ds) != 0 {
		tb.Fatalf("deleted conversation %s left %d messages and %d decisions", conversationID, len(msgs), len(ds))
	}
}

func TestVisitorConversations(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	db, clock := MustOpenDBWithClock(t, day0)

	first, _ := MustCreateConversation(t, db)
	stranger, _ := MustCreateConversation(t, db)
	clock.Set(day0.Add(time.Hour))
	second, err := db.CreateConversationFor(ctx, tokenHash("second"), first.VisitorID)
	if err != nil {
		t.Fatal(err)
	}
	if second.VisitorID != first.VisitorID || second.ID == first.ID || second.State != store.StateBot {
		t.Fatalf("another conversation = %+v, want a new bot conversation of visitor %s", second, first.VisitorID)
	}
	if got, err := db.ConversationByToken(ctx, tokenHash("second")); err != nil || got.ID != second.ID {
		t.Fatalf("the new conversation's token finds %+v, %v", got, err)
	}

	tests := []struct {
		name    string
		visitor string
		want    []string
	}{
		{"newest first", first.VisitorID, []string{second.ID, first.ID}},
		{"only their own", stranger.VisitorID, []string{stranger.ID}},
		{"unknown visitor", "nobody", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := db.VisitorConversations(ctx, tc.visitor)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("VisitorConversations = %v, want %v", ids, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, visitor, token string
		want                 error
	}{
		{"unknown visitor", "nobody", "x1", store.ErrNotFound},
		{"empty visitor", "", "x2", store.ErrInvalid},
		{"token in use", first.VisitorID, "second", store.ErrConflict},
	} {
		if _, err := db.CreateConversationFor(ctx, tokenHash(tc.token), tc.visitor); !errors.Is(err, tc.want) {
			t.Errorf("%s: CreateConversationFor = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Expiring the earlier conversation keeps the visitor, who still has the later one.
	clock.Set(day0.Add(2 * time.Hour))
	if _, err := db.DeleteExpired(ctx, day0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if cs, err := db.VisitorConversations(ctx, first.VisitorID); err != nil || len(cs) != 1 || cs[0].ID != second.ID {
		t.Fatalf("after expiry: %+v, %v; want only the later conversation", cs, err)
	}
}

// A retention sweep with much to delete (the first one after retention_days was lowered, or after
// a long downtime) must not hold the single writer for the whole deletion: every visitor message
// waits behind a write transaction, and one that deletes months of transcripts takes seconds to
// minutes. Measured before the fix: 150,000 expired conversations with three messages each took
// one 10.6 s transaction, longer than a visitor message's 10 s deadline. Each transaction now
// deletes at most a chunk of conversations, and writes queued meanwhile go between two chunks.
// An open hand-off is a request nobody has answered yet: retention keeps it until it is closed.
func TestDeleteExpiredKeepsOpenHandoffs(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	db, clock := MustOpenDBWithClock(t, day0)
	conv := map[string]store.Conversation{}
	for _, state := range []string{store.StateBot, store.StateQueued, store.StateAgent, store.StateClosed} {
		c, _ := MustCreateConversation(t, db)
		MustAppend(t, db, store.Message{ConversationID: c.ID, From: store.FromVisitor, Text: "a question for " + state})
		if err := db.SetState(ctx, c.ID, state); err != nil {
			t.Fatal(err)
		}
		conv[state] = c
	}
	clock.Set(day0.AddDate(0, 0, 30))
	n, err := db.DeleteExpired(ctx, day0.AddDate(0, 0, 1))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2 (the bot's and the closed conversation)", n, err)
	}
	for state, want := range map[string]bool{store.StateBot: false, store.StateClosed: false, store.StateQueued: true, store.StateAgent: true} {
		_, err := db.Conversation(ctx, conv[state].ID)
		if kept := err == nil; kept != want {
			t.Errorf("%s conversation kept = %v (err %v), want %v", state, kept, err, want)
		}
	}

	// Once the agent closes it, the next sweep takes it, idle since its closing.
	if err := db.SetState(ctx, conv[store.StateAgent].ID, store.StateClosed); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteExpired(ctx, day0.AddDate(0, 0, 31)); err != nil || n != 1 {
		t.Fatalf("after closing: DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, err := db.Conversation(ctx, conv[store.StateQueued].ID); err != nil {
		t.Fatalf("the queued conversation: %v", err)
	}
}

func TestDeleteExpiredInChunks(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	db, clock := MustOpenDBWithClock(t, day0)
	const chunk, expired = 4, 10
	db.SetExpireChunk(chunk)
	var old []store.Conversation
	for i := range expired {
		c, _ := MustCreateConversation(t, db)
		MustAppend(t, db, store.Message{ConversationID: c.ID, From: store.FromVisitor, Text: fmt.Sprint("message ", i)})
		old = append(old, c)
	}
	// A returning visitor: their old conversation expires, their new one keeps them.
	clock.Set(day0.AddDate(0, 0, 30))
	again, err := db.CreateConversationFor(ctx, tokenHash("again"), old[0].VisitorID)
	if err != nil {
		t.Fatal(err)
	}

	_, writesBefore := db.WriteStats()
	n, err := db.DeleteExpired(ctx, day0.AddDate(0, 0, 1))
	if err != nil || n != expired {
		t.Fatalf("DeleteExpired = %d, %v; want %d", n, err, expired)
	}
	_, writesAfter := db.WriteStats()
	if got, want := writesAfter-writesBefore, int64((expired+chunk-1)/chunk); got < want {
		t.Errorf("deleting %d conversations took %d write transaction(s); want at least %d of at most %d conversations each, so that other writes go in between",
			expired, got, want, chunk)
	}
	for _, c := range old {
		if _, err := db.Conversation(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("conversation %s still there: %v", c.ID, err)
		}
		assertEmpty(t, db, c.ID)
	}
	if _, err := db.Conversation(ctx, again.ID); err != nil {
		t.Fatalf("the returning visitor's new conversation: %v", err)
	}
	if nv, err := db.CountVisitors(ctx); err != nil || nv != 1 {
		t.Fatalf("visitors left = %d (err %v), want 1 (the returning visitor)", nv, err)
	}
}
