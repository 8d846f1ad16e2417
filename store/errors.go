package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound reports that the conversation (or other record) asked for does
// not exist. Test with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrClosed reports a call on a DB that has been closed.
var ErrClosed = errors.New("store closed")

// ErrConflict reports a write that would duplicate a unique value, such as a
// resume token hash already in use.
var ErrConflict = errors.New("conflict")

// ErrInvalid reports an argument the store refuses before touching the
// database, such as an unknown conversation state or sender.
var ErrInvalid = errors.New("invalid")

// ErrFull reports that the disk (or the database size limit) is full; the
// write was not stored and the caller must not acknowledge it.
var ErrFull = errors.New("storage full")

// ErrOpenHandoff reports that a visitor cannot be deleted yet: one of their conversations is
// waiting for an agent or with one. A running server holds that hand-off in its queue, which
// would go on trying to save it; it must be closed (or handed back to the bot) first.
var ErrOpenHandoff = errors.New("a conversation is waiting for an agent or with one")

// ErrReadOnly reports that the database cannot be written: the file, its
// directory or the file system is read-only for this process. Nothing was
// stored.
var ErrReadOnly = errors.New("database is read-only")

// translate is the one place where SQLite result codes become the store's
// error vocabulary. The driver error stays in the chain for the operator's
// log; callers test the sentinel with errors.Is.
func translate(err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrNotFound, ErrClosed, ErrConflict, ErrInvalid, ErrFull, ErrReadOnly} {
		if errors.Is(err, known) {
			return err // already translated
		}
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch code := se.Code(); code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// Only a reference to a missing row can break a foreign key on
		// insert; deletes cascade.
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK:
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	default:
		switch code & 0xff {
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("%w: %w", ErrFull, err)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %w", ErrReadOnly, err)
		}
		return err
	}
}

// explainUnwritable adds to an Open error caused by missing write access
// (SQLite's "attempt to write a readonly database" or "unable to open
// database file") what exactly is not writable and what to do. Other errors
// pass unchanged.
func explainUnwritable(abs string, err error) error {
	var se *sqlite.Error
	cantOpen := errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CANTOPEN
	if !cantOpen && !errors.Is(err, ErrReadOnly) {
		return err
	}
	// SQLite keeps two files beside the database in WAL mode, so the
	// directory must be writable too. Creating a file is the one portable
	// test, and its error names the cause (permission, read-only file system).
	prefix := "" // ErrReadOnly once in the chain, for errors.Is
	if !errors.Is(err, ErrReadOnly) {
		prefix = ErrReadOnly.Error() + ": "
	}
	dir := filepath.Dir(abs)
	f, derr := os.CreateTemp(dir, ".attune-write-check-*")
	if derr != nil {
		return &readOnlyError{fmt.Sprintf("%sthe directory %s is not writable, and SQLite creates %s-wal and %s-shm beside the database (%v); make the directory writable for the user running attune, or choose a database file in a writable directory",
			prefix, dir, filepath.Base(abs), filepath.Base(abs), derr), err}
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return &readOnlyError{prefix + "the file (or its -wal or -shm file) is read-only for the user running attune; make it writable (check its permissions and owner) or choose another file", err}
}

// readOnlyError is explainUnwritable's answer: the explanation first, then the SQLite error.
type readOnlyError struct {
	msg string
	err error
}

func (e *readOnlyError) Error() string { return e.msg + ": " + e.err.Error() }

// Is makes errors.Is(err, ErrReadOnly) hold whatever SQLite reported.
func (e *readOnlyError) Is(target error) bool { return target == ErrReadOnly }

func (e *readOnlyError) Unwrap() error { return e.err }
