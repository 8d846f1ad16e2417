package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/store"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
)

// maxClientIDLen bounds client-chosen message ids; a UUID is 36 characters.
const maxClientIDLen = 64

// Visitor typing frames go to every console watching the conversation, one write each. A widget
// sends "on" at most every 3 s while the visitor types and "off" when they stop; a script sending
// them as fast as it can used to flood the agent's console until it was dropped as too slow.
const (
	// typingRefresh is how often a repeated "on" is passed on (it keeps indicators alive);
	// repeats in between carry nothing new and are not forwarded.
	typingRefresh = 2 * time.Second
	// typingBurst changes of typing state may be forwarded at once, then typingPerSecond.
	typingBurst     = 10
	typingPerSecond = 4
)

// client is one visitor websocket. Following gorilla's chat example, one goroutine reads and one
// writes; everything else talks to the writer through the buffered send channel.
type client struct {
	socket
	s *Server

	// Reader-goroutine state.
	conversationID string
	bucket         tokenBucket
	typingBucket   tokenBucket
	typingOn       bool      // the typing state last forwarded
	typingAt       time.Time // when it was forwarded
	typingRefused  bool      // a typing frame was refused since the last one forwarded

	// mu guards delivery of conversation messages: during the replay that follows hello, live
	// messages are held back so that the visitor receives everything in seq order, once.
	mu        sync.Mutex
	replaying bool
	held      []heldFrame
	sentSeq   int64
}

type heldFrame struct {
	frame []byte
	seq   int64
}

func (s *Server) handleVisitorSocket(c echo.Context) error {
	if s.shuttingDown.Load() {
		return echo.NewHTTPError(503, "the server is restarting; reconnect in a few seconds")
	}
	conn, err := s.upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader has already answered with an HTTP error
	}
	cl := &client{s: s, socket: newSocket(conn, s.opt.SendQueue, "too slow to receive; reconnect to resume"),
		bucket:       tokenBucket{capacity: float64(s.opt.RateBurst), perSecond: s.opt.RatePerSecond, tokens: float64(s.opt.RateBurst), last: s.now()},
		typingBucket: tokenBucket{capacity: typingBurst, perSecond: typingPerSecond, tokens: typingBurst, last: s.now()}}
	s.track(cl, true)
	if s.shuttingDown.Load() { // upgraded while Shutdown was closing the others
		cl.close(websocket.CloseGoingAway, "server restarting; reconnect to resume")
	}
	go cl.writePump()
	cl.readPump()
	return nil
}

// deliver queues a frame of the conversation; seq > 0 marks stored messages, which are delivered
// in order and at most once. During the replay that follows hello every live frame is held: the
// replay keeps the send queue full, so a live frame would not fit (and would overtake history).
func (c *client) deliver(frame []byte, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaying {
		if len(c.held) >= maxHeld {
			c.close(websocket.CloseTryAgainLater, c.slowReason)
			return
		}
		c.held = append(c.held, heldFrame{frame, seq})
		return
	}
	if seq > 0 {
		if seq <= c.sentSeq {
			return
		}
		c.sentSeq = seq
	}
	c.enqueue(frame)
}

// maxHeld bounds the live frames held for one socket during its replay.
const maxHeld = 4096

func (c *client) sendError(code, id, format string, args ...any) {
	c.sendFrame(errorFrame{Type: "error", Code: code, ID: id, Message: fmt.Sprintf(format, args...)})
}

func (c *client) readPump() {
	s := c.s
	defer func() {
		if c.conversationID != "" {
			s.hub.unsubscribe(c.conversationID, c)
			if c.typingOn { // whoever watches should not see a visitor typing who has gone
				s.hub.Publish(c.conversationID, bot.Event{Typing: &bot.Typing{From: bot.FromVisitor, On: false}})
			}
		}
		c.close(websocket.CloseNormalClosure, "")
	}()
	// A message of the largest allowed length must fit even when every character is escaped as
	// \uXXXX\uXXXX (a surrogate pair: 12 bytes); anything larger is refused unread.
	limit := s.opt.ReadLimit
	if limit == 0 {
		limit = max(64<<10, int64(s.engine.Understanding().Config.Widget.MaxMessageChars)*12+1024)
	}
	c.conn.SetReadLimit(limit)
	_ = c.conn.SetReadDeadline(s.now().Add(s.opt.PongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(s.now().Add(s.opt.PongWait)) })
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.log.Info("visitor frame over the hard size limit", "limit", limit)
			}
			return
		}
		_ = c.conn.SetReadDeadline(s.now().Add(s.opt.PongWait))
		if kind != websocket.TextMessage {
			c.sendError(codeBadFrame, "", "binary frames are not supported; send each frame as a JSON text frame")
			continue
		}
		c.handle(data)
	}
}

func (c *client) handle(data []byte) {
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil {
		c.sendError(codeBadFrame, "", "the frame is not a valid JSON object (%v); send one JSON object per text frame, e.g. {\"type\":\"message\",\"id\":\"1\",\"text\":\"hi\"}", jsonProblem(err))
		return
	}
	switch f.Type {
	case "":
		c.sendError(codeBadFrame, f.ID, "the frame has no \"type\"; use hello, message or typing")
	case "hello":
		c.hello(f)
	case "message":
		c.message(f)
	case "email":
		c.leaveEmail(f)
	case "typing":
		if c.conversationID == "" {
			c.sendError(codeNotReady, "", "send hello before typing frames")
			return
		}
		if f.On == nil {
			c.sendError(codeBadFrame, "", "a typing frame needs \"on\": true or false")
			return
		}
		c.typing(*f.On)
	default:
		c.sendError(codeUnknownType, f.ID, "unknown frame type %q; a visitor may send hello, message, typing and email", truncate(f.Type, 40))
	}
}

// typing passes the visitor's typing state on to the consoles: changes, and a repeated "on" at
// most every typingRefresh, within the typing rate limit.
func (c *client) typing(on bool) {
	now := c.s.now()
	if on == c.typingOn && (!on || now.Sub(c.typingAt) < typingRefresh) {
		return // nothing new for anyone watching
	}
	if !c.typingBucket.allow(now) {
		// Said once per run of refusals: an error for each frame of a flood would flood back.
		if !c.typingRefused {
			c.typingRefused = true
			c.sendError(codeRateLimited, "", "too many typing frames; send \"on\" when the visitor starts typing (at most every few seconds) and \"off\" when they stop")
		}
		return
	}
	c.typingOn, c.typingAt, c.typingRefused = on, now, false
	c.s.hub.Publish(c.conversationID, bot.Event{Typing: &bot.Typing{From: bot.FromVisitor, On: on}})
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be a %s", te.Field, te.Type.Kind())
	}
	return "it must be a JSON object"
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func (c *client) hello(f inFrame) {
	s := c.s
	if c.conversationID != "" {
		c.sendError(codeBadFrame, "", "hello was already accepted on this connection; send it once per connection")
		return
	}
	var lastSeq int64
	if f.LastSeq != nil {
		lastSeq = *f.LastSeq
	}
	if lastSeq < 0 {
		c.sendError(codeBadFrame, "", "last_seq must be 0 or the highest seq you have received")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	token, conv, resumed, err := s.openConversation(ctx, f.Token, f.New)
	if err != nil {
		s.log.Error("open conversation", "error", err)
		c.sendError(codeUnavailable, "", "the server cannot open your conversation right now; reconnect in a few seconds")
		return
	}
	if !resumed {
		lastSeq = 0 // a fresh conversation: whatever the client had belongs to another one
	}
	// A client claiming more than exists would otherwise silently miss the next live messages.
	lastSeq = min(lastSeq, conv.LastSeq)

	c.mu.Lock()
	c.conversationID = conv.ID
	c.replaying = true
	c.mu.Unlock()
	// Subscribe before reading history: anything stored from now on is held, then merged in order.
	s.hub.subscribe(conv.ID, c)
	c.sendFrame(welcomeFrame{Type: "welcome", ConversationID: conv.ID, Token: token, State: conv.State, Resumed: resumed,
		MaxChars: s.engine.Understanding().Config.Widget.MaxMessageChars, LastSeq: conv.LastSeq})
	if resumed {
		s.sendHandoffState(c, conv.ID)
	}

	if resumed {
		if err := c.replay(conv.ID, lastSeq); err != nil {
			s.log.Error("replay conversation", "conversation", conv.ID, "error", err)
			c.close(websocket.CloseInternalServerErr, "could not load your conversation; reconnect to try again")
			return
		}
		// A message acknowledged before a restart may still be waiting for its answer (the
		// reply could not be stored, or the server stopped first): the visitor gets it now.
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer acancel()
		if err := s.engine.AnswerPending(actx, conv); err != nil {
			s.log.Error("answer a pending visitor message", "conversation", conv.ID, "error", err)
		}
		return
	}
	// A conversation created a moment ago has no history yet: skip the query. Most sockets are new
	// visitors, and the reads would also grow this goroutine's stack for the socket's life.
	c.finishReplay(0)
	if err := s.engine.Greet(ctx, conv.ID); err != nil {
		s.log.Error("greet", "conversation", conv.ID, "error", err)
	}
}

// replay sends every stored message after lastSeq, then the live messages held meanwhile. It
// goes at the pace of the visitor's link, so each page is read under its own deadline.
func (c *client) replay(conversationID string, lastSeq int64) error {
	const page = 500
	sent := lastSeq
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msgs, err := c.s.store.MessagesAfter(ctx, conversationID, sent, page)
		cancel()
		if err != nil {
			c.mu.Lock()
			c.replaying = false
			c.mu.Unlock()
			return err
		}
		for i := range msgs {
			// History may be longer than the send queue: wait for the writer instead of dropping.
			select {
			case c.send <- mustJSON(messageFrameOf(&msgs[i])):
			case <-c.done:
				return nil
			}
			sent = msgs[i].Seq
		}
		if len(msgs) < page {
			break
		}
	}
	c.finishReplay(sent)
	return nil
}

// finishReplay records that history up to sent was queued, then sends the live frames held
// meanwhile, skipping messages the history already contained. Like the replay it waits for the
// writer rather than drop them; frames arriving while it does are held and sent in turn.
func (c *client) finishReplay(sent int64) {
	c.mu.Lock()
	for len(c.held) > 0 {
		held := c.held
		c.held = nil
		c.mu.Unlock()
		for _, h := range held {
			if h.seq > 0 {
				if h.seq <= sent {
					continue
				}
				sent = h.seq
			}
			select {
			case c.send <- h.frame:
			case <-c.done:
				return
			}
		}
		c.mu.Lock()
	}
	c.sentSeq, c.replaying = sent, false
	c.mu.Unlock()
}

// openConversation resumes the conversation of a valid, unexpired token, or starts a new one.
func (s *Server) openConversation(ctx context.Context, token *string, startNew bool) (string, store.Conversation, bool, error) {
	visitorID := ""
	if token != nil && *token != "" && len(*token) <= 128 {
		conv, err := s.store.ConversationByToken(ctx, hashToken(*token))
		switch {
		case err == nil && startNew && (conv.State == store.StateBot || conv.State == store.StateClosed):
			// Another chat for the same visitor: the ended one stays as an earlier conversation
			// the agents can see.
			visitorID = conv.VisitorID
		case err == nil && conv.UpdatedAt.After(s.now().Add(-s.engine.Understanding().Config.Retention())):
			// Resumed; also when a new chat is asked for while a person is still involved in this
			// one, so that nobody is left talking to an abandoned conversation.
			return *token, conv, true, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return "", store.Conversation{}, false, err
		}
		// Unknown or expired: a new conversation, never an error loop.
	}
	fresh, err := newToken()
	if err != nil {
		return "", store.Conversation{}, false, err
	}
	var conv store.Conversation
	if visitorID != "" {
		conv, err = s.store.CreateConversationFor(ctx, hashToken(fresh), visitorID)
		if errors.Is(err, store.ErrNotFound) { // the visitor expired meanwhile
			visitorID = ""
		}
	}
	if visitorID == "" {
		conv, err = s.store.CreateConversation(ctx, hashToken(fresh))
	}
	if err != nil {
		return "", store.Conversation{}, false, fmt.Errorf("create conversation: %w", err)
	}
	return fresh, conv, false, nil
}

// newToken returns a resume token with 256 random bits.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashToken is what the store keeps: a leaked database does not hand out live conversations.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (c *client) message(f inFrame) {
	s := c.s
	switch {
	case c.conversationID == "":
		c.sendError(codeNotReady, f.ID, "send hello before messages")
		return
	case f.ID == "":
		c.sendError(codeBadFrame, "", "a message needs an \"id\": a unique string you choose, sent again unchanged when you resend")
		return
	case len(f.ID) > maxClientIDLen:
		c.sendError(codeBadFrame, truncate(f.ID, 16), "the message id is longer than %d characters; use a shorter unique id such as a UUID", maxClientIDLen)
		return
	case f.Text == nil || strings.TrimSpace(*f.Text) == "":
		c.sendError(codeBadFrame, f.ID, "the message has no \"text\"; send the text to deliver")
		return
	case !utf8.ValidString(*f.Text):
		c.sendError(codeBadFrame, f.ID, "the text is not valid UTF-8")
		return
	}
	limit := s.engine.Understanding().Config.Widget.MaxMessageChars
	if n := utf8.RuneCountInString(*f.Text); n > limit {
		c.sendError(codeTooLong, f.ID, "the message is %d characters long; the limit is %d. Shorten it or split it into several messages", n, limit)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !c.bucket.allow(s.now()) {
		// A resend of a stored message (a reconnect with many unacknowledged ones) must be
		// acknowledged with its seq: refusing it as "not stored" would be false.
		if saved, err := s.store.MessageByClientID(ctx, c.conversationID, f.ID); err == nil {
			c.sendFrame(ackFrame{Type: "ack", ID: f.ID, Seq: saved.Seq})
			return
		} else if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("look up a rate-limited message", "conversation", c.conversationID, "error", err)
		}
		c.sendError(codeRateLimited, f.ID, "too many messages in a short time; wait a few seconds and send it again (it was not stored)")
		return
	}
	_, _, err := s.engine.Receive(ctx, c.conversationID, f.ID, *f.Text, func(saved store.Message, duplicate bool) {
		if duplicate {
			// A resend carries nothing new: it does not use up the visitor's rate limit.
			c.bucket.tokens = min(c.bucket.capacity, c.bucket.tokens+1)
		}
		c.sendFrame(ackFrame{Type: "ack", ID: f.ID, Seq: saved.Seq})
	})
	if err != nil {
		s.log.Error("store visitor message", "conversation", c.conversationID, "error", err)
		c.sendError(codeUnavailable, f.ID, "the message could not be saved and was not delivered; send it again in a few seconds")
	}
}

func (c *client) writePump() {
	s := c.s
	ticker := time.NewTicker(s.opt.PingPeriod)
	defer func() {
		ticker.Stop()
		_ = c.conn.Close()
		s.track(c, false)
	}()
	for {
		select {
		case frame := <-c.send:
			_ = c.conn.SetWriteDeadline(s.now().Add(s.opt.WriteWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(s.now().Add(s.opt.WriteWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			s.flushAndClose(c.conn, c.send, c.closeCode, c.closeReason)
			return
		}
	}
}

// flushAndClose writes what is already queued on a socket (acks, replies), then the close frame;
// visitor and agent sockets end the same way.
func (s *Server) flushAndClose(conn *websocket.Conn, send <-chan []byte, code int, reason string) {
	for {
		select {
		case frame := <-send:
			_ = conn.SetWriteDeadline(s.now().Add(s.opt.WriteWait))
			if conn.WriteMessage(websocket.TextMessage, frame) != nil {
				return
			}
			continue
		default:
		}
		break
	}
	if code != websocket.CloseAbnormalClosure {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), s.now().Add(s.opt.WriteWait))
	}
}

// tokenBucket limits how fast one socket may send messages. Only the reader goroutine uses it.
type tokenBucket struct {
	capacity, perSecond, tokens float64
	last                        time.Time
}

func (b *tokenBucket) allow(now time.Time) bool {
	b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
