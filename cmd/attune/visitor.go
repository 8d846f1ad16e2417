package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/attune-chat/attune/store"
)

const visitorUsage = `Usage:
  attune visitor find --email ADDRESS [--db FILE]
  attune visitor export (--visitor ID | --conversation ID) [--db FILE]
  attune visitor delete (--visitor ID | --conversation ID) [--db FILE]

Answers a person's request to see or erase what the business keeps about them.

find lists the visitors who left ADDRESS when they were handed over to a person
or wrote it in one of their messages (any case), with how it matched. A visitor
may have written someone else's address: check before exporting, since an
export hands over everything in those conversations.

export prints, as JSON on stdout, everything stored about one visitor: every
conversation with its messages, the bot's decision records, hand-off records
(with the email they left) and the agents' internal notes.

delete erases all of it. The text is overwritten in the database file, not just
unlinked; backups taken before keep what they hold. It may run while the server
runs on the same file; a visitor still connected to a deleted conversation gets
an error for their next message and a new conversation when the widget reconnects.
A visitor whose conversation is waiting for an agent or with one is not deleted:
close it in the console (or hand it back to the bot) first.

Flags:
  --email ADDRESS      the address to look for (find)
  --visitor ID         a visitor id, as find lists it
  --conversation ID    a conversation id (as shown in the console): its visitor
  --db FILE            ATTUNE_DB  SQLite database file (default attune.db), as for attune serve
`

// visitorCommand runs `attune visitor find|export|delete`: the privacy requests of one person.
func visitorCommand(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 {
		return fmt.Errorf("%w: attune visitor find|export|delete; see attune visitor --help", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help":
		_, _ = io.WriteString(stdout, visitorUsage)
		return nil
	case "find", "export", "delete":
	default:
		return fmt.Errorf("%w: unknown visitor command %q; use find, export or delete", errUsage, sub)
	}
	fs := flag.NewFlagSet("visitor "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbPath := fs.String("db", envOr("ATTUNE_DB", "attune.db"), "")
	var email, conversation, visitor string
	if sub == "find" {
		fs.StringVar(&email, "email", "", "")
	} else {
		fs.StringVar(&conversation, "conversation", "", "")
		fs.StringVar(&visitor, "visitor", "", "")
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = io.WriteString(stdout, visitorUsage)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: attune visitor %s: %v", errUsage, sub, err)
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: attune visitor %s takes no arguments, got %q; see attune visitor --help", errUsage, sub, pos)
	}
	switch {
	case sub == "find" && email == "":
		return fmt.Errorf("%w: attune visitor find needs --email ADDRESS", errUsage)
	case sub == "find" && !strings.Contains(email, "@"):
		return fmt.Errorf("%w: --email %q is not an email address", errUsage, email)
	case sub != "find" && (conversation == "") == (visitor == ""):
		return fmt.Errorf("%w: attune visitor %s needs exactly one of --visitor or --conversation (attune visitor find --email lists visitors)", errUsage, sub)
	}

	// The store's own log (migrations, purge warnings) goes to stderr, away from the output.
	db, err := openAgentDB(ctx, *dbPath, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	if sub == "find" {
		return visitorFind(ctx, db, email, stdout)
	}
	if conversation != "" {
		c, err := db.Conversation(ctx, conversation)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no conversation %q (it may have expired already)", conversation)
		}
		if err != nil {
			return err
		}
		visitor = c.VisitorID
	}
	if sub == "export" {
		x, err := db.ExportVisitor(ctx, visitor)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no visitor %q (it may have expired already)", visitor)
		}
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(x)
	}
	n, err := db.DeleteVisitor(ctx, visitor)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no visitor %q (it may have expired already)", visitor)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted visitor %s and %d conversation(s)\n", visitor, n)
	return nil
}

// visitorFind prints the visitors an address leads to, and how, so that the operator can tell
// the person's own conversations from someone else's that only mention the address.
func visitorFind(ctx context.Context, db *store.DB, email string, stdout io.Writer) error {
	ids, err := db.VisitorsByEmail(ctx, email)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("no visitor left or wrote the email %q (it may have expired already)", email)
	}
	want := strings.ToLower(strings.TrimSpace(email))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VISITOR\tCONVERSATIONS\tLAST ACTIVE\tMATCHED")
	for _, id := range ids {
		x, err := db.ExportVisitor(ctx, id)
		if err != nil {
			return err
		}
		var last time.Time
		left, wrote := false, false
		for _, c := range x.Conversations {
			if c.UpdatedAt.After(last) {
				last = c.UpdatedAt
			}
			for _, h := range c.Handoffs {
				left = left || strings.ToLower(h.Email) == want
			}
			for _, m := range c.Messages {
				wrote = wrote || (m.From == store.FromVisitor && strings.Contains(strings.ToLower(m.Text), want))
			}
		}
		var how []string
		if left {
			how = append(how, "left it for a hand-off")
		}
		if wrote {
			how = append(how, "wrote it in a message")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", id, len(x.Conversations), last.Format(time.RFC3339), strings.Join(how, ", "))
	}
	return tw.Flush()
}
