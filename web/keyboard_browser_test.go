package web_test

// Browser tests of the widget with the keyboard alone.

import (
	"testing"

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
	b.waitFor("the panel open again", isOpen, nil)
	b.do("focus the launcher", chromedp.Focus(chromedp.JSPath(launcherJS)))
	b.keys(kb.Escape)
	b.waitFor("Escape on the launcher to close the open panel", `!`+isOpen, nil)
	if !eval[bool](b, onLauncher) {
		t.Errorf("after Escape on the launcher the focus left it")
	}
}
