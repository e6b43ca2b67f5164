//! The state every handler shares ([`AppState`]); a low module that imports no handler.

use std::sync::Arc;

use url::Url;

use crate::config::Config;
use crate::identity::auth_state::AuthState;
use crate::storage::Db;
use crate::upstream::SentinelClient;

/// Shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The console's external base URL (no trailing slash in `as_str()` use: see [`AppState::url`]).
    pub public_url: Url,
    pub db: Db,
    pub upstream: SentinelClient,
    pub auth: Arc<AuthState>,
    /// Identifies this process among several instances (job leases, logs).
    pub instance_id: String,
    /// Recently fetched totals (see [`crate::upstream::cache`]).
    pub totals_cache: Arc<crate::upstream::cache::TotalsCache>,
    /// Recently computed overviews (see [`crate::overview::cache`]).
    pub overview_cache: Arc<crate::overview::cache::OverviewCache>,
    /// Each tracked group's newest sample's filter values and counts (see
    /// [`crate::storage::usage::SnapshotCache`]).
    pub snapshots: crate::storage::usage::SnapshotCache,
    /// Each group's tracking as the list pages read it (see
    /// [`crate::storage::usage::TrackingCache`]).
    pub tracking: crate::storage::usage::TrackingCache,
    /// Prometheus series (served only on `METRICS_BIND_ADDR`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl axum::extract::FromRef<AppState> for crate::client_addr::TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.config.trusted_proxies.clone()
    }
}

impl AppState {
    /// An absolute URL under the console.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}
