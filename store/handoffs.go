package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Hand-off states: the life of one hand-off from bot to person.
const (
	HandoffQueued   = "queued"   // waiting for an agent
	HandoffOffered  = "offered"  // offered to AgentID, who has not accepted yet
	HandoffAssigned = "assigned" // AgentID owns the conversation
	HandoffClosed   = "closed"   // over: the conversation is closed or back with the bot
)

var validHandoffStates = map[string]bool{
	HandoffQueued: true, HandoffOffered: true, HandoffAssigned: true, HandoffClosed: true,
}

// Limits checked before writing, so callers get a clear ErrInvalid.
const (
	MaxNoteLen  = 10000 // runes in one internal note
	maxEmailLen = 254   // RFC 5321 path limit
)

// Handoff is what the queue needs to survive a restart: why a conversation
// was handed to a person, how urgent it is, and where it stands.
type Handoff struct {
	ConversationID string    `json:"conversation_id"`
	Reason         string    `json:"reason"`   // the trigger, e.g. "frustration"
	Evidence       string    `json:"evidence"` // shown to the agent, e.g. "frustration 0.82 ≥ 0.70: 'third time'"
	Priority       float64   `json:"priority"`
	Tags           []string  `json:"tags"`               // intent tags matched against agent skills
	AgentID        string    `json:"agent_id,omitempty"` // required when offered or assigned, empty when queued
	State          string    `json:"state"`              // queued | offered | assigned | closed
	QueuedAt       time.Time `json:"queued_at"`
	AssignedAt     time.Time `json:"assigned_at"` // zero until assigned
	ClosedAt       time.Time `json:"closed_at"`   // zero until closed
	Resolution     string    `json:"resolution,omitempty"`
	VisitorEmail   string    `json:"visitor_email,omitempty"` // left by the visitor when nobody was available

	// ConversationState is the conversation state SaveHandoff sets. Leave it
	// empty for the one that follows from State (queued and offered: queued;
	// assigned: agent; closed: closed); the only other choice is "bot" with
	// State closed, for an agent handing the conversation back to the bot.
	// It is not stored in the hand-off: read the conversation for it.
	ConversationState string `json:"-"`
}

// conversationStateFor returns the conversation state a hand-off implies,
// or ErrInvalid when h.ConversationState contradicts h.State.
func conversationStateFor(h Handoff) (string, error) {
	want := map[string]string{
		HandoffQueued: StateQueued, HandoffOffered: StateQueued,
		HandoffAssigned: StateAgent, HandoffClosed: StateClosed,
	}[h.State]
	switch {
	case h.ConversationState == "" || h.ConversationState == want:
		return want, nil
	case h.State == HandoffClosed && h.ConversationState == StateBot:
		return StateBot, nil
	}
	return "", fmt.Errorf("%w: a %s hand-off cannot leave the conversation in state %q", ErrInvalid, h.State, h.ConversationState)
}

// normalizeHandoff validates h and returns its stored form: text trimmed,
// empty tags dropped, and the times that do not apply to the state cleared
// (a re-queued hand-off has no assignment time). Zero times that do apply
// are filled in by SaveHandoff from the store clock.
func normalizeHandoff(h Handoff) (Handoff, error) {
	if h.ConversationID == "" {
		return Handoff{}, fmt.Errorf("%w: hand-off has no conversation id", ErrInvalid)
	}
	if !validHandoffStates[h.State] {
		return Handoff{}, fmt.Errorf("%w: hand-off state %q: use queued, offered, assigned or closed", ErrInvalid, h.State)
	}
	h.Reason = strings.TrimSpace(h.Reason)
	if h.Reason == "" {
		return Handoff{}, fmt.Errorf("%w: hand-off has no reason; every hand-off says why it happened", ErrInvalid)
	}
	if math.IsNaN(h.Priority) || math.IsInf(h.Priority, 0) {
		return Handoff{}, fmt.Errorf("%w: hand-off priority %v is not a finite number", ErrInvalid, h.Priority)
	}
	switch h.State {
	case HandoffQueued:
		if h.AgentID != "" {
			return Handoff{}, fmt.Errorf("%w: a queued hand-off has no agent (got %s); clear AgentID when re-queueing", ErrInvalid, h.AgentID)
		}
	case HandoffOffered, HandoffAssigned:
		if h.AgentID == "" {
			return Handoff{}, fmt.Errorf("%w: an %s hand-off needs the agent's id", ErrInvalid, h.State)
		}
	}
	tags := make([]string, 0, len(h.Tags))
	for _, t := range h.Tags {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	h.Tags = tags
	h.Resolution = strings.TrimSpace(h.Resolution)
	h.VisitorEmail = strings.TrimSpace(h.VisitorEmail)
	if e := h.VisitorEmail; e != "" &&
		(len(e) > maxEmailLen || !strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>") || !utf8.ValidString(e)) {
		return Handoff{}, fmt.Errorf("%w: visitor e-mail %q is not an address", ErrInvalid, e)
	}
	switch h.State {
	case HandoffQueued, HandoffOffered:
		h.AssignedAt, h.ClosedAt = time.Time{}, time.Time{}
	case HandoffAssigned:
		h.ClosedAt = time.Time{}
	}
	return h, nil
}

// nullMillis stores a zero time as NULL.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return toMillis(t)
}

// SaveHandoff creates or replaces the hand-off of h.ConversationID and, in
// the same transaction, sets the conversation's state (see
// Handoff.ConversationState), so the queue and the conversation never
// disagree after a crash. Zero times that apply to the state are set from
// the store clock: QueuedAt always, AssignedAt when assigned, ClosedAt when
// closed. A missing conversation or agent gives ErrNotFound, bad fields
// ErrInvalid.
func (db *DB) SaveHandoff(ctx context.Context, h Handoff) error {
	h, err := normalizeHandoff(h)
	if err != nil {
		return fmt.Errorf("save hand-off: %w", err)
	}
	convState, err := conversationStateFor(h)
	if err != nil {
		return fmt.Errorf("save hand-off of %s: %w", h.ConversationID, err)
	}
	tags, err := json.Marshal(h.Tags)
	if err != nil {
		return fmt.Errorf("save hand-off of %s: encode tags: %w", h.ConversationID, err)
	}
	err = db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		v := h
		if v.QueuedAt.IsZero() {
			v.QueuedAt = now
		}
		if v.State == HandoffAssigned && v.AssignedAt.IsZero() {
			v.AssignedAt = now
		}
		if v.State == HandoffClosed && v.ClosedAt.IsZero() {
			v.ClosedAt = now
		}
		// The conversation first: a missing one is reported as such, and a
		// failing upsert below rolls this update back with it.
		res, err := tx.ExecContext(ctx, sqlSetState, convState, toMillis(now), v.ConversationID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("conversation %s: %w", v.ConversationID, ErrNotFound)
		}
		var agentID any // NULL when queued or never assigned
		if v.AgentID != "" {
			agentID = v.AgentID
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO handoffs (conversation_id, reason, evidence, priority, tags, agent_id, state,
			   queued_at, assigned_at, closed_at, resolution, visitor_email, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (conversation_id) DO UPDATE SET
			   reason = excluded.reason, evidence = excluded.evidence, priority = excluded.priority,
			   tags = excluded.tags, agent_id = excluded.agent_id, state = excluded.state,
			   queued_at = excluded.queued_at, assigned_at = excluded.assigned_at,
			   closed_at = excluded.closed_at, resolution = excluded.resolution,
			   visitor_email = excluded.visitor_email, updated_at = excluded.updated_at`,
			v.ConversationID, v.Reason, v.Evidence, v.Priority, string(tags), agentID, v.State,
			toMillis(v.QueuedAt), nullMillis(v.AssignedAt), nullMillis(v.ClosedAt),
			v.Resolution, v.VisitorEmail, toMillis(now))
		if err != nil {
			// The only foreign key left unchecked above is the agent's.
			if errors.Is(translate(err), ErrNotFound) {
				return fmt.Errorf("agent %s: %w", v.AgentID, ErrNotFound)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save hand-off of %s: %w", h.ConversationID, err)
	}
	return nil
}

const handoffColumns = `conversation_id, reason, evidence, priority, tags, agent_id, state,
	queued_at, assigned_at, closed_at, resolution, visitor_email`

func scanHandoff(row interface{ Scan(...any) error }) (Handoff, error) {
	var h Handoff
	var tags string
	var agentID sql.NullString
	var queued int64
	var assigned, closed sql.NullInt64
	if err := row.Scan(&h.ConversationID, &h.Reason, &h.Evidence, &h.Priority, &tags, &agentID, &h.State,
		&queued, &assigned, &closed, &h.Resolution, &h.VisitorEmail); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Handoff{}, ErrNotFound
		}
		return Handoff{}, translate(err)
	}
	if err := json.Unmarshal([]byte(tags), &h.Tags); err != nil {
		return Handoff{}, fmt.Errorf("hand-off of %s: stored tags are not a JSON array: %w", h.ConversationID, err)
	}
	if h.Tags == nil {
		h.Tags = []string{}
	}
	h.AgentID = agentID.String
	h.QueuedAt = fromMillis(queued)
	if assigned.Valid {
		h.AssignedAt = fromMillis(assigned.Int64)
	}
	if closed.Valid {
		h.ClosedAt = fromMillis(closed.Int64)
	}
	return h, nil
}

// Handoff returns the current (or last) hand-off of a conversation, or
// ErrNotFound when it was never handed off.
func (db *DB) Handoff(ctx context.Context, conversationID string) (Handoff, error) {
	if db.isShut.Load() {
		return Handoff{}, ErrClosed
	}
	h, err := scanHandoff(db.rdb.QueryRowContext(ctx,
		`SELECT `+handoffColumns+` FROM handoffs WHERE conversation_id = ?`, conversationID))
	if err != nil {
		return Handoff{}, fmt.Errorf("hand-off of %s: %w", conversationID, err)
	}
	return h, nil
}

// OpenHandoffs returns the hand-offs still queued, offered or assigned,
// oldest first: the queue to rebuild on start-up.
func (db *DB) OpenHandoffs(ctx context.Context) ([]Handoff, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT `+handoffColumns+` FROM handoffs WHERE state IN (?, ?, ?) ORDER BY queued_at, conversation_id`,
		HandoffQueued, HandoffOffered, HandoffAssigned)
	if err != nil {
		return nil, fmt.Errorf("open hand-offs: %w", translate(err))
	}
	hs, err := collect(rows, func(rows *sql.Rows) (Handoff, error) { return scanHandoff(rows) })
	if err != nil {
		return nil, fmt.Errorf("open hand-offs: %w", err)
	}
	return hs, nil
}

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
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT n.conversation_id, n.seq, n.agent_id, a.name, n.body, n.created_at
		 FROM notes n LEFT JOIN agents a ON a.id = n.agent_id
		 WHERE n.conversation_id = ? ORDER BY n.seq`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", conversationID, translate(err))
	}
	ns, err := collect(rows, func(rows *sql.Rows) (Note, error) {
		var n Note
		var agentID, name sql.NullString
		var at int64
		if err := rows.Scan(&n.ConversationID, &n.Seq, &agentID, &name, &n.Text, &at); err != nil {
			return Note{}, err
		}
		n.AgentID, n.AgentName, n.At = agentID.String, name.String, fromMillis(at)
		return n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", conversationID, err)
	}
	return ns, nil
}
