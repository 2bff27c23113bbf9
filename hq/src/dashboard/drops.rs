//! Dropped calls on the dashboard (issue 15): the fleet's list at `/call-drops`
//! (`templates/call_drops.html`: newest first, filters by date, site, verdict kind and agent, and
//! a count per verdict kind, because IT's first question is "how many were our side, how many
//! theirs"), and the agent page's "Dropped calls" section (`templates/agent_drops.html`, included
//! by `agent.html`) with each drop's verdict, note and a per-second strip of its history.
//!
//! Notes are the agent's text: the templates print them escaped, like everything else.

use super::layout::{Frame, render, url_enc};
use crate::api::drops::{Query, resolve};
use crate::api::it::rfc3339;
use crate::auth::DashAuth;
use crate::db::{self, Db};
use crate::drops::{self, AgentDrop, DropRow, Kind};
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use proto::sample::Seconds;

/// Drops per page of `/call-drops`.
pub const PAGE_SIZE: i64 = 100;
/// How far back the agent page lists drops, and how many at most.
const AGENT_DAYS: i64 = 30;
const AGENT_MAX: i64 = 10;

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// An `<option>`.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// What `shift_filter.html` shows back (the values as typed).
struct Form {
    from: String,
    to: String,
    agent: String,
    sites: Vec<Choice>,
}

/// One kind's count, linking to the list of that kind.
struct Count {
    kind: &'static str,
    words: &'static str,
    side: &'static str,
    n: i64,
    href: String,
    current: bool,
}

/// One drop of the fleet's list, in words.
struct Row {
    agent_id: String,
    agent: String,
    site: String,
    at: String,
    received: String,
    kind: &'static str,
    kind_words: &'static str,
    verdict: String,
    note: String,
}

#[derive(Template)]
#[template(path = "call_drops.html")]
struct DropsPage<'a> {
    frame: Frame<'a>,
    form: Form,
    kinds: Vec<Choice>,
    alert: Option<String>,
    counts: Vec<Count>,
    total: i64,
    all_href: String,
    /// No kind chosen: "All drops" is the current count.
    all_current: bool,
    rows: Vec<Row>,
    first: i64,
    last: i64,
    matching: i64,
    prev: Option<String>,
    next: Option<String>,
    csv: String,
}

/// Whose side a kind is on, in IT's words.
fn side(k: Kind) -> &'static str {
    match k {
        Kind::HomeNetwork | Kind::Headset => "the agent's side",
        Kind::BeyondHome => "provider or HQ side",
        Kind::None => "not this computer",
        Kind::Unknown => "no figures sent",
    }
}

fn kind_of(s: &str) -> Kind {
    Kind::parse(s).unwrap_or(Kind::Unknown)
}

/// The verdict as a page shows it beside its kind's word: without the kind's own prefix
/// ("home network: ", "beyond the home: ", "headset "), which the word already says, and
/// capitalised.
fn shown(k: Kind, verdict: &str) -> String {
    let prefix = match k {
        Kind::HomeNetwork => "home network: ",
        Kind::BeyondHome => "beyond the home: ",
        Kind::Headset => "headset ",
        _ => "",
    };
    let rest = verdict.strip_prefix(prefix).unwrap_or(verdict);
    let mut c = rest.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn row(r: DropRow) -> Row {
    let k = kind_of(&r.kind);
    Row {
        agent: if r.hostname.is_empty() {
            r.agent_id.clone()
        } else {
            r.hostname
        },
        agent_id: url_enc(&r.agent_id),
        site: r.site,
        at: when(r.at),
        received: when(r.received_at),
        kind: k.as_str(),
        kind_words: k.words(),
        verdict: shown(k, &r.verdict),
        note: r.note,
    }
}

/// The query string of a filter (without the page), `kind` replaced by `kind`.
fn query(q: &Query, kind: Option<&str>) -> String {
    [
        ("from", q.from.as_deref()),
        ("to", q.to.as_deref()),
        ("site", q.site.as_deref()),
        ("agent", q.agent.as_deref()),
        ("kind", kind),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}", url_enc(v)))
    })
    .collect::<Vec<_>>()
    .join("&")
}

/// `GET /call-drops`.
pub async fn drops_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let page_no = q.page.unwrap_or(1).max(1);
    let offset = (page_no - 1).saturating_mul(PAGE_SIZE);
    let (alert, f) = match resolve(&st, &q, now).await {
        Ok(f) => (None, f),
        Err(AppError::BadRequest(m)) => (
            Some(m),
            drops::Filter {
                from: now - 7 * 86_400_000,
                to: now + 1,
                ..Default::default()
            },
        ),
        Err(e) => return Err(e),
    };
    let (rows, counts) = if alert.is_none() {
        tokio::try_join!(
            drops::list(&st.db, &f, PAGE_SIZE, offset),
            drops::counts(&st.db, &f)
        )?
    } else {
        (Vec::new(), Vec::new())
    };
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let matching = if f.kind.is_empty() {
        total
    } else {
        counts
            .iter()
            .find(|(k, _)| k.as_str() == f.kind)
            .map_or(0, |(_, n)| *n)
    };
    let first = if rows.is_empty() { 0 } else { offset + 1 };
    let last = offset + rows.len() as i64;
    let base = format!("/call-drops?{}", query(&q, q.kind.as_deref()));
    let site = q.site.clone().unwrap_or_default();
    let page = DropsPage {
        frame: Frame::new("Call drops", Some(&it.who), false),
        form: Form {
            from: q.from.clone().unwrap_or_else(|| date(f.from)),
            to: q.to.clone().unwrap_or_else(|| date(f.to - 1)),
            agent: q.agent.clone().unwrap_or_default(),
            sites: st
                .db
                .sites()
                .await?
                .into_iter()
                .map(|(name, _)| Choice {
                    selected: name == site,
                    label: name.clone(),
                    value: name,
                })
                .collect(),
        },
        kinds: Kind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().into(),
                label: k.words().into(),
                selected: k.as_str() == f.kind,
            })
            .collect(),
        alert,
        counts: counts
            .iter()
            .map(|(k, n)| Count {
                kind: k.as_str(),
                words: k.words(),
                side: side(*k),
                n: *n,
                href: format!("/call-drops?{}", query(&q, Some(k.as_str()))),
                current: k.as_str() == f.kind,
            })
            .collect(),
        total,
        all_href: format!("/call-drops?{}", query(&q, None)),
        all_current: f.kind.is_empty(),
        rows: rows.into_iter().map(row).collect(),
        first,
        last,
        matching,
        prev: (page_no > 1).then(|| format!("{base}&page={}", page_no - 1)),
        next: (last < matching).then(|| format!("{base}&page={}", page_no + 1)),
        csv: format!("/api/v1/call-drops.csv?{}", csv_query(&f)),
    };
    Ok(render(&page))
}

/// The API's query for the same drops (the range as resolved, the agent as its id).
fn csv_query(f: &drops::Filter) -> String {
    [
        ("from", rfc3339(f.from)),
        ("to", rfc3339(f.to)),
        ("site", f.site.clone()),
        ("kind", f.kind.clone()),
        ("agent", f.agent.clone()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", url_enc(&v)))
    .collect::<Vec<_>>()
    .join("&")
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

// ---- the agent page's section ----

/// The agent page's "Dropped calls" (`agent_drops.html`).
pub struct AgentDrops {
    pub items: Vec<DropView>,
    /// `/call-drops?agent=ID`.
    pub all_href: String,
    pub days: i64,
}

/// One drop on the agent page.
pub struct DropView {
    pub at: String,
    pub kind: &'static str,
    pub kind_words: &'static str,
    pub verdict: String,
    pub note: String,
    pub strip: Option<Strip>,
}

/// The per-second strip of a drop's history: one row per figure, each an SVG of bars (black
/// on white: a taller bar is worse, a full-height block is "lost", a hairline is "measured and
/// fine", nothing is "not measured"), with the blamed seconds marked in a row of their own.
pub struct Strip {
    /// Seconds covered (the SVGs' width).
    pub n: usize,
    pub rows: Vec<StripRow>,
    pub from: String,
    pub to: String,
    /// Where the window the verdict weighs begins (3 minutes before the report), drawn as a
    /// dashed line, when it falls inside the strip.
    pub window: Option<usize>,
}

pub struct StripRow {
    pub label: &'static str,
    /// What a full bar means, for screen readers and the legend.
    pub title: &'static str,
    pub bars: Vec<Bar>,
}

/// A run of seconds drawn at one height (of 12).
pub struct Bar {
    pub x: usize,
    pub w: usize,
    pub y: u32,
    pub h: u32,
}

/// Bars from a height per second (`None`: nothing drawn), runs of one height joined.
fn bars(heights: impl Iterator<Item = Option<u32>>) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for (i, h) in heights.enumerate() {
        let Some(h) = h.filter(|h| *h > 0) else {
            continue;
        };
        match out.last_mut() {
            Some(b) if b.x + b.w == i && b.h == h => b.w += 1,
            _ => out.push(Bar {
                x: i,
                w: 1,
                y: 12 - h,
                h,
            }),
        }
    }
    out
}

/// The strip of a history reported at `reported`, with `span` (the verdict's seconds) marked.
pub fn strip(
    s: &Seconds,
    reported: chrono::DateTime<chrono::Utc>,
    span: Option<(usize, usize)>,
) -> Option<Strip> {
    let n = s.len();
    if n == 0 || !s.is_well_formed() {
        return None;
    }
    let at = |v: &Vec<Option<bool>>, i: usize| v.get(i).copied().flatten();
    let f = |v: &Vec<Option<f32>>, i: usize| v.get(i).copied().flatten();
    let home = (0..n).map(|i| match (at(&s.link_up, i), at(&s.gateway_ok, i)) {
        (Some(false), _) => Some(12),
        (_, Some(false)) => Some(7),
        (None, None) => None,
        _ => Some(1),
    });
    let pilot = |i| f(&s.rtt_ms, i).is_some() || f(&s.loss_up_pct, i).is_some();
    let (lo, hi) = (
        (0..n).find(|&i| pilot(i)).unwrap_or(n),
        (0..n).rfind(|&i| pilot(i)).unwrap_or(0),
    );
    let loss = (0..n).map(|i| {
        let worst = [f(&s.loss_up_pct, i), f(&s.loss_down_pct, i)]
            .into_iter()
            .flatten()
            .fold(None, |m: Option<f32>, x| Some(m.map_or(x, |m| m.max(x))));
        match worst {
            Some(l) if l > 0.0 => Some(((l.min(100.0) / 100.0 * 12.0).ceil() as u32).max(2)),
            Some(_) if f(&s.rtt_ms, i).is_none() && (lo..=hi).contains(&i) => Some(12),
            Some(_) => Some(1),
            None if (lo..=hi).contains(&i) && f(&s.rtt_ms, i).is_none() => Some(12),
            None => None,
        }
    });
    let rtt = (0..n).map(|i| {
        f(&s.rtt_ms, i).map(|r| ((r.clamp(0.0, 400.0) / 400.0 * 12.0).ceil() as u32).max(1))
    });
    let headset = (0..n).map(|i| at(&s.headset, i).map(|h| if h { 1 } else { 12 }));
    let blamed = (0..n).map(|i| span.is_some_and(|(a, b)| (a..b).contains(&i)).then_some(12));
    let t = |i: usize| {
        s.start
            .checked_add_signed(chrono::Duration::seconds(i as i64))
            .map_or_else(|| "?".to_string(), |t| t.format("%H:%M:%S").to_string())
    };
    let mut rows = vec![
        StripRow {
            label: "Home",
            title: "home network: full block link down, shorter block home router unanswered",
            bars: bars(home),
        },
        StripRow {
            label: "Loss",
            title: "pilot loss to HQ, worse direction: full block no replies",
            bars: bars(loss),
        },
        StripRow {
            label: "RTT",
            title: "round trip to HQ: full height 400 ms or more",
            bars: bars(rtt),
        },
        StripRow {
            label: "Headset",
            title: "headset: full block not connected",
            bars: bars(headset),
        },
    ];
    if span.is_some() {
        rows.push(StripRow {
            label: "Verdict",
            title: "the seconds the verdict blames",
            bars: bars(blamed),
        });
    }
    Some(Strip {
        n,
        rows,
        from: t(0),
        window: usize::try_from((reported - s.start).num_seconds() - drops::verdict::WINDOW_S)
            .ok()
            .filter(|w| *w > 0 && *w < n),
        to: format!("{} UTC", t(n)),
    })
}

fn view(d: AgentDrop) -> DropView {
    let k = kind_of(&d.row.kind);
    // The blamed span is worked out again from the stored history (the verdict is pure), so
    // the strip marks exactly what the sentence says.
    let strip = d.seconds.as_ref().and_then(|s| {
        let drop = proto::sample::CallDrop {
            seconds: s.clone(),
            link: d.link.clone(),
            ..Default::default()
        };
        let at = chrono::DateTime::from_timestamp_millis(d.row.at)?;
        strip(s, at, drops::verdict::verdict(&drop, at).span)
    });
    DropView {
        at: when(d.row.at),
        kind: k.as_str(),
        kind_words: k.words(),
        verdict: shown(k, &d.row.verdict),
        note: d.row.note,
        strip,
    }
}

/// The agent page's section: the agent's drops of the last 30 days, newest first (at most 10).
pub async fn agent_drops(db: &Db, agent: &str, now: i64) -> anyhow::Result<AgentDrops> {
    let rows = drops::of_agent(db, agent, now - AGENT_DAYS * 86_400_000, AGENT_MAX).await?;
    Ok(AgentDrops {
        items: rows.into_iter().map(view).collect(),
        all_href: format!("/call-drops?agent={}", url_enc(agent)),
        days: AGENT_DAYS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_beside_its_kind_does_not_say_the_kind_twice() {
        assert_eq!(
            shown(
                Kind::HomeNetwork,
                "home network: Wi-Fi lost for 8 s at 14:32:05 UTC; also headset disconnected"
            ),
            "Wi-Fi lost for 8 s at 14:32:05 UTC; also headset disconnected"
        );
        assert_eq!(
            shown(Kind::BeyondHome, "beyond the home: 12 % loss upstream"),
            "12 % loss upstream"
        );
        assert_eq!(
            shown(Kind::Headset, "headset disconnected at 14:31:58 UTC"),
            "Disconnected at 14:31:58 UTC"
        );
        assert_eq!(shown(Kind::None, ""), "");
    }

    #[test]
    fn bars_join_runs_of_one_height() {
        let b = bars([Some(1), Some(1), None, Some(12), Some(12), Some(1)].into_iter());
        let got: Vec<_> = b.iter().map(|b| (b.x, b.w, b.y, b.h)).collect();
        assert_eq!(got, vec![(0, 2, 11, 1), (3, 2, 0, 12), (5, 1, 11, 1)]);
    }

    #[test]
    fn a_history_at_the_end_of_time_draws_without_panicking() {
        // Found in review: a device may send any `start`; chrono's last representable second
        // plus one second overflowed (a panic on every view of that agent's page).
        let s = Seconds {
            start: chrono::DateTime::<chrono::Utc>::MAX_UTC,
            rtt_ms: vec![None],
            loss_up_pct: vec![None],
            loss_down_pct: vec![None],
            jitter_ms: vec![None],
            gateway_rtt_ms: vec![None],
            gateway_ok: vec![None],
            link_up: vec![None],
            wifi_signal_dbm: vec![None],
            headset: vec![None],
        };
        let st = strip(&s, chrono::Utc::now(), None).unwrap();
        assert_eq!(st.to, "? UTC");
    }

    #[test]
    fn strip_marks_the_lost_seconds_as_full_blocks() {
        // 10 s from 14:00:00: link down at 3..5, loss 50 % at 7, headset gone from 8.
        let n = 10;
        let mut s = Seconds {
            start: "2026-12-02T14:00:00Z".parse().unwrap(),
            rtt_ms: vec![Some(20.0); n],
            loss_up_pct: vec![Some(0.0); n],
            loss_down_pct: vec![Some(0.0); n],
            jitter_ms: vec![None; n],
            gateway_rtt_ms: vec![None; n],
            gateway_ok: vec![Some(true); n],
            link_up: vec![Some(true); n],
            wifi_signal_dbm: vec![None; n],
            headset: vec![Some(true); n],
        };
        for i in 3..5 {
            s.link_up[i] = Some(false);
            s.rtt_ms[i] = None;
            s.loss_up_pct[i] = None;
            s.loss_down_pct[i] = None;
        }
        s.loss_up_pct[7] = Some(50.0);
        s.headset[8] = Some(false);
        s.headset[9] = Some(false);
        // Reported at 14:00:10: the 3-minute window begins before the strip, so no line.
        let st = strip(&s, "2026-12-02T14:00:10Z".parse().unwrap(), Some((3, 5))).unwrap();
        assert_eq!(st.window, None);
        let row = |l: &str| {
            st.rows
                .iter()
                .find(|r| r.label == l)
                .unwrap()
                .bars
                .iter()
                .map(|b| (b.x, b.w, b.h))
                .collect::<Vec<_>>()
        };
        assert_eq!(row("Home"), vec![(0, 3, 1), (3, 2, 12), (5, 5, 1)]);
        // The pilot's silent seconds inside its span are "no reply": full blocks; 50 % is 6/12.
        assert_eq!(
            row("Loss"),
            vec![(0, 3, 1), (3, 2, 12), (5, 2, 1), (7, 1, 6), (8, 2, 1)]
        );
        assert_eq!(row("Headset"), vec![(0, 8, 1), (8, 2, 12)]);
        assert_eq!(row("Verdict"), vec![(3, 2, 12)]);
        assert_eq!(
            (st.from.as_str(), st.to.as_str()),
            ("14:00:00", "14:00:10 UTC")
        );
        // Reported at 14:03:05 with 15 minutes from 13:48:05: the window begins at 14:00:05,
        // 720 s in.
        let mut long = s.clone();
        long.start = "2026-12-02T13:48:05Z".parse().unwrap();
        for v in [
            &mut long.rtt_ms,
            &mut long.loss_up_pct,
            &mut long.loss_down_pct,
        ] {
            v.resize(900, Some(0.0));
        }
        for v in [&mut long.gateway_ok, &mut long.link_up, &mut long.headset] {
            v.resize(900, Some(true));
        }
        for v in [&mut long.jitter_ms, &mut long.gateway_rtt_ms] {
            v.resize(900, None);
        }
        long.wifi_signal_dbm.resize(900, None);
        let st = strip(&long, "2026-12-02T14:03:05Z".parse().unwrap(), None).unwrap();
        assert_eq!(st.window, Some(720));
    }
}
