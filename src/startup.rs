//! Building the application (state, router, embedded services) and serving it with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use url::Url;

use crate::auth;
use crate::client_addr::ClientAddr;
use crate::config::{Config, IdentityConfig, OAuthConfig};
use crate::identity::auth_state::AuthState;
use crate::middleware::{HeaderPolicy, REQUEST_ID, security_headers_for, take_client_request_id};
use crate::simulator::{SimConfig, Simulator};
use crate::state::AppState;
use crate::storage::Db;
use crate::upstream::SentinelClient;

/// Where the embedded simulator is mounted inside the console's own listener.
pub const SIM_MOUNT: &str = "/sim";

/// A built application, bound to its port, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    simulator: Option<Simulator>,
    metrics_addr: Option<SocketAddr>,
}

impl Application {
    /// Binds the listener, opens the database, starts the embedded services when configured.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        config.check_demo_bind()?;
        let listener = TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("binding {}", config.bind_addr))?;
        let addr = listener.local_addr()?;
        let public_url = match &config.public_url {
            Some(u) => u.clone(),
            None => Url::parse(&format!("http://{addr}"))?,
        };
        // The console reaches its embedded simulator over loopback, like any upstream.
        let loopback = Url::parse(&format!("http://{}", loopback_of(addr)))?;
        let db = Db::connect(&config.database_url).await?;

        let (simulator, api_url) = match &config.sentinel_api_url {
            Some(u) => (None, u.clone()),
            None => {
                tracing::warn!(
                    "DEMO MODE: simulated lines and a demo sign-in without password on {public_url} \
                     (SENTINEL_API_URL is unset). Not for real data."
                );
                let sim = Simulator::new(SimConfig {
                    large_group_size: config.sim_large_group,
                    token_ttl: config.demo_token_ttl,
                    // Only the console's own callback; no control endpoints on the public listener.
                    redirect_uris: vec![Url::parse(&format!(
                        "{}/auth/callback",
                        public_url.as_str().trim_end_matches('/')
                    ))?],
                    control_endpoints: false,
                });
                // The demo's usage moves with the clock.
                sim.start_usage_clock(std::time::Duration::from_secs(60));
                let api = loopback.join(&format!("{SIM_MOUNT}/sentinel/api"))?;
                (Some(sim), api)
            }
        };
        let identity = match &config.identity {
            IdentityConfig::Demo => {
                // The browser goes to the demo sign-in through the public URL; the
                // token exchange goes straight to loopback.
                let public_sim = public_url.join(&format!("{SIM_MOUNT}/"))?;
                let back_sim = loopback.join(&format!("{SIM_MOUNT}/"))?;
                IdentityConfig::OAuth(OAuthConfig::manual(
                    public_sim.join("oauth/authorize")?,
                    back_sim.join("oauth/token")?,
                    Some(back_sim.join("oauth/revoke")?),
                    "sentinel-console",
                ))
            }
            other => other.clone(),
        };
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let metrics_addr = match config.metrics_bind_addr {
            Some(a) => Some(
                crate::metrics::serve(a, metrics.clone(), db.clone())
                    .await
                    .with_context(|| format!("binding METRICS_BIND_ADDR {a}"))?,
            ),
            None => None,
        };
        let upstream =
            SentinelClient::new(&api_url, config.upstream_timeout)?.with_metrics(metrics.clone());
        let auth = AuthState::new(&config, &identity, &public_url, &db).await?;
        let state = AppState {
            config: Arc::new(config),
            public_url,
            db,
            upstream,
            auth: Arc::new(auth),
            instance_id: uuid::Uuid::new_v4().to_string(),
            totals_cache: Arc::default(),
            overview_cache: Arc::default(),
            snapshots: crate::storage::usage::snapshot_cache(),
            tracking: crate::storage::usage::tracking_cache(),
            metrics,
        };
        // Jobs abandoned by a stopped instance are finished here (see actions::jobs).
        crate::actions::jobs::spawn_resumer(state.clone());
        crate::scheduler::spawn(state.clone());
        if let Some(sim) = &simulator {
            // Demo only: simulated history at first start (a real deployment never invents it).
            if let Some(token) = sim.issue_access_token("super") {
                tokio::spawn(crate::usage::demo::fill(
                    state.clone(),
                    secrecy::SecretString::from(token),
                ));
            }
        }
        let router = build_router(state.clone(), simulator.as_ref());
        Ok(Self {
            listener,
            router,
            state,
            simulator,
            metrics_addr,
        })
    }

    /// Where `GET /metrics` is served (`METRICS_BIND_ADDR`), if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The embedded simulator, when the console runs one.
    pub fn simulator(&self) -> Option<&Simulator> {
        self.simulator.as_ref()
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

fn loopback_of(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// The console's routes with every layer; the embedded simulator is merged beside them, outside the console's layers.
pub fn build_router(state: AppState, simulator: Option<&Simulator>) -> Router {
    let trusted = state.config.trusted_proxies.clone();
    let console = crate::routes::router()
        .merge(auth::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::refused::on_upstream_refusal,
        ))
        .fallback(crate::routes::not_found)
        .layer(axum::middleware::from_fn(crate::error::render_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::csrf_and_context))
        .layer(auth::session_layer(&state))
        .with_state(state.clone())
        .nest(crate::assets::MOUNT, crate::assets::router())
        .layer(axum::middleware::from_fn_with_state(
            state.config.is_demo(),
            crate::middleware::demo_flag,
        ))
        .layer(axum::middleware::from_fn_with_state(
            HeaderPolicy::new(
                state.public_url.scheme() == "https",
                state.auth.sign_out_origin().as_deref(),
            ),
            security_headers_for,
        ))
        // gzip or brotli as the client accepts: pages, fragments, static files, streamed CSV.
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(move |req: &axum::http::Request<_>| {
                // Only method, path, client and request id: never headers (Authorization,
                // Cookie) or the query.
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                let client = ClientAddr::of(req.extensions(), req.headers(), &trusted).0;
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), %client, request_id = %id)
            }),
        )
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), crate::metrics::track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(axum::middleware::from_fn(take_client_request_id));
    match simulator {
        Some(sim) => console.nest(SIM_MOUNT, sim.router()),
        None => console,
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
