//! The embedded Sentinel simulator and demo OAuth 2.0 identity provider (a stand-in for the outside world).

use std::time::Duration;

use axum::Router;

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Lines in the large device group.
    pub large_group_size: u64,
    /// Lifetime of the demo access tokens.
    pub token_ttl: Duration,
}

/// A running simulator's shared state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Simulator {}

impl Simulator {
    pub fn new(_cfg: SimConfig) -> Self {
        Self {}
    }
    /// Routes: `/sentinel/api/v1.0/...`, `/oauth/...`, `/_sim/...`.
    pub fn router(&self) -> Router {
        Router::new()
    }
}
