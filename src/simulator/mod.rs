//! The embedded Sentinel simulator and demo OAuth 2.0 identity provider (a stand-in for the outside world).
//!
//! Routes (relative to wherever the router is mounted): `/sentinel/api/v1.0/...` (the 19
//! operations and the vendor's password sign-in), `/oauth/authorize|token|revoke` (demo IdP),
//! `/_sim/faults` and `/_sim/requests` (control endpoints for tests and benchmarks: only when
//! [`SimConfig::control_endpoints`] is on, never in the console's embedded demo).

mod api;
mod csv;
mod data;
mod faults;
mod filter;
mod generate;
mod idp;
#[cfg(test)]
mod independence;
mod rng;
mod rules;
mod usage;
mod validate;
mod wire;
mod world;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::{Deserialize, Serialize};

pub use faults::{Fault, FaultKind};

pub use wire::Device;

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Lines in the large device group.
    pub large_group_size: u64,
    /// Lifetime of the demo access tokens.
    pub token_ttl: Duration,
    /// The redirect URIs the demo identity provider accepts, compared exactly (the client's
    /// registration). Empty: only loopback `http` URIs whose path ends in `/auth/callback`
    /// (the standalone simulator beside consoles on random local ports).
    pub redirect_uris: Vec<url::Url>,
    /// Serve `/_sim/faults` and `/_sim/requests` and keep the request log (tokens included).
    /// Only the standalone `simulate` command and tests; never on the console's public listener.
    pub control_endpoints: bool,
}

/// One request the simulator received, as recorded before any fault or auth decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path relative to the simulator's root, e.g. `/sentinel/api/v1.0/devices/NORTHSTAR-ISD`.
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub has_cookie: bool,
    pub content_type: Option<String>,
    pub body: String,
}

/// How many requests the log keeps.
const LOG_CAPACITY: usize = 10_000;
/// Largest request body the simulator reads.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// A `CutCsvAfterRows` fault handed from the fault layer to the CSV handlers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvCut(pub usize);

struct Inner {
    cfg: SimConfig,
    world: Mutex<world::World>,
    idp: Mutex<idp::IdpState>,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<VecDeque<RecordedRequest>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("Simulator")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// A running simulator's shared state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Simulator {
    inner: Arc<Inner>,
}

/// Locks a mutex, recovering from poisoning (a panicked holder leaves consistent enough data here).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Self {
        let world = world::World::new(cfg.large_group_size);
        Self {
            inner: Arc::new(Inner {
                cfg,
                world: Mutex::new(world),
                idp: Mutex::new(idp::IdpState::default()),
                faults: Mutex::new(Vec::new()),
                log: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// Routes: `/sentinel/api/v1.0/...`, `/oauth/...`, `/_sim/...`.
    pub fn router(&self) -> Router {
        const D: &str = "/sentinel/api/v1.0/devices/{corp}";
        let api = Router::new()
            .route(D, get(api::list_devices))
            .route(
                &format!("{D}/bulkDeleteLabels"),
                delete(api::bulk_delete_labels),
            )
            .route(&format!("{D}/customizedList"), post(api::customized_list))
            .route(&format!("{D}/dataLimits"), put(api::update_data_limits))
            .route(&format!("{D}/deviceGroup"), put(api::update_device_group))
            .route(&format!("{D}/filterGroup"), put(api::update_filter_group))
            .route(&format!("{D}/imei"), put(api::update_imei))
            .route(&format!("{D}/imei/{{imei}}"), get(api::devices_by_imei))
            .route(
                &format!("{D}/mdnCustomField"),
                put(api::update_mdn_custom_field),
            )
            .route(&format!("{D}/nickname"), put(api::update_nickname))
            .route(&format!("{D}/note"), put(api::update_note))
            .route(
                &format!("{D}/smartspot-settings"),
                put(api::update_smartspot),
            )
            .route(
                &format!("{D}/smartspot-settings-multi"),
                put(api::update_smartspot_multi),
            )
            .route(
                &format!("{D}/smartspot-settings/{{imei}}"),
                get(api::get_smartspot),
            )
            .route(
                &format!("{D}/status"),
                get(api::possible_statuses).put(api::update_status),
            )
            .route(&format!("{D}/summerUsage"), put(api::update_summer_usage))
            .route(&format!("{D}/totals"), get(api::totals))
            .route(&format!("{D}/{{mdn}}/health"), get(api::health))
            .route("/sentinel/api/v1.0/auth/token", post(idp::password_token))
            .route_layer(middleware::from_fn_with_state(self.clone(), fault_layer));
        let rest = Router::new()
            .route(
                "/oauth/authorize",
                get(idp::authorize_page).post(idp::authorize_submit),
            )
            .route("/oauth/token", post(idp::token))
            .route("/oauth/revoke", post(idp::revoke))
            // The sign-in pages get the console's own headers (CSP, no framing, no-store).
            .layer(middleware::from_fn(crate::middleware::security_headers))
            .layer(middleware::from_fn_with_state(
                self.clone(),
                idp_form_action,
            ));
        // The sign-in page uses the console's stylesheet: a standalone simulator serves it too.
        let mut router = api
            .merge(rest)
            .nest(crate::assets::MOUNT, crate::assets::router());
        if self.inner.cfg.control_endpoints {
            router = router
                .route(
                    "/_sim/faults",
                    post(add_fault_http).delete(clear_faults_http),
                )
                .route(
                    "/_sim/requests",
                    get(requests_http).delete(clear_requests_http),
                );
        }
        let router = router.fallback(api::not_found);
        let router = if self.inner.cfg.control_endpoints {
            router.layer(middleware::from_fn_with_state(self.clone(), record_layer))
        } else {
            router
        };
        router.with_state(self.clone())
    }

    /// Adds a fault for `/sentinel/api/` requests.
    pub fn add_fault(&self, f: Fault) {
        lock(&self.inner.faults).push(f);
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Every recorded request, oldest first (the last 10,000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.log).iter().cloned().collect()
    }

    /// Only the `/sentinel/api/...` requests.
    pub fn api_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.log)
            .iter()
            .filter(|r| r.path.starts_with("/sentinel/api/"))
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.log).clear();
    }

    /// The current state of a line (for assertions), by MDN with or without dashes.
    pub fn device(&self, corp: &str, mdn: &str) -> Option<Device> {
        let world = lock(&self.inner.world);
        let g = world.group(corp)?;
        g.line(g.find_mdn(mdn)?).map(|l| l.to_device())
    }

    /// Makes Sentinel refuse writes to a line (by MDN) with `reason`, as a bulk answer's
    /// `failed` entry, or accept them again with `None` (tests). `false`: no such line.
    pub fn refuse_writes(&self, corp: &str, mdn: &str, reason: Option<&str>) -> bool {
        let mut world = lock(&self.inner.world);
        let Some(g) = world.group_mut(corp) else {
            return false;
        };
        let Some(id) = g.find_mdn(mdn) else {
            return false;
        };
        g.set_refusal(id, reason.map(str::to_owned));
        true
    }

    /// Sets a line's status as its list reads it (tests: a status such as `deactivated`, which
    /// Sentinel shows but its status operation does not take). `false`: no such line.
    pub fn set_status(&self, corp: &str, mdn: &str, status: &str) -> bool {
        let mut world = lock(&self.inner.world);
        let Some(g) = world.group_mut(corp) else {
            return false;
        };
        let Some(id) = g.find_mdn(mdn) else {
            return false;
        };
        let Some(mut line) = g.line(id) else {
            return false;
        };
        line.status = status.to_owned();
        g.set(id, line);
        true
    }

    /// An access token for a demo user without the OAuth dance (tests and benchmarks).
    pub fn issue_access_token(&self, user: &str) -> Option<String> {
        let u = idp::user(user)?;
        let pair = idp::issue_for(self, u.login);
        Some(pair)
    }
}

/// Records every request (except the control endpoints) before anything else looks at it.
async fn record_layer(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_sim/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return api::ApiErr::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            )
            .into_response();
        }
    };
    let header = |name: axum::http::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let rec = RecordedRequest {
        method: parts.method.to_string(),
        path,
        query: parts.uri.query().map(str::to_owned),
        authorization: header(axum::http::header::AUTHORIZATION),
        has_cookie: parts.headers.contains_key(axum::http::header::COOKIE),
        content_type: header(axum::http::header::CONTENT_TYPE),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    {
        let mut log = lock(&sim.inner.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(rec);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Applies the injected faults to API requests.
async fn fault_layer(State(sim): State<Simulator>, mut req: Request, next: Next) -> Response {
    let decision = {
        let mut faults = lock(&sim.inner.faults);
        faults::decide(
            &mut faults,
            req.method().as_str(),
            req.uri().path(),
            req.uri().query(),
        )
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(kind) = &decision.respond {
        return faults::response(kind);
    }
    if let Some(n) = decision.cut_csv {
        req.extensions_mut().insert(CsvCut(n));
    }
    let resp = next.run(req).await;
    if decision.cut_answer {
        return cut_answer(resp).await;
    }
    resp
}

/// The answer's head and the first half of its body, then a broken connection (the request
/// itself was handled: a write is applied).
async fn cut_answer(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    // Without a length the body is chunked, so the client sees it end too early.
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let half = bytes.slice(..bytes.len() / 2);
    // First the half, then (once) the break, then nothing.
    let body = futures::stream::unfold(Some(Some(half)), |left| async move {
        match left? {
            Some(half) => Some((Ok(half), Some(None))),
            None => {
                // Give the server time to flush the first half, so the client sees it break.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let cut = std::io::Error::other("connection cut by an injected fault");
                Some((Err::<Bytes, _>(cut), None))
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(body))
}

async fn add_fault_http(State(sim): State<Simulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(f) => {
            sim.add_fault(f);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => api::ApiErr::bad_request(format!("Not a fault: {e}")).into_response(),
    }
}

async fn clear_faults_http(State(sim): State<Simulator>) -> StatusCode {
    sim.clear_faults();
    StatusCode::NO_CONTENT
}

async fn requests_http(State(sim): State<Simulator>) -> axum::Json<Vec<RecordedRequest>> {
    axum::Json(sim.requests())
}

async fn clear_requests_http(State(sim): State<Simulator>) -> StatusCode {
    sim.clear_requests();
    StatusCode::NO_CONTENT
}

/// The sign-in form's answer redirects to the console's callback, which CSP `form-action`
/// governs too: allow exactly the callbacks this provider accepts (the registered ones, or any
/// loopback console when none is registered), and nothing else.
async fn idp_form_action(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let targets = if sim.inner.cfg.redirect_uris.is_empty() {
        "http://127.0.0.1:* http://localhost:*".to_owned()
    } else {
        sim.inner
            .cfg
            .redirect_uris
            .iter()
            .map(|u| u.origin().ascii_serialization())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let csp = crate::middleware::CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {targets}"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}
