//! An agent's timeline (issue 15): the per-minute `sample` events as rows, their hourly
//! roll-ups, retention, and the reads of the timeline API and the agent page.
//!
//! - **Per minute** (`minute_samples`): one row per agent and minute, the [`MinuteSample`]'s
//!   figures as columns. Idempotent: a sample event HQ holds already (same id) never reaches
//!   [`store`] (ingest stores only new events), and a second event for a minute already held
//!   changes nothing (`ON CONFLICT DO NOTHING`). Kept 30 days by default
//!   (`serve --keep-minute-samples-days`), by the minute's time.
//! - **Per hour** (`sample_hours`): updated in the same transaction as each new minute, so it
//!   is always current, a late minute from a spool lands in its own hour, and a minute counts
//!   once. What each figure of an hour means is on [`Row`]. Kept a year by default
//!   (`serve --keep-hourly-samples-days`).
//! - A range up to [`MINUTE_RANGE_MAX_MS`] (2 days) is answered per minute, a longer one per
//!   hour ([`Resolution`]).

use crate::db::{Db, Retention};
use proto::event::{Event, EventBody};
use proto::sample::MinuteSample;
use serde::Serialize;
use sqlx::Row as _;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
/// The longest range answered per minute (2 days: 2,880 rows); longer ranges per hour.
pub const MINUTE_RANGE_MAX_MS: i64 = 2 * 86_400_000;
/// The most rows one read returns (a year of hours is 8,784).
const MAX_ROWS: i64 = 10_000;

/// How finely a range is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    /// Per minute for a range up to [`MINUTE_RANGE_MAX_MS`], else per hour.
    pub fn for_range(from: i64, to: i64) -> Resolution {
        if to - from <= MINUTE_RANGE_MAX_MS {
            Resolution::Minute
        } else {
            Resolution::Hour
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        }
    }
    pub fn ms(self) -> i64 {
        match self {
            Resolution::Minute => MINUTE_MS,
            Resolution::Hour => HOUR_MS,
        }
    }
}

/// Checks a sample's figures (the event is refused with the field at fault otherwise): seconds
/// of a minute at most 60, times 0 to 60,000 ms, percentages 0 to 100, MOS 1 to 5, Wi-Fi
/// signal −150 to 0 dBm, names short lowercase words.
///
/// The side figures (the room's level, the Wi-Fi signal) come from drivers and calibrations
/// HQ cannot vouch for: one out of range is dropped (set to none), not the minute's network
/// figures with it (found in review: a driver reporting a relative Wi-Fi level read as
/// −186 dBm refused every minute of a shift).
pub fn check(s: &mut MinuteSample) -> Result<(), String> {
    if s.noise_dba
        .is_some_and(|v| !v.is_finite() || !(-200.0..=200.0).contains(&v))
    {
        s.noise_dba = None;
    }
    if s.wifi_signal_dbm.is_some_and(|w| !(-150..=0).contains(&w)) {
        s.wifi_signal_dbm = None;
    }
    if s.seconds > 60 {
        return Err(format!(
            "`sample.seconds` is {}; a minute has 60",
            s.seconds
        ));
    }
    if s.link_down_seconds > 60 {
        return Err(format!(
            "`sample.link_down_seconds` is {}; a minute has 60",
            s.link_down_seconds
        ));
    }
    let ranges: [(&str, Option<f32>, f32, f32); 9] = [
        ("rtt_p50_ms", s.rtt_p50_ms, 0.0, 60_000.0),
        ("rtt_p95_ms", s.rtt_p95_ms, 0.0, 60_000.0),
        ("jitter_up_ms", s.jitter_up_ms, 0.0, 60_000.0),
        ("jitter_down_ms", s.jitter_down_ms, 0.0, 60_000.0),
        ("loss_up_pct", s.loss_up_pct, 0.0, 100.0),
        ("loss_down_pct", s.loss_down_pct, 0.0, 100.0),
        ("mos_min", s.mos_min, 1.0, 5.0),
        ("gateway_rtt_p50_ms", s.gateway_rtt_p50_ms, 0.0, 60_000.0),
        ("gateway_loss_pct", s.gateway_loss_pct, 0.0, 100.0),
    ];
    for (name, v, lo, hi) in ranges {
        if let Some(v) = v {
            if !v.is_finite() || v < lo || v > hi {
                return Err(format!(
                    "`sample.{name}` is {v}; it must be between {lo} and {hi}"
                ));
            }
        }
    }
    for (name, v) in [("link", &s.link), ("noise_class", &s.noise_class)] {
        if let Some(v) = v {
            let ok = !v.is_empty()
                && v.len() <= 32
                && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if !ok {
                return Err(format!(
                    "`sample.{name}` must be 1 to 32 characters of a-z and _"
                ));
            }
        }
    }
    Ok(())
}

/// Keeps a worse figure of an hour: `$c` as the larger (`>`) or smaller (`<`) of what the hour
/// holds and the new minute's, NULL meaning "not measured".
macro_rules! worst {
    ($c:literal, $op:literal) => {
        concat!(
            $c,
            " = CASE WHEN excluded.",
            $c,
            " IS NULL THEN sample_hours.",
            $c,
            " WHEN sample_hours.",
            $c,
            " IS NULL OR excluded.",
            $c,
            " ",
            $op,
            " sample_hours.",
            $c,
            " THEN excluded.",
            $c,
            " ELSE sample_hours.",
            $c,
            " END"
        )
    };
}

/// Adds a minute's figure to an hour's sum or count.
macro_rules! add {
    ($c:literal) => {
        concat!($c, " = sample_hours.", $c, " + excluded.", $c)
    };
}

const INSERT_MINUTE: &str = "INSERT INTO minute_samples (device_id, minute, seconds, \
    rtt_p50_ms, rtt_p95_ms, jitter_up_ms, jitter_down_ms, loss_up_pct, loss_down_pct, mos_min, \
    gateway_rtt_p50_ms, gateway_loss_pct, link, link_down_seconds, wifi_signal_dbm, headset, \
    noise_dba, noise_class) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
    ON CONFLICT (device_id, minute) DO NOTHING RETURNING minute";

const UPSERT_HOUR: &str = concat!(
    "INSERT INTO sample_hours (device_id, hour, minutes, seconds, rtt_p50_sum, rtt_p50_n, \
     rtt_p95_max, jitter_up_max, jitter_down_max, loss_up_max, loss_down_max, loss_up_sum, \
     loss_up_n, loss_down_sum, loss_down_n, mos_min, gateway_rtt_p50_sum, gateway_rtt_p50_n, \
     gateway_loss_max, link_down_seconds, wifi_signal_min, headset_missing_minutes, \
     noise_dba_max, outage_minutes) \
     VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22, $23) \
     ON CONFLICT (device_id, hour) DO UPDATE SET ",
    add!("minutes"),
    ", ",
    add!("seconds"),
    ", ",
    add!("rtt_p50_sum"),
    ", ",
    add!("rtt_p50_n"),
    ", ",
    worst!("rtt_p95_max", ">"),
    ", ",
    worst!("jitter_up_max", ">"),
    ", ",
    worst!("jitter_down_max", ">"),
    ", ",
    worst!("loss_up_max", ">"),
    ", ",
    worst!("loss_down_max", ">"),
    ", ",
    add!("loss_up_sum"),
    ", ",
    add!("loss_up_n"),
    ", ",
    add!("loss_down_sum"),
    ", ",
    add!("loss_down_n"),
    ", ",
    worst!("mos_min", "<"),
    ", ",
    add!("gateway_rtt_p50_sum"),
    ", ",
    add!("gateway_rtt_p50_n"),
    ", ",
    worst!("gateway_loss_max", ">"),
    ", ",
    add!("link_down_seconds"),
    ", ",
    worst!("wifi_signal_min", "<"),
    ", ",
    add!("headset_missing_minutes"),
    ", ",
    worst!("noise_dba_max", ">"),
    ", ",
    // NULL (an hour rolled up before HQ counted them, migration 0013) stays not known.
    add!("outage_minutes"),
);

/// The ingest step for samples (called in the batch's transaction with the batch's new events,
/// as `(device id, event)`): each new minute becomes a row and is added to its hour. Events
/// of other kinds are passed over.
pub async fn store(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &[(&str, &Event)],
) -> anyhow::Result<()> {
    for (device, e) in new {
        let EventBody::Sample { sample: s } = &e.body else {
            continue;
        };
        let at = e.at.timestamp_millis();
        let minute = at - at.rem_euclid(MINUTE_MS);
        let f = as_f64;
        let inserted = sqlx::query(INSERT_MINUTE)
            .bind(*device)
            .bind(minute)
            .bind(i64::from(s.seconds))
            .bind(f(s.rtt_p50_ms))
            .bind(f(s.rtt_p95_ms))
            .bind(f(s.jitter_up_ms))
            .bind(f(s.jitter_down_ms))
            .bind(f(s.loss_up_pct))
            .bind(f(s.loss_down_pct))
            .bind(f(s.mos_min))
            .bind(f(s.gateway_rtt_p50_ms))
            .bind(f(s.gateway_loss_pct))
            .bind(s.link.clone())
            .bind(i64::from(s.link_down_seconds))
            .bind(s.wifi_signal_dbm.map(i64::from))
            .bind(s.headset.map(i64::from))
            .bind(f(s.noise_dba))
            .bind(s.noise_class.clone())
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        if !inserted {
            continue;
        }
        let sum = |v: Option<f32>| (as_f64(v).unwrap_or(0.0), i64::from(v.is_some()));
        let (rtt_sum, rtt_n) = sum(s.rtt_p50_ms);
        let (up_sum, up_n) = sum(s.loss_up_pct);
        let (down_sum, down_n) = sum(s.loss_down_pct);
        let (gw_sum, gw_n) = sum(s.gateway_rtt_p50_ms);
        sqlx::query(UPSERT_HOUR)
            .bind(*device)
            .bind(at - at.rem_euclid(HOUR_MS))
            .bind(i64::from(s.seconds))
            .bind(rtt_sum)
            .bind(rtt_n)
            .bind(f(s.rtt_p95_ms))
            .bind(f(s.jitter_up_ms))
            .bind(f(s.jitter_down_ms))
            .bind(f(s.loss_up_pct))
            .bind(f(s.loss_down_pct))
            .bind(up_sum)
            .bind(up_n)
            .bind(down_sum)
            .bind(down_n)
            .bind(f(s.mos_min))
            .bind(gw_sum)
            .bind(gw_n)
            .bind(f(s.gateway_loss_pct))
            .bind(i64::from(s.link_down_seconds))
            .bind(s.wifi_signal_dbm.map(i64::from))
            .bind(i64::from(s.headset == Some(false)))
            .bind(f(s.noise_dba))
            .bind(i64::from(minute_outage(
                f(s.loss_up_pct),
                f(s.loss_down_pct),
                i64::from(s.link_down_seconds),
            )))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// An `f32` figure as the `f64` of its shortest decimal form (23.4, not 23.399999618530273).
fn as_f64(v: Option<f32>) -> Option<f64> {
    v.map(|v| v.to_string().parse().unwrap_or(f64::from(v)))
}

/// One row of a timeline: a minute, or an hour rolled up from its minutes. Keys are the
/// [`MinuteSample`]'s; an hour's figure is the one that matters over the hour:
///
/// - `rtt_p50_ms`: the mean of the minutes' medians (the typical round trip);
/// - `rtt_p95_ms`, `jitter_*_ms`, `loss_*_pct`, `gateway_loss_pct`, `noise_dba`: the worst
///   minute's (the highest), so a bad minute never disappears in an hour;
/// - `loss_*_mean_pct`: the mean of the minutes' loss (hours only);
/// - `mos_min`, `wifi_signal_dbm`: the worst minute's (the lowest);
/// - `gateway_rtt_p50_ms`: the mean of the minutes' medians;
/// - `seconds`, `link_down_seconds`: summed; `minutes`: the minutes with a sample;
/// - `outage_minutes`: its minutes that were outages ([`Row::outage`] of a minute; hours
///   only, `None` when not known: an hour rolled up before HQ counted them);
/// - `headset_missing_minutes`: minutes that ended with no headset (hours only); `link`,
///   `headset`, `noise_class`: minutes only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    /// The start of the minute or hour (ms).
    #[serde(skip)]
    pub at: i64,
    pub minutes: i64,
    pub seconds: i64,
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p95_ms: Option<f64>,
    pub jitter_up_ms: Option<f64>,
    pub jitter_down_ms: Option<f64>,
    pub loss_up_pct: Option<f64>,
    pub loss_down_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_up_mean_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_down_mean_pct: Option<f64>,
    pub mos_min: Option<f64>,
    pub gateway_rtt_p50_ms: Option<f64>,
    pub gateway_loss_pct: Option<f64>,
    pub link_down_seconds: i64,
    pub wifi_signal_dbm: Option<i64>,
    pub noise_dba: Option<f64>,
    /// Minutes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headset: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_class: Option<String>,
    /// Hours only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headset_missing_minutes: Option<i64>,
    /// Hours only (the API adds it to an hour's row, null when not known).
    #[serde(skip)]
    pub outage_minutes: Option<i64>,
    /// An hour's roll-up (else a minute).
    #[serde(skip)]
    pub hour: bool,
}

/// Whether a minute had no working line to HQ: a direction lost everything, or the link was
/// down for half the minute or more.
fn minute_outage(loss_up: Option<f64>, loss_down: Option<f64>, link_down_seconds: i64) -> bool {
    let lost_all = |v: Option<f64>| v.is_some_and(|v| v >= 99.5);
    lost_all(loss_up) || lost_all(loss_down) || link_down_seconds >= 30
}

impl Row {
    /// Whether the minute had no working line to HQ (a direction lost everything, or the link
    /// was down for half the minute or more), or whether one of the hour's minutes had none.
    ///
    /// An hour is judged by its minutes, never by its summed link-down seconds: 30 s of blips
    /// scattered over an hour is no outage (found in review: the hour row called it one). An
    /// hour rolled up before HQ counted its outage minutes falls back on what its figures
    /// prove: its worst minute lost everything, or its link-down seconds exceed 29 per minute
    /// (then at least one minute had 30 or more).
    pub fn outage(&self) -> bool {
        if !self.hour {
            return minute_outage(self.loss_up_pct, self.loss_down_pct, self.link_down_seconds);
        }
        match self.outage_minutes {
            Some(n) => n > 0,
            None => {
                minute_outage(self.loss_up_pct, self.loss_down_pct, 0)
                    || self.link_down_seconds > 29 * self.minutes
            }
        }
    }
}

/// An agent's rows in `[from, to)` at a resolution, oldest first (at most 10,000).
pub async fn read(
    db: &Db,
    device: &str,
    from: i64,
    to: i64,
    resolution: Resolution,
) -> anyhow::Result<Vec<Row>> {
    match resolution {
        Resolution::Minute => minutes(db, device, from, to).await,
        Resolution::Hour => hours(db, device, from, to).await,
    }
}

async fn minutes(db: &Db, device: &str, from: i64, to: i64) -> anyhow::Result<Vec<Row>> {
    let rows = sqlx::query(
        "SELECT minute, seconds, rtt_p50_ms, rtt_p95_ms, jitter_up_ms, jitter_down_ms, \
         loss_up_pct, loss_down_pct, mos_min, gateway_rtt_p50_ms, gateway_loss_pct, link, \
         link_down_seconds, wifi_signal_dbm, headset, noise_dba, noise_class \
         FROM minute_samples WHERE device_id = $1 AND minute >= $2 AND minute < $3 \
         ORDER BY minute LIMIT $4",
    )
    .bind(device)
    .bind(from - from.rem_euclid(MINUTE_MS))
    .bind(to)
    .bind(MAX_ROWS)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Row {
                at: r.try_get("minute")?,
                minutes: 1,
                seconds: r.try_get("seconds")?,
                rtt_p50_ms: r.try_get("rtt_p50_ms")?,
                rtt_p95_ms: r.try_get("rtt_p95_ms")?,
                jitter_up_ms: r.try_get("jitter_up_ms")?,
                jitter_down_ms: r.try_get("jitter_down_ms")?,
                loss_up_pct: r.try_get("loss_up_pct")?,
                loss_down_pct: r.try_get("loss_down_pct")?,
                loss_up_mean_pct: None,
                loss_down_mean_pct: None,
                mos_min: r.try_get("mos_min")?,
                gateway_rtt_p50_ms: r.try_get("gateway_rtt_p50_ms")?,
                gateway_loss_pct: r.try_get("gateway_loss_pct")?,
                link_down_seconds: r.try_get("link_down_seconds")?,
                wifi_signal_dbm: r.try_get("wifi_signal_dbm")?,
                noise_dba: r.try_get("noise_dba")?,
                link: r.try_get("link")?,
                headset: r.try_get::<Option<i64>, _>("headset")?.map(|h| h != 0),
                noise_class: r.try_get("noise_class")?,
                headset_missing_minutes: None,
                outage_minutes: None,
                hour: false,
            })
        })
        .collect()
}

async fn hours(db: &Db, device: &str, from: i64, to: i64) -> anyhow::Result<Vec<Row>> {
    let rows = sqlx::query(
        "SELECT hour, minutes, seconds, rtt_p50_sum, rtt_p50_n, rtt_p95_max, jitter_up_max, \
         jitter_down_max, loss_up_max, loss_down_max, loss_up_sum, loss_up_n, loss_down_sum, \
         loss_down_n, mos_min, gateway_rtt_p50_sum, gateway_rtt_p50_n, gateway_loss_max, \
         link_down_seconds, wifi_signal_min, headset_missing_minutes, noise_dba_max, \
         outage_minutes FROM sample_hours WHERE device_id = $1 AND hour >= $2 AND hour < $3 \
         ORDER BY hour LIMIT $4",
    )
    .bind(device)
    .bind(from - from.rem_euclid(HOUR_MS))
    .bind(to)
    .bind(MAX_ROWS)
    .fetch_all(&db.pool)
    .await?;
    let mean = |r: &sqlx::any::AnyRow, sum: &str, n: &str| -> anyhow::Result<Option<f64>> {
        let n: i64 = r.try_get(n)?;
        let sum: f64 = r.try_get(sum)?;
        Ok((n > 0).then(|| ((sum / n as f64) * 1000.0).round() / 1000.0))
    };
    rows.iter()
        .map(|r| {
            Ok(Row {
                at: r.try_get("hour")?,
                minutes: r.try_get("minutes")?,
                seconds: r.try_get("seconds")?,
                rtt_p50_ms: mean(r, "rtt_p50_sum", "rtt_p50_n")?,
                rtt_p95_ms: r.try_get("rtt_p95_max")?,
                jitter_up_ms: r.try_get("jitter_up_max")?,
                jitter_down_ms: r.try_get("jitter_down_max")?,
                loss_up_pct: r.try_get("loss_up_max")?,
                loss_down_pct: r.try_get("loss_down_max")?,
                loss_up_mean_pct: mean(r, "loss_up_sum", "loss_up_n")?,
                loss_down_mean_pct: mean(r, "loss_down_sum", "loss_down_n")?,
                mos_min: r.try_get("mos_min")?,
                gateway_rtt_p50_ms: mean(r, "gateway_rtt_p50_sum", "gateway_rtt_p50_n")?,
                gateway_loss_pct: r.try_get("gateway_loss_max")?,
                link_down_seconds: r.try_get("link_down_seconds")?,
                wifi_signal_dbm: r.try_get("wifi_signal_min")?,
                noise_dba: r.try_get("noise_dba_max")?,
                link: None,
                headset: None,
                noise_class: None,
                headset_missing_minutes: Some(r.try_get("headset_missing_minutes")?),
                outage_minutes: r.try_get("outage_minutes")?,
                hour: true,
            })
        })
        .collect()
}

/// An incident of the agent's, from its start to its end (`None`: still open, or its end is
/// not known yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub name: String,
    #[serde(skip)]
    pub start: i64,
    #[serde(skip)]
    pub end: Option<i64>,
    pub detail: String,
    /// `home` or `beyond_home` when the agent told which side of the router it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// How far before a range the incidents that may still be open in it are looked for.
const INCIDENT_LOOKBACK_MS: i64 = 86_400_000;
/// The most incident events one read takes: the newest ones (a year's range of an agent whose
/// line flaps can hold more; [`Incidents::cut_before`] then says from when the list is whole).
pub const INCIDENT_EVENTS_MAX: i64 = 10_000;

/// An agent's incidents over a range, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Incidents {
    pub list: Vec<Incident>,
    /// `Some(t)` when the range held more than [`INCIDENT_EVENTS_MAX`] incident events: the
    /// newest were kept, and the list is whole from `t` on (an incident that started before
    /// `t` may be missing, or shown from `t`). `None`: every incident of the range is there.
    pub cut_before: Option<i64>,
}

/// The agent's incidents overlapping `[from, to)`: each `started` paired with the next `ended`
/// of the same name (one that started up to a day before `from` included), oldest first.
///
/// At most [`INCIDENT_EVENTS_MAX`] events are read, the newest (found in review: the list was
/// read oldest first and cut, so a long range lost its latest incidents, the ones IT looks for,
/// without a word); when that cut into the range, [`Incidents::cut_before`] says where.
pub async fn incidents(db: &Db, device: &str, from: i64, to: i64) -> anyhow::Result<Incidents> {
    let rows = sqlx::query(
        "SELECT at, body FROM events WHERE device_id = $1 AND kind = 'incident' \
         AND at >= $2 AND at < $3 ORDER BY at DESC, received_at DESC LIMIT $4",
    )
    .bind(device)
    .bind(from - INCIDENT_LOOKBACK_MS)
    .bind(to)
    .bind(INCIDENT_EVENTS_MAX + 1)
    .fetch_all(&db.pool)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for r in rows.iter().rev() {
        let at: i64 = r.try_get("at")?;
        let body: String = r.try_get("body")?;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let text = |k: &str| v[k].as_str().map(str::to_string);
        events.push((
            at,
            text("name").unwrap_or_default(),
            text("state").unwrap_or_default() == "started",
            text("detail").unwrap_or_default(),
            text("scope"),
        ));
    }
    // One event more than the bound was read: there were more. Every event after the oldest
    // one read is there; those at its very millisecond may not all be, so they go too.
    let cut = (events.len() as i64 > INCIDENT_EVENTS_MAX).then(|| events[0].0 + 1);
    let start = match cut {
        Some(c) => {
            events.retain(|e| e.0 >= c);
            c
        }
        None => from - INCIDENT_LOOKBACK_MS,
    };
    Ok(Incidents {
        list: pair_incidents(&events, start, from, to),
        cut_before: cut.filter(|c| *c > from),
    })
}

/// Pairs incident events `(at, name, started, detail, scope)` (oldest first, none before
/// `start`) into spans, and keeps those overlapping `[from, to)`. An `ended` with no `started`
/// before it spans from `start` (the earliest time read); a second `started` while one is
/// open is the same incident.
fn pair_incidents(
    events: &[(i64, String, bool, String, Option<String>)],
    start: i64,
    from: i64,
    to: i64,
) -> Vec<Incident> {
    let mut open: Vec<Incident> = Vec::new();
    let mut done: Vec<Incident> = Vec::new();
    for (at, name, started, detail, scope) in events {
        let i = open.iter().position(|o| &o.name == name);
        match (started, i) {
            (true, None) => open.push(Incident {
                name: name.clone(),
                start: *at,
                end: None,
                detail: detail.clone(),
                scope: scope.clone(),
            }),
            (true, Some(_)) => {}
            (false, Some(i)) => {
                let mut o = open.remove(i);
                o.end = Some(*at);
                done.push(o);
            }
            (false, None) => done.push(Incident {
                name: name.clone(),
                start,
                end: Some(*at),
                detail: detail.clone(),
                scope: scope.clone(),
            }),
        }
    }
    done.extend(open);
    done.retain(|i| i.start < to && i.end.is_none_or(|e| e >= from));
    done.sort_by_key(|i| i.start);
    done
}

/// Rows deleted by one [`prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub minutes: u64,
    pub hours: u64,
    /// `sample` events in the events table (kept as long as their minutes).
    pub events: u64,
}

const PRUNE_MINUTES: &str = "DELETE FROM minute_samples WHERE (device_id, minute) IN \
    (SELECT device_id, minute FROM minute_samples WHERE minute < $1 LIMIT $2)";
const PRUNE_HOURS: &str = "DELETE FROM sample_hours WHERE (device_id, hour) IN \
    (SELECT device_id, hour FROM sample_hours WHERE hour < $1 LIMIT $2)";
const PRUNE_EVENTS: &str = "DELETE FROM events WHERE id IN (SELECT id FROM events \
    WHERE kind = 'sample' AND received_at < $1 LIMIT $2)";

/// Deletes the minutes older than their retention (with their `sample` events) and the hours
/// older than theirs, [`crate::db::PRUNE_BATCH`] rows a statement, as `Db::prune_retention`
/// does for the other kinds.
pub async fn prune(db: &Db, now: i64, r: &Retention) -> anyhow::Result<Pruned> {
    Ok(Pruned {
        minutes: prune_batches(db, PRUNE_MINUTES, now - r.minute_samples_ms).await?,
        hours: prune_batches(db, PRUNE_HOURS, now - r.hourly_samples_ms).await?,
        events: prune_batches(db, PRUNE_EVENTS, now - r.minute_samples_ms).await?,
    })
}

async fn prune_batches(db: &Db, sql: &'static str, cutoff: i64) -> anyhow::Result<u64> {
    use crate::db::{PRUNE_BATCH, PRUNE_BATCHES};
    let mut total = 0;
    for _ in 0..PRUNE_BATCHES {
        let n = sqlx::query(sql)
            .bind(cutoff)
            .bind(PRUNE_BATCH)
            .execute(&db.pool)
            .await?
            .rows_affected();
        total += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_up_to_two_days_are_per_minute() {
        assert_eq!(Resolution::for_range(0, 2 * 86_400_000), Resolution::Minute);
        assert_eq!(
            Resolution::for_range(0, 2 * 86_400_000 + 1),
            Resolution::Hour
        );
    }

    #[test]
    fn a_sample_out_of_range_names_its_field() {
        assert!(check(&mut MinuteSample::default()).is_ok());
        let bad = MinuteSample {
            loss_up_pct: Some(140.0),
            ..Default::default()
        };
        assert!(
            check(&mut bad.clone())
                .unwrap_err()
                .contains("`sample.loss_up_pct`")
        );
        let bad = MinuteSample {
            mos_min: Some(f32::NAN),
            ..Default::default()
        };
        assert!(
            check(&mut bad.clone())
                .unwrap_err()
                .contains("`sample.mos_min`")
        );
        let bad = MinuteSample {
            seconds: 61,
            ..Default::default()
        };
        assert!(
            check(&mut bad.clone())
                .unwrap_err()
                .contains("`sample.seconds`")
        );
        let bad = MinuteSample {
            link: Some("Wi-Fi'--".into()),
            ..Default::default()
        };
        assert!(
            check(&mut bad.clone())
                .unwrap_err()
                .contains("`sample.link`")
        );
        // A side figure out of range is dropped; the minute's network figures are kept.
        let mut odd = MinuteSample {
            wifi_signal_dbm: Some(-186),
            noise_dba: Some(-250.0),
            rtt_p50_ms: Some(23.0),
            ..Default::default()
        };
        assert!(check(&mut odd).is_ok());
        assert_eq!(
            (odd.wifi_signal_dbm, odd.noise_dba, odd.rtt_p50_ms),
            (None, None, Some(23.0))
        );
        let mut fine = MinuteSample {
            wifi_signal_dbm: Some(-61),
            noise_dba: Some(-35.5),
            ..Default::default()
        };
        assert!(check(&mut fine).is_ok());
        assert_eq!(
            (fine.wifi_signal_dbm, fine.noise_dba),
            (Some(-61), Some(-35.5))
        );
    }

    #[test]
    fn incidents_pair_into_spans_that_overlap_the_range() {
        let ev = |at: i64, name: &str, started: bool| {
            (at, name.to_string(), started, String::new(), None)
        };
        let got = pair_incidents(
            &[
                ev(10, "network_degraded", true),
                ev(20, "headset_missing", true),
                ev(30, "network_degraded", false),
                ev(40, "network_degraded", true),
                ev(45, "network_degraded", true),
                ev(50, "network_degraded", false),
                ev(60, "wifi_weak", false),
            ],
            25 - INCIDENT_LOOKBACK_MS,
            25,
            100,
        );
        let spans: Vec<(&str, i64, Option<i64>)> = got
            .iter()
            .map(|i| (i.name.as_str(), i.start, i.end))
            .collect();
        assert_eq!(
            spans,
            [
                ("wifi_weak", 25 - INCIDENT_LOOKBACK_MS, Some(60)),
                ("network_degraded", 10, Some(30)),
                ("headset_missing", 20, None),
                ("network_degraded", 40, Some(50)),
            ]
        );
        // One that ended before the range is left out.
        assert!(pair_incidents(&[ev(1, "x", true), ev(2, "x", false)], 0, 5, 10).is_empty());
    }

    #[test]
    fn an_outage_is_total_loss_or_the_link_down_half_the_time() {
        let m = |up: Option<f64>, down_s: i64| Row {
            minutes: 1,
            loss_up_pct: up,
            link_down_seconds: down_s,
            ..Default::default()
        };
        assert!(m(Some(100.0), 0).outage());
        assert!(m(None, 30).outage());
        assert!(!m(Some(5.0), 10).outage());
        let h = |outage_minutes: Option<i64>, link_down_seconds: i64, loss: f64| Row {
            hour: true,
            minutes: 60,
            link_down_seconds,
            loss_down_pct: Some(loss),
            outage_minutes,
            ..Default::default()
        };
        assert!(h(Some(1), 0, 100.0).outage(), "an hour with a lost minute");
        assert!(
            h(Some(1), 40, 0.0).outage(),
            "an hour with a minute 40 s down"
        );
        // 30 s of link blips scattered over the hour: no minute was an outage.
        assert!(!h(Some(0), 30, 0.0).outage());
        // Rolled up before HQ counted outage minutes: what the figures prove.
        assert!(h(None, 0, 100.0).outage());
        assert!(!h(None, 30, 0.0).outage(), "30 s may be scattered");
        assert!(!h(None, 29 * 60, 0.0).outage(), "29 s in every minute");
        assert!(h(None, 29 * 60 + 1, 0.0).outage(), "some minute had 30 s");
    }
}
