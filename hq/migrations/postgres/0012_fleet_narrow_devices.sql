-- Issue 17: the fleet page at 100,000 agents. The last report (1 to 2 KB of JSON) moves out of
-- `devices` into `device_reports`, so every scan of the fleet (its counts by state, its sorts
-- by state and by last seen) reads rows of about 200 bytes instead of 1.5 KB, and a
-- heartbeat's update of its device rewrites that much less. `report_readiness` keeps what
-- the fleet's state reads from the report: its readiness (`unknown` when it has none), NULL
-- while the device has sent no report.
CREATE TABLE device_reports (
    device_id TEXT PRIMARY KEY,
    report TEXT NOT NULL
);
INSERT INTO device_reports (device_id, report)
    SELECT id, last_report FROM devices WHERE last_report IS NOT NULL;
ALTER TABLE devices ADD COLUMN report_readiness TEXT;
UPDATE devices SET report_readiness = COALESCE(last_report::json ->> 'readiness', 'unknown')
    WHERE last_report IS NOT NULL;
ALTER TABLE devices DROP COLUMN last_report;
-- The fleet sorted by name (ORDER BY hostname, id) walks this index for its page instead of
-- sorting every device; a hostname changes only at enrollment, so heartbeats never touch it.
DROP INDEX devices_hostname;
CREATE INDEX devices_hostname_id ON devices (hostname, id);
