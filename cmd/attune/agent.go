package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/attune-chat/attune/store"
)

const agentUsage = `Usage:
  attune agent add LOGIN [--name NAME] [--role admin|agent] [--skills a,b] [--capacity N]
  attune agent list
  attune agent remove LOGIN
  attune agent passwd LOGIN

Manages the people who answer hand-offs in the console at /console.

The password (at least 10 characters) is asked twice on a terminal, without
echo; when stdin is not a terminal, its first line is the password:
  printf '%s\n' "$PASSWORD" | attune agent add ana --name "Ana Silva" --skills billing,orders

Flags:
  --db FILE        ATTUNE_DB  SQLite database file (default attune.db), as for attune serve
  --name NAME      display name shown to visitors (add; default: the login)
  --role ROLE      admin or agent (add; default agent)
  --skills LIST    comma-separated skills or teams matched against intent tags (add)
  --capacity N     maximum concurrent chats (add; default 3)
`

// Password rules. bcrypt reads at most 72 bytes; rather than let it ignore
// the rest silently (or fail with its own message), the limit is stated.
const (
	minPasswordLen   = 10 // characters
	maxPasswordBytes = 72
	defaultCapacity  = 3
	// adminPasswordLen is the length of the generated first-admin password:
	// 16 characters of a 56-symbol alphabet, about 93 bits.
	adminPasswordLen = 16
	// passwordAlphabet leaves out look-alikes (0 O o, 1 l I) so the
	// password can be copied by hand from a terminal.
	passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
)

// agentCommand runs `attune agent add|list|remove|passwd`. Passwords come
// from stdin (see readPassword) and are stored only as bcrypt hashes.
func agentCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 {
		return fmt.Errorf("%w: attune agent add|list|remove|passwd; see attune agent --help", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help":
		_, _ = io.WriteString(stdout, agentUsage)
		return nil
	case "add", "list", "remove", "passwd":
	default:
		return fmt.Errorf("%w: unknown agent command %q; use add, list, remove or passwd", errUsage, sub)
	}

	fs := flag.NewFlagSet("agent "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, usage printed once below
	dbPath := fs.String("db", envOr("ATTUNE_DB", "attune.db"), "")
	var a store.Agent
	var skills string
	if sub == "add" {
		fs.StringVar(&a.Name, "name", "", "")
		fs.StringVar(&a.Role, "role", store.RoleAgent, "")
		fs.StringVar(&skills, "skills", "", "")
		fs.IntVar(&a.Capacity, "capacity", defaultCapacity, "")
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = io.WriteString(stdout, agentUsage)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: attune agent %s: %v", errUsage, sub, err)
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		if wantArgs == 0 {
			return fmt.Errorf("%w: attune agent list takes no arguments, got %q", errUsage, strings.Join(pos, " "))
		}
		return fmt.Errorf("%w: attune agent %s takes one LOGIN, got %d arguments", errUsage, sub, len(pos))
	}

	if sub == "add" {
		a.Login = pos[0]
		a.Skills = strings.Split(skills, ",")
		// Validate before opening anything or asking for a password, so a
		// typo costs nothing.
		if a, err = store.NormalizeAgent(a); err != nil {
			return fmt.Errorf("%w: attune agent add: %v", errUsage, err)
		}
	}

	db, err := openAgentDB(ctx, *dbPath, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	switch sub {
	case "add":
		return agentAdd(ctx, db, a, stdin, stderr, stdout)
	case "list":
		return agentList(ctx, db, stdout)
	case "remove":
		return agentRemove(ctx, db, pos[0], stdout)
	default:
		return agentPasswd(ctx, db, pos[0], stdin, stderr, stdout)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseInterspersed parses flags anywhere on the line ("add ana --role admin"
// as well as "add --role admin ana"), which the flag package alone stops
// doing at the first argument, and returns the arguments that are not flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openAgentDB opens the store with a logger that keeps routine messages
// (migrations applied) off a command-line tool's output.
func openAgentDB(ctx context.Context, path string, stderr io.Writer) (*store.DB, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := store.Open(ctx, path, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w — choose the server's database with --db or ATTUNE_DB", err)
	}
	return db, nil
}

func notFound(login string) error {
	return fmt.Errorf("no agent with login %q; see attune agent list", store.NormalizeLogin(login))
}

func agentAdd(ctx context.Context, db *store.DB, a store.Agent, stdin io.Reader, stderr, stdout io.Writer) error {
	// Refuse a taken login before asking for a password; CreateAgent checks
	// again in its transaction, so a race is still caught.
	if _, _, err := db.AgentByLogin(ctx, a.Login); err == nil {
		return fmt.Errorf("an agent with login %q already exists; choose another login, or change its password with attune agent passwd %s", a.Login, a.Login)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	password, err := readPassword(ctx, stdin, stderr, a.Login)
	if err != nil {
		return err
	}
	hash, err := hashPassword(a.Login, password)
	if err != nil {
		return err
	}
	created, err := db.CreateAgent(ctx, a, hash)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("an agent with login %q already exists; choose another login, or change its password with attune agent passwd %s", a.Login, a.Login)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added %s %q (%s), capacity %d%s.\n", created.Role, created.Login, created.Name, created.Capacity, skillsPhrase(created.Skills))
	return nil
}

func skillsPhrase(skills []string) string {
	if len(skills) == 0 {
		return ", no skills (takes any hand-off)"
	}
	return ", skills " + strings.Join(skills, ", ")
}

func agentList(ctx context.Context, db *store.DB, stdout io.Writer) error {
	agents, err := db.Agents(ctx)
	if err != nil {
		return err
	}
	if len(agents) == 0 {
		fmt.Fprintln(stdout, "No agents yet; add one with: attune agent add LOGIN --name \"Display Name\"")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tNAME\tROLE\tSKILLS\tCAPACITY\tSTATUS\tCREATED")
	for _, a := range agents {
		skills, status := strings.Join(a.Skills, ","), "active"
		if skills == "" {
			skills = "-"
		}
		if a.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n",
			a.Login, a.Name, a.Role, skills, a.Capacity, status, a.CreatedAt.Format("2006-01-02"))
	}
	return tw.Flush()
}

func agentRemove(ctx context.Context, db *store.DB, login string, stdout io.Writer) error {
	err := db.DeleteAgent(ctx, login)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(login)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("cannot remove %q: it is the last admin, and the console would have nobody to manage it; add another admin first (attune agent add LOGIN --role admin)", store.NormalizeLogin(login))
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "Removed %q; their open conversations went back to the queue. A running server cuts off their console within a minute and hands their chats on after the grace period.\n", store.NormalizeLogin(login))
	return nil
}

func agentPasswd(ctx context.Context, db *store.DB, login string, stdin io.Reader, stderr, stdout io.Writer) error {
	a, _, err := db.AgentByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(login)
	}
	if err != nil {
		return err
	}
	password, err := readPassword(ctx, stdin, stderr, a.Login)
	if err != nil {
		return err
	}
	hash, err := hashPassword(a.Login, password)
	if err != nil {
		return err
	}
	err = db.SetAgentPassword(ctx, a.Login, hash)
	if errors.Is(err, store.ErrNotFound) { // removed meanwhile
		return notFound(login)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Changed the password of %q; their console sessions were ended.\n", a.Login)
	return nil
}

// checkPassword applies the password rules and says how to meet them.
func checkPassword(login, password string) error {
	if n := utf8.RuneCountInString(password); n < minPasswordLen {
		return fmt.Errorf("the password is too weak: %d characters, at least %d are needed", n, minPasswordLen)
	}
	if len(password) > maxPasswordBytes {
		return fmt.Errorf("the password is too long: %d bytes, at most %d are used by bcrypt", len(password), maxPasswordBytes)
	}
	if strings.EqualFold(strings.TrimSpace(password), login) {
		return errors.New("the password is too weak: it is the login")
	}
	return nil
}

// hashPassword checks password against the rules and returns its bcrypt
// hash. bcrypt's default cost (10) keeps a console login near 50-100 ms:
// slow for an attacker with a stolen database, fast enough for people, and
// the login endpoint is rate-limited besides.
func hashPassword(login, password string) ([]byte, error) {
	if err := checkPassword(login, password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// readPassword reads a new password for login: on a terminal it prompts on
// stderr twice without echo; otherwise it reads the first line of stdin (the
// line ending removed, nothing else, since spaces may be part of it).
func readPassword(ctx context.Context, stdin io.Reader, stderr io.Writer, login string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprintf(stderr, "New password for %s (at least %d characters): ", login, minPasswordLen)
		first, err := readSecret(ctx, fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		// Check before asking again, so a weak password is not typed twice.
		if err := checkPassword(login, string(first)); err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Repeat the password: ")
		second, err := readSecret(ctx, fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(first, second) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return string(first), nil
	}

	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New(`no password on stdin: run this on a terminal, or pipe the password as one line, e.g. printf '%s\n' "$PASSWORD" | attune agent ...`)
		}
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	return line, nil
}

// readSecret reads a line from the terminal without echo. An interrupt
// (ctx cancelled by SIGINT, which `attune` catches) puts the terminal back
// in its normal state and returns at once instead of waiting for Enter.
func readSecret(ctx context.Context, fd int) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return nil, ctx.Err()
	}
}

// firstAdmin makes a fresh installation usable: when there is no agent at
// all, it creates the admin "admin" with ATTUNE_ADMIN_PASSWORD (via getenv)
// when set, otherwise with a random password printed once on stdout. It
// never logs the password. A second server racing on the same database
// loses the creation quietly (the other one printed its password).
func firstAdmin(ctx context.Context, db *store.DB, getenv func(string) string, stdout io.Writer) error {
	n, err := db.CountAgents(ctx)
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	if n > 0 {
		return nil
	}
	const login = "admin"
	password, generated := getenv("ATTUNE_ADMIN_PASSWORD"), false
	if password != "" {
		if err := checkPassword(login, password); err != nil {
			return fmt.Errorf("ATTUNE_ADMIN_PASSWORD: %w; set a stronger one, or unset it to get a generated password", err)
		}
	} else {
		password, generated = randomPassword(adminPasswordLen), true
	}
	hash, err := hashPassword(login, password)
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	_, err = db.CreateAgent(ctx, store.Agent{
		Login: login, Name: "Administrator", Role: store.RoleAdmin, Capacity: defaultCapacity,
	}, hash)
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	if generated {
		fmt.Fprintf(stdout, "\nCreated the console administrator. Log in at /console with\n"+
			"  login:    %s\n  password: %s\n"+
			"This password is shown only this once: store it now, or change it with `attune agent passwd %s`.\n\n",
			login, password, login)
	} else {
		fmt.Fprintf(stdout, "Created the console administrator %q with the password from ATTUNE_ADMIN_PASSWORD.\n", login)
	}
	return nil
}

// randomPassword returns n characters drawn uniformly from passwordAlphabet
// with crypto/rand (bytes at or above the largest multiple of the alphabet
// size are rejected, so no character is favoured).
func randomPassword(n int) string {
	limit := 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // never fails on supported platforms (see store.NewID)
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(c)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}
