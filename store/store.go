// Package store is Attune's persistence: visitors, conversations, messages and
// the decision record of every bot turn, kept in SQLite through the pure-Go
// driver modernc.org/sqlite. It is the only package that talks SQL.
//
// All writes go through one writer goroutine that groups concurrent requests
// into a single transaction (group commit), each request isolated in its own
// SAVEPOINT; reads use a separate pool of read-only connections, which WAL
// lets run while a write is in progress.
//
// Conventions kept portable for the PostgreSQL backend that follows: times are
// stored as BIGINT unix milliseconds (UTC by definition; the Go values the
// store returns are UTC and truncated to the millisecond), identifiers are
// TEXT, placeholders are "?" (a PostgreSQL backend rebinds them to $n), and
// no SQLite-only syntax is used where a portable form exists (UPDATE ...
// RETURNING and SAVEPOINT are supported by both engines).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options tunes a DB; the zero value is ready for production use.
type Options struct {
	Now      func() time.Time // default time.Now; injectable clock for tests
	Logger   *slog.Logger     // default slog.Default()
	BatchMax int              // max write requests per transaction; default 256; 1 disables batching (for the benchmark ratio)
}

// DefaultBatchMax is the number of queued write requests the writer commits
// in one transaction when Options.BatchMax is zero.
const DefaultBatchMax = 256

// busyTimeoutMillis bounds how long a connection waits on a lock held by
// another connection (a checkpoint, or a second process on the same file)
// before reporting SQLITE_BUSY, instead of failing at once.
const busyTimeoutMillis = 5000

// DB is an open Attune database. It is safe for concurrent use.
type DB struct {
	path     string
	now      func() time.Time
	log      *slog.Logger
	batchMax int

	expireChunk int // conversations per retention transaction; DefaultExpireChunk

	wdb *sql.DB // exactly one connection, used by the writer goroutine (and purge, between batches)
	rdb *sql.DB // read-only connections for queries

	// mu orders Close against senders: a sender holds it shared while it
	// checks closed and enqueues, Close holds it exclusively to set closed
	// and close reqs, so nothing is ever sent on a closed channel.
	mu      sync.RWMutex
	closed  bool
	isShut  atomic.Bool // closed, readable without the lock by readers
	reqs    chan *writeReq
	stopped chan struct{} // closed when the writer goroutine has exited

	stmts map[string]*sql.Stmt // writeQueries, prepared on wdb; used only by the writer

	batches atomic.Int64 // committed or failed write transactions
	writes  atomic.Int64 // write requests handled
}

// Open opens (creating it when missing, with its parent directory) the SQLite
// database at path, applies pending migrations and starts the writer.
func Open(ctx context.Context, path string, opt Options) (*DB, error) {
	db, err := open(ctx, path, opt)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

func open(ctx context.Context, path string, opt Options) (*DB, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("empty path: give a file name such as attune.db")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, errors.New("path is a directory: give a file name inside it")
	}

	db := &DB{
		path:     abs,
		now:      opt.Now,
		log:      opt.Logger,
		batchMax: opt.BatchMax,
		stopped:  make(chan struct{}),

		expireChunk: DefaultExpireChunk,
	}
	if db.now == nil {
		db.now = time.Now
	}
	if db.log == nil {
		db.log = slog.Default()
	}
	if db.batchMax <= 0 {
		db.batchMax = DefaultBatchMax
	}

	// The writer connection carries every pragma that matters for writes:
	//   - journal_mode=WAL: readers never block the writer and the writer
	//     never blocks readers, and a commit is one sequential append to the
	//     WAL file. The mode is persistent in the file.
	//   - synchronous=NORMAL: in WAL mode a commit is not fsynced; the WAL is
	//     fsynced at checkpoints. A process crash loses nothing committed,
	//     but a power loss or OS crash may lose the last transactions
	//     committed before the previous checkpoint (the database stays
	//     consistent, never corrupt). We accept that trade for chat
	//     transcripts: it removes an fsync from every commit, and clients
	//     resend unacknowledged messages by client id anyway. FULL would
	//     make every acknowledged message survive power loss at the cost of
	//     one fsync per batch.
	//   - foreign_keys=ON: SQLite leaves it off by default, and the ON
	//     DELETE CASCADE retention relies on it.
	//   - secure_delete=ON: deleted rows (expired or erased transcripts) are
	//     overwritten with zeros, in their pages and in freed pages, instead
	//     of staying readable in the file until the space is reused. See also
	//     purge, which empties the WAL after a deletion.
	//   - busy_timeout: wait instead of failing at once on a lock.
	//   - _txlock=immediate: BEGIN takes the write lock up front, so a
	//     transaction never fails half-way with SQLITE_BUSY on lock upgrade.
	wdb, err := sql.Open("sqlite", dsn(abs,
		"_pragma=busy_timeout("+fmt.Sprint(busyTimeoutMillis)+")",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=secure_delete(1)",
		"_txlock=immediate",
	))
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has a single writer anyway, and pinning it lets
	// the writer goroutine own it without lock contention inside SQLite.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	db.wdb = wdb

	if err := db.initWriter(ctx); err != nil {
		_ = wdb.Close()
		return nil, explainUnwritable(abs, err)
	}

	// Readers: query_only makes any accidental write through the read pool
	// fail instead of racing the writer for the lock.
	rdb, err := sql.Open("sqlite", dsn(abs,
		"_pragma=busy_timeout("+fmt.Sprint(busyTimeoutMillis)+")",
		"_pragma=foreign_keys(1)",
		"_pragma=query_only(1)",
	))
	if err != nil {
		_ = wdb.Close()
		return nil, err
	}
	rdb.SetMaxOpenConns(max(4, runtime.NumCPU()))
	rdb.SetMaxIdleConns(max(4, runtime.NumCPU()))
	if err := rdb.PingContext(ctx); err != nil {
		_ = rdb.Close()
		_ = wdb.Close()
		return nil, explainUnwritable(abs, fmt.Errorf("connect reader: %w", translate(err)))
	}
	db.rdb = rdb

	db.reqs = make(chan *writeReq, db.batchMax)
	go db.runWriter()
	return db, nil
}

// initWriter connects the writer, checks that WAL is really in effect and
// applies the migrations.
func (db *DB) initWriter(ctx context.Context) error {
	if err := db.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", translate(err))
	}
	var mode string
	if err := db.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", translate(err))
	}
	if !strings.EqualFold(mode, "wal") {
		// Some file systems (network shares) cannot hold a WAL; without it
		// readers would block behind the writer, so refuse rather than
		// degrade silently.
		return fmt.Errorf("journal mode is %q, not WAL: put the database on a local file system", mode)
	}
	if err := db.migrate(ctx); err != nil {
		return err
	}
	if err := db.checkWritable(ctx); err != nil {
		return err
	}
	return db.prepareWrites(ctx)
}

// checkWritable tries one write and rolls it back. A file this process may
// only read opens without error (SQLite falls back to read-only access), and
// once migrated it needs no write at start, so without this check the server
// would start, report itself ready, and refuse every message.
func (db *DB) checkWritable(ctx context.Context) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("check write access: %w", translate(err))
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES ('write check, rolled back', 0)`); err != nil {
		return fmt.Errorf("check write access: %w", translate(err))
	}
	return nil
}

// dsn builds a modernc.org/sqlite URI for path. The path is escaped so that
// '?', '#' and '%' in a directory name are not read as URI syntax.
func dsn(path string, params ...string) string {
	u := url.URL{Path: filepath.ToSlash(path)}
	return "file:" + u.EscapedPath() + "?" + strings.Join(params, "&")
}

// Close stops accepting writes, commits the writes already queued, stops the
// writer and closes the database. Later calls return nil.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.isShut.Store(true)
	close(db.reqs)
	db.mu.Unlock()

	<-db.stopped
	var errs []error
	for _, s := range db.stmts {
		errs = append(errs, s.Close())
	}
	errs = append(errs, db.rdb.Close(), db.wdb.Close())
	err := errors.Join(errs...)
	if err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// Ping reports whether the database is open and answers queries.
func (db *DB) Ping(ctx context.Context) error {
	if db.isShut.Load() {
		return ErrClosed
	}
	var one int
	if err := db.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database %s: %w", db.path, translate(err))
	}
	return nil
}

// purge moves everything committed from the WAL into the database file and
// truncates the WAL to zero bytes. Deletions of personal data call it: with
// secure_delete the deleted rows are zeroed in the pages written by the
// deleting transaction, but the WAL still holds the older copies of those
// pages (the ones written when the messages arrived) until it is reused, and
// the database file keeps the text until the next automatic checkpoint.
//
// It runs on the writer's one connection, which database/sql hands over
// between two batches. The deletion has already committed, so a checkpoint
// that cannot finish (a reader holding an old snapshot for longer than the
// busy timeout, or a Close meanwhile) is only logged: the next automatic
// checkpoint overwrites what is left.
func (db *DB) purge(ctx context.Context) {
	var busy, logFrames, checkpointed int
	err := db.wdb.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
	switch {
	case err != nil:
		db.log.Warn("store: WAL not emptied after a deletion; deleted text stays in it until the next checkpoint",
			"path", db.path, "err", translate(err))
	case busy != 0:
		db.log.Warn("store: WAL not emptied after a deletion (a reader held it); deleted text stays in it until the next checkpoint",
			"path", db.path)
	}
}

// clock returns the store's current time as it will be stored: UTC,
// truncated to the millisecond.
func (db *DB) clock() time.Time {
	return fromMillis(db.now().UnixMilli())
}

// toMillis converts t to the stored representation.
func toMillis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis converts a stored time back to a UTC time.Time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
