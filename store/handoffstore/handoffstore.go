// Package handoffstore adapts the SQLite store to the hand-off queue's port, handoff.Store. It
// lives outside package store because store imports nothing of the project (DESIGN.md): the
// store speaks its own types (store.HandoffRecord, store.HandoffWait) and this package only
// translates between them and handoff.Record, so neither side knows the other.
package handoffstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/store"
)

// Adapter is a handoff.Store backed by a *store.DB. It is safe for concurrent use, as the DB is.
type Adapter struct {
	db *store.DB
}

var _ handoff.Store = (*Adapter)(nil)

// New returns an Adapter over db; the caller keeps ownership of db and closes it.
func New(db *store.DB) *Adapter { return &Adapter{db: db} }

// SaveHandoff stores r and sets its conversation's state to r.State in the same transaction.
// A record whose Version is not above the stored one is ignored with a nil error, as the port
// requires; an acceptance it carries is still added to the history of waits.
func (a *Adapter) SaveHandoff(ctx context.Context, r handoff.Record) error {
	mood, err := json.Marshal(r.Mood)
	if err != nil {
		return fmt.Errorf("save hand-off %s: encode mood: %w", r.ID, err)
	}
	if _, err := a.db.SaveHandoffRecord(ctx, toStore(r, mood)); err != nil {
		return err // already says which hand-off and conversation
	}
	return nil
}

// LoadOpenHandoffs returns every hand-off whose state is queued or agent, oldest first.
func (a *Adapter) LoadOpenHandoffs(ctx context.Context) ([]handoff.Record, error) {
	rs, err := a.db.OpenHandoffRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("load open hand-offs: %w", err)
	}
	out := make([]handoff.Record, 0, len(rs))
	for _, r := range rs {
		rec, err := fromStore(r)
		if err != nil {
			return nil, fmt.Errorf("load open hand-offs: %w", err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// RecentWaits returns up to n of the latest waits for a person (AcceptedAt − QueuedAt),
// newest first.
func (a *Adapter) RecentWaits(ctx context.Context, n int) ([]time.Duration, error) {
	ws, err := a.db.RecentHandoffWaits(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("load recent waits: %w", err)
	}
	out := make([]time.Duration, len(ws))
	for i, w := range ws {
		out[i] = w.Wait()
	}
	return out, nil
}

func toStore(r handoff.Record, mood []byte) store.HandoffRecord {
	return store.HandoffRecord{
		ID: r.ID, ConversationID: r.ConversationID, State: r.State,
		Reason: r.Reason, Evidence: r.Evidence, Intent: r.Intent, Tags: r.Tags, Mood: mood,
		AgentID: r.AgentID, Email: r.Email, Resolution: r.Resolution, Returns: r.Returns,
		CreatedAt: r.CreatedAt, QueuedAt: r.QueuedAt, AcceptedAt: r.AcceptedAt, EndedAt: r.EndedAt,
		Version: r.Version,
	}
}

func fromStore(r store.HandoffRecord) (handoff.Record, error) {
	var mood handoff.Mood
	if err := json.Unmarshal(r.Mood, &mood); err != nil {
		return handoff.Record{}, fmt.Errorf("hand-off %s: decode mood: %w", r.ID, err)
	}
	var tags []string
	if len(r.Tags) > 0 {
		tags = r.Tags // nil for none, as the queue builds them
	}
	return handoff.Record{
		ID: r.ID, ConversationID: r.ConversationID, State: r.State,
		Reason: r.Reason, Evidence: r.Evidence, Intent: r.Intent, Tags: tags, Mood: mood,
		AgentID: r.AgentID, Email: r.Email, Resolution: r.Resolution, Returns: r.Returns,
		CreatedAt: r.CreatedAt, QueuedAt: r.QueuedAt, AcceptedAt: r.AcceptedAt, EndedAt: r.EndedAt,
		Version: r.Version,
	}, nil
}
