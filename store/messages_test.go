package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

func TestAppendMessage(t *testing.T) {
	ctx := context.Background()

	t.Run("AssignsSeqAndTime", func(t *testing.T) {
		start := time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
		clock := newFakeClock(start)
		db := MustOpenDBAt(t, t.TempDir()+"/a.db", store.Options{Now: clock.Now})
		conv, _ := MustCreateConversation(t, db)

		clock.Set(start.Add(time.Minute))
		m1 := MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "hi"})
		explicit := time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)
		m2 := MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromAgent, Text: "hello", At: explicit})

		wantAt := start.Add(time.Minute).UTC().Truncate(time.Millisecond)
		if m1.Seq != 1 || !m1.At.Equal(wantAt) || m1.At.Location() != time.UTC {
			t.Errorf("first message = seq %d at %v, want seq 1 at %v UTC", m1.Seq, m1.At, wantAt)
		}
		if m2.Seq != 2 || !m2.At.Equal(explicit) {
			t.Errorf("second message = seq %d at %v, want seq 2 at %v", m2.Seq, m2.At, explicit)
		}
		got, err := db.Conversation(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastSeq != 2 || !got.UpdatedAt.Equal(wantAt) || !got.CreatedAt.Equal(start.UTC().Truncate(time.Millisecond)) {
			t.Errorf("conversation = %+v, want last_seq 2, created %v, updated %v", got, start, wantAt)
		}
		stored, err := db.MessagesAfter(ctx, conv.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(stored, []store.Message{m1, m2}, messagesEqual) {
			t.Errorf("stored = %+v, want %+v", stored, []store.Message{m1, m2})
		}
	})

	t.Run("ConcurrentSeqsAreGapless", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		other, _ := MustCreateConversation(t, db)
		const writers, each = 50, 4
		var wg sync.WaitGroup
		seqs := make(chan int64, writers*each)
		errs := make(chan error, writers*each*2)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					m, _, err := db.AppendMessage(ctx, store.Message{
						ConversationID: conv.ID, From: store.FromVisitor,
						ClientID: fmt.Sprintf("w%d-%d", w, i), Text: "concurrent",
					})
					if err != nil {
						errs <- err
						continue
					}
					seqs <- m.Seq
					// Interleave another conversation: its seqs must not leak.
					if _, _, err := db.AppendMessage(ctx, store.Message{ConversationID: other.ID, From: store.FromBot, Text: "x"}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(seqs)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var got []int64
		for s := range seqs {
			got = append(got, s)
		}
		slices.Sort(got)
		for i, s := range got {
			if s != int64(i+1) {
				t.Fatalf("sorted seqs = %v: position %d holds %d, want %d (gap or duplicate)", got, i, s, i+1)
			}
		}
		if len(got) != writers*each {
			t.Fatalf("got %d seqs, want %d", len(got), writers*each)
		}
		stored, err := db.MessagesAfter(ctx, conv.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range stored {
			if m.Seq != int64(i+1) {
				t.Fatalf("stored message %d has seq %d", i, m.Seq)
			}
		}
		for _, c := range []store.Conversation{conv, other} {
			got, err := db.Conversation(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastSeq != writers*each {
				t.Errorf("conversation %s last_seq = %d, want %d", c.ID, got.LastSeq, writers*each)
			}
		}
	})

	t.Run("DuplicateClientIDReturnsOriginal", func(t *testing.T) {
		clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		db := MustOpenDBAt(t, t.TempDir()+"/a.db", store.Options{Now: clock.Now})
		conv, _ := MustCreateConversation(t, db)
		other, _ := MustCreateConversation(t, db)
		orig := MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "m-1", Text: "first"})
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromBot, Text: "reply"})

		clock.Set(clock.Now().Add(time.Hour))
		again, dup, err := db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "m-1", Text: "resent, different text"})
		if err != nil {
			t.Fatal(err)
		}
		if !dup || !messagesEqual(again, orig) {
			t.Fatalf("resend = %+v dup=%v, want original %+v dup=true", again, dup, orig)
		}
		if c, err := db.Conversation(ctx, conv.ID); err != nil || c.LastSeq != 2 || !c.UpdatedAt.Equal(orig.At) {
			t.Fatalf("after the resend conversation = %+v (err %v), want last_seq 2 and updated_at %v untouched", c, err, orig.At)
		}
		// The same client id in another conversation is a different message.
		inOther, dup, err := db.AppendMessage(ctx, store.Message{ConversationID: other.ID, From: store.FromVisitor, ClientID: "m-1", Text: "other"})
		if err != nil || dup || inOther.Seq != 1 {
			t.Fatalf("same client id in another conversation = %+v dup=%v err=%v, want new seq 1", inOther, dup, err)
		}
		// Messages without client id never collide.
		for range 2 {
			MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromSystem, Text: "no id"})
		}
		got, err := db.Conversation(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastSeq != 4 {
			t.Fatalf("last_seq = %d, want 4", got.LastSeq)
		}
	})

	t.Run("ConcurrentDuplicatesStoreOnce", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		const tabs = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		var originals int
		seqs := map[int64]bool{}
		for range tabs {
			wg.Go(func() {
				m, dup, err := db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "same", Text: "x"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				seqs[m.Seq] = true
				if !dup {
					originals++
				}
			})
		}
		wg.Wait()
		if originals != 1 || len(seqs) != 1 || !seqs[1] {
			t.Fatalf("originals = %d, seqs = %v; want exactly one stored message with seq 1", originals, seqs)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		tests := []struct {
			name string
			m    store.Message
			want error
		}{
			{"MissingConversation", store.Message{ConversationID: "nope", From: store.FromVisitor, Text: "x"}, store.ErrNotFound},
			{"NoConversationID", store.Message{From: store.FromVisitor, Text: "x"}, store.ErrInvalid},
			{"UnknownSender", store.Message{ConversationID: conv.ID, From: "robot", Text: "x"}, store.ErrInvalid},
			{"EmptySender", store.Message{ConversationID: conv.ID, Text: "x"}, store.ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := db.AppendMessage(ctx, tt.m)
				if !errors.Is(err, tt.want) {
					t.Fatalf("AppendMessage(%+v) = %v, want %v", tt.m, err, tt.want)
				}
			})
		}
		got, err := db.Conversation(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastSeq != 0 {
			t.Fatalf("failed appends consumed seqs: last_seq = %d", got.LastSeq)
		}
	})
}

func TestAppendBotTurn(t *testing.T) {
	ctx := context.Background()

	t.Run("StoresMessageAndDecision", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		greeting, err := db.AppendBotTurn(ctx, store.Message{ConversationID: conv.ID, Text: "Hi, I am the bakery bot."},
			store.Decision{Intent: "greeting", Confidence: 1, Source: "builtin", Rule: "greeting"})
		if err != nil {
			t.Fatal(err)
		}
		q := MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "q1", Text: "when do you open?"})
		details := json.RawMessage(`{"top":[{"intent":"opening_hours","score":0.91}]}`)
		reply, err := db.AppendBotTurn(ctx, store.Message{ConversationID: conv.ID, From: store.FromBot, Text: "9 to 5."},
			store.Decision{ConversationID: conv.ID, InReplyTo: q.Seq, Intent: "opening_hours", Confidence: 0.91, Source: "intent", Rule: "confident_intent", Details: details})
		if err != nil {
			t.Fatal(err)
		}
		if greeting.Seq != 1 || greeting.From != store.FromBot || reply.Seq != 3 {
			t.Fatalf("greeting = %+v, reply = %+v; want seqs 1 and 3 from bot", greeting, reply)
		}
		ds, err := db.Decisions(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Decision{
			{ConversationID: conv.ID, Seq: 1, InReplyTo: 0, Intent: "greeting", Confidence: 1, Source: "builtin", Rule: "greeting", At: greeting.At},
			{ConversationID: conv.ID, Seq: 3, InReplyTo: 2, Intent: "opening_hours", Confidence: 0.91, Source: "intent", Rule: "confident_intent", Details: details, At: reply.At},
		}
		if len(ds) != len(want) {
			t.Fatalf("decisions = %+v, want %+v", ds, want)
		}
		for i := range want {
			if !decisionsEqual(ds[i], want[i]) {
				t.Errorf("decision %d = %+v, want %+v", i, ds[i], want[i])
			}
		}
	})

	t.Run("Atomic", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromBot, ClientID: "taken", Text: "x"})
		// The message insert fails on the duplicate client id after the seq
		// was bumped: neither the seq nor a decision may remain.
		_, err := db.AppendBotTurn(ctx, store.Message{ConversationID: conv.ID, ClientID: "taken", Text: "y"},
			store.Decision{Intent: "x", Source: "intent", Rule: "r"})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("AppendBotTurn with a taken client id = %v, want ErrConflict", err)
		}
		assertTurnCount(t, db, conv.ID, 1, 0)

		// The decision insert fails after the message insert succeeded:
		// SQLite stores a NaN as NULL, which the NOT NULL confidence column
		// refuses. The message and its seq must be rolled back with it.
		_, err = db.AppendBotTurn(ctx, store.Message{ConversationID: conv.ID, Text: "y"},
			store.Decision{Intent: "x", Confidence: math.NaN(), Source: "intent", Rule: "r"})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("AppendBotTurn with a NaN confidence = %v, want ErrInvalid", err)
		}
		assertTurnCount(t, db, conv.ID, 1, 0)
	})

	t.Run("Invalid", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		tests := []struct {
			name string
			m    store.Message
			d    store.Decision
		}{
			{"NotFromBot", store.Message{ConversationID: conv.ID, From: store.FromAgent, Text: "x"}, store.Decision{}},
			{"OtherConversation", store.Message{ConversationID: conv.ID, Text: "x"}, store.Decision{ConversationID: "other"}},
			{"BadDetails", store.Message{ConversationID: conv.ID, Text: "x"}, store.Decision{Details: json.RawMessage(`{"unclosed":`)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := db.AppendBotTurn(ctx, tt.m, tt.d); !errors.Is(err, store.ErrInvalid) {
					t.Fatalf("AppendBotTurn = %v, want ErrInvalid", err)
				}
			})
		}
		assertTurnCount(t, db, conv.ID, 0, 0)
	})
}

func TestMessagesAfter(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	conv, _ := MustCreateConversation(t, db)
	other, _ := MustCreateConversation(t, db)
	for i := range 10 {
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: fmt.Sprint("m", i+1)})
		MustAppend(t, db, store.Message{ConversationID: other.ID, From: store.FromVisitor, Text: "other"})
	}
	tests := []struct {
		name     string
		conv     string
		after    int64
		limit    int
		wantSeqs []int64
	}{
		{"All", conv.ID, 0, 0, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"After", conv.ID, 7, 0, []int64{8, 9, 10}},
		{"Limit", conv.ID, 2, 3, []int64{3, 4, 5}},
		{"NegativeLimitIsNoLimit", conv.ID, 8, -1, []int64{9, 10}},
		{"AfterLast", conv.ID, 10, 0, []int64{}},
		{"UnknownConversation", "nope", 0, 0, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := db.MessagesAfter(ctx, tt.conv, tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			got := []int64{}
			for _, m := range msgs {
				if m.ConversationID != tt.conv || m.Text != fmt.Sprint("m", m.Seq) {
					t.Errorf("message %+v does not belong at seq %d of %s", m, m.Seq, tt.conv)
				}
				got = append(got, m.Seq)
			}
			if !slices.Equal(got, tt.wantSeqs) {
				t.Fatalf("MessagesAfter(%s, %d, %d) seqs = %v, want %v", tt.conv, tt.after, tt.limit, got, tt.wantSeqs)
			}
		})
	}
}

func assertTurnCount(tb testing.TB, db *store.DB, conversationID string, messages, decisions int) {
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
	c, err := db.Conversation(ctx, conversationID)
	if err != nil {
		tb.Fatal(err)
	}
	if len(msgs) != messages || len(ds) != decisions || c.LastSeq != int64(messages) {
		tb.Fatalf("conversation has %d messages, %d decisions, last_seq %d; want %d, %d, %d",
			len(msgs), len(ds), c.LastSeq, messages, decisions, messages)
	}
}

func messagesEqual(a, b store.Message) bool {
	return a.ConversationID == b.ConversationID && a.Seq == b.Seq && a.ClientID == b.ClientID &&
		a.From == b.From && a.Text == b.Text && a.At.Equal(b.At)
}

func decisionsEqual(a, b store.Decision) bool {
	return a.ConversationID == b.ConversationID && a.Seq == b.Seq && a.InReplyTo == b.InReplyTo &&
		a.Intent == b.Intent && a.Confidence == b.Confidence && a.Source == b.Source && a.Rule == b.Rule &&
		string(a.Details) == string(b.Details) && a.At.Equal(b.At)
}

func TestMessageByClientID(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	conv, err := db.CreateConversation(ctx, tokenHash("by-client-id"))
	if err != nil {
		t.Fatal(err)
	}
	saved, _, err := db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, ClientID: "c1", From: store.FromVisitor, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.MessageByClientID(ctx, conv.ID, "c1")
	if err != nil || got.Seq != saved.Seq || got.Text != "hi" || got.ClientID != "c1" {
		t.Fatalf("MessageByClientID(c1) = %+v, %v; want %+v", got, err, saved)
	}
	for _, tc := range []struct{ conv, id string }{{conv.ID, "c2"}, {"nope", "c1"}} {
		if _, err := db.MessageByClientID(ctx, tc.conv, tc.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MessageByClientID(%s, %s) error = %v, want ErrNotFound", tc.conv, tc.id, err)
		}
	}
	db.Close()
	if _, err := db.MessageByClientID(ctx, conv.ID, "c1"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
