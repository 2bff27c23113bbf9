//! The dashboard for IT: plain, server-rendered, semantic HTML that refreshes itself. States
//! are told by a word and a symbol, never by colour alone.
//!
//! [`fleet`] and [`agent`] are the pages, [`actions`] what an admin can do to a device,
//! [`login`] the session, [`layout`] what every page shares.

pub mod actions;
pub mod agent;
pub mod alerts;
pub mod check_now;
pub mod drops;
pub mod figures;
pub mod fleet;
pub mod layout;
pub mod login;
pub mod shifts;
pub mod timeline;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub use agent::chart;
pub use fleet::PAGE_SIZE;
pub use layout::state_label;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(fleet::fleet))
        .route("/agents/{id}", get(agent::agent_page))
        .route(
            "/agents/{id}/check",
            get(check_now::check_now_page).post(check_now::check_now_page),
        )
        .route(
            "/agents/{id}/{action}",
            get(actions::device_action).post(actions::device_action),
        )
        .route("/shifts", get(shifts::shifts_page))
        .route("/adherence", get(shifts::adherence_page))
        .route("/alerts", get(alerts::alerts_page))
        .route("/call-drops", get(drops::drops_page))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
}
