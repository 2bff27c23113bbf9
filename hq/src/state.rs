//! What every handler can reach ([`AppState`]) and the fleet list's query with its limits.

use crate::db::{Db, FleetFilter, Sort};
use crate::error::AppError;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::reflector::ReflectorStats;
use serde::Deserialize;
use std::sync::Arc;

pub use crate::limits::BODY_LIMIT;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub ingest: Ingest,
    pub metrics: Arc<Metrics>,
    pub reflector: Option<Arc<ReflectorStats>>,
    /// The key of the probe tokens given in the policy answer (none: no token given).
    pub probe_key: Option<crate::reflector::TokenKey>,
    /// Enrollment attempts allowed per client address per minute.
    pub enroll_per_minute: i64,
    /// Whether the dashboard's cookie is marked `Secure` (served over HTTPS).
    pub secure_cookies: bool,
    /// The sign-in throttles (per client address, per user name).
    pub login: Arc<crate::limits::LoginGuard>,
    /// The load endpoints' limits and per-device sessions (`serve --no-load-test`).
    pub load: Arc<crate::load::LoadGuard>,
}

impl AppState {
    /// State over a database, with this process's ingest writer started.
    pub fn new(db: Db) -> AppState {
        let metrics = Arc::new(Metrics::default());
        AppState {
            ingest: Ingest::start(db.clone(), metrics.clone()),
            db,
            metrics,
            reflector: None,
            probe_key: None,
            enroll_per_minute: 10,
            secure_cookies: false,
            login: Arc::default(),
            load: Arc::default(),
        }
    }
}

/// The largest fleet offset accepted: far past any fleet, and far from overflowing the page
/// arithmetic (`offset=9223372036854775807` panicked the dashboard).
pub const MAX_OFFSET: i64 = 1_000_000_000;

/// `?q=&state=&site=&sort=&desc=&limit=&offset=` of the fleet list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetQuery {
    pub q: Option<String>,
    pub state: Option<String>,
    pub site: Option<String>,
    pub sort: Option<Sort>,
    pub desc: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub page: Option<i64>,
}

impl FleetQuery {
    /// [`FleetQuery::filter`], with `site` checked against the sites HQ knows (a 400 that
    /// lists them).
    pub async fn filter_checked(
        &self,
        db: &Db,
        default_limit: i64,
    ) -> Result<FleetFilter, AppError> {
        let f = self.filter(default_limit)?;
        if let Some(site) = f.site.as_deref() {
            let sites = db.sites().await?;
            if !sites.iter().any(|(s, _)| s == site) {
                let names: Vec<&str> = sites.iter().map(|(s, _)| s.as_str()).collect();
                return Err(AppError::BadRequest(format!(
                    "there is no site '{}'; the sites are: {}",
                    site.chars().take(64).collect::<String>(),
                    names.join(", ")
                )));
            }
        }
        Ok(f)
    }

    pub fn filter(&self, default_limit: i64) -> Result<FleetFilter, AppError> {
        if let Some(s) = self.state.as_deref().filter(|s| !s.is_empty()) {
            if proto::FleetState::parse(s).is_none() {
                let all: Vec<&str> = proto::FleetState::ALL.iter().map(|f| f.as_str()).collect();
                return Err(AppError::BadRequest(format!(
                    "state must be one of {}",
                    all.join(", ")
                )));
            }
        }
        if self.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
            return Err(AppError::BadRequest(
                "q is longer than 200 characters".into(),
            ));
        }
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=1_000_000).contains(&limit) {
            return Err(AppError::BadRequest(
                "limit must be between 1 and 1000000".into(),
            ));
        }
        let offset = match (self.offset, self.page) {
            (Some(o), _) => o,
            (None, Some(p)) => (p.max(1) - 1).saturating_mul(limit),
            (None, None) => 0,
        };
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(AppError::BadRequest(format!(
                "offset (or page × limit) must be between 0 and {MAX_OFFSET}"
            )));
        }
        Ok(FleetFilter {
            q: self.q.clone(),
            state: self.state.clone().filter(|s| !s.is_empty()),
            site: self.site.clone().filter(|s| !s.is_empty()),
            sort: self.sort.unwrap_or_default(),
            desc: self.desc.unwrap_or(false),
            limit,
            offset,
        })
    }
}
