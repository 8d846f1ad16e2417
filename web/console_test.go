package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/internal/syncbuf"
	"github.com/attune-chat/attune/store"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
)

// Guesses sent all at once must not each slip past the failed-login limit while the earlier
// ones are still being checked: the limit counts an attempt when it starts, not when its bcrypt
// comparison ends.
func TestLoginLimitHoldsForConcurrentGuesses(t *testing.T) {
	e := startConsole(t, Options{})
	// A cost high enough that each check takes a while, as real ones (cost 10) do.
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateAgent(context.Background(), store.Agent{Login: "ana", Capacity: 2}, hash); err != nil {
		t.Fatal(err)
	}
	const guesses = 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		status = map[int]int{}
	)
	start := make(chan struct{})
	for i := 0; i < guesses; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest("POST", e.ts.URL+"/console/api/login", strings.NewReader(`{"login":"ana","password":"guess"}`))
			if err != nil {
				t.Error(err)
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			status[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if status[http.StatusUnauthorized] > loginFailures || status[http.StatusUnauthorized]+status[http.StatusTooManyRequests] != guesses {
		t.Fatalf("%d simultaneous guesses answered %v; want at most %d checked (401), the rest refused (429)", guesses, status, loginFailures)
	}
	// The right password waits too, and a refused attempt is not counted as one more failure.
	r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil, nil)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("right password after the limit: %d %v, want 429", r.status, r.body)
	}
}

// An attempt that begin counted and undo took back (the password was right) leaves no failure
// behind, so agents who log in often from one office address are never throttled.
func TestLoginLimiterUndo(t *testing.T) {
	l := newLoginLimiter()
	t0 := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 3*loginFailures; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		if w := l.begin(at, "login:ana", "ip:1"); w != 0 {
			t.Fatalf("successful login %d waits %v", i+1, w)
		}
		l.undo(at, "login:ana", "ip:1")
	}
	if len(l.failures) != 0 {
		t.Fatalf("failures left after successful logins: %v", l.failures)
	}
	for i := 0; i < loginFailures; i++ {
		if w := l.begin(t0, "login:bob", "ip:1"); w != 0 {
			t.Fatalf("attempt %d waits %v before the limit", i+1, w)
		}
	}
	if w := l.begin(t0.Add(time.Minute), "login:carol", "ip:1"); w != 14*time.Minute {
		t.Fatalf("sixth attempt from the address: wait %v, want 14m", w)
	}
	if got := len(l.failures["ip:1"]); got != loginFailures {
		t.Fatalf("a refused attempt was counted: %d failures, want %d", got, loginFailures)
	}
}

// An IPv6 client holds a whole /64 (every home line gets one): counting per address would let it
// take a fresh address for every guess, so the limit counts the /64.
func TestLoginLimitPerIPv6Network(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	e := startConsole(t, Options{TrustedProxies: trusted})
	e.addAgent(t, "ana", "correct horse battery", 2)
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	for i := 0; i < loginFailures; i++ {
		body := map[string]string{"login": fmt.Sprintf("guess%d", i), "password": "guess"}
		if r := e.api(t, "POST", "/console/api/login", body, nil, from(fmt.Sprintf("2001:db8:1:2::%x", i+1))); r.status != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, r.status)
		}
	}
	body := map[string]string{"login": "someone", "password": "guess"}
	if r := e.api(t, "POST", "/console/api/login", body, nil, from("2001:db8:1:2:ffff:ffff:ffff:ffff")); r.status != 429 {
		t.Fatalf("a sixth guess from another address of the same /64: %d, want 429", r.status)
	}
	if r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil, from("2001:db8:1:3::1")); r.status != 200 {
		t.Fatalf("a client of the next /64: %d, want 200", r.status)
	}
}

func TestAddrLimitKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"198.51.100.7", "198.51.100.7"},
		{"::ffff:198.51.100.7", "198.51.100.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"pipe", "pipe"},
	} {
		if got := addrLimitKey(tc.addr); got != tc.want {
			t.Errorf("addrLimitKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// Behind a reverse proxy that passes the request on with its own upstream Host (nginx's and
// Apache's default), the browser's Origin names the public host, which the proxy reports in
// X-Forwarded-Host. From a trusted proxy that is this server's origin; from anyone else the
// header is ignored.
func TestConsoleOriginBehindAProxy(t *testing.T) {
	const public = "https://chat.example.com"
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    int
		wantWS  int
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}, 200, 101},
		{"untrusted peer", nil, 403, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startConsole(t, Options{TrustedProxies: tc.trusted})
			e.addAgent(t, "ana", "correct horse battery", 2)
			hdr := map[string]string{"Origin": public, "X-Forwarded-Host": "chat.example.com", "X-Forwarded-Proto": "https"}
			r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil, hdr)
			if r.status != tc.want {
				t.Fatalf("login through the proxy: %d %v, want %d", r.status, r.body, tc.want)
			}
			ck, _ := e.login(t, "ana", "correct horse battery")
			h := http.Header{"Origin": {public}, "X-Forwarded-Host": {"chat.example.com"}, "Cookie": {ck.String()}}
			conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/agent", h)
			if err == nil {
				conn.Close()
			}
			if resp == nil || resp.StatusCode != tc.wantWS {
				t.Fatalf("agent socket through the proxy: err=%v resp=%v, want HTTP %d", err, resp, tc.wantWS)
			}
			// Another site stays foreign whatever the proxy says.
			h.Set("Origin", "https://evil.example")
			if _, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/agent", h); err == nil || resp == nil || resp.StatusCode != 403 {
				t.Fatalf("agent socket from another site: err=%v resp=%v, want 403", err, resp)
			}
		})
	}
}

// An agent an administrator has just disabled (or whose password was just reset because the
// account was stolen) must not go on writing to visitors until the next periodic session check:
// the socket's actions need a session that is still valid, and the socket ends at the first one.
func TestAgentActionsNeedALiveSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(db *store.DB) error
	}{
		{"disabled", func(db *store.DB) error { return db.SetAgentDisabled(context.Background(), "ana", true) }},
		{"password reset", func(db *store.DB) error {
			return db.SetAgentPassword(context.Background(), "ana", []byte("$2a$04$0000000000000000000000000000000000000000000000000000"))
		}},
		{"removed", func(db *store.DB) error { return db.DeleteAgent(context.Background(), "ana") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startConsole(t, Options{}) // the periodic check every minute: far beyond this test
			a, _, _, _ := e.mustAgent(t, "ana", 2)
			v, conv, _ := e.visitorQueued(t)
			a.send(map[string]any{"type": "accept", "id": "acc", "conversation_id": conv})
			if f := a.next(replyTo("acc")); f.str("type") != "ack" {
				t.Fatalf("accept: %v", f)
			}
			v.next(func(f wsFrame) bool { return f.str("type") == "state" && f.str("state") == "agent" })

			if err := tc.end(e.db); err != nil {
				t.Fatal(err)
			}
			a.send(map[string]any{"type": "message", "id": "m1", "conversation_id": conv, "text": "one more thing before I go"})
			expectClosed(t, a, closeSessionEnded, "session expired; log in again")
			msgs, err := e.db.MessagesAfter(context.Background(), conv, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.From == store.FromAgent {
					t.Fatalf("the ended session's message was stored and sent: %+v", m)
				}
			}
		})
	}
}

// Behind TLS, a page on this host's plain-http side (a network attacker can write one) is
// another origin: it must not log a browser in nor open the agent socket with its cookie.
func TestConsoleOriginSchemeBehindTLS(t *testing.T) {
	e := startConsole(t, Options{})
	e.addAgent(t, "ana", "correct horse battery", 2)
	host := strings.TrimPrefix(e.ts.URL, "http://")
	creds := map[string]string{"login": "ana", "password": "correct horse battery"}
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"http://" + host, 403},
		{"https://" + host, 200},
	} {
		r := e.api(t, "POST", "/console/api/login", creds, nil, map[string]string{"Origin": tc.origin, "X-Forwarded-Proto": "https"})
		if r.status != tc.want {
			t.Errorf("login over TLS from %s: %d %v, want %d", tc.origin, r.status, r.body, tc.want)
		}
	}
	// The session cookie of a login over TLS (__Host-attune_session).
	ck := e.api(t, "POST", "/console/api/login", creds, nil, map[string]string{"Origin": "https://" + host, "X-Forwarded-Proto": "https"}).cookie
	if ck == nil || ck.Name != "__Host-attune_session" {
		t.Fatalf("session cookie over TLS: %v", ck)
	}
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"http://" + host, 403},
		{"https://" + host, 101},
	} {
		h := http.Header{"Origin": {tc.origin}, "X-Forwarded-Proto": {"https"}, "Cookie": {ck.String()}}
		conn, resp, err := websocket.DefaultDialer.Dial("ws://"+host+"/ws/agent", h)
		if err == nil {
			conn.Close()
		}
		if resp == nil || resp.StatusCode != tc.want {
			t.Errorf("agent socket over TLS from %s: err=%v resp=%v, want HTTP %d", tc.origin, err, resp, tc.want)
		}
	}
}

// The widget frame is served from this server, so its visitor socket is always from our own
// origin, also behind a proxy that passes requests on with its upstream's Host: there only the
// trusted proxy's X-Forwarded-Host names the public host.
func TestVisitorOriginBehindAProxy(t *testing.T) {
	srv, _ := startServer(t, func(c *intents.Config) { c.Widget.AllowedOrigins = []string{"https://shop.example"} })
	srv.trustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, peer, origin string
		want               bool
	}{
		{"our frame through the trusted proxy", "10.1.1.1:443", "https://chat.example", true},
		{"an allowed site through the trusted proxy", "10.1.1.1:443", "https://shop.example", true},
		{"another site through the trusted proxy", "10.1.1.1:443", "https://evil.example", false},
		{"the header from an untrusted peer", "203.0.113.9:5000", "https://chat.example", false},
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8080/ws/visitor", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("Origin", tc.origin)
		r.Header.Set("X-Forwarded-Host", "chat.example")
		if got := srv.checkOrigin(r); got != tc.want {
			t.Errorf("%s: checkOrigin = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A refused Origin is most often a proxy that hides the public host, not an attack: the operator
// finds the origin, the host it was compared with and the fix in the log.
func TestOriginRefusalIsLoggedWithTheFix(t *testing.T) {
	logs := &syncbuf.Buffer{}
	e := startConsole(t, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	e.addAgent(t, "ana", "correct horse battery", 2)
	hdr := map[string]string{"Origin": "https://chat.example.com", "X-Forwarded-Host": "chat.example.com"}
	if r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse battery"}, nil, hdr); r.status != 403 {
		t.Fatalf("login from another origin: %d, want 403", r.status)
	}
	ck, _ := e.login(t, "ana", "correct horse battery")
	h := http.Header{"Origin": {"https://chat.example.com"}, "Cookie": {ck.String()}}
	if _, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/agent", h); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("agent socket from another origin: err=%v resp=%v, want 403", err, resp)
	}
	host := strings.TrimPrefix(e.ts.URL, "http://")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var refused []string
	for _, l := range lines {
		if strings.Contains(l, "refused") {
			refused = append(refused, l)
		}
	}
	if len(refused) != 2 {
		t.Fatalf("log lines about refusals: %q, want one for the login and one for the socket", refused)
	}
	for _, l := range refused {
		if !strings.Contains(l, "origin=https://chat.example.com") || !strings.Contains(l, "host="+host) || !strings.Contains(l, "--trusted-proxies") {
			t.Errorf("log line %q: want the origin, the host it was compared with and the --trusted-proxies fix", l)
		}
	}
}
