package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/attune-chat/attune/internal/syncbuf"
	"github.com/attune-chat/attune/store"
)

// The terminal path of readPassword, driven through a real pseudo-terminal
// (Linux only: opening one needs Linux ioctls).

// openPTY opens a pseudo-terminal and returns its master side (what a
// terminal emulator holds) and its slave side (what the program reads as
// stdin). Everything the line discipline echoes is collected from the master
// into echoed.
func openPTY(t *testing.T) (master, slave *os.File, echoed *syncbuf.Buffer) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal available: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	echoed = &syncbuf.Buffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			echoed.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		// Closing the slave hangs the terminal up once no read is pending
		// on it, which ends the master's reader with EIO.
		slave.Close()
		select {
		case <-copied:
		case <-time.After(10 * time.Second):
			t.Error("the pseudo-terminal reader did not stop")
		}
		master.Close()
	})
	return master, slave, echoed
}

// echoOn reports whether the terminal echoes input.
func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("read terminal settings: %v", err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAgentPasswordFromTerminal(t *testing.T) {
	tests := []struct {
		name    string
		typed   []string // lines typed at each prompt
		wantErr string
	}{
		{"AskedTwiceWithoutEcho", []string{"terminal secret", "terminal secret"}, ""},
		{"Mismatch", []string{"terminal secret", "terminal secrex"}, "the two passwords differ"},
		{"WeakRefusedBeforeRepeat", []string{"short"}, "too weak"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			master, slave, echoed := openPTY(t)
			path := filepath.Join(t.TempDir(), "attune.db")
			var stdout bytes.Buffer
			stderr := &syncbuf.Buffer{}
			done := make(chan error, 1)
			go func() {
				done <- agentCommand(context.Background(), []string{"add", "ana", "--db", path}, slave, &stdout, stderr)
			}()
			prompts := []string{"New password for ana", "Repeat the password"}
			for i, line := range tc.typed {
				waitFor(t, "prompt "+prompts[i], func() bool { return strings.Contains(stderr.String(), prompts[i]) })
				waitFor(t, "echo off", func() bool { return !echoOn(t, slave) })
				if _, err := master.Write([]byte(line + "\n")); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("agent add did not return")
			}
			if tc.wantErr == "" && err != nil {
				t.Fatalf("agent add: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			if !echoOn(t, slave) {
				t.Error("echo left off after the prompt")
			}
			// Give the reader a moment to drain what the terminal echoed.
			time.Sleep(50 * time.Millisecond)
			if strings.Contains(echoed.String(), "secre") || strings.Contains(echoed.String(), "short") {
				t.Errorf("the terminal echoed the password: %q", echoed.String())
			}
			db := openTestDB(t, path)
			_, _, lookup := db.AgentByLogin(context.Background(), "ana")
			if tc.wantErr == "" {
				if lookup != nil {
					t.Fatal(lookup)
				}
				checkPasswordStored(t, db, "ana", "terminal secret")
			} else if !errors.Is(lookup, store.ErrNotFound) {
				t.Fatalf("refused add stored an agent: %v", lookup)
			}
		})
	}

	t.Run("InterruptRestoresEcho", func(t *testing.T) {
		master, slave, _ := openPTY(t)
		ctx, cancel := context.WithCancel(context.Background())
		stderr := &syncbuf.Buffer{}
		done := make(chan error, 1)
		go func() { _, err := readPassword(ctx, slave, stderr, "ana"); done <- err }()
		waitFor(t, "echo off", func() bool { return !echoOn(t, slave) })
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted prompt: error = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("an interrupt did not end the prompt")
		}
		if !echoOn(t, slave) {
			t.Fatal("echo left off after an interrupt")
		}
		// The abandoned read (the process would exit here) still waits for
		// a line; give it one so the terminal can be closed.
		if _, err := master.Write([]byte("\n")); err != nil {
			t.Fatal(err)
		}
	})
}
