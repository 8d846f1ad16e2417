package web

import (
	"errors"
	"testing"

	"github.com/gorilla/websocket"
)

// Logging in again in a browser that still holds a session ends that session: the old token (a
// copy in a thief's hands, or one planted before the login) must not stay valid beside the new.
// Its open sockets are told to reconnect, which they do with the new cookie.
func TestLoginEndsTheBrowsersOldSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"plain http", nil},
		{"TLS", map[string]string{"X-Forwarded-Proto": "https"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startConsole(t, Options{})
			e.addAgent(t, "ana", "correct horse ana", 2)
			body := map[string]string{"login": "ana", "password": "correct horse ana"}
			first := e.api(t, "POST", "/console/api/login", body, nil, tc.hdr)
			if first.status != 200 || first.cookie == nil {
				t.Fatalf("first login: %d %v", first.status, first.body)
			}
			var sock *websocket.Conn
			if tc.hdr == nil {
				s, resp, err := e.dialAgent(t, first.cookie)
				if err != nil {
					t.Fatalf("dial: %v %v", err, resp)
				}
				sock = s.conn
				if _, _, err := sock.ReadMessage(); err != nil { // welcome
					t.Fatal(err)
				}
			}
			second := e.api(t, "POST", "/console/api/login", body, first.cookie, tc.hdr)
			if second.status != 200 || second.cookie == nil || second.cookie.Value == first.cookie.Value {
				t.Fatalf("second login: %d %v cookie %v", second.status, second.body, second.cookie)
			}
			if r := e.api(t, "GET", "/console/api/me", nil, first.cookie, tc.hdr); r.status != 401 {
				t.Fatalf("the old session after logging in again: %d, want 401", r.status)
			}
			if r := e.api(t, "GET", "/console/api/me", nil, second.cookie, tc.hdr); r.status != 200 {
				t.Fatalf("the new session: %d, want 200", r.status)
			}
			if sock != nil {
				for {
					if _, _, err := sock.ReadMessage(); err != nil {
						var ce *websocket.CloseError
						if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
							t.Fatalf("old session's socket ended with %v, want %d (reconnect)", err, websocket.CloseServiceRestart)
						}
						break
					}
				}
			}
		})
	}
}
