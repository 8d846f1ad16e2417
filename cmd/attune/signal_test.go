package main

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/attune-chat/attune/internal/syncbuf"
)

// A second Ctrl-C during the graceful shutdown exits at once and says so.
func TestSecondSignalCutsTheShutdownShort(t *testing.T) {
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	again := make(chan os.Signal, 1)
	hang := make(chan struct{})
	defer close(hang)
	again <- os.Interrupt
	err := awaitShutdown(log, func() error { <-hang; return nil }, again)
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("awaitShutdown = %v, want errInterrupted", err)
	}
	if !strings.Contains(logs.String(), "second signal: exiting at once") {
		t.Errorf("log %q does not say why the process exits at once", logs.String())
	}

	// Without a second signal the shutdown's own result comes back.
	want := errors.New("close database: disk I/O error")
	if err := awaitShutdown(log, func() error { return want }, make(chan os.Signal)); err != want {
		t.Errorf("awaitShutdown = %v, want the shutdown's error", err)
	}
}
