package bot_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/store"
)

// recorder is a bot.Publisher that remembers every event, in order.
type recorder struct {
	mu     sync.Mutex
	events []bot.Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1000)} }

func (r *recorder) Publish(_ string, ev bot.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.notify <- struct{}{}
}

// messages returns the published stored messages.
func (r *recorder) messages() []store.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []store.Message
	for _, ev := range r.events {
		if ev.Message != nil {
			out = append(out, *ev.Message)
		}
	}
	return out
}

// waitMessages waits until n messages have been published.
func (r *recorder) waitMessages(t *testing.T, n int) []store.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if ms := r.messages(); len(ms) >= n {
			return ms
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("waited for %d published messages, have %d: %+v", n, len(r.messages()), r.messages())
		}
	}
}

var quiet = slog.New(slog.DiscardHandler)

type fixture struct {
	engine *bot.Engine
	db     *store.DB
	pub    *recorder
	conv   store.Conversation
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg, err := intents.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pub := newRecorder()
	e, err := bot.New(bot.Options{Store: db, Publisher: pub, Understanding: und, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	conv, err := db.CreateConversation(context.Background(), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{engine: e, db: db, pub: pub, conv: conv}
}

// say sends a visitor message and returns the bot's reply and its decision record.
func (f *fixture) say(t *testing.T, id, text string) (store.Message, store.Decision) {
	t.Helper()
	before := len(f.pub.messages())
	saved, dup, err := f.engine.Receive(context.Background(), f.conv.ID, id, text, nil)
	if err != nil || dup {
		t.Fatalf("Receive(%q) = dup %v, err %v", text, dup, err)
	}
	ms := f.pub.waitMessages(t, before+2)
	reply := ms[before+1]
	if reply.From != bot.FromBot {
		t.Fatalf("expected a bot reply after %q, got %+v", text, reply)
	}
	ds, err := f.db.Decisions(context.Background(), f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	d := ds[len(ds)-1]
	if d.Seq != reply.Seq || d.InReplyTo != saved.Seq {
		t.Fatalf("decision %+v does not belong to reply %d answering %d", d, reply.Seq, saved.Seq)
	}
	return reply, d
}

func TestGreetDisclosesBotAndRecordsDecision(t *testing.T) {
	f := newFixture(t)
	if err := f.engine.Greet(context.Background(), f.conv.ID); err != nil {
		t.Fatal(err)
	}
	ms := f.pub.waitMessages(t, 1)
	if ms[0].Text != "Hello, I'm Testy, the virtual assistant (a bot) of Test Shop." || ms[0].Seq != 1 {
		t.Fatalf("greeting = %+v", ms[0])
	}
	ds, _ := f.db.Decisions(context.Background(), f.conv.ID)
	if len(ds) != 1 || ds[0].Rule != bot.RuleGreeting || ds[0].Source != bot.SourceBuiltin {
		t.Fatalf("decisions = %+v", ds)
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name, text       string
		wantSource       string
		wantRule         string
		wantIntent       string
		wantReplyContain string
	}{
		{"intent answer", "where is my order?", bot.SourceIntent, bot.RuleMatchedIntent, "order_status", "Track your order"},
		{"faq answer", "do you ship to germany", bot.SourceFAQ, bot.RuleMatchedFAQ, "faq/do_you_ship_abroad", "EU countries"},
		{"asks for a person", "I want to talk to a human", bot.SourceContact, bot.RuleAskedForPerson, intents.IntentHuman, "help@shop.example"},
		{"asks whether it is a bot", "are you a bot?", bot.SourceBuiltin, bot.RuleMatchedIntent, intents.IntentBotCheck, "bot"},
		{"topic that needs a person", "my item arrived broken", bot.SourceContact, bot.RuleIntentNeedsPerson, "damaged_item", "+33 1 23 45 67 89"},
		{"out of scope", "what is the weather tomorrow in lyon", bot.SourceFallback, bot.RuleBelowThreshold, "", "put it another way"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			reply, d := f.say(t, "m1", tt.text)
			if d.Source != tt.wantSource || d.Rule != tt.wantRule {
				t.Errorf("source/rule = %s/%s, want %s/%s", d.Source, d.Rule, tt.wantSource, tt.wantRule)
			}
			if tt.wantIntent != "" && d.Intent != tt.wantIntent {
				t.Errorf("intent = %q, want %q", d.Intent, tt.wantIntent)
			}
			if !strings.Contains(reply.Text, tt.wantReplyContain) {
				t.Errorf("reply %q does not contain %q", reply.Text, tt.wantReplyContain)
			}
			var det struct {
				Match struct {
					Prediction struct {
						Top []struct{ Label string } `json:"top"`
					} `json:"prediction"`
				} `json:"match"`
			}
			if err := json.Unmarshal(d.Details, &det); err != nil || len(det.Match.Prediction.Top) == 0 {
				t.Errorf("decision details %s lack the top candidates (%v)", d.Details, err)
			}
		})
	}
}

func TestRepeatedlyUnresolvedPointsToAPerson(t *testing.T) {
	f := newFixture(t)
	gibberish := []string{"blorp zax quib", "tell me a joke about penguins", "who won the football match last night"}
	var last store.Decision
	for i, text := range gibberish {
		_, last = f.say(t, "g"+string(rune('a'+i)), text)
	}
	if last.Rule != bot.RuleUnresolvedLimit {
		t.Fatalf("after %d unresolved turns rule = %q, want %q", len(gibberish), last.Rule, bot.RuleUnresolvedLimit)
	}
}

func TestDuplicateIsNotAnsweredTwice(t *testing.T) {
	f := newFixture(t)
	f.say(t, "same", "where is my order")
	saved, dup, err := f.engine.Receive(context.Background(), f.conv.ID, "same", "where is my order", nil)
	if err != nil || !dup || saved.Seq != 1 {
		t.Fatalf("resend: saved %+v dup %v err %v", saved, dup, err)
	}
	if err := f.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, _ := f.db.MessagesAfter(context.Background(), f.conv.ID, 0, 0)
	if len(all) != 2 {
		t.Fatalf("stored %d messages, want 2 (one visitor message, one reply): %+v", len(all), all)
	}
}

func TestStoredCallbackPrecedesPublication(t *testing.T) {
	f := newFixture(t)
	var sawBefore int
	_, _, err := f.engine.Receive(context.Background(), f.conv.ID, "x", "return policy", func(m store.Message, dup bool) {
		sawBefore = len(f.pub.messages())
	})
	if err != nil {
		t.Fatal(err)
	}
	if sawBefore != 0 {
		t.Fatalf("the stored callback ran after %d publications; it must run before any", sawBefore)
	}
}

func TestRepliesFollowMessageOrder(t *testing.T) {
	f := newFixture(t)
	texts := []string{"where is my order", "return policy", "do you ship abroad", "are you a bot"}
	for i, text := range texts {
		if _, _, err := f.engine.Receive(context.Background(), f.conv.ID, string(rune('a'+i)), text, nil); err != nil {
			t.Fatal(err)
		}
	}
	ms := f.pub.waitMessages(t, 2*len(texts))
	ds, _ := f.db.Decisions(context.Background(), f.conv.ID)
	var answered []int64
	for _, d := range ds {
		answered = append(answered, d.InReplyTo)
	}
	for i := 1; i < len(answered); i++ {
		if answered[i] <= answered[i-1] {
			t.Fatalf("replies answer visitor seqs %v: not in order", answered)
		}
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Seq != ms[i-1].Seq+1 {
			t.Fatalf("published seqs not consecutive: %d then %d", ms[i-1].Seq, ms[i].Seq)
		}
	}
}

func TestStateSurvivesEviction(t *testing.T) {
	f := newFixture(t)
	f.say(t, "a", "blorp zax quib")
	f.say(t, "b", "tell me a joke about penguins")
	// Forget everything in memory, as after a restart.
	cfg := f.engine.Understanding()
	e2, err := bot.New(bot.Options{Store: f.db, Publisher: f.pub, Understanding: cfg})
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e2
	_, d := f.say(t, "c", "who won the football match last night")
	if d.Rule != bot.RuleUnresolvedLimit {
		t.Fatalf("rule after restart = %q, want %q (the unresolved count must be restored)", d.Rule, bot.RuleUnresolvedLimit)
	}
}

func TestClarifyThenAffirm(t *testing.T) {
	f := newFixture(t)
	// Force ambiguity: with a huge ambiguity margin every in-scope topic question is ambiguous.
	u := f.engine.Understanding()
	wide := *u
	wide.Ambiguity = 1
	f.engine.SetUnderstanding(&wide)
	reply, d := f.say(t, "a", "i want to return my order")
	if d.Rule != bot.RuleAmbiguous || !strings.Contains(reply.Text, "do you mean") {
		t.Fatalf("first turn: rule %q reply %q", d.Rule, reply.Text)
	}
	offered := d.Intent
	f.engine.SetUnderstanding(u)
	reply, d = f.say(t, "b", "yes")
	answers := map[string]string{"order_status": "Track your order", "returns": "Returns are free"}
	if d.Rule != bot.RuleClarifyConfirmed || d.Intent != offered || !strings.Contains(reply.Text, answers[offered]) {
		t.Fatalf("after yes: rule %q intent %q (offered %q) reply %q", d.Rule, d.Intent, offered, reply.Text)
	}
}

func replyDetails(t *testing.T, d store.Decision) (ack, style, dominant string) {
	t.Helper()
	var det struct {
		Tone  struct{ Dominant string }   `json:"tone"`
		Reply struct{ Ack, Style string } `json:"reply"`
	}
	if err := json.Unmarshal(d.Details, &det); err != nil {
		t.Fatal(err)
	}
	return det.Reply.Ack, det.Reply.Style, det.Tone.Dominant
}

func TestRepliesAcknowledgeFeelingsInProportion(t *testing.T) {
	f := newFixture(t)
	reply, d := f.say(t, "a", "where is my order")
	if ack, _, _ := replyDetails(t, d); ack != "" || !strings.HasPrefix(reply.Text, "Track your order") {
		t.Fatalf("a neutral question got an acknowledgement %q: %q", ack, reply.Text)
	}
	reply, d = f.say(t, "b", "where is my order?? this is ridiculous")
	ack, _, dominant := replyDetails(t, d)
	if dominant != "frustration" || ack == "" || !strings.HasPrefix(reply.Text, ack) || !strings.Contains(reply.Text, "Track your order") {
		t.Fatalf("frustrated repeat: dominant %q ack %q reply %q", dominant, ack, reply.Text)
	}
	_, d2 := f.say(t, "c", "seriously, where is my order, this is ridiculous")
	if ack2, _, _ := replyDetails(t, d2); ack2 != "" && ack2 == ack {
		t.Fatalf("the same acknowledgement %q was used twice", ack)
	}
}

// Pointing to a person is the right answer, not a failure the bot should apologise for next turn.
func TestPointingToAPersonIsNotAFailure(t *testing.T) {
	f := newFixture(t)
	f.say(t, "a", "my item arrived broken")
	_, d := f.say(t, "b", "I want to talk to a human")
	var det struct {
		Reply struct{ Tone string } `json:"reply"`
	}
	if err := json.Unmarshal(d.Details, &det); err != nil {
		t.Fatal(err)
	}
	if det.Reply.Tone == "stalled" {
		t.Fatalf("after a correct hand-over answer the bot apologised for failing: %s", d.Details)
	}
}

// Issue 4: the acknowledgement is personalised where it can be, with the visitor's name. A
// visitor who introduced themselves is addressed by name, in that turn and later ones, also after
// a restart; words after "I'm" that are not a name are not taken for one.
func TestAcknowledgementUsesTheVisitorsName(t *testing.T) {
	f := newFixture(t)
	reply, _ := f.say(t, "a", "Hi, my name is Sarah Lee. This is the third time I'm asking, where is my order?! I'm furious")
	if !strings.Contains(reply.Text, "Sarah") {
		t.Errorf("reply %q does not use the name the visitor gave", reply.Text)
	}
	// A restart: the name comes back from the conversation's records.
	e, err := bot.New(bot.Options{Store: f.db, Publisher: f.pub, Understanding: f.engine.Understanding(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f.engine.Close(context.Background())
	f.engine = e
	reply, _ = f.say(t, "b", "STILL nothing, this is ridiculous, where is my order?!!")
	if !strings.Contains(reply.Text, "Sarah") {
		t.Errorf("after a restart the reply %q forgot the visitor's name", reply.Text)
	}

	g := newFixture(t)
	reply, _ = g.say(t, "a", "I'm Furious, where is my order?! third time asking")
	if strings.Contains(reply.Text, "Furious") {
		t.Errorf("reply %q took a feeling for a name", reply.Text)
	}
}

// docs/configuration.md: acknowledgements take the placeholders of answers ({email}, {phone},
// {hours} ...) plus {name}, and `attune check` accepts them; they must be filled in, not shown.
func TestConfiguredAcknowledgementPlaceholders(t *testing.T) {
	cfg, err := intents.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tone.Acknowledgements = map[string]intents.Variants{"frustration": {{Text: "Sorry about this, {name} — you can also write to {email}."}}}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	e, err := bot.New(bot.Options{Store: f.db, Publisher: f.pub, Understanding: und, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f.engine = e
	reply, _ := f.say(t, "a", "This is the third time I'm asking, where is my order?! I'm furious")
	if strings.Contains(reply.Text, "{") || !strings.Contains(reply.Text, "help@shop.example") {
		t.Errorf("reply %q: want the configured acknowledgement with {email} filled in", reply.Text)
	}
}
