package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Conversation states.
const (
	StateBot    = "bot"    // the bot answers
	StateQueued = "queued" // waiting for a human agent
	StateAgent  = "agent"  // a human agent answers
	StateClosed = "closed" // finished
)

// validStates lists the states SetState accepts; the schema has no CHECK so
// that a new state is a code change, not a table rebuild.
var validStates = map[string]bool{StateBot: true, StateQueued: true, StateAgent: true, StateClosed: true}

// Conversation is one chat between a visitor and the business.
type Conversation struct {
	ID        string    `json:"id"`
	VisitorID string    `json:"visitor_id"`
	State     string    `json:"state"`
	LastSeq   int64     `json:"last_seq"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"` // bumped by every appended message
}

const conversationColumns = `id, visitor_id, state, last_seq, created_at, updated_at`

func scanConversation(row interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var created, updated int64
	if err := row.Scan(&c.ID, &c.VisitorID, &c.State, &c.LastSeq, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Conversation{}, ErrNotFound
		}
		return Conversation{}, translate(err)
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

// tokenKey validates a resume token hash and returns its stored form.
func tokenKey(tokenHash []byte) (string, error) {
	if len(tokenHash) != 32 {
		return "", fmt.Errorf("%w: token hash must be a 32-byte SHA-256 digest, got %d bytes", ErrInvalid, len(tokenHash))
	}
	return hex.EncodeToString(tokenHash), nil
}

// CreateConversation creates a visitor and a conversation in state "bot", remembering only the SHA-256 of the resume token (never the token).
// A hash already in use gives ErrConflict.
func (db *DB) CreateConversation(ctx context.Context, tokenHash []byte) (Conversation, error) {
	return db.createConversation(ctx, tokenHash, "")
}

// CreateConversationFor creates another conversation, in state "bot", for an existing visitor:
// a visitor who starts a new chat after one ended. Their earlier conversations stay as they are
// (see VisitorConversations). A visitor that no longer exists gives ErrNotFound.
func (db *DB) CreateConversationFor(ctx context.Context, tokenHash []byte, visitorID string) (Conversation, error) {
	if visitorID == "" {
		return Conversation{}, fmt.Errorf("create conversation: %w: empty visitor id", ErrInvalid)
	}
	return db.createConversation(ctx, tokenHash, visitorID)
}

// createConversation creates a conversation for visitorID, or for a new visitor when it is empty.
func (db *DB) createConversation(ctx context.Context, tokenHash []byte, visitorID string) (Conversation, error) {
	key, err := tokenKey(tokenHash)
	if err != nil {
		return Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	var c Conversation
	err = db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		v := Conversation{ID: NewID(), VisitorID: visitorID, State: StateBot, CreatedAt: now, UpdatedAt: now}
		if visitorID == "" {
			v.VisitorID = NewID()
			if _, err := tx.ExecContext(ctx, sqlInsertVisitor, v.VisitorID, toMillis(now)); err != nil {
				return err
			}
		} else {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM visitors WHERE id = ?`, visitorID).Scan(&one); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return ErrNotFound
				}
				return err
			}
		}
		if _, err := tx.ExecContext(ctx,
			sqlInsertConversation,
			v.ID, v.VisitorID, key, v.State, toMillis(now), toMillis(now)); err != nil {
			return err
		}
		c = v
		return nil
	})
	if err != nil {
		return Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	return c, nil
}

// VisitorConversations lists a visitor's conversations, newest first (at most
// maxVisitorConversations), for the console's "earlier conversations".
// An unknown visitor has none.
func (db *DB) VisitorConversations(ctx context.Context, visitorID string) ([]Conversation, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT `+conversationColumns+` FROM conversations WHERE visitor_id = ? ORDER BY created_at DESC, id LIMIT ?`,
		visitorID, maxVisitorConversations)
	if err != nil {
		return nil, fmt.Errorf("conversations of visitor %s: %w", visitorID, translate(err))
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("conversations of visitor %s: %w", visitorID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("conversations of visitor %s: %w", visitorID, translate(err))
	}
	return out, nil
}

// maxVisitorConversations bounds VisitorConversations: an agent needs the recent history of a
// returning customer, not every chat they ever had.
const maxVisitorConversations = 20

// ConversationByToken returns the conversation whose resume token hashes to
// tokenHash, or ErrNotFound.
func (db *DB) ConversationByToken(ctx context.Context, tokenHash []byte) (Conversation, error) {
	key, err := tokenKey(tokenHash)
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation by token: %w", err)
	}
	if db.isShut.Load() {
		return Conversation{}, ErrClosed
	}
	c, err := scanConversation(db.rdb.QueryRowContext(ctx,
		`SELECT `+conversationColumns+` FROM conversations WHERE token_hash = ?`, key))
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation by token: %w", err)
	}
	return c, nil
}

// Conversation returns the conversation with the given id, or ErrNotFound.
func (db *DB) Conversation(ctx context.Context, id string) (Conversation, error) {
	if db.isShut.Load() {
		return Conversation{}, ErrClosed
	}
	c, err := scanConversation(db.rdb.QueryRowContext(ctx,
		`SELECT `+conversationColumns+` FROM conversations WHERE id = ?`, id))
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation %s: %w", id, err)
	}
	return c, nil
}

// SetState moves a conversation to state (one of the State constants; others
// give ErrInvalid) and bumps its UpdatedAt, since a state change is activity
// for retention. A missing conversation gives ErrNotFound.
func (db *DB) SetState(ctx context.Context, conversationID, state string) error {
	if !validStates[state] {
		return fmt.Errorf("set state of %s: %w: unknown state %q (want bot, queued, agent or closed)",
			conversationID, ErrInvalid, state)
	}
	err := db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		res, err := tx.ExecContext(ctx,
			sqlSetState,
			state, toMillis(now), conversationID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set state of %s: %w", conversationID, err)
	}
	return nil
}

// DeleteExpired deletes conversations (with their messages and decisions, and visitors left without conversations) whose UpdatedAt is before the cutoff; it returns how many conversations it deleted. Used for transcript retention.
// The deleted text is overwritten in the database file and the WAL is emptied (see purge), so a
// copy of the files taken afterwards does not hold it either.
//
// A conversation waiting for a person (queued) or with one (agent) is kept however long it has
// been idle, and expires once it is closed or back with the bot: a ticket left over a long weekend,
// with the email the visitor left for an answer, is a request nobody has answered yet, and
// retention must not lose it.
//
// It deletes in transactions of at most DefaultExpireChunk conversations, oldest first, so that a
// sweep with much to delete (after retention was lowered, or a long downtime) never holds the
// writer for long: visitor messages queued meanwhile are committed between two chunks. When ctx
// ends or a chunk fails, the chunks already deleted stay deleted and are counted.
func (db *DB) DeleteExpired(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	var err error
	for {
		var n int
		n, err = db.deleteExpiredChunk(ctx, before)
		deleted += n
		if err != nil || n < db.expireChunk {
			break
		}
	}
	if deleted > 0 {
		db.purge(ctx)
		db.log.Info("expired conversations deleted", "count", deleted)
	}
	if err != nil {
		return deleted, fmt.Errorf("delete conversations before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return deleted, nil
}

// DefaultExpireChunk is how many conversations one retention transaction deletes at most: with
// their messages, decision records and overwritten text, about a tenth of a second of writing.
const DefaultExpireChunk = 500

// deleteExpiredChunk deletes up to db.expireChunk of the oldest expired conversations in one
// write request, with the visitors it leaves without any conversation.
func (db *DB) deleteExpiredChunk(ctx context.Context, before time.Time) (int, error) {
	var deleted int
	err := db.write(ctx, func(ctx context.Context, tx *wtx, _ time.Time) error {
		deleted = 0
		rows, err := tx.QueryContext(ctx, sqlExpiredChunk, toMillis(before), db.expireChunk)
		if err != nil {
			return err
		}
		type idPair struct{ conv, visitor string }
		expired, err := collect(rows, func(rows *sql.Rows) (idPair, error) {
			var p idPair
			err := rows.Scan(&p.conv, &p.visitor)
			return p, err
		})
		if err != nil {
			return err
		}
		// Messages, decisions, hand-off records, waits and notes go by ON DELETE CASCADE.
		for _, p := range expired {
			if _, err := tx.ExecContext(ctx, sqlDeleteConversation, p.conv); err != nil {
				return err
			}
		}
		for _, p := range expired {
			if _, err := tx.ExecContext(ctx, sqlDeleteVisitorIfOrphan, p.visitor, p.visitor); err != nil {
				return err
			}
		}
		deleted = len(expired)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}
