package store

import (
	"context"
	"strconv"
	"time"
)

// Test hooks: compiled only into this package's test binary, visible to the
// external store_test package.

// PauseWriter makes the writer goroutine wait inside a request of its own, so
// that requests sent meanwhile queue up and form one batch after resume.
// It returns once the writer is parked.
func (db *DB) PauseWriter(ctx context.Context) (resume func(), wait func() error) {
	parked, release := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- db.write(ctx, func(context.Context, *wtx, time.Time) error {
			close(parked)
			<-release
			return nil
		})
	}()
	<-parked
	return func() { close(release) }, func() error { return <-result }
}

// BlockWrite queues a write request that, when the writer runs it, reports
// on started and then holds its batch open until release is called.
func (db *DB) BlockWrite(ctx context.Context) (started <-chan struct{}, release func(), wait func() error) {
	run, rel := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- db.write(ctx, func(context.Context, *wtx, time.Time) error {
			close(run)
			<-rel
			return nil
		})
	}()
	return run, func() { close(rel) }, func() error { return <-result }
}

// SetExpireChunk sets how many conversations one retention transaction
// deletes at most, so that a test needs only a few to see several.
func (db *DB) SetExpireChunk(n int) { db.expireChunk = n }

// QueuedWrites reports how many write requests wait in the queue.
func (db *DB) QueuedWrites() int { return len(db.reqs) }

// WriteStats reports how many transactions the writer ran and how many
// requests they carried.
func (db *DB) WriteStats() (batches, writes int64) { return db.batches.Load(), db.writes.Load() }

// LimitPages caps the database size at its current page count plus extra
// pages on the writer connection (PRAGMA max_page_count), simulating a full
// disk. LimitPages(ctx, -1) lifts the cap.
func (db *DB) LimitPages(ctx context.Context, extra int64) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx, _ time.Time) error {
		limit := int64(1 << 30)
		if extra >= 0 {
			var pages int64
			if err := tx.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
				return err
			}
			limit = pages + extra
		}
		_, err := tx.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.FormatInt(limit, 10))
		return err
	})
}

// CountVisitors counts visitor rows, to check that retention removes the
// visitors it leaves without conversations.
func (db *DB) CountVisitors(ctx context.Context) (int, error) {
	var n int
	err := db.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM visitors").Scan(&n)
	return n, err
}
