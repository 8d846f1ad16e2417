package handoff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Connect registers an agent's console connection (or updates their profile) and makes them
// online. An agent reconnecting within their grace period keeps their conversations.
func (q *Queue) Connect(a Agent) error {
	if a.ID == "" {
		return fmt.Errorf("connect agent: %w: agent id is empty", ErrInvalid)
	}
	if a.Capacity <= 0 {
		a.Capacity = DefaultCapacity
	}
	a.Skills = slices.Clone(a.Skills)
	q.mu.Lock()
	now := q.now()
	st := q.agent(a.ID)
	if st == nil {
		st = &agentState{Agent: a, idleSince: now}
		q.addAgent(st)
	}
	st.Agent, st.presence, st.connected, st.graceUntil = a, Online, true, time.Time{}
	b := &batch{view: true}
	q.dispatch(b, now)
	q.mu.Unlock()
	q.log.Info("agent connected", "agent", a.ID)
	q.flush(context.Background(), b)
	return nil
}

// SetPresence switches a connected agent between online and away (the console's presence
// switch); Offline is the same as Disconnect.
func (q *Queue) SetPresence(agentID string, p Presence) error {
	switch p {
	case Offline:
		return q.Disconnect(agentID)
	case Online, Away:
	default:
		return fmt.Errorf("set presence of %s: %w: unknown presence %q (want online, away or offline)", agentID, ErrInvalid, p)
	}
	q.mu.Lock()
	a := q.agent(agentID)
	if a == nil || !a.connected {
		q.mu.Unlock()
		return fmt.Errorf("set presence of %s: %w", agentID, ErrUnknownAgent)
	}
	a.presence = p
	now := q.now()
	b := &batch{view: true}
	if p == Away {
		q.withdrawAgent(a, false)
	}
	q.dispatch(b, now)
	q.mu.Unlock()
	q.flush(context.Background(), b)
	return nil
}

// Disconnect records that an agent's console went away. Their pending offer moves on at once;
// their conversations stay theirs for the grace period (a reload or a flaky network changes
// nothing for the visitor), then go back to the queue on Tick.
func (q *Queue) Disconnect(agentID string) error {
	q.mu.Lock()
	a := q.agent(agentID)
	if a == nil {
		q.mu.Unlock()
		return fmt.Errorf("disconnect %s: %w", agentID, ErrUnknownAgent)
	}
	now := q.now()
	a.connected, a.presence = false, Offline
	q.withdrawAgent(a, false)
	if len(a.active) == 0 {
		q.dropAgent(a)
	} else {
		a.graceUntil = now.Add(q.grace())
	}
	b := &batch{view: true}
	q.dispatch(b, now)
	q.mu.Unlock()
	q.log.Info("agent disconnected", "agent", agentID)
	q.flush(context.Background(), b)
	return nil
}

// tier says how well an agent fits a ticket: 0 has a skill among the ticket's tags (or the
// ticket has none), 1 is a generalist, 2 has only other skills.
func tier(a *agentState, t *ticket) int {
	if len(t.rec.Tags) == 0 {
		return 0
	}
	if len(a.Skills) == 0 {
		return 1
	}
	for _, s := range a.Skills {
		for _, tag := range t.rec.Tags {
			if strings.EqualFold(s, tag) {
				return 0
			}
		}
	}
	return 2
}

// canOffer reports whether a takes offers now.
func (a *agentState) canOffer() bool {
	return a.connected && a.presence == Online && a.offer == nil && len(a.active) < a.Capacity
}

// better ranks two agents of the same fit: least busy, then idle the longest, then by id.
func better(a, b *agentState) bool {
	if len(a.active) != len(b.active) {
		return len(a.active) < len(b.active)
	}
	if !a.idleSince.Equal(b.idleSince) {
		return a.idleSince.Before(b.idleSince)
	}
	return a.ID < b.ID
}

// best picks the agent to offer t to: among online agents with room and no pending offer who
// have not declined t, the best fit (skill, then generalist), least busy, then idle the longest.
// An agent with only other skills is chosen only when no online agent fits at all, so a
// conversation tagged with a team nobody covers is still served rather than left waiting.
func (q *Queue) best(t *ticket) *agentState {
	for round := 0; round < 2; round++ {
		var pick *agentState
		pickTier, fitsOnline, undeclined := 3, false, 0
		for _, a := range q.agents {
			if !a.connected || a.presence != Online {
				continue
			}
			tr := tier(a, t)
			if tr < 2 {
				fitsOnline = true
			}
			if t.declined[a.ID] {
				continue
			}
			undeclined++
			if a.offer != nil || len(a.active) >= a.Capacity {
				continue
			}
			if pick == nil || tr < pickTier || (tr == pickTier && better(a, pick)) {
				pick, pickTier = a, tr
			}
		}
		if pick != nil && (pickTier < 2 || !fitsOnline) {
			return pick
		}
		if pick == nil && undeclined == 0 && len(t.declined) > 0 {
			// Everyone online has let it pass: start another round rather than strand it.
			clear(t.declined)
			continue
		}
		return nil
	}
	return nil
}

// dispatch offers waiting conversations, best first, to available agents. It does nothing
// outside business hours: agents online then may still pick from the queue.
func (q *Queue) dispatch(b *batch, now time.Time) {
	if q.open != nil && !q.open(now) {
		return
	}
	free := 0
	for _, a := range q.agents {
		if a.canOffer() {
			free++
		}
	}
	for _, t := range q.waiting {
		if free == 0 {
			return
		}
		if t.offerTo != nil {
			continue
		}
		if a := q.best(t); a != nil {
			q.offer(b, t, a, now)
			free--
		}
	}
}

func (q *Queue) offer(b *batch, t *ticket, a *agentState, now time.Time) {
	t.offerTo, t.offerEnd, a.offer = a, now.Add(q.offerTimeout), t
	o := Offer{AgentID: a.ID, Ticket: t.view(), Deadline: t.offerEnd}
	b.emit(func(n Notifier) { n.Offered(o) })
	b.view = true
}

// withdraw cancels t's pending offer, if any.
func (q *Queue) withdraw(t *ticket) {
	if t.offerTo != nil {
		t.offerTo.offer = nil
		t.offerTo, t.offerEnd = nil, time.Time{}
	}
}

// withdrawAgent cancels a's pending offer; declined marks the ticket so it moves on to others.
func (q *Queue) withdrawAgent(a *agentState, declined bool) {
	t := a.offer
	if t == nil {
		return
	}
	if declined {
		if t.declined == nil {
			t.declined = map[string]bool{}
		}
		t.declined[a.ID] = true
	}
	q.withdraw(t)
}

// Offer offers a waiting conversation to the best available agent now, withdrawing any pending
// offer of it. Normally the queue does this by itself; the transport may call it to retry.
func (q *Queue) Offer(conversationID string) (Offer, error) {
	q.mu.Lock()
	t := q.tickets[conversationID]
	if t == nil || t.rec.State != StateQueued {
		q.mu.Unlock()
		return Offer{}, fmt.Errorf("offer %s: %w", conversationID, ErrNotFound)
	}
	now := q.now()
	prev := t.offerTo
	q.withdraw(t)
	a := q.best(t)
	if a == nil {
		if prev != nil && prev.canOffer() {
			a = prev // nobody better: keep it with the agent who had it
		} else {
			q.mu.Unlock()
			return Offer{}, fmt.Errorf("offer %s: %w", conversationID, ErrNoAgent)
		}
	}
	b := &batch{}
	q.offer(b, t, a, now)
	o := Offer{AgentID: a.ID, Ticket: t.view(), Deadline: t.offerEnd}
	q.mu.Unlock()
	q.flush(context.Background(), b)
	return o, nil
}

// Decline lets an agent pass on an offer; it moves on to the next agent at once.
func (q *Queue) Decline(agentID, conversationID string) error {
	q.mu.Lock()
	a := q.agent(agentID)
	if a == nil || a.offer == nil || a.offer.rec.ConversationID != conversationID {
		q.mu.Unlock()
		return fmt.Errorf("decline %s: %w (no pending offer of it to you)", conversationID, ErrNotYours)
	}
	q.withdrawAgent(a, true)
	b := &batch{view: true}
	q.dispatch(b, q.now())
	q.mu.Unlock()
	q.flush(context.Background(), b)
	return nil
}

// Accept gives a waiting conversation to an agent, whether it was offered to them or they
// picked it from the queue. It is atomic: when several agents accept at once exactly one wins,
// and the others get ErrTaken naming who took it. Accepting a conversation one already owns is
// a no-op.
func (q *Queue) Accept(ctx context.Context, agentID, conversationID string) (Ticket, error) {
	q.mu.Lock()
	a := q.agent(agentID)
	if a == nil || !a.connected {
		q.mu.Unlock()
		return Ticket{}, fmt.Errorf("accept %s: %w", conversationID, ErrUnknownAgent)
	}
	t := q.tickets[conversationID]
	if t == nil {
		q.mu.Unlock()
		return Ticket{}, fmt.Errorf("accept %s: %w (it was closed or went back to the bot)", conversationID, ErrNotFound)
	}
	if t.rec.State == StateAgent {
		defer q.mu.Unlock()
		if t.rec.AgentID == agentID {
			return t.view(), nil
		}
		return Ticket{}, fmt.Errorf("accept %s: %w: %s accepted it first", conversationID, ErrTaken, q.nameOf(t.rec.AgentID))
	}
	if len(a.active) >= a.Capacity {
		q.mu.Unlock()
		return Ticket{}, fmt.Errorf("accept %s: %w: you already have %d of %d conversations", conversationID, ErrAtCapacity, len(a.active), a.Capacity)
	}
	now := q.now()
	q.withdraw(t)
	q.removeWaiting(t)
	waited := now.Sub(t.rec.QueuedAt)
	t.rec.State, t.rec.AgentID, t.rec.AcceptedAt = StateAgent, agentID, now
	clear(t.declined)
	a.active = append(a.active, t)
	if len(a.active) >= a.Capacity {
		q.withdrawAgent(a, false)
	}
	q.waits.add(waited)
	b := &batch{view: true}
	b.save(t)
	asg := Assignment{AgentID: agentID, AgentName: q.nameOf(agentID), Ticket: t.view(), Via: ViaAccept, Waited: waited}
	b.emit(func(n Notifier) { n.Assigned(asg) })
	q.dispatch(b, now)
	q.mu.Unlock()
	q.log.Info("hand-off accepted", "conversation", conversationID, "agent", agentID, "waited_ms", waited.Milliseconds())
	q.flush(ctx, b)
	return asg.Ticket, nil
}

// requeue puts an agent's conversation back in the queue (released, transferred to a team, or
// its agent gone), ahead of newcomers of the same tone: a person already had it.
func (q *Queue) requeue(b *batch, t *ticket, a *agentState, why string, now time.Time) {
	q.detach(a, t, now)
	t.rec.State, t.rec.AgentID, t.rec.QueuedAt = StateQueued, "", now
	t.rec.Returns++
	t.base = q.basePriority(t.rec)
	t.nextAlert = now.Add(q.alertEvery())
	if t.declined == nil {
		t.declined = map[string]bool{}
	}
	if why != WhyAgentGone {
		t.declined[a.ID] = true // whoever let it go is not offered it straight back
	}
	q.insertWaiting(t)
	b.save(t)
	r := Return{Ticket: t.view(), AgentID: a.ID, State: StateQueued, Why: why}
	b.emit(func(n Notifier) { n.Returned(r) })
	b.view = true
}

// detach removes t from a's conversations.
func (q *Queue) detach(a *agentState, t *ticket, now time.Time) {
	if i := slices.Index(a.active, t); i >= 0 {
		a.active = slices.Delete(a.active, i, i+1)
		a.idleSince = now
	}
}

// Release puts the agent's conversation back in the queue for someone else.
func (q *Queue) Release(ctx context.Context, agentID, conversationID string) error {
	return q.agentOp(ctx, "release", agentID, conversationID, func(b *batch, t *ticket, a *agentState, now time.Time) error {
		q.requeue(b, t, a, WhyReleased, now)
		return nil
	})
}

// TransferToTeam puts the agent's conversation back in the queue for agents with the skill team.
func (q *Queue) TransferToTeam(ctx context.Context, agentID, conversationID, team string) error {
	team = strings.TrimSpace(team)
	if team == "" {
		return fmt.Errorf("transfer %s: %w: team is empty", conversationID, ErrInvalid)
	}
	return q.agentOp(ctx, "transfer", agentID, conversationID, func(b *batch, t *ticket, a *agentState, now time.Time) error {
		t.rec.Tags = []string{team}
		q.requeue(b, t, a, WhyTransferred, now)
		return nil
	})
}

// Transfer hands the agent's conversation straight to another connected agent with room.
func (q *Queue) Transfer(ctx context.Context, agentID, conversationID, toAgentID string) error {
	return q.agentOp(ctx, "transfer", agentID, conversationID, func(b *batch, t *ticket, a *agentState, now time.Time) error {
		to := q.agent(toAgentID)
		switch {
		case to == nil || !to.connected:
			return fmt.Errorf("%w: %s is not connected", ErrUnknownAgent, toAgentID)
		case to == a:
			return fmt.Errorf("%w: it is already yours", ErrInvalid)
		case len(to.active) >= to.Capacity:
			return fmt.Errorf("%w: %s already has %d of %d conversations", ErrAtCapacity, q.nameOf(to.ID), len(to.active), to.Capacity)
		}
		q.detach(a, t, now)
		t.rec.AgentID = to.ID
		to.active = append(to.active, t)
		if len(to.active) >= to.Capacity {
			q.withdrawAgent(to, false)
		}
		b.save(t)
		asg := Assignment{AgentID: to.ID, AgentName: q.nameOf(to.ID), Ticket: t.view(), Via: ViaTransfer, From: a.ID}
		b.emit(func(n Notifier) { n.Assigned(asg) })
		b.view = true
		return nil
	})
}

// ReturnToBot ends the agent's part: the bot answers the conversation again.
func (q *Queue) ReturnToBot(ctx context.Context, agentID, conversationID string) error {
	return q.agentOp(ctx, "return to bot", agentID, conversationID, func(b *batch, t *ticket, a *agentState, now time.Time) error {
		q.end(b, t, a, StateBot, WhyToBot, "", now)
		return nil
	})
}

// Close closes the agent's conversation with a resolution tag (e.g. "refunded").
func (q *Queue) Close(ctx context.Context, agentID, conversationID, resolution string) error {
	return q.agentOp(ctx, "close", agentID, conversationID, func(b *batch, t *ticket, a *agentState, now time.Time) error {
		q.end(b, t, a, StateClosed, WhyClosed, strings.TrimSpace(resolution), now)
		return nil
	})
}

// end finishes a hand-off: the conversation leaves the queue's care.
func (q *Queue) end(b *batch, t *ticket, a *agentState, state, why, resolution string, now time.Time) {
	agentID := ""
	if a != nil {
		agentID = a.ID
		q.detach(a, t, now)
	}
	q.withdraw(t)
	q.removeWaiting(t)
	delete(q.tickets, t.rec.ConversationID)
	t.rec.State, t.rec.EndedAt, t.rec.Resolution = state, now, resolution
	b.save(t)
	r := Return{Ticket: t.view(), AgentID: agentID, State: state, Why: why}
	b.emit(func(n Notifier) { n.Returned(r) })
	b.view = true
	q.dispatch(b, now)
}

// agentOp runs f on a conversation the agent owns, then saves and announces what f did.
func (q *Queue) agentOp(ctx context.Context, op, agentID, conversationID string, f func(*batch, *ticket, *agentState, time.Time) error) error {
	q.mu.Lock()
	t, err := q.owned(agentID, conversationID)
	if err != nil {
		q.mu.Unlock()
		return fmt.Errorf("%s: %w", op, err)
	}
	a := q.agent(agentID)
	now := q.now()
	b := &batch{}
	if err := f(b, t, a, now); err != nil {
		q.mu.Unlock()
		return fmt.Errorf("%s %s: %w", op, conversationID, err)
	}
	q.dispatch(b, now)
	q.mu.Unlock()
	q.flush(ctx, b)
	return nil
}

// Cancel takes a waiting conversation out of the queue and back to the bot (the visitor no
// longer wants a person). A conversation an agent already owns is theirs to end.
func (q *Queue) Cancel(ctx context.Context, conversationID string) error {
	q.mu.Lock()
	t := q.tickets[conversationID]
	switch {
	case t == nil:
		q.mu.Unlock()
		return fmt.Errorf("cancel %s: %w", conversationID, ErrNotFound)
	case t.rec.State == StateAgent:
		q.mu.Unlock()
		return fmt.Errorf("cancel %s: %w: %s already owns it", conversationID, ErrTaken, q.nameOf(t.rec.AgentID))
	}
	b := &batch{}
	q.end(b, t, nil, StateBot, WhyCancelled, "", q.now())
	q.mu.Unlock()
	q.flush(ctx, b)
	return nil
}

// RaiseMood folds the tone of a message a waiting visitor wrote into their place in the queue:
// priority comes from tone as well as waiting time, so a visitor who grows upset, anxious or
// urgent while waiting moves up. Each score only ever rises (calmer words do not send anyone
// back). A conversation that is not waiting is left alone (nil error).
func (q *Queue) RaiseMood(ctx context.Context, conversationID string, m Mood) error {
	q.mu.Lock()
	t := q.tickets[conversationID]
	if t == nil || t.rec.State != StateQueued {
		q.mu.Unlock()
		return nil
	}
	old := t.rec.Mood
	nm := Mood{Frustration: max(old.Frustration, m.Frustration), Anxiety: max(old.Anxiety, m.Anxiety),
		Urgency: max(old.Urgency, m.Urgency), Dominant: old.Dominant, Escalating: old.Escalating || m.Escalating}
	// The badge shows the feeling that grew, when one did.
	switch {
	case m.Dominant == "frustration" && nm.Frustration > old.Frustration,
		m.Dominant == "anxiety" && nm.Anxiety > old.Anxiety,
		m.Dominant == "urgency" && nm.Urgency > old.Urgency:
		nm.Dominant = m.Dominant
	}
	if nm == old {
		q.mu.Unlock()
		return nil
	}
	t.rec.Mood = nm
	t.base = q.basePriority(t.rec)
	q.removeWaiting(t)
	q.insertWaiting(t)
	b := &batch{view: true}
	b.save(t)
	q.dispatch(b, q.now())
	q.mu.Unlock()
	q.flush(ctx, b)
	return nil
}

// LeaveEmail records the address a waiting visitor left to be contacted at.
func (q *Queue) LeaveEmail(ctx context.Context, conversationID, email string) error {
	email = strings.TrimSpace(email)
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		return fmt.Errorf("leave email for %s: %w: %q is not an email address", conversationID, ErrInvalid, clip(email, 60))
	}
	q.mu.Lock()
	t := q.tickets[conversationID]
	if t == nil {
		q.mu.Unlock()
		return fmt.Errorf("leave email for %s: %w", conversationID, ErrNotFound)
	}
	t.rec.Email = email
	b := &batch{view: true}
	b.save(t)
	q.mu.Unlock()
	q.flush(ctx, b)
	return nil
}

// Tick advances the queue's clock-driven rules to now: unanswered offers move on, agents past
// their grace period lose their conversations to the queue, long waits alert every online
// agent, and failed saves are retried (see Unsaved). Run calls it every second; tests call it directly.
func (q *Queue) Tick(ctx context.Context) {
	q.mu.Lock()
	now := q.now()
	b := &batch{}
	for _, a := range q.agents {
		if t := a.offer; t != nil && !now.Before(t.offerEnd) {
			q.withdrawAgent(a, true)
			b.view = true
		}
	}
	for _, a := range slices.Clone(q.agents) {
		if a.connected || a.graceUntil.IsZero() || now.Before(a.graceUntil) {
			continue
		}
		for _, t := range slices.Clone(a.active) {
			q.requeue(b, t, a, WhyAgentGone, now)
		}
		q.dropAgent(a)
		q.log.Info("agent grace period over; conversations back in the queue", "agent", a.ID)
	}
	q.dispatch(b, now)
	if online := q.onlineAgents(); len(online) > 0 {
		every := q.alertEvery()
		for _, t := range q.waiting {
			if now.Before(t.nextAlert) {
				continue
			}
			for !now.Before(t.nextAlert) {
				t.nextAlert = t.nextAlert.Add(every)
			}
			al := Alert{Ticket: t.view(), Waited: now.Sub(t.rec.QueuedAt), Agents: online}
			b.emit(func(n Notifier) { n.Alert(al) })
		}
	}
	retry := make([]Record, 0, len(q.dirty))
	for id, r := range q.dirty {
		retry = append(retry, r)
		delete(q.dirty, id)
	}
	b.saves = append(retry, b.saves...)
	q.mu.Unlock()
	q.flush(ctx, b)
}

func (q *Queue) onlineAgents() []string {
	var ids []string
	for _, a := range q.agents {
		if a.connected && a.presence == Online {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// Run calls Tick every interval (a second when 0) until ctx ends.
func (q *Queue) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			q.Tick(ctx)
		}
	}
}
