package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/bot/llm"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/store"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
)

// Agent socket limits.
const (
	// maxAgentText bounds one agent message or note, in characters (the store's note limit is
	// checked by the store itself).
	maxAgentText = 4000
	// agentReadLimit is the hard size of one incoming agent frame.
	agentReadLimit = 64 << 10
	// agentSendQueue is how many frames may wait for a slow console before it is disconnected;
	// larger than a visitor's, since a console watches many conversations and the queue.
	agentSendQueue = 512
	// closeSessionEnded is the close code of a socket whose session ended (logout, expiry,
	// password reset): the console asks /console/api/me and shows the login form.
	closeSessionEnded = 4401
	// transcriptLimit bounds the messages of one `conversation` frame (the latest ones).
	transcriptLimit = 1000
)

// Resolutions an agent may close a conversation with.
var resolutions = map[string]bool{"resolved": true, "no_response": true, "spam": true, "other": true}

// consoleRegistry tracks the open agent sockets: by agent (presence follows the first and last
// socket of an agent) and by conversation (who receives its live messages).
type consoleRegistry struct {
	mu       sync.RWMutex
	conns    map[*agentConn]struct{}
	byAgent  map[string]map[*agentConn]struct{}
	watching map[string]map[*agentConn]struct{}
	// presenceMu serialises an agent's first connect and last disconnect with the queue, so
	// that a reload (close + open at once) never leaves the queue thinking the agent is gone.
	// Queue callbacks never take it, so holding it while calling the queue cannot deadlock.
	presenceMu sync.Mutex
	ended      sync.WaitGroup
}

func (r *consoleRegistry) init() {
	r.conns = map[*agentConn]struct{}{}
	r.byAgent = map[string]map[*agentConn]struct{}{}
	r.watching = map[string]map[*agentConn]struct{}{}
}

func (s *Server) consoleEnabled() bool { return s.handoff != nil && s.agents != nil }

// agentConn is one console's websocket: one reader goroutine, one writer goroutine, and the
// buffered send channel between everything else and the writer (gorilla's chat pattern).
type agentConn struct {
	socket
	s *Server

	agent       store.Agent
	sessionHash []byte
	bucket      tokenBucket // reader goroutine only
	// convs are the conversations this socket watches, guarded by s.consoles.mu.
	convs map[string]struct{}

	// held keeps, per conversation being opened, the live messages stored while its transcript
	// is read: they are sent after the conversation frame (which the console draws in place of
	// what it showed), those the transcript already has left out. Guarded by heldMu.
	heldMu sync.Mutex
	held   map[string][]heldFrame
}

// deliver queues a live frame of a conversation; seq > 0 marks a stored message.
func (ac *agentConn) deliver(conversationID string, frame []byte, seq int64) {
	ac.heldMu.Lock()
	defer ac.heldMu.Unlock()
	if h, ok := ac.held[conversationID]; ok && seq > 0 {
		ac.held[conversationID] = append(h, heldFrame{frame, seq})
		return
	}
	ac.enqueue(frame)
}

// holdMessages starts holding the live messages of a conversation being opened.
func (ac *agentConn) holdMessages(conversationID string) {
	ac.heldMu.Lock()
	defer ac.heldMu.Unlock()
	if ac.held == nil {
		ac.held = map[string][]heldFrame{}
	}
	if _, ok := ac.held[conversationID]; !ok {
		ac.held[conversationID] = []heldFrame{}
	}
}

// releaseMessages queues the conversation frame (nil: none, the open failed), then the messages
// held meanwhile that come after its transcript's last seq, and stops holding.
func (ac *agentConn) releaseMessages(conversationID string, frame []byte, lastSeq int64) {
	ac.heldMu.Lock()
	defer ac.heldMu.Unlock()
	if frame != nil {
		ac.enqueue(frame)
	}
	for _, h := range ac.held[conversationID] {
		if h.seq > lastSeq {
			ac.enqueue(h.frame)
		}
	}
	delete(ac.held, conversationID)
}

var agentUpgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
	// The Origin is checked before the upgrade, with a clearer answer than the upgrader's.
	CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) handleAgentSocket(c echo.Context) error {
	r := c.Request()
	if s.shuttingDown.Load() {
		return jsonError(c, http.StatusServiceUnavailable, "the server is restarting; reconnect in a few seconds")
	}
	sess, ok, err := s.consoleSession(r)
	if err != nil {
		s.log.Error("agent socket: session", "error", err)
		return jsonError(c, http.StatusServiceUnavailable, "the server cannot check your session right now; try again in a few seconds")
	}
	if !ok {
		return jsonError(c, http.StatusUnauthorized, "not logged in or the session has expired; log in again")
	}
	// Cross-site websocket hijacking: the cookie would ride along with any page's socket.
	if present, same := s.sameOrigin(r); !present || !same {
		s.logOriginRefused("agent socket refused: foreign or missing origin", r, "agent", sess.agent.ID)
		return jsonError(c, http.StatusForbidden, "the agent socket is only open to this server's own console page")
	}
	conn, err := agentUpgrader.Upgrade(c.Response(), r, nil)
	if err != nil {
		return nil // the upgrader has answered
	}
	ac := &agentConn{s: s, socket: newSocket(conn, agentSendQueue, "too slow to receive; reconnect"),
		agent: sess.agent, sessionHash: sess.hash, convs: map[string]struct{}{},
		bucket: tokenBucket{capacity: 20, perSecond: 5, tokens: 20, last: s.now()}}
	s.consoles.ended.Add(1)
	go ac.writePump()
	if s.shuttingDown.Load() {
		ac.close(websocket.CloseGoingAway, "server restarting; reconnect to resume")
	}
	presence := handoff.Online
	if sess.agent.Capacity == 0 {
		presence = handoff.Away // an admin who only administers takes no offers
	}
	ac.sendFrame(agentWelcomeFrame{Type: "welcome", Agent: agentOf(sess.agent), Presence: string(presence)})
	if err := s.attachAgent(ac, presence); err != nil {
		s.log.Error("agent socket: connect to the queue", "agent", sess.agent.ID, "error", err)
		ac.close(websocket.CloseInternalServerErr, "could not join the queue; reconnect")
	}
	ac.sendFrame(s.queueFrame())
	ac.readPump()
	return nil
}

// attachAgent registers the socket and, for the agent's first socket, connects them to the queue.
func (s *Server) attachAgent(ac *agentConn, presence handoff.Presence) error {
	reg := &s.consoles
	reg.presenceMu.Lock()
	defer reg.presenceMu.Unlock()
	id := ac.agent.ID
	reg.mu.Lock()
	reg.conns[ac] = struct{}{}
	set := reg.byAgent[id]
	if set == nil {
		set = map[*agentConn]struct{}{}
		reg.byAgent[id] = set
	}
	set[ac] = struct{}{}
	first := len(set) == 1
	reg.mu.Unlock()
	if first {
		a := ac.agent
		if err := s.handoff.Connect(handoff.Agent{ID: a.ID, Name: a.Name, Skills: a.Skills, Capacity: a.Capacity}); err != nil {
			return err
		}
		if presence != handoff.Online {
			if err := s.handoff.SetPresence(a.ID, presence); err != nil {
				return err
			}
		}
	}
	// Conversations the agent already owns (kept through a reload or a restart) stream to it.
	for _, st := range s.handoff.Agents() {
		if st.ID == id {
			for _, conv := range st.Active {
				s.watch(ac, conv)
			}
		}
	}
	return nil
}

// detachAgent forgets the socket and, when it was the agent's last, disconnects them from the
// queue (their conversations wait out the grace period).
func (s *Server) detachAgent(ac *agentConn) {
	reg := &s.consoles
	reg.presenceMu.Lock()
	defer reg.presenceMu.Unlock()
	id := ac.agent.ID
	reg.mu.Lock()
	if _, ok := reg.conns[ac]; !ok {
		reg.mu.Unlock()
		return
	}
	delete(reg.conns, ac)
	set := reg.byAgent[id]
	delete(set, ac)
	last := len(set) == 0
	if last {
		delete(reg.byAgent, id)
	}
	for conv := range ac.convs {
		if w := reg.watching[conv]; w != nil {
			delete(w, ac)
			if len(w) == 0 {
				delete(reg.watching, conv)
			}
		}
	}
	reg.mu.Unlock()
	if last {
		if err := s.handoff.Disconnect(id); err != nil && !errors.Is(err, handoff.ErrUnknownAgent) {
			s.log.Warn("agent socket: disconnect from the queue", "agent", id, "error", err)
		}
	}
}

// watch makes ac receive the live events of a conversation.
func (s *Server) watch(ac *agentConn, conversationID string) {
	reg := &s.consoles
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, ok := reg.conns[ac]; !ok {
		return
	}
	w := reg.watching[conversationID]
	if w == nil {
		w = map[*agentConn]struct{}{}
		reg.watching[conversationID] = w
	}
	w[ac] = struct{}{}
	ac.convs[conversationID] = struct{}{}
}

// watchAll makes every socket of an agent watch a conversation (it was assigned to them).
func (s *Server) watchAll(agentID, conversationID string) {
	s.consoles.mu.RLock()
	conns := make([]*agentConn, 0, len(s.consoles.byAgent[agentID]))
	for ac := range s.consoles.byAgent[agentID] {
		conns = append(conns, ac)
	}
	s.consoles.mu.RUnlock()
	for _, ac := range conns {
		s.watch(ac, conversationID)
	}
}

// toWatchers sends a frame to every socket watching a conversation; seq > 0 marks a stored message.
func (s *Server) toWatchers(conversationID string, frame []byte, seq int64) {
	s.consoles.mu.RLock()
	defer s.consoles.mu.RUnlock()
	for ac := range s.consoles.watching[conversationID] {
		ac.deliver(conversationID, frame, seq)
	}
}

// toAgent sends a frame to every socket of one agent.
func (s *Server) toAgent(agentID string, frame []byte) {
	s.consoles.mu.RLock()
	defer s.consoles.mu.RUnlock()
	for ac := range s.consoles.byAgent[agentID] {
		ac.enqueue(frame)
	}
}

// toConsoles sends a frame to every agent socket.
func (s *Server) toConsoles(frame []byte) {
	s.consoles.mu.RLock()
	defer s.consoles.mu.RUnlock()
	for ac := range s.consoles.conns {
		ac.enqueue(frame)
	}
}

// closeSessionSockets ends the sockets opened with a session that has just ended.
func (s *Server) closeSessionSockets(hash []byte, code int, why string) {
	s.consoles.mu.RLock()
	defer s.consoles.mu.RUnlock()
	for ac := range s.consoles.conns {
		if string(ac.sessionHash) == string(hash) {
			ac.close(code, why)
		}
	}
}

// closeAgentSockets closes every agent socket (shutdown).
func (s *Server) closeAgentSockets(code int, reason string) {
	s.consoles.mu.RLock()
	defer s.consoles.mu.RUnlock()
	for ac := range s.consoles.conns {
		ac.close(code, reason)
	}
}

// watchForConsoles is the hub watcher: it forwards the live messages and typing of a conversation
// to the consoles watching it. It runs inside the publisher's lock and must not block.
func (s *Server) watchForConsoles(conversationID string, ev bot.Event) {
	s.consoles.mu.RLock()
	n := len(s.consoles.watching[conversationID])
	s.consoles.mu.RUnlock()
	if n == 0 {
		return
	}
	switch {
	case ev.Message != nil:
		f := agentMessageFrame{Type: "message", ConversationID: conversationID, consoleMessage: s.consoleMessageOf(ev.Message)}
		f.Name = ev.AgentName
		s.toWatchers(conversationID, mustJSON(f), ev.Message.Seq)
	case ev.Typing != nil && ev.Typing.From != bot.FromBot:
		s.toWatchers(conversationID, mustJSON(agentTypingFrame{Type: "typing", ConversationID: conversationID, From: ev.Typing.From, On: ev.Typing.On}), 0)
	}
}

func (ac *agentConn) sendError(code, id, conversationID, format string, args ...any) {
	ac.sendFrame(agentErrorFrame{Type: "error", Code: code, ID: id, ConversationID: conversationID, Message: fmt.Sprintf(format, args...)})
}

func (ac *agentConn) ack(id string, seq int64) {
	if id != "" {
		ac.sendFrame(agentAckFrame{Type: "ack", ID: id, Seq: seq})
	}
}

func (ac *agentConn) readPump() {
	s := ac.s
	defer func() {
		s.detachAgent(ac)
		ac.close(websocket.CloseNormalClosure, "")
	}()
	ac.conn.SetReadLimit(agentReadLimit)
	_ = ac.conn.SetReadDeadline(s.now().Add(s.opt.PongWait))
	ac.conn.SetPongHandler(func(string) error { return ac.conn.SetReadDeadline(s.now().Add(s.opt.PongWait)) })
	for {
		kind, data, err := ac.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = ac.conn.SetReadDeadline(s.now().Add(s.opt.PongWait))
		if kind != websocket.TextMessage {
			ac.sendError(codeBadFrame, "", "", "binary frames are not supported; send each frame as a JSON text frame")
			continue
		}
		ac.handle(data)
	}
}

func (ac *agentConn) writePump() {
	s := ac.s
	ping := time.NewTicker(s.opt.PingPeriod)
	check := time.NewTicker(s.opt.SessionCheck)
	defer func() {
		ping.Stop()
		check.Stop()
		_ = ac.conn.Close()
		s.consoles.ended.Done()
	}()
	write := func(kind int, frame []byte) bool {
		_ = ac.conn.SetWriteDeadline(s.now().Add(s.opt.WriteWait))
		if ac.conn.WriteMessage(kind, frame) != nil {
			ac.close(websocket.CloseAbnormalClosure, "")
			return false
		}
		return true
	}
	for {
		select {
		case frame := <-ac.send:
			if !write(websocket.TextMessage, frame) {
				return
			}
		case <-ping.C:
			if !write(websocket.PingMessage, nil) {
				return
			}
		case <-check.C:
			ac.checkSession()
		case <-ac.done:
			s.flushAndClose(ac.conn, ac.send, ac.closeCode, ac.closeReason)
			return
		}
	}
}

// checkSession closes the socket when its session has ended (expired, password reset, agent
// disabled or removed) and reports whether it is still live; a database hiccup keeps it open.
func (ac *agentConn) checkSession() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ac.s.agents.SessionAgent(ctx, ac.sessionHash); errors.Is(err, store.ErrNotFound) {
		ac.close(closeSessionEnded, "session expired; log in again")
		return false
	}
	return true
}

// agentInFrame is any frame a console sends; fields a type does not use are ignored.
type agentInFrame struct {
	Type           string  `json:"type"`
	ID             string  `json:"id"`
	ConversationID string  `json:"conversation_id"`
	Presence       string  `json:"presence"`
	Text           *string `json:"text"`
	On             *bool   `json:"on"`
	ToAgent        string  `json:"to_agent"`
	ToTeam         string  `json:"to_team"`
	Resolution     string  `json:"resolution"`
}

func (ac *agentConn) handle(data []byte) {
	var f agentInFrame
	if err := json.Unmarshal(data, &f); err != nil {
		ac.sendError(codeBadFrame, "", "", "the frame is not a valid JSON object (%s); send one JSON object per text frame, e.g. {\"type\":\"open\",\"conversation_id\":\"...\"}", jsonProblem(err))
		return
	}
	if len(f.ID) > maxClientIDLen {
		ac.sendError(codeBadFrame, truncate(f.ID, 16), "", "the frame id is longer than %d characters", maxClientIDLen)
		return
	}
	if f.Type == "" {
		ac.sendError(codeBadFrame, f.ID, "", "the frame has no \"type\"")
		return
	}
	if !knownAgentFrames[f.Type] {
		ac.sendError(codeUnknownType, f.ID, "", "unknown frame type %q; see docs/protocol.md, agent console protocol", truncate(f.Type, 40))
		return
	}
	if f.Type != "presence" && (f.ConversationID == "" || len(f.ConversationID) > 128) {
		ac.sendError(codeBadFrame, f.ID, "", "a %s frame needs \"conversation_id\"", f.Type)
		return
	}
	switch f.Type {
	case "message", "note", "accept", "transfer", "close", "return", "suggest":
		// Typing and presence are cheap and frequent; these are what a runaway script would repeat.
		if !ac.bucket.allow(ac.s.now()) {
			ac.sendError(codeRateLimited, f.ID, f.ConversationID, "too many requests in a short time; wait a moment and try again (nothing was done)")
			return
		}
	}
	// The periodic check may be a minute away: an agent just disabled, or whose stolen session
	// was just ended by a password reset, must not act (or read a transcript) until then.
	if !ac.checkSession() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch f.Type {
	case "presence":
		ac.presence(f)
	case "accept":
		ac.accept(ctx, f)
	case "decline":
		ac.result(f, ac.s.handoff.Decline(ac.agent.ID, f.ConversationID))
	case "open":
		ac.open(ctx, f)
	case "message":
		ac.message(ctx, f)
	case "typing":
		ac.typing(f)
	case "note":
		ac.note(ctx, f)
	case "transfer":
		ac.transfer(ctx, f)
	case "return":
		ac.result(f, ac.s.handoff.ReturnToBot(ctx, ac.agent.ID, f.ConversationID))
	case "close":
		if !resolutions[f.Resolution] {
			ac.sendError(codeBadFrame, f.ID, f.ConversationID, "close needs \"resolution\": resolved, no_response, spam or other")
			return
		}
		ac.result(f, ac.s.handoff.Close(ctx, ac.agent.ID, f.ConversationID, f.Resolution))
	case "suggest":
		ac.suggest(f)
	}
}

var knownAgentFrames = map[string]bool{"presence": true, "accept": true, "decline": true, "open": true, "message": true,
	"typing": true, "note": true, "transfer": true, "return": true, "close": true, "suggest": true}

// Agent error codes beyond the visitor protocol's.
const (
	codeNotYours   = "not_yours"
	codeTaken      = "taken"
	codeClosed     = "closed"
	codeNotFound   = "not_found"
	codeAtCapacity = "at_capacity"
)

// errorCode maps a queue error to its frame code; unknown errors are the server's problem.
func errorCode(err error) (code string, known bool) {
	switch {
	case errors.Is(err, handoff.ErrTaken):
		return codeTaken, true
	case errors.Is(err, handoff.ErrNotYours):
		return codeNotYours, true
	case errors.Is(err, handoff.ErrNotFound):
		return codeNotFound, true
	case errors.Is(err, handoff.ErrAtCapacity):
		return codeAtCapacity, true
	case errors.Is(err, handoff.ErrUnknownAgent), errors.Is(err, handoff.ErrNoAgent):
		return codeUnavailable, true
	case errors.Is(err, handoff.ErrInvalid):
		return codeBadFrame, true
	}
	return codeUnavailable, false
}

// result answers a frame with an ack, or with the error of the queue operation it ran.
func (ac *agentConn) result(f agentInFrame, err error) {
	if err == nil {
		ac.ack(f.ID, 0)
		return
	}
	ac.fail(f, err)
}

func (ac *agentConn) fail(f agentInFrame, err error) {
	code, known := errorCode(err)
	if !known {
		ac.s.log.Error("agent action failed", "type", f.Type, "agent", ac.agent.ID, "conversation", f.ConversationID, "error", err)
		ac.sendError(code, f.ID, f.ConversationID, "the server could not do that right now; try again in a few seconds")
		return
	}
	ac.sendError(code, f.ID, f.ConversationID, "%s", err.Error())
}

func (ac *agentConn) presence(f agentInFrame) {
	p := handoff.Presence(f.Presence)
	if p != handoff.Online && p != handoff.Away {
		ac.sendError(codeBadFrame, f.ID, "", "presence must be \"online\" or \"away\"")
		return
	}
	if p == handoff.Online && ac.agent.Capacity == 0 {
		ac.sendError(codeAtCapacity, f.ID, "", "your capacity is 0 conversations, so you cannot go online; ask an administrator to raise it")
		return
	}
	ac.result(f, ac.s.handoff.SetPresence(ac.agent.ID, p))
}

func (ac *agentConn) accept(ctx context.Context, f agentInFrame) {
	if _, err := ac.s.handoff.Accept(ctx, ac.agent.ID, f.ConversationID); err != nil {
		ac.fail(f, err)
		return
	}
	ac.s.watchAll(ac.agent.ID, f.ConversationID)
	ac.ack(f.ID, 0)
}

func (ac *agentConn) transfer(ctx context.Context, f agentInFrame) {
	var err error
	switch {
	case f.ToAgent != "" && f.ToTeam != "":
		ac.sendError(codeBadFrame, f.ID, f.ConversationID, "transfer to an agent (\"to_agent\") or to a team (\"to_team\"), not both")
		return
	case f.ToAgent != "":
		err = ac.s.handoff.Transfer(ctx, ac.agent.ID, f.ConversationID, f.ToAgent)
	case f.ToTeam != "":
		err = ac.s.handoff.TransferToTeam(ctx, ac.agent.ID, f.ConversationID, f.ToTeam)
	default:
		ac.sendError(codeBadFrame, f.ID, f.ConversationID, "transfer needs \"to_agent\" (an agent id) or \"to_team\" (a skill)")
		return
	}
	ac.result(f, err)
}

// agentText validates the text of a message or note.
func (ac *agentConn) agentText(f agentInFrame) (string, bool) {
	switch {
	case f.Text == nil || strings.TrimSpace(*f.Text) == "":
		ac.sendError(codeBadFrame, f.ID, f.ConversationID, "a %s frame needs a non-empty \"text\"", f.Type)
	case !utf8.ValidString(*f.Text):
		ac.sendError(codeBadFrame, f.ID, f.ConversationID, "the text is not valid UTF-8")
	case utf8.RuneCountInString(*f.Text) > maxAgentText:
		ac.sendError(codeTooLong, f.ID, f.ConversationID, "the text is %d characters long; the limit is %d", utf8.RuneCountInString(*f.Text), maxAgentText)
	default:
		return *f.Text, true
	}
	return "", false
}

// message stores an agent's reply and shows it to the visitor. It is refused unless the agent
// owns the conversation; a refused message comes back in the error frame ("text"), so nothing
// the agent typed is lost.
func (ac *agentConn) message(ctx context.Context, f agentInFrame) {
	s := ac.s
	if f.ID == "" {
		ac.sendError(codeBadFrame, "", f.ConversationID, "a message needs an \"id\": a unique string you choose, sent again unchanged when you resend")
		return
	}
	text, ok := ac.agentText(f)
	if !ok {
		return
	}
	if err := s.handoff.Authorize(ac.agent.ID, f.ConversationID); err != nil {
		code, msg := codeNotYours, err.Error()
		if errors.Is(err, handoff.ErrNotFound) {
			code, msg = s.endedConversation(ctx, f.ConversationID)
		}
		ac.sendFrame(agentErrorFrame{Type: "error", Code: code, ID: f.ID, ConversationID: f.ConversationID, Text: text,
			Message: msg + "; your message was not sent (its text is in this error frame)"})
		return
	}
	// The agent's ids live in the conversation's id space beside the visitor's: prefix them.
	clientID := "agent:" + ac.agent.ID + ":" + f.ID
	_, _, err := s.engine.AgentSay(ctx, f.ConversationID, clientID, ac.agent.Name, text, func(saved store.Message, _ bool) {
		ac.ack(f.ID, saved.Seq)
	})
	if err != nil {
		s.log.Error("store agent message", "conversation", f.ConversationID, "agent", ac.agent.ID, "error", err)
		ac.sendFrame(agentErrorFrame{Type: "error", Code: codeUnavailable, ID: f.ID, ConversationID: f.ConversationID, Text: text,
			Message: "the message could not be saved and was not sent; send it again in a few seconds"})
	}
}

// endedConversation explains why a conversation without an open hand-off takes no agent message.
func (s *Server) endedConversation(ctx context.Context, conversationID string) (code, msg string) {
	conv, err := s.agents.Conversation(ctx, conversationID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return codeNotFound, fmt.Sprintf("conversation %s does not exist", conversationID)
	case err != nil:
		return codeUnavailable, "the server cannot check the conversation right now"
	case conv.State == store.StateClosed:
		return codeClosed, fmt.Sprintf("conversation %s is closed", conversationID)
	}
	return codeNotFound, fmt.Sprintf("conversation %s is back with the bot; accept it from the queue first if it is handed over again", conversationID)
}

func (ac *agentConn) typing(f agentInFrame) {
	if f.On == nil {
		ac.sendError(codeBadFrame, f.ID, f.ConversationID, "a typing frame needs \"on\": true or false")
		return
	}
	if err := ac.s.handoff.Authorize(ac.agent.ID, f.ConversationID); err != nil {
		ac.fail(f, err)
		return
	}
	ac.s.hub.Publish(f.ConversationID, bot.Event{Typing: &bot.Typing{From: bot.FromAgent, On: *f.On}})
}

// note stores an internal note. Any agent may annotate a conversation they can see (the
// console offers notes on queued conversations too); notes never reach the visitor.
func (ac *agentConn) note(ctx context.Context, f agentInFrame) {
	s := ac.s
	text, ok := ac.agentText(f)
	if !ok {
		return
	}
	if err := s.agents.AddNote(ctx, f.ConversationID, ac.agent.ID, text); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			ac.sendFrame(agentErrorFrame{Type: "error", Code: codeNotFound, ID: f.ID, ConversationID: f.ConversationID, Text: text,
				Message: fmt.Sprintf("conversation %s does not exist; the note was not saved", f.ConversationID)})
		case errors.Is(err, store.ErrInvalid):
			ac.sendFrame(agentErrorFrame{Type: "error", Code: codeBadFrame, ID: f.ID, ConversationID: f.ConversationID, Text: text, Message: err.Error()})
		default:
			s.log.Error("store note", "conversation", f.ConversationID, "agent", ac.agent.ID, "error", err)
			ac.sendFrame(agentErrorFrame{Type: "error", Code: codeUnavailable, ID: f.ID, ConversationID: f.ConversationID, Text: text,
				Message: "the note could not be saved; try again in a few seconds"})
		}
		return
	}
	ac.ack(f.ID, 0)
	s.watch(ac, f.ConversationID)
	s.toWatchers(f.ConversationID, mustJSON(agentNoteFrame{Type: "note", ConversationID: f.ConversationID,
		Agent: ac.agent.Name, Text: strings.TrimSpace(text), At: s.now().UTC().Format(time.RFC3339)}), 0)
}

// open answers with the whole conversation and makes the socket watch it.
func (ac *agentConn) open(ctx context.Context, f agentInFrame) {
	s := ac.s
	conv, err := s.agents.Conversation(ctx, f.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		ac.sendError(codeNotFound, f.ID, f.ConversationID, "conversation %s does not exist (it may have expired)", f.ConversationID)
		return
	}
	if err != nil {
		ac.fail(f, err)
		return
	}
	// Watch first, holding live messages: one stored while the transcript is read follows the
	// conversation frame unless the transcript has it, so it is neither lost nor shown twice.
	ac.holdMessages(f.ConversationID)
	s.watch(ac, f.ConversationID)
	frame, err := s.conversationFrame(ctx, conv, ac.agent)
	if err != nil {
		ac.releaseMessages(f.ConversationID, nil, 0)
		ac.fail(f, err)
		return
	}
	var lastSeq int64
	if n := len(frame.Messages); n > 0 {
		lastSeq = frame.Messages[n-1].Seq
	}
	ac.releaseMessages(f.ConversationID, mustJSON(frame), lastSeq)
}

func (s *Server) conversationFrame(ctx context.Context, conv store.Conversation, agent store.Agent) (conversationFrame, error) {
	cfg := s.engine.Understanding().Config
	after := max(0, conv.LastSeq-transcriptLimit)
	msgs, err := s.store.MessagesAfter(ctx, conv.ID, after, 0)
	if err != nil {
		return conversationFrame{}, fmt.Errorf("transcript of %s: %w", conv.ID, err)
	}
	decisions, err := s.agents.Decisions(ctx, conv.ID)
	if err != nil {
		return conversationFrame{}, fmt.Errorf("decisions of %s: %w", conv.ID, err)
	}
	notes, err := s.agents.Notes(ctx, conv.ID)
	if err != nil {
		return conversationFrame{}, fmt.Errorf("notes of %s: %w", conv.ID, err)
	}
	state, owner := s.handoff.Owner(conv.ID)
	if state == handoff.StateBot {
		state = conv.State // the store knows a closed conversation; the queue forgets it
	}
	f := conversationFrame{Type: "conversation", ConversationID: conv.ID, State: state, Owner: owner,
		Messages: make([]consoleMessage, 0, len(msgs)), Notes: make([]noteJSON, 0, len(notes)), Earlier: []earlierJSON{},
		Canned: make([]cannedJSON, 0, len(cfg.Handoff.Canned))}
	for i := range msgs {
		f.Messages = append(f.Messages, s.consoleMessageOf(&msgs[i]))
	}
	for _, n := range notes {
		f.Notes = append(f.Notes, noteJSON{Agent: n.AgentName, Text: n.Text, At: n.At.UTC().Format(time.RFC3339)})
	}
	for _, c := range cfg.Handoff.Canned {
		f.Canned = append(f.Canned, cannedJSON{Title: c.Title, Text: c.Text})
	}
	if t, ok := s.handoff.Ticket(conv.ID); ok {
		f.Handoff = &handoffCard{Reason: t.Reason, Evidence: t.Evidence, Intent: t.Intent, Tags: nonNil(t.Tags), Email: t.Email,
			Tried: triedOf(decisions), ToneTrajectory: trajectoryOf(decisions)}
	}
	if e, ok := s.agents.(EarlierConversations); ok {
		others, err := e.VisitorConversations(ctx, conv.VisitorID)
		if err != nil {
			s.log.Warn("earlier conversations", "conversation", conv.ID, "error", err)
		}
		for _, o := range others {
			// Only those started before this one: opening an earlier chat does not list the later.
			if o.ID != conv.ID && !o.CreatedAt.After(conv.CreatedAt) {
				f.Earlier = append(f.Earlier, earlierJSON{ConversationID: o.ID, StartedAt: o.CreatedAt.UTC().Format(time.RFC3339), Messages: o.LastSeq})
			}
		}
	}
	f.Suggestions = suggestionsOf(handoff.Suggest(s.assistInput(f.Messages, f.Handoff, agent), 3))
	return f, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// consoleMessageOf is a stored message as the console shows it, with the tone of a visitor's.
func (s *Server) consoleMessageOf(m *store.Message) consoleMessage {
	cm := consoleMessage{Seq: m.Seq, From: m.From, Text: m.Text, At: m.At.UTC().Format(time.RFC3339)}
	if m.From == store.FromVisitor {
		r := s.engine.Tone(m.Text)
		t := &toneJSON{Dominant: r.Dominant, Intensity: r.Intensity, Evidence: make([]cueJSON, 0, len(r.Evidence))}
		for _, c := range r.Evidence {
			t.Evidence = append(t.Evidence, cueJSON{Tone: c.Tone, Phrase: c.Phrase, Weight: c.Weight})
		}
		cm.Tone = t
	}
	return cm
}

// decisionDetails is the part of a bot turn's stored details the console shows.
type decisionDetails struct {
	Trajectory json.RawMessage `json:"trajectory"`
}

// triedOf summarises what the bot did on each turn: intent, rule and where the reply came from.
func triedOf(ds []store.Decision) []string {
	out := []string{}
	for _, d := range ds {
		if d.Rule == "greeting" {
			continue
		}
		intent := d.Intent
		if intent == "" {
			intent = "(out of scope)"
		}
		out = append(out, fmt.Sprintf("%s → %s (%s)", intent, d.Rule, d.Source))
	}
	return out
}

// trajectoryOf is the latest tone trajectory the bot recorded, as stored (null when none).
func trajectoryOf(ds []store.Decision) json.RawMessage {
	for i := len(ds) - 1; i >= 0; i-- {
		var det decisionDetails
		if len(ds[i].Details) > 0 && json.Unmarshal(ds[i].Details, &det) == nil && len(det.Trajectory) > 0 && string(det.Trajectory) != "null" {
			return det.Trajectory
		}
	}
	return json.RawMessage("null")
}

// assistInput gathers what suggestions need from a transcript.
func (s *Server) assistInput(msgs []consoleMessage, card *handoffCard, agent store.Agent) handoff.AssistInput {
	in := handoff.AssistInput{FirstReply: true, Agent: agent.Name, Canned: s.engine.Understanding().Config.Handoff.Canned}
	if card != nil {
		in.Reason = card.Reason
	}
	for _, m := range msgs {
		if m.From == store.FromAgent {
			in.FirstReply = false
		}
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].From == store.FromVisitor {
			in.LastVisitor = msgs[i].Text
			in.Tone = s.engine.Tone(msgs[i].Text)
			break
		}
	}
	return in
}

func suggestionsOf(ss []handoff.Suggestion) []suggestionJSON {
	out := make([]suggestionJSON, 0, len(ss))
	for _, x := range ss {
		out = append(out, suggestionJSON{Text: x.Text, Label: x.Label, Title: x.Title, Source: x.Source})
	}
	return out
}

// suggest answers with reply suggestions for the conversation the agent owns: templates at once,
// or, with an LLM configured, the model's replies (checked like bot answers) ahead of them. The
// model may take seconds, so it runs off the reader goroutine.
// suggestWindow is how many of the latest messages reply suggestions read.
const suggestWindow = 40

func (ac *agentConn) suggest(f agentInFrame) {
	s := ac.s
	if err := s.handoff.Authorize(ac.agent.ID, f.ConversationID); err != nil {
		ac.fail(f, err)
		return
	}
	go func() {
		timeout := 10 * time.Second
		if llmTimeout := time.Duration(s.engine.Understanding().Config.LLM.TimeoutSeconds * float64(time.Second)); llmTimeout > 0 {
			timeout = llmTimeout + 5*time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		conv, err := s.agents.Conversation(ctx, f.ConversationID)
		if err != nil {
			ac.fail(f, err)
			return
		}
		// The whole transcript: the summary must say what the visitor first came for (the
		// summarizer keeps the opening and the latest messages of a long chat), while the
		// suggested replies only need the latest suggestWindow messages.
		msgs, err := s.store.MessagesAfter(ctx, conv.ID, 0, 0)
		if err != nil {
			ac.fail(f, fmt.Errorf("transcript of %s: %w", conv.ID, err))
			return
		}
		all := make([]llm.Turn, len(msgs))
		for i := range msgs {
			all[i] = llm.Turn{From: msgs[i].From, Text: msgs[i].Text}
		}
		msgs = msgs[max(0, len(msgs)-suggestWindow):]
		turns := all[len(all)-len(msgs):]
		cms := make([]consoleMessage, len(msgs))
		for i := range msgs {
			cms[i] = consoleMessage{From: msgs[i].From, Text: msgs[i].Text}
		}
		var card *handoffCard
		if t, ok := s.handoff.Ticket(conv.ID); ok {
			card = &handoffCard{Reason: t.Reason}
		}
		in := s.assistInput(cms, card, ac.agent)
		out := suggestionsOf(handoff.Suggest(in, 3))
		mood := llm.Tone{Dominant: in.Tone.Dominant, Intensity: in.Tone.Intensity}
		// Summarize returns the template summary beside its error, so there is always one to show.
		sum, err := s.engine.Assistant().Summarize(ctx, all, mood)
		if err != nil {
			s.log.Warn("llm hand-off summary unavailable; template used", "conversation", conv.ID, "reason", llm.Reason(err))
		}
		summary := &summaryJSON{Wants: sum.Wants, Tried: sum.Tried, Feels: sum.Feels, Source: sum.Source, Label: sum.Label}
		if a := s.engine.Assistant(); a != nil {
			ls, err := a.SuggestReplies(ctx, turns, llm.Tone{Dominant: in.Tone.Dominant, Intensity: in.Tone.Intensity}, 3)
			if err != nil {
				s.log.Warn("llm reply suggestions unavailable; templates only", "conversation", conv.ID, "reason", llm.Reason(err))
			}
			var fromLLM []suggestionJSON
			for _, x := range ls {
				if x.Source == llm.SourceLLM && !slices.ContainsFunc(out, func(y suggestionJSON) bool { return y.Text == x.Text }) {
					fromLLM = append(fromLLM, suggestionJSON{Text: x.Text, Label: x.Label, Source: x.Source})
				}
			}
			out = append(fromLLM, out...)
		}
		ac.sendFrame(suggestionsFrame{Type: "suggestions", ConversationID: conv.ID, Suggestions: out, Summary: summary})
		ac.ack(f.ID, 0)
	}()
}

// queueFrame is the queue as consoles see it now.
func (s *Server) queueFrame() queueFrame { return queueFrameOf(s.handoff.View(), s.handoff.Agents()) }

func queueFrameOf(v handoff.View, agents []handoff.AgentStatus) queueFrame {
	f := queueFrame{Type: "queue", Waiting: make([]waitingJSON, 0, len(v.Waiting)), Assigned: []assignedJSON{},
		Agents: make([]agentStatusJSON, 0, len(agents)), AgentsOnline: v.AgentsOnline, Open: v.Open}
	for _, w := range v.Waiting {
		wj := waitingJSON{ConversationID: w.ConversationID, Position: w.Position, Priority: w.Priority, Reason: w.Reason,
			Evidence: w.Evidence, Intent: w.Intent, Tags: nonNil(w.Tags), Tone: toneBadgeOf(w.Mood),
			WaitingSeconds: int(w.Waited / time.Second), OfferedTo: w.OfferedTo, Email: w.Email, Offline: w.Offline}
		if w.ETA != nil {
			secs := int(w.ETA.Round(time.Second) / time.Second)
			wj.ETASeconds = &secs
		}
		f.Waiting = append(f.Waiting, wj)
	}
	for _, a := range agents {
		f.Agents = append(f.Agents, agentStatusJSON{ID: a.ID, Name: a.Name, Presence: string(a.Presence), Active: len(a.Active),
			Capacity: a.Capacity, Skills: nonNil(a.Skills)})
		for _, conv := range a.Active {
			f.Assigned = append(f.Assigned, assignedJSON{ConversationID: conv, AgentID: a.ID, AgentName: a.Name})
		}
	}
	return f
}

// toneBadgeOf is the tone badge of a queued conversation: its dominant tone and how strong it is.
func toneBadgeOf(m handoff.Mood) toneBadge {
	intensity := max(m.Frustration, m.Anxiety, m.Urgency)
	switch m.Dominant {
	case "frustration":
		intensity = m.Frustration
	case "anxiety":
		intensity = m.Anxiety
	case "urgency":
		intensity = m.Urgency
	}
	d := m.Dominant
	if d == "" {
		d = tone.Neutral
	}
	return toneBadge{Dominant: d, Intensity: intensity}
}

// Frames of the agent console protocol (docs/protocol.md, "Agent console protocol").

type agentWelcomeFrame struct {
	Type     string    `json:"type"`
	Agent    agentJSON `json:"agent"`
	Presence string    `json:"presence"`
}

type queueFrame struct {
	Type     string            `json:"type"`
	Waiting  []waitingJSON     `json:"waiting"`
	Assigned []assignedJSON    `json:"assigned"`
	Agents   []agentStatusJSON `json:"agents"`
	// AgentsOnline and Open (business hours) are additions to the contract.
	AgentsOnline int  `json:"agents_online"`
	Open         bool `json:"open"`
}

type waitingJSON struct {
	ConversationID string    `json:"conversation_id"`
	Position       int       `json:"position"`
	Priority       float64   `json:"priority"`
	Reason         string    `json:"reason"`
	Evidence       string    `json:"evidence"`
	Intent         string    `json:"intent"`
	Tags           []string  `json:"tags"`
	Tone           toneBadge `json:"tone"`
	WaitingSeconds int       `json:"waiting_seconds"`
	OfferedTo      string    `json:"offered_to"`
	Email          string    `json:"email"`
	ETASeconds     *int      `json:"eta_seconds"`
	Offline        bool      `json:"offline"`
}

type toneBadge struct {
	Dominant  string  `json:"dominant"`
	Intensity float64 `json:"intensity"`
}

type assignedJSON struct {
	ConversationID string `json:"conversation_id"`
	AgentID        string `json:"agent_id"`
	AgentName      string `json:"agent_name"`
}

type agentStatusJSON struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Presence string   `json:"presence"`
	Active   int      `json:"active"`
	Capacity int      `json:"capacity"`
	Skills   []string `json:"skills"`
}

type offerFrame struct {
	Type             string    `json:"type"`
	ConversationID   string    `json:"conversation_id"`
	Reason           string    `json:"reason"`
	Evidence         string    `json:"evidence"`
	Intent           string    `json:"intent"`
	Tone             toneBadge `json:"tone"`
	ExpiresInSeconds int       `json:"expires_in_seconds"`
}

type alertFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	WaitingSeconds int    `json:"waiting_seconds"`
	Message        string `json:"message"`
}

type conversationFrame struct {
	Type           string           `json:"type"`
	ConversationID string           `json:"conversation_id"`
	State          string           `json:"state"`
	Owner          string           `json:"owner"`
	Messages       []consoleMessage `json:"messages"`
	Handoff        *handoffCard     `json:"handoff"`
	Notes          []noteJSON       `json:"notes"`
	Earlier        []earlierJSON    `json:"earlier"`
	Suggestions    []suggestionJSON `json:"suggestions"`
	Canned         []cannedJSON     `json:"canned"`
}

type consoleMessage struct {
	Seq  int64     `json:"seq"`
	From string    `json:"from"`
	Text string    `json:"text"`
	At   string    `json:"at"`
	Tone *toneJSON `json:"tone"`
	// Name is the agent's display name on a live agent message.
	Name string `json:"name,omitempty"`
}

type toneJSON struct {
	Dominant  string    `json:"dominant"`
	Intensity float64   `json:"intensity"`
	Evidence  []cueJSON `json:"evidence"`
}

type cueJSON struct {
	Tone   string  `json:"tone"`
	Phrase string  `json:"phrase"`
	Weight float64 `json:"weight"`
}

type handoffCard struct {
	Reason         string          `json:"reason"`
	Evidence       string          `json:"evidence"`
	Intent         string          `json:"intent"`
	Tags           []string        `json:"tags"`
	ToneTrajectory json.RawMessage `json:"tone_trajectory"`
	Tried          []string        `json:"tried"`
	Email          string          `json:"email,omitempty"`
}

type noteJSON struct {
	Agent string `json:"agent"`
	Text  string `json:"text"`
	At    string `json:"at"`
}

type earlierJSON struct {
	ConversationID string `json:"conversation_id"`
	StartedAt      string `json:"started_at"`
	Messages       int64  `json:"messages"`
}

type suggestionJSON struct {
	Text   string `json:"text"`
	Label  string `json:"label"`
	Title  string `json:"title,omitempty"`
	Source string `json:"source,omitempty"`
}

type cannedJSON struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type agentMessageFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	consoleMessage
}

type agentTypingFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	From           string `json:"from"`
	On             bool   `json:"on"`
}

type agentNoteFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Agent          string `json:"agent"`
	Text           string `json:"text"`
	At             string `json:"at"`
}

type assignedFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	AgentID        string `json:"agent_id"`
	AgentName      string `json:"agent_name"`
}

type returnedFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Why            string `json:"why"`
	// State (queued or bot) is an addition: where the conversation went.
	State string `json:"state"`
}

type closedFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Resolution     string `json:"resolution"`
}

type suggestionsFrame struct {
	Type           string           `json:"type"`
	ConversationID string           `json:"conversation_id"`
	Suggestions    []suggestionJSON `json:"suggestions"`
	// Summary is the hand-off summary (what the visitor wants, what was tried, how they feel),
	// generated on the same request; Source says whether an LLM or the templates wrote it.
	Summary *summaryJSON `json:"summary,omitempty"`
}

type summaryJSON struct {
	Wants  string `json:"wants"`
	Tried  string `json:"tried"`
	Feels  string `json:"feels"`
	Source string `json:"source"`
	Label  string `json:"label"`
}

type agentAckFrame struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Seq  int64  `json:"seq,omitempty"`
}

type agentErrorFrame struct {
	Type           string `json:"type"`
	Code           string `json:"code"`
	Message        string `json:"message"`
	ID             string `json:"id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Text gives back the text of a message or note that was not stored, so nothing is lost.
	Text string `json:"text,omitempty"`
}
