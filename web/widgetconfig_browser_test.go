package web_test

// Browser test of the widget settings a business writes in its YAML (widget.position and
// widget.title): they must reach a page that embeds the loader with no data attributes.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/attune-chat/attune/intents"
)

func TestBrowserWidgetFollowsItsConfiguration(t *testing.T) {
	ts := newTestServerConfig(t, func(c *intents.Config) {
		c.Widget.Position = "left"
		c.Widget.Title = "Crumb help desk"
	})
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Host</title></head><body><h1>A shop</h1>
<script src="%s/widget.js" async></script></body></html>`, ts.URL)
	}))
	t.Cleanup(host.Close)
	b := newBrowser(t)
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	b.navigate(host.URL + "/")
	b.waitFor("the widget's launcher", launcherJS+` !== null`, nil)

	type box struct{ Left, Right, ViewW float64 }
	l := eval[box](b, `(() => { const r = `+launcherJS+`.getBoundingClientRect(); return {Left: r.left, Right: r.right, ViewW: innerWidth}; })()`)
	if l.Left > 30 || l.Right > l.ViewW/2 {
		t.Errorf("with widget.position: left the launcher is at %+v; want it in the bottom-left corner", l)
	}

	b.do("click the launcher", chromedp.Click(chromedp.JSPath(launcherJS)))
	frameTitle := `(() => { const f = ` + widgetHostJS + `.shadowRoot.querySelector('iframe'); return f ? f.title : ''; })()`
	b.waitFor("the frame to say it is ready with the configured title", frameTitle+` === 'Chat with Crumb help desk'`, nil)

	// The header inside the frame (same origin as the server: open it directly).
	b.navigate(ts.URL + "/widget/frame")
	b.waitFor("the frame's header", `document.querySelector('.who-sub') !== null`, nil)
	if got := eval[string](b, `document.querySelector('.who-sub').textContent`); got != "Crumb help desk" {
		t.Errorf("frame header line = %q, want the configured title %q", got, "Crumb help desk")
	}
}
