package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attune-chat/attune/store"
)

// runVisitor runs `attune visitor args...` through run, as the binary would, and returns the exit
// status with what it printed.
func runVisitor(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"visitor"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVisitorCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "attune.db")
	db := openTestDB(t, path)
	newConv := func(token string) store.Conversation {
		h := sha256.Sum256([]byte(token))
		c, err := db.CreateConversation(ctx, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	say := func(c store.Conversation, text string) {
		if _, _, err := db.AppendMessage(ctx, store.Message{ConversationID: c.ID, From: store.FromVisitor, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	jane := newConv("jane")
	say(jane, "my parcel zqxjk is lost")
	if _, err := db.SaveHandoffRecord(ctx, store.HandoffRecord{ID: "h1", ConversationID: jane.ID, State: store.StateQueued,
		Reason: "asked", Email: "jane@example.com", Version: 1}); err != nil {
		t.Fatal(err)
	}
	bob := newConv("bob")
	say(bob, "hello from bob; my colleague Jane@Example.com ordered it")
	if err := db.Close(); err != nil { // the command opens the file itself
		t.Fatal(err)
	}

	// find shows both visitors the address leads to, and how, so that the operator exports
	// only the person's own: bob merely mentioned jane's address.
	code, out, errOut := runVisitor(t, "find", "--email", "JANE@example.com", "--db", path)
	if code != 0 {
		t.Fatalf("find: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{jane.VisitorID + " ", "left it for a hand-off", bob.VisitorID + " ", "wrote it in a message"} {
		if !strings.Contains(out, want) {
			t.Errorf("find output lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 ||
		!strings.Contains(lines[1], "left it for a hand-off") || strings.Contains(lines[1], "wrote") ||
		!strings.Contains(lines[2], "wrote it in a message") || strings.Contains(lines[2], "left") {
		t.Errorf("find output, want a header then jane (left it) then bob (wrote it):\n%s", out)
	}

	code, out, errOut = runVisitor(t, "export", "--visitor", jane.VisitorID, "--db", path)
	if code != 0 {
		t.Fatalf("export: exit %d, stderr %q", code, errOut)
	}
	var x struct {
		VisitorID     string `json:"visitor_id"`
		Conversations []struct {
			ID       string `json:"id"`
			Messages []struct {
				Text string `json:"text"`
			} `json:"messages"`
			Handoffs []struct {
				Email string `json:"email"`
			} `json:"handoffs"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("export output is not JSON: %v\n%s", err, out)
	}
	if x.VisitorID != jane.VisitorID || len(x.Conversations) != 1 || len(x.Conversations[0].Messages) != 1 ||
		!strings.Contains(x.Conversations[0].Messages[0].Text, "zqxjk") || len(x.Conversations[0].Handoffs) != 1 ||
		x.Conversations[0].Handoffs[0].Email != "jane@example.com" || strings.Contains(out, "hello from bob") {
		t.Fatalf("export of jane = %s", out)
	}

	// Jane is still waiting for an agent: a running server holds her hand-off, so the delete is
	// refused with what to do, and takes nothing.
	code, out, errOut = runVisitor(t, "delete", "--conversation", jane.ID, "--db", path)
	if code != 1 || out != "" || !strings.Contains(errOut, jane.ID) || !strings.Contains(errOut, "close it in the agent console") ||
		strings.Contains(errOut, "level=WARN") {
		t.Fatalf("delete with an open hand-off: exit %d, stdout %q, stderr %q; want 1 and one line naming the conversation and the fix", code, out, errOut)
	}
	db = openTestDB(t, path)
	if _, err := db.SaveHandoffRecord(ctx, store.HandoffRecord{ID: "h1", ConversationID: jane.ID, State: store.StateClosed,
		Reason: "asked", Email: "jane@example.com", Resolution: "resolved", Version: 2}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runVisitor(t, "delete", "--conversation", jane.ID, "--db", path)
	if code != 0 || !strings.Contains(out, "deleted visitor "+jane.VisitorID+" and 1 conversation(s)") {
		t.Fatalf("delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runVisitor(t, "export", "--visitor", jane.VisitorID, "--db", path)
	if code != 1 || !strings.Contains(errOut, "no visitor") {
		t.Fatalf("export after delete: exit %d, stderr %q; want 1 and no visitor", code, errOut)
	}
	code, out, _ = runVisitor(t, "export", "--visitor", bob.VisitorID, "--db", path)
	if code != 0 || !strings.Contains(out, "hello from bob") {
		t.Fatalf("bob's export after jane's delete: exit %d, %s", code, out)
	}
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("zqxjk")) || bytes.Contains(b, []byte("jane@example.com")) {
			t.Errorf("%s still holds jane's text after delete", filepath.Base(p))
		}
	}
}

func TestVisitorCommandUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attune.db")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "attune visitor find|export|delete"},
		{"unknown subcommand", []string{"forget"}, 2, `unknown visitor command "forget"`},
		{"no lookup", []string{"export", "--db", path}, 2, "exactly one of --visitor or --conversation"},
		{"two lookups", []string{"delete", "--conversation", "c", "--visitor", "v", "--db", path}, 2, "exactly one of"},
		{"export by email", []string{"export", "--email", "a@b.c", "--db", path}, 2, "-email"},
		{"stray argument", []string{"delete", "jane@example.com", "--db", path}, 2, "takes no arguments"},
		{"find without email", []string{"find", "--db", path}, 2, "needs --email"},
		{"bad email", []string{"find", "--email", "jane", "--db", path}, 2, "not an email address"},
		{"unknown email", []string{"find", "--email", "nobody@example.com", "--db", path}, 1, "no visitor left or wrote the email"},
		{"unknown conversation", []string{"delete", "--conversation", "c-none", "--db", path}, 1, `no conversation "c-none"`},
		{"unknown visitor", []string{"delete", "--visitor", "v-none", "--db", path}, 1, `no visitor "v-none"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runVisitor(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("attune visitor %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
			}
		})
	}
	if code, out, _ := runVisitor(t, "--help"); code != 0 || !strings.Contains(out, "--conversation ID") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}
