package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Agent roles.
const (
	RoleAdmin = "admin" // manages agents and settings, and chats
	RoleAgent = "agent" // chats
)

var validRoles = map[string]bool{RoleAdmin: true, RoleAgent: true}

// Limits on agent fields, checked before anything is written so that the
// console and the CLI get one clear message rather than a truncated value.
const (
	MaxAgentNameLen = 100  // runes
	MaxCapacity     = 1000 // concurrent chats; far above what one person can hold
)

// loginPattern admits plain user names and e-mail addresses, lower case (the
// store lower-cases logins so that "Ana" and "ana" are one account).
var loginPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@+-]{0,63}$`)

// skillPattern admits intent names and team names ("billing", "orders/refund",
// "tier-2").
var skillPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_./-]{0,63}$`)

// Agent is a person who answers hand-offs in the console. Its password hash
// is deliberately not a field: only AgentByLogin returns it, so no other code
// path can leak it into JSON or logs.
type Agent struct {
	ID        string    `json:"id"`
	Login     string    `json:"login"`
	Name      string    `json:"name"` // display name shown to visitors
	Role      string    `json:"role"` // admin | agent
	Skills    []string  `json:"skills"`
	Capacity  int       `json:"capacity"` // max concurrent chats; 0 takes none (an admin who only administers)
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"` // may not log in; existing sessions stop working
}

// NormalizeLogin returns the stored form of a login: trimmed and lower case.
// Callers looking an agent up by what a person typed get the same account.
func NormalizeLogin(login string) string {
	return strings.ToLower(strings.TrimSpace(login))
}

// NormalizeAgent validates a and returns its stored form: login lower-cased,
// name defaulting to the login, role defaulting to agent, skills lower-cased,
// sorted and deduplicated. Bad fields give ErrInvalid with a message fit for
// the person who typed them. CreateAgent applies it; the CLI and the console
// call it first so that nobody types a password for an agent that would be
// refused.
func NormalizeAgent(a Agent) (Agent, error) {
	a.Login = NormalizeLogin(a.Login)
	if !loginPattern.MatchString(a.Login) {
		return Agent{}, fmt.Errorf("%w: login %q: use 1 to 64 letters, digits and . _ @ + - starting with a letter or digit", ErrInvalid, a.Login)
	}
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		a.Name = a.Login
	}
	if n := utf8.RuneCountInString(a.Name); n > MaxAgentNameLen || !utf8.ValidString(a.Name) {
		return Agent{}, fmt.Errorf("%w: display name must be valid text of at most %d characters", ErrInvalid, MaxAgentNameLen)
	}
	if strings.ContainsFunc(a.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Agent{}, fmt.Errorf("%w: display name %q contains control characters", ErrInvalid, a.Name)
	}
	if a.Role == "" {
		a.Role = RoleAgent
	}
	if !validRoles[a.Role] {
		return Agent{}, fmt.Errorf("%w: role %q: use admin or agent", ErrInvalid, a.Role)
	}
	skills, err := normalizeSkills(a.Skills)
	if err != nil {
		return Agent{}, err
	}
	a.Skills = skills
	if a.Capacity < 0 || a.Capacity > MaxCapacity {
		return Agent{}, fmt.Errorf("%w: capacity %d: use 0 to %d concurrent chats", ErrInvalid, a.Capacity, MaxCapacity)
	}
	return a, nil
}

func normalizeSkills(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !skillPattern.MatchString(s) {
			return nil, fmt.Errorf("%w: skill %q: use up to 64 letters, digits and _ . / - starting with a letter or digit", ErrInvalid, s)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

const agentColumns = `id, login, name, role, skills, capacity, disabled, created_at`

func scanAgent(row interface{ Scan(...any) error }, extra ...any) (Agent, error) {
	var a Agent
	var skills string
	var disabled int
	var created int64
	dest := append([]any{&a.ID, &a.Login, &a.Name, &a.Role, &skills, &a.Capacity, &disabled, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Agent{}, ErrNotFound
		}
		return Agent{}, translate(err)
	}
	if err := json.Unmarshal([]byte(skills), &a.Skills); err != nil {
		return Agent{}, fmt.Errorf("agent %s: stored skills are not a JSON array: %w", a.Login, err)
	}
	if a.Skills == nil {
		a.Skills = []string{}
	}
	a.Disabled = disabled != 0
	a.CreatedAt = fromMillis(created)
	return a, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateAgent stores a new agent with the given password hash (bcrypt or
// argon2id, encoded; never a clear password) and returns it as stored: a new
// ID when a.ID is empty, CreatedAt from the store clock, and the normalized
// fields (see NormalizeLogin; an empty Name becomes the login, an empty Role
// "agent"). A login already taken gives ErrConflict; bad fields give
// ErrInvalid.
func (db *DB) CreateAgent(ctx context.Context, a Agent, passwordHash []byte) (Agent, error) {
	a, err := NormalizeAgent(a)
	if err != nil {
		return Agent{}, fmt.Errorf("create agent: %w", err)
	}
	if len(passwordHash) == 0 {
		return Agent{}, fmt.Errorf("create agent %s: %w: empty password hash", a.Login, ErrInvalid)
	}
	if a.ID == "" {
		a.ID = NewID()
	}
	skills, err := json.Marshal(a.Skills)
	if err != nil {
		return Agent{}, fmt.Errorf("create agent %s: encode skills: %w", a.Login, err)
	}
	var out Agent
	err = db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		// Checked here rather than read from the constraint error so the
		// message names the login, not a column.
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents WHERE login = ?`, a.Login).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return fmt.Errorf("%w: login %q is already taken", ErrConflict, a.Login)
		}
		v := a
		v.CreatedAt = now
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO agents (id, login, name, role, skills, capacity, password_hash, disabled, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.Login, v.Name, v.Role, string(skills), v.Capacity, string(passwordHash),
			boolInt(v.Disabled), toMillis(now)); err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		return Agent{}, fmt.Errorf("create agent: %w", err)
	}
	return out, nil
}

// AgentByLogin returns the agent with the given login (normalized, so any
// case matches) and its password hash, for checking a login attempt; an
// unknown login gives ErrNotFound. A disabled agent is returned too: the
// caller decides, after checking the password, what to tell the person.
func (db *DB) AgentByLogin(ctx context.Context, login string) (Agent, []byte, error) {
	if db.isShut.Load() {
		return Agent{}, nil, ErrClosed
	}
	login = NormalizeLogin(login)
	var hash string
	a, err := scanAgent(db.rdb.QueryRowContext(ctx,
		`SELECT `+agentColumns+`, password_hash FROM agents WHERE login = ?`, login), &hash)
	if err != nil {
		return Agent{}, nil, fmt.Errorf("agent %q: %w", login, err)
	}
	return a, []byte(hash), nil
}

// Agent returns the agent with the given id, or ErrNotFound.
func (db *DB) Agent(ctx context.Context, id string) (Agent, error) {
	if db.isShut.Load() {
		return Agent{}, ErrClosed
	}
	a, err := scanAgent(db.rdb.QueryRowContext(ctx,
		`SELECT `+agentColumns+` FROM agents WHERE id = ?`, id))
	if err != nil {
		return Agent{}, fmt.Errorf("agent %s: %w", id, err)
	}
	return a, nil
}

// Agents returns every agent, disabled ones included, ordered by login.
func (db *DB) Agents(ctx context.Context) ([]Agent, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx, `SELECT `+agentColumns+` FROM agents ORDER BY login`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", translate(err))
	}
	as, err := collect(rows, func(rows *sql.Rows) (Agent, error) { return scanAgent(rows) })
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}

// CountAgents returns how many agents exist, disabled ones included; the
// server creates the first admin when it is zero.
func (db *DB) CountAgents(ctx context.Context) (int, error) {
	if db.isShut.Load() {
		return 0, ErrClosed
	}
	var n int
	if err := db.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count agents: %w", translate(err))
	}
	return n, nil
}

// agentIDByLogin returns the id of the agent with the (normalized) login
// inside the write transaction, or ErrNotFound.
func agentIDByLogin(ctx context.Context, tx *wtx, login string) (id, role string, disabled bool, err error) {
	var d int
	err = tx.QueryRowContext(ctx, `SELECT id, role, disabled FROM agents WHERE login = ?`, login).Scan(&id, &role, &d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, ErrNotFound
	}
	return id, role, d != 0, err
}

// isLastAdmin reports whether the agent is the only enabled admin left.
func isLastAdmin(ctx context.Context, tx *wtx, id string) (bool, error) {
	var others int
	err := tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM agents WHERE role = ? AND disabled = 0 AND id <> ?`, RoleAdmin, id).Scan(&others)
	return others == 0, err
}

// DeleteAgent removes the agent with the given login and its sessions. Its
// open hand-offs (offered or assigned) go back to the queue in the same
// transaction, so no conversation is left with an agent who no longer
// exists; closed hand-offs and notes keep their text with no agent. Removing
// the last enabled admin gives ErrConflict, because nobody could then
// administer the console; an unknown login gives ErrNotFound.
func (db *DB) DeleteAgent(ctx context.Context, login string) error {
	login = NormalizeLogin(login)
	err := db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		id, role, disabled, err := agentIDByLogin(ctx, tx, login)
		if err != nil {
			return err
		}
		if role == RoleAdmin && !disabled {
			last, err := isLastAdmin(ctx, tx, id)
			if err != nil {
				return err
			}
			if last {
				return fmt.Errorf("%w: %q is the last admin; add another admin first", ErrConflict, login)
			}
		}
		if err := requeueAgentHandoffs(ctx, tx, id, now); err != nil {
			return err
		}
		// Sessions go by ON DELETE CASCADE; notes keep their rows with
		// agent_id NULL.
		_, err = tx.ExecContext(ctx, `DELETE FROM agents WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete agent %q: %w", login, err)
	}
	return nil
}

// requeueAgentHandoffs puts the hand-offs the agent owns back in the queue
// and their conversations in state queued, as the running queue does when an
// agent goes for good: the record loses its agent, its wait starts again and
// it counts one more return. A server started afterwards restores these
// conversations as waiting rather than holding them for an agent who no
// longer exists. The version stays as it is, on purpose: when a server is
// running while an admin removes the agent (attune agent remove), its queue
// is the live truth and its next save of the hand-off (version + 1) must
// still be applied, not dropped as outdated; that server learns of the
// removal when the agent's console session is cut off, and re-queues the
// conversations itself. Closed hand-offs keep their agent id as history.
func requeueAgentHandoffs(ctx context.Context, tx *wtx, agentID string, now time.Time) error {
	if _, err := tx.ExecContext(ctx,
		`UPDATE conversations SET state = ?, updated_at = ? WHERE id IN
		 (SELECT conversation_id FROM handoff_records WHERE agent_id = ? AND state = ?)`,
		StateQueued, toMillis(now), agentID, StateAgent); err != nil {
		return fmt.Errorf("re-queue conversations: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE handoff_records SET state = ?, agent_id = '', queued_at = ?, returns = returns + 1,
		 updated_at = ?
		 WHERE agent_id = ? AND state = ?`,
		StateQueued, toMillis(now), toMillis(now), agentID, StateAgent); err != nil {
		return fmt.Errorf("re-queue hand-offs: %w", err)
	}
	return nil
}

// SetAgentPassword replaces the password hash of the agent with the given
// login and ends all of that agent's sessions in the same transaction, so a
// password reset also locks out whoever held a stolen session. An unknown
// login gives ErrNotFound.
func (db *DB) SetAgentPassword(ctx context.Context, login string, hash []byte) error {
	login = NormalizeLogin(login)
	if len(hash) == 0 {
		return fmt.Errorf("set password of %q: %w: empty password hash", login, ErrInvalid)
	}
	err := db.write(ctx, func(ctx context.Context, tx *wtx, _ time.Time) error {
		id, _, _, err := agentIDByLogin(ctx, tx, login)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET password_hash = ? WHERE id = ?`, string(hash), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM agent_sessions WHERE agent_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("set password of %q: %w", login, err)
	}
	return nil
}

// SetAgentDisabled disables or re-enables the agent with the given login.
// Disabling ends the agent's sessions and re-queues its open hand-offs in the
// same transaction; disabling the last enabled admin gives ErrConflict. An
// unknown login gives ErrNotFound.
func (db *DB) SetAgentDisabled(ctx context.Context, login string, disabled bool) error {
	login = NormalizeLogin(login)
	err := db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		id, role, was, err := agentIDByLogin(ctx, tx, login)
		if err != nil {
			return err
		}
		if was == disabled {
			return nil
		}
		if disabled {
			if role == RoleAdmin {
				last, err := isLastAdmin(ctx, tx, id)
				if err != nil {
					return err
				}
				if last {
					return fmt.Errorf("%w: %q is the last admin; add another admin first", ErrConflict, login)
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM agent_sessions WHERE agent_id = ?`, id); err != nil {
				return err
			}
			if err := requeueAgentHandoffs(ctx, tx, id, now); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE agents SET disabled = ? WHERE id = ?`, boolInt(disabled), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("set %q disabled=%t: %w", login, disabled, err)
	}
	return nil
}
