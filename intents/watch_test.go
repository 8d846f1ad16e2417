package intents_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/internal/syncbuf"
)

func watchedConfig(answer string) string {
	return `version: 1
business:
  name: Test Bakery
intents:
  - name: order_status
    examples: |
      - where is my order
      - has my order shipped
      - track my parcel
    answer: "` + answer + `"
`
}

// eventually polls cond; the deadline only bounds a broken watcher, it is not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bakery.yaml")
	writeAtomic(t, path, watchedConfig("first"))

	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	applied := make(chan *intents.Config, 10)
	var refuse sync.Map // answers that apply refuses, as a failed training would
	apply := func(c *intents.Config) error {
		in, _ := c.Intent("order_status")
		if _, bad := refuse.Load(in.Answer.First()); bad {
			return errors.New("training failed")
		}
		applied <- c
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		loaded, err := intents.Load(path)
		if err != nil {
			t.Error(err)
			return
		}
		intents.Watch(ctx, loaded, 5*time.Millisecond, apply, log)
	}()
	answer := func(c *intents.Config) string {
		in, _ := c.Intent("order_status")
		return in.Answer.First()
	}

	// A valid change is applied. Watch fingerprints the file when its goroutine starts, which the
	// test cannot observe, so the change is re-saved (with a different trailing comment) until it
	// is seen; only the first save could be missed.
	var first *intents.Config
	for n := 0; first == nil && n < 200; n++ {
		writeAtomic(t, path, watchedConfig("second")+strings.Repeat("#\n", n))
		select {
		case first = <-applied:
		case <-time.After(50 * time.Millisecond):
		}
	}
	if first == nil {
		t.Fatalf("a valid change was not applied; log:\n%s", logs.String())
	}
	if got := answer(first); got != "second" {
		t.Fatalf("applied answer %q, want second", got)
	}
	if first.Source != path {
		t.Errorf("Source = %q, want %q", first.Source, path)
	}

	// An invalid change is logged problem by problem and not applied.
	writeAtomic(t, path, strings.Replace(watchedConfig("third"), "version: 1", "version: 1\ncolour: blue", 1))
	eventually(t, "the rejection in the log", func() bool { return strings.Contains(logs.String(), "colour") })
	out := logs.String()
	if !strings.Contains(out, "configuration change rejected; keeping the previous one") ||
		!strings.Contains(out, path+`:2:1: unknown key \"colour\" at the top level`) || !strings.Contains(out, "level=ERROR") {
		t.Errorf("rejection log = %s", out)
	}

	// A change that apply refuses is logged too, and the next good one still goes through.
	refuse.Store("refused", true)
	writeAtomic(t, path, watchedConfig("refused"))
	eventually(t, "the refusal in the log", func() bool { return strings.Contains(logs.String(), "training failed") })
	writeAtomic(t, path, watchedConfig("fourth"))
	for got := ""; got != "fourth"; {
		select {
		case c := <-applied:
			// A late "second" can come from a re-save above; anything else was never valid.
			if got = answer(c); got != "fourth" && got != "second" {
				t.Fatalf("applied answer %q: invalid and refused versions must never be applied", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a valid change after a rejected one was not applied")
		}
	}
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Errorf("no reload line in the log: %s", logs.String())
	}

	// A vanished file is not an error: the last good configuration keeps serving.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	select {
	case c := <-applied:
		t.Fatalf("applied %q after the file was removed", answer(c))
	default:
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}
