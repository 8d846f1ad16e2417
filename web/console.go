package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/attune-chat/attune/store"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"
)

// AgentStore is what the agent console reads and writes: agent accounts and their sessions,
// and the parts of a conversation an agent sees (decision records, internal notes). *store.DB
// implements it.
type AgentStore interface {
	AgentByLogin(ctx context.Context, login string) (store.Agent, []byte, error)
	CreateSession(ctx context.Context, tokenHash []byte, agentID string, expires time.Time) error
	SessionAgent(ctx context.Context, tokenHash []byte) (store.Agent, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	Decisions(ctx context.Context, conversationID string) ([]store.Decision, error)
	AddNote(ctx context.Context, conversationID, agentID, text string) error
	Notes(ctx context.Context, conversationID string) ([]store.Note, error)
}

// EarlierConversations is an optional extension of AgentStore: a store that can list a visitor's
// other conversations fills the console's "earlier conversations" panel; without it the panel
// stays empty.
type EarlierConversations interface {
	VisitorConversations(ctx context.Context, visitorID string) ([]store.Conversation, error)
}

// Console session and login-throttling parameters.
const (
	// sessionCookie names the session cookie over plain http, hostSessionCookie over TLS. The
	// __Host- prefix makes browsers accept that cookie only from this very host, Secure, with
	// Path=/ and no Domain, so a page on a sibling subdomain (which may set cookies for the
	// whole parent domain) cannot plant one of the same name that would be sent first.
	sessionCookie     = "attune_session"
	hostSessionCookie = "__Host-attune_session"
	// DefaultSessionTTL is how long a console login lasts: a working day and a bit, so an agent
	// logs in once per shift.
	DefaultSessionTTL = 12 * time.Hour
	// loginFailures failed logins per login name or per client address within loginWindow make
	// further attempts wait: enough for typos, far too few for guessing.
	loginFailures = 5
	loginWindow   = 15 * time.Minute
	// maxLoginBody bounds the login request: a login and a password fit in far less.
	maxLoginBody = 4 << 10
)

// agentJSON is an agent as the console sees it (never the password hash, never internal flags).
type agentJSON struct {
	ID       string   `json:"id"`
	Login    string   `json:"login"`
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Skills   []string `json:"skills"`
	Capacity int      `json:"capacity"`
}

func agentOf(a store.Agent) agentJSON {
	skills := a.Skills
	if skills == nil {
		skills = []string{}
	}
	return agentJSON{ID: a.ID, Login: a.Login, Name: a.Name, Role: a.Role, Skills: skills, Capacity: a.Capacity}
}

type meResponse struct {
	Agent agentJSON `json:"agent"`
	CSRF  string    `json:"csrf"`
}

type errorResponse struct {
	Error string `json:"error"`
}

// consoleData feeds assets/console.html.
type consoleData struct {
	BusinessName string
	AssetBase    string
}

// placeholderConsole is shown while assets/console.html is missing from the build, so /console
// still says what it is instead of failing.
var placeholderConsole = template.Must(template.New("console").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agent console · {{.BusinessName}}</title></head>
<body><h1>{{.BusinessName}} · Agent console</h1><p>The console page is not part of this build.</p></body></html>`))

// parseConsolePage parses assets/console.html; nil when the build has none yet.
func parseConsolePage(a *assetSet) (*template.Template, error) {
	b, ok := a.files["console.html"]
	if !ok {
		return nil, nil
	}
	t, err := template.New("console").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("parse console.html: %w", err)
	}
	return t, nil
}

// session is one console login, looked up from its cookie.
type session struct {
	agent store.Agent
	hash  []byte
	csrf  string
}

// csrfOf derives the CSRF token of a session from its secret cookie token. Only someone who can
// read the cookie (or the /console/api/me answer, same origin only) can know it, and it needs no
// storage: it survives a restart together with the session.
func csrfOf(token string) string {
	h := sha256.Sum256([]byte("attune-csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// sessionCookieName is the name of the session cookie for a request: over TLS the __Host- one,
// the only name a sibling subdomain cannot set. A cookie of the plain name over TLS is either left
// from before the prefix was used or planted, and is never taken for a session (an agent logs in
// once more; logging in ends its session and clears it).
func sessionCookieName(r *http.Request) string {
	if secureRequest(r) {
		return hostSessionCookie
	}
	return sessionCookie
}

// consoleSession returns the session of the request's cookie; ok is false when there is none
// or it is unknown, expired or belongs to a disabled agent.
func (s *Server) consoleSession(r *http.Request) (session, bool, error) {
	ck, err := r.Cookie(sessionCookieName(r))
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return session{}, false, nil
	}
	hash := hashToken(ck.Value)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	a, err := s.agents.SessionAgent(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, fmt.Errorf("look up console session: %w", err)
	}
	return session{agent: a, hash: hash, csrf: csrfOf(ck.Value)}, true, nil
}

func jsonError(c echo.Context, code int, msg string) error {
	return c.JSON(code, errorResponse{Error: msg})
}

// secureRequest reports whether the browser reached us over TLS (directly or through a proxy
// that says so), in which case the session cookie must be Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sameOrigin reports whether the request's Origin header names this server (over TLS, with the
// https scheme). An absent header is reported separately: browsers always send it on POST and
// websocket requests. This server's host is the request's Host or, from a trusted reverse proxy,
// the X-Forwarded-Host it reports: nginx and Apache pass requests on with their upstream's Host
// by default, and the browser's Origin names the public one. (A page on another site cannot add
// that header to a socket or a simple POST, so it cannot pass for us through it either.)
func (s *Server) sameOrigin(r *http.Request) (present, same bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false, false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true, false
	}
	// Over TLS, this host's plain-http side is another origin: a network attacker can write
	// pages there, and the session cookie would ride along with their requests.
	if secureRequest(r) && !strings.EqualFold(u.Scheme, "https") {
		return true, false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true, true
	}
	if fwd := r.Header.Values("X-Forwarded-Host"); len(fwd) > 0 && peerTrusted(r, s.trustedProxies) {
		for _, h := range strings.Split(strings.Join(fwd, ","), ",") {
			if strings.EqualFold(strings.TrimSpace(h), u.Host) {
				return true, true
			}
		}
	}
	return true, false
}

// logOriginRefused tells the operator why a browser request was refused as foreign: most often
// the server sits behind a reverse proxy that passes requests on with its upstream's Host, and
// the origin, the host it was compared with and the fix are what it takes to see that.
func (s *Server) logOriginRefused(msg string, r *http.Request, attrs ...any) {
	attrs = append(attrs, "origin", r.Header.Get("Origin"), "host", r.Host,
		"hint", "behind a reverse proxy, pass the public Host on or list the proxy in --trusted-proxies with X-Forwarded-Host set")
	s.log.Warn(msg, attrs...)
}

// peerTrusted reports whether the request's TCP peer is one of the trusted reverse proxies.
func peerTrusted(r *http.Request, trusted []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return err == nil && isTrusted(peer.Unmap(), trusted)
}

// consoleRoutes adds the console page and its API.
func (s *Server) consoleRoutes(e *echo.Echo) {
	e.Match([]string{http.MethodGet, http.MethodHead}, "/console", s.handleConsole)
	e.GET("/console/api/me", s.handleMe)
	e.POST("/console/api/login", s.handleLogin)
	e.POST("/console/api/logout", s.requireCSRF(s.handleLogout))
	e.GET("/ws/agent", s.handleAgentSocket)
}

func (s *Server) handleConsole(c echo.Context) error {
	cfg := s.engine.Understanding().Config
	d := consoleData{BusinessName: cfg.Business.Name, AssetBase: "/assets/" + s.assets.version}
	t := s.consolePage
	if t == nil {
		t = placeholderConsole
	}
	// The console is never embedded anywhere (clickjacking an agent is worth a lot), and its
	// scripts, styles and sockets come from this origin only.
	csp := "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self' data:; frame-ancestors 'none'"
	c.Response().Header().Set("X-Frame-Options", "DENY")
	return s.render(c, t, d, csp)
}

func (s *Server) handleMe(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	sess, ok, err := s.consoleSession(c.Request())
	if err != nil {
		s.log.Error("console session", "error", err)
		return jsonError(c, http.StatusServiceUnavailable, "the server cannot check your session right now; try again in a few seconds")
	}
	if !ok {
		return jsonError(c, http.StatusUnauthorized, "not logged in")
	}
	return c.JSON(http.StatusOK, meResponse{Agent: agentOf(sess.agent), CSRF: sess.csrf})
}

// requireCSRF guards a state-changing console endpoint: a valid session (401 otherwise) and the
// session's CSRF token in X-CSRF-Token (403 otherwise).
func (s *Server) requireCSRF(next func(echo.Context, session) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		sess, ok, err := s.consoleSession(c.Request())
		if err != nil {
			s.log.Error("console session", "error", err)
			return jsonError(c, http.StatusServiceUnavailable, "the server cannot check your session right now; try again in a few seconds")
		}
		if !ok {
			return jsonError(c, http.StatusUnauthorized, "not logged in")
		}
		got := c.Request().Header.Get("X-CSRF-Token")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			return jsonError(c, http.StatusForbidden, "missing or wrong X-CSRF-Token header; reload the console")
		}
		return next(c, sess)
	}
}

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

// clientAddr is the address login attempts are counted against: the peer's IP, or, when the peer
// is one of the trusted reverse proxies, the address it says it forwarded for. X-Forwarded-For is
// read from the right, skipping trusted hops, because only the hops we trust appended honestly;
// anything further left may have been sent by the client to escape the limit.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer.Unmap(), trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer.Unmap()
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: believe nothing beyond the last good one
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			break
		}
	}
	return client.String()
}

// addrLimitKey is what failed logins are counted against for a client address: the address
// itself for IPv4, its /64 for IPv6, because one IPv6 client (a home line, a cloud VM) holds a
// whole /64 and could otherwise take a fresh address for every guess.
func addrLimitKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) handleLogin(c echo.Context) error {
	r := c.Request()
	c.Response().Header().Set("Cache-Control", "no-store")
	// Login CSRF: a foreign page must not log a browser into the attacker's account.
	if present, same := s.sameOrigin(r); present && !same {
		s.logOriginRefused("console login refused: foreign origin", r)
		return jsonError(c, http.StatusForbidden, "log in from this server's own console page")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLoginBody+1))
	if err != nil {
		return jsonError(c, http.StatusBadRequest, "could not read the request")
	}
	var req loginRequest
	if len(body) > maxLoginBody || json.Unmarshal(body, &req) != nil {
		return jsonError(c, http.StatusBadRequest, `send a JSON object {"login":"...","password":"..."}`)
	}
	login := store.NormalizeLogin(req.Login)
	addr := clientAddr(r, s.trustedProxies)
	now := s.now()
	loginKey, addrKey := "login:"+login, "ip:"+addrLimitKey(addr)
	// The attempt counts as a failure from now on, before its bcrypt comparison: guesses sent
	// all at once would otherwise all pass the check while the first ones are still comparing.
	if wait := s.limiter.begin(now, loginKey, addrKey); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", fmt.Sprint(secs))
		return jsonError(c, http.StatusTooManyRequests, fmt.Sprintf("too many attempts; wait %d seconds", secs))
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	a, hash, err := s.agents.AgentByLogin(ctx, login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.limiter.undo(now, loginKey, addrKey) // the server's trouble, not a wrong guess
		s.log.Error("console login: look up agent", "error", err)
		return jsonError(c, http.StatusServiceUnavailable, "the server cannot check logins right now; try again in a few seconds")
	}
	if err != nil || login == "" || req.Password == "" {
		// Unknown logins cost a bcrypt comparison too, so timing does not tell which logins exist.
		hash = s.dummy
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil || err != nil || login == "" {
		s.log.Info("console login failed", "addr", addr)
		return jsonError(c, http.StatusUnauthorized, "wrong login or password")
	}
	// The password was right: this attempt was no failure.
	s.limiter.undo(now, loginKey, addrKey)
	if a.Disabled {
		return jsonError(c, http.StatusUnauthorized, "this account is disabled; ask an administrator")
	}
	s.limiter.reset(loginKey)
	token, err := newToken()
	if err != nil {
		return err
	}
	// Rotate: the sessions of the cookies this browser already had end now, so that an old
	// token (copied by someone, or planted before this login) does not stay valid beside the new.
	if err := s.endRequestSessions(ctx, r); err != nil {
		s.log.Error("console login: end the previous session", "agent", a.ID, "error", err)
		return jsonError(c, http.StatusServiceUnavailable, "the server cannot start a session right now; try again in a few seconds")
	}
	ttl := s.opt.SessionTTL
	if err := s.agents.CreateSession(ctx, hashToken(token), a.ID, now.Add(ttl)); err != nil {
		s.log.Error("console login: create session", "agent", a.ID, "error", err)
		return jsonError(c, http.StatusServiceUnavailable, "the server cannot start a session right now; try again in a few seconds")
	}
	clearLegacyCookie(c)
	c.SetCookie(&http.Cookie{Name: sessionCookieName(r), Value: token, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r)})
	s.log.Info("console login", "agent", a.ID)
	return c.JSON(http.StatusOK, meResponse{Agent: agentOf(a), CSRF: csrfOf(token)})
}

func (s *Server) handleLogout(c echo.Context, sess session) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	if err := s.agents.DeleteSession(ctx, sess.hash); err != nil {
		s.log.Error("console logout", "agent", sess.agent.ID, "error", err)
		return jsonError(c, http.StatusServiceUnavailable, "the server cannot end the session right now; try again in a few seconds")
	}
	s.closeSessionSockets(sess.hash, closeSessionEnded, "logged out")
	clearLegacyCookie(c)
	c.SetCookie(&http.Cookie{Name: sessionCookieName(c.Request()), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(c.Request())})
	s.log.Info("console logout", "agent", sess.agent.ID)
	return c.NoContent(http.StatusNoContent)
}

// endRequestSessions ends the sessions of every session cookie the request carries, under
// either name, and tells their open sockets to reconnect (with the browser's new cookie; a copy
// elsewhere then finds its session gone).
func (s *Server) endRequestSessions(ctx context.Context, r *http.Request) error {
	for _, ck := range r.Cookies() {
		if (ck.Name != sessionCookie && ck.Name != hostSessionCookie) || ck.Value == "" || len(ck.Value) > 128 {
			continue
		}
		hash := hashToken(ck.Value)
		if err := s.agents.DeleteSession(ctx, hash); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		s.closeSessionSockets(hash, websocket.CloseServiceRestart, "logged in again; reconnect")
	}
	return nil
}

// clearLegacyCookie removes a session cookie of the plain name over TLS: it is never read there.
func clearLegacyCookie(c echo.Context) {
	if secureRequest(c.Request()) {
		c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: true})
	}
}

// decoyHash returns a bcrypt hash at the default cost (that of every account's hash) of no
// password: a random salt and a random digest, which no password matches, yet comparing with it
// takes a full bcrypt run. Built at start without running bcrypt, so that the first unknown login
// costs the same one run as every other login, and a server start costs nothing.
func decoyHash() ([]byte, error) {
	var salt [16]byte
	var digest [23]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, fmt.Errorf("random decoy: %w", err)
	}
	if _, err := rand.Read(digest[:]); err != nil {
		return nil, fmt.Errorf("random decoy: %w", err)
	}
	return []byte(fmt.Sprintf("$2a$%02d$%s%s", bcrypt.DefaultCost,
		bcryptBase64.EncodeToString(salt[:]), bcryptBase64.EncodeToString(digest[:]))), nil
}

// bcryptBase64 is bcrypt's own base64 alphabet, unpadded.
var bcryptBase64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// loginLimiter counts failed logins per key (a login name, a client address) in a sliding
// window. It keeps only failure times within the window, so its memory is bounded by the
// attempts it refuses to let through.
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time
	max      int
	window   time.Duration
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{failures: map[string][]time.Time{}, max: loginFailures, window: loginWindow}
}

// recent drops failures older than the window and returns those left; the caller holds mu.
func (l *loginLimiter) recent(now time.Time, key string) []time.Time {
	fs := l.failures[key]
	i := 0
	for i < len(fs) && !fs[i].After(now.Add(-l.window)) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = fs
	return fs
}

// wait returns how long until any of keys may try again, 0 when all may now.
func (l *loginLimiter) wait(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(now, keys...)
}

// waitLocked is wait for a caller that holds mu.
func (l *loginLimiter) waitLocked(now time.Time, keys ...string) time.Duration {
	var longest time.Duration
	for _, k := range keys {
		fs := l.recent(now, k)
		if len(fs) >= l.max {
			// The oldest failure that still counts must leave the window.
			longest = max(longest, fs[len(fs)-l.max].Add(l.window).Sub(now))
		}
	}
	return longest
}

// begin starts a login attempt: when none of keys has to wait, it records the attempt as a
// failure of each key at once (undo takes it back when the password proves right) and returns
// 0; otherwise it records nothing and returns how long until all may try again. Checking and
// recording under one lock is what keeps simultaneous guesses within the limit.
func (l *loginLimiter) begin(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait := l.waitLocked(now, keys...); wait > 0 {
		return wait
	}
	l.failLocked(now, keys...)
	return 0
}

// undo takes back the failure that begin recorded at the time at for each key.
func (l *loginLimiter) undo(at time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		fs := l.failures[k]
		for i := len(fs) - 1; i >= 0; i-- {
			if fs[i].Equal(at) {
				fs = slices.Delete(fs, i, i+1)
				break
			}
		}
		if len(fs) == 0 {
			delete(l.failures, k)
		} else {
			l.failures[k] = fs
		}
	}
}

func (l *loginLimiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failLocked(now, keys...)
}

// failLocked records a failure of each key; the caller holds mu.
func (l *loginLimiter) failLocked(now time.Time, keys ...string) {
	for _, k := range keys {
		l.failures[k] = append(l.recent(now, k), now)
	}
	// A flood of distinct logins must not grow the map without bound: sweep when it is large.
	if len(l.failures) > 10000 {
		for k := range l.failures {
			l.recent(now, k)
		}
	}
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
