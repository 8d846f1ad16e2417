package web_test

// Browser test of the agent console (issue 5): real headless Chromium for the agent and a second
// one for the visitor's widget, against the whole stack with the hand-off queue wired in as
// `attune serve` wires it. Run with `go test -race -run BrowserConsole ./web/`; it skips without
// Chromium except under CI=true. ATTUNE_SCREENSHOTS=DIR keeps the console's screenshots.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/internal/syncbuf"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/store/handoffstore"
	"github.com/attune-chat/attune/web"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

// consoleServer is the stack with a hand-off queue and one agent account.
type consoleServer struct {
	URL             string
	login, password string
	name            string
	hub             *web.Hub
	db              *store.DB
}

// addAgent creates another agent account with the test password.
func (cs *consoleServer) addAgent(t *testing.T, login, name string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(cs.password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hash the password: %v", err)
	}
	if _, err := cs.db.CreateAgent(context.Background(), store.Agent{Login: login, Name: name, Role: "agent", Capacity: 3}, hash); err != nil {
		t.Fatalf("create the agent %s: %v", login, err)
	}
}

// signIn logs an agent into the console and waits for its socket.
func signIn(t *testing.T, ts *consoleServer, b *browser, login string) {
	t.Helper()
	explain := consoleExplain(b)
	b.navigate(ts.URL + "/console")
	b.waitFor("the login form", `document.activeElement && document.activeElement.id === 'login-name'`, explain)
	b.keys(login)
	b.do("focus the password", chromedp.Focus(chromedp.JSPath(`document.getElementById('login-password')`)))
	b.keys(ts.password)
	b.pressEnter()
	b.waitFor("the console to connect", `window.__console.state().connected`, explain)
}

func newConsoleServer(t *testing.T) *consoleServer { t.Helper(); return newConsoleServerAs(t, "agent") }

// newConsoleServerAs is newConsoleServer with an account of the given role (admin or agent).
func newConsoleServerAs(t *testing.T, role string) *consoleServer {
	t.Helper()
	ctx := context.Background()
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatalf("parse the demo configuration: %v", err)
	}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatalf("train the demo configuration: %v", err)
	}
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "attune.db"), store.Options{Logger: logger})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	hub := web.NewHub()
	relay := web.NewRelay(logger)
	// Always open: the test must not depend on the demo's business hours and the clock.
	q, err := handoff.New(handoff.Options{Config: cfg.Handoff, Store: handoffstore.New(db), Notifier: relay, Logger: logger})
	if err != nil {
		db.Close()
		t.Fatalf("handoff.New: %v", err)
	}
	engine, err := bot.New(bot.Options{Store: db, Publisher: hub, Understanding: und, Logger: logger, Handoff: q})
	if err != nil {
		db.Close()
		t.Fatalf("bot.New: %v", err)
	}
	srv, err := web.New(web.Options{Engine: engine, Store: db, Hub: hub, Logger: logger, Handoff: q, Agents: db, Relay: relay})
	if err != nil {
		db.Close()
		t.Fatalf("web.New: %v", err)
	}
	cs := &consoleServer{login: "ana", password: "correct horse battery", name: "Ana Lima", hub: hub, db: db}
	hash, err := bcrypt.GenerateFromPassword([]byte(cs.password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hash the password: %v", err)
	}
	if _, err := db.CreateAgent(ctx, store.Agent{Login: cs.login, Name: cs.name, Role: role, Capacity: 3}, hash); err != nil {
		t.Fatalf("create the agent: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	cs.URL = hs.URL
	t.Cleanup(func() { stopStack(t, srv, hs, engine, db, logs) })
	return cs
}

// consoleState is what console.js reports through window.__console.state().
type consoleState struct {
	Connected bool `json:"connected"`
	Agent     *struct {
		ID    string `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	} `json:"agent"`
	Waiting  []string `json:"waiting"`
	Open     *string  `json:"open"`
	Messages int      `json:"messages"`
}

// consoleExplain describes the console for failure messages; it never fails itself.
func consoleExplain(b *browser) func() string {
	return func() string {
		ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
	state: window.__console && window.__console.state(),
	login: !document.getElementById('login-view').hidden, loginError: document.getElementById('login-error').textContent,
	conn: document.getElementById('conn').textContent, announce: document.getElementById('announce').textContent,
	error: document.getElementById('conv-error').hidden ? '' : document.getElementById('conv-error').textContent,
	queue: document.getElementById('waiting-list').innerText.slice(0, 400),
	log: document.getElementById('log').innerText.slice(-600), focus: document.activeElement && document.activeElement.id}, null, 2)`))
		if err != nil {
			return "the console could not be inspected: " + err.Error()
		}
		return "the console showed:\n" + v
	}
}

// TestBrowserConsoleHandoff is the agent's side of a hand-off end to end: log in, see a visitor's
// request for a person arrive (announced), accept it with the keyboard, read the visitor's
// words with their tone, reply, and see the reply in the visitor's widget; the visitor's answer
// comes back to the console.
func TestBrowserConsoleHandoff(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	visitor := newBrowser(t)
	explain := consoleExplain(agent)
	dir := os.Getenv("ATTUNE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}

	// Log in with the keyboard: the login field has the focus, Enter submits.
	agent.navigate(ts.URL + "/console")
	agent.waitFor("the login form with the focus in it", `document.activeElement && document.activeElement.id === 'login-name'`, explain)
	agent.keys(ts.login)
	agent.do("focus the password", chromedp.Focus(chromedp.JSPath(`document.getElementById('login-password')`)))
	agent.keys("wrong password")
	agent.pressEnter()
	agent.waitFor("the wrong-password message", `!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent.includes('wrong')`, explain)
	agent.do("clear the password", chromedp.Evaluate[chromedp.Void](`document.getElementById('login-password').value = ''`))
	agent.keys(ts.password)
	agent.pressEnter()
	agent.waitFor("the console to connect", `window.__console.state().connected && document.getElementById('login-view').hidden`, explain)
	st := eval[consoleState](agent, `window.__console.state()`)
	if st.Agent == nil || st.Agent.Login != ts.login || st.Agent.Name != ts.name {
		t.Fatalf("signed-in agent %+v; want %s (%s)", st.Agent, ts.login, ts.name)
	}
	if len(st.Waiting) != 0 || st.Open != nil {
		t.Fatalf("a fresh console shows waiting %v, open %v; want an empty queue and nothing open", st.Waiting, st.Open)
	}
	// The announcement line is a live region: it must be in the accessibility tree before the
	// first "New hand-off" arrives, or that is never spoken.
	if !inAXTree(agent, `document.getElementById('announce')`) {
		t.Errorf("the console's announcement line (a live region) is not in the accessibility tree before its first announcement")
	}

	// The visitor asks for a person in the widget.
	w := chat{b: visitor, win: "window"}
	visitor.navigate(ts.URL + "/widget/frame")
	w.waitConnected()
	w.waitMessages("the greeting", 1)
	const ask = "Can I talk to a real person please? My order still has not arrived."
	visitor.do("focus the message box", chromedp.Focus(chromedp.JSPath(`document.getElementById('input')`)))
	w.send(ask)
	w.waitFor("the widget to say the visitor is queued", `!document.getElementById('status').hidden && /line|team|person/i.test(document.getElementById('status-main').textContent)`)
	cid := w.state().ConversationID
	if cid == "" {
		t.Fatal("the widget has no conversation id")
	}

	// The hand-off appears in the console, announced in words (not only by sound or colour).
	agent.waitFor("the hand-off in the queue", fmt.Sprintf(`window.__console.state().waiting.includes(%s)`, jsString(cid)), explain)
	agent.waitFor("the new hand-off announcement", `!document.getElementById('announce').hidden && /hand-off|offered/i.test(document.getElementById('announce').textContent)`, explain)
	row := eval[string](agent, fmt.Sprintf(`document.querySelector('#waiting-list [data-cid="%s"]').innerText`, cid))
	if !strings.Contains(row, "Asked for a person") || !strings.Contains(row, "waiting") {
		t.Errorf("the queue row reads %q; want the reason (asked for a person) and the waiting time", row)
	}
	agent.screenshot(filepath.Join(dir, "console-queue.png"))

	// "a" accepts the top offer; the conversation opens with the whole transcript.
	agent.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	agent.keys("a")
	agent.waitFor("the accepted conversation to open", fmt.Sprintf(`window.__console.state().open === %s && !window.__console.state().waiting.includes(%s)`, jsString(cid), jsString(cid)), explain)
	agent.waitFor("the reply box for the owner", `!document.getElementById('reply').hidden && !document.getElementById('note-mode').checked && !document.getElementById('note-mode').disabled`, explain)
	log := eval[[]struct {
		Cls  string `json:"cls"`
		Text string `json:"text"`
	}](agent, `Array.from(document.querySelectorAll('#log .msg')).map(e => ({cls: e.className, text: e.querySelector('.bubble').textContent}))`)
	sawAsk, sawBot := false, false
	for _, m := range log {
		sawAsk = sawAsk || (strings.Contains(m.Cls, "msg--visitor") && m.Text == ask)
		sawBot = sawBot || strings.Contains(m.Cls, "msg--bot")
	}
	if !sawAsk || !sawBot {
		t.Errorf("the console's transcript %+v lacks the visitor's request (%v) or the bot's turns (%v)", log, sawAsk, sawBot)
	}
	if got := eval[string](agent, `document.getElementById('handoff-facts').innerText`); !strings.Contains(got, "Asked for a person") {
		t.Errorf("the hand-off card reads %q; want the reason", got)
	}
	w.waitFor("the widget to name the agent", fmt.Sprintf(`document.getElementById('who-name').textContent === %s`, jsString(ts.name)))

	// The visitor's widget repeats "typing on" every few seconds while they type: the console's
	// typing line (a live region) says so once, not on every frame.
	listenLive(agent, "window", "typing")
	for i := 0; i < 3; i++ {
		ts.hub.Publish(cid, bot.Event{Typing: &bot.Typing{From: bot.FromVisitor, On: true}})
		agent.waitFor("the visitor's typing line", `document.getElementById('typing').textContent.includes('typing')`, explain)
		time.Sleep(150 * time.Millisecond)
	}
	if n := times(heard(agent, "window", "typing"), "typing"); n != 1 {
		t.Errorf("three \"typing on\" frames from the visitor wrote the console's typing line %d times into its live region, want once: %q", n, heard(agent, "window", "typing"))
	}
	ts.hub.Publish(cid, bot.Event{Typing: &bot.Typing{From: bot.FromVisitor, On: false}})
	agent.waitFor("the typing line to clear", `document.getElementById('typing').textContent === ''`, explain)

	// The agent replies with Enter; the reply reaches the visitor's widget as the agent's.
	const reply = "Hi, I'm Ana. I'm sorry it hasn't arrived — let me check your order now."
	agent.do("focus the reply box", chromedp.Focus(chromedp.JSPath(`document.getElementById('reply-input')`)))
	agent.insertText(reply)
	agent.pressEnter()
	w.until("the agent's reply in the widget", func(m []shown) bool {
		for _, x := range m {
			if x.From == "agent:"+ts.name && x.Text == reply {
				return true
			}
		}
		return false
	})
	agent.waitFor("the reply confirmed in the console", `document.querySelectorAll('#log .msg--agent:not(.msg--pending)').length === 1 && document.querySelectorAll('#log .msg--pending, #log .msg--failed').length === 0`, explain)
	if v := eval[string](agent, `document.getElementById('reply-input').value`); v != "" {
		t.Errorf("the reply box still holds %q after sending", v)
	}

	// The visitor answers; the console shows it live, and the bot stays silent.
	before := eval[consoleState](agent, `window.__console.state()`).Messages
	const thanks = "Thank you, it's order 10452."
	visitor.do("focus the message box", chromedp.Focus(chromedp.JSPath(`document.getElementById('input')`)))
	w.send(thanks)
	agent.waitFor("the visitor's answer in the console", fmt.Sprintf(`Array.from(document.querySelectorAll('#log .msg--visitor .bubble')).some(b => b.textContent === %s)`, jsString(thanks)), explain)
	time.Sleep(500 * time.Millisecond) // give a wrongly answering bot the time to show itself
	after := eval[consoleState](agent, `window.__console.state()`)
	if after.Messages != before+1 {
		t.Errorf("the console has %d messages after the visitor's answer, %d before; want exactly one more (no bot reply while an agent owns the chat)", after.Messages, before)
	}
	agent.screenshot(filepath.Join(dir, "console-conversation.png"))

	// An internal note stays among agents: it is listed in the console, never shown to the visitor.
	const note = "Customer says order 10452; check with the courier."
	agent.do("switch to note mode", chromedp.Click(chromedp.JSPath(`document.getElementById('note-mode')`)))
	agent.do("focus the reply box", chromedp.Focus(chromedp.JSPath(`document.getElementById('reply-input')`)))
	agent.insertText(note)
	agent.pressEnter()
	agent.waitFor("the note in the notes list", fmt.Sprintf(`Array.from(document.querySelectorAll('#notes-list .note:not(.note--pending) .note-text')).some(n => n.textContent === %s)`, jsString(note)), explain)
	time.Sleep(300 * time.Millisecond)
	for _, m := range w.transcript() {
		if strings.Contains(m.Text, "courier") {
			t.Fatalf("the internal note reached the visitor's widget: %+v", m)
		}
	}
	agent.do("back to replies", chromedp.Click(chromedp.JSPath(`document.getElementById('note-mode')`)))

	// Alt+C asks for a resolution; Enter confirms it; the visitor is told the chat ended.
	agent.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	agent.do("press Alt+C", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			ev := input.DispatchKeyEventParams{Type: typ, Key: "c", Code: "KeyC", Modifiers: 1 /* Alt */, WindowsVirtualKeyCode: 67, NativeVirtualKeyCode: 67}
			if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, ev); err != nil {
				return err
			}
		}
		return nil
	}))
	agent.waitFor("the close dialog", `document.getElementById('close-dialog').open`, explain)
	agent.pressEnter()
	agent.waitFor("the conversation closed in the console", `!document.getElementById('close-dialog').open && /closed/i.test(document.getElementById('conv-state').textContent)`, explain)
	// The Close button the focus came back to is gone now that the chat is closed: the keyboard
	// must not be dropped on the page's body.
	checkFocusKept(t, agent, "after closing the conversation")
	w.waitFor("the widget to say the chat ended", `!document.getElementById('status').hidden && /ended/i.test(document.getElementById('status-main').textContent)`)

	// The help dialog lists the shortcuts and opens with "?".
	agent.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	agent.keys("?")
	agent.waitFor("the shortcuts dialog", `document.getElementById('help-dialog').open`, explain)
	if got := eval[string](agent, `document.getElementById('help-dialog').innerText`); !strings.Contains(got, "Alt") || !strings.Contains(got, "Accept") {
		t.Errorf("the shortcuts dialog reads %q; want accept, send and close documented", got)
	}
	agent.do("close the shortcuts dialog", chromedp.Evaluate[chromedp.Void](`document.getElementById('help-dialog').close()`))

	// The visitor starts a new chat with the keyboard: a new conversation with only the greeting.
	// The agent who takes it finds the ended chat under "Earlier conversations" and can open it.
	w.waitFor("the new-chat button", `!document.getElementById('new-chat').hidden`)
	visitor.do("focus the new-chat button", chromedp.Focus(chromedp.JSPath(`document.getElementById('new-chat')`)))
	visitor.pressEnter()
	w.waitFor("a new conversation", fmt.Sprintf(`window.__attune.state().connected && window.__attune.state().conversationId !== '' && window.__attune.state().conversationId !== %s`, jsString(cid)))
	if got := w.waitMessages("the new greeting", 1); len(got) != 1 || got[0].From != "bot" {
		t.Fatalf("the new chat shows %+v; want only the bot's greeting", got)
	}
	if !eval[bool](visitor, `document.getElementById('status').hidden && document.getElementById('new-chat').hidden && document.activeElement.id === 'input'`) {
		t.Errorf("after starting a new chat the ended-chat status or button is still shown, or the message box lacks the focus")
	}
	cid2 := w.state().ConversationID
	w.send("I still need a person, please.")
	agent.waitFor("the new hand-off in the queue", fmt.Sprintf(`window.__console.state().waiting.includes(%s)`, jsString(cid2)), explain)
	agent.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	// This time by keyboard through the queue: open the row, then the header's Accept button.
	agent.do("focus the queue row", chromedp.Focus(chromedp.JSPath(fmt.Sprintf(`document.querySelector('#waiting-list [data-cid="%s"] [data-role="open"]')`, cid2))))
	agent.pressEnter()
	agent.waitFor("the waiting conversation to open", fmt.Sprintf(`window.__console.state().open === %s && !document.getElementById('accept-btn').hidden`, jsString(cid2)), explain)
	agent.do("focus the Accept button", chromedp.Focus(chromedp.JSPath(`document.getElementById('accept-btn')`)))
	agent.pressEnter()
	agent.waitFor("the new conversation to be ours", `document.getElementById('accept-btn').hidden && !document.getElementById('note-mode').disabled`, explain)
	checkFocusKept(t, agent, "after accepting with the header's Accept button")
	agent.waitFor("the ended chat under earlier conversations", `document.querySelectorAll('#earlier-list li button').length === 1 && document.getElementById('earlier-empty').hidden`, explain)
	agent.do("open the earlier conversation", chromedp.Click(chromedp.JSPath(`document.querySelector('#earlier-list li button')`)))
	agent.waitFor("the earlier conversation with its transcript", fmt.Sprintf(`window.__console.state().open === %s && Array.from(document.querySelectorAll('#log .msg--visitor .bubble')).some(b => b.textContent === %s)`, jsString(cid), jsString(ask)), explain)
}

// checkFocusKept fails when the keyboard focus has been dropped on the page's body or is left on
// a control that is no longer shown or usable.
func checkFocusKept(t *testing.T, b *browser, when string) {
	t.Helper()
	// Chromium moves the focus off a control hidden by a style change at its next rendering.
	time.Sleep(100 * time.Millisecond)
	where := eval[string](b, `(() => { const a = document.activeElement;
	if (!a || a === document.body || a === document.documentElement) return 'lost';
	if (a.disabled || a.closest('[hidden]') || a.getClientRects().length === 0) return 'on a hidden or disabled ' + a.tagName + '#' + a.id;
	return ''; })()`)
	if where != "" {
		t.Errorf("%s the keyboard focus is %s", when, where)
	}
}

// TestBrowserConsoleReplyAcrossReconnect drops the agent's socket just as a reply is sent, the
// frame lost with it. After the console reconnects, the reply must be sent again (same id, so the
// server stores it once) and reach the visitor once; and the transcript already on screen must
// not be written into its live region again.
func TestBrowserConsoleReplyAcrossReconnect(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	visitor := newBrowser(t)
	explain := consoleExplain(agent)
	const ask = "I want to talk to a person about my order."
	w, _ := acceptedHandoff(t, ts, agent, visitor, ask)
	listenLive(agent, "window", "log")

	// The next message frame is lost and the socket closes, as when the network drops mid-send.
	agent.do("drop the next message frame with the socket", chromedp.Evaluate[chromedp.Void](`(() => {
	const send = WebSocket.prototype.send;
	WebSocket.prototype.send = function (data) {
		if (typeof data === 'string' && JSON.parse(data).type === 'message') {
			WebSocket.prototype.send = send;
			this.close();
			return;
		}
		return send.call(this, data);
	};
})()`))
	const reply = "Hello, this is Ana: let me look at your order."
	agent.do("focus the reply box", chromedp.Focus(chromedp.JSPath(`document.getElementById('reply-input')`)))
	agent.insertText(reply)
	agent.pressEnter()
	agent.waitFor("the console to reconnect", `window.__console.state().connected && document.getElementById('conn').textContent === 'Connected'`, explain)

	w.until("the reply in the widget after the reconnect", func(m []shown) bool {
		for _, x := range m {
			if x.From == "agent:"+ts.name && x.Text == reply {
				return true
			}
		}
		return false
	})
	agent.waitFor("the reply confirmed in the console", fmt.Sprintf(`Array.from(document.querySelectorAll('#log .msg--agent:not(.msg--pending):not(.msg--failed) .bubble')).some(b => b.textContent === %s)`, jsString(reply)), explain)
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, m := range w.transcript() {
		if m.Text == reply {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the widget shows the reply %d times, want once", n)
	}
	if got := eval[int](agent, fmt.Sprintf(`Array.from(document.querySelectorAll('#log .msg--agent .bubble')).filter(b => b.textContent === %s).length`, jsString(reply))); got != 1 {
		t.Errorf("the console shows the reply %d times, want once", got)
	}
	if n := times(heard(agent, "window", "log"), ask); n != 0 {
		t.Errorf("after the reconnect the visitor's earlier message was written into the console's live transcript again (%d times): %q", n, heard(agent, "window", "log"))
	}
}

// acceptedHandoff signs the agent in, has the visitor ask for a person with ask, and accepts the
// hand-off in the console with the "a" shortcut. It returns the visitor's chat and conversation.
func acceptedHandoff(t *testing.T, ts *consoleServer, agent, visitor *browser, ask string, beforeAccept ...func()) (chat, string) {
	t.Helper()
	explain := consoleExplain(agent)
	agent.navigate(ts.URL + "/console")
	agent.waitFor("the login form", `document.activeElement && document.activeElement.id === 'login-name'`, explain)
	agent.keys(ts.login)
	agent.do("focus the password", chromedp.Focus(chromedp.JSPath(`document.getElementById('login-password')`)))
	agent.keys(ts.password)
	agent.pressEnter()
	agent.waitFor("the console to connect", `window.__console.state().connected`, explain)

	w := chat{b: visitor, win: "window"}
	visitor.navigate(ts.URL + "/widget/frame")
	w.waitConnected()
	w.waitMessages("the greeting", 1)
	visitor.do("focus the message box", chromedp.Focus(chromedp.JSPath(`document.getElementById('input')`)))
	w.send(ask)
	cid := w.state().ConversationID
	agent.waitFor("the hand-off in the queue", fmt.Sprintf(`window.__console.state().waiting.includes(%s)`, jsString(cid)), explain)
	for _, f := range beforeAccept {
		f()
	}
	agent.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	agent.keys("a")
	agent.waitFor("the accepted conversation", fmt.Sprintf(`window.__console.state().open === %s && !document.getElementById('note-mode').disabled`, jsString(cid)), explain)
	return w, cid
}

// TestBrowserConsoleNarrow lays the console out at 320x640 (a phone, or a desktop window zoomed
// to 400 %, WCAG's reflow width) and at 900x600 (a laptop window at half the screen): no sideways
// scrolling, and no pane (queue, transcript, details) squeezed to a sliver to fit the height.
func TestBrowserConsoleNarrow(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	visitor := newBrowser(t)
	acceptedHandoff(t, ts, agent, visitor, "I want to talk to a person about my order, please.")
	dir := os.Getenv("ATTUNE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}

	type pane struct {
		Height, Content float64
	}
	type panes struct {
		ViewW, ViewH, ScrollW float64
		Queue, Log, Side      pane
	}
	for _, size := range [][2]int64{{320, 640}, {900, 600}} {
		agent.do("viewport", chromedp.EmulateViewport(size[0], size[1]))
		agent.waitFor("the new layout", fmt.Sprintf(`innerWidth === %d && innerHeight === %d`, size[0], size[1]), nil)
		got := eval[panes](agent, `(() => { const p = id => { const e = document.getElementById(id); return {Height: e.getBoundingClientRect().height, Content: e.scrollHeight}; };
	return {ViewW: innerWidth, ViewH: innerHeight, ScrollW: document.documentElement.scrollWidth, Queue: p('queue'), Log: p('log'), Side: p('side')}; })()`)
		agent.screenshot(filepath.Join(dir, fmt.Sprintf("console-%dx%d.png", size[0], size[1])))
		if got.ScrollW > got.ViewW+0.5 {
			t.Errorf("at %g px wide the console scrolls sideways (%g px of content)", got.ViewW, got.ScrollW)
		}
		// A pane shows all its content or at least 40 % of the screen's height before it scrolls.
		for _, p := range []struct {
			name string
			p    pane
		}{{"queue", got.Queue}, {"details pane", got.Side}} {
			if want := min(p.p.Content, 0.4*got.ViewH); p.p.Height < want-1 {
				t.Errorf("at %gx%g the %s is squeezed to %.0f px high (content %.0f px); want at least %.0f", got.ViewW, got.ViewH, p.name, p.p.Height, p.p.Content, want)
			}
		}
		// About eight lines of messages.
		if got.Log.Height < 160 {
			t.Errorf("at %gx%g the transcript is squeezed to %.0f px high; want at least 160 px", got.ViewW, got.ViewH, got.Log.Height)
		}
	}
}

// TestBrowserConsoleOpenNotReadOut opens a conversation and checks that its transcript, however
// long, is not poured into a live region already on the page: a screen reader would read the
// whole history out at once. Only messages arriving afterwards are announced.
func TestBrowserConsoleOpenNotReadOut(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	visitor := newBrowser(t)
	const ask = "Can I speak with a person? My cake order is wrong."
	record := func() {
		// Text added under a node that is already inside a live region is announced; a live
		// region inserted whole, with its content, is not.
		agent.do("record live additions", chromedp.Evaluate[chromedp.Void](`(() => {
	window.__spoken = [];
	new MutationObserver(ms => { for (const m of ms) {
		const live = m.target.nodeType === 1 && m.target.closest('[aria-live]:not([aria-live="off"]), [role="log"], [role="status"], [role="alert"]');
		if (!live) continue;
		for (const n of m.addedNodes) if (n.textContent.trim()) window.__spoken.push(n.textContent);
	} }).observe(document.body, {childList: true, subtree: true});
})()`))
	}
	w, _ := acceptedHandoff(t, ts, agent, visitor, ask, record)
	if n := times(eval[[]string](agent, `window.__spoken`), ask); n != 0 {
		t.Errorf("opening the conversation poured its transcript into a live region: the visitor's request was announced %d time(s)", n)
	}
	const more = "It was supposed to say Happy Birthday Mia."
	visitor.do("focus the message box", chromedp.Focus(chromedp.JSPath(`document.getElementById('input')`)))
	w.send(more)
	agent.waitFor("the visitor's new message", fmt.Sprintf(`Array.from(document.querySelectorAll('#log .msg--visitor .bubble')).some(b => b.textContent === %s)`, jsString(more)), consoleExplain(agent))
	if n := times(eval[[]string](agent, `window.__spoken`), more); n != 1 {
		t.Errorf("a new message in the open conversation was announced %d times, want once", n)
	}
}
