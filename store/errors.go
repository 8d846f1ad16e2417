package store

import (
	"errors"
	"fmt"

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

// translate is the one place where SQLite result codes become the store's
// error vocabulary. The driver error stays in the chain for the operator's
// log; callers test the sentinel with errors.Is.
func translate(err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrNotFound, ErrClosed, ErrConflict, ErrInvalid, ErrFull} {
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
		if code&0xff == sqlite3.SQLITE_FULL {
			return fmt.Errorf("%w: %w", ErrFull, err)
		}
		return err
	}
}
