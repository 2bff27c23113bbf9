-- Only incidents are ever looked up by device (the agent page's incident list), so only they
-- are indexed by device: a heartbeat's insert then maintains two indexes, not three.
DROP INDEX events_device_at;
CREATE INDEX events_device_incident ON events (device_id, at) WHERE kind = 'incident';
