-- A heartbeat moves a device's last_seen. With last_seen in no index, that update touches no
-- index at all: the lost-contact sweep finds a site's signed-in devices by (site, signed_in)
-- and the fleet page sorts by last_seen without an index (a top-N sort).
DROP INDEX devices_last_seen;
DROP INDEX devices_site_signed_in;
CREATE INDEX devices_site_signed_in ON devices (site, signed_in);
