//! "Run the check now" (`/agents/{id}/check`): `GET` shows whether a check is asked and, to an
//! admin, the button; `POST` (that page's form, with the session's CSRF token and
//! `confirm=yes`, as the other device actions) records the request. The daemon gets it in the
//! answer to its next `POST /events` ([`crate::api::check_now`]).

use super::layout::{Frame, no_such_agent, render, url_enc, viewer_refused};
use crate::api::check_now;
use crate::auth::{DashAuth, ItAuth, check_csrf, request_csrf_token};
use crate::db::{self, Role};
use crate::error::{ApiPath, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "check_now.html")]
struct CheckPage<'a> {
    frame: Frame<'a>,
    /// The device id, URL-encoded for the links.
    id: String,
    name: &'a str,
    /// "2026-12-02 03:00:12 UTC" while a requested check's report has not arrived.
    pending: Option<String>,
    /// The last report's time, if any.
    last_report: Option<String>,
    admin: bool,
    csrf: String,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

async fn page(st: &AppState, it: &ItAuth, id: &str, csrf: String) -> Result<Response, AppError> {
    let Some(d) = st.db.agent(db::now_ms(), id).await? else {
        return Ok(no_such_agent(it));
    };
    let pending = check_now::pending(&st.db, id).await?.map(when);
    let page = CheckPage {
        // Refreshes while a check is asked, so the page moves on when its report arrives.
        frame: Frame::new("Run the check now", Some(&it.who), pending.is_some()),
        id: url_enc(id),
        name: &d.agent.name,
        pending,
        last_report: check_now::last_report_received(&st.db, id).await?.map(when),
        admin: it.role == Role::Admin,
        csrf,
    };
    Ok(render(&page))
}

#[derive(serde::Deserialize)]
struct CheckForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// `GET`/`POST /agents/{id}/check`.
pub async fn check_now_page(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    DashAuth(it): DashAuth,
    req: Request,
) -> Result<Response, AppError> {
    let (parts, body) = req.into_parts();
    let csrf = request_csrf_token(&parts).unwrap_or_default();
    if parts.method != Method::POST {
        return page(&st, &it, &id, csrf).await;
    }
    if it.role != Role::Admin {
        return Ok(viewer_refused(&it));
    }
    let form = Form::<CheckForm>::from_request(Request::from_parts(parts.clone(), body), &st)
        .await
        .map(|Form(f)| f)
        .unwrap_or(CheckForm {
            csrf: None,
            confirm: None,
        });
    check_csrf(&parts, form.csrf.as_deref())?;
    if form.confirm.as_deref() != Some("yes") {
        return page(&st, &it, &id, csrf).await;
    }
    if st.db.agent(db::now_ms(), &id).await?.is_none() {
        return Ok(no_such_agent(&it));
    }
    let at = check_now::request(&st.db, &id, &it.who, db::now_ms()).await?;
    tracing::info!(
        device_id = id,
        by = it.who,
        requested_at = at,
        "check requested from the dashboard"
    );
    Ok(Redirect::to(&format!("/agents/{}/check", url_enc(&id))).into_response())
}
