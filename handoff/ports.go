package handoff

import (
	"context"
	"errors"
	"time"
)

// Conversation states, the same words as the store's and the visitor protocol's `state` frame.
const (
	StateBot    = "bot"
	StateQueued = "queued"
	StateAgent  = "agent"
	StateClosed = "closed"
)

// Record is one hand-off as the store keeps it: enough to rebuild the queue after a restart and
// to show, later, why a conversation went to a person and how it ended.
type Record struct {
	// ID names this hand-off; a conversation handed over twice has two records.
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	// State is the conversation's state after this change (queued, agent, bot or closed).
	State    string   `json:"state"`
	Reason   string   `json:"reason"`
	Evidence string   `json:"evidence"`
	Intent   string   `json:"intent,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Mood     Mood     `json:"mood"`
	// AgentID is the agent who owns the conversation (State agent), or who owned it last.
	AgentID string `json:"agent_id,omitempty"`
	// Email is the address the visitor left to be contacted while nobody was available.
	Email string `json:"email,omitempty"`
	// Resolution is the tag an agent closed the conversation with.
	Resolution string `json:"resolution,omitempty"`
	// Returns counts how often the conversation went back to the queue from an agent.
	Returns int `json:"returns,omitempty"`
	// CreatedAt is when the hand-off was decided; QueuedAt when the current wait began;
	// AcceptedAt when an agent last accepted it; EndedAt when it went back to the bot or closed.
	CreatedAt  time.Time `json:"created_at"`
	QueuedAt   time.Time `json:"queued_at"`
	AcceptedAt time.Time `json:"accepted_at"`
	EndedAt    time.Time `json:"ended_at"`
	// Version grows with every change of this hand-off. Saves happen outside the queue's lock,
	// so two saves of one hand-off may reach the store out of order: the store keeps the higher.
	Version int64 `json:"version"`
}

// Open reports whether the hand-off still needs or has a person.
func (r Record) Open() bool { return r.State == StateQueued || r.State == StateAgent }

// Store is what the queue needs from persistence so that it survives a restart. The SQLite
// adapter implements it; the queue never sees SQL.
type Store interface {
	// SaveHandoff inserts or updates the hand-off r.ID and, in the same transaction, sets the
	// conversation's state to r.State, so the bot and the queue never disagree about who owns
	// a conversation. A record whose Version is not above the stored one is ignored (nil error).
	SaveHandoff(ctx context.Context, r Record) error
	// LoadOpenHandoffs returns every hand-off whose State is queued or agent.
	LoadOpenHandoffs(ctx context.Context) ([]Record, error)
	// RecentWaits returns up to n of the latest waits (AcceptedAt − QueuedAt of accepted
	// hand-offs), newest first, to seed the waiting-time estimate after a restart.
	RecentWaits(ctx context.Context, n int) ([]time.Duration, error)
}

// Notifier receives what the queue did, for the transport to push: to the visitor's widget
// (position, ETA, who took over) and to agents' consoles (queue, offers, alerts). Calls are made
// after the queue's lock is released, so an implementation may call back into the Queue; they
// must not block (a slow socket is the transport's problem).
type Notifier interface {
	// QueueChanged signals a change of the waiting list (order, positions, offers, agents
	// online). It carries no data on purpose: building the view of a long queue on every change
	// would cost more than the change, so the transport coalesces signals (e.g. every 100 ms) and
	// then reads View once, sending consoles the list and each visitor their Waiting entry.
	QueueChanged()
	// Offered asks one agent to take a conversation before Deadline.
	Offered(o Offer)
	// Assigned says an agent now owns a conversation (accepted, picked, transferred, or kept
	// through a restart); the bot must stay silent from now on.
	Assigned(a Assignment)
	// Alert tells every online agent that a conversation has waited too long.
	Alert(a Alert)
	// Returned says a conversation left an agent or the queue: back to the queue (agent gone,
	// released, transferred to a team), back to the bot, or closed.
	Returned(r Return)
}

// View is the queue as consoles and visitors see it.
type View struct {
	At time.Time `json:"at"`
	// AgentsOnline counts agents whose presence is online (away agents are not counted).
	AgentsOnline int `json:"agents_online"`
	// Open is false outside business hours.
	Open bool `json:"open"`
	// Waiting lists queued conversations, highest priority first.
	Waiting []Waiting `json:"waiting"`
}

// Waiting is one queued conversation in the view.
type Waiting struct {
	Ticket
	// Position is 1 for the next conversation to be served.
	Position int           `json:"position"`
	Waited   time.Duration `json:"waited"`
	// ETA estimates the remaining wait; nil when unknown (no recent waits, or nobody online).
	ETA *time.Duration `json:"eta,omitempty"`
	// Priority is the conversation's current score (tone, reason and time waited).
	Priority float64 `json:"priority"`
	// Offline is true when nobody can take it now (outside hours or no agent online): it waits
	// as an open ticket for the next agent.
	Offline bool `json:"offline"`
}

// Offer asks an agent to take a waiting conversation.
type Offer struct {
	AgentID  string    `json:"agent_id"`
	Ticket   Ticket    `json:"ticket"`
	Deadline time.Time `json:"deadline"`
}

// How a conversation reached its agent (Assignment.Via).
const (
	ViaAccept   = "accept"
	ViaTransfer = "transfer"
	ViaRestore  = "restore"
)

// Assignment says an agent owns a conversation.
type Assignment struct {
	AgentID   string `json:"agent_id"`
	AgentName string `json:"agent_name"`
	Ticket    Ticket `json:"ticket"`
	// Via is ViaAccept, ViaTransfer or ViaRestore; From names the previous agent of a transfer.
	Via  string `json:"via"`
	From string `json:"from,omitempty"`
	// Waited is how long the visitor waited for this agent (0 for a transfer or restore).
	Waited time.Duration `json:"waited"`
}

// Alert says a conversation has waited past the configured time.
type Alert struct {
	Ticket Ticket        `json:"ticket"`
	Waited time.Duration `json:"waited"`
	// Agents are the online agents to alert.
	Agents []string `json:"agents"`
}

// Why a conversation left an agent or the queue (Return.Why).
const (
	WhyAgentGone   = "agent_disconnected"
	WhyReleased    = "released"
	WhyTransferred = "transferred_to_team"
	WhyToBot       = "returned_to_bot"
	WhyClosed      = "closed"
	WhyCancelled   = "cancelled"
)

// Return says a conversation left its agent or the queue.
type Return struct {
	Ticket Ticket `json:"ticket"`
	// AgentID is the agent who had it, "" when it left the queue without one.
	AgentID string `json:"agent_id,omitempty"`
	// State is where it went: queued, bot or closed.
	State string `json:"state"`
	Why   string `json:"why"`
}

// Errors of the queue. Match with errors.Is; the wrapped message says what happened in words
// an agent can read (the console shows it).
var (
	// ErrTaken: another agent accepted the conversation first.
	ErrTaken = errors.New("conversation already taken by another agent")
	// ErrNotYours: the agent acted on a conversation another agent owns, or nobody does.
	ErrNotYours = errors.New("conversation is not assigned to you")
	// ErrNotFound: no open hand-off for the conversation (never handed over, or already ended).
	ErrNotFound = errors.New("no open hand-off for this conversation")
	// ErrUnknownAgent: the agent is not connected to the queue.
	ErrUnknownAgent = errors.New("agent is not connected")
	// ErrAtCapacity: the agent already has as many conversations as their capacity allows.
	ErrAtCapacity = errors.New("agent is at capacity")
	// ErrNoAgent: nobody can take the conversation right now.
	ErrNoAgent = errors.New("no agent available")
	// ErrInvalid: a malformed request (empty id, unknown presence, ...).
	ErrInvalid = errors.New("invalid request")
)
