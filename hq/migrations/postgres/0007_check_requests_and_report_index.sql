-- Issue 13: "Run the check now" and schedule adherence.
-- An admin's pending request that a device run its full check: one per device (a second
-- request while one is pending keeps the first time). HQ hands it to the daemon in the answer
-- to its next events POST or policy fetch and deletes it when a report arrives after it.
CREATE TABLE check_requests (
    device_id TEXT PRIMARY KEY,
    requested_at BIGINT NOT NULL,
    requested_by TEXT NOT NULL
);
-- Adherence reads a device's reports over a shift (their readiness). Reports are few (heartbeats
-- are not in this partial index), so a heartbeat's insert maintains no extra index.
CREATE INDEX events_device_report ON events (device_id, at) WHERE kind = 'report';
-- Adherence lists the shifts scheduled in a range, for any device.
CREATE INDEX schedules_start_at ON schedules (start_at);
