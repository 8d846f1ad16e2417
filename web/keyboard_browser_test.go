package web_test

// Browser tests of the widget with the keyboard alone.

import (
	"context"
	"fmt"
	"github.com/attune-chat/attune/web"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserWidgetEscape opens the panel from the launcher with the keyboard and closes it with
// Escape, from inside the chat and from the launcher, the focus coming back to the launcher.
func TestBrowserWidgetEscape(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: panelWinJS}
	isOpen := panelJS + `.classList.contains('open')`
	onLauncher := `document.activeElement === ` + widgetHostJS + ` && ` + widgetHostJS + `.shadowRoot.activeElement === ` + launcherJS

	b.navigate(ts.URL + "/")
	b.waitFor("the launcher", launcherJS+` !== null && `+panelWinJS+`.__attune !== undefined`, nil)
	b.do("focus the launcher", chromedp.Focus(chromedp.JSPath(launcherJS)))
	b.pressEnter()
	b.waitFor("the panel open with the focus in the message box", isOpen+` && (`+panelWinJS+`).document.activeElement.id === 'input'`, nil)
	c.waitConnected()

	b.keys(kb.Escape)
	b.waitFor("Escape in the chat to close the panel", `!`+isOpen, nil)
	b.waitFor("the focus back on the launcher", onLauncher, nil)

	// Open again, then go back to the launcher (Shift+Tab out of the chat would do the same).
	b.pressEnter()
	// Opening moves the focus into the message box a moment later: wait for it, or that move
	// could take the focus from the launcher after the test has put it there.
	b.waitFor("the panel open again with the focus in the message box", isOpen+` && (`+panelWinJS+`).document.activeElement.id === 'input'`, nil)
	b.do("focus the launcher", chromedp.Focus(chromedp.JSPath(launcherJS)))
	b.waitFor("the focus on the launcher", onLauncher, nil)
	b.keys(kb.Escape)
	b.waitFor("Escape on the launcher to close the open panel", `!`+isOpen, nil)
	if !eval[bool](b, onLauncher) {
		t.Errorf("after Escape on the launcher the focus left it")
	}
}

// TestBrowserWidgetPhoneFocusStays checks the full-screen panel of a narrow screen (a phone, or a
// desktop window zoomed to 400 %): it covers the host page, so Tab and Shift+Tab must cycle
// through the chat's controls and never move the focus to host-page links hidden behind it.
func TestBrowserWidgetPhoneFocusStays(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: panelWinJS}
	inChat := `document.activeElement === ` + widgetHostJS + ` && ` + widgetHostJS + `.shadowRoot.activeElement === ` + panelJS

	b.do("phone viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	b.navigate(ts.URL + "/")
	b.waitFor("the launcher", launcherJS+` !== null && `+panelWinJS+`.__attune !== undefined`, nil)
	b.do("focus the launcher", chromedp.Focus(chromedp.JSPath(launcherJS)))
	b.pressEnter()
	b.waitFor("the full-screen panel with the focus in the message box", panelJS+`.classList.contains('open') && (`+panelWinJS+`).document.activeElement.id === 'input'`, nil)
	c.waitConnected()
	c.waitMessages("the greeting", 1)

	for _, dir := range []struct {
		name string
		key  string
	}{{"Tab", kb.Tab}, {"Shift+Tab", kb.Tab}} {
		for i := 0; i < 8; i++ {
			if dir.name == "Shift+Tab" {
				b.do("press Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
			} else {
				b.keys(dir.key)
			}
			if !eval[bool](b, inChat) {
				t.Fatalf("after pressing %s %d time(s) in the full-screen chat the focus is on the host page, behind the panel: %s",
					dir.name, i+1, eval[string](b, `document.activeElement.outerHTML.slice(0, 120)`))
			}
		}
	}
}

// TestBrowserWidgetUnreadAnnounced closes the chat and has an agent write: the launcher's badge
// shows the unread message, and a screen reader must be told too (a status message, WCAG 4.1.3),
// once per new message, not only when it happens to focus the launcher.
func TestBrowserWidgetUnreadAnnounced(t *testing.T) {
	ts, b, cid := chatThenClose(t)

	say := func(text string, unread int) {
		t.Helper()
		if _, _, err := ts.engine.AgentSay(context.Background(), cid, "", "Ana", text, nil); err != nil {
			t.Fatalf("agent message: %v", err)
		}
		b.waitFor(fmt.Sprintf("the badge to show %d", unread), fmt.Sprintf(`!%s.shadowRoot.querySelector('.badge').hidden && %s.shadowRoot.querySelector('.badge').textContent === '%d'`, widgetHostJS, widgetHostJS, unread), nil)
	}
	say("Hi, this is Ana from the team.", 1)
	if got := eval[string](b, loaderLiveJS); !strings.Contains(got, "1 unread message") {
		t.Errorf("a new message while the chat is closed: the widget's live regions say %q; want \"1 unread message\" announced", got)
	}
	say("Are you still there?", 2)
	if got := eval[string](b, loaderLiveJS); !strings.Contains(got, "2 unread messages") {
		t.Errorf("a second message while the chat is closed: the widget's live regions say %q; want \"2 unread messages\" announced", got)
	}
}

// TestBrowserWidgetRetryKeepsFocus has a message refused as rate-limited and retried from its
// Retry button with the keyboard: the button goes away with the retry, and the focus must not be
// dropped on the page's body.
func TestBrowserWidgetRetryKeepsFocus(t *testing.T) {
	ts := newTestServer(t, func(o *web.Options) { o.RateBurst, o.RatePerSecond = 1, 0.001 })
	b := newBrowser(t)
	c := chat{b: b, win: "window"}

	b.navigate(ts.URL + "/widget/frame")
	c.waitConnected()
	c.waitMessages("the greeting", 1)
	b.do("click the message box", chromedp.Click(chromedp.ID("input")))
	c.send("Hello")
	c.send("Do you deliver on Sundays?")
	c.waitFor("the refused message with its Retry button", `document.querySelector('#log .msg--failed .error button') !== null`)
	b.do("focus Retry", chromedp.Focus(chromedp.JSPath(`document.querySelector('#log .msg--failed .error button')`)))
	b.pressEnter()
	c.waitFor("the retry to be refused again", `document.querySelector('#log .msg--failed .error button') !== null`)
	if got := eval[string](b, `document.activeElement === document.body ? 'body' : document.activeElement.id || document.activeElement.tagName`); got == "body" {
		t.Errorf("after Retry with the keyboard the focus fell to the page's body")
	}
}

// TestBrowserWidgetEmailKeepsFocus asks for a person while no agent is online and leaves an email
// in the offline form with the keyboard: the form goes away once the address is saved, and the
// focus must not be dropped on the page's body.
func TestBrowserWidgetEmailKeepsFocus(t *testing.T) {
	ts := newConsoleServer(t) // the hand-off queue, and no agent signed in
	b := newBrowser(t)
	c := chat{b: b, win: "window"}

	b.navigate(ts.URL + "/widget/frame")
	c.waitConnected()
	c.waitMessages("the greeting", 1)
	b.do("focus the message box", chromedp.Focus(chromedp.ID("input")))
	c.send("I want to talk to a person please.")
	c.waitFor("the offline email form", `document.getElementById('email-input') !== null && document.getElementById('email-input').getClientRects().length > 0`)
	b.do("focus the email field", chromedp.Focus(chromedp.ID("email-input")))
	b.keys("mia@example.com")
	b.pressEnter()
	c.waitFor("the thanks for the email", `/Thanks/.test(document.getElementById('status-sub').textContent)`)
	time.Sleep(300 * time.Millisecond) // the server's answer (saved, or an error that brings the form back)
	c.waitFor("the form gone", `document.getElementById('email-input').getClientRects().length === 0`)
	checkFocusKept(t, b, "after sending the email with the keyboard")
}

// TestBrowserConsoleSingleKeyShortcutsOff checks WCAG 2.1.4 (character key shortcuts) in the
// console: "a" accepts a conversation, so a speech-input user saying a word with an "a" in it,
// or a stray key press, could take one. The single-key shortcuts must be possible to turn off
// (in the shortcuts help), stay off across a reload, and do nothing while off; turned on again,
// "a" accepts as before.
func TestBrowserConsoleSingleKeyShortcutsOff(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	visitor := newBrowser(t)
	explain := consoleExplain(agent)
	toggle := func(on bool) {
		t.Helper()
		agent.do("open the shortcuts help", chromedp.Click(chromedp.JSPath(`document.getElementById('help-btn')`)))
		agent.waitFor("the shortcuts help with its single-key switch", `document.getElementById('help-dialog').open && document.getElementById('single-keys') !== null`, explain)
		if eval[bool](agent, `document.getElementById('single-keys').checked`) != on {
			agent.do("flip the single-key switch", chromedp.Click(chromedp.JSPath(`document.getElementById('single-keys')`)))
		}
		agent.keys(kb.Escape)
		agent.waitFor("the help closed", `!document.getElementById('help-dialog').open`, explain)
	}
	inert := func(when string) {
		t.Helper()
		agent.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
		agent.keys("a")
		agent.keys("?")
		time.Sleep(500 * time.Millisecond)
		if s := eval[consoleState](agent, `window.__console.state()`); s.Open != nil {
			t.Fatalf("%s, with single-key shortcuts off, \"a\" accepted conversation %s", when, *s.Open)
		}
		if eval[bool](agent, `document.getElementById('help-dialog').open`) {
			t.Fatalf("%s, with single-key shortcuts off, \"?\" opened the help", when)
		}
		if got := eval[string](agent, `document.getElementById('accept-btn').getAttribute('aria-keyshortcuts') || ''`); got != "" {
			t.Errorf("%s, with single-key shortcuts off, the Accept button still announces the shortcut %q", when, got)
		}
	}
	acceptedHandoff(t, ts, agent, visitor, "Can I talk to a person please?", func() {
		toggle(false)
		inert("right after turning them off")
		agent.navigate(ts.URL + "/console")
		agent.waitFor("the console to connect again", `window.__console.state().connected && window.__console.state().waiting.length === 1`, explain)
		inert("after a reload")
		toggle(true) // acceptedHandoff then accepts with "a"
	})
}

// TestBrowserWidgetUnreadNotAnnouncedOnLoad reloads a page whose closed chat has unread
// messages: the launcher describes them, but they are old news and must not be announced on
// every page of the site (the count went up message by message as the history was replayed,
// and each rise was read out). A message arriving afterwards is announced.
func TestBrowserWidgetUnreadNotAnnouncedOnLoad(t *testing.T) {
	badge := func(n int) string {
		return fmt.Sprintf(`!%s.shadowRoot.querySelector('.badge').hidden && %s.shadowRoot.querySelector('.badge').textContent === '%d'`, widgetHostJS, widgetHostJS, n)
	}

	ts, b, cid := chatThenClose(t)
	for _, text := range []string{"Hi, this is Ana from the team.", "Are you still there?"} {
		if _, _, err := ts.engine.AgentSay(context.Background(), cid, "", "Ana", text, nil); err != nil {
			t.Fatalf("agent message: %v", err)
		}
	}
	b.waitFor("the badge to show 2", badge(2), nil)

	b.navigate(ts.URL + "/")
	b.waitFor("the badge to show 2 after the reload", badge(2), nil)
	time.Sleep(300 * time.Millisecond)
	if got := eval[string](b, loaderLiveJS); strings.Contains(got, "unread") {
		t.Errorf("on a page load the unread messages already there were announced: the widget's live regions say %q; want them only in the launcher's description", got)
	}
	if _, _, err := ts.engine.AgentSay(context.Background(), cid, "", "Ana", "I have news about your order.", nil); err != nil {
		t.Fatalf("agent message: %v", err)
	}
	b.waitFor("the badge to show 3", badge(3), nil)
	if got := eval[string](b, loaderLiveJS); !strings.Contains(got, "3 unread messages") {
		t.Errorf("a new message after the page load: the widget's live regions say %q; want \"3 unread messages\" announced", got)
	}
}

// loaderLiveJS reads what the live regions of the loader's shadow root hold.
const loaderLiveJS = `Array.from(` + widgetHostJS + `.shadowRoot.querySelectorAll('[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"]')).map(e => e.textContent).join(' | ')`

// chatThenClose opens the demo page's chat from its launcher, waits for the greeting and closes
// the panel again with Escape, returning the conversation's id.
func chatThenClose(t *testing.T) (*testServer, *browser, string) {
	t.Helper()
	ts := newTestServer(t)
	b := newBrowser(t)
	c := chat{b: b, win: panelWinJS}
	isOpen := panelJS + `.classList.contains('open')`
	b.navigate(ts.URL + "/")
	b.waitFor("the launcher", launcherJS+` !== null && `+panelWinJS+`.__attune !== undefined`, nil)
	b.do("click the launcher", chromedp.Click(chromedp.JSPath(launcherJS)))
	b.waitFor("the panel open", isOpen, nil)
	c.waitConnected()
	c.waitMessages("the greeting", 1)
	b.keys(kb.Escape)
	b.waitFor("the panel closed", `!`+isOpen, nil)
	cid := c.state().ConversationID
	return ts, b, cid
}
