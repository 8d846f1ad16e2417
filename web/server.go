// Package web is Attune's HTTP and websocket transport: the visitor socket protocol, the widget,
// the demo page and the health endpoints, on echo and gorilla/websocket. Domain decisions happen in
// bot; this package only moves frames and renders pages.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/store"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
)

// Store is what the transport reads directly: conversations by token and their history.
type Store interface {
	CreateConversation(ctx context.Context, tokenHash []byte) (store.Conversation, error)
	CreateConversationFor(ctx context.Context, tokenHash []byte, visitorID string) (store.Conversation, error)
	ConversationByToken(ctx context.Context, tokenHash []byte) (store.Conversation, error)
	MessagesAfter(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]store.Message, error)
	// MessageByClientID finds a stored visitor message by its client id (store.ErrNotFound when
	// there is none): a resend over the rate limit is acknowledged, not refused.
	MessageByClientID(ctx context.Context, conversationID, clientID string) (store.Message, error)
	Ping(ctx context.Context) error
}

// Options configure a Server. Engine, Store and Hub are required; zero durations take the
// defaults of gorilla's chat example (pings every 54 s, a dead peer dropped after 60 s).
type Options struct {
	Engine *bot.Engine
	Store  Store
	Hub    *Hub
	Logger *slog.Logger
	Now    func() time.Time

	PingPeriod time.Duration
	PongWait   time.Duration
	WriteWait  time.Duration
	// ReadLimit is the hard size limit of one incoming frame in bytes; larger frames close the
	// socket (1009) without being buffered. Zero derives it from widget.max_message_chars (the
	// soft limit, answered with a too_long error frame) so that any allowed message fits.
	ReadLimit int64
	// SendQueue is how many outgoing frames may wait for a slow socket before it is disconnected.
	SendQueue int
	// RateBurst messages may be sent at once, then RatePerSecond on average.
	RateBurst     int
	RatePerSecond float64

	// Handoff is the queue that brings in people. With Agents it enables the agent console
	// (/console, /console/api/*, /ws/agent); without them those routes do not exist.
	Handoff *handoff.Queue
	// Agents holds agent accounts, console sessions and notes (*store.DB implements it).
	Agents AgentStore
	// Relay is the queue's Notifier, built before the queue; New binds it to this server. Nil
	// when the caller does not need queue events pushed (then positions are not updated live).
	Relay *Relay
	// SessionTTL is how long a console login lasts (DefaultSessionTTL when 0).
	SessionTTL time.Duration
	// SessionCheck is how often an open agent socket re-checks its session, so that an expired
	// or revoked session (password reset, agent disabled) ends the socket too (a minute when 0).
	SessionCheck time.Duration
	// TrustedProxies are the reverse proxies in front of Attune whose X-Forwarded-For is believed
	// when counting failed console logins per client address, and whose X-Forwarded-Host names
	// this server's public host for the Origin checks of both sockets and the console login.
	// Empty: the peer address counts, so behind a proxy every client shares one limit, and only
	// the request's Host is this server.
	TrustedProxies []netip.Prefix
}

// Server serves the widget, the demo page and the visitor websocket.
type Server struct {
	opt      Options
	engine   *bot.Engine
	store    Store
	hub      *Hub
	log      *slog.Logger
	now      func() time.Time
	echo     *echo.Echo
	upgrader websocket.Upgrader
	assets   *assetSet

	http         *http.Server
	shuttingDown atomic.Bool

	// conns holds every upgraded socket, said hello or not, so that shutdown reaches them all.
	connsMu  sync.Mutex
	conns    map[*client]struct{}
	connsEnd sync.WaitGroup

	// Agent console (nil handoff/agents: disabled).
	handoff     *handoff.Queue
	agents      AgentStore
	relay       *Relay
	consolePage *template.Template
	limiter     *loginLimiter
	// trustedProxies: see Options.TrustedProxies.
	trustedProxies []netip.Prefix
	// dummy is the decoy hash unknown logins are compared with (see decoyHash).
	dummy    []byte
	consoles consoleRegistry
}

// track registers (or forgets) an upgraded socket.
func (s *Server) track(c *client, open bool) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if open {
		s.conns[c] = struct{}{}
		s.connsEnd.Add(1)
		return
	}
	delete(s.conns, c)
	s.connsEnd.Done()
}

// New builds a server; call Serve to run it.
func New(opt Options) (*Server, error) {
	if opt.Engine == nil || opt.Store == nil || opt.Hub == nil {
		return nil, errors.New("web.New: Engine, Store and Hub are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PongWait == 0 {
		opt.PongWait = 60 * time.Second
	}
	if opt.PingPeriod == 0 {
		opt.PingPeriod = opt.PongWait * 9 / 10
	}
	if opt.WriteWait == 0 {
		opt.WriteWait = 10 * time.Second
	}
	if opt.SendQueue == 0 {
		opt.SendQueue = 64
	}
	if opt.RateBurst == 0 {
		opt.RateBurst = 10
	}
	if opt.RatePerSecond == 0 {
		opt.RatePerSecond = 2
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	if opt.SessionTTL == 0 {
		opt.SessionTTL = DefaultSessionTTL
	}
	if opt.SessionCheck == 0 {
		opt.SessionCheck = time.Minute
	}
	s := &Server{opt: opt, engine: opt.Engine, store: opt.Store, hub: opt.Hub, log: opt.Logger, now: opt.Now, assets: assets, conns: map[*client]struct{}{},
		handoff: opt.Handoff, agents: opt.Agents, relay: opt.Relay, limiter: newLoginLimiter(), trustedProxies: opt.TrustedProxies}
	if s.consoleEnabled() {
		if s.dummy, err = decoyHash(); err != nil {
			return nil, err
		}
		if s.consolePage, err = parseConsolePage(assets); err != nil {
			return nil, err
		}
		s.consoles.init()
		s.hub.Watch(s.watchForConsoles)
	}
	// Idle sockets are the common case (a widget open in a background tab): sharing write buffers
	// through a pool means an idle socket holds none.
	s.upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}, CheckOrigin: s.checkOrigin}
	s.echo = s.routes()
	if s.relay != nil {
		s.relay.bind(s)
	}
	// Made here, not in Serve: Shutdown may run before Serve has started (a signal right after
	// the start), and must then find the server to stop; Serve after Shutdown returns at once.
	s.http = &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	return s, nil
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpError
	e.Use(s.securityHeaders)
	// Pages and probes answer HEAD too: uptime checkers and proxies often use it.
	page := func(path string, h echo.HandlerFunc) { e.Match([]string{http.MethodGet, http.MethodHead}, path, h) }
	page("/", s.handleDemo)
	page("/widget.js", s.handleWidgetJS)
	page("/widget/frame", s.handleFrame)
	page("/assets/:version/:name", s.handleAsset)
	e.GET("/ws/visitor", s.handleVisitorSocket)
	page("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	page("/readyz", s.handleReady)
	if s.consoleEnabled() {
		s.consoleRoutes(e)
	}
	return e
}

// Handler exposes the routes, for tests and for embedding in another server.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections, tells every socket to reconnect (close code 1001,
// "going away"), lets queued frames flush, and waits for open requests, until ctx's deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	var err error
	err = s.http.Shutdown(ctx) // does not wait for hijacked (websocket) connections
	s.connsMu.Lock()
	for c := range s.conns {
		c.close(websocket.CloseGoingAway, "server restarting; reconnect to resume")
	}
	s.connsMu.Unlock()
	s.closeAgentSockets(websocket.CloseGoingAway, "server restarting; reconnect to resume")
	done := make(chan struct{})
	go func() { s.connsEnd.Wait(); s.consoles.ended.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("close sockets: %w", ctx.Err()))
	}
	return err
}

func (s *Server) handleReady(c echo.Context) error {
	if s.shuttingDown.Load() {
		return c.String(http.StatusServiceUnavailable, "shutting down\n")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", "error", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// checkOrigin accepts sockets from our own pages (the widget frame is served from this origin)
// and from the configured allowed origins; with none configured, from anywhere.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser
	}
	if _, err := url.Parse(origin); err != nil {
		return false
	}
	if _, same := s.sameOrigin(r); same {
		return true // our frame, also behind a trusted proxy that rewrites Host
	}
	allowed := s.engine.Understanding().Config.Widget.AllowedOrigins
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	s.log.Info("visitor socket refused: origin not allowed", "origin", origin)
	return false
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		return next(c)
	}
}

// httpError renders errors as short text; internal details go to the log, never to the client.
func (s *Server) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	} else {
		s.log.Error("http handler failed", "path", c.Path(), "error", err)
	}
	_ = c.String(code, msg+"\n")
}
