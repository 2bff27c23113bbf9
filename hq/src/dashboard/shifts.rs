//! The fleet-wide pages about shifts: the shift log (`/shifts`, `templates/shifts.html`) and
//! schedule adherence (`/adherence`, `templates/adherence.html`), each with filters by site,
//! agent and dates. The data comes from [`crate::api::shifts`], as the API's does.

use super::layout::{Frame, render, url_enc};
use crate::api::shifts::{Filter, Row, adherence, shift_log_page};
use crate::auth::DashAuth;
use crate::db::{self, ShiftEntry};
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

/// Lines per page of the shift log.
pub const LOG_PAGE_SIZE: i64 = 100;

/// The reasons a shift line can have, with their words.
const REASONS: [(&str, &str); 7] = [
    ("auto", "On schedule"),
    ("manual", "By the agent"),
    ("lost_contact", "Lost contact (HQ)"),
    ("contact_restored", "Contact restored (HQ)"),
    ("shutdown", "Computer shut down"),
    ("suspend", "Computer went to sleep"),
    ("logoff", "User logged off"),
];

/// An `<option>` of a `<select>`.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// What the filter form shows back (the values as typed).
struct Form {
    from: String,
    to: String,
    agent: String,
    sites: Vec<Choice>,
}

async fn form(st: &AppState, f: &Filter, from: i64, to: i64) -> Result<Form, AppError> {
    let site = f.site.clone().unwrap_or_default();
    let sites = st
        .db
        .sites()
        .await?
        .into_iter()
        .map(|(name, _)| Choice {
            selected: name == site,
            label: name.clone(),
            value: name,
        })
        .collect();
    Ok(Form {
        // A date typed in is shown back as typed; the default range as the dates it covers.
        from: f.from.clone().unwrap_or_else(|| date(from)),
        to: f.to.clone().unwrap_or_else(|| date(to - 1)),
        agent: f.agent.clone().unwrap_or_default(),
        sites,
    })
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn hm(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "–".into())
}

/// The query string of a filter, for links to other pages of it.
fn query(f: &Filter) -> String {
    [
        ("from", &f.from),
        ("to", &f.to),
        ("site", &f.site),
        ("agent", &f.agent),
        ("reason", &f.reason),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}", url_enc(v)))
    })
    .collect::<Vec<_>>()
    .join("&")
}

/// A filter's problem (a bad date, an unknown agent) is shown on the page above the form.
fn problem(e: AppError) -> Result<String, AppError> {
    match e {
        AppError::BadRequest(m) | AppError::NotFound(m) | AppError::Unprocessable(m) => Ok(m),
        e => Err(e),
    }
}

// ---- the shift log ----

#[derive(Template)]
#[template(path = "shifts.html")]
struct ShiftsPage<'a> {
    frame: Frame<'a>,
    form: Form,
    reasons: Vec<Choice>,
    alert: Option<String>,
    rows: Vec<LogRow>,
    first: i64,
    last: i64,
    total: i64,
    prev: Option<String>,
    next: Option<String>,
    csv: String,
}

/// One line of the shift log, in words.
struct LogRow {
    agent_id: String,
    agent: String,
    at: String,
    received: String,
    what: &'static str,
    why: String,
    readiness: String,
    flags: String,
}

/// "2026-12-01 08:00:03 UTC (3 s later)": when HQ received a line, and how long after the
/// agent's time.
fn received_text(at: i64, received: Option<i64>) -> String {
    let Some(r) = received else {
        return "–".into();
    };
    let secs = (r - at) / 1000;
    let delta = match secs {
        0 => "at once".to_string(),
        s if s.abs() < 120 => format!("{s:+} s"),
        s if s.abs() < 7200 => format!("{:+} min", s / 60),
        s => format!(
            "{}{} h {} min",
            if s < 0 { "-" } else { "+" },
            s.abs() / 3600,
            s.abs() % 3600 / 60
        ),
    };
    format!("{} ({delta})", when(r))
}

/// HQ's flags in words.
fn flag_words(flags: &[String]) -> String {
    flags
        .iter()
        .map(|f| match f.as_str() {
            "out_of_order" => {
                "out of order: dated before the agent's previous shift event, not applied"
            }
            "clock_off" => "clock off: the computer's clock was more than 5 minutes off HQ's",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn log_row(s: ShiftEntry) -> LogRow {
    LogRow {
        at: when(s.at),
        received: received_text(s.at, s.received_at),
        what: if s.kind == "sign_in" {
            "Signed in"
        } else {
            "Signed out"
        },
        why: REASONS
            .iter()
            .find(|(r, _)| *r == s.reason)
            .map(|(_, w)| w.to_string())
            .unwrap_or_else(|| s.reason.replace('_', " ")),
        readiness: s
            .readiness
            .as_deref()
            .map(|r| super::layout::state_label(r).1.to_string())
            .unwrap_or_else(|| "–".into()),
        flags: flag_words(&s.flags),
        agent: if s.hostname.is_empty() {
            s.agent_id.clone()
        } else {
            s.hostname
        },
        agent_id: url_enc(&s.agent_id),
    }
}

/// `GET /shifts`: the fleet's shift log, newest first, 100 lines a page.
pub async fn shifts_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(f): ApiQuery<Filter>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let (alert, from, to, rows, total) = match shift_log_page(&st.db, &f, now, LOG_PAGE_SIZE).await
    {
        Ok((from, to, rows, total)) => (None, from, to, rows, total),
        Err(e) => (Some(problem(e)?), now - 86_400_000, now + 1, Vec::new(), 0),
    };
    let page_no = f.page.unwrap_or(1).max(1);
    let offset = (page_no - 1) * LOG_PAGE_SIZE;
    let first = if rows.is_empty() { 0 } else { offset + 1 };
    let last = offset + rows.len() as i64;
    let base = format!("/shifts?{}", query(&f));
    let reason = f.reason.clone().unwrap_or_default();
    let page = ShiftsPage {
        frame: Frame::new("Shift log", Some(&it.who), false),
        form: form(&st, &f, from, to).await?,
        reasons: REASONS
            .iter()
            .map(|(v, l)| Choice {
                value: v.to_string(),
                label: l.to_string(),
                selected: *v == reason,
            })
            .collect(),
        alert,
        rows: rows.into_iter().map(log_row).collect(),
        first,
        last,
        total,
        prev: (page_no > 1).then(|| format!("{base}&page={}", page_no - 1)),
        next: (last < total).then(|| format!("{base}&page={}", page_no + 1)),
        csv: format!(
            "/api/v1/shifts.csv?from={}&to={}",
            url_enc(&crate::api::it::rfc3339(from)),
            url_enc(&crate::api::it::rfc3339(to))
        ),
    };
    Ok(render(&page))
}

// ---- adherence ----

#[derive(Template)]
#[template(path = "adherence.html")]
struct AdherencePage<'a> {
    frame: Frame<'a>,
    form: Form,
    alert: Option<String>,
    rows: Vec<AdhRow>,
    totals: Totals,
    csv: String,
}

/// One scheduled shift, in words.
struct AdhRow {
    agent_id: String,
    agent: String,
    site: String,
    shift: String,
    phase: &'static str,
    signed_in: String,
    signed_out: String,
    late: String,
    early: String,
    no_show: bool,
    not_ready: String,
    /// `late`, `early`, `no_show` or `not_ready` when the shift has that problem (for styling
    /// and tests); empty when it went to schedule.
    marks: String,
}

/// The sums over the rows shown.
#[derive(Default)]
struct Totals {
    shifts: usize,
    no_shows: usize,
    late: usize,
    late_minutes: i64,
    early: usize,
    early_minutes: i64,
    not_ready_minutes: i64,
}

fn mins(v: Option<i64>) -> String {
    match v {
        None => "–".into(),
        Some(0) => "0".into(),
        Some(n) => format!("{n} min"),
    }
}

fn adh_row(r: &Row) -> AdhRow {
    let a = &r.a;
    let span = |a: i64, b: i64| {
        let (s, e) = (
            chrono::DateTime::from_timestamp_millis(a),
            chrono::DateTime::from_timestamp_millis(b),
        );
        match (s, e) {
            (Some(s), Some(e)) if s.date_naive() == e.date_naive() => format!(
                "{} {}–{} UTC",
                s.format("%Y-%m-%d"),
                s.format("%H:%M"),
                e.format("%H:%M")
            ),
            (Some(s), Some(e)) => format!(
                "{}–{} UTC",
                s.format("%Y-%m-%d %H:%M"),
                e.format("%Y-%m-%d %H:%M")
            ),
            _ => String::new(),
        }
    };
    let mut marks = Vec::new();
    if a.no_show {
        marks.push("no_show");
    } else {
        if a.late_minutes.unwrap_or(0) > 0 {
            marks.push("late");
        }
        if a.early_leave_minutes.unwrap_or(0) > 0 {
            marks.push("early");
        }
    }
    if a.not_ready_minutes > 0 {
        marks.push("not_ready");
    }
    AdhRow {
        agent_id: url_enc(&r.agent_id),
        agent: r.hostname.clone(),
        site: r.site.clone(),
        shift: span(a.start, a.end),
        phase: match a.phase {
            crate::adherence::Phase::Upcoming => "Upcoming",
            crate::adherence::Phase::Running => "Running now",
            crate::adherence::Phase::Ended => "Ended",
        },
        signed_in: hm(a.first_in),
        signed_out: match (a.last_out, a.phase) {
            (None, crate::adherence::Phase::Running) if a.first_in.is_some() => {
                "still signed in".into()
            }
            (v, _) => hm(v),
        },
        late: mins(a.late_minutes),
        early: mins(a.early_leave_minutes),
        no_show: a.no_show,
        not_ready: mins(Some(a.not_ready_minutes)),
        marks: marks.join(" "),
    }
}

/// `GET /adherence`: every scheduled shift in the range against what the agent did.
pub async fn adherence_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(f): ApiQuery<Filter>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let (alert, from, to, rows) = match adherence(&st.db, &f, now).await {
        Ok((from, to, rows)) => (None, from, to, rows),
        Err(e) => (Some(problem(e)?), now - 7 * 86_400_000, now + 1, Vec::new()),
    };
    let mut totals = Totals {
        shifts: rows.len(),
        ..Totals::default()
    };
    for r in &rows {
        let a = &r.a;
        totals.no_shows += usize::from(a.no_show);
        if !a.no_show {
            let late = a.late_minutes.unwrap_or(0);
            let early = a.early_leave_minutes.unwrap_or(0);
            totals.late += usize::from(late > 0);
            totals.late_minutes += late;
            totals.early += usize::from(early > 0);
            totals.early_minutes += early;
        }
        totals.not_ready_minutes += a.not_ready_minutes;
    }
    let q = Filter {
        reason: None,
        page: None,
        from: f.from.clone(),
        to: f.to.clone(),
        site: f.site.clone(),
        agent: f.agent.clone(),
    };
    let page = AdherencePage {
        frame: Frame::new("Adherence", Some(&it.who), false),
        form: form(&st, &f, from, to).await?,
        alert,
        rows: rows.iter().map(adh_row).collect(),
        totals,
        csv: format!("/api/v1/adherence.csv?{}", query(&q)),
    };
    Ok(render(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_receipt_in_words() {
        assert_eq!(
            flag_words(&["out_of_order".into(), "clock_off".into()]),
            "out of order: dated before the agent's previous shift event, not applied; \
             clock off: the computer's clock was more than 5 minutes off HQ's"
        );
        let at = 1_764_576_000_000;
        assert_eq!(
            received_text(at, Some(at + 3_000)),
            "2025-12-01 08:00:03 UTC (+3 s)"
        );
        assert_eq!(
            received_text(at, Some(at + 600_000)),
            "2025-12-01 08:10:00 UTC (+10 min)"
        );
        assert_eq!(
            received_text(at, Some(at + 31_680_000)),
            "2025-12-01 16:48:00 UTC (+8 h 48 min)"
        );
        assert_eq!(received_text(at, None), "–");
    }
}
