-- 0003_handoff_records: every hand-off as the queue keeps it, and the history of real waits.
--
-- Portability notes (same rules as 0001_init and 0002_agents):
--   * times are BIGINT unix milliseconds; a time that has not happened yet
--     (queued_at before queueing, accepted_at, ended_at) is NULL rather than 0;
--   * tags (a JSON array) and mood (a JSON object) are TEXT, so a PostgreSQL
--     backend may cast them to jsonb without a rebuild;
--   * states are validated in Go, not with CHECK (see 0001_init);
--   * the version rule is an upsert guard, INSERT ... ON CONFLICT (id) DO
--     UPDATE ... WHERE excluded.version > handoff_records.version, which both
--     engines support with the same syntax.
--
-- One row per hand-off (a conversation handed over twice has two rows), unlike
-- the handoffs table of 0002, which keeps one row per conversation and has no
-- version. agent_id has no foreign key on purpose: the queue may save a
-- record for an agent removed a moment earlier, and a save refused for that
-- would be retried forever; a restored conversation whose agent is gone goes
-- back to the queue after the grace period like any other.
CREATE TABLE handoff_records (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    intent          TEXT NOT NULL,
    tags            TEXT NOT NULL,
    mood            TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    email           TEXT NOT NULL,
    resolution      TEXT NOT NULL,
    returns         INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    queued_at       BIGINT,
    accepted_at     BIGINT,
    ended_at        BIGINT,
    version         BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The queue on start-up: open hand-offs, oldest first.
CREATE INDEX handoff_records_state_created_at ON handoff_records (state, created_at);
-- Retention cascades from conversations.
CREATE INDEX handoff_records_conversation_id ON handoff_records (conversation_id);

-- One row per acceptance of a hand-off: how long the visitor waited for a
-- person. The key makes recording idempotent, so a retried save or an
-- out-of-order snapshot of the same acceptance never counts it twice.
CREATE TABLE handoff_waits (
    handoff_id      TEXT NOT NULL,
    accepted_at     BIGINT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    queued_at       BIGINT NOT NULL,
    PRIMARY KEY (handoff_id, accepted_at)
);

-- RecentWaits: newest acceptances first.
CREATE INDEX handoff_waits_accepted_at ON handoff_waits (accepted_at);
CREATE INDEX handoff_waits_conversation_id ON handoff_waits (conversation_id);
