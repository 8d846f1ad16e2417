package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

const hostCookieName = "__Host-attune_session"

// Over TLS the session cookie carries the __Host- prefix, so that a page on a sibling subdomain
// (which may set cookies for the parent domain) cannot plant a cookie of the same name that the
// browser would send first. Over plain http, where such a cookie cannot exist, the name stays.
func TestSessionCookieName(t *testing.T) {
	e := startConsole(t, Options{})
	e.addAgent(t, "ana", "correct horse battery", 2)
	tlsTS := httptest.NewTLSServer(e.srv.Handler())
	t.Cleanup(tlsTS.Close)
	for _, tc := range []struct {
		name       string
		url        string
		client     *http.Client
		hdr        map[string]string
		wantName   string
		wantSecure bool
	}{
		{"plain http", e.ts.URL, http.DefaultClient, nil, "attune_session", false},
		{"TLS", tlsTS.URL, tlsTS.Client(), nil, hostCookieName, true},
		{"TLS at a proxy", e.ts.URL, http.DefaultClient, map[string]string{"X-Forwarded-Proto": "https"}, hostCookieName, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", tc.url+"/console/api/login", strings.NewReader(`{"login":"ana","password":"correct horse battery"}`))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			var got *http.Cookie
			for _, c := range resp.Cookies() {
				if c.MaxAge > 0 {
					if got != nil {
						t.Fatalf("two live session cookies: %v and %v", got, c)
					}
					got = c
				}
			}
			if got == nil || got.Name != tc.wantName || got.Secure != tc.wantSecure || got.Path != "/" || got.Domain != "" || !got.HttpOnly {
				t.Fatalf("session cookie %v (Set-Cookie %q); want name %s, Secure=%v, Path=/, no Domain, HttpOnly",
					got, resp.Header.Values("Set-Cookie"), tc.wantName, tc.wantSecure)
			}
		})
	}
}

// Over TLS only the __Host- cookie is a session: a cookie of the old name may have been planted by
// a sibling subdomain (it is sent first when its path is longer), so it must neither win over the
// real one nor log the browser into someone else's session on its own.
func TestTossedSessionCookieIsIgnoredOverTLS(t *testing.T) {
	e := startConsole(t, Options{})
	e.addAgent(t, "ana", "correct horse ana", 2)
	e.addAgent(t, "mallory", "correct horse mallory", 2)
	tlsHdr := map[string]string{"X-Forwarded-Proto": "https"}
	login := func(name string) string {
		r := e.api(t, "POST", "/console/api/login", map[string]string{"login": name, "password": "correct horse " + name}, nil, tlsHdr)
		if r.status != 200 || r.cookie == nil {
			t.Fatalf("login %s: %d %v", name, r.status, r.body)
		}
		return r.cookie.Value
	}
	ana, mallory := login("ana"), login("mallory")
	me := func(cookie string) (int, string) {
		req, _ := http.NewRequest("GET", e.ts.URL+"/console/api/me", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := me("attune_session=" + mallory + "; " + hostCookieName + "=" + ana); st != 200 || !strings.Contains(body, `"login":"ana"`) {
		t.Fatalf("a tossed attune_session before the real cookie: %d %s, want ana's session", st, body)
	}
	if st, body := me("attune_session=" + mallory); st != 401 {
		t.Fatalf("a tossed attune_session alone over TLS: %d %s, want 401", st, body)
	}
	// The agent socket's handshake reads the same cookie.
	wsURL := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/ws/agent"
	origin := "https" + strings.TrimPrefix(e.ts.URL, "http")
	h := http.Header{"Origin": {origin}, "X-Forwarded-Proto": {"https"}, "Cookie": {"attune_session=" + mallory}}
	if conn, resp, err := websocket.DefaultDialer.Dial(wsURL, h); err == nil || resp == nil || resp.StatusCode != 401 {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("agent socket with a tossed attune_session over TLS: err=%v resp=%v, want 401", err, resp)
	}
	h.Set("Cookie", "attune_session="+mallory+"; "+hostCookieName+"="+ana)
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL, h)
	if err != nil {
		t.Fatalf("agent socket with the real cookie: %v %v", err, resp)
	}
	defer conn.Close()
	var welcome struct {
		Type  string `json:"type"`
		Agent struct {
			Login string `json:"login"`
		} `json:"agent"`
	}
	if err := conn.ReadJSON(&welcome); err != nil || welcome.Type != "welcome" || welcome.Agent.Login != "ana" {
		t.Fatalf("agent socket welcome: %+v %v, want ana", welcome, err)
	}
	// Over plain http the old name is the session cookie.
	r := e.api(t, "POST", "/console/api/login", map[string]string{"login": "ana", "password": "correct horse ana"}, nil, nil)
	if r.cookie == nil || r.cookie.Name != "attune_session" {
		t.Fatalf("plain http login cookie: %v", r.cookie)
	}
	if st, body := me("attune_session=" + r.cookie.Value); st != 401 {
		t.Fatalf("plain-http cookie sent over TLS: %d %s, want 401", st, body)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/console/api/me", nil)
	req.AddCookie(r.cookie)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("plain-http cookie over plain http: %d, want 200", resp2.StatusCode)
	}
}
