//! What an admin can do to a device from the dashboard: revoke its key or force it to enroll
//! again, each behind a confirmation page.

use super::layout::{Frame, no_such_agent, render, url_enc, viewer_refused};
use crate::auth::{DashAuth, ItAuth, check_csrf, request_csrf_token};
use crate::db::{self, Role};
use crate::error::{ApiPath, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use proto::DeviceStatus;

/// What an admin can do to a device, shown on its page (`agent.html`). Each action is a link
/// to a confirmation page; only that page's form changes anything.
pub struct DeviceActions {
    /// The device id, URL-encoded for the links.
    pub id: String,
    pub reenroll: bool,
    pub revoke: bool,
}

impl DeviceActions {
    pub fn new(id: &str, state: &str) -> DeviceActions {
        DeviceActions {
            id: url_enc(id),
            reenroll: state != DeviceStatus::Reenroll.as_str(),
            revoke: state != DeviceStatus::Revoked.as_str(),
        }
    }
}

/// A device action of the dashboard.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DeviceAction {
    Revoke,
    Reenroll,
}

impl DeviceAction {
    fn status(self) -> &'static str {
        match self {
            DeviceAction::Revoke => DeviceStatus::Revoked.as_str(),
            DeviceAction::Reenroll => DeviceStatus::Reenroll.as_str(),
        }
    }
    fn path(self) -> &'static str {
        match self {
            DeviceAction::Revoke => "revoke",
            DeviceAction::Reenroll => "reenroll",
        }
    }
}

/// The confirmation page of an action (`confirm.html`).
#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    frame: Frame<'a>,
    /// The device id, URL-encoded for the links.
    id: String,
    name: &'a str,
    action: &'static str,
    revoke: bool,
    csrf: String,
    button: &'static str,
}

/// The confirmation page; `it` is an admin.
async fn confirm_page(
    st: &AppState,
    it: &ItAuth,
    id: &str,
    action: DeviceAction,
    req: Request,
) -> Result<Response, AppError> {
    let Some(d) = st.db.agent(db::now_ms(), id).await? else {
        return Ok(no_such_agent(it));
    };
    let (parts, _) = req.into_parts();
    let csrf = request_csrf_token(&parts).unwrap_or_default();
    let (title, button) = match action {
        DeviceAction::Revoke => ("Revoke this device?", "Yes, revoke the key"),
        DeviceAction::Reenroll => (
            "Force this device to enroll again?",
            "Yes, force re-enrollment",
        ),
    };
    let page = ConfirmPage {
        frame: Frame::new(title, Some(&it.who), false),
        id: url_enc(id),
        name: &d.agent.name,
        action: action.path(),
        revoke: action == DeviceAction::Revoke,
        csrf,
        button,
    };
    Ok(render(&page))
}

#[derive(serde::Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// Acts on a confirmed form; `it` is an admin.
async fn do_action(
    st: &AppState,
    it: &ItAuth,
    id: &str,
    action: DeviceAction,
    req: Request,
) -> Result<Response, AppError> {
    let (parts, body) = req.into_parts();
    let form = match Form::<ActionForm>::from_request(Request::from_parts(parts.clone(), body), st)
        .await
    {
        Ok(Form(f)) => f,
        Err(_) => ActionForm {
            csrf: None,
            confirm: None,
        },
    };
    check_csrf(&parts, form.csrf.as_deref())?;
    if form.confirm.as_deref() != Some("yes") {
        // Not confirmed: show the confirmation page instead of acting.
        return confirm_page(
            st,
            it,
            id,
            action,
            Request::from_parts(parts, Default::default()),
        )
        .await;
    }
    if action == DeviceAction::Reenroll {
        return reenroll_code_page(st, it, id).await;
    }
    if !st.db.set_device_status(id, action.status()).await? {
        return Ok(no_such_agent(it));
    }
    tracing::info!(
        device_id = id,
        by = it.who,
        status = action.status(),
        "device status changed from the dashboard"
    );
    Ok(Redirect::to(&format!("/agents/{}", url_enc(id))).into_response())
}

/// The page after a confirmed re-enrollment: the one-time code, shown this once.
#[derive(Template)]
#[template(path = "reenroll_code.html")]
struct ReenrollCodePage<'a> {
    frame: Frame<'a>,
    id: String,
    name: &'a str,
    code: String,
    expires: String,
}

/// Forces re-enrollment and shows the new one-time code (`Cache-Control: no-store`).
async fn reenroll_code_page(st: &AppState, it: &ItAuth, id: &str) -> Result<Response, AppError> {
    let Some(d) = st.db.agent(db::now_ms(), id).await? else {
        return Ok(no_such_agent(it));
    };
    let Some((code, expires)) = st.db.issue_reenroll_code(id).await? else {
        return Ok(no_such_agent(it));
    };
    tracing::info!(
        device_id = id,
        by = it.who,
        "re-enrollment code issued from the dashboard"
    );
    let page = ReenrollCodePage {
        frame: Frame::new("Re-enrollment code", Some(&it.who), false),
        id: url_enc(id),
        name: &d.agent.name,
        code,
        expires: chrono::DateTime::from_timestamp_millis(expires)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default(),
    };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        render(&page),
    )
        .into_response())
}

/// `/agents/{id}/{action}`: the device's id and a known action; any other action is a 404,
/// as for any page that does not exist.
pub struct ActionPath {
    id: String,
    action: DeviceAction,
}

impl FromRequestParts<AppState> for ActionPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let ApiPath((id, action)) = ApiPath::<(String, String)>::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let action = match action.as_str() {
            "revoke" => DeviceAction::Revoke,
            "reenroll" => DeviceAction::Reenroll,
            _ => return Err(StatusCode::NOT_FOUND.into_response()),
        };
        Ok(ActionPath { id, action })
    }
}

/// `GET` shows the action's confirmation page; `POST` (from that page's form) acts.
pub async fn device_action(
    State(st): State<AppState>,
    ActionPath { id, action }: ActionPath,
    DashAuth(it): DashAuth,
    req: Request,
) -> Result<Response, AppError> {
    if it.role != Role::Admin {
        return Ok(viewer_refused(&it));
    }
    if req.method() == Method::POST {
        do_action(&st, &it, &id, action, req).await
    } else {
        confirm_page(&st, &it, &id, action, req).await
    }
}
