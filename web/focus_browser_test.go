package web_test

// Browser test of the keyboard focus indicator: walking the console with Tab, every control that
// takes the focus must show an outline that no scrolling or clipping container cuts off.

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
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
