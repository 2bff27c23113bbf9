-- ShiftReady HQ schema (PostgreSQL). Times are milliseconds since the Unix epoch, UTC.
CREATE TABLE sites (
    name TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    etag TEXT NOT NULL,
    offline_ms BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE enroll_secrets (
    hash TEXT PRIMARY KEY,
    site TEXT NOT NULL REFERENCES sites(name),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL REFERENCES sites(name),
    hostname TEXT NOT NULL,
    os TEXT NOT NULL DEFAULT '',
    agent_version TEXT NOT NULL DEFAULT '',
    key_hash TEXT NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    last_seen BIGINT,
    readiness TEXT,
    readiness_at BIGINT,
    signed_in BIGINT NOT NULL DEFAULT 0,
    shift_at BIGINT,
    skew_ms BIGINT,
    last_report TEXT,
    problem TEXT,
    report_at BIGINT
);
CREATE INDEX devices_hostname ON devices (hostname);
CREATE INDEX devices_last_seen ON devices (last_seen);
CREATE INDEX devices_site_signed_in ON devices (site, signed_in, last_seen);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX events_device_at ON events (device_id, at);
CREATE INDEX events_received_at ON events (received_at);
CREATE TABLE shift_log (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    readiness TEXT,
    event_id TEXT UNIQUE
);
CREATE INDEX shift_log_at ON shift_log (at);
CREATE INDEX shift_log_device_at ON shift_log (device_id, at);
CREATE TABLE samples (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    rtt_ms DOUBLE PRECISION,
    jitter_ms DOUBLE PRECISION,
    loss_pct DOUBLE PRECISION,
    mos DOUBLE PRECISION,
    noise_dbfs DOUBLE PRECISION
);
CREATE INDEX samples_device_at ON samples (device_id, at);
CREATE TABLE schedules (
    device_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, start_at)
);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE enroll_attempts (
    addr TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (addr, window_start)
);
