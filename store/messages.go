package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Message senders.
const (
	FromVisitor = "visitor"
	FromBot     = "bot"
	FromAgent   = "agent"
	FromSystem  = "system"
)

var validSenders = map[string]bool{FromVisitor: true, FromBot: true, FromAgent: true, FromSystem: true}

// Message is one line of a conversation.
type Message struct {
	ConversationID string    `json:"conversation_id"`
	Seq            int64     `json:"seq"`                 // assigned by the store: last_seq+1, atomically
	ClientID       string    `json:"client_id,omitempty"` // client-chosen id; unique per conversation when non-empty
	From           string    `json:"from"`                // visitor | bot | agent | system
	Text           string    `json:"text"`
	At             time.Time `json:"at"` // set from Options.Now when zero
}

// Decision is one per bot turn: why the bot said what it said.
type Decision struct {
	ConversationID string          `json:"conversation_id"`
	Seq            int64           `json:"seq"`         // seq of the bot message this decision produced (set by the store)
	InReplyTo      int64           `json:"in_reply_to"` // seq of the visitor message answered; 0 for the greeting
	Intent         string          `json:"intent"`
	Confidence     float64         `json:"confidence"`
	Source         string          `json:"source"`            // builtin | intent | faq | clarify | fallback | llm ...
	Rule           string          `json:"rule"`              // the policy rule that fired
	Details        json.RawMessage `json:"details,omitempty"` // free-form JSON (top intents, tone, ...)
	At             time.Time       `json:"at"`
}

func validateMessage(m Message) error {
	if m.ConversationID == "" {
		return fmt.Errorf("%w: message has no conversation id", ErrInvalid)
	}
	if !validSenders[m.From] {
		return fmt.Errorf("%w: unknown sender %q (want visitor, bot, agent or system)", ErrInvalid, m.From)
	}
	return nil
}

// AppendMessage stores m with the next seq. When m.ClientID is non-empty and already stored in that conversation, it returns the ORIGINAL message and duplicate=true and stores nothing.
// A missing conversation gives ErrNotFound. A nil error means the message is
// committed; on any error it is not acknowledged as stored.
func (db *DB) AppendMessage(ctx context.Context, m Message) (saved Message, duplicate bool, err error) {
	if err := validateMessage(m); err != nil {
		return Message{}, false, fmt.Errorf("append message: %w", err)
	}
	var out Message
	var dup bool
	err = db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		if m.ClientID != "" {
			orig, err := messageByClientID(ctx, tx, m.ConversationID, m.ClientID)
			if err == nil {
				out, dup = orig, true
				return nil
			}
			if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		saved, err := insertMessage(ctx, tx, m, now)
		if err != nil {
			return err
		}
		out, dup = saved, false
		return nil
	})
	if err != nil {
		return Message{}, false, fmt.Errorf("append message to %s: %w", m.ConversationID, err)
	}
	return out, dup, nil
}

// AppendBotTurn stores a bot message and its decision record atomically (one savepoint).
// m.From may be empty (it becomes "bot") but no other sender; d.Seq and
// d.ConversationID are taken from the stored message, and a zero d.At takes
// the message's time. A duplicate m.ClientID gives ErrConflict.
func (db *DB) AppendBotTurn(ctx context.Context, m Message, d Decision) (Message, error) {
	if m.From == "" {
		m.From = FromBot
	}
	if m.From != FromBot {
		return Message{}, fmt.Errorf("append bot turn: %w: sender is %q, want bot", ErrInvalid, m.From)
	}
	if err := validateMessage(m); err != nil {
		return Message{}, fmt.Errorf("append bot turn: %w", err)
	}
	if d.ConversationID != "" && d.ConversationID != m.ConversationID {
		return Message{}, fmt.Errorf("append bot turn: %w: decision is for conversation %s, message for %s",
			ErrInvalid, d.ConversationID, m.ConversationID)
	}
	var details any // NULL when empty
	if len(d.Details) > 0 {
		if !json.Valid(d.Details) {
			return Message{}, fmt.Errorf("append bot turn: %w: decision details are not valid JSON", ErrInvalid)
		}
		details = string(d.Details)
	}
	var out Message
	err := db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		saved, err := insertMessage(ctx, tx, m, now)
		if err != nil {
			return err
		}
		at := saved.At
		if !d.At.IsZero() {
			at = fromMillis(toMillis(d.At))
		}
		if _, err := tx.ExecContext(ctx,
			sqlInsertDecision,
			saved.ConversationID, saved.Seq, d.InReplyTo, d.Intent, d.Confidence, d.Source, d.Rule,
			details, toMillis(at)); err != nil {
			return fmt.Errorf("insert decision: %w", err)
		}
		out = saved
		return nil
	})
	if err != nil {
		return Message{}, fmt.Errorf("append bot turn to %s: %w", m.ConversationID, err)
	}
	return out, nil
}

// insertMessage assigns the next seq and stores m. The seq comes from the
// conversation row in the same statement that bumps it, so it is gapless and
// unique even without the single writer.
func insertMessage(ctx context.Context, tx *wtx, m Message, now time.Time) (Message, error) {
	if m.At.IsZero() {
		m.At = now
	}
	m.At = fromMillis(toMillis(m.At))
	err := tx.QueryRowContext(ctx,
		sqlNextSeq,
		toMillis(now), m.ConversationID).Scan(&m.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("conversation %s: %w", m.ConversationID, ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("next seq: %w", err)
	}
	var clientID any // NULL when empty, so the unique index ignores it
	if m.ClientID != "" {
		clientID = m.ClientID
	}
	if _, err := tx.ExecContext(ctx,
		sqlInsertMessage,
		m.ConversationID, m.Seq, clientID, m.From, m.Text, toMillis(m.At)); err != nil {
		return Message{}, fmt.Errorf("insert message: %w", err)
	}
	return m, nil
}

const messageColumns = `conversation_id, seq, client_id, sender, body, sent_at`

func scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var clientID sql.NullString
	var at int64
	if err := row.Scan(&m.ConversationID, &m.Seq, &clientID, &m.From, &m.Text, &at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Message{}, ErrNotFound
		}
		return Message{}, translate(err)
	}
	m.ClientID = clientID.String
	m.At = fromMillis(at)
	return m, nil
}

func messageByClientID(ctx context.Context, tx *wtx, conversationID, clientID string) (Message, error) {
	return scanMessage(tx.QueryRowContext(ctx,
		sqlMessageByClientID,
		conversationID, clientID))
}

// MessageByClientID returns the message a client stored under clientID in a conversation, or
// ErrNotFound. It lets a transport recognise a resend before deciding whether to refuse it (a
// resent message is acknowledged again, never rate limited).
func (db *DB) MessageByClientID(ctx context.Context, conversationID, clientID string) (Message, error) {
	if db.isShut.Load() {
		return Message{}, ErrClosed
	}
	m, err := scanMessage(db.rdb.QueryRowContext(ctx, sqlMessageByClientID, conversationID, clientID))
	if err != nil {
		return Message{}, fmt.Errorf("message %q of %s: %w", clientID, conversationID, err)
	}
	return m, nil
}

// MessagesAfter returns the messages of a conversation with seq > afterSeq, ascending seq; limit<=0 means no limit.
// An unknown conversation has no messages: the result is empty, not an error.
func (db *DB) MessagesAfter(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]Message, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	q := `SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq`
	args := []any{conversationID, afterSeq}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := db.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("messages of %s after %d: %w", conversationID, afterSeq, translate(err))
	}
	msgs, err := collect(rows, func(rows *sql.Rows) (Message, error) { return scanMessage(rows) })
	if err != nil {
		return nil, fmt.Errorf("messages of %s after %d: %w", conversationID, afterSeq, err)
	}
	return msgs, nil
}

// Decisions returns the decision records of a conversation, ascending seq.
func (db *DB) Decisions(ctx context.Context, conversationID string) ([]Decision, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT conversation_id, seq, in_reply_to, intent, confidence, source, rule, details, decided_at
		 FROM decisions WHERE conversation_id = ? ORDER BY seq`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("decisions of %s: %w", conversationID, translate(err))
	}
	ds, err := collect(rows, scanDecision)
	if err != nil {
		return nil, fmt.Errorf("decisions of %s: %w", conversationID, err)
	}
	return ds, nil
}

// scanDecision reads one row of conversation_id, seq, in_reply_to, intent,
// confidence, source, rule, details, decided_at.
func scanDecision(rows *sql.Rows) (Decision, error) {
	var d Decision
	var details sql.NullString
	var at int64
	if err := rows.Scan(&d.ConversationID, &d.Seq, &d.InReplyTo, &d.Intent, &d.Confidence,
		&d.Source, &d.Rule, &details, &at); err != nil {
		return Decision{}, err
	}
	if details.Valid {
		d.Details = json.RawMessage(details.String)
	}
	d.At = fromMillis(at)
	return d, nil
}
