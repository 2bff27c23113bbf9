-- Issue 15: dropped calls explained. One row per `call_drop` event (its id), written in the
-- ingest transaction with HQ's verdict, so the pages and the API read no event bodies.
-- `seconds` is the event's per-second history (proto `Seconds`, JSON) for the agent page's
-- strip; `link` the link kind when reported. Pruned with the event (`--keep-call-drops-days`).
CREATE TABLE call_drops (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    note TEXT NOT NULL,
    verdict_kind TEXT NOT NULL,
    verdict TEXT NOT NULL,
    link TEXT,
    seconds TEXT NOT NULL
);
-- The fleet's list (newest first, by a range) and one agent's.
CREATE INDEX call_drops_at ON call_drops (at);
CREATE INDEX call_drops_device_at ON call_drops (device_id, at);
CREATE INDEX call_drops_received_at ON call_drops (received_at);
