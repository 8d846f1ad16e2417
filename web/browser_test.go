package web_test

// Browser tests: real headless Chromium against the real server (web + bot + store on a temporary
// SQLite file + the embedded demo configuration). They check what only a browser can: the loader's
// shadow DOM and iframe, focus and accessible names, localStorage resume, reconnects, rendering that
// never interprets message text as HTML, and the layout at desktop and phone widths.
//
// Run them with `go test -race -run Browser ./web/`. Without Chromium they skip, except under
// CI=true, where they fail. ATTUNE_SCREENSHOTS=DIR keeps the screenshots in DIR.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/internal/syncbuf"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/web"
	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browserTimeout bounds one browser test. It is generous on purpose: CI runs on two noisy cores,
// and every wait polls for its condition, so a passing test never waits this long.
const browserTimeout = 2 * time.Minute

// JavaScript paths into the widget. The loader keeps its launcher and iframe in an open shadow root.
const (
	widgetHostJS = `document.querySelector('[data-attune-widget]')`
	launcherJS   = widgetHostJS + `.shadowRoot.querySelector('button.launcher')`
	panelJS      = widgetHostJS + `.shadowRoot.getElementById('attune-panel')`
	panelWinJS   = panelJS + `.contentWindow`
)

// testServer is the whole Attune stack behind an httptest server, built as `attune serve` builds
// it. The web server can be restarted in place (same store, engine and hub), and the websocket
// connections can be cut, to exercise the widget's reconnects.
type testServer struct {
	URL    string
	Config *intents.Config

	engine *bot.Engine
	db     *store.DB
	hub    *web.Hub
	logger *slog.Logger
	tune   []func(*web.Options)

	current  atomic.Pointer[web.Server]
	upgrades atomic.Int64 // requests to /ws/visitor, to tell that a client reconnected

	mu      sync.Mutex
	sockets []net.Conn // hijacked websocket connections
}

// newTestServer starts the stack; tune, if given, changes the web server's options.
func newTestServer(t *testing.T, tune ...func(*web.Options)) *testServer {
	t.Helper()
	return newTestServerConfig(t, nil, tune...)
}

// newTestServerConfig is newTestServer with the demo configuration changed by edit first.
func newTestServerConfig(t *testing.T, edit func(*intents.Config), tune ...func(*web.Options)) *testServer {
	t.Helper()
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatalf("parse the demo configuration: %v", err)
	}
	if edit != nil {
		edit(cfg)
	}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatalf("train the demo configuration: %v", err)
	}
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "attune.db"), store.Options{Logger: logger})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	hub := web.NewHub()
	engine, err := bot.New(bot.Options{Store: db, Publisher: hub, Understanding: und, Logger: logger})
	if err != nil {
		db.Close()
		t.Fatalf("bot.New: %v", err)
	}
	ts := &testServer{Config: cfg, engine: engine, db: db, hub: hub, logger: logger, tune: tune}
	ts.current.Store(ts.newWeb(t))

	hs := httptest.NewUnstartedServer(http.HandlerFunc(ts.serveHTTP))
	hs.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateHijacked {
			ts.mu.Lock()
			ts.sockets = append(ts.sockets, c)
			ts.mu.Unlock()
		}
	}
	hs.Start()
	ts.URL = hs.URL
	t.Cleanup(func() { stopStack(t, ts.current.Load(), hs, engine, db, logs) })
	return ts
}

// stopStack shuts a test's server stack down in the order attune serve does, and shows the
// server's log when the test failed.
func stopStack(t *testing.T, srv *web.Server, hs *httptest.Server, engine *bot.Engine, db *store.DB, logs *syncbuf.Buffer) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shut the web server down: %v", err)
	}
	hs.Close()
	if err := engine.Close(ctx); err != nil {
		t.Errorf("close the bot engine: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("close the store: %v", err)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", logs.String())
	}
}

func (ts *testServer) newWeb(t *testing.T) *web.Server {
	t.Helper()
	opt := web.Options{Engine: ts.engine, Store: ts.db, Hub: ts.hub, Logger: ts.logger}
	for _, f := range ts.tune {
		f(&opt)
	}
	srv, err := web.New(opt)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	return srv
}

func (ts *testServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws/visitor" {
		ts.upgrades.Add(1)
	}
	ts.current.Load().Handler().ServeHTTP(w, r)
}

// cutSockets closes every websocket connection at the TCP level, as a network failure would: no
// close frame, the widget only sees the connection die.
func (ts *testServer) cutSockets() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, c := range ts.sockets {
		if c.Close() == nil {
			n++
		}
	}
	ts.sockets = nil
	return n
}

// goAway shuts the web server down as SIGTERM does: sockets are closed with 1001 "going away"
// and new ones are refused (503) until comeBack starts a fresh server on the same store.
func (ts *testServer) goAway(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := ts.current.Load().Shutdown(ctx); err != nil {
		t.Fatalf("shut the web server down: %v", err)
	}
}

func (ts *testServer) comeBack(t *testing.T) {
	t.Helper()
	ts.current.Store(ts.newWeb(t))
}

// faq returns the question and answer of a demo FAQ entry with a single answer and no
// placeholders, so that the bot's reply must contain that answer verbatim.
func (ts *testServer) faq(t *testing.T) (question, answer string) {
	t.Helper()
	for _, f := range ts.Config.FAQ {
		if len(f.Answer) == 1 && !strings.Contains(f.Answer[0].Text, "{") && f.Question != "" {
			return f.Question, f.Answer[0].Text
		}
	}
	t.Fatal("the demo configuration has no FAQ entry with one answer without placeholders")
	return "", ""
}

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // bounded by browserTimeout
	tab context.Context // the tab's lifetime, for diagnostics after ctx has expired

	mu       sync.Mutex
	problems []string // uncaught exceptions and console errors of the page
}

// findChromium returns the browser to drive, or skips the test (fails it on CI) without one.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI must run the browser tests: install chromium (apt-get install chromium)")
	}
	t.Skip("browser tests skipped: no chromium, chromium-browser or google-chrome in PATH (apt-get install chromium)")
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := findChromium(t)
	profile := t.TempDir()
	output := &syncbuf.Buffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these Chromium dials Google services; this machine's closed network refuses
		// those connections and the browser stalls or logs noise.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), // small /dev/shm in containers
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(output),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	chromeLog := &syncbuf.Buffer{}
	logf := func(format string, args ...any) { fmt.Fprintf(chromeLog, format+"\n", args...) }
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf), chromedp.WithLogf(logf))

	// The first Run starts the browser, which lives as long as that call's context: it must not
	// carry a timeout, so a watchdog cancels a start that hangs.
	watchdog := time.AfterFunc(time.Minute, cancelTab)
	err := chromedp.Do(tabCtx)
	watchdog.Stop()
	if err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start %s: %v\nbrowser output:\n%s", exe, err, output.String())
	}
	ctx, cancel := context.WithTimeout(tabCtx, browserTimeout)
	b := &browser{t: t, ctx: ctx, tab: tabCtx}
	if err := chromedp.Listen(tabCtx, b.onEvent); err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := chromedp.Cancel(tabCtx); err != nil {
			t.Logf("close the browser: %v", err)
		}
		cancelTab()
		cancelAlloc()
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.problems) > 0 {
			t.Errorf("the page reported errors:\n%s", strings.Join(b.problems, "\n"))
		}
		if t.Failed() {
			t.Logf("browser output:\n%s\nchromedp log:\n%s", output.String(), chromeLog.String())
		}
	})
	return b
}

// onEvent runs on chromedp's reader goroutine: it must only record.
func (b *browser) onEvent(ev any) {
	var problem string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		problem = "uncaught exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			problem += " " + d.Exception.Description
		}
		problem += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		problem = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, problem)
	b.mu.Unlock()
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) navigate(url string) { b.t.Helper(); b.do("open "+url, chromedp.Navigate(url)) }

// keys types with real key events into whatever has the focus.
func (b *browser) keys(s string) { b.t.Helper(); b.do(fmt.Sprintf("type %q", s), chromedp.KeyEvent(s)) }

// pressEnter presses Enter as a keyboard does: one keydown whose default action types "\r", so
// that a page calling preventDefault on it (the composer sends instead) gets no newline.
// chromedp.KeyEvent sends the character as a separate event that preventDefault cannot stop.
func (b *browser) pressEnter() {
	b.t.Helper()
	b.do("press Enter", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", Text: "\r", UnmodifiedText: "\r",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	}))
}

// insertText inserts text as an IME or a paste would: one input event, fast for long texts.
func (b *browser) insertText(s string) {
	b.t.Helper()
	b.do("insert text", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: s})
		return err
	}))
}

func (b *browser) screenshot(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("screenshot %s is not a PNG", path)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
	b.t.Logf("screenshot: %s", path)
}

// eval evaluates a JavaScript expression in the top page and decodes its JSON value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", abbreviate(expr), err)
	}
	return v
}

// waitFor polls a boolean JavaScript expression until it is true. Exceptions (for example an
// element that does not exist yet) count as false. On timeout it fails with the description and
// with explain's account of what the page showed instead.
func (b *browser) waitFor(what, expr string, explain func() string) {
	b.t.Helper()
	var lastErr error
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if b.ctx.Err() != nil {
			detail := ""
			if explain != nil {
				detail = explain()
			}
			b.t.Fatalf("timed out waiting for %s (last error: %v)\n%s", what, lastErr, detail)
		}
		select {
		case <-b.ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// chat is the chat panel inside a page: win is a JavaScript expression for its window, either the
// widget's iframe on a host page or the top window when /widget/frame is opened directly.
type chat struct {
	b   *browser
	win string
}

// shown is one message as the transcript (#log) renders it.
type shown struct {
	From    string  `json:"from"`
	Text    string  `json:"text"`
	Seq     float64 `json:"seq"`
	Pending bool    `json:"pending"`
	Failed  bool    `json:"failed"`
	// Elements counts element nodes inside the bubble other than links; text must stay text.
	Elements int `json:"elements"`
}

// widgetState is what frame.js reports through window.__attune.state().
type widgetState struct {
	Connected      bool   `json:"connected"`
	ConversationID string `json:"conversationId"`
	LastSeq        int64  `json:"lastSeq"`
	Pending        int    `json:"pending"`
}

func (c chat) transcriptJS() string {
	return `Array.from((` + c.win + `).document.querySelectorAll('#log .msg')).map(el => {
	const b = el.querySelector('.bubble');
	return {from: el.dataset.from || '', text: b.textContent, seq: Number(el.dataset.seq || 0),
		pending: el.classList.contains('msg--pending'), failed: el.classList.contains('msg--failed'),
		elements: b.querySelectorAll(':not(a)').length};
})`
}

func (c chat) transcript() []shown { c.b.t.Helper(); return eval[[]shown](c.b, c.transcriptJS()) }

func (c chat) state() widgetState {
	c.b.t.Helper()
	return eval[widgetState](c.b, `(`+c.win+`).__attune.state()`)
}

// explain describes the panel for failure messages; it never fails itself.
func (c chat) explain() string {
	ctx, cancel := context.WithTimeout(c.b.tab, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(() => {
	const w = `+c.win+`, d = w.document, t = id => (d.getElementById(id) || {}).textContent || '';
	return {state: w.__attune && w.__attune.state(), transcript: `+c.transcriptJS()+`,
		conn: d.getElementById('conn').hidden ? '' : t('conn'), notice: d.getElementById('notice').hidden ? '' : t('notice'),
		typing: t('typing'), input: d.getElementById('input').value.slice(0, 80), focus: d.activeElement && d.activeElement.id};
})()`))
	if err != nil {
		return "the chat panel could not be inspected: " + err.Error()
	}
	var buf bytes.Buffer
	if json.Indent(&buf, v, "", "  ") != nil {
		return string(v)
	}
	return "the chat panel showed:\n" + buf.String()
}

func (c chat) waitFor(what, expr string) { c.b.t.Helper(); c.b.waitFor(what, expr, c.explain) }

// waitConnected waits for a welcome on a socket.
func (c chat) waitConnected() {
	c.b.t.Helper()
	c.waitFor("the widget to connect", `(`+c.win+`).__attune.state().connected`)
}

// until polls the transcript until ok accepts its stored messages, and returns them.
func (c chat) until(what string, ok func(stored []shown) bool) []shown {
	c.b.t.Helper()
	for {
		msgs, err := chromedp.Run(c.b.ctx, chromedp.Evaluate[[]shown](c.transcriptJS()))
		if err == nil && ok(confirmed(msgs)) {
			return confirmed(msgs)
		}
		select {
		case <-c.b.ctx.Done():
			c.b.t.Fatalf("timed out waiting for %s (last error: %v)\n%s", what, err, c.explain())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitMessages waits until the transcript holds at least n stored messages.
func (c chat) waitMessages(what string, n int) []shown {
	c.b.t.Helper()
	return c.until(what, func(m []shown) bool { return len(m) >= n })
}

// answered finds the visitor's message with this text and the first bot message after it.
func answered(msgs []shown, text string) (visitor, reply shown, ok bool) {
	for i, m := range msgs {
		if m.From == "visitor" && m.Text == text {
			for _, r := range msgs[i+1:] {
				if r.From == "bot" {
					return m, r, true
				}
			}
		}
	}
	return shown{}, shown{}, false
}

// send types text with real key events into the focused composer and presses Enter.
func (c chat) send(text string) {
	c.b.t.Helper()
	c.waitFor("the message box to have the focus", `(`+c.win+`).document.activeElement.id === 'input'`)
	c.b.keys(text)
	c.waitFor("the typed text in the message box", fmt.Sprintf(`(%s).document.getElementById('input').value === %s`, c.win, jsString(text)))
	c.b.pressEnter()
}

// sendAndAwaitReply sends text and waits for it to be stored and answered; it returns the
// visitor's message and the bot's reply as shown.
func (c chat) sendAndAwaitReply(text string) (visitor, reply shown) {
	c.b.t.Helper()
	c.send(text)
	msgs := c.until(fmt.Sprintf("%q and the bot's reply", text), func(m []shown) bool { _, _, ok := answered(m, text); return ok })
	visitor, reply, _ = answered(msgs, text)
	return visitor, reply
}

// confirmed keeps the stored messages (integer seq, not pending), in transcript order.
func confirmed(msgs []shown) []shown {
	var out []shown
	for _, m := range msgs {
		if m.Seq >= 1 && m.Seq == float64(int64(m.Seq)) && !m.Pending {
			out = append(out, m)
		}
	}
	return out
}

// checkOrdered fails unless the stored messages are in strictly increasing seq order, each once.
func checkOrdered(t *testing.T, msgs []shown) {
	t.Helper()
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq <= msgs[i-1].Seq {
			t.Fatalf("transcript out of order or duplicated at %d: seq %v after %v\n%+v", i, msgs[i].Seq, msgs[i-1].Seq, msgs)
		}
	}
}

// TestBrowserDemoChatAndReload covers the demo page: a keyboard-reachable, named launcher; the
// panel opening with focus in the message box; the greeting saying it is a bot; a FAQ answer;
// HTML in a message shown as text; and the conversation coming back after a reload.
func TestBrowserDemoChatAndReload(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: panelWinJS}

	b.navigate(ts.URL + "/")
	b.waitFor("the widget's launcher button", launcherJS+` !== null`, nil)

	// The launcher is reachable with Tab alone, like any control on the host page.
	focused := false
	for i := 0; i < 80 && !focused; i++ {
		b.keys(kb.Tab)
		focused = eval[bool](b, `document.activeElement === `+widgetHostJS+` && `+widgetHostJS+`.shadowRoot.activeElement === `+launcherJS)
	}
	if !focused {
		t.Fatalf("the launcher never received the focus after pressing Tab 80 times; focus is on %s", eval[string](b, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	role, name := accessibleName(b, launcherJS)
	if role != "button" || strings.TrimSpace(name) == "" {
		t.Fatalf("launcher: accessibility role %q, name %q; want a button with a name", role, name)
	}
	if got := eval[string](b, launcherJS+`.getAttribute('aria-expanded')`); got != "false" {
		t.Errorf("closed launcher: aria-expanded=%q, want \"false\"", got)
	}

	b.do("click the launcher", chromedp.Click(chromedp.JSPath(launcherJS)))
	b.waitFor("the chat panel to open", `(() => { const p = `+panelJS+`, s = getComputedStyle(p), r = p.getBoundingClientRect();
		return p.classList.contains('open') && s.visibility === 'visible' && s.opacity === '1' && r.width > 200 && r.height > 200; })()`, nil)
	if got := eval[string](b, launcherJS+`.getAttribute('aria-expanded')`); got != "true" {
		t.Errorf("open launcher: aria-expanded=%q, want \"true\"", got)
	}

	greeting := c.waitMessages("the greeting", 1)[0]
	if greeting.From != "bot" || greeting.Seq != 1 {
		t.Fatalf("first message: %+v; want the bot's greeting with seq 1", greeting)
	}
	if !strings.Contains(strings.ToLower(greeting.Text), "bot") {
		t.Errorf("the greeting %q does not say that this is a bot", greeting.Text)
	}

	question, want := ts.faq(t)
	q, answer := c.sendAndAwaitReply(question)
	if !strings.Contains(answer.Text, want) {
		t.Errorf("the bot answered %q to %q; want the FAQ answer %q", answer.Text, question, want)
	}
	if q.Seq <= greeting.Seq || answer.Seq <= q.Seq {
		t.Errorf("seqs: greeting %v, question %v, answer %v; want increasing", greeting.Seq, q.Seq, answer.Seq)
	}

	const markup = `Is <b>html</b> & <img src=x onerror=alert(1)> shown as text?`
	m, _ := c.sendAndAwaitReply(markup)
	if m.Text != markup || m.Elements != 0 {
		t.Errorf("a message with markup is shown as %q with %d element(s) inside; want the literal text and none", m.Text, m.Elements)
	}

	before := confirmed(c.transcript())
	checkOrdered(t, before)
	if len(before) != 5 {
		t.Fatalf("transcript before reload has %d messages, want 5 (greeting, 2 questions, 2 answers): %+v", len(before), before)
	}
	state := c.state()
	token := eval[string](b, `(`+panelWinJS+`).localStorage.getItem('attune.token') || ''`)
	if token == "" {
		t.Fatal("no resume token in the widget's localStorage")
	}

	// A reload shows the same conversation again, through the resume token alone.
	b.do("reload", chromedp.Reload())
	b.waitFor("the widget after the reload", launcherJS+` !== null && `+panelJS+`.contentWindow.__attune !== undefined`, nil)
	c.until("the same transcript after the reload", func(m []shown) bool { return reflect.DeepEqual(m, before) })
	after := c.state()
	if after.ConversationID != state.ConversationID || after.LastSeq != state.LastSeq {
		t.Errorf("after reload the widget is in conversation %q at seq %d; want %q at %d", after.ConversationID, after.LastSeq, state.ConversationID, state.LastSeq)
	}
	// Everything was read before the reload: the closed launcher shows no unread badge.
	if eval[bool](b, `!`+widgetHostJS+`.shadowRoot.querySelector('.badge').hidden`) {
		t.Errorf("the launcher shows an unread badge for messages the visitor already saw")
	}
}

// TestBrowserFrameReconnect opens the panel directly and checks that it survives a dropped
// network connection and a server restart, resuming the same conversation without duplicates and
// delivering a message written while the server was away.
func TestBrowserFrameReconnect(t *testing.T) {
	ts, b, c := openFrame(t)
	b.do("click the message box", chromedp.Click(chromedp.ID("input")))
	c.sendAndAwaitReply("Do you deliver on Sundays?")
	start := c.state()

	// 1. The network drops: no close frame, the socket just dies.
	upgrades := ts.upgrades.Load()
	if n := ts.cutSockets(); n == 0 {
		t.Fatal("no websocket connection to cut")
	}
	waitCount(t, b, "a reconnect after the network drop", &ts.upgrades, upgrades+1)
	c.waitConnected()
	if s := c.state(); s.ConversationID != start.ConversationID || s.LastSeq != start.LastSeq {
		t.Fatalf("after the network drop the widget is in %q at seq %d; want %q at %d", s.ConversationID, s.LastSeq, start.ConversationID, start.LastSeq)
	}
	_, reply := c.sendAndAwaitReply("thanks, and what are your opening hours?")
	if int64(reply.Seq) <= start.LastSeq {
		t.Errorf("reply after reconnect has seq %v, not after %d", reply.Seq, start.LastSeq)
	}
	checkOrdered(t, confirmed(c.transcript()))

	// 2. The server restarts: sockets close with 1001 and reconnects are refused for a while.
	// A message written meanwhile waits in the outbox and is delivered once, after the restart.
	mid := c.state()
	awayFrom := ts.upgrades.Load()
	ts.goAway(t)
	c.waitFor("the widget to notice the server went away", `!window.__attune.state().connected`)
	const offline = "Can I change my delivery address?"
	c.send(offline)
	c.waitFor("the message to wait in the outbox", `window.__attune.state().pending === 1 && document.querySelector('#log .msg--pending') !== null`)
	c.waitFor("the reconnecting notice", `!document.getElementById('conn').hidden && document.getElementById('conn').textContent.trim() !== ''`)
	upgrades = ts.upgrades.Load()
	// Backoff, not a socket per keystroke: typing the message must not hammer a restarting server
	// (nor push the widget's next attempt to the 30 s cap).
	if tries := upgrades - awayFrom; tries > 5 {
		t.Errorf("the widget tried %d sockets while the server was away for about a second; want a few, with backoff", tries)
	}
	ts.comeBack(t)
	waitCount(t, b, "a reconnect after the restart", &ts.upgrades, upgrades+1)
	c.waitConnected()
	msgs := c.until("the message written while the server was away, stored and answered", func(m []shown) bool { _, _, ok := answered(m, offline); return ok })
	visitor, _, _ := answered(msgs, offline)
	if int64(visitor.Seq) <= mid.LastSeq {
		t.Errorf("offline message seq %v, want after %d", visitor.Seq, mid.LastSeq)
	}
	c.waitFor("the outbox to empty and the notice to go", `window.__attune.state().pending === 0 && document.getElementById('conn').hidden`)
	end := c.state()
	if end.ConversationID != start.ConversationID {
		t.Errorf("after the restart the widget is in conversation %q, want %q", end.ConversationID, start.ConversationID)
	}
	final := confirmed(c.transcript())
	checkOrdered(t, final)
	count := 0
	for _, m := range final {
		if m.From == "visitor" && m.Text == offline {
			count++
		}
	}
	if count != 1 {
		t.Errorf("the offline message is shown %d times, want once", count)
	}
}

// waitCount waits for a server-side counter to reach n.
func waitCount(t *testing.T, b *browser, what string, v *atomic.Int64, n int64) {
	t.Helper()
	for v.Load() < n {
		select {
		case <-b.ctx.Done():
			t.Fatalf("timed out waiting for %s (counter %d, want %d)", what, v.Load(), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestBrowserMessageLength checks the composer at the configured limit: a message of exactly the
// limit in characters (code points, as the server counts them, not UTF-16 units) is sent; one
// character more gets an inline alert and stays in the box, unsent.
func TestBrowserMessageLength(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: "window"}
	max := ts.Config.Widget.MaxMessageChars

	b.navigate(ts.URL + "/widget/frame")
	c.waitConnected()
	c.waitMessages("the greeting", 1)
	b.do("click the message box", chromedp.Click(chromedp.ID("input")))

	over := strings.Repeat("b", max) + "!"
	b.insertText(over)
	c.waitFor("the over-limit counter", `document.getElementById('counter').classList.contains('over') && document.getElementById('input').getAttribute('aria-invalid') === 'true'`)
	if got := eval[string](b, `document.getElementById('counter').textContent`); !strings.Contains(got, "1 character over") {
		t.Errorf("counter says %q, want it to say the text is 1 character over the limit", got)
	}
	b.pressEnter()
	c.waitFor("an inline alert", `(() => { const n = document.getElementById('notice'); return !n.hidden && n.getAttribute('role') === 'alert' && n.textContent.trim() !== ''; })()`)
	if got := eval[string](b, `document.getElementById('notice').textContent`); !strings.Contains(got, "1 character too long") {
		t.Errorf("the alert says %q; want it to say the message is 1 character too long", got)
	}
	if got := eval[string](b, `document.getElementById('input').value`); got != over {
		t.Errorf("after the refused send the message box holds %d characters, want the %d typed", len([]rune(got)), len([]rune(over)))
	}
	if s := c.state(); s.Pending != 0 {
		t.Errorf("an over-limit message was queued for sending (%d pending)", s.Pending)
	}
	if msgs := c.transcript(); len(msgs) != 1 {
		t.Errorf("an over-limit message reached the transcript: %+v", msgs)
	}

	// Exactly at the limit with an emoji (2 UTF-16 units, 1 character): accepted by both sides.
	b.do("select all", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.keys(kb.Backspace)
	c.waitFor("an empty message box", `document.getElementById('input').value === ''`)
	atLimit := strings.Repeat("a", max-1) + "🍞"
	b.insertText(atLimit)
	c.waitFor("the text at the limit", `document.getElementById('input').value.length === `+fmt.Sprint(max+1))
	if eval[bool](b, `document.getElementById('counter').classList.contains('over')`) {
		t.Errorf("a message of exactly %d characters is flagged as over the limit", max)
	}
	b.pressEnter()
	msgs := confirmed(c.waitMessages("the message at the limit to be stored", 2))
	if msgs[1].From != "visitor" || msgs[1].Text != atLimit || msgs[1].Failed {
		t.Errorf("second message: from %q, %d characters, failed=%v; want the visitor's %d-character message", msgs[1].From, len([]rune(msgs[1].Text)), msgs[1].Failed, max)
	}
}

// TestBrowserScreenshots lays the demo page out with the panel open at desktop and phone sizes
// and in dark mode, checks the geometry (nothing off-screen, nothing overlapping, text contrast)
// and saves PNG screenshots for a person to look at.
func TestBrowserScreenshots(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: panelWinJS}
	dir := os.Getenv("ATTUNE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}

	open := func() {
		t.Helper()
		b.waitFor("the launcher", launcherJS+` !== null && `+panelJS+`.contentWindow.__attune !== undefined`, nil)
		b.do("click the launcher", chromedp.Click(chromedp.JSPath(launcherJS)))
		b.waitFor("the open panel", `(() => { const p = `+panelJS+`, s = getComputedStyle(p);
			return p.classList.contains('open') && s.opacity === '1' && s.transform === 'none'; })()`, nil)
	}

	// Desktop.
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	b.navigate(ts.URL + "/")
	open()
	c.waitMessages("the greeting", 1)
	question, _ := ts.faq(t)
	c.sendAndAwaitReply(question)
	c.sendAndAwaitReply("Do you have anything without <b>gluten</b>?")
	checkLayout(t, b, c, false)
	b.screenshot(filepath.Join(dir, "desktop.png"))

	b.do("dark mode", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	b.waitFor("dark colours in the panel", `(`+panelWinJS+`).matchMedia('(prefers-color-scheme: dark)').matches`, nil)
	checkLayout(t, b, c, false)
	b.screenshot(filepath.Join(dir, "desktop-dark.png"))
	b.do("light mode", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		return err
	}))

	// Phone: the panel takes the whole screen and has its own close button.
	b.do("phone viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulateScale(2), chromedp.EmulatePortrait))
	b.navigate(ts.URL + "/")
	open()
	c.waitMessages("the resumed conversation", 5)
	checkLayout(t, b, c, true)
	b.screenshot(filepath.Join(dir, "mobile.png"))

	b.do("tap the panel's close button", chromedp.Click(chromedp.JSPath(`(`+panelWinJS+`).document.getElementById('close')`)))
	b.waitFor("the panel to close and the launcher to come back", `!`+panelJS+`.classList.contains('open') && getComputedStyle(`+launcherJS+`).display !== 'none'`, nil)
	// Closing from inside the chat hands the focus back to the launcher, not to the top of the page.
	b.waitFor("the focus back on the launcher", widgetHostJS+`.shadowRoot.activeElement === `+launcherJS, nil)
}

// layout is what checkLayout measures; rectangles are [left, top, right, bottom] in CSS pixels of
// the top page.
type layout struct {
	ViewW, ViewH float64
	Panel        [4]float64
	Launcher     [4]float64
	LauncherShow bool
	// Inside the frame, in the frame's own coordinates.
	FrameW, FrameH  float64
	ScrollW         float64
	Header, Log     [4]float64
	Composer, Input [4]float64
	CloseShown      bool
	Contrast        []contrastPair
}

type contrastPair struct {
	What  string
	Ratio float64
}

func checkLayout(t *testing.T, b *browser, c chat, phone bool) {
	t.Helper()
	l := eval[layout](b, `(() => {
	const rect = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
	const panel = `+panelJS+`, launcher = `+launcherJS+`, w = panel.contentWindow, d = w.document;
	const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	const bgOf = el => { for (; el; el = el.parentElement) { const c = rgb(w.getComputedStyle(el).backgroundColor); if (c.length === 3 || c[3] > 0) return c; } return [255, 255, 255]; };
	const ratio = el => { const a = lum(rgb(w.getComputedStyle(el).color)), b = lum(bgOf(el)); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
	const pairs = [];
	for (const [what, sel] of [['visitor bubble', '.msg--visitor .bubble'], ['bot bubble', '.msg--bot .bubble'], ['message meta', '.msg .meta'],
		['message time', '.msg .foot'], ['header', '.header'], ['message box', '#input']]) {
		const el = d.querySelector(sel);
		if (el) pairs.push({What: what, Ratio: ratio(el)});
	}
	const close = d.getElementById('close');
	return {ViewW: innerWidth, ViewH: innerHeight, Panel: rect(panel), Launcher: rect(launcher),
		LauncherShow: getComputedStyle(launcher).display !== 'none',
		FrameW: w.innerWidth, FrameH: w.innerHeight, ScrollW: d.documentElement.scrollWidth,
		Header: rect(d.querySelector('.header')), Log: rect(d.getElementById('log')),
		Composer: rect(d.getElementById('composer')), Input: rect(d.getElementById('input')),
		CloseShown: !close.hidden && close.getBoundingClientRect().width > 0, Contrast: pairs};
})()`)
	inside := func(what string, r [4]float64, w, h float64) {
		t.Helper()
		const slack = 0.5
		if r[0] < -slack || r[1] < -slack || r[2] > w+slack || r[3] > h+slack || r[2]-r[0] < 1 || r[3]-r[1] < 1 {
			t.Errorf("%s at %v is not fully inside the %gx%g viewport", what, r, w, h)
		}
	}
	inside("the panel", l.Panel, l.ViewW, l.ViewH)
	for _, p := range []struct {
		what string
		r    [4]float64
	}{{"the panel header", l.Header}, {"the transcript", l.Log}, {"the composer", l.Composer}, {"the message box", l.Input}} {
		inside(p.what, p.r, l.FrameW, l.FrameH)
	}
	if l.ScrollW > l.FrameW+0.5 {
		t.Errorf("the panel scrolls sideways: content %gpx wide in a %gpx frame", l.ScrollW, l.FrameW)
	}
	if l.Log[3] > l.Composer[1]+0.5 || l.Header[3] > l.Log[1]+0.5 {
		t.Errorf("header %v, transcript %v and composer %v overlap", l.Header, l.Log, l.Composer)
	}
	if phone {
		if l.Panel != [4]float64{0, 0, l.ViewW, l.ViewH} {
			t.Errorf("on a phone the panel is at %v; want the whole %gx%g screen", l.Panel, l.ViewW, l.ViewH)
		}
		if l.LauncherShow {
			t.Errorf("on a phone the launcher still shows over the full-screen panel")
		}
		if !l.CloseShown {
			t.Errorf("on a phone the full-screen panel has no visible close button")
		}
	} else {
		inside("the launcher", l.Launcher, l.ViewW, l.ViewH)
		if l.Panel[3] > l.Launcher[1] && l.Panel[0] < l.Launcher[2] && l.Launcher[0] < l.Panel[2] {
			t.Errorf("the panel %v overlaps the launcher %v", l.Panel, l.Launcher)
		}
	}
	if len(l.Contrast) < 5 {
		t.Errorf("contrast measured for %d elements only: %+v", len(l.Contrast), l.Contrast)
	}
	t.Logf("text contrast: %+v", l.Contrast)
	for _, p := range l.Contrast {
		if p.Ratio < 4.5 {
			t.Errorf("%s: contrast %.2f:1, below WCAG AA 4.5:1", p.What, p.Ratio)
		}
	}
}

// axNode returns Chromium's accessibility-tree node for the element.
func axNode(b *browser, jsPath string) *accessibility.Node {
	b.t.Helper()
	nodes, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.JSPath(jsPath)))
	if err != nil || len(nodes) == 0 {
		b.t.Fatalf("find %s: %v", jsPath, err)
	}
	res, err := chromedp.Run(b.ctx, func(ctx context.Context, tg *chromedp.Target) (accessibility.GetPartialAXTreeResult, error) {
		no := false
		return cdp.Call(ctx, tg, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{BackendNodeID: nodes[0].BackendNodeID, FetchRelatives: &no})
	})
	if err != nil || len(res.Nodes) == 0 {
		b.t.Fatalf("accessibility tree of %s: %v", jsPath, err)
	}
	return res.Nodes[0]
}

// accessibleName returns the role and the accessible name Chromium computes for the element.
func accessibleName(b *browser, jsPath string) (role, name string) {
	b.t.Helper()
	n := axNode(b, jsPath)
	str := func(v *accessibility.Value) string {
		var s string
		if v != nil && json.Unmarshal(v.Value, &s) == nil {
			return s
		}
		return ""
	}
	return str(n.Role), str(n.Name)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// openFrame opens the chat frame itself (same origin as the server, so its window can be read
// directly) on a new demo server, and waits for the connection and the greeting.
func openFrame(t *testing.T) (*testServer, *browser, chat) {
	t.Helper()
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: "window"}
	b.navigate(ts.URL + "/widget/frame")
	c.waitConnected()
	c.waitMessages("the greeting", 1)
	return ts, b, c
}
