package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/attune-chat/attune/store"
)

// runAgent runs `attune agent args...` against the database at dbPath with
// stdin piped from the given text.
func runAgent(t *testing.T, dbPath, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	if dbPath != "" {
		args = append(args, "--db", dbPath)
	}
	err = agentCommand(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// openTestDB opens the database at path for checking what a command stored,
// and closes it when the test ends.
func openTestDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// checkPasswordStored fails the test unless login's stored hash is a bcrypt
// hash of password.
func checkPasswordStored(t *testing.T, db *store.DB, login, password string) {
	t.Helper()
	_, hash, err := db.AgentByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(hash, []byte("$2")) {
		t.Fatalf("stored hash of %s = %q, want a bcrypt hash", login, hash)
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
		t.Fatalf("stored hash of %s does not match %q: %v", login, password, err)
	}
}

func TestAgentCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "attune.db")

	// One database for the whole story: each step depends on the previous.
	steps := []struct {
		name    string
		stdin   string
		args    []string
		wantOut string // substring of stdout when the command succeeds
		wantErr string // substring of the error; empty for success
		usage   bool   // the error is a usage error (exit status 2)
	}{
		{name: "ListEmpty", args: []string{"list"}, wantOut: "No agents yet"},
		{name: "Add", stdin: "correct horse\n",
			args:    []string{"add", "Ana", "--name", "Ana Silva", "--skills", "Billing, orders", "--capacity", "2"},
			wantOut: `Added agent "ana" (Ana Silva), capacity 2, skills billing, orders.`},
		{name: "AddAdminFlagsFirst", stdin: "root password 1\r\n",
			args: []string{"add", "--role", "admin", "root"}, wantOut: `Added admin "root" (root), capacity 3, no skills`},
		{name: "AddDuplicate", stdin: "another password\n", args: []string{"add", "ANA"},
			wantErr: `an agent with login "ana" already exists`},
		{name: "AddWeakPassword", stdin: "short\n", args: []string{"add", "bob"},
			wantErr: "the password is too weak: 5 characters, at least 10 are needed"},
		{name: "AddPasswordIsLogin", stdin: "Bartholomew\n", args: []string{"add", "bartholomew"},
			wantErr: "the password is too weak: it is the login"},
		{name: "AddPasswordTooLong", stdin: strings.Repeat("x", 73) + "\n", args: []string{"add", "bob"},
			wantErr: "at most 72 are used by bcrypt"},
		{name: "AddNoPassword", stdin: "", args: []string{"add", "bob"}, wantErr: "no password on stdin"},
		{name: "AddBadRole", stdin: "long enough pw\n", args: []string{"add", "bob", "--role", "root"},
			wantErr: `role "root"`, usage: true},
		{name: "AddBadLogin", stdin: "long enough pw\n", args: []string{"add", "bob smith"},
			wantErr: `login "bob smith"`, usage: true},
		{name: "AddNegativeCapacity", stdin: "long enough pw\n", args: []string{"add", "bob", "--capacity", "-2"},
			wantErr: "capacity -2", usage: true},
		{name: "AddNoLogin", args: []string{"add"}, wantErr: "takes one LOGIN", usage: true},
		{name: "AddTwoLogins", args: []string{"add", "a", "b"}, wantErr: "takes one LOGIN", usage: true},
		{name: "AddUnknownFlag", args: []string{"add", "bob", "--team", "x"}, wantErr: "flag provided but not defined: -team", usage: true},
		{name: "PasswdUnknown", stdin: "long enough pw\n", args: []string{"passwd", "bob"},
			wantErr: `no agent with login "bob"`},
		{name: "PasswdWeak", stdin: "tiny\n", args: []string{"passwd", "ana"}, wantErr: "too weak"},
		{name: "Passwd", stdin: "  new secret phrase  \n", args: []string{"passwd", "ANA"},
			wantOut: `Changed the password of "ana"`},
		{name: "RemoveUnknown", args: []string{"remove", "bob"}, wantErr: `no agent with login "bob"`},
		{name: "RemoveLastAdmin", args: []string{"remove", "root"}, wantErr: `cannot remove "root": it is the last admin`},
		{name: "ListExtraArgument", args: []string{"list", "all"}, wantErr: "takes no arguments", usage: true},
	}
	for _, st := range steps {
		stdout, _, err := runAgent(t, path, st.stdin, st.args...)
		switch {
		case st.wantErr == "" && err != nil:
			t.Fatalf("%s: agent %q: %v", st.name, st.args, err)
		case st.wantErr == "" && !strings.Contains(stdout, st.wantOut):
			t.Fatalf("%s: stdout = %q, want it to contain %q", st.name, stdout, st.wantOut)
		case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
			t.Fatalf("%s: error = %v, want one containing %q", st.name, err, st.wantErr)
		case st.wantErr != "" && errors.Is(err, errUsage) != st.usage:
			t.Fatalf("%s: error %q: usage error = %t, want %t", st.name, err, errors.Is(err, errUsage), st.usage)
		}
	}

	db := openTestDB(t, path)
	ctx := context.Background()
	agents, err := db.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 2 || agents[0].Login != "ana" || agents[1].Login != "root" {
		t.Fatalf("agents after the story = %+v, want ana and root only (refused adds stored nothing)", agents)
	}
	ana := agents[0]
	if ana.Name != "Ana Silva" || ana.Role != store.RoleAgent || ana.Capacity != 2 ||
		strings.Join(ana.Skills, ",") != "billing,orders" {
		t.Fatalf("ana = %+v", ana)
	}
	// passwd replaced the hash; the line ending was removed but the spaces kept.
	checkPasswordStored(t, db, "ana", "  new secret phrase  ")
	checkPasswordStored(t, db, "root", "root password 1")
	_, hash, _ := db.AgentByLogin(ctx, "ana")
	if bcrypt.CompareHashAndPassword(hash, []byte("correct horse")) == nil {
		t.Fatal("the old password still matches after passwd")
	}

	t.Run("List", func(t *testing.T) {
		stdout, _, err := runAgent(t, path, "", "list")
		if err != nil {
			t.Fatal(err)
		}
		day := ana.CreatedAt.Format("2006-01-02")
		want := "" +
			"LOGIN  NAME       ROLE   SKILLS          CAPACITY  STATUS  CREATED\n" +
			"ana    Ana Silva  agent  billing,orders  2         active  " + day + "\n" +
			"root   root       admin  -               3         active  " + day + "\n"
		if stdout != want {
			t.Fatalf("list =\n%s\nwant\n%s", stdout, want)
		}
	})

	t.Run("NoClearPasswordOnDisk", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(dir, "attune.db*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("database files: %v, %v", files, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, pw := range []string{"correct horse", "new secret phrase", "root password 1"} {
				if bytes.Contains(b, []byte(pw)) {
					t.Errorf("%s contains the clear password %q", filepath.Base(f), pw)
				}
			}
		}
	})

	t.Run("Remove", func(t *testing.T) {
		stdout, _, err := runAgent(t, path, "", "remove", "ana")
		if err != nil || !strings.Contains(stdout, `Removed "ana"`) {
			t.Fatalf("remove ana = %q, %v", stdout, err)
		}
		if _, _, err := db.AgentByLogin(ctx, "ana"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ana after remove: %v, want ErrNotFound", err)
		}
		if _, _, err := runAgent(t, path, "", "remove", "ana"); err == nil || !strings.Contains(err.Error(), `no agent with login "ana"`) {
			t.Fatalf("second remove: %v, want no agent", err)
		}
	})

	t.Run("DatabaseFromEnvironment", func(t *testing.T) {
		t.Setenv("ATTUNE_DB", path)
		stdout, _, err := runAgent(t, "", "", "list")
		if err != nil || !strings.Contains(stdout, "root") {
			t.Fatalf("list with ATTUNE_DB = %q, %v; want root listed", stdout, err)
		}
	})
}

func TestAgentCommandUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"NoSubcommand", nil, "", "attune agent add|list|remove|passwd"},
		{"UnknownSubcommand", []string{"enable", "ana"}, "", `unknown agent command "enable"`},
		{"Help", []string{"--help"}, "attune agent add LOGIN", ""},
		{"SubcommandHelp", []string{"add", "-h"}, "--capacity N", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// No --db: none of these may open (or create) a database.
			t.Chdir(t.TempDir())
			stdout, _, err := runAgent(t, "", "", tc.args...)
			if tc.wantErr != "" {
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want a usage error containing %q", err, tc.wantErr)
				}
			} else if err != nil || !strings.Contains(stdout, tc.wantOut) {
				t.Fatalf("stdout = %q, err = %v; want %q", stdout, err, tc.wantOut)
			}
			if _, err := os.Stat("attune.db"); err == nil {
				t.Fatal("a usage error created attune.db")
			}
		})
	}
}

func TestAgentFirstAdmin(t *testing.T) {
	ctx := context.Background()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	passwordLine := regexp.MustCompile(`(?m)^  password: (\S+)$`)

	t.Run("GeneratedPasswordPrintedOnce", func(t *testing.T) {
		db := openTestDB(t, filepath.Join(t.TempDir(), "attune.db"))
		var out bytes.Buffer
		if err := firstAdmin(ctx, db, env(nil), &out); err != nil {
			t.Fatal(err)
		}
		m := passwordLine.FindStringSubmatch(out.String())
		if m == nil || !strings.Contains(out.String(), "login:    admin") || !strings.Contains(out.String(), "shown only this once") {
			t.Fatalf("first start printed %q, want the login, the password and that it is shown once", out.String())
		}
		password := m[1]
		if len(password) != adminPasswordLen || strings.Trim(password, passwordAlphabet) != "" {
			t.Fatalf("generated password %q: want %d characters of the alphabet", password, adminPasswordLen)
		}
		a, _, err := db.AgentByLogin(ctx, "admin")
		if err != nil || a.Role != store.RoleAdmin {
			t.Fatalf("admin = %+v, %v; want role admin", a, err)
		}
		checkPasswordStored(t, db, "admin", password)

		out.Reset()
		if err := firstAdmin(ctx, db, env(nil), &out); err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 {
			t.Fatalf("second start printed %q, want nothing", out.String())
		}
		if n, err := db.CountAgents(ctx); err != nil || n != 1 {
			t.Fatalf("agents after a second start = %d, %v; want 1", n, err)
		}
	})

	t.Run("PasswordFromEnvironment", func(t *testing.T) {
		db := openTestDB(t, filepath.Join(t.TempDir(), "attune.db"))
		var out bytes.Buffer
		const pw = "from the environment"
		if err := firstAdmin(ctx, db, env(map[string]string{"ATTUNE_ADMIN_PASSWORD": pw}), &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), pw) || !strings.Contains(out.String(), "ATTUNE_ADMIN_PASSWORD") {
			t.Fatalf("printed %q: want a note naming ATTUNE_ADMIN_PASSWORD, never the password", out.String())
		}
		checkPasswordStored(t, db, "admin", pw)
	})

	t.Run("WeakEnvironmentPasswordRefused", func(t *testing.T) {
		db := openTestDB(t, filepath.Join(t.TempDir(), "attune.db"))
		var out bytes.Buffer
		err := firstAdmin(ctx, db, env(map[string]string{"ATTUNE_ADMIN_PASSWORD": "admin"}), &out)
		if err == nil || !strings.Contains(err.Error(), "ATTUNE_ADMIN_PASSWORD") || !strings.Contains(err.Error(), "too weak") {
			t.Fatalf("error = %v, want one naming ATTUNE_ADMIN_PASSWORD as too weak", err)
		}
		if n, err := db.CountAgents(ctx); err != nil || n != 0 {
			t.Fatalf("agents after a refused first admin = %d, %v; want 0", n, err)
		}
	})

	t.Run("NothingWhenAgentsExist", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "attune.db")
		if _, _, err := runAgent(t, path, "long enough pw\n", "add", "ana"); err != nil {
			t.Fatal(err)
		}
		db := openTestDB(t, path)
		var out bytes.Buffer
		if err := firstAdmin(ctx, db, env(map[string]string{"ATTUNE_ADMIN_PASSWORD": "from the environment"}), &out); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.AgentByLogin(ctx, "admin"); !errors.Is(err, store.ErrNotFound) || out.Len() != 0 {
			t.Fatalf("with an agent present: admin lookup %v, output %q; want no admin created, nothing printed", err, out.String())
		}
	})
}

func TestAgentRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		p := randomPassword(adminPasswordLen)
		if len(p) != adminPasswordLen || strings.Trim(p, passwordAlphabet) != "" {
			t.Fatalf("randomPassword = %q", p)
		}
		if seen[p] {
			t.Fatalf("randomPassword repeated %q", p)
		}
		seen[p] = true
		for _, r := range p {
			counts[r]++
		}
	}
	// 3,200 draws over 56 symbols: about 57 each. A symbol never drawn, or
	// drawn three times its share, means a broken mapping, not bad luck.
	for _, r := range passwordAlphabet {
		if c := counts[r]; c == 0 || c > 3*200*adminPasswordLen/len(passwordAlphabet) {
			t.Errorf("symbol %q drawn %d times of %d", r, c, 200*adminPasswordLen)
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprint(counts))
	}
}
