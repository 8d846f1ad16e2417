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
	// ...but one that stays away is said once, as a warning, or edits would vanish without a trace.
	eventually(t, "the missing file in the log", func() bool { return strings.Contains(logs.String(), "configuration file cannot be read") })
	time.Sleep(30 * time.Millisecond)
	if out := logs.String(); strings.Count(out, "configuration file cannot be read") != 1 || !strings.Contains(out, "level=WARN msg=\"configuration file cannot be read") {
		t.Errorf("want one warning about the missing file, got:\n%s", out)
	}
	writeAtomic(t, path, watchedConfig("fifth"))
	select {
	case c := <-applied:
		if answer(c) != "fifth" {
			t.Fatalf("applied %q after the file came back, want fifth", answer(c))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the file that came back was not applied")
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

// An editor that truncates the file and then writes it (or a copy over a slow link) leaves it
// empty or half-written for a moment. A check that falls in that moment must neither apply the
// half (here a valid configuration on its own, missing the last intent) nor log the empty file as
// a rejected change: the watcher waits until two checks in a row read the same content.
func TestWatchHalfWrittenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bakery.yaml")
	half := watchedConfig("first")
	rest := `  - name: delivery_cost
    examples: |
      - how much is delivery
      - what does shipping cost
      - delivery price
    answer: "Delivery is free."
`
	writeAtomic(t, path, half+rest)
	loaded, err := intents.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	applied := make(chan *intents.Config, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		intents.Watch(ctx, loaded, 100*time.Millisecond, func(c *intents.Config) error { applied <- c; return nil }, log)
	}()
	defer func() {
		cancel()
		<-done
	}()

	const seen = "configuration file changed"
	// waitSeen waits until the watcher has read the file as it now is (its n-th change), failing
	// if it applies anything meanwhile.
	waitSeen := func(n int, state string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), seen) < n; {
			select {
			case c := <-applied:
				_, full := c.Intent("delivery_cost")
				t.Fatalf("the %s file was applied (delivery_cost present: %v); log:\n%s", state, full, logs.String())
			case <-time.After(2 * time.Millisecond):
			}
			if strings.Contains(logs.String(), "configuration change rejected") {
				t.Fatalf("the %s file was rejected as a configuration change; log:\n%s", state, logs.String())
			}
			if time.Now().After(deadline) {
				t.Fatalf("the watcher never read the %s file; log:\n%s", state, logs.String())
			}
		}
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	waitSeen(1, "truncated")
	if _, err := f.WriteString(strings.Replace(half, "first", "second", 1)); err != nil {
		t.Fatal(err)
	}
	waitSeen(2, "half-written")
	if _, err := f.WriteString(rest); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-applied:
		in, _ := c.Intent("order_status")
		if _, full := c.Intent("delivery_cost"); !full || in.Answer.First() != "second" {
			t.Fatalf("applied a configuration with answer %q, delivery_cost present %v; want the whole new file", in.Answer.First(), full)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the finished file was not applied; log:\n%s", logs.String())
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") {
		t.Errorf("a file caught while being written was logged as an error:\n%s", out)
	}
}

// Kubernetes mounts a ConfigMap as config.yaml -> ..data/config.yaml, with ..data a symlink to a
// timestamped directory that an update replaces in one rename; the watcher follows the link.
func TestWatchConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, answer string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "bakery.yaml"), []byte(watchedConfig(answer)), 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_v1", "first")
	path := filepath.Join(dir, "bakery.yaml")
	if err := os.Symlink(filepath.Join("..data", "bakery.yaml"), path); err != nil {
		t.Fatal(err)
	}
	loaded, err := intents.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan *intents.Config, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		intents.Watch(ctx, loaded, 10*time.Millisecond, func(c *intents.Config) error { applied <- c; return nil }, slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		<-done
	}()
	version("..2026_01_02_v2", "second")
	select {
	case c := <-applied:
		if in, _ := c.Intent("order_status"); in.Answer.First() != "second" || c.Source != path {
			t.Fatalf("applied answer %q from %s, want second from %s", in.Answer.First(), c.Source, path)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the swapped ConfigMap was not applied")
	}
}

// The llm section's knowledge files are part of what the bot knows: a reload rejected because a
// knowledge file was missing goes through once the file appears, and an edited knowledge file is
// picked up, without the YAML being saved again.
func TestWatchKnowledgeFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bakery.yaml")
	writeAtomic(t, path, watchedConfig("first"))
	loaded, err := intents.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	applied := make(chan *intents.Config, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		intents.Watch(ctx, loaded, 10*time.Millisecond, func(c *intents.Config) error { applied <- c; return nil }, log)
	}()
	defer func() {
		cancel()
		<-done
	}()
	next := func(what string) *intents.Config {
		t.Helper()
		select {
		case c := <-applied:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was not applied; log:\n%s", what, logs.String())
			return nil
		}
	}

	withLLM := watchedConfig("second") + "llm:\n  base_url: http://localhost:11434/v1\n  model: llama3\n  knowledge_files: [menu.md]\n"
	writeAtomic(t, path, withLLM)
	eventually(t, "the missing knowledge file in the log", func() bool { return strings.Contains(logs.String(), `knowledge file \"menu.md\" cannot be read`) })
	writeAtomic(t, filepath.Join(dir, "menu.md"), "# Menu\nSourdough, rye, focaccia.\n")
	if c := next("the configuration, once its knowledge file appeared"); len(c.LLM.KnowledgeFiles) != 1 {
		t.Fatalf("applied knowledge files %v, want [menu.md]", c.LLM.KnowledgeFiles)
	}
	writeAtomic(t, filepath.Join(dir, "menu.md"), "# Menu\nSourdough, rye, focaccia and now babka.\n")
	next("an edited knowledge file")
	time.Sleep(50 * time.Millisecond)
	select {
	case <-applied:
		t.Fatal("applied again with nothing changed")
	default:
	}
}

// A valid version that apply refuses for a reason outside the file (here a knowledge file that
// cannot be read, then becomes readable without any edit) is tried again until it applies; the
// refusal is logged once, not at every try, and a *ConfigError from apply is not retried.
func TestWatchRetriesARefusedReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bakery.yaml")
	writeAtomic(t, path, watchedConfig("first"))
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var mu sync.Mutex
	refusals := map[string]int{} // answer -> times refused so far
	refuseUntil := map[string]int{"second": 3}
	var tries sync.Map
	applied := make(chan string, 10)
	apply := func(c *intents.Config) error {
		in, _ := c.Intent("order_status")
		a := in.Answer.First()
		mu.Lock()
		defer mu.Unlock()
		n, _ := tries.LoadOrStore(a, new(int))
		*n.(*int)++
		if a == "bad-file" {
			return &intents.ConfigError{Problems: []intents.Problem{{File: path, Line: 1, Col: 1, What: "classifier cannot tell two intents apart"}}}
		}
		if refusals[a] < refuseUntil[a] {
			refusals[a]++
			return errors.New("read knowledge file menu.md: permission denied")
		}
		applied <- a
		return nil
	}
	loaded, err := intents.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		intents.Watch(ctx, loaded, 5*time.Millisecond, apply, log)
	}()
	defer func() { cancel(); <-done }()

	writeAtomic(t, path, watchedConfig("second"))
	select {
	case got := <-applied:
		if got != "second" {
			t.Fatalf("applied %q, want second", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("a refused reload was never tried again without an edit; log:\n%s", logs.String())
	}
	eventually(t, "the late reload in the log", func() bool {
		return strings.Contains(logs.String(), "configuration reloaded after an earlier refusal")
	})
	out := logs.String()
	var errorLines, debugLines int
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "permission denied") {
			if strings.Contains(line, "level=ERROR") {
				errorLines++
			} else {
				debugLines++
			}
		}
	}
	if errorLines != 1 || debugLines != 2 {
		t.Errorf("3 refusals for the same reason logged %d times at error level and %d at debug, want 1 and 2; log:\n%s", errorLines, debugLines, out)
	}

	// A refusal that names a problem of the file is logged like a parse error and not retried.
	writeAtomic(t, path, watchedConfig("bad-file"))
	eventually(t, "the problem in the log", func() bool { return strings.Contains(logs.String(), "cannot tell two intents apart") })
	time.Sleep(100 * time.Millisecond) // 20 checks: a retry would have happened
	mu.Lock()
	n, _ := tries.Load("bad-file")
	badTries := *n.(*int)
	mu.Unlock()
	if badTries != 1 {
		t.Errorf("a version refused for a problem in the file was tried %d times, want 1", badTries)
	}
	if !strings.Contains(logs.String(), path+":1:1: classifier cannot tell two intents apart") {
		t.Errorf("the problem is not logged with its position; log:\n%s", logs.String())
	}
}
