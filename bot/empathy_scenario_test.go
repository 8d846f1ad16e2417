package bot_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
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
