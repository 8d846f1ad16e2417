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
