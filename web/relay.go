package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/store"
)

// QueueCoalesce is the least time between two pushes of the queue to consoles and visitors:
// a burst of changes (a restart restoring a long queue, many accepts at once) costs one view.
const QueueCoalesce = 200 * time.Millisecond

// handoverStateGrace is how long after joining the queue a conversation's place is left to the
// bot's hand-over turn, which carries it with the explanation. A conversation waiting longer
// whose visitor was never sent a state (restored after a restart) gets it from the relay.
const handoverStateGrace = 2 * time.Second

// Relay is the hand-off queue's Notifier on the web side. It is built before the queue (the
// queue needs a Notifier) and bound to the Server by web.New (the server needs the queue); what
// happens before that is dropped, except that a queue change is remembered and pushed once
// bound. Every method returns at once: sockets are fed through their non-blocking send queues.
type Relay struct {
	log *slog.Logger
	srv atomic.Pointer[Server]

	mu        sync.Mutex
	scheduled bool
	pending   bool // a change arrived before bind
	last      time.Time

	flushMu sync.Mutex // one push at a time
	// sentMu guards sent: the last state frame each conversation's visitor was sent (by the bot
	// or by the relay), so that a queue change pushes only the positions that changed.
	sentMu sync.Mutex
	sent   map[string]string
}

var _ handoff.Notifier = (*Relay)(nil)

// NewRelay returns an unbound relay; pass it as handoff.Options.Notifier and web.Options.Relay.
func NewRelay(logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.Default()
	}
	return &Relay{log: logger, sent: map[string]string{}}
}

// bind attaches the relay to its server (web.New calls it once).
func (r *Relay) bind(s *Server) {
	s.hub.Watch(r.remember)
	r.srv.Store(s)
	r.mu.Lock()
	pending := r.pending
	r.pending = false
	r.mu.Unlock()
	if pending {
		r.QueueChanged()
	}
}

// remember records the state frames visitors receive, whoever sent them.
func (r *Relay) remember(conversationID string, ev bot.Event) {
	if ev.State == nil {
		return
	}
	r.sentMu.Lock()
	defer r.sentMu.Unlock()
	if ev.State.State == store.StateQueued {
		r.sent[conversationID] = string(mustJSON(stateFrameOf(ev.State)))
	} else {
		delete(r.sent, conversationID)
	}
}

// QueueChanged schedules a push of the queue: at once when the last push is older than
// QueueCoalesce, else when it will be.
func (r *Relay) QueueChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv.Load() == nil {
		r.pending = true
		return
	}
	if r.scheduled {
		return
	}
	r.scheduled = true
	time.AfterFunc(max(0, QueueCoalesce-time.Since(r.last)), r.flush)
}

func (r *Relay) flush() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	r.scheduled, r.last = false, time.Now()
	r.mu.Unlock()
	s := r.srv.Load()
	v := s.handoff.View()
	s.toConsoles(mustJSON(queueFrameOf(v, s.handoff.Agents())))
	// Each waiting visitor learns their new place, if it changed.
	for _, w := range v.Waiting {
		sc := &bot.StateChange{State: store.StateQueued, Position: w.Position, ETA: w.ETA, AgentsOnline: v.AgentsOnline,
			Reason: w.Reason, Offline: w.Offline}
		frame := string(mustJSON(stateFrameOf(sc)))
		r.sentMu.Lock()
		last, known := r.sent[w.ConversationID]
		r.sentMu.Unlock()
		if !known && w.Waited < handoverStateGrace {
			// Just handed over: the bot's hand-over turn is still on its way with the
			// explanation and this state, and the visitor should read why before where.
			continue
		}
		if last != frame {
			s.hub.Publish(w.ConversationID, bot.Event{State: sc})
		}
	}
}

// Offered shows the offer on the agent's consoles.
func (r *Relay) Offered(o handoff.Offer) {
	s := r.srv.Load()
	if s == nil {
		return
	}
	secs := int((o.Deadline.Sub(s.now()) + time.Second - 1) / time.Second)
	s.toAgent(o.AgentID, mustJSON(offerFrame{Type: "offer", ConversationID: o.Ticket.ConversationID, Reason: o.Ticket.Reason,
		Evidence: o.Ticket.Evidence, Intent: o.Ticket.Intent, Tone: toneBadgeOf(o.Ticket.Mood), ExpiresInSeconds: max(0, secs)}))
}

// Assigned silences the bot, tells the visitor who took over, and tells every console.
func (r *Relay) Assigned(a handoff.Assignment) {
	s := r.srv.Load()
	if s == nil {
		return
	}
	conv := a.Ticket.ConversationID
	s.engine.SetOwner(conv, store.StateAgent)
	s.watchAll(a.AgentID, conv)
	s.hub.Publish(conv, bot.Event{State: &bot.StateChange{State: store.StateAgent, Agent: a.AgentName}})
	s.toConsoles(mustJSON(assignedFrame{Type: "assigned", ConversationID: conv, AgentID: a.AgentID, AgentName: a.AgentName}))
}

// Alert tells the online agents that a conversation has waited too long.
func (r *Relay) Alert(a handoff.Alert) {
	s := r.srv.Load()
	if s == nil {
		return
	}
	mins := int(a.Waited / time.Minute)
	msg := fmt.Sprintf("A visitor has waited %d minutes for a person", mins)
	if mins < 2 {
		msg = fmt.Sprintf("A visitor has waited %d seconds for a person", int(a.Waited/time.Second))
	}
	frame := mustJSON(alertFrame{Type: "alert", ConversationID: a.Ticket.ConversationID, WaitingSeconds: int(a.Waited / time.Second),
		Message: msg + " (" + a.Ticket.Reason + ")."})
	for _, id := range a.Agents {
		s.toAgent(id, frame)
	}
}

// Returned gives the conversation back to whoever has it now (the queue, the bot, nobody), tells
// the visitor, and tells every console.
func (r *Relay) Returned(ret handoff.Return) {
	s := r.srv.Load()
	if s == nil {
		return
	}
	conv := ret.Ticket.ConversationID
	s.engine.SetOwner(conv, ret.State)
	sc := &bot.StateChange{State: ret.State}
	if ret.State == store.StateQueued {
		sc.Reason = ret.Ticket.Reason
		if w, ok := s.handoff.Waiting(conv); ok {
			sc.Position, sc.ETA, sc.Offline = w.Position, w.ETA, w.Offline
		}
		sc.AgentsOnline = s.handoff.View().AgentsOnline
	}
	s.hub.Publish(conv, bot.Event{State: sc})
	if ret.State == store.StateClosed {
		s.toConsoles(mustJSON(closedFrame{Type: "closed", ConversationID: conv, Resolution: ret.Ticket.Resolution}))
		return
	}
	s.toConsoles(mustJSON(returnedFrame{Type: "returned", ConversationID: conv, Why: ret.Why, State: ret.State}))
}

// sendHandoffState follows the welcome of a resumed conversation with where it stands in the
// hand-off: its place in the queue, or the agent who has it.
func (s *Server) sendHandoffState(c *client, conversationID string) {
	if s.handoff == nil {
		return
	}
	state, agentID := s.handoff.Owner(conversationID)
	switch state {
	case store.StateQueued:
		w, ok := s.handoff.Waiting(conversationID)
		if !ok {
			return
		}
		c.sendFrame(stateFrameOf(&bot.StateChange{State: store.StateQueued, Position: w.Position, ETA: w.ETA,
			AgentsOnline: s.handoff.View().AgentsOnline, Reason: w.Reason, Offline: w.Offline}))
	case store.StateAgent:
		name := ""
		for _, a := range s.handoff.Agents() {
			if a.ID == agentID {
				name = a.Name
			}
		}
		c.sendFrame(stateFrameOf(&bot.StateChange{State: store.StateAgent, Agent: name}))
	}
}

// emailAckFrame confirms that the visitor's email address was recorded.
type emailAckFrame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// leaveEmail records the address a waiting visitor leaves while nobody can answer (outside
// hours, nobody online); the ticket shows it to the next agent.
func (c *client) leaveEmail(f inFrame) {
	s := c.s
	switch {
	case c.conversationID == "":
		c.sendError(codeNotReady, f.ID, "send hello before leaving an email address")
		return
	case s.handoff == nil:
		c.sendError(codeNotFound, f.ID, "this server has no team to pass your email address to")
		return
	case f.Email == nil || len(*f.Email) > 254:
		c.sendError(codeInvalidEmail, f.ID, "an email frame needs \"email\": an address of at most 254 characters")
		return
	// Each address is a database write and a queue push to every console: it counts as a message.
	case !c.bucket.allow(s.now()):
		c.sendError(codeRateLimited, f.ID, "too many frames in a short time; wait a few seconds and send the address again (it was not saved)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.handoff.LeaveEmail(ctx, c.conversationID, *f.Email)
	switch {
	case err == nil:
		c.sendFrame(emailAckFrame{Type: "email_saved", ID: f.ID})
	case errors.Is(err, handoff.ErrInvalid):
		c.sendError(codeInvalidEmail, f.ID, "that does not look like an email address; check it and send it again")
	case errors.Is(err, handoff.ErrNotFound):
		c.sendError(codeNotFound, f.ID, "you can leave an email address while you wait for a person; this conversation is not waiting for one")
	default:
		s.log.Error("leave email", "conversation", c.conversationID, "error", err)
		c.sendError(codeUnavailable, f.ID, "your email address could not be saved; send it again in a few seconds")
	}
}

// codeInvalidEmail answers an email frame whose address is not one.
const codeInvalidEmail = "invalid_email"
