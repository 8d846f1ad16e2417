-- 0002_agents: human agents, their console sessions, hand-offs and internal notes.
--
-- Portability notes (same rules as 0001_init):
--   * times are BIGINT unix milliseconds; a time that has not happened yet
--     (assigned_at, closed_at) is NULL rather than 0;
--   * password hashes are the encoded text form (bcrypt "$2a$..." or argon2id
--     "$argon2id$..."), so TEXT on both engines; the clear password is never
--     stored;
--   * session tokens are stored as the lower-case hex SHA-256 of the token,
--     like resume tokens, so a copy of the database cannot be used to log in;
--   * skills and tags are JSON arrays in TEXT: routing matches them in memory,
--     and a PostgreSQL backend may cast them to jsonb without a rebuild;
--   * booleans are SMALLINT 0/1 (SQLite has no BOOLEAN type);
--   * roles and states are validated in Go, not with CHECK, so that a new one
--     does not need a table rebuild in SQLite;
--   * logins are stored lower-cased by the Go code, so the plain UNIQUE
--     constraint is case-insensitive in effect on both engines.

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    skills        TEXT NOT NULL,
    capacity      INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      SMALLINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE agent_sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Logging an agent out everywhere (password change, removal) and the sweep
-- of expired sessions.
CREATE INDEX agent_sessions_agent_id ON agent_sessions (agent_id);
CREATE INDEX agent_sessions_expires_at ON agent_sessions (expires_at);

-- One row per conversation: its current (or last) hand-off. A conversation
-- handed off again later reuses the row. Removing an agent keeps the history
-- of closed hand-offs with no agent (SET NULL); open ones are re-queued by
-- DeleteAgent before the delete.
CREATE TABLE handoffs (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    priority        DOUBLE PRECISION NOT NULL,
    tags            TEXT NOT NULL,
    agent_id        TEXT REFERENCES agents (id) ON DELETE SET NULL,
    state           TEXT NOT NULL,
    queued_at       BIGINT NOT NULL,
    assigned_at     BIGINT,
    closed_at       BIGINT,
    resolution      TEXT NOT NULL,
    visitor_email   TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The queue on start-up: open hand-offs, oldest first.
CREATE INDEX handoffs_state_queued_at ON handoffs (state, queued_at);
CREATE INDEX handoffs_agent_id ON handoffs (agent_id);

-- Internal notes: agents only, never sent to the visitor. seq orders notes
-- within a conversation (portable, unlike SQLite's rowid); the single writer
-- and the primary key keep it unique.
CREATE TABLE notes (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    agent_id        TEXT REFERENCES agents (id) ON DELETE SET NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE INDEX notes_agent_id ON notes (agent_id);
