//! The fleet page (`templates/fleet.html`): the summary, search, filter, sort, and the paged
//! table of agents.

use super::layout::{Ago, Frame, ago, render, skew_text, state_label, url_enc};
use crate::auth::DashAuth;
use crate::db::{self, AgentRow, Sort};
use crate::error::{ApiQuery, AppError};
use crate::state::{AppState, FleetQuery};
use askama::Template;
use axum::extract::State;
use axum::response::Response;

/// Rows per page of the fleet table.
pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage<'a> {
    frame: Frame<'a>,
    /// Each failing contact-centre connector, in words.
    connectors_failing: Vec<String>,
    summary: Vec<SummaryItem>,
    total_agents: i64,
    q: String,
    states: Vec<Choice>,
    sites: Vec<SiteChoice>,
    /// The site filtered by (the summary counts only its agents), and URL-encoded for links.
    site: String,
    site_q: String,
    sorts: Vec<Choice>,
    desc: bool,
    rows: Vec<Row<'a>>,
    first: i64,
    last: i64,
    total: i64,
    prev: Option<String>,
    next: Option<String>,
}

/// One box of the summary: a count of agents in a state, linking to them.
struct SummaryItem {
    state: &'static str,
    n: i64,
    sym: &'static str,
    label: &'static str,
}

/// An `<option>` of the site `<select>`.
struct SiteChoice {
    name: String,
    selected: bool,
}

/// An `<option>` of a `<select>`.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// One agent in the table.
struct Row<'a> {
    id: &'a str,
    state: &'a str,
    name: &'a str,
    sym: &'static str,
    /// The state in words; an idle agent's with its readiness ("Idle (not signed in) · Ready").
    label: String,
    problem: &'a str,
    signed: &'static str,
    seen: Ago,
    skew: String,
    site: &'a str,
}

fn row(now: i64, a: &AgentRow) -> Row<'_> {
    let (sym, label) = state_label(&a.state);
    let label = match a.readiness.as_deref().filter(|_| a.state == "idle") {
        Some(r) => format!("{label} · {}", state_label(r).1),
        None => label.to_string(),
    };
    Row {
        id: &a.id,
        state: &a.state,
        name: &a.name,
        sym,
        label,
        problem: a.fix.as_deref().unwrap_or_default(),
        signed: if a.signed_in { "Yes" } else { "No" },
        seen: ago(now, a.last_seen),
        skew: skew_text(a.clock_skew_ms),
        site: &a.site,
    }
}

pub async fn fleet(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let mut filter = q.filter_checked(&st.db, PAGE_SIZE).await?;
    filter.limit = filter.limit.min(500);
    let ((agents, total, summary), sites, connectors) = tokio::try_join!(
        st.db.fleet_with_summary(now, &filter),
        st.db.sites(),
        crate::connectors::health(&st.db),
    )?;
    // A contact-centre connector that fails is said at the top of the page IT lives in, in
    // words, with what waits (issue 14: IT sees it at once).
    let connectors_failing = connectors
        .into_iter()
        .filter(|c| c.health == "failing")
        .map(|c| {
            let platform = match c.kind.as_str() {
                "twilio" => "Twilio",
                "amazon_connect" => "Amazon Connect",
                "genesys" => "Genesys Cloud",
                _ => "webhook",
            };
            let waiting = match c.pending {
                0 => String::new(),
                1 => "; 1 change waits to be delivered".to_string(),
                n => format!("; {n} changes wait to be delivered"),
            };
            format!(
                "The {platform} connector of the site {} is failing: {}{waiting}. \
                 `shiftready-hq connector test --site {}` says more.",
                c.site,
                c.last_error.as_deref().unwrap_or("no answer yet"),
                c.site
            )
        })
        .collect();
    let cur_site = filter.site.clone().unwrap_or_default();
    let sites = sites
        .into_iter()
        .map(|(name, _)| SiteChoice {
            selected: name == cur_site,
            name,
        })
        .collect();
    let summary_items = [
        ("ready", summary.ready, "Ready"),
        ("degraded", summary.degraded, "Degraded"),
        ("not_ready", summary.not_ready, "Not ready"),
        ("unknown", summary.unknown, "Unknown"),
        ("idle", summary.idle, "Idle (on, not signed in)"),
        ("offline", summary.offline, "Offline"),
        ("signed_in", summary.signed_in, "Signed in now"),
    ]
    .into_iter()
    .map(|(state, n, label)| SummaryItem {
        state,
        n,
        sym: if state == "signed_in" {
            "→"
        } else {
            state_label(state).0
        },
        label,
    })
    .collect();

    let cur_q = filter.q.clone().unwrap_or_default();
    let cur_state = filter.state.clone().unwrap_or_default();
    let states = [
        "not_ready",
        "degraded",
        "ready",
        "unknown",
        "idle",
        "offline",
        "signed_in",
        "revoked",
        "reenroll",
    ]
    .into_iter()
    .map(|s| Choice {
        value: s,
        label: if s == "signed_in" {
            "Signed in now"
        } else {
            state_label(s).1
        },
        selected: s == cur_state,
    })
    .collect();
    let sorts = [
        ("name", "Name", Sort::Name),
        ("state", "State (worst first)", Sort::State),
        ("last_seen", "Last seen", Sort::LastSeen),
    ]
    .into_iter()
    .map(|(value, label, s)| Choice {
        value,
        label,
        selected: s == filter.sort,
    })
    .collect();

    let first = if total == 0 { 0 } else { filter.offset + 1 };
    let last = (filter.offset + agents.len() as i64).min(total);
    let page_no = filter.offset / filter.limit + 1;
    let base = format!(
        "/?q={}&state={}&site={}&sort={}&desc={}",
        url_enc(&cur_q),
        url_enc(&cur_state),
        url_enc(&cur_site),
        match filter.sort {
            Sort::Name => "name",
            Sort::State => "state",
            Sort::LastSeen => "last_seen",
        },
        filter.desc
    );
    let page = FleetPage {
        connectors_failing,
        frame: Frame::new("Fleet", Some(&it.who), true),
        summary: summary_items,
        total_agents: summary.total,
        q: cur_q.clone(),
        states,
        sites,
        site_q: url_enc(&cur_site),
        site: cur_site.clone(),
        sorts,
        desc: filter.desc,
        rows: agents.iter().map(|a| row(now, a)).collect(),
        first,
        last,
        total,
        prev: (filter.offset > 0).then(|| format!("{base}&page={}", page_no - 1)),
        next: (last < total).then(|| format!("{base}&page={}", page_no + 1)),
    };
    Ok(render(&page))
}
