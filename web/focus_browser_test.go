package web_test

// Browser test of the keyboard focus indicator: walking the console with Tab, every control that
// takes the focus must show an outline that no scrolling or clipping container cuts off.

import (
	"context"
	"fmt"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/intents"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"
)

// focusCheckJS describes the focused element and returns "" when its focus outline is drawn and
// whole, or what is wrong with it.
const focusCheckJS = `(() => {
	let a = document.activeElement;
	if (!a || a === document.body) return {id: 'body', problem: ''};
	const s = getComputedStyle(a), r = a.getBoundingClientRect();
	const w = parseFloat(s.outlineWidth) || 0, off = parseFloat(s.outlineOffset) || 0;
	const id = a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + (a.className ? '.' + String(a.className).split(' ').join('.') : '') +
		' "' + (a.getAttribute('aria-label') || a.textContent || '').trim().slice(0, 30) + '"';
	if (s.outlineStyle === 'none' || w === 0) return {id, problem: 'has no focus outline'};
	const o = [r.left - off - w, r.top - off - w, r.right + off + w, r.bottom + off + w];
	for (let e = a.parentElement; e; e = e.parentElement) {
		const es = getComputedStyle(e);
		if (es.overflowX === 'visible' && es.overflowY === 'visible') continue;
		const er = e.getBoundingClientRect();
		if (o[0] < er.left - 0.5 || o[1] < er.top - 0.5 || o[2] > er.right + 0.5 || o[3] > er.bottom + 0.5) {
			return {id, problem: 'has its focus outline cut off by ' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + String(e.className).split(' ').join('.') + ' (overflow ' + es.overflowX + '/' + es.overflowY + ')'};
		}
	}
	return {id, problem: ''};
})()`

// TestBrowserConsoleFocusVisible tabs through the console with a conversation open, its
// suggested and canned replies shown, and checks every focus outline.
func TestBrowserConsoleFocusVisible(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	visitor := newBrowser(t)
	acceptedHandoff(t, ts, agent, visitor, "I want to talk to a person about my order, please.")
	agent.waitFor("the suggested replies", `document.querySelectorAll('#suggest-list .chip').length > 0`, consoleExplain(agent))
	agent.do("show the canned responses", chromedp.Evaluate[chromedp.Void](`document.getElementById('canned').open = true`))

	type focused struct {
		ID, Problem string
	}
	seen := map[string]bool{}
	var problems []string
	for i := 0; i < 80; i++ {
		agent.keys(kb.Tab)
		f := eval[focused](agent, focusCheckJS)
		if seen[f.ID] && f.ID != "body" {
			continue
		}
		seen[f.ID] = true
		if f.Problem != "" {
			problems = append(problems, f.ID+" "+f.Problem)
		}
	}
	if len(seen) < 15 {
		t.Fatalf("Tab reached only %d controls: %v", len(seen), seen)
	}
	if len(problems) > 0 {
		t.Errorf("with the keyboard, the focus is not visible on %d control(s):\n%s", len(problems), strings.Join(problems, "\n"))
	}
}

// TestBrowserWidgetFocusContrast gives the widget a light accent colour, as many brands have, and
// tabs through the chat panel with its offline email form and its new-chat button shown: every
// focus outline must stand out from what is behind it by 3:1 (WCAG 1.4.11), whatever the accent.
func TestBrowserWidgetFocusContrast(t *testing.T) {
	ts := newTestServerConfig(t, func(c *intents.Config) { c.Widget.Accent = "#ffd43b" })
	b := newBrowser(t)
	c := chat{b: b, win: "window"}

	b.navigate(ts.URL + "/widget/frame")
	c.waitConnected()
	c.waitMessages("the greeting", 1)
	cid := c.state().ConversationID
	ts.hub.Publish(cid, bot.Event{State: &bot.StateChange{State: "queued", Position: 1, AgentsOnline: 0, Reason: "asked_for_person", Offline: true}})
	c.waitFor("the offline email form", `document.getElementById('email-input') !== null && document.getElementById('email-input').getClientRects().length > 0`)

	check := func(when string) {
		t.Helper()
		seen := map[string]bool{}
		for i := 0; i < 12; i++ {
			b.keys(kb.Tab)
			f := eval[struct {
				ID, Outline string
				Ratio       float64
			}](b, `(() => {
	const a = document.activeElement, s = getComputedStyle(a);
	const rgba = v => { const x = (v.match(/[\d.]+/g) || []).map(Number); return x.length === 3 ? x.concat(1) : x; };
	const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	let bg = [255, 255, 255];
	for (let e = a.parentElement; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) { bg = c; break; } }
	const o = rgba(s.outlineColor), x = lum(o), y = lum(bg);
	return {ID: a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + '.' + a.className, Outline: s.outlineStyle + ' ' + s.outlineColor + ' on ' + bg.join(','),
		Ratio: s.outlineStyle === 'none' ? 0 : (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05)};
})()`)
			if seen[f.ID] || f.ID == "body." { // past the last control: the browser's own UI
				continue
			}
			seen[f.ID] = true
			if f.Ratio < 3 {
				t.Errorf("%s: the focus outline of %s (%s) has contrast %.2f:1 with what is behind it, below 3:1", when, f.ID, f.Outline, f.Ratio)
			}
		}
		if !seen["input#email-input."] && !seen["button#new-chat.new-chat"] {
			t.Errorf("%s: Tab never reached the email form or the new-chat button: %v", when, seen)
		}
	}
	check("waiting offline")
	ts.hub.Publish(cid, bot.Event{State: &bot.StateChange{State: "closed"}})
	c.waitFor("the new-chat button", `document.getElementById('new-chat') !== null && !document.getElementById('new-chat').hidden`)
	check("chat ended")
}

// TestBrowserLauncherFocusContrast checks the launcher's focus indicator with a light accent on a
// white page: it must stand out from the page by 3:1 (WCAG 1.4.11), not be drawn in the accent.
func TestBrowserLauncherFocusContrast(t *testing.T) {
	ts := newTestServerConfig(t, func(c *intents.Config) { c.Widget.Accent = "#ffd43b" })
	b := newBrowser(t)
	b.navigate(ts.URL + "/")
	b.waitFor("the launcher", launcherJS+` !== null`, nil)
	for i := 0; i < 80 && !eval[bool](b, widgetHostJS+`.shadowRoot.activeElement === `+launcherJS); i++ {
		b.keys(kb.Tab)
	}
	got := eval[struct {
		Outline string
		Ratio   float64
	}](b, `(() => {
	const s = getComputedStyle(`+launcherJS+`);
	const rgba = v => { const x = (v.match(/[\d.]+/g) || []).map(Number); return x.length === 3 ? x.concat(1) : x; };
	const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	let bg = rgba(getComputedStyle(document.body).backgroundColor);
	if (bg[3] === 0) bg = rgba(getComputedStyle(document.documentElement).backgroundColor);
	if (bg[3] === 0) bg = [255, 255, 255, 1];
	const x = lum(rgba(s.outlineColor)), y = lum(bg);
	return {Outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor + ' on ' + bg.join(','),
		Ratio: s.outlineStyle === 'none' ? 0 : (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05)};
})()`)
	if got.Ratio < 3 {
		t.Errorf("the focused launcher's outline (%s) has contrast %.2f:1 with the page, below 3:1", got.Outline, got.Ratio)
	}
}

// TestBrowserConsoleAlertsButtonKeepsFocus turns desktop alerts on with the keyboard: the button
// goes away once they are allowed, and the focus must not be dropped on the page's body.
func TestBrowserConsoleAlertsButtonKeepsFocus(t *testing.T) {
	ts := newConsoleServer(t)
	agent := newBrowser(t)
	explain := consoleExplain(agent)
	agent.navigate(ts.URL + "/console")
	agent.waitFor("the login form", `document.activeElement && document.activeElement.id === 'login-name'`, explain)
	agent.keys(ts.login)
	agent.do("focus the password", chromedp.Focus(chromedp.JSPath(`document.getElementById('login-password')`)))
	agent.keys(ts.password)
	agent.pressEnter()
	agent.waitFor("the console with its alerts button", `window.__console.state().connected && !document.getElementById('notify-btn').hidden`, explain)
	// The agent will say yes when the browser asks.
	agent.do("allow notifications", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: ts.URL})
		return err
	}))
	agent.do("focus the alerts button", chromedp.Focus(chromedp.ID("notify-btn")))
	agent.pressEnter()
	agent.waitFor("the alerts button gone", `document.getElementById('notify-btn').hidden`, explain)
	checkFocusKept(t, agent, "after turning desktop alerts on")
}

// queuedVisitor opens a visitor socket that asks for a person and returns its conversation once
// it is queued.
func queuedVisitor(t *testing.T, url string) string {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws/visitor", nil)
	if err != nil {
		t.Fatalf("visitor socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var cid string
	for _, f := range []map[string]any{{"type": "hello"}, {"type": "message", "id": "m1", "text": "I want to talk to a human please"}} {
		if err := conn.WriteJSON(f); err != nil {
			t.Fatalf("visitor send: %v", err)
		}
	}
	for {
		var f map[string]any
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("visitor waiting to be queued: %v", err)
		}
		if f["type"] == "welcome" {
			cid, _ = f["conversation_id"].(string)
		}
		if f["type"] == "state" && f["state"] == "queued" {
			return cid
		}
	}
}

// TestBrowserConsoleFocusWhenWaitingRowTaken has two agents looking at the same queue. While
// one agent's keyboard focus is on a waiting conversation, the other accepts it: the row leaves
// the waiting list, and the focus must go to the next waiting row (or, with none left, to the
// Waiting heading), not fall to the page's body or jump into another list.
func TestBrowserConsoleFocusWhenWaitingRowTaken(t *testing.T) {
	ts := newConsoleServer(t)
	ts.addAgent(t, "bo", "Bo Chen")
	ana, bo := newBrowser(t), newBrowser(t)
	signIn(t, ts, ana, ts.login)
	signIn(t, ts, bo, "bo")
	first := queuedVisitor(t, ts.URL)
	second := queuedVisitor(t, ts.URL)
	both := fmt.Sprintf(`window.__console.state().waiting.includes(%s) && window.__console.state().waiting.includes(%s)`, jsString(first), jsString(second))
	ana.waitFor("both conversations waiting", both, consoleExplain(ana))
	bo.waitFor("both conversations waiting", both, consoleExplain(bo))

	row := func(cid, role string) string {
		return fmt.Sprintf(`document.querySelector('#waiting-list [data-cid=%s] [data-role=%s]')`, jsString(cid), jsString(role))
	}
	focusAt := `(() => { const a = document.activeElement, r = a && a.closest('[data-cid]');
	return (a ? a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') : 'none') + (r ? ' in ' + r.parentElement.id + ' row ' + r.getAttribute('data-cid') + ' (' + (a.getAttribute('data-role') || '') + ')' : ''); })()`
	takenBy := func(cid string) {
		t.Helper()
		bo.do("Bo accepts "+cid, chromedp.Evaluate[chromedp.Void](row(cid, "accept")+`.click()`))
		ana.waitFor("the conversation gone from Ana's waiting list", fmt.Sprintf(`!window.__console.state().waiting.includes(%s)`, jsString(cid)), consoleExplain(ana))
		time.Sleep(200 * time.Millisecond)
	}

	// Ana is on the first row's Accept button when Bo takes it: the next row's Accept button.
	ana.do("focus the first row's Accept", chromedp.Evaluate[chromedp.Void](row(first, "accept")+`.focus()`))
	takenBy(first)
	want := "button in waiting-list row " + second + " (accept)"
	if got := eval[string](ana, focusAt); got != want {
		t.Errorf("the focused waiting row was accepted by another agent: Ana's focus went to %q, want the next waiting row (%q)", got, want)
	}

	// Ana is on the last waiting row when Bo takes it: the Waiting heading.
	ana.do("focus the last row", chromedp.Evaluate[chromedp.Void](row(second, "open")+`.focus()`))
	takenBy(second)
	if got := eval[string](ana, focusAt); got != "h2#waiting-h" {
		t.Errorf("the last waiting row was accepted by another agent: Ana's focus went to %q, want the Waiting heading", got)
	}
}
