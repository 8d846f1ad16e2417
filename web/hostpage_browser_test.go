package web_test

// Browser test of the widget on someone else's page: the loader is pasted into sites whose CSS
// and scripts we do not control, served from another origin, as in production.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// hostileCSS is stylesheet a real site may well carry: a theme that hides empty divs, and the old
// "GPU layer" hack on the body's top-level divs (a transform makes a fixed-position descendant
// position itself against that div instead of the screen).
const hostileCSS = `
div:empty { display: none !important; }
body > div { transform: translateZ(0); position: relative; z-index: 1; }
`

// TestBrowserWidgetOnHostileHostPage checks that the launcher and the panel stay in the corner of
// the screen and usable whatever the host page's CSS says about divs.
func TestBrowserWidgetOnHostileHostPage(t *testing.T) {
	ts := newTestServer(t)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Host</title><style>%s</style></head><body>
<div><h1>A shop</h1><p>Content.</p></div>
<div style="height: 3000px">Long page</div>
<script src="%s/widget.js" async></script></body></html>`, hostileCSS, ts.URL)
	}))
	t.Cleanup(host.Close)
	b := newBrowser(t)
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	b.navigate(host.URL + "/")
	b.waitFor("the widget's launcher", launcherJS+` !== null`, nil)

	type box struct {
		Shown                    bool
		Left, Top, Right, Bottom float64
		ViewW, ViewH             float64
	}
	measure := func(js string) box {
		t.Helper()
		return eval[box](b, `(() => { const e = `+js+`, r = e.getBoundingClientRect(), s = getComputedStyle(e);
	return {Shown: s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0,
		Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom, ViewW: innerWidth, ViewH: innerHeight}; })()`)
	}
	l := measure(launcherJS)
	if !l.Shown || l.Right < l.ViewW-30 || l.Right > l.ViewW || l.Bottom < l.ViewH-30 || l.Bottom > l.ViewH {
		t.Fatalf("on a host page with its own div styles the launcher is at %+v; want it shown in the bottom-right corner of the %gx%g screen", l, l.ViewW, l.ViewH)
	}
	b.do("click the launcher", chromedp.Click(chromedp.JSPath(launcherJS)))
	b.waitFor("the panel to open", `(() => { const p = `+panelJS+`, s = getComputedStyle(p); return p.classList.contains('open') && s.opacity === '1'; })()`, nil)
	p := measure(panelJS)
	if !p.Shown || p.Left < 0 || p.Top < 0 || p.Right > p.ViewW || p.Bottom > p.ViewH || p.Right-p.Left < 300 {
		t.Errorf("on a host page with its own div styles the open panel is at %+v; want it shown inside the screen", p)
	}
}

// TestBrowserWidgetKeepsHostsAttune loads the widget on a page that has its own window.Attune
// (a product, a library or a company called Attune): the loader must not overwrite it. The
// page's object stays, a console warning says why, and the chat's API is under window.AttuneChat.
func TestBrowserWidgetKeepsHostsAttune(t *testing.T) {
	ts := newTestServer(t)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Host</title>
<script>window.Attune = {version: "host-2.1", track: function () { return "tracked"; }};</script></head><body>
<h1>Attune Analytics</h1>
<script src="%s/widget.js" async></script></body></html>`, ts.URL)
	}))
	t.Cleanup(host.Close)
	b := newBrowser(t)
	warned := make(chan string, 8)
	chromedp.Listen(b.tab, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok && e.Type == runtime.ConsoleAPICalledTypeWarning {
			for _, a := range e.Args {
				select {
				case warned <- string(a.Value):
				default:
				}
			}
		}
	})
	b.navigate(host.URL + "/")
	b.waitFor("the widget's launcher", launcherJS+` !== null`, nil)
	if got := eval[string](b, `window.Attune && window.Attune.version + ' ' + window.Attune.track()`); got != "host-2.1 tracked" {
		t.Errorf("the host page's own window.Attune was replaced: it now gives %q, want the page's object (\"host-2.1 tracked\")", got)
	}
	if !eval[bool](b, `typeof window.AttuneChat === 'object' && typeof window.AttuneChat.open === 'function'`) {
		t.Fatalf("with window.Attune taken by the page, the chat's API is not under window.AttuneChat")
	}
	b.do("open the chat through window.AttuneChat", chromedp.Evaluate[chromedp.Void](`window.AttuneChat.open()`))
	b.waitFor("the panel to open", panelJS+`.classList.contains('open')`, nil)
	select {
	case w := <-warned:
		if !strings.Contains(w, "AttuneChat") {
			t.Errorf("the console warning %s does not name window.AttuneChat", w)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("no console warning says that window.Attune was taken and where the chat's API went")
	}
}
