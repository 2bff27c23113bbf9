-- Issue 15, found in review (helper hq-review).
--
-- 1. An hour of the timeline counts its outage minutes (a minute that lost everything in a
--    direction, or had its link down 30 s or more: `samples::Row::outage`), instead of calling
--    30 s of link blips scattered over the hour an outage. NULL: not known (an hour whose
--    minutes were already pruned when this ran; the timeline then judges it by its worst
--    minute's loss and by what its summed link-down seconds prove, see hq/src/samples.rs).
ALTER TABLE sample_hours ADD COLUMN outage_minutes BIGINT;
UPDATE sample_hours SET outage_minutes = (
    SELECT COUNT(*) FROM minute_samples m
    WHERE m.device_id = sample_hours.device_id
      AND m.minute >= sample_hours.hour AND m.minute < sample_hours.hour + 3600000
      AND (m.loss_up_pct >= 99.5 OR m.loss_down_pct >= 99.5 OR m.link_down_seconds >= 30))
WHERE minutes = (
    SELECT COUNT(*) FROM minute_samples m
    WHERE m.device_id = sample_hours.device_id
      AND m.minute >= sample_hours.hour AND m.minute < sample_hours.hour + 3600000);

-- 2. When a condition that must hold a while was first seen, by site, rule and subject: the
--    key `RULE:SITE:SUBJECT` alone matched site `a`'s rows against site `a:b`'s (a prefix), and
--    one site's evaluation deleted the other's. Rows of the old table are kept where the key is
--    exactly a site's not_ready_share key (the one rule that uses it).
CREATE TABLE alert_pending_by_site (
    site TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (site, rule, subject)
);
INSERT INTO alert_pending_by_site (site, rule, subject, since)
    SELECT s.name, 'not_ready_share', 'signed_in', p.since
    FROM alert_pending p JOIN sites s ON p.alert_key = 'not_ready_share:' || s.name || ':signed_in';
DROP TABLE alert_pending;
ALTER TABLE alert_pending_by_site RENAME TO alert_pending;

-- 3. The outbox row that carries each delivery, so a row whose payload cannot be read still
--    marks its delivery failed (before: it stayed `pending` for ever). Filled for the deliveries
--    still under way.
ALTER TABLE alert_deliveries ADD COLUMN outbox_id BIGINT;
UPDATE alert_deliveries SET outbox_id = (
    SELECT MIN(o.id) FROM outbox o
    WHERE o.kind = 'alert_message' AND o.payload LIKE '%"delivery_id":"' || alert_deliveries.id || '"%')
WHERE state IN ('pending', 'retrying');
CREATE INDEX alert_deliveries_outbox ON alert_deliveries (outbox_id);

-- 4. Retention (`serve --keep-alerts-days`): resolved alerts are pruned by when they resolved.
CREATE INDEX alerts_resolved_at ON alerts (resolved_at);
