package handoff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/attune-chat/attune/intents"
)

// Defaults of Options.
const (
	DefaultOfferTimeout = 30 * time.Second
	// DefaultAging is the priority a conversation gains per minute of waiting: 0.25 lets a calm
	// visitor who has waited eight minutes overtake a very upset newcomer, so nobody starves.
	DefaultAging      = 0.25
	DefaultETASamples = 20
	// DefaultCapacity is an agent's concurrent conversations when Agent.Capacity is 0.
	DefaultCapacity = 3
)

// Why a conversation is offline (Outcome.OfflineReason).
const (
	OfflineClosed   = "closed"
	OfflineNoAgents = "no_agents"
)

// Presence is an agent's availability, from their console connection and presence switch.
type Presence string

// Presences.
const (
	// Online agents receive offers and alerts.
	Online Presence = "online"
	// Away agents keep their conversations and may pick from the queue, but get no offers.
	Away Presence = "away"
	// Offline agents are not connected; their conversations wait out the grace period.
	Offline Presence = "offline"
)

// Agent is a support agent as routing sees them.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Skills are teams or topics ("billing", "orders"), matched case-insensitively against the
	// intent tags of a conversation. An agent without skills is a generalist.
	Skills []string `json:"skills,omitempty"`
	// Capacity is how many conversations the agent handles at once (DefaultCapacity when 0).
	Capacity int `json:"capacity"`
}

// AgentStatus is an agent's live state.
type AgentStatus struct {
	Agent
	Presence Presence `json:"presence"`
	// Active lists the conversations the agent owns.
	Active []string `json:"active"`
	// Offered is the conversation currently offered to the agent, "" if none.
	Offered string `json:"offered,omitempty"`
	// IdleSince is when the agent last finished a conversation or came online.
	IdleSince time.Time `json:"idle_since"`
	// GraceUntil is when a disconnected agent's conversations go back to the queue.
	GraceUntil time.Time `json:"grace_until,omitempty"`
}

// Ticket is one open hand-off as the console shows it.
type Ticket struct {
	Record
	// OfferedTo is the agent the conversation is currently offered to, "" if none.
	OfferedTo string `json:"offered_to,omitempty"`
}

// Request asks for a conversation to be handed to a person.
type Request struct {
	ConversationID string
	Decision       Decision
	// Intent and Tags are the understood topic and its routing tags (Intent.Tags).
	Intent string
	Tags   []string
}

// Outcome is what happened to a hand-off request, for the visitor's first `state` frame.
type Outcome struct {
	Ticket       Ticket
	Position     int
	ETA          *time.Duration
	AgentsOnline int
	// Offline is true outside business hours or with no agent online: the visitor is told so
	// (Message), may leave an email, and the conversation waits as an open ticket.
	Offline       bool
	OfflineReason string
	// Message is the configured offline message when Offline, else "".
	Message string
}

// Options configure a Queue. Store is required.
type Options struct {
	Config intents.HandoffConfig
	// Open reports whether the business is open at a time (see HoursOf); nil means always.
	Open     func(time.Time) bool
	Store    Store
	Notifier Notifier
	Now      func() time.Time
	// NewID names hand-offs; nil uses random 128-bit hex ids.
	NewID  func() string
	Logger *slog.Logger
	// OfferTimeout is how long an agent has to answer an offer before it moves on.
	OfferTimeout time.Duration
	// Aging is the priority gained per minute of waiting.
	Aging float64
	// ETASamples is how many recent waits the ETA's median is taken over.
	ETASamples int
}

// Queue holds conversations waiting for a person and the agents who serve them. It is safe for
// concurrent use. All decisions are made under one mutex on in-memory state (microseconds);
// saves and notifications happen after it is released. Time only moves through Now and Tick,
// so tests drive it with a fake clock.
type Queue struct {
	store Store
	note  Notifier
	now   func() time.Time
	newID func() string
	log   *slog.Logger
	aging float64

	mu           sync.Mutex
	cfg          intents.HandoffConfig
	open         func(time.Time) bool
	offerTimeout time.Duration
	tickets      map[string]*ticket // open hand-offs by conversation id
	waiting      []*ticket          // queued tickets, best first
	agents       []*agentState      // sorted by id, so routing ties break deterministically
	waits        *waits
	dirty        map[string]Record // hand-offs whose latest save failed, by hand-off id
}

type ticket struct {
	rec Record
	// key orders the queue: with linear aging, priority(now) = base + aging×(now − queued), so
	// comparing base − aging×queued orders tickets the same way at every instant and the queue
	// stays sorted without re-sorting on every tick.
	key       float64
	base      float64
	offerTo   *agentState
	offerEnd  time.Time
	declined  map[string]bool
	nextAlert time.Time
}

type agentState struct {
	Agent
	presence   Presence
	connected  bool
	active     []*ticket
	offer      *ticket
	idleSince  time.Time
	graceUntil time.Time
}

// New builds a queue. Call Restore before serving to reload the hand-offs of the last run.
func New(opt Options) (*Queue, error) {
	if opt.Store == nil {
		return nil, errors.New("handoff.New: Store is required")
	}
	q := &Queue{store: opt.Store, note: opt.Notifier, now: opt.Now, newID: opt.NewID, log: opt.Logger, aging: opt.Aging,
		cfg: opt.Config, open: opt.Open, offerTimeout: opt.OfferTimeout,
		tickets: map[string]*ticket{}, dirty: map[string]Record{}}
	if q.note == nil {
		q.note = nopNotifier{}
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.newID == nil {
		q.newID = randomID
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	if q.aging <= 0 {
		q.aging = DefaultAging
	}
	if q.offerTimeout <= 0 {
		q.offerTimeout = DefaultOfferTimeout
	}
	if opt.ETASamples <= 0 {
		opt.ETASamples = DefaultETASamples
	}
	q.waits = newWaits(opt.ETASamples)
	return q, nil
}

// HoursOf returns the opening-hours check of a configuration: always open when it sets no hours
// (an empty schedule would otherwise mean "never open").
func HoursOf(cfg *intents.Config) func(time.Time) bool {
	if cfg == nil || len(cfg.Business.Hours) == 0 || cfg.Location == nil {
		return nil
	}
	return cfg.OpenAt
}

// SetConfig swaps in a reloaded configuration; waiting conversations keep their place.
func (q *Queue) SetConfig(cfg intents.HandoffConfig, open func(time.Time) bool) {
	q.mu.Lock()
	q.cfg, q.open = cfg, open
	b := &batch{}
	now := q.now()
	q.dispatch(b, now)
	b.view = true
	q.mu.Unlock()
	q.flush(context.Background(), b)
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// batch collects what one operation must save and announce once the lock is released.
type batch struct {
	saves  []Record
	events []func(Notifier)
	view   bool
}

func (b *batch) save(t *ticket) {
	t.rec.Version++
	r := t.rec
	r.Tags = slices.Clone(r.Tags)
	b.saves = append(b.saves, r)
}

func (b *batch) emit(f func(Notifier)) { b.events = append(b.events, f) }

// flush saves and notifies outside the lock. A failed save is logged and kept for the next
// Tick to retry: the change has happened (agents and visitors are told), and records are whole
// snapshots with versions, so the latest one is always right to write later. Unsaved counts them.
func (q *Queue) flush(ctx context.Context, b *batch) {
	for _, r := range b.saves {
		if err := q.store.SaveHandoff(ctx, r); err != nil {
			q.mu.Lock()
			if old, ok := q.dirty[r.ID]; !ok || old.Version < r.Version {
				q.dirty[r.ID] = r
			}
			q.mu.Unlock()
			q.log.Warn("save hand-off failed; will retry", "conversation", r.ConversationID, "state", r.State, "error", err)
		}
	}
	if b.view {
		b.emit(func(n Notifier) { n.QueueChanged() })
	}
	for _, f := range b.events {
		f(q.note)
	}
}

// Restore rebuilds the queue from the store after a restart: queued conversations wait again in
// priority order, and conversations that had an agent stay theirs for the grace period, as if
// the agent had just lost their connection, so a quick restart changes nothing for anyone.
func (q *Queue) Restore(ctx context.Context) error {
	recs, err := q.store.LoadOpenHandoffs(ctx)
	if err != nil {
		return fmt.Errorf("restore hand-off queue: %w", err)
	}
	ws, err := q.store.RecentWaits(ctx, len(q.waits.ring))
	if err != nil {
		return fmt.Errorf("restore waiting times: %w", err)
	}
	q.mu.Lock()
	now := q.now()
	for i := len(ws) - 1; i >= 0; i-- {
		q.waits.add(ws[i])
	}
	for _, r := range recs {
		if !r.Open() || r.ConversationID == "" || q.tickets[r.ConversationID] != nil {
			continue
		}
		t := &ticket{rec: r}
		t.base = q.basePriority(r)
		q.tickets[r.ConversationID] = t
		if r.State == StateAgent && r.AgentID != "" {
			a := q.agent(r.AgentID)
			if a == nil {
				a = &agentState{Agent: Agent{ID: r.AgentID, Capacity: DefaultCapacity}, presence: Offline, idleSince: now}
				q.addAgent(a)
			}
			if !a.connected && a.graceUntil.IsZero() {
				a.graceUntil = now.Add(q.grace())
			}
			a.active = append(a.active, t)
			continue
		}
		t.rec.State, t.rec.AgentID = StateQueued, ""
		t.nextAlert = r.QueuedAt.Add(q.alertEvery())
		q.insertWaiting(t)
	}
	b := &batch{view: true}
	q.dispatch(b, now)
	q.mu.Unlock()
	q.log.Info("hand-off queue restored", "open", len(recs))
	q.flush(ctx, b)
	return nil
}

func (q *Queue) grace() time.Duration {
	s := q.cfg.GraceSeconds
	if s <= 0 {
		s = intents.DefaultGraceSeconds
	}
	return time.Duration(s) * time.Second
}

func (q *Queue) alertEvery() time.Duration {
	s := q.cfg.WaitAlertSeconds
	if s <= 0 {
		s = intents.DefaultWaitAlertSeconds
	}
	return time.Duration(s) * time.Second
}

// Enqueue hands a conversation to people: it joins the queue and is offered at once to the best
// available agent. A conversation already handed over gets its current outcome back (a repeated
// request is not a second hand-off). When the hand-off cannot be saved it is undone and the
// error returned, so the bot can tell the visitor the truth instead of promising a person.
func (q *Queue) Enqueue(ctx context.Context, req Request) (Outcome, error) {
	if req.ConversationID == "" {
		return Outcome{}, fmt.Errorf("enqueue: %w: conversation id is empty", ErrInvalid)
	}
	q.mu.Lock()
	now := q.now()
	if t := q.tickets[req.ConversationID]; t != nil {
		o := q.outcome(t, now)
		q.mu.Unlock()
		return o, nil
	}
	d := req.Decision
	t := &ticket{rec: Record{ID: q.newID(), ConversationID: req.ConversationID, State: StateQueued, Reason: d.Reason,
		Evidence: d.Evidence, Intent: req.Intent, Tags: slices.Clone(req.Tags), Mood: d.Mood, CreatedAt: now, QueuedAt: now}}
	t.base = q.basePriority(t.rec)
	t.nextAlert = now.Add(q.alertEvery())
	q.tickets[req.ConversationID] = t
	q.insertWaiting(t)
	b := &batch{view: true}
	b.save(t)
	version := t.rec.Version
	q.dispatch(b, now)
	o := q.outcome(t, now)
	q.mu.Unlock()

	if err := q.store.SaveHandoff(ctx, b.saves[0]); err != nil {
		q.mu.Lock()
		undone := t.rec.Version == version && q.tickets[req.ConversationID] == t
		if undone {
			q.withdraw(t)
			q.removeWaiting(t)
			delete(q.tickets, req.ConversationID)
		}
		q.mu.Unlock()
		if undone {
			return Outcome{}, fmt.Errorf("enqueue %s: %w", req.ConversationID, err)
		}
		// Someone already acted on it (accepted it from the queue): keep it and retry the save.
		q.mu.Lock()
		q.dirty[b.saves[0].ID] = b.saves[0]
		q.mu.Unlock()
	}
	b.saves = b.saves[1:]
	q.log.Info("hand-off queued", "conversation", req.ConversationID, "reason", d.Reason, "offline", o.Offline)
	q.flush(ctx, b)
	return o, nil
}

// outcome describes t for the visitor.
func (q *Queue) outcome(t *ticket, now time.Time) Outcome {
	online := q.onlineCount()
	o := Outcome{Ticket: t.view(), AgentsOnline: online}
	if t.rec.State == StateQueued {
		o.Position = q.position(t)
		o.ETA = q.waits.eta(o.Position, online)
	}
	if reason := q.offlineReason(now, online); reason != "" && t.rec.State == StateQueued {
		o.Offline, o.OfflineReason, o.Message, o.ETA = true, reason, q.cfg.OfflineMessage, nil
	}
	return o
}

func (q *Queue) offlineReason(now time.Time, online int) string {
	switch {
	case q.open != nil && !q.open(now):
		return OfflineClosed
	case online == 0:
		return OfflineNoAgents
	}
	return ""
}

// Priority weights: frustration counts most, anxiety and urgency a little less; a visitor who
// asked for a person, or whose conversation a person already had, is served sooner.
const (
	weightFrustration = 1.0
	weightAnxiety     = 0.7
	weightUrgency     = 0.7
	weightEscalating  = 0.3
	boostReturned     = 1.0
)

var reasonBoost = map[string]float64{
	ReasonAskedForPerson:       0.5,
	ReasonFrustration:          0.3,
	ReasonNeedsPerson:          0.3,
	ReasonAssistantUnavailable: 0.2,
	ReasonAssistantDeclined:    0.1,
	ReasonUnresolved:           0.2,
}

func (q *Queue) basePriority(r Record) float64 {
	p := reasonBoost[r.Reason] + weightFrustration*r.Mood.Frustration + weightAnxiety*r.Mood.Anxiety + weightUrgency*r.Mood.Urgency
	if r.Mood.Escalating {
		p += weightEscalating
	}
	if r.Returns > 0 {
		p += boostReturned
	}
	return p
}

// priority is the ticket's score at now.
func (q *Queue) priority(t *ticket, now time.Time) float64 {
	return t.base + q.aging*now.Sub(t.rec.QueuedAt).Minutes()
}

func minutesOf(t time.Time) float64 { return float64(t.UnixMilli()) / 60000 }

// before orders the queue: higher key first, then longer wait, then conversation id.
func before(a, b *ticket) bool {
	if a.key != b.key {
		return a.key > b.key
	}
	if !a.rec.QueuedAt.Equal(b.rec.QueuedAt) {
		return a.rec.QueuedAt.Before(b.rec.QueuedAt)
	}
	return a.rec.ConversationID < b.rec.ConversationID
}

func (q *Queue) insertWaiting(t *ticket) {
	t.key = t.base - q.aging*minutesOf(t.rec.QueuedAt)
	i, _ := slices.BinarySearchFunc(q.waiting, t, func(x, y *ticket) int {
		if before(x, y) {
			return -1
		}
		return 1
	})
	q.waiting = slices.Insert(q.waiting, i, t)
}

func (q *Queue) removeWaiting(t *ticket) {
	if i := slices.Index(q.waiting, t); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
	}
}

func (q *Queue) position(t *ticket) int { return slices.Index(q.waiting, t) + 1 }

func (q *Queue) onlineCount() int {
	n := 0
	for _, a := range q.agents {
		if a.connected && a.presence == Online {
			n++
		}
	}
	return n
}

func (q *Queue) agent(id string) *agentState {
	i, ok := slices.BinarySearchFunc(q.agents, id, func(a *agentState, id string) int { return strings.Compare(a.ID, id) })
	if !ok {
		return nil
	}
	return q.agents[i]
}

func (q *Queue) addAgent(a *agentState) {
	i, _ := slices.BinarySearchFunc(q.agents, a.ID, func(a *agentState, id string) int { return strings.Compare(a.ID, id) })
	q.agents = slices.Insert(q.agents, i, a)
}

func (q *Queue) dropAgent(a *agentState) {
	if i := slices.Index(q.agents, a); i >= 0 {
		q.agents = slices.Delete(q.agents, i, i+1)
	}
}

func (t *ticket) view() Ticket {
	v := Ticket{Record: t.rec}
	v.Tags = slices.Clone(v.Tags)
	if t.offerTo != nil {
		v.OfferedTo = t.offerTo.ID
	}
	return v
}

// View returns the queue as it is now.
func (q *Queue) View() View {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.viewLocked(q.now())
}

func (q *Queue) viewLocked(now time.Time) View {
	online := q.onlineCount()
	reason := q.offlineReason(now, online)
	v := View{At: now, AgentsOnline: online, Open: q.open == nil || q.open(now), Waiting: make([]Waiting, len(q.waiting))}
	for i, t := range q.waiting {
		w := Waiting{Ticket: t.view(), Position: i + 1, Waited: now.Sub(t.rec.QueuedAt), Priority: q.priority(t, now), Offline: reason != ""}
		if reason == "" {
			w.ETA = q.waits.eta(i+1, online)
		}
		v.Waiting[i] = w
	}
	return v
}

// Waiting returns one queued conversation's entry of the view (position, ETA, ...).
func (q *Queue) Waiting(conversationID string) (Waiting, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tickets[conversationID]
	if t == nil || t.rec.State != StateQueued {
		return Waiting{}, false
	}
	now := q.now()
	o := q.outcome(t, now)
	return Waiting{Ticket: o.Ticket, Position: o.Position, Waited: now.Sub(t.rec.QueuedAt), ETA: o.ETA, Priority: q.priority(t, now), Offline: o.Offline}, true
}

// Ticket returns the open hand-off of a conversation.
func (q *Queue) Ticket(conversationID string) (Ticket, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tickets[conversationID]
	if t == nil {
		return Ticket{}, false
	}
	return t.view(), true
}

// Owner returns who answers a conversation: StateQueued or StateAgent (with the agent's id) for
// an open hand-off, StateBot otherwise. The bot consults it, or its own cache kept current by
// the Notifier, before answering: while a person owns the conversation the bot stays silent.
func (q *Queue) Owner(conversationID string) (state, agentID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tickets[conversationID]
	if t == nil {
		return StateBot, ""
	}
	return t.rec.State, t.rec.AgentID
}

// Authorize reports whether agentID owns the conversation: nil, ErrNotYours or ErrNotFound.
// The transport checks it before relaying an agent's message, note or typing indicator.
func (q *Queue) Authorize(agentID, conversationID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, err := q.owned(agentID, conversationID)
	return err
}

func (q *Queue) owned(agentID, conversationID string) (*ticket, error) {
	t := q.tickets[conversationID]
	if t == nil {
		return nil, fmt.Errorf("conversation %s: %w", conversationID, ErrNotFound)
	}
	if t.rec.State != StateAgent || t.rec.AgentID != agentID {
		who := "it is still waiting in the queue"
		if t.rec.State == StateAgent {
			who = q.nameOf(t.rec.AgentID) + " owns it"
		}
		return nil, fmt.Errorf("conversation %s: %w (%s)", conversationID, ErrNotYours, who)
	}
	return t, nil
}

func (q *Queue) nameOf(agentID string) string {
	if a := q.agent(agentID); a != nil && a.Name != "" {
		return a.Name
	}
	return "agent " + agentID
}

// Agents returns every known agent's live state, by id.
func (q *Queue) Agents() []AgentStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]AgentStatus, len(q.agents))
	for i, a := range q.agents {
		s := AgentStatus{Agent: a.Agent, Presence: a.presence, IdleSince: a.idleSince, GraceUntil: a.graceUntil}
		s.Skills = slices.Clone(s.Skills)
		for _, t := range a.active {
			s.Active = append(s.Active, t.rec.ConversationID)
		}
		if a.offer != nil {
			s.Offered = a.offer.rec.ConversationID
		}
		out[i] = s
	}
	return out
}

// Unsaved counts hand-offs whose latest change is not yet in the store (retried on Tick); a
// health check or metric should watch it.
func (q *Queue) Unsaved() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.dirty)
}

type nopNotifier struct{}

func (nopNotifier) QueueChanged()       {}
func (nopNotifier) Offered(Offer)       {}
func (nopNotifier) Assigned(Assignment) {}
func (nopNotifier) Alert(Alert)         {}
func (nopNotifier) Returned(Return)     {}
