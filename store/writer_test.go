package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/store"
)

func TestWriterBatch(t *testing.T) {
	ctx := context.Background()

	t.Run("OneFailingRequestDoesNotFailTheOthers", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "taken", Text: "x"})

		resume, wait := db.PauseWriter(ctx)
		batchesBefore, _ := db.WriteStats()

		type result struct {
			name string
			msg  store.Message
			err  error
		}
		requests := []struct {
			name string
			m    store.Message
			want error
		}{
			{"ok1", store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "a", Text: "1"}, nil},
			{"missing", store.Message{ConversationID: "missing", From: store.FromVisitor, Text: "lost"}, store.ErrNotFound},
			{"ok2", store.Message{ConversationID: conv.ID, From: store.FromBot, Text: "2"}, nil},
			{"duplicate", store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "taken", Text: "again"}, nil},
			{"ok3", store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "b", Text: "3"}, nil},
		}
		results := make(chan result, len(requests))
		var turnErr error
		var wg sync.WaitGroup
		for i, r := range requests {
			wg.Go(func() {
				m, _, err := db.AppendMessage(ctx, r.m)
				results <- result{r.name, m, err}
			})
			waitQueued(t, db, i+1) // keep the queue order known
		}
		// A bot turn whose decision fails, in the same batch.
		wg.Go(func() {
			_, turnErr = db.AppendBotTurn(ctx, store.Message{ConversationID: conv.ID, Text: "bad turn"},
				store.Decision{Confidence: nanValue(), Source: "intent", Rule: "r"})
		})
		waitQueued(t, db, len(requests)+1)
		resume()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(results)

		got := map[string]result{}
		for r := range results {
			got[r.name] = r
		}
		for _, r := range requests {
			res := got[r.name]
			if !errors.Is(res.err, r.want) || (r.want == nil && res.err != nil) {
				t.Errorf("%s: err = %v, want %v", r.name, res.err, r.want)
			}
		}
		if !errors.Is(turnErr, store.ErrInvalid) {
			t.Errorf("failing bot turn: err = %v, want ErrInvalid", turnErr)
		}
		if got["duplicate"].msg.Seq != 1 {
			t.Errorf("duplicate returned seq %d, want the original 1", got["duplicate"].msg.Seq)
		}
		batchesAfter, _ := db.WriteStats()
		// The paused request's own batch, then exactly one for the six queued.
		if n := batchesAfter - batchesBefore; n != 2 {
			t.Fatalf("the queued requests took %d transactions, want 1", n-1)
		}
		msgs, err := db.MessagesAfter(ctx, conv.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("seq gap: message %d has seq %d", i, m.Seq)
			}
			texts = append(texts, m.Text)
		}
		if want := "x,1,2,3"; strings.Join(texts, ",") != want {
			t.Fatalf("stored texts = %v, want %s", texts, want)
		}
		assertTurnCount(t, db, conv.ID, 4, 0)
	})

	t.Run("RequestThatAbortsTheTransactionFailsAlone", func(t *testing.T) {
		// A full disk makes SQLite roll back the whole transaction, not just
		// the savepoint: the writer must retry the innocent requests.
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "leaves room on its page"})
		if err := db.LimitPages(ctx, 0); err != nil {
			t.Fatal(err)
		}
		resume, wait := db.PauseWriter(ctx)
		texts := []string{"small 1", strings.Repeat("needs new pages ", 2000), "small 2"}
		errs := make([]error, len(texts))
		var wg sync.WaitGroup
		for i, text := range texts {
			wg.Go(func() {
				_, _, errs[i] = db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: text})
			})
			waitQueued(t, db, i+1)
		}
		resume()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], store.ErrFull) {
			t.Fatalf("errors = %v, want [nil ErrFull nil]", errs)
		}
		msgs, err := db.MessagesAfter(ctx, conv.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 3 || msgs[1].Text != "small 1" || msgs[2].Text != "small 2" || msgs[2].Seq != 3 {
			t.Fatalf("stored = %+v, want the two small messages at seqs 2 and 3", msgs)
		}
	})

	t.Run("CancelledWhileQueuedIsSkipped", func(t *testing.T) {
		db := MustOpenDB(t)
		conv, _ := MustCreateConversation(t, db)
		resume, wait := db.PauseWriter(ctx)
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, _, err := db.AppendMessage(cctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "gone"})
			errc <- err
		}()
		waitQueued(t, db, 1)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled append = %v, want context.Canceled", err)
		}
		resume()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: "next"})
		assertTurnCount(t, db, conv.ID, 1, 0)
	})
}

// TestFullDisk simulates a full disk with PRAGMA max_page_count: writes must
// fail with ErrFull (so the caller does not acknowledge), never panic or
// report success, and the store must recover once space is back.
func TestFullDisk(t *testing.T) {
	ctx := context.Background()
	for _, batchMax := range []int{1, 256} {
		t.Run(fmt.Sprint("BatchMax", batchMax), func(t *testing.T) {
			db := MustOpenDBAt(t, filepath.Join(t.TempDir(), "a.db"), store.Options{BatchMax: batchMax})
			conv, _ := MustCreateConversation(t, db)
			if err := db.LimitPages(ctx, 0); err != nil {
				t.Fatal(err)
			}
			big := strings.Repeat("too big to fit in the pages left ", 1000)
			const writers = 8
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for range writers {
				wg.Go(func() {
					_, _, err := db.AppendMessage(ctx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: big})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if !errors.Is(err, store.ErrFull) {
					t.Errorf("append on a full disk = %v, want ErrFull", err)
				}
			}
			assertTurnCount(t, db, conv.ID, 0, 0)

			if err := db.LimitPages(ctx, -1); err != nil {
				t.Fatal(err)
			}
			MustAppend(t, db, store.Message{ConversationID: conv.ID, From: store.FromVisitor, Text: big})
			assertTurnCount(t, db, conv.ID, 1, 0)
		})
	}
}

// A caller whose context ends while its write is running in a batch must get the write's real
// outcome, not ctx.Err(): a message reported as not stored but committed is "sent again" by the
// visitor, found as a duplicate, and never answered by the bot.
func TestWriteOutcomeAfterCallerGivesUp(t *testing.T) {
	db := MustOpenDB(t)
	bg := context.Background()
	conv, _ := MustCreateConversation(t, db)

	resume, parked := db.PauseWriter(bg)
	callerCtx, cancel := context.WithCancel(bg)
	defer cancel()
	type result struct {
		m   store.Message
		err error
	}
	res := make(chan result, 1)
	go func() {
		m, _, err := db.AppendMessage(callerCtx, store.Message{ConversationID: conv.ID, From: store.FromVisitor, ClientID: "c1", Text: "hello"})
		res <- result{m, err}
	}()
	waitQueued(t, db, 1)
	started, release, blocked := db.BlockWrite(bg) // the same batch, after the message
	waitQueued(t, db, 2)
	resume()
	if err := parked(); err != nil {
		t.Fatal(err)
	}
	<-started // the message is inserted; its batch is not committed yet
	cancel()
	var got result
	select {
	case got = <-res: // answered while the batch is still open: it cannot know the outcome
		release()
	case <-time.After(100 * time.Millisecond):
		release()
		got = <-res
	}
	if err := blocked(); err != nil {
		t.Fatal(err)
	}

	msgs, err := db.MessagesAfter(bg, conv.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case got.err != nil && len(msgs) == 1:
		t.Fatalf("AppendMessage = %v, but the message was committed (seq %d): a caller told \"not stored\" resends and the resend is a duplicate", got.err, msgs[0].Seq)
	case got.err == nil && (len(msgs) != 1 || got.m.Seq != msgs[0].Seq):
		t.Fatalf("AppendMessage = seq %d, nil; stored %+v", got.m.Seq, msgs)
	}
}
