package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxNoteLen is the most runes one internal note may have; AddNote checks it
// before writing, so callers get a clear ErrInvalid.
const MaxNoteLen = 10000

// Note is an internal note on a conversation: agents see it, the visitor
// never does.
type Note struct {
	ConversationID string    `json:"conversation_id"`
	Seq            int64     `json:"seq"`        // 1, 2, ... per conversation
	AgentID        string    `json:"agent_id"`   // empty once the author was removed
	AgentName      string    `json:"agent_name"` // the author's current display name; empty once removed
	Text           string    `json:"text"`
	At             time.Time `json:"at"`
}

// AddNote stores an internal note by an agent on a conversation. Empty text
// or text longer than MaxNoteLen gives ErrInvalid; a missing conversation or
// agent gives ErrNotFound.
func (db *DB) AddNote(ctx context.Context, conversationID, agentID, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("add note to %s: %w: the note is empty", conversationID, ErrInvalid)
	}
	if n := utf8.RuneCountInString(text); n > MaxNoteLen {
		return fmt.Errorf("add note to %s: %w: the note has %d characters, at most %d fit", conversationID, ErrInvalid, n, MaxNoteLen)
	}
	err := db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		for _, check := range []struct{ what, query, id string }{
			{"conversation", `SELECT COUNT(*) FROM conversations WHERE id = ?`, conversationID},
			{"agent", `SELECT COUNT(*) FROM agents WHERE id = ?`, agentID},
		} {
			var n int
			if err := tx.QueryRowContext(ctx, check.query, check.id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%s %s: %w", check.what, check.id, ErrNotFound)
			}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO notes (conversation_id, seq, agent_id, body, created_at)
			 SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM notes WHERE conversation_id = ?`,
			conversationID, agentID, text, toMillis(now), conversationID)
		return err
	})
	if err != nil {
		return fmt.Errorf("add note to %s: %w", conversationID, err)
	}
	return nil
}

// Notes returns the internal notes of a conversation in the order they were
// written. An unknown conversation has none: the result is empty.
func (db *DB) Notes(ctx context.Context, conversationID string) ([]Note, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx, sqlNotesOf, conversationID)
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", conversationID, translate(err))
	}
	ns, err := collect(rows, scanNote)
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", conversationID, err)
	}
	return ns, nil
}

// sqlNotesOf reads the notes of one conversation, in order, with their authors' names.
const sqlNotesOf = `SELECT n.conversation_id, n.seq, n.agent_id, a.name, n.body, n.created_at
	FROM notes n LEFT JOIN agents a ON a.id = n.agent_id
	WHERE n.conversation_id = ? ORDER BY n.seq`

// scanNote reads one row of sqlNotesOf.
func scanNote(rows *sql.Rows) (Note, error) {
	var n Note
	var agentID, name sql.NullString
	var at int64
	if err := rows.Scan(&n.ConversationID, &n.Seq, &agentID, &name, &n.Text, &at); err != nil {
		return Note{}, err
	}
	n.AgentID, n.AgentName, n.At = agentID.String, name.String, fromMillis(at)
	return n, nil
}
