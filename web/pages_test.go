package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/store"
)

// startServer serves the embedded demo configuration over a real SQLite file.
func startServer(t *testing.T, mutate func(*intents.Config)) (*Server, *httptest.Server) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "web.db"), store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub()
	engine, err := bot.New(bot.Options{Store: db, Publisher: hub, Understanding: und, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Engine: engine, Store: db, Hub: hub, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		engine.Close(context.Background())
		db.Close()
	})
	return srv, ts
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPages(t *testing.T) {
	srv, ts := startServer(t, func(c *intents.Config) { c.Widget.AllowedOrigins = []string{"https://shop.example"} })
	tests := []struct {
		path         string
		status       int
		ctype        string
		cache        string
		bodyContains []string
		header       map[string]string
	}{
		{"/", 200, "text/html", "no-cache", []string{"Crumb &amp; Co.", `src="/widget.js"`, "--accent: #"}, nil},
		{"/widget.js", 200, "text/javascript", "max-age=300", []string{"window.Attune"}, nil},
		{"/widget/frame", 200, "text/html", "no-cache", []string{"/assets/" + srv.assets.version + "/frame.js", `data-max-chars="4000"`},
			map[string]string{"Content-Security-Policy": "frame-ancestors 'self' https://shop.example"}},
		{"/assets/" + srv.assets.version + "/frame.css", 200, "text/css", "immutable", nil, nil},
		{"/assets/0000/frame.js", 200, "text/javascript", "no-cache", nil, nil},
		{"/assets/" + srv.assets.version + "/frame.html", 404, "", "", nil, nil},
		{"/assets/" + srv.assets.version + "/nope.js", 404, "", "", nil, nil},
		{"/healthz", 200, "text/plain", "", []string{"ok"}, nil},
		{"/readyz", 200, "text/plain", "", []string{"ready"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, ts.URL+tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %s", resp.Header.Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(resp.Header.Get("Cache-Control"), tt.cache) {
				t.Errorf("Cache-Control %q, want it to contain %q", resp.Header.Get("Cache-Control"), tt.cache)
			}
			for _, want := range tt.bodyContains {
				if !strings.Contains(body, want) {
					t.Errorf("body does not contain %q", want)
				}
			}
			for k, v := range tt.header {
				if !strings.Contains(resp.Header.Get(k), v) {
					t.Errorf("%s = %q, want it to contain %q", k, resp.Header.Get(k), v)
				}
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing X-Content-Type-Options: nosniff")
			}
		})
	}
}

func TestPagesEscapeBusinessText(t *testing.T) {
	_, ts := startServer(t, func(c *intents.Config) {
		c.Business.Name = `<script>alert(1)</script>`
		c.Business.Description = `"><img src=x onerror=alert(1)>`
	})
	for _, path := range []string{"/", "/widget/frame"} {
		_, body := get(t, ts.URL+path)
		if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s renders configuration text as HTML", path)
		}
	}
}

func TestReadyzDuringShutdown(t *testing.T) {
	srv, ts := startServer(t, nil)
	srv.shuttingDown.Store(true)
	resp, _ := get(t, ts.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while shutting down = %d, want 503", resp.StatusCode)
	}
}

func TestCheckOrigin(t *testing.T) {
	srv, _ := startServer(t, func(c *intents.Config) { c.Widget.AllowedOrigins = []string{"https://shop.example"} })
	tests := []struct {
		origin, host string
		want         bool
	}{
		{"", "chat.example", true},                           // not a browser
		{"https://chat.example", "chat.example", true},       // our own widget frame
		{"https://shop.example", "chat.example", true},       // an allowed site
		{"https://evil.example", "chat.example", false},      // anyone else
		{"https://shop.example.evil", "chat.example", false}, // no suffix tricks
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://"+tt.host+"/ws/visitor", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := srv.checkOrigin(r); got != tt.want {
			t.Errorf("checkOrigin(origin %q, host %q) = %v, want %v", tt.origin, tt.host, got, tt.want)
		}
	}
}

// A signal right after the start can shut the server down before Serve has begun: Serve must
// then return at once instead of serving on, and the two must not race (run with -race).
func TestShutdownBeforeServe(t *testing.T) {
	srv, _ := startServer(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after Shutdown = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve after Shutdown is still serving")
	}
}
