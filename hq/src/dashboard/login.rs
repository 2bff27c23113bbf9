//! Signing in to the dashboard and out of it.

use super::layout::{Frame, render};
use crate::auth::{SESSION_COOKIE, session_cookie};
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// Where to go after signing in: a local path only (never another site).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 500 =>
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

pub async fn login(State(st): State<AppState>, req: Request) -> Result<Response, AppError> {
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
    let Some(role) = st.db.check_user(&form.user, &form.password).await? else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some("Wrong user name or password."), form.next.as_deref()),
        )
            .into_response());
    };
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
