package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// writeFunc is one write request's work. It runs on the writer goroutine
// inside the batch transaction; now is the store clock read for this request.
// It must leave its results in variables the caller reads only when the
// request returns nil.
type writeFunc func(ctx context.Context, tx *wtx, now time.Time) error

type writeReq struct {
	ctx   context.Context
	fn    writeFunc
	done  chan error   // buffered: the writer never blocks on an absent caller
	state atomic.Int32 // reqQueued, then reqRunning (the writer) or reqAbandoned (the caller)
}

// Request states: whoever moves a request out of reqQueued first decides
// whether it runs, so a caller that gives up either leaves a request that will
// never run, or waits for the outcome of one that may commit.
const (
	reqQueued int32 = iota
	reqRunning
	reqAbandoned
)

// claim reports whether the writer may run r, marking it running. A request
// already running (retried after SQLite rolled its batch back) runs again.
func (r *writeReq) claim() bool {
	if r.state.Load() == reqRunning {
		return true
	}
	if r.ctx.Err() != nil {
		return false
	}
	return r.state.CompareAndSwap(reqQueued, reqRunning)
}

// write queues fn for the writer and waits for its outcome. It returns nil
// if and only if the transaction holding fn has committed.
//
// When ctx ends while the request is still queued, write returns ctx.Err()
// at once and the writer skips the request. When it ends once the writer has
// started the request, write waits for the batch's outcome: returning
// ctx.Err() then would report as not stored a write that commits a moment
// later (a visitor told to resend a message that was in fact stored, whose
// resend is then a duplicate the bot never answers). That wait is bounded by
// one batch, which never waits on a caller.
func (db *DB) write(ctx context.Context, fn writeFunc) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}

	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()

	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err() // the writer will skip it
		}
		return <-req.done
	}
}

// runWriter is the writer goroutine: it takes the first queued request, adds
// whatever else is already queued (up to batchMax) and commits them together.
// It exits when Close has closed the queue and the queue is drained.
func (db *DB) runWriter() {
	defer close(db.stopped)
	batch := make([]*writeReq, 0, db.batchMax)
	for first := range db.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.batchMax {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.commitBatch(batch)
		clear(batch)
	}
}

// commitBatch runs batch and answers every request.
func (db *DB) commitBatch(batch []*writeReq) {
	errs := make([]error, len(batch))
	db.runBatch(batch, errs)
	db.batches.Add(1)
	db.writes.Add(int64(len(batch)))
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// runBatch runs, in one transaction, every request of batch whose errs entry
// is still nil, and records each outcome in errs.
//
// Each request runs inside its own SAVEPOINT, so a request that fails (a
// message for a missing conversation, a constraint) is rolled back alone and
// the others commit. Some errors (full disk, I/O) make SQLite roll back the
// whole transaction, taking the earlier requests with it: then the request
// that caused it keeps its error and the others run again in a new
// transaction. Each round removes one culprit, so this ends. If the commit
// fails, every request not already failed gets that error: nothing is
// reported as stored unless it is.
func (db *DB) runBatch(batch []*writeReq, errs []error) {
	var pending []int
	for i, r := range batch {
		if errs[i] != nil {
			continue
		}
		if !r.claim() {
			errs[i] = r.ctx.Err() // the caller gave up while queued: skip it
			if errs[i] == nil {   // abandoned only after ctx ended; never nil in practice
				errs[i] = context.Canceled
			}
			continue
		}
		pending = append(pending, i)
	}
	if len(pending) == 0 {
		return
	}
	fail := func(err error) {
		for _, i := range pending {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}

	// The statements use a background context, not the callers' contexts:
	// cancelling one caller must not interrupt a statement of a shared
	// transaction.
	ctx := context.Background()
	sqlTx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin write transaction: %w", translate(err)))
		return
	}
	tx := &wtx{Tx: sqlTx, stmts: db.stmts}

	// A single request needs no savepoint: the transaction is its savepoint.
	// This keeps BatchMax=1 an honest one-transaction-per-write baseline.
	if len(pending) == 1 {
		i := pending[0]
		if errs[i] = db.runRequest(ctx, tx, batch[i]); errs[i] != nil {
			_ = tx.Rollback()
			return
		}
		if err := tx.Commit(); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("commit: %w", translate(err)))
		}
		return
	}

	culprit := -1
	var broken error
	for _, i := range pending {
		if _, err := tx.ExecContext(ctx, sqlSavepoint); err != nil {
			broken = err
			break
		}
		if errs[i] = db.runRequest(ctx, tx, batch[i]); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, sqlRollbackTo); err != nil {
				// SQLite rolled the whole transaction back.
				culprit, broken = i, err
				break
			}
		}
		if _, err := tx.ExecContext(ctx, sqlRelease); err != nil {
			broken = err
			break
		}
	}
	if broken != nil {
		_ = tx.Rollback()
		if culprit >= 0 {
			db.log.Warn("store write batch rolled back by one request; retrying the others",
				"requests", len(pending), "err", errs[culprit])
			db.runBatch(batch, errs)
			return
		}
		err := fmt.Errorf("write transaction aborted: %w", translate(broken))
		db.log.Error("store write batch aborted", "requests", len(pending), "err", err)
		fail(err)
		return
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		err = fmt.Errorf("commit: %w", translate(err))
		db.log.Error("store write batch commit failed", "requests", len(pending), "err", err)
		fail(err)
	}
}

// runRequest runs one request's work, turning a panic into an error so one
// bad request cannot kill the writer and hang every later caller.
func (db *DB) runRequest(ctx context.Context, tx *wtx, r *writeReq) (err error) {
	defer func() {
		if p := recover(); p != nil {
			db.log.Error("store write request panicked", "panic", fmt.Sprint(p))
			err = fmt.Errorf("internal error in store write: %v", p)
		}
	}()
	err = r.fn(ctx, tx, db.clock())
	if err != nil {
		err = translate(err)
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrOpenHandoff) {
			db.log.Warn("store write request failed", "err", err)
		}
	}
	return err
}

// wtx is the batch transaction as request functions see it: ExecContext and
// QueryRowContext run the statements prepared at Open when the query is one
// of writeQueries, because preparing (parsing and planning) costs more than
// executing for these small statements, and it was paid per request.
type wtx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

// ExecContext runs query in the transaction, prepared when it is known.
func (tx *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s, ok := tx.stmts[query]; ok {
		return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction, prepared when it is known.
func (tx *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s, ok := tx.stmts[query]; ok {
		return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// prepareWrites prepares writeQueries on the writer connection. It runs at
// Open, before the writer starts, while the one connection is free.
func (db *DB) prepareWrites(ctx context.Context) error {
	db.stmts = make(map[string]*sql.Stmt, len(writeQueries))
	for _, q := range writeQueries {
		s, err := db.wdb.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, translate(err))
		}
		db.stmts[q] = s
	}
	return nil
}
