-- Issue 12: a shift log that payroll can trust.
-- Every shift-log line keeps HQ's clock (received_at) beside the agent's `at`, and its flags
-- (`out_of_order`: dated before the device's previous shift event, so it changed nothing;
-- `clock_off`: the device's clock was more than five minutes off HQ's), comma-separated.
ALTER TABLE shift_log ADD COLUMN received_at BIGINT;
ALTER TABLE shift_log ADD COLUMN flags TEXT NOT NULL DEFAULT '';
UPDATE shift_log SET received_at = COALESCE(
    (SELECT e.received_at FROM events e WHERE e.id = shift_log.event_id), at);
-- The reason of the device's latest shift change, so HQ knows a `lost_contact` sign-out to end
-- with `contact_restored` when heartbeats resume.
ALTER TABLE devices ADD COLUMN shift_reason TEXT;
UPDATE devices SET shift_reason = (SELECT l.reason FROM shift_log l
    WHERE l.device_id = devices.id ORDER BY l.at DESC, l.id DESC LIMIT 1);
-- When HQ received the last report (it orders reports by that, not by the agent's clock).
ALTER TABLE devices ADD COLUMN report_received_at BIGINT;
UPDATE devices SET report_received_at = CASE WHEN report_at > last_seen THEN last_seen
    ELSE report_at END WHERE report_at IS NOT NULL;
-- readiness_at and shift_at never run ahead of HQ's clock any more: thaw any state a
-- future-dated event froze.
UPDATE devices SET readiness_at = last_seen WHERE readiness_at > last_seen;
UPDATE devices SET shift_at = CAST(strftime('%s', 'now') AS BIGINT) * 1000 WHERE shift_at > CAST(strftime('%s', 'now') AS BIGINT) * 1000;
