-- 0001_init: visitors, conversations, messages and bot decisions.
--
-- Portability notes (a PostgreSQL backend follows):
--   * times are BIGINT unix milliseconds, UTC by definition, so comparisons and
--     ordering are numeric and identical on both engines;
--   * the resume token hash is stored as lower-case hex TEXT (not BLOB/BYTEA);
--   * "from" and "text" are avoided as column names (reserved or type words):
--     the columns are sender and body;
--   * an empty client id is stored as NULL, so the plain unique index on
--     (conversation_id, client_id) allows any number of messages without one
--     on both engines (NULLs are distinct in unique indexes);
--   * conversation states are validated in Go rather than with a CHECK, so a
--     later state does not need a table rebuild in SQLite.

CREATE TABLE visitors (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Cascading a visitor delete and finding visitors left without conversations.
CREATE INDEX conversations_visitor_id ON conversations (visitor_id);
-- Retention: DeleteExpired scans by last activity.
CREATE INDEX conversations_updated_at ON conversations (updated_at);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    client_id       TEXT,
    sender          TEXT NOT NULL,
    body            TEXT NOT NULL,
    sent_at         BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Deduplication of resent client messages; NULL (no client id) never collides.
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_id);

CREATE TABLE decisions (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    in_reply_to     BIGINT NOT NULL,
    intent          TEXT NOT NULL,
    confidence      DOUBLE PRECISION NOT NULL,
    source          TEXT NOT NULL,
    rule            TEXT NOT NULL,
    details         TEXT,
    decided_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
);
