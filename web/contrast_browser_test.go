package web_test

// Browser tests of text contrast in states the layout test does not reach: messages still
// sending (which stay on screen for as long as the visitor or agent is offline).

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// contrastJS is a JavaScript function (win, el) returning the contrast ratio of el's text with
// what is behind it as painted: the colours' own alpha and the opacity of el and its ancestors
// are blended in, as the browser composites them.
const contrastJS = `((w, el) => {
	const rgba = s => { const v = (s.match(/[\d.]+/g) || []).map(Number); return v.length === 3 ? v.concat(1) : v; };
	const mix = (a, b, o) => a.slice(0, 3).map((x, i) => o * x + (1 - o) * b[i]);
	const bgOf = e => {
		const stack = [];
		for (; e; e = e.parentElement) { const c = rgba(w.getComputedStyle(e).backgroundColor); if (c[3] > 0) { stack.push(c); if (c[3] === 1) break; } }
		let out = [255, 255, 255];
		for (let i = stack.length - 1; i >= 0; i--) out = mix(stack[i], out, stack[i][3]);
		return out;
	};
	const lum = c => { const v = c.map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	let bgEl = el;
	while (bgEl && rgba(w.getComputedStyle(bgEl).backgroundColor)[3] === 0) bgEl = bgEl.parentElement;
	let bg = bgOf(el);
	const tc = rgba(w.getComputedStyle(el).color);
	let text = mix(tc, bg, tc[3]);
	let below = true; // walking up: are we still inside bgEl (below the element that paints bg)?
	for (let x = el; x; x = x.parentElement) {
		if (x === bgEl) below = false;
		const o = Number(w.getComputedStyle(x).opacity);
		if (o >= 1) continue;
		const behind = bgOf(x.parentElement);
		text = mix(text, behind, o);
		if (!below) bg = mix(bg, behind, o);
	}
	const a = lum(text), b = lum(bg);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})`

func setColorScheme(b *browser, scheme string) {
	b.t.Helper()
	b.do(scheme+" mode", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	}))
}

// TestBrowserPendingContrast checks that a message waiting to be sent stays readable (WCAG AA,
// 4.5:1): while the server is away the visitor's message waits in the outbox, on screen, for as
// long as the outage lasts; an agent's reply or note does the same in the console.
func TestBrowserPendingContrast(t *testing.T) {
	ts, b, c := openFrame(t)
	b.do("click the message box", chromedp.Click(chromedp.ID("input")))
	ts.goAway(t)
	c.waitFor("the widget to notice the server went away", `!window.__attune.state().connected`)
	c.send("Is my order on its way?")
	c.waitFor("the message waiting in the outbox", `document.querySelector('#log .msg--pending .bubble') !== null`)
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(b, scheme)
		if r := eval[float64](b, contrastJS+`(window, document.querySelector('#log .msg--pending .bubble'))`); r < 4.5 {
			t.Errorf("%s theme: a visitor message waiting to be sent has text contrast %.2f:1, below WCAG AA 4.5:1", scheme, r)
		}
	}
	ts.comeBack(t)

	// The console's stylesheet, on its own page: a reply and a note still sending.
	cs := newConsoleServer(t)
	setColorScheme(b, "light")
	b.navigate(cs.URL + "/console")
	b.waitFor("the console page", `document.getElementById('log') !== null && document.styleSheets.length > 0`, nil)
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(b, scheme)
		got := eval[map[string]float64](b, `(() => {
	const app = document.getElementById('app'); app.hidden = false;
	const log = document.getElementById('log'); log.hidden = false;
	document.getElementById('side').hidden = false;
	log.insertAdjacentHTML('beforeend', '<div class="msg msg--agent msg--pending"><p class="meta"><span class="who">Ana</span></p><div class="bubble">Let me check</div></div>');
	const notes = document.getElementById('notes-list');
	notes.insertAdjacentHTML('beforeend', '<li class="note note--pending"><p class="meta">Ana · saving…</p><p class="note-text">Check with the courier</p></li>');
	const f = `+contrastJS+`;
	const out = {reply: f(window, log.querySelector('.msg--pending .bubble')), note: f(window, notes.querySelector('.note--pending .note-text'))};
	log.lastElementChild.remove(); notes.lastElementChild.remove();
	return out;
})()`)
		for what, r := range got {
			if r < 4.5 {
				t.Errorf("console, %s theme: a %s still sending has text contrast %.2f:1, below WCAG AA 4.5:1", scheme, what, r)
			}
		}
	}
}
