package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HandoffRecord is one hand-off as the queue keeps it, field for field, so
// that the queue can be rebuilt after a restart. Unlike Handoff (one row per
// conversation, no version), a conversation handed over twice has two
// records, and every save carries a Version: the store keeps the highest.
// Mood is opaque to the store: a JSON object the queue writes and reads back.
type HandoffRecord struct {
	ID             string          `json:"id"`
	ConversationID string          `json:"conversation_id"`
	State          string          `json:"state"` // the conversation's state after this change: bot, queued, agent or closed
	Reason         string          `json:"reason"`
	Evidence       string          `json:"evidence"`
	Intent         string          `json:"intent,omitempty"`
	Tags           []string        `json:"tags"`
	Mood           json.RawMessage `json:"mood"`
	AgentID        string          `json:"agent_id,omitempty"`
	Email          string          `json:"email,omitempty"`
	Resolution     string          `json:"resolution,omitempty"`
	Returns        int             `json:"returns"`
	CreatedAt      time.Time       `json:"created_at"`  // zero: set from the store clock
	QueuedAt       time.Time       `json:"queued_at"`   // zero while never queued
	AcceptedAt     time.Time       `json:"accepted_at"` // zero until an agent accepts
	EndedAt        time.Time       `json:"ended_at"`    // zero until back with the bot or closed
	Version        int64           `json:"version"`
}

// normalizeHandoffRecord validates r and returns its stored form.
func normalizeHandoffRecord(r HandoffRecord) (HandoffRecord, error) {
	if strings.TrimSpace(r.ID) == "" {
		return HandoffRecord{}, fmt.Errorf("%w: hand-off record has no id", ErrInvalid)
	}
	if r.ConversationID == "" {
		return HandoffRecord{}, fmt.Errorf("%w: hand-off %s has no conversation id", ErrInvalid, r.ID)
	}
	if !validStates[r.State] {
		return HandoffRecord{}, fmt.Errorf("%w: hand-off %s state %q: use bot, queued, agent or closed", ErrInvalid, r.ID, r.State)
	}
	if r.Version < 0 {
		return HandoffRecord{}, fmt.Errorf("%w: hand-off %s version %d is negative", ErrInvalid, r.ID, r.Version)
	}
	if r.Returns < 0 {
		return HandoffRecord{}, fmt.Errorf("%w: hand-off %s returns %d is negative", ErrInvalid, r.ID, r.Returns)
	}
	if len(r.Mood) == 0 {
		r.Mood = json.RawMessage("{}")
	} else if !json.Valid(r.Mood) {
		return HandoffRecord{}, fmt.Errorf("%w: hand-off %s mood is not JSON", ErrInvalid, r.ID)
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	return r, nil
}

// Reads of the stored version and conversation of a record, and its upsert.
// The WHERE of the upsert is the version rule itself; the read before it lets
// the writer skip an outdated save without touching the conversation, and
// tell a record moved to another conversation (a bug) from an outdated one.
const (
	sqlHandoffRecordVersion = `SELECT version, conversation_id FROM handoff_records WHERE id = ?`
	sqlUpsertHandoffRecord  = `INSERT INTO handoff_records (id, conversation_id, state, reason, evidence, intent, tags, mood,
		agent_id, email, resolution, returns, created_at, queued_at, accepted_at, ended_at, version, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
		  state = excluded.state, reason = excluded.reason, evidence = excluded.evidence,
		  intent = excluded.intent, tags = excluded.tags, mood = excluded.mood,
		  agent_id = excluded.agent_id, email = excluded.email, resolution = excluded.resolution,
		  returns = excluded.returns, created_at = excluded.created_at, queued_at = excluded.queued_at,
		  accepted_at = excluded.accepted_at, ended_at = excluded.ended_at,
		  version = excluded.version, updated_at = excluded.updated_at
		WHERE excluded.version > handoff_records.version`
	sqlInsertHandoffWait = `INSERT INTO handoff_waits (handoff_id, accepted_at, conversation_id, queued_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (handoff_id, accepted_at) DO NOTHING`
)

// SaveHandoffRecord inserts or updates the hand-off r.ID and, in the same
// transaction, sets the conversation's state to r.State, so the bot and the
// queue never disagree after a crash. It reports whether r was
// applied: a record whose Version is not above the stored one is ignored
// (false, nil error), because the queue saves outside its lock and two
// snapshots of one hand-off may arrive out of order.
//
// A record in state agent with an acceptance time adds one row to the
// history of waits (AcceptedAt − QueuedAt), even when the record itself is
// outdated: the acceptance happened either way, and the history is keyed by
// hand-off and acceptance time, so a retry never counts it twice.
//
// A missing conversation gives ErrNotFound, bad fields ErrInvalid, and a
// record id already used by another conversation ErrConflict.
func (db *DB) SaveHandoffRecord(ctx context.Context, r HandoffRecord) (applied bool, err error) {
	r, err = normalizeHandoffRecord(r)
	if err != nil {
		return false, fmt.Errorf("save hand-off record: %w", err)
	}
	tags, err := json.Marshal(r.Tags)
	if err != nil {
		return false, fmt.Errorf("save hand-off %s: encode tags: %w", r.ID, err)
	}
	var ok bool
	err = db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		ok = false
		v := r
		if v.CreatedAt.IsZero() {
			v.CreatedAt = now
		}
		if v.State == StateAgent && !v.AcceptedAt.IsZero() && !v.QueuedAt.IsZero() && !v.AcceptedAt.Before(v.QueuedAt) {
			if _, err := tx.ExecContext(ctx, sqlInsertHandoffWait,
				v.ID, toMillis(v.AcceptedAt), v.ConversationID, toMillis(v.QueuedAt)); err != nil {
				return fmt.Errorf("record wait: %w", err)
			}
		}

		var stored int64
		var storedConv string
		switch err := tx.QueryRowContext(ctx, sqlHandoffRecordVersion, v.ID).Scan(&stored, &storedConv); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case storedConv != v.ConversationID:
			return fmt.Errorf("%w: hand-off %s belongs to conversation %s", ErrConflict, v.ID, storedConv)
		case stored >= v.Version:
			return nil // outdated: a newer snapshot is already stored
		}

		// The conversation first: a missing one is reported as such, and a
		// failing upsert below rolls this update back with it.
		res, err := tx.ExecContext(ctx, sqlSetState, v.State, toMillis(now), v.ConversationID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("conversation %s: %w", v.ConversationID, ErrNotFound)
		}
		res, err = tx.ExecContext(ctx, sqlUpsertHandoffRecord,
			v.ID, v.ConversationID, v.State, v.Reason, v.Evidence, v.Intent, string(tags), string(v.Mood),
			v.AgentID, v.Email, v.Resolution, v.Returns, toMillis(v.CreatedAt),
			nullMillis(v.QueuedAt), nullMillis(v.AcceptedAt), nullMillis(v.EndedAt), v.Version, toMillis(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			// Only a concurrent writer (a PostgreSQL backend) can get here:
			// undo the state change rather than leave it to an old snapshot.
			return fmt.Errorf("%w: hand-off %s: a newer version was saved meanwhile", ErrConflict, v.ID)
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("save hand-off %s of %s: %w", r.ID, r.ConversationID, err)
	}
	return ok, nil
}

const handoffRecordColumns = `id, conversation_id, state, reason, evidence, intent, tags, mood,
	agent_id, email, resolution, returns, created_at, queued_at, accepted_at, ended_at, version`

func scanHandoffRecord(row interface{ Scan(...any) error }) (HandoffRecord, error) {
	var r HandoffRecord
	var tags, mood string
	var created int64
	var queued, accepted, ended sql.NullInt64
	if err := row.Scan(&r.ID, &r.ConversationID, &r.State, &r.Reason, &r.Evidence, &r.Intent, &tags, &mood,
		&r.AgentID, &r.Email, &r.Resolution, &r.Returns, &created, &queued, &accepted, &ended, &r.Version); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return HandoffRecord{}, ErrNotFound
		}
		return HandoffRecord{}, translate(err)
	}
	if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
		return HandoffRecord{}, fmt.Errorf("hand-off %s: stored tags are not a JSON array: %w", r.ID, err)
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if !json.Valid([]byte(mood)) {
		return HandoffRecord{}, fmt.Errorf("hand-off %s: stored mood is not JSON", r.ID)
	}
	r.Mood = json.RawMessage(mood)
	r.CreatedAt = fromMillis(created)
	for _, t := range []struct {
		dst *time.Time
		src sql.NullInt64
	}{{&r.QueuedAt, queued}, {&r.AcceptedAt, accepted}, {&r.EndedAt, ended}} {
		if t.src.Valid {
			*t.dst = fromMillis(t.src.Int64)
		}
	}
	return r, nil
}

// HandoffRecord returns the stored hand-off id, or ErrNotFound.
func (db *DB) HandoffRecord(ctx context.Context, id string) (HandoffRecord, error) {
	if db.isShut.Load() {
		return HandoffRecord{}, ErrClosed
	}
	r, err := scanHandoffRecord(db.rdb.QueryRowContext(ctx,
		`SELECT `+handoffRecordColumns+` FROM handoff_records WHERE id = ?`, id))
	if err != nil {
		return HandoffRecord{}, fmt.Errorf("hand-off %s: %w", id, err)
	}
	return r, nil
}

// OpenHandoffRecords returns the hand-offs whose state is queued or agent,
// oldest first: what the queue rebuilds itself from on start-up.
func (db *DB) OpenHandoffRecords(ctx context.Context) ([]HandoffRecord, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT `+handoffRecordColumns+` FROM handoff_records WHERE state IN (?, ?) ORDER BY created_at, id`,
		StateQueued, StateAgent)
	if err != nil {
		return nil, fmt.Errorf("open hand-off records: %w", translate(err))
	}
	rs, err := collect(rows, func(rows *sql.Rows) (HandoffRecord, error) { return scanHandoffRecord(rows) })
	if err != nil {
		return nil, fmt.Errorf("open hand-off records: %w", err)
	}
	return rs, nil
}

// HandoffWait is one accepted hand-off: how long the visitor waited for a person.
type HandoffWait struct {
	HandoffID      string    `json:"handoff_id"`
	ConversationID string    `json:"conversation_id"`
	QueuedAt       time.Time `json:"queued_at"`
	AcceptedAt     time.Time `json:"accepted_at"`
}

// Wait is the time the visitor spent waiting.
func (w HandoffWait) Wait() time.Duration { return w.AcceptedAt.Sub(w.QueuedAt) }

// RecentHandoffWaits returns up to n of the latest acceptances, newest first
// (ties broken by hand-off id, so the order is stable). n <= 0 gives none.
func (db *DB) RecentHandoffWaits(ctx context.Context, n int) ([]HandoffWait, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	if n <= 0 {
		return []HandoffWait{}, nil
	}
	rows, err := db.rdb.QueryContext(ctx,
		`SELECT handoff_id, conversation_id, queued_at, accepted_at FROM handoff_waits
		 ORDER BY accepted_at DESC, handoff_id DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("recent waits: %w", translate(err))
	}
	ws, err := collect(rows, func(rows *sql.Rows) (HandoffWait, error) {
		var w HandoffWait
		var queued, accepted int64
		if err := rows.Scan(&w.HandoffID, &w.ConversationID, &queued, &accepted); err != nil {
			return HandoffWait{}, err
		}
		w.QueuedAt, w.AcceptedAt = fromMillis(queued), fromMillis(accepted)
		return w, nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent waits: %w", err)
	}
	return ws, nil
}

// nullMillis stores a zero time as NULL.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return toMillis(t)
}
