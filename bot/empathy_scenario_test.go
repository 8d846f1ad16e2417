package bot_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/store"
)

// restart replaces the fixture's engine by a new one over the same store (and queue, if any), as
// after a restart of the server: everything the bot remembers must come from the records.
func restart(t *testing.T, f *fixture, q *handoff.Queue) {
	t.Helper()
	if err := f.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	opt := bot.Options{Store: f.db, Publisher: f.pub, Understanding: f.engine.Understanding(), Logger: quiet,
		Getenv: func(string) string { return "" }}
	if q != nil {
		opt.Handoff = q
	}
	e, err := bot.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	f.engine = e
}

// botTexts is everything the bot said in the fixture's conversation.
func botTexts(t *testing.T, f *fixture) []string {
	t.Helper()
	ms, err := f.db.MessagesAfter(context.Background(), f.conv.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.From == bot.FromBot {
			out = append(out, m.Text)
		}
	}
	return out
}

// offers counts the offers of a person in a bot message: the fallback's and the greeting's
// "if you'd rather talk to a person", and the bot's own offer.
func offers(text string) int {
	text = strings.ToLower(text)
	return strings.Count(text, "rather talk to a person") + strings.Count(text, "a person from the team can help with this too")
}

// Issue 4: a conversation never says the same acknowledgement twice, and DESIGN.md's empathy is
// not a stock sentence stapled to every turn. An anxious or upset visitor is offered a person once;
// every later turn (also after a restart) answers without the same offer again.
func TestPersonIsOfferedOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue bool
	}{{"contact details", false}, {"hand-off queue", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var q *handoff.Queue
			if tc.queue {
				q = withQueue(t, f)
			}
			f.say(t, "a", "I'm really worried, where is my order?")
			f.say(t, "b", "I'm so anxious about this, what is your return policy?")
			restart(t, f, q)
			f.say(t, "c", "I'm scared it won't arrive in time, do you ship to germany?")
			n := 0
			for _, text := range botTexts(t, f) {
				n += offers(text)
			}
			if n != 1 {
				t.Errorf("the offer of a person was made %d times, want once: %q", n, botTexts(t, f))
			}
		})
	}
}

// The fallback already tells the visitor they can ask for a person: the next worried turn does not
// say it again.
func TestNoPersonOfferAfterTheFallbackMadeIt(t *testing.T) {
	f := newFixture(t)
	f.say(t, "a", "blorp zax quib")
	f.say(t, "b", "I'm really worried, where is my order?")
	n := 0
	for _, text := range botTexts(t, f) {
		n += offers(text)
	}
	if n != 1 {
		t.Errorf("the offer of a person was made %d times, want once: %q", n, botTexts(t, f))
	}
}

// The default greeting ends "if you'd rather talk to a person, just say so": a worried visitor's
// reply offers a person in other words, not the greeting's sentence again.
func TestPersonOfferDoesNotRepeatTheGreeting(t *testing.T) {
	cfg, err := intents.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Persona.Greeting = intents.Variants{{Text: "Hi! I'm {bot}, the virtual assistant (a bot) of {business}. Ask me anything — and if you'd rather talk to a person, just say so."}}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, queue := range []bool{false, true} {
		f := newFixture(t)
		if err := f.engine.SetUnderstanding(und); err != nil {
			t.Fatal(err)
		}
		if queue {
			withQueue(t, f)
		}
		if err := f.engine.Greet(context.Background(), f.conv.ID); err != nil {
			t.Fatal(err)
		}
		f.pub.waitMessages(t, 1)
		reply, _ := f.say(t, "a", "I'm really worried, where is my order?")
		if strings.Contains(strings.ToLower(reply.Text), "rather talk to a person") {
			t.Errorf("queue %v: the reply repeats the greeting's sentence: %q", queue, reply.Text)
		}
		if !strings.Contains(reply.Text, "person") {
			t.Errorf("queue %v: the worried visitor was not offered a person at all: %q", queue, reply.Text)
		}
	}
}

// A delighted visitor is asked "anything else?" once, not after every happy turn.
func TestWarmCloseIsNotRepeated(t *testing.T) {
	f := newFixture(t)
	for i, text := range []string{"thanks, that's great! do you ship to germany?", "brilliant, love it! where is my order?"} {
		_, d := f.say(t, string(rune('a'+i)), text)
		if _, style, _ := replyDetails(t, d); style != "warm_close" {
			t.Fatalf("%q: style %q, want warm_close", text, style)
		}
	}
	restart(t, f, nil)
	f.say(t, "c", "wonderful, you're brilliant! how do returns work?")
	n := 0
	for _, text := range botTexts(t, f) {
		n += strings.Count(strings.ToLower(text), "anything else")
	}
	if n != 1 {
		t.Errorf("asked %d times whether there is anything else, want once: %q", n, botTexts(t, f))
	}
}

// A hand-off for frustration says why in its explanation ("You've had to ask more than once");
// the acknowledgement in front of it must not say the same thing again, nor must a stalled
// conversation's apology repeat the explanation that the bot could not answer.
func TestHandoffReplyDoesNotSayItTwice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []string
		phrase string
		// wantAck: an upset visitor's feeling is still acknowledged; a calm visitor's failing
		// conversation is owned by the explanation itself.
		wantAck bool
	}{
		{"frustration after asking three times", []string{"where is my order", "I asked where is my order",
			"third time asking: where is my order?! this is ridiculous"}, "had to ask", true},
		{"unanswered three times", []string{"tell me a joke", "blorp zax quib", "I asked who won the football match"}, "haven't", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			withQueue(t, f)
			var reply store.Message
			var d store.Decision
			for i, text := range tc.script {
				reply, d = f.say(t, string(rune('a'+i)), text)
			}
			if d.Source != bot.SourceHandoff {
				t.Fatalf("decision %s/%s, want a hand-off: %q", d.Source, d.Rule, reply.Text)
			}
			if n := strings.Count(strings.ToLower(reply.Text), tc.phrase); n > 1 {
				t.Errorf("the reply says %q %d times: %q", tc.phrase, n, reply.Text)
			}
			if ack, _, _ := replyDetails(t, d); tc.wantAck && ack == "" {
				t.Errorf("the upset visitor's hand-off got no acknowledgement at all: %q", reply.Text)
			}
		})
	}
}

// A visitor handed to a person, handed back, and handed over again for the same reason hears why
// and what happens next, but not the first hand-off's sentences word for word, also after a
// restart in between.
func TestSecondHandoffDoesNotRepeatTheFirst(t *testing.T) {
	f := newFixture(t)
	q := withQueue(t, f)
	f.say(t, "a", "where is my order")
	f.say(t, "b", "I asked where is my order")
	first, d := f.say(t, "c", "third time asking: where is my order?! this is ridiculous")
	if d.Source != bot.SourceHandoff {
		t.Fatalf("decision %s/%s, want a hand-off: %q", d.Source, d.Rule, first.Text)
	}
	if err := q.Connect(handoff.Agent{ID: "ag", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Accept(context.Background(), "ag", f.conv.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.ReturnToBot(context.Background(), "ag", f.conv.ID); err != nil {
		t.Fatal(err)
	}
	restart(t, f, q)
	f.say(t, "d", "do you ship to germany")
	f.say(t, "e", "I asked do you ship to germany")
	second, d := f.say(t, "f", "third time asking: do you ship to germany?! this is ridiculous")
	if d.Source != bot.SourceHandoff {
		t.Fatalf("decision %s/%s, want a second hand-off: %q", d.Source, d.Rule, second.Text)
	}
	for _, sentence := range sentences(second.Text) {
		if len(sentence) > 20 && strings.Contains(first.Text, sentence) {
			t.Errorf("the second hand-off repeats %q from the first: %q", sentence, second.Text)
		}
	}
	if !strings.Contains(second.Text, "person from the team") {
		t.Errorf("the second hand-off does not say a person is coming: %q", second.Text)
	}
}

// sentences splits a bot message into its sentences.
func sentences(text string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' }) {
		for _, s := range strings.SplitAfter(p, ". ") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// A business that configures several fallbacks expects them to vary: a visitor the bot does not
// understand twice in a conversation reads two different ones, not the same sentence again.
func TestConfiguredFallbacksVary(t *testing.T) {
	cfg, err := intents.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Persona.Fallback = intents.Variants{{Text: "Sorry, I didn't get that. Could you rephrase it?"}, {Text: "Hmm, I'm not sure what you mean. Could you say it another way?"}}
	und, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	if err := f.engine.SetUnderstanding(und); err != nil {
		t.Fatal(err)
	}
	for i := range 8 { // the variant depends on the conversation: try several
		token := make([]byte, 32)
		token[0], token[1] = 7, byte(i)
		conv, err := f.db.CreateConversation(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		f.conv = conv
		first, d1 := f.say(t, "a", "blorp zax quib")
		f.say(t, "b", "where is my order")
		second, d2 := f.say(t, "c", "tell me a joke about penguins")
		if d1.Source != bot.SourceFallback || d2.Source != bot.SourceFallback {
			t.Fatalf("sources %s, %s: want two fallbacks", d1.Source, d2.Source)
		}
		if first.Text == second.Text {
			t.Errorf("conversation %d: the same fallback twice with two configured: %q", i, first.Text)
		}
	}
}

// Configured acknowledgements are remembered by what they say, not by their place in the list: a
// reload that reorders them must not make a running conversation say one again.
func TestReorderedAcknowledgementsAreNotRepeatedAfterAReload(t *testing.T) {
	load := func(acks ...string) *intents.Understanding {
		cfg, err := intents.Load(filepath.Join("testdata", "shop.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var vs intents.Variants
		for _, a := range acks {
			vs = append(vs, intents.Variant{Text: a})
		}
		cfg.Tone.Acknowledgements = map[string]intents.Variants{"frustration": vs}
		und, err := intents.Train(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return und
	}
	first, second := "Ugh, that's annoying, sorry.", "That's not good enough from us."
	f := newFixture(t)
	if err := f.engine.SetUnderstanding(load(first, second)); err != nil {
		t.Fatal(err)
	}
	_, d := f.say(t, "a", "this is ridiculous, where is my order?!")
	if ack, _, _ := replyDetails(t, d); ack != first {
		t.Fatalf("first acknowledgement %q, want %q", ack, first)
	}
	if err := f.engine.SetUnderstanding(load(second, first)); err != nil {
		t.Fatal(err)
	}
	_, d = f.say(t, "b", "seriously, this is ridiculous, where is my order?!")
	if ack, _, _ := replyDetails(t, d); ack != second {
		t.Errorf("after the reload reordered them the acknowledgement is %q, want the unused %q", ack, second)
	}
	// And after a restart, from the records.
	restart(t, f, nil)
	_, d = f.say(t, "c", "this is ridiculous, I'm furious, where is my order?!")
	if ack, _, _ := replyDetails(t, d); ack == first || ack == second {
		t.Errorf("after a restart the acknowledgement %q was said again", ack)
	}
}
