//! What an admin can do to a device from the dashboard: revoke its key or force it to enroll
//! again, each behind a confirmation page.

use super::layout::{esc, no_such_agent, page, url_enc};
use crate::auth::{DashAuth, ItAuth, check_csrf, request_csrf_token};
use crate::db::{self, Role};
use crate::error::{ApiPath, AppError};
use crate::state::AppState;
use axum::extract::{Form, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::fmt::Write;

/// What an admin can do to a device. Each action is a link to a confirmation page; only that
/// page's form changes anything.
pub fn device_actions(id: &str, state: &str) -> String {
    let id_u = url_enc(id);
    let mut b = String::from(
        "<section aria-labelledby=\"device-actions\"><h2 id=\"device-actions\">Device key</h2><p class=\"actions\">",
    );
    if state != "reenroll" {
        let _ = write!(
            b,
            "<a class=\"button\" href=\"/agents/{id_u}/reenroll\" data-action=\"reenroll\">Force re-enrollment…</a>"
        );
    }
    if state != "revoked" {
        let _ = write!(
            b,
            "<a class=\"button danger\" href=\"/agents/{id_u}/revoke\" data-action=\"revoke\">Revoke…</a>"
        );
    }
    b.push_str("<span class=\"muted\">Each asks for confirmation first.</span></p></section>");
    b
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
            DeviceAction::Revoke => "revoked",
            DeviceAction::Reenroll => "reenroll",
        }
    }
    fn path(self) -> &'static str {
        match self {
            DeviceAction::Revoke => "revoke",
            DeviceAction::Reenroll => "reenroll",
        }
    }
}

/// The 403 page for a viewer who reached an admin action.
fn viewer_refused(it: &ItAuth) -> Response {
    let body = "<h1>Not allowed</h1><p class=\"error\" role=\"alert\">Revoking a device or forcing it to enroll again needs the admin role; a viewer can only read.</p><p><a href=\"/\">Back to the fleet</a></p>";
    (
        StatusCode::FORBIDDEN,
        page("Not allowed", Some(&it.who), body, false),
    )
        .into_response()
}

async fn confirm_page(
    st: &AppState,
    it: &ItAuth,
    id: &str,
    action: DeviceAction,
    req: Request,
) -> Result<Response, AppError> {
    if it.role != Role::Admin {
        return Ok(viewer_refused(it));
    }
    let Some(d) = st.db.agent(db::now_ms(), id).await? else {
        return Ok(no_such_agent(it));
    };
    let (parts, _) = req.into_parts();
    let csrf = request_csrf_token(&parts).unwrap_or_default();
    let name = esc(&d.agent.name);
    let (title, what, button) = match action {
        DeviceAction::Revoke => (
            "Revoke this device?",
            format!(
                "<p>The device key of <strong>{name}</strong> stops working at once: HQ refuses its \
                 reports, heartbeats and sign-ins from now on, and the agent on that computer is \
                 told that IT revoked it. Enrolling it again needs the site's enrollment secret.</p>"
            ),
            "Yes, revoke the key",
        ),
        DeviceAction::Reenroll => (
            "Force this device to enroll again?",
            format!(
                "<p>The device key of <strong>{name}</strong> stops working at once, and the agent \
                 is told to run <code>shiftready enroll</code> again. It keeps its id and its \
                 history at HQ.</p>"
            ),
            "Yes, force re-enrollment",
        ),
    };
    let id_u = url_enc(id);
    let body = format!(
        "<p><a href=\"/agents/{id_u}\">← {name}</a></p><section class=\"confirm\"><h1>{title}</h1>{what}\
         <form method=\"post\" action=\"/agents/{id_u}/{path}\" class=\"actions\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" class=\"danger\" id=\"confirm\">{button}</button>\
         <a class=\"button\" href=\"/agents/{id_u}\">Cancel</a></form></section>",
        path = action.path(),
        csrf = esc(&csrf),
    );
    Ok(page(title, Some(&it.who), &body, false).into_response())
}

#[derive(serde::Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

async fn do_action(
    st: &AppState,
    it: &ItAuth,
    id: &str,
    action: DeviceAction,
    req: Request,
) -> Result<Response, AppError> {
    if it.role != Role::Admin {
        return Ok(viewer_refused(it));
    }
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
    if req.method() == Method::POST {
        do_action(&st, &it, &id, action, req).await
    } else {
        confirm_page(&st, &it, &id, action, req).await
    }
}
