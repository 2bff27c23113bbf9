-- A heartbeat moves a device's last_seen. With last_seen in no index (and room left on each
-- page), that update is a HOT update: no index entry is written. The lost-contact sweep finds
-- a site's signed-in devices by (site, signed_in); the fleet page sorts by last_seen without
-- an index (a top-N sort).
DROP INDEX devices_last_seen;
DROP INDEX devices_site_signed_in;
CREATE INDEX devices_site_signed_in ON devices (site, signed_in);
ALTER TABLE devices SET (fillfactor = 70);
