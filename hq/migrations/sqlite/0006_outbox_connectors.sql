-- Issue 14: readiness reaches the phone system.
-- The outbox: a change for an outside system, written in the same transaction as the event
-- that caused it, delivered in order per ordering_key (an agent), each row once: a process
-- claims a row with a lease (lease_owner, lease_until) and marks it done after delivery.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- where it goes, e.g. `connector:SITE`
    destination TEXT NOT NULL,
    -- rows with the same key are delivered one after another, in id order
    ordering_key TEXT NOT NULL,
    -- what it is, e.g. `agent_state`
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    done_at BIGINT,
    -- `ok`, `skipped` (left alone: a person's choice) or `rejected` (refused for good)
    outcome TEXT
);
CREATE INDEX outbox_pending ON outbox (next_at) WHERE done_at IS NULL;
CREATE INDEX outbox_key_pending ON outbox (ordering_key, id) WHERE done_at IS NULL;
-- A site's connector: its configuration (file paths and names only, never a secret) and its
-- health as IT sees it.
CREATE TABLE connectors (
    site TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    health TEXT NOT NULL DEFAULT 'unknown',
    last_error TEXT,
    last_error_at BIGINT,
    last_ok_at BIGINT
);
-- Which platform user each agent is, and what ShiftReady knows of the agent's platform state:
-- the incidents now open, the state last queued (`desired`), the state last set and when, and
-- the last delivery's result in words.
CREATE TABLE connector_users (
    device_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    platform_user TEXT NOT NULL,
    incidents TEXT NOT NULL DEFAULT '',
    desired TEXT,
    set_state TEXT,
    set_at BIGINT,
    result TEXT,
    result_at BIGINT
);
CREATE INDEX connector_users_site ON connector_users (site);
