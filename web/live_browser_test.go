package web_test

// Browser tests of what screen readers hear: the live regions of the chat panel (the transcript
// and the typing line). A live region announces every text node added to it, so a message or a
// typing line written into the DOM twice is spoken twice. These tests record, with a
// MutationObserver, the text added to each live region and count how often each thing was said.

import (
	"context"
	"fmt"

	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"

	"github.com/attune-chat/attune/bot"
	"github.com/chromedp/chromedp"
)

// listenLive starts recording, in the window win, the text added to the elements with these ids
// (text inside aria-hidden subtrees is not spoken and not recorded). heard reads the record.
func listenLive(b *browser, win string, ids ...string) {
	b.t.Helper()
	b.do("record the live regions", chromedp.Evaluate[chromedp.Void](`(() => {
	const w = `+win+`, d = w.document;
	w.__heard = w.__heard || {};
	for (const id of `+jsonIDs(ids)+`) {
		const root = d.getElementById(id), rec = w.__heard[id] = [];
		const hidden = n => {
			for (let e = n.nodeType === 1 ? n : n.parentElement; e; e = e.parentElement) {
				if (e.getAttribute('aria-hidden') === 'true') return true;
				if (e === root) break;
			}
			return false;
		};
		new w.MutationObserver(ms => {
			for (const m of ms) {
				if (m.type === 'characterData') { if (!hidden(m.target) && m.target.data.trim()) rec.push(m.target.data); continue; }
				for (const n of m.addedNodes) if (!hidden(n) && n.textContent.trim()) rec.push(n.textContent);
			}
		}).observe(root, {childList: true, subtree: true, characterData: true});
	}
})()`))
}

func jsonIDs(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = jsString(id)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// heard returns what was added to the live region id since listenLive.
func heard(b *browser, win, id string) []string {
	b.t.Helper()
	return eval[[]string](b, `(`+win+`).__heard[`+jsString(id)+`]`)
}

// times counts the additions that contain text.
func times(added []string, text string) int {
	n := 0
	for _, a := range added {
		if strings.Contains(a, text) {
			n++
		}
	}
	return n
}

// TestBrowserLiveTranscriptOnce checks that each message enters the transcript's live region once:
// the visitor's own message is shown at once as pending and then confirmed in place, and the
// confirmation must not write its text into the region a second time.
func TestBrowserLiveTranscriptOnce(t *testing.T) {
	ts, b, c := openFrame(t)
	listenLive(b, c.win, "log")
	b.do("click the message box", chromedp.Click(chromedp.ID("input")))
	question, _ := ts.faq(t)
	_, reply := c.sendAndAwaitReply(question)
	c.waitFor("the visitor's message confirmed", `document.querySelectorAll('#log .msg--pending').length === 0`)

	added := heard(b, c.win, "log")
	if n := times(added, question); n != 1 {
		t.Errorf("the visitor's message was written into the transcript's live region %d times, want once: %q", n, added)
	}
	if n := times(added, reply.Text); n != 1 {
		t.Errorf("the bot's reply was written into the transcript's live region %d times, want once: %q", n, added)
	}
}

// TestBrowserLiveTypingOnce checks that the typing line is announced when someone starts typing,
// not again on every repeated "typing on" frame (an agent's console repeats it every few seconds
// while the agent types).
func TestBrowserLiveTypingOnce(t *testing.T) {
	ts, b, c := openFrame(t)
	cid := c.state().ConversationID
	listenLive(b, c.win, "typing")
	for i := 0; i < 3; i++ {
		ts.hub.Publish(cid, bot.Event{Typing: &bot.Typing{From: bot.FromAgent, On: true}})
		c.waitFor("the typing line", `document.getElementById('typing').textContent.includes('typing')`)
		time.Sleep(150 * time.Millisecond)
	}
	added := heard(b, c.win, "typing")
	if n := times(added, "typing"); n != 1 {
		t.Errorf("three \"typing on\" frames from the agent wrote the typing line %d times into its live region, want once: %q", n, added)
	}
	ts.hub.Publish(cid, bot.Event{Typing: &bot.Typing{From: bot.FromAgent, On: false}})
	c.waitFor("the typing line to clear", `document.getElementById('typing').textContent === ''`)
	ts.hub.Publish(cid, bot.Event{Typing: &bot.Typing{From: bot.FromAgent, On: true}})
	c.waitFor("the typing line again", `document.getElementById('typing').textContent.includes('typing')`)
	if n := times(heard(b, c.win, "typing"), "typing"); n != 2 {
		t.Errorf("typing started again after stopping: the line was written %d times in all, want twice", n)
	}
}

// inAXTree says whether Chromium's accessibility tree has the element (not ignored). A live
// region outside the tree when its text arrives is not announced: it must be in the tree first.
func inAXTree(b *browser, jsPath string) bool {
	b.t.Helper()
	return !axNode(b, jsPath).Ignored
}

// TestBrowserLiveStatusInTree checks that the widget's status lines (queue position, "Ana joined
// the chat", "Reconnecting…") are live regions already in the accessibility tree while empty, so
// that their first text is announced; a region display:none until its text arrives is not.
func TestBrowserLiveStatusInTree(t *testing.T) {
	_, b, _ := openFrame(t)
	for _, id := range []string{"status", "conn"} {
		if !inAXTree(b, `document.getElementById(`+jsString(id)+`)`) {
			t.Errorf("the widget's live region #%s is not in the accessibility tree while it has nothing to say: its first message will not be announced", id)
		}
	}
}

// TestBrowserLiveReconnectingOnce checks that "Reconnecting…" is said once while the server is
// away, not again on every retry of the backoff.
func TestBrowserLiveReconnectingOnce(t *testing.T) {
	ts, b, c := openFrame(t)
	listenLive(b, c.win, "conn")
	ts.goAway(t)
	c.waitFor("the reconnecting line", `!document.getElementById('conn').hidden && document.getElementById('conn').textContent !== ''`)
	tries := ts.upgrades.Load()
	waitCount(t, b, "three more attempts to reconnect", &ts.upgrades, tries+3)
	time.Sleep(100 * time.Millisecond)
	if n := times(heard(b, c.win, "conn"), "econnecting"); n != 1 {
		t.Errorf("while the server was away the connection line said \"Reconnecting…\" %d times, want once: %q", n, heard(b, c.win, "conn"))
	}
	ts.comeBack(t)
	c.waitConnected()
}

// TestBrowserLiveQueueReasonOnce checks that a queue update says what changed (the position), and
// does not read out again the reason line that stayed the same.
func TestBrowserLiveQueueReasonOnce(t *testing.T) {
	ts, b, c := openFrame(t)
	cid := c.state().ConversationID
	listenLive(b, c.win, "status")
	for _, pos := range []int{3, 2, 1} {
		ts.hub.Publish(cid, bot.Event{State: &bot.StateChange{State: "queued", Position: pos, AgentsOnline: 1, Reason: "asked_for_person"}})
		c.waitFor(fmt.Sprintf("position %d", pos), fmt.Sprintf(`/number %d|next/.test(document.getElementById('status-main').textContent)`, pos))
	}
	reason := eval[string](b, `document.getElementById('status-sub').textContent`)
	if reason == "" {
		t.Fatal("the queued state shows no reason line")
	}
	if n := times(heard(b, c.win, "status"), reason); n != 1 {
		t.Errorf("three queue updates with the same reason wrote the reason %d times into the live status line, want once: %q", n, heard(b, c.win, "status"))
	}
}

// recordSpokenFromStart has every document the browser loads from now on (frames included) record
// in window.__spoken the text added under a live region, from before the page's own scripts run.
// Text added to a live region already in the page is announced; a live region inserted whole, with
// its content, is not.
func recordSpokenFromStart(b *browser) {
	b.t.Helper()
	const src = `(() => {
	window.__spoken = [];
	new MutationObserver(ms => { for (const m of ms) {
		const t = m.target.nodeType === 1 ? m.target : m.target.parentElement;
		const live = t && t.closest('[aria-live]:not([aria-live="off"]), [role="log"], [role="status"], [role="alert"]');
		if (!live) continue;
		if (m.type === 'characterData') { if (m.target.data.trim()) window.__spoken.push(m.target.data); continue; }
		for (const n of m.addedNodes) if (n.textContent.trim()) window.__spoken.push(n.textContent);
	} }).observe(document, {childList: true, subtree: true, characterData: true});
})()`
	_, err := chromedp.Run(b.ctx, func(ctx context.Context, tg *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
	})
	if err != nil {
		b.t.Fatalf("record live regions from the start: %v", err)
	}
}

// TestBrowserLiveHistoryNotReadOnLoad reloads a visible chat panel (the frame opened directly,
// as with data-open="true"): the replayed history must not be poured message by message into the
// transcript's live region, or a screen reader reads the whole conversation out on every page
// load. A message arriving after the replay is still announced, once.
func TestBrowserLiveHistoryNotReadOnLoad(t *testing.T) {
	ts, b, c := openFrame(t)
	b.do("click the message box", chromedp.Click(chromedp.ID("input")))
	question, _ := ts.faq(t)
	_, reply := c.sendAndAwaitReply(question)
	before := len(confirmed(c.transcript()))

	recordSpokenFromStart(b)
	b.navigate(ts.URL + "/widget/frame")
	c.waitConnected()
	c.waitMessages("the replayed history", before)
	spoken := eval[[]string](b, `window.__spoken`)
	for _, text := range []string{question, reply.Text} {
		if n := times(spoken, text); n != 0 {
			t.Errorf("on page load the replayed history entered the transcript's live region: %q was announced %d time(s); all added: %q", abbreviate(text), n, spoken)
		}
	}

	const news = "Hi, this is Ana from the team."
	if _, _, err := ts.engine.AgentSay(context.Background(), c.state().ConversationID, "", "Ana", news, nil); err != nil {
		t.Fatalf("agent message: %v", err)
	}
	c.waitFor("the agent's message", fmt.Sprintf(`Array.from(document.querySelectorAll('#log .bubble')).some(b => b.textContent === %s)`, jsString(news)))
	if n := times(eval[[]string](b, `window.__spoken`), news); n != 1 {
		t.Errorf("a message arriving after the replay was announced %d times, want once: %q", n, eval[[]string](b, `window.__spoken`))
	}
}
