// Package bot is the conversation engine: for each visitor message it persists the message,
// understands it, decides what to do (answer, clarify, fall back, bring in a person), composes the
// reply and records why. It knows nothing of HTTP, websockets or SQL: it talks to a Store and a
// Publisher that the caller provides.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attune-chat/attune/bot/empathy"
	"github.com/attune-chat/attune/bot/llm"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/store"
)

// Store is what the engine needs from persistence.
type Store interface {
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, bool, error)
	AppendBotTurn(ctx context.Context, m store.Message, d store.Decision) (store.Message, error)
	MessagesAfter(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]store.Message, error)
	Decisions(ctx context.Context, conversationID string) ([]store.Decision, error)
	SetState(ctx context.Context, conversationID, state string) error
}

// Publisher fans events out to everyone watching a conversation (the visitor's sockets, and later
// agents' consoles). It must not block: a slow watcher is the publisher's problem, not the bot's.
type Publisher interface {
	Publish(conversationID string, ev Event)
}

// Event is something that happened in a conversation.
type Event struct {
	// Message is set for a stored message.
	Message *store.Message
	// StreamID, beside Message, names the stream that showed the message while it was written:
	// the stored message replaces what was streamed.
	StreamID string
	// Typing is set when someone starts or stops typing.
	Typing *Typing
	// Stream is a piece of a reply still being written (LLM answers).
	Stream *Stream
	// State is a change of who is looking after the conversation.
	State *StateChange
	// AgentName, beside an agent's Message, is the display name the visitor sees.
	AgentName string
	// Notice, set alone, tells the visitor about a problem on the server's side that keeps their
	// answer from them for now (a reply that could not be stored). It is not stored.
	Notice string
}

// StateChange says who looks after a conversation now: the bot, the queue (with the visitor's
// place in it), an agent, or nobody (closed).
type StateChange struct {
	State        string
	Position     int
	ETA          *time.Duration
	AgentsOnline int
	Reason       string
	Agent        string
	// Offline is true when nobody can take the conversation now (outside hours, nobody online).
	Offline bool
}

// Stream is a piece of a reply being written, shown in place until the stored message with the
// same ID arrives. Streams are never stored.
type Stream struct {
	ID    string
	From  string
	Delta string
}

// Typing says that From (visitor, bot, agent) started or stopped typing.
type Typing struct {
	From string
	On   bool
}

// Message senders.
const (
	FromVisitor = "visitor"
	FromBot     = "bot"
	FromAgent   = "agent"
	FromSystem  = "system"
)

// ErrClosed is returned once the engine has been closed for shutdown.
var ErrClosed = errors.New("bot engine is shutting down")

// Options configure an Engine. Store, Publisher and Understanding are required.
type Options struct {
	Store         Store
	Publisher     Publisher
	Understanding *intents.Understanding
	// Tone analyses how visitors feel; nil builds the default analyzer.
	Tone   *tone.Analyzer
	Logger *slog.Logger
	// Getenv reads the LLM endpoint's environment overrides and key; nil means os.Getenv.
	Getenv func(string) string
	// Handoff is the queue that brings in people; nil means no agents: the bot points visitors to
	// the team's contact details instead.
	Handoff *handoff.Queue
	Now     func() time.Time
	// IdleEvict drops the in-memory state of conversations idle this long (rebuilt on demand).
	IdleEvict time.Duration
	// RetryAfter is the first wait before storing again a reply the store refused (a full or
	// read-only disk); it doubles up to a minute. Zero means one second.
	RetryAfter time.Duration
}

// Engine runs conversations. It is safe for concurrent use.
type Engine struct {
	store     Store
	pub       Publisher
	log       *slog.Logger
	now       func() time.Time
	idleEvict time.Duration
	retry     time.Duration
	tone      *tone.Analyzer
	getenv    func(string) string
	handoff   *handoff.Queue
	know      atomic.Pointer[knowledge]

	mu      sync.Mutex
	convs   map[string]*conversation
	closed  bool
	working sync.WaitGroup
	// stop is closed by Close: replies waiting to be stored again give up (they are answered
	// when the visitor comes back, see AnswerPending).
	stop chan struct{}
}

// New builds an engine.
func New(opt Options) (*Engine, error) {
	if opt.Store == nil || opt.Publisher == nil || opt.Understanding == nil {
		return nil, errors.New("bot.New: Store, Publisher and Understanding are required")
	}
	e := &Engine{store: opt.Store, pub: opt.Publisher, log: opt.Logger, now: opt.Now, idleEvict: opt.IdleEvict, tone: opt.Tone,
		getenv: opt.Getenv, handoff: opt.Handoff, convs: map[string]*conversation{}, retry: opt.RetryAfter, stop: make(chan struct{})}
	if e.retry <= 0 {
		e.retry = time.Second
	}
	if e.getenv == nil {
		e.getenv = os.Getenv
	}
	if e.tone == nil {
		e.tone = tone.New()
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.idleEvict == 0 {
		e.idleEvict = 30 * time.Minute
	}
	if err := e.SetUnderstanding(opt.Understanding); err != nil {
		return nil, err
	}
	return e, nil
}

// knowledge is everything derived from one configuration, swapped as a whole on reload.
type knowledge struct {
	und      *intents.Understanding
	composer *empathy.Composer
	// llm is nil when no endpoint is configured: the bot then runs on FAQ and intents alone.
	llm *llm.Client
	// endpoint identifies the LLM endpoint and its request parameters (without the key), to keep
	// the client, and its circuit breaker's memory, across reloads that do not change them.
	endpoint string
}

// SetUnderstanding swaps in a reloaded configuration; turns already running finish with the old
// one. It fails, leaving the previous configuration in force, when the LLM layer cannot be built.
func (e *Engine) SetUnderstanding(u *intents.Understanding) error {
	k := &knowledge{und: u, composer: empathy.New(u.Config.Tone)}
	ep, ok, err := llm.EndpointFrom(u.Config.LLM, e.getenv)
	if err != nil {
		return fmt.Errorf("llm endpoint: %w", err)
	}
	if ok {
		facts, err := llm.BuildKnowledge(u.Config, e.now())
		if err != nil {
			return fmt.Errorf("llm knowledge: %w", err)
		}
		// The request parameters belong to the identity too: a reload that changes only the
		// temperature or max_tokens must reach the requests.
		temp := "default"
		if ep.Temperature != nil {
			temp = strconv.FormatFloat(*ep.Temperature, 'g', -1, 64)
		}
		k.endpoint = fmt.Sprintf("%s max_tokens=%d temperature=%s", ep, ep.MaxTokens, temp)
		if prev := e.know.Load(); prev != nil && prev.llm != nil && prev.endpoint == k.endpoint {
			prev.llm.SetKnowledge(facts)
			k.llm = prev.llm
		} else if k.llm, err = llm.New(llm.Options{Endpoint: ep, Knowledge: facts, Logger: e.log, Now: e.now}); err != nil {
			return fmt.Errorf("llm client: %w", err)
		}
	}
	e.know.Store(k)
	return nil
}

// Understanding returns the configuration in force.
func (e *Engine) Understanding() *intents.Understanding { return e.know.Load().und }

// conversation is the engine's in-memory view of one conversation. Its mutex serialises every
// append and publish of the conversation, so that watchers see messages in seq order, and its
// queue makes the bot answer messages one after another in the order they were stored.
type conversation struct {
	id       string
	mu       sync.Mutex // held around append+publish
	queue    []store.Message
	running  bool
	lastUsed time.Time
	state    *dialogue // guarded by the worker: only the running worker touches it
	// owner is who looks after the conversation (bot, queued, agent, closed), guarded by e.mu;
	// "" until known. It saves a database read on every turn.
	owner string
	// stale, guarded by e.mu, says that the conversation came back to the bot from a person:
	// the next turn reloads the history from the store.
	stale bool
	// queuedSeq, guarded by e.mu, is the seq of the last visitor message handed to the worker,
	// so that a message is never answered twice (see AnswerPending).
	queuedSeq int64
}

// begin starts an operation on a conversation; the caller must call e.working.Done when it ends.
// Holding the WaitGroup from the start means Close cannot finish between storing a message and
// scheduling its answer, so a message accepted just before shutdown is still answered.
func (e *Engine) begin(id string) (*conversation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	e.working.Add(1)
	c, ok := e.convs[id]
	if !ok {
		c = &conversation{id: id}
		e.convs[id] = c
	}
	c.lastUsed = e.now()
	return c, nil
}

// Greet stores and publishes the greeting that opens a new conversation.
func (e *Engine) Greet(ctx context.Context, conversationID string) error {
	c, err := e.begin(conversationID)
	if err != nil {
		return err
	}
	defer e.working.Done()
	// A conversation being greeted is new: nothing to restore from the store on its first turn.
	// (Setting it here happens before any message of the conversation can reach a worker.)
	e.mu.Lock()
	if c.state == nil && !c.running {
		c.state, c.owner = &dialogue{}, store.StateBot
	}
	e.mu.Unlock()
	u := e.Understanding()
	text := u.Config.Expand(pick(u.Config.Persona.Greeting, conversationID, 0), e.now())
	d := store.Decision{Intent: intents.IntentGreeting, Confidence: 1, Source: SourceBuiltin, Rule: RuleGreeting}
	_, err = e.appendBot(ctx, c, text, d, "")
	return err
}

// Receive stores a visitor message and, unless it was already stored (a resend after a
// reconnect, recognised by its client id), schedules the bot's answer. stored, when not nil, is
// called once the message is on disk and before anyone sees it or the bot answers it: that is where
// the transport acknowledges it, so that an acknowledgement always precedes the reply.
func (e *Engine) Receive(ctx context.Context, conversationID, clientID, text string, stored func(saved store.Message, duplicate bool)) (saved store.Message, duplicate bool, err error) {
	c, err := e.begin(conversationID)
	if err != nil {
		return store.Message{}, false, err
	}
	defer e.working.Done()
	return e.append(ctx, c, store.Message{ConversationID: conversationID, ClientID: clientID, From: FromVisitor, Text: text}, "", stored)
}

// pendingScan bounds how far back AnswerPending looks for unanswered visitor messages.
const pendingScan = 50

// AnswerPending has the bot answer the visitor messages that end the conversation, when the bot
// spoke last before them: the bot still owes them an answer because its reply could not be stored
// before the server stopped, or the server stopped between acknowledging them and answering. The
// transport calls it when a visitor comes back to a conversation; it does nothing while a person
// looks after it, or when the answers are on their way.
func (e *Engine) AnswerPending(ctx context.Context, conv store.Conversation) error {
	if conv.State != store.StateBot || conv.LastSeq == 0 {
		return nil
	}
	c, err := e.begin(conv.ID)
	if err != nil {
		return err
	}
	defer e.working.Done()
	// Under c.mu no visitor message is between being stored and being handed to the worker.
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs, err := e.store.MessagesAfter(ctx, conv.ID, max(0, conv.LastSeq-pendingScan), 0)
	if err != nil {
		return fmt.Errorf("read the last messages of %s: %w", conv.ID, err)
	}
	first := len(msgs)
	for first > 0 && msgs[first-1].From == FromVisitor {
		first--
	}
	// Messages that follow an agent's were written to a person, and a run longer than the scan
	// is not a lost answer: the bot leaves those alone.
	if first > 0 && msgs[first-1].From != FromBot || first == 0 && conv.LastSeq > pendingScan {
		return nil
	}
	for _, m := range msgs[first:] {
		e.enqueue(c, m)
	}
	return nil
}

// AgentSay stores an agent's message and shows it to everyone watching the conversation, under
// the agent's display name. The caller has checked that the agent owns the conversation.
func (e *Engine) AgentSay(ctx context.Context, conversationID, clientID, agentName, text string, stored func(saved store.Message, duplicate bool)) (store.Message, bool, error) {
	c, err := e.begin(conversationID)
	if err != nil {
		return store.Message{}, false, err
	}
	defer e.working.Done()
	return e.append(ctx, c, store.Message{ConversationID: conversationID, ClientID: clientID, From: FromAgent, Text: text}, agentName, stored)
}

// append stores a message and publishes it, calling stored in between (see Receive). A new
// visitor message is handed to the bot before the lock is released, so that the bot sees
// messages in seq order and AnswerPending never sees one stored but not yet handed over.
func (e *Engine) append(ctx context.Context, c *conversation, m store.Message, agentName string, stored func(store.Message, bool)) (store.Message, bool, error) {
	c.mu.Lock()
	saved, duplicate, err := e.store.AppendMessage(ctx, m)
	if err == nil {
		if stored != nil {
			stored(saved, duplicate)
		}
		if !duplicate {
			e.pub.Publish(c.id, Event{Message: &saved, AgentName: agentName})
			if saved.From == FromVisitor {
				e.enqueue(c, saved)
			}
		}
	}
	c.mu.Unlock()
	if err != nil {
		return store.Message{}, false, fmt.Errorf("store %s message: %w", m.From, err)
	}
	return saved, duplicate, nil
}

// Tone analyses a message the bot does not answer (a person owns the conversation), for the
// agent's console.
func (e *Engine) Tone(text string) tone.Result { return e.tone.Analyze(text) }

// Assistant returns the LLM client of the configuration in force, nil without one (agent assist
// then falls back to templates).
func (e *Engine) Assistant() *llm.Client { return e.know.Load().llm }

// enqueue hands a stored visitor message to the conversation's worker, starting one if idle.
func (e *Engine) enqueue(c *conversation, m store.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m.Seq <= c.queuedSeq {
		return // already answered or being answered
	}
	c.queuedSeq = m.Seq
	c.queue = append(c.queue, m)
	if c.running {
		return
	}
	c.running = true
	e.working.Add(1)
	go e.work(c)
}

func (e *Engine) work(c *conversation) {
	defer e.working.Done()
	for {
		e.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.lastUsed = e.now()
			e.mu.Unlock()
			return
		}
		m := c.queue[0]
		c.queue = c.queue[1:]
		e.mu.Unlock()
		// The reply must outlive the socket that sent the message: the visitor may reload the page
		// and will find the answer on resume. The LLM's own timeout bounds the slowest turn.
		ctx, cancel := context.WithTimeout(context.Background(), e.turnTimeout())
		if err := e.respond(ctx, c, m); err != nil {
			e.log.Error("bot turn failed", "conversation", c.id, "seq", m.Seq, "error", err)
		}
		cancel()
	}
}

// turnTimeout bounds one bot turn: storage and policy take milliseconds, an LLM call up to its
// configured timeout.
func (e *Engine) turnTimeout() time.Duration {
	llmTimeout := time.Duration(e.Understanding().Config.LLM.TimeoutSeconds * float64(time.Second))
	return max(30*time.Second, llmTimeout+10*time.Second)
}

// appendBot stores a bot message with its decision record and publishes it (as the end of
// streamID's stream, when the reply was streamed).
func (e *Engine) appendBot(ctx context.Context, c *conversation, text string, d store.Decision, streamID string) (store.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := e.store.AppendBotTurn(ctx, store.Message{ConversationID: c.id, From: FromBot, Text: text}, d)
	if err != nil {
		return store.Message{}, fmt.Errorf("store bot message: %w", err)
	}
	e.pub.Publish(c.id, Event{Message: &m, StreamID: streamID})
	return m, nil
}

// Waits between attempts to store a reply the store refused.
const maxRetryWait = time.Minute

// replyDelayed is what the visitor is told when their answer could not be stored.
const replyDelayed = "Sorry, there is a problem on our side: the answer to your message could not be saved, so it is delayed. " +
	"It will appear here as soon as it can be saved; you don't need to send your message again."

// storeLate stores a reply that the store refused the first time (err): a visitor whose message
// was acknowledged is owed its answer. The visitor is told at once that it is delayed; the reply is
// then stored again, waiting longer each time, until it is stored or the engine closes. A store
// that will never take it (closed, the conversation deleted) ends the attempts at once.
func (e *Engine) storeLate(c *conversation, m store.Message, text string, d store.Decision, streamID string, err error) error {
	if !retryable(err) {
		return err
	}
	e.log.Error("bot reply could not be stored; telling the visitor and trying again", "conversation", c.id, "seq", m.Seq, "error", err)
	e.pub.Publish(c.id, Event{Typing: &Typing{From: FromBot, On: false}})
	e.pub.Publish(c.id, Event{Notice: replyDelayed})
	wait := e.retry
	for attempt := 2; ; attempt++ {
		t := time.NewTimer(wait)
		select {
		case <-e.stop:
			t.Stop()
			return fmt.Errorf("shutting down with the reply to seq %d unstored (it is answered when the visitor comes back): %w", m.Seq, err)
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = e.appendBot(ctx, c, text, d, streamID)
		cancel()
		if err == nil {
			e.log.Info("delayed bot reply stored", "conversation", c.id, "seq", m.Seq, "attempts", attempt)
			return nil
		}
		if !retryable(err) {
			return err
		}
		e.log.Warn("bot reply still cannot be stored", "conversation", c.id, "seq", m.Seq, "attempts", attempt, "error", err)
		wait = min(2*wait, maxRetryWait)
	}
}

// retryable says whether storing again may succeed later: not on a closed store, a deleted
// conversation or a refused record.
func retryable(err error) bool {
	return !errors.Is(err, store.ErrClosed) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid)
}

// Close stops taking new messages and waits for the answers in progress, up to ctx's deadline.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.stop)
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.working.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for bot turns in progress: %w", ctx.Err())
	}
}

// EvictIdle forgets the in-memory state of conversations idle longer than the configured time;
// their state is rebuilt from the store when they speak again.
func (e *Engine) EvictIdle() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	cutoff := e.now().Add(-e.idleEvict)
	n := 0
	for id, c := range e.convs {
		if !c.running && len(c.queue) == 0 && c.lastUsed.Before(cutoff) {
			delete(e.convs, id)
			n++
		}
	}
	return n
}
