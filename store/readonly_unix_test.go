//go:build unix

package store_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/attune-chat/attune/store"
)

// readOnlyHelperEnv makes the test binary, run again as an unprivileged user, open the
// database it names and print the outcome (see openAs).
const readOnlyHelperEnv = "ATTUNE_STORE_TEST_OPEN"

// TestMain lets the test binary double as the helper openAs runs.
func TestMain(m *testing.M) {
	if path := os.Getenv(readOnlyHelperEnv); path != "" {
		fmt.Print(openAndWrite(path))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// openAndWrite opens path and tries one write, and describes what happened.
func openAndWrite(path string) string {
	ctx := context.Background()
	db, err := store.Open(ctx, path, store.Options{Logger: quietLogger})
	if err != nil {
		return "open error: " + err.Error()
	}
	defer db.Close()
	if _, err := db.CreateConversation(ctx, tokenHash("probe")); err != nil {
		return "write error: " + err.Error()
	}
	return "ok"
}

// openAs runs openAndWrite on path as an unprivileged user: the test binary again, as nobody,
// when the tests run as root (for whom no permission bit is ever read-only).
func openAs(t *testing.T, path string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return openAndWrite(path)
	}
	// The go tool builds test binaries in a directory only their owner can enter: run a copy.
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(filepath.Dir(path)), "store.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), readOnlyHelperEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the test binary as nobody to check permissions: %v: %s", err, out)
	}
	return string(out)
}

// A database the server cannot write must stop Open with an error that says what is read-only
// and what to do, rather than open "successfully" and then refuse every visitor's message.
func TestOpenReadOnly(t *testing.T) {
	base := t.TempDir()
	// nobody must be able to reach the files the test prepares as root.
	for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdb := func(dir string) string {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "attune.db")
		db, err := store.Open(context.Background(), path, store.Options{Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		return path
	}

	readOnlyFile := mkdb(filepath.Join(base, "file"))
	if err := os.Chmod(readOnlyFile, 0o444); err != nil {
		t.Fatal(err)
	}
	readOnlyDir := mkdb(filepath.Join(base, "dir"))
	if err := os.Chmod(filepath.Dir(readOnlyDir), 0o555); err != nil {
		t.Fatal(err)
	}
	newInReadOnlyDir := filepath.Join(filepath.Dir(readOnlyDir), "new.db")
	t.Cleanup(func() { _ = os.Chmod(filepath.Dir(readOnlyDir), 0o777) })

	tests := []struct {
		name, path string
		want       []string
	}{
		{"ReadOnlyFile", readOnlyFile, []string{"open error: open database " + readOnlyFile, "read-only", "writable"}},
		{"ReadOnlyDirectory", readOnlyDir, []string{"open error: open database " + readOnlyDir, filepath.Dir(readOnlyDir), "-wal", "writable"}},
		{"NewFileInReadOnlyDirectory", newInReadOnlyDir, []string{"open error: open database " + newInReadOnlyDir, filepath.Dir(readOnlyDir), "writable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := openAs(t, tt.path)
			t.Log(got)
			if n := strings.Count(got, "database is read-only"); n != 1 {
				t.Errorf("%q says \"database is read-only\" %d times, want once", got, n)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("opening %s as an unprivileged user: %q; want it to contain %q", tt.path, got, w)
				}
			}
		})
	}
}
