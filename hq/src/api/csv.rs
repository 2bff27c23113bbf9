//! IT's API as CSV: the fleet and the shift log, safe to open in a spreadsheet.

use super::it::{RangeQuery, parse_range, resolve_agent_query, rfc3339};
use crate::auth::ItAuth;
use crate::db;
use crate::error::{ApiQuery, AppError};
use crate::state::{AppState, FleetQuery};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub(crate) fn csv_field(s: &str) -> String {
    // Quote always; a leading = + - @ would be a formula in a spreadsheet, so prefix a quote.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub async fn agents_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Response, AppError> {
    let filter = q.filter_checked(&st.db, 1_000_000).await?;
    let (agents, _) = st.db.fleet(db::now_ms(), &filter).await?;
    // The first eight columns are the contract's; readiness_at and fix extend it.
    let mut out = String::from(
        "id,name,site,state,readiness,signed_in,last_seen,clock_skew_ms,readiness_at,fix\n",
    );
    for a in agents {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&a.id),
            csv_field(&a.name),
            csv_field(&a.site),
            a.state,
            a.readiness.unwrap_or_default(),
            a.signed_in,
            a.last_seen
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            a.clock_skew_ms.map(|s| s.to_string()).unwrap_or_default(),
            a.readiness_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            csv_field(a.fix.as_deref().unwrap_or_default()),
        ));
    }
    Ok(csv_response("agents.csv", out))
}

pub async fn shifts_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Response, AppError> {
    let (from, to) = parse_range(&q)?;
    let agent = resolve_agent_query(&st, q.agent.as_deref()).await?;
    let log = st
        .db
        .shift_log(from, to, agent.as_deref(), 1_000_000)
        .await?;
    let mut out = String::from("agent_id,hostname,kind,reason,at,received_at,readiness,flags\n");
    for s in log {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            csv_field(&s.agent_id),
            csv_field(&s.hostname),
            s.kind,
            s.reason,
            rfc3339(s.at),
            s.received_at.map(rfc3339).unwrap_or_default(),
            s.readiness.unwrap_or_default(),
            s.flags.join(";")
        ));
    }
    Ok(csv_response("shifts.csv", out))
}
