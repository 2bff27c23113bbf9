//! Signing in to the dashboard and out of it.

use super::layout::{Frame, render};
use crate::auth::{SESSION_COOKIE, session_cookie};
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// Where to go after signing in: a path on this site only, never another site. A browser
/// drops tabs and newlines from a URL and reads `\\` as `/`, so `/\t/evil.example` would be
/// `//evil.example` (another site) and a newline cannot be put in a header: a path with any
/// control character, whitespace, `\\` or `//` goes to the fleet instead.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && n.len() < 500
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n
        }
        _ => "/",
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    frame: Frame<'a>,
    error: Option<&'a str>,
    next: &'a str,
}

fn login_page(error: Option<&str>, next: Option<&str>) -> Response {
    render(&LoginPage {
        frame: Frame::new("Sign in", None, false),
        error,
        next: safe_next(next),
    })
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(ApiQuery(q): ApiQuery<NextQuery>) -> Response {
    login_page(None, q.next.as_deref())
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

/// The client's address as the connection (or a trusted proxy) tells it.
fn client_addr(req: &Request) -> String {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| crate::limits::canonical(c.0.ip()).to_string())
        .unwrap_or_else(|| "local".into())
}

/// The answer to a sign-in HQ will not check now: 429 (too many attempts) or 503 (busy), with
/// `Retry-After` in seconds.
fn try_later(status: StatusCode, wait: std::time::Duration, next: Option<&str>) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let msg = if status == StatusCode::TOO_MANY_REQUESTS {
        format!("Too many sign-in attempts. Wait {secs} seconds and try again.")
    } else {
        format!("HQ is busy checking other sign-ins. Try again in {secs} seconds.")
    };
    let mut resp = (status, login_page(Some(&msg), next)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    resp
}

pub async fn login(State(st): State<AppState>, req: Request) -> Result<Response, AppError> {
    let addr = client_addr(&req);
    let form = match Form::<LoginForm>::from_request(req, &st).await {
        Ok(Form(f)) => f,
        Err(_) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                login_page(Some("Enter a user name and a password."), None),
            )
                .into_response());
        }
    };
    if form.user.len() > 200 || form.password.len() > 1000 {
        return Ok((
            StatusCode::BAD_REQUEST,
            login_page(Some("That user name or password is too long."), None),
        )
            .into_response());
    }
    if let Err(wait) = st.login.attempt(&addr, &form.user) {
        tracing::warn!(addr = %addr, "sign-in attempts held back (too many)");
        return Ok(try_later(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            form.next.as_deref(),
        ));
    }
    let checked = match st.db.check_user(&form.user, &form.password).await {
        Err(e) if e.is::<crate::crypto::PasswordBusy>() => {
            return Ok(try_later(
                StatusCode::SERVICE_UNAVAILABLE,
                std::time::Duration::from_secs(5),
                form.next.as_deref(),
            ));
        }
        other => other?,
    };
    let Some(role) = checked else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some("Wrong user name or password."), form.next.as_deref()),
        )
            .into_response());
    };
    st.login.signed_in(&form.user);
    let id = st.db.create_session(&form.user, role).await?;
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}");
    let next = safe_next(form.next.as_deref()).to_string();
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

pub async fn logout(State(st): State<AppState>, req: Request) -> Result<Response, AppError> {
    let (parts, _) = req.into_parts();
    if let Some(id) = session_cookie(&parts) {
        st.db.delete_session(&id).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}
