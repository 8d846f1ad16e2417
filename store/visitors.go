package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// VisitorExport is everything the store keeps about one visitor, for a
// request to see (or hand over) their data: every conversation with its
// messages, the bot's decision records, hand-off records (which hold the email
// a visitor left) and the agents' internal notes about them.
type VisitorExport struct {
	VisitorID     string               `json:"visitor_id"`
	CreatedAt     time.Time            `json:"created_at"`
	Conversations []ConversationExport `json:"conversations"`
}

// ConversationExport is one conversation of a VisitorExport.
type ConversationExport struct {
	Conversation
	Messages  []Message       `json:"messages"`
	Decisions []Decision      `json:"decisions"`
	Handoffs  []HandoffRecord `json:"handoffs"`
	Notes     []Note          `json:"notes"`
}

// VisitorsByEmail returns the visitors (oldest first) who left email when
// they were handed over to a person, or wrote it in one of their own
// messages. The match ignores case. It is how an operator finds whose data
// to export or delete when a person asks by email.
func (db *DB) VisitorsByEmail(ctx context.Context, email string) ([]string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") {
		return nil, fmt.Errorf("visitors by email: %w: %q is not an email address", ErrInvalid, email)
	}
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	// LIKE with an escape character, and LOWER on both sides, behave the same
	// on SQLite and PostgreSQL ('_' is common in addresses and must not be a
	// wildcard).
	pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(email) + "%"
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT v.id FROM visitors v WHERE EXISTS (
		   SELECT 1 FROM conversations c JOIN handoff_records h ON h.conversation_id = c.id
		    WHERE c.visitor_id = v.id AND LOWER(h.email) = ?)
		 OR EXISTS (
		   SELECT 1 FROM conversations c JOIN messages m ON m.conversation_id = c.id
		    WHERE c.visitor_id = v.id AND m.sender = ? AND LOWER(m.body) LIKE ? ESCAPE '\')
		 ORDER BY v.created_at, v.id`,
		email, FromVisitor, pattern)
	if err != nil {
		return nil, fmt.Errorf("visitors by email: %w", translate(err))
	}
	ids, err := collect(rows, func(rows *sql.Rows) (string, error) {
		var id string
		err := rows.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("visitors by email: %w", err)
	}
	return ids, nil
}

// ExportVisitor returns everything kept about visitorID, read in one
// snapshot; conversations oldest first. An unknown visitor gives ErrNotFound.
func (db *DB) ExportVisitor(ctx context.Context, visitorID string) (VisitorExport, error) {
	if db.isShut.Load() {
		return VisitorExport{}, ErrClosed
	}
	out, err := db.exportVisitor(ctx, visitorID)
	if err != nil {
		return VisitorExport{}, fmt.Errorf("export visitor %s: %w", visitorID, err)
	}
	return out, nil
}

func (db *DB) exportVisitor(ctx context.Context, visitorID string) (VisitorExport, error) {
	// One read transaction: a snapshot, so a message arriving meanwhile
	// cannot make the export inconsistent (a decision without its message).
	tx, err := db.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return VisitorExport{}, translate(err)
	}
	defer func() { _ = tx.Rollback() }()

	out := VisitorExport{VisitorID: visitorID, Conversations: []ConversationExport{}}
	var created int64
	if err := tx.QueryRowContext(ctx, `SELECT created_at FROM visitors WHERE id = ?`, visitorID).Scan(&created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return VisitorExport{}, ErrNotFound
		}
		return VisitorExport{}, translate(err)
	}
	out.CreatedAt = fromMillis(created)

	rows, err := tx.QueryContext(ctx,
		`SELECT `+conversationColumns+` FROM conversations WHERE visitor_id = ? ORDER BY created_at, id`, visitorID)
	if err != nil {
		return VisitorExport{}, translate(err)
	}
	convs, err := collect(rows, func(rows *sql.Rows) (Conversation, error) { return scanConversation(rows) })
	if err != nil {
		return VisitorExport{}, err
	}
	for _, c := range convs {
		ce := ConversationExport{Conversation: c}
		if ce.Messages, err = queryAll(ctx, tx,
			`SELECT `+messageColumns+` FROM messages WHERE conversation_id = ? ORDER BY seq`,
			func(rows *sql.Rows) (Message, error) { return scanMessage(rows) }, c.ID); err != nil {
			return VisitorExport{}, fmt.Errorf("messages of %s: %w", c.ID, err)
		}
		if ce.Decisions, err = queryAll(ctx, tx,
			`SELECT conversation_id, seq, in_reply_to, intent, confidence, source, rule, details, decided_at
			 FROM decisions WHERE conversation_id = ? ORDER BY seq`, scanDecision, c.ID); err != nil {
			return VisitorExport{}, fmt.Errorf("decisions of %s: %w", c.ID, err)
		}
		if ce.Handoffs, err = queryAll(ctx, tx,
			`SELECT `+handoffRecordColumns+` FROM handoff_records WHERE conversation_id = ? ORDER BY created_at, id`,
			func(rows *sql.Rows) (HandoffRecord, error) { return scanHandoffRecord(rows) }, c.ID); err != nil {
			return VisitorExport{}, fmt.Errorf("hand-offs of %s: %w", c.ID, err)
		}
		if ce.Notes, err = queryAll(ctx, tx, sqlNotesOf, scanNote, c.ID); err != nil {
			return VisitorExport{}, fmt.Errorf("notes of %s: %w", c.ID, err)
		}
		out.Conversations = append(out.Conversations, ce)
	}
	return out, nil
}

// queryAll runs query in tx and scans every row.
func queryAll[T any](ctx context.Context, tx *sql.Tx, query string, scan func(*sql.Rows) (T, error), args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	return collect(rows, scan)
}

// DeleteVisitor deletes visitorID and everything kept about them: every
// conversation with its messages, decision records, hand-off records and
// waits, and internal notes (by ON DELETE CASCADE). The deleted text is
// overwritten in the file and the WAL is emptied, as for retention (see
// purge). It returns how many conversations went; an unknown visitor gives
// ErrNotFound.
//
// A visitor with a conversation waiting for an agent or with one is not
// deleted (ErrOpenHandoff, naming the conversations): a running server holds
// that hand-off in its queue. Otherwise a running server may still hold the
// visitor's conversation in memory (an open socket): appending to it then
// gives ErrNotFound, and the resume token no longer finds it, so the widget
// starts a new conversation when it reconnects.
func (db *DB) DeleteVisitor(ctx context.Context, visitorID string) (int, error) {
	var deleted int
	err := db.write(ctx, func(ctx context.Context, tx *wtx, _ time.Time) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM conversations WHERE visitor_id = ? AND state IN (?, ?) ORDER BY created_at`,
			visitorID, StateQueued, StateAgent)
		if err != nil {
			return err
		}
		open, err := collect(rows, func(rows *sql.Rows) (string, error) {
			var id string
			err := rows.Scan(&id)
			return id, err
		})
		if err != nil {
			return err
		}
		if len(open) > 0 {
			return fmt.Errorf("%w (%s): close it in the agent console, or let the agent hand it back to the bot, then delete again", ErrOpenHandoff, strings.Join(open, ", "))
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversations WHERE visitor_id = ?`, visitorID).Scan(&n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM visitors WHERE id = ?`, visitorID)
		if err != nil {
			return err
		}
		gone, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if gone == 0 {
			return ErrNotFound
		}
		deleted = n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete visitor %s: %w", visitorID, err)
	}
	db.purge(ctx)
	db.log.Info("visitor deleted", "visitor", visitorID, "conversations", deleted)
	return deleted, nil
}
