-- Issue 15: IT is told. A site's alert rules and receivers, the alerts raised (one open alert
-- per key: rule, site and subject), each message's delivery to each receiver, and the public
-- address prefix HQ saw each incident come from (for the correlated rule's grouping).

-- A site's alert file as JSON: rules, receivers, and where their secrets are read from (file
-- paths and environment variable names, never a secret).
CREATE TABLE alert_configs (
    site TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One alert: opened when its rule's condition held long enough, resolved once when it cleared.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    -- `RULE:SITE:SUBJECT`; at most one open alert per key (the index below)
    alert_key TEXT NOT NULL,
    rule TEXT NOT NULL,
    site TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- one line in words, and the details (JSON: lines and the agents concerned)
    summary TEXT NOT NULL,
    detail TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE UNIQUE INDEX alerts_open_key ON alerts (alert_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_opened_at ON alerts (opened_at);
-- When a condition that must hold for a while (the not-ready share) was first seen true.
CREATE TABLE alert_pending (
    alert_key TEXT PRIMARY KEY,
    since BIGINT NOT NULL
);
-- One message (firing, resolved, test) to one receiver, delivered through the outbox: its id is
-- the receiver's idempotency key; `state` is pending, sent, retrying or failed (refused for good).
CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT,
    site TEXT NOT NULL,
    message TEXT NOT NULL,
    receiver TEXT NOT NULL,
    receiver_kind TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);
-- The public address prefix (IPv4 /24, IPv6 /48) an incident event came from, as HQ saw it
-- (behind `serve --trusted-proxy`, the forwarded client's); only the prefix is kept.
CREATE TABLE event_addrs (
    event_id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX event_addrs_at ON event_addrs (at);
