package store

import (
	"context"
	"fmt"
	"time"
)

// Console sessions. Like resume tokens, only the SHA-256 of a session token
// is stored: a leaked database file or backup does not let anyone log in.

// CreateSession records a console session for the agent, valid until
// expires (which must be after the store clock's now, else ErrInvalid).
// tokenHash is the 32-byte SHA-256 of the token in the cookie. An unknown
// agent gives ErrNotFound, a hash already in use ErrConflict.
func (db *DB) CreateSession(ctx context.Context, tokenHash []byte, agentID string, expires time.Time) error {
	key, err := tokenKey(tokenHash)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	err = db.write(ctx, func(ctx context.Context, tx *wtx, now time.Time) error {
		if !expires.After(now) {
			return fmt.Errorf("%w: expiry %s is not after now (%s)", ErrInvalid,
				expires.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
		}
		// The foreign key would refuse an unknown agent too, but with a
		// message that names neither the agent nor the table.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents WHERE id = ?`, agentID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("agent %s: %w", agentID, ErrNotFound)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO agent_sessions (token_hash, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			key, agentID, toMillis(now), toMillis(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionAgent returns the agent owning the session whose token hashes to
// tokenHash. A missing or expired session, or one whose agent is disabled,
// gives ErrNotFound: to the caller all three mean "log in again".
func (db *DB) SessionAgent(ctx context.Context, tokenHash []byte) (Agent, error) {
	key, err := tokenKey(tokenHash)
	if err != nil {
		return Agent{}, fmt.Errorf("session: %w", err)
	}
	if db.isShut.Load() {
		return Agent{}, ErrClosed
	}
	a, err := scanAgent(db.rdb.QueryRowContext(ctx,
		`SELECT a.id, a.login, a.name, a.role, a.skills, a.capacity, a.disabled, a.created_at
		 FROM agent_sessions s JOIN agents a ON a.id = s.agent_id
		 WHERE s.token_hash = ? AND s.expires_at > ? AND a.disabled = 0`,
		key, toMillis(db.clock())))
	if err != nil {
		// The hash stays out of the message: errors end up in logs, and
		// logs should not carry session identifiers.
		return Agent{}, fmt.Errorf("session: %w", err)
	}
	return a, nil
}

// DeleteSession ends the session whose token hashes to tokenHash. Ending a
// session that does not exist is not an error, so logging out twice (two
// tabs) is harmless.
func (db *DB) DeleteSession(ctx context.Context, tokenHash []byte) error {
	key, err := tokenKey(tokenHash)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	err = db.write(ctx, func(ctx context.Context, tx *wtx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM agent_sessions WHERE token_hash = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions whose expiry is at or before
// now and returns how many it deleted. SessionAgent already ignores them;
// this only keeps the table small.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var deleted int
	err := db.write(ctx, func(ctx context.Context, tx *wtx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM agent_sessions WHERE expires_at <= ?`, toMillis(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		deleted = int(n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete sessions expired by %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	return deleted, nil
}
