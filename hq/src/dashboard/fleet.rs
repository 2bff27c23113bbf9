//! The fleet page: the summary, search, filter, sort, and the paged table of agents.

use super::layout::{REFRESH_SECONDS, ago, esc, page, skew_text, state_label, url_enc};
use crate::auth::DashAuth;
use crate::db::{self, AgentRow, Sort};
use crate::error::{ApiQuery, AppError};
use crate::state::{AppState, FleetQuery};
use axum::extract::State;
use axum::response::Html;
use std::fmt::Write;

/// Rows per page of the fleet table.
pub const PAGE_SIZE: i64 = 50;

pub async fn fleet(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Html<String>, AppError> {
    let now = db::now_ms();
    let mut filter = q.filter(PAGE_SIZE)?;
    filter.limit = filter.limit.min(500);
    let (summary, (agents, total)) =
        tokio::try_join!(st.db.fleet_summary(now), st.db.fleet(now, &filter))?;
    let mut b = String::with_capacity(32 * 1024);
    b.push_str("<h1>Fleet</h1><section aria-labelledby=\"sum\"><h2 id=\"sum\" class=\"muted\">Summary</h2><ul class=\"summary\">");
    for (state, n, label) in [
        ("ready", summary.ready, "Ready"),
        ("degraded", summary.degraded, "Degraded"),
        ("not_ready", summary.not_ready, "Not ready"),
        ("unknown", summary.unknown, "Unknown"),
        ("offline", summary.offline, "Offline"),
        ("signed_in", summary.signed_in, "Signed in now"),
    ] {
        let sym = if state == "signed_in" {
            "→"
        } else {
            state_label(state).0
        };
        let _ = write!(
            b,
            "<li><a href=\"/?state={state}\" class=\"{state}\" data-count=\"{state}\"><span class=\"n\">{n}</span> <span aria-hidden=\"true\">{sym}</span> {label}</a></li>"
        );
    }
    let _ = write!(
        b,
        "<li><a href=\"/\" data-count=\"total\"><span class=\"n\">{}</span> All agents</a></li></ul></section>",
        summary.total
    );

    // Search, filter and sort.
    let cur_q = filter.q.clone().unwrap_or_default();
    let cur_state = filter.state.clone().unwrap_or_default();
    let _ = write!(
        b,
        "<form class=\"filter\" method=\"get\" action=\"/\" role=\"search\">\
         <label>Search agent<input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"hostname or id\"></label>\
         <label>State<select name=\"state\"><option value=\"\">Any</option>",
        esc(&cur_q)
    );
    for s in [
        "not_ready",
        "degraded",
        "ready",
        "unknown",
        "offline",
        "signed_in",
        "revoked",
        "reenroll",
    ] {
        let label = if s == "signed_in" {
            "Signed in now"
        } else {
            state_label(s).1
        };
        let sel = if s == cur_state { " selected" } else { "" };
        let _ = write!(b, "<option value=\"{s}\"{sel}>{label}</option>");
    }
    b.push_str("</select></label><label>Sort by<select name=\"sort\">");
    for (v, label, s) in [
        ("name", "Name", Sort::Name),
        ("state", "State (worst first)", Sort::State),
        ("last_seen", "Last seen", Sort::LastSeen),
    ] {
        let sel = if s == filter.sort { " selected" } else { "" };
        let _ = write!(b, "<option value=\"{v}\"{sel}>{label}</option>");
    }
    let _ = write!(
        b,
        "</select></label><label><span>Descending</span><input type=\"checkbox\" name=\"desc\" value=\"true\"{}></label>\
         <button type=\"submit\">Apply</button></form>",
        if filter.desc { " checked" } else { "" }
    );

    b.push_str(&agent_table(now, &agents));
    let first = if total == 0 { 0 } else { filter.offset + 1 };
    let last = (filter.offset + agents.len() as i64).min(total);
    let page_no = filter.offset / filter.limit + 1;
    let base = format!(
        "/?q={}&state={}&sort={}&desc={}",
        url_enc(&cur_q),
        url_enc(&cur_state),
        match filter.sort {
            Sort::Name => "name",
            Sort::State => "state",
            Sort::LastSeen => "last_seen",
        },
        filter.desc
    );
    let _ = write!(
        b,
        "<nav class=\"pages\" aria-label=\"Pages\"><span>Agents {first}–{last} of {total}</span>"
    );
    if filter.offset > 0 {
        let _ = write!(
            b,
            "<a href=\"{}&page={}\" rel=\"prev\">← Previous</a>",
            esc(&base),
            page_no - 1
        );
    }
    if last < total {
        let _ = write!(
            b,
            "<a href=\"{}&page={}\" rel=\"next\">Next →</a>",
            esc(&base),
            page_no + 1
        );
    }
    let _ = write!(
        b,
        "</nav><p class=\"muted\">Refreshes every {REFRESH_SECONDS} s. Export: <a href=\"/api/v1/agents.csv\">agents.csv</a>, <a href=\"/api/v1/shifts.csv\">shift log (last day).csv</a></p>"
    );
    Ok(page("Fleet", Some(&it.who), &b, true))
}

fn agent_table(now: i64, agents: &[AgentRow]) -> String {
    let mut b = String::with_capacity(agents.len() * 400);
    b.push_str(
        "<table id=\"agents\"><caption class=\"muted\">Agents</caption><thead><tr>\
         <th scope=\"col\">Agent</th><th scope=\"col\">State</th><th scope=\"col\">What to fix</th>\
         <th scope=\"col\">Signed in</th><th scope=\"col\">Last seen</th><th scope=\"col\">Clock skew</th>\
         <th scope=\"col\">Site</th></tr></thead><tbody>",
    );
    if agents.is_empty() {
        b.push_str("<tr><td colspan=\"7\">No agents match.</td></tr>");
    }
    for a in agents {
        let (sym, label) = state_label(&a.state);
        let problem = if a.state == "ready" {
            String::new()
        } else {
            a.problem.as_deref().map(esc).unwrap_or_default()
        };
        let _ = write!(
            b,
            "<tr data-agent=\"{id}\" data-state=\"{state}\"><th scope=\"row\"><a href=\"/agents/{id}\">{name}</a></th>\
             <td class=\"state {state}\"><span aria-hidden=\"true\">{sym}</span> {label}</td><td>{problem}</td>\
             <td>{signed}</td><td>{seen}</td><td>{skew}</td><td>{site}</td></tr>",
            id = esc(&a.id),
            state = esc(&a.state),
            name = esc(&a.name),
            signed = if a.signed_in { "Yes" } else { "No" },
            seen = ago(now, a.last_seen),
            skew = skew_text(a.clock_skew_ms),
            site = esc(&a.site),
        );
    }
    b.push_str("</tbody></table>");
    b
}
