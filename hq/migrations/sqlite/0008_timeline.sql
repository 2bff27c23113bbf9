-- Issue 15: an agent's timeline, and `idle` apart from `offline`.
--
-- One row per agent and minute of a shift: the figures of its `sample` event (the event itself
-- stays in `events`, which makes it idempotent on its id). A second event for the same minute
-- changes nothing. Kept `serve --keep-minute-samples-days` (30) by the minute's time.
CREATE TABLE minute_samples (
    device_id TEXT NOT NULL,
    minute BIGINT NOT NULL,
    seconds BIGINT NOT NULL,
    rtt_p50_ms DOUBLE PRECISION,
    rtt_p95_ms DOUBLE PRECISION,
    jitter_up_ms DOUBLE PRECISION,
    jitter_down_ms DOUBLE PRECISION,
    loss_up_pct DOUBLE PRECISION,
    loss_down_pct DOUBLE PRECISION,
    mos_min DOUBLE PRECISION,
    gateway_rtt_p50_ms DOUBLE PRECISION,
    gateway_loss_pct DOUBLE PRECISION,
    link TEXT,
    link_down_seconds BIGINT NOT NULL,
    wifi_signal_dbm BIGINT,
    headset BIGINT,
    noise_dba DOUBLE PRECISION,
    noise_class TEXT,
    PRIMARY KEY (device_id, minute)
) WITHOUT ROWID;
-- Pruning finds old minutes without reading every agent's rows.
CREATE INDEX minute_samples_minute ON minute_samples (minute);
-- Hourly roll-ups, updated in the transaction that stores each new minute (so a late minute
-- from a spool counts once, in its own hour). What each column means is in hq/src/samples.rs
-- (`Hour`): sums with their counts give means; *_max and *_min are the worst minute's.
-- Kept `serve --keep-hourly-samples-days` (366).
CREATE TABLE sample_hours (
    device_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    seconds BIGINT NOT NULL,
    rtt_p50_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    rtt_p50_n BIGINT NOT NULL DEFAULT 0,
    rtt_p95_max DOUBLE PRECISION,
    jitter_up_max DOUBLE PRECISION,
    jitter_down_max DOUBLE PRECISION,
    loss_up_max DOUBLE PRECISION,
    loss_down_max DOUBLE PRECISION,
    loss_up_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    loss_up_n BIGINT NOT NULL DEFAULT 0,
    loss_down_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    loss_down_n BIGINT NOT NULL DEFAULT 0,
    mos_min DOUBLE PRECISION,
    gateway_rtt_p50_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    gateway_rtt_p50_n BIGINT NOT NULL DEFAULT 0,
    gateway_loss_max DOUBLE PRECISION,
    link_down_seconds BIGINT NOT NULL DEFAULT 0,
    wifi_signal_min BIGINT,
    headset_missing_minutes BIGINT NOT NULL DEFAULT 0,
    noise_dba_max DOUBLE PRECISION,
    PRIMARY KEY (device_id, hour)
) WITHOUT ROWID;
CREATE INDEX sample_hours_hour ON sample_hours (hour);
-- `idle` (on, off shift, heard from) apart from `offline`: how long after the last word from a
-- signed-out device it still counts as on. The larger of 3 presence intervals
-- (`[shift] presence_seconds`, default 300) and the in-shift lost-contact window.
ALTER TABLE sites ADD COLUMN idle_ms BIGINT NOT NULL DEFAULT 900000;
UPDATE sites SET idle_ms = MAX(offline_ms,
    3000 * COALESCE(json_extract(policy, '$.shift.presence_seconds'), 300));
