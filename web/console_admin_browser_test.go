package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleAdminCloseOnlyOwn: the server lets only the owner close a conversation
// (docs/protocol.md, "close ... owner only"), for admins too, so the console must not offer an
// admin a Close button (or Alt+C) on a conversation waiting in the queue: it could only fail.
func TestBrowserConsoleAdminCloseOnlyOwn(t *testing.T) {
	ts := newConsoleServerAs(t, "admin")
	admin := newBrowser(t)
	visitor := newBrowser(t)
	explain := consoleExplain(admin)

	admin.navigate(ts.URL + "/console")
	admin.waitFor("the login form with the focus in it", `document.activeElement && document.activeElement.id === 'login-name'`, explain)
	admin.keys(ts.login)
	admin.do("focus the password", chromedp.Focus(chromedp.JSPath(`document.getElementById('login-password')`)))
	admin.keys(ts.password)
	admin.pressEnter()
	admin.waitFor("the console to connect", `window.__console.state().connected && document.getElementById('login-view').hidden`, explain)
	// Away: the queue then offers nothing to the admin, and the conversation stays plainly queued.
	admin.do("go away", chromedp.Click(chromedp.JSPath(`document.getElementById('presence-away')`)))
	admin.waitFor("away", `document.getElementById('presence-away').getAttribute('aria-pressed') === 'true'`, explain)

	w := chat{b: visitor, win: "window"}
	visitor.navigate(ts.URL + "/widget/frame")
	w.waitConnected()
	w.waitMessages("the greeting", 1)
	visitor.do("focus the message box", chromedp.Focus(chromedp.JSPath(`document.getElementById('input')`)))
	w.send("Can I talk to a real person please?")
	w.waitFor("the widget to say the visitor is queued", `!document.getElementById('status').hidden && /line|team|person/i.test(document.getElementById('status-main').textContent)`)
	cid := w.state().ConversationID

	admin.waitFor("the hand-off in the queue", fmt.Sprintf(`window.__console.state().waiting.includes(%s)`, jsString(cid)), explain)
	admin.do("open the queued conversation", chromedp.Click(chromedp.JSPath(fmt.Sprintf(`document.querySelector('#waiting-list [data-cid=%s] [data-role="open"]')`, jsString(cid)))))
	admin.waitFor("the queued conversation open", fmt.Sprintf(`window.__console.state().open === %s && !document.getElementById('conv-actions').hidden && !document.getElementById('accept-btn').hidden`, jsString(cid)), explain)
	if !eval[bool](admin, `document.getElementById('close-btn').hidden`) {
		admin.do("close it anyway", chromedp.Evaluate[chromedp.Void](`document.getElementById('close-btn').click()`))
		admin.waitFor("the close dialog", `document.getElementById('close-dialog').open`, explain)
		admin.pressEnter()
		admin.waitFor("the server's answer", `!document.getElementById('conv-error').hidden`, explain)
		t.Fatalf("an admin is offered Close on a queued conversation they do not own; the server answers: %q",
			eval[string](admin, `document.getElementById('conv-error').textContent`))
	}
}
