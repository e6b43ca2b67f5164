//! Prometheus metrics: what is counted, the HTTP layer that counts requests, and the `/metrics` listener.
//!
//! Series (all prefixed `sentinel_console_`): requests by route template (never the raw path) and
//! status with latency; upstream calls by Sentinel operation and status with latency; changes and
//! their lines by outcome; session records and database pool use, read on each scrape. Recorded
//! always (cheap); served only on `METRICS_BIND_ADDR`, never on the public listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::storage::Db;
use crate::storage::audit::NewAuditRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    operation: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    action: String,
    /// `single` (one upstream call from the request) or `job` (chunked, in the background).
    mode: &'static str,
    /// The audit outcome: `ok`, `partial`, `failed`, `refused`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineLabels {
    action: String,
    /// `changed`, `failed` or `unknown`.
    outcome: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;
type UpstreamLatency = Family<OperationLabels, Histogram, fn() -> Histogram>;

/// Latency buckets, seconds: 5 ms to about 41 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every series of one console process (or of one console in a test process: no globals).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Latency,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_latency: UpstreamLatency,
    changes: Family<ChangeLabels, Counter>,
    change_lines: Family<LineLabels, Counter>,
    sessions: Gauge,
    db_pool_size: Gauge,
    db_pool_idle: Gauge,
    db_pool_max: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sentinel_console");
        let m = Self {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency_histogram),
            upstream_requests: Family::default(),
            upstream_latency: Family::new_with_constructor(latency_histogram),
            changes: Family::default(),
            change_lines: Family::default(),
            sessions: Gauge::default(),
            db_pool_size: Gauge::default(),
            db_pool_idle: Gauge::default(),
            db_pool_max: Gauge::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to the response head), by method and route template",
            m.http_latency.clone(),
        );
        registry.register(
            "upstream_requests",
            "Calls to the Sentinel API, by operation and status (an HTTP status, or timeout, connect, body)",
            m.upstream_requests.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Time to the Sentinel API's answer (its head), by operation",
            m.upstream_latency.clone(),
        );
        registry.register(
            "changes",
            "Changes finished (one per apply, a job counting once), by action, mode and outcome",
            m.changes.clone(),
        );
        registry.register(
            "change_lines",
            "Lines of finished changes, by action and outcome (changed, failed, unknown)",
            m.change_lines.clone(),
        );
        registry.register(
            "sessions_active",
            "Unexpired session records in the session store (read on scrape)",
            m.sessions.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool: open connections (read on scrape)",
            m.db_pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Database pool: idle connections (read on scrape)",
            m.db_pool_idle.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Database pool: most connections it opens",
            m.db_pool_max.clone(),
        );
        Self { registry, ..m }
    }

    /// One answered HTTP request.
    pub fn http(&self, method: &Method, route: String, status: StatusCode, took: Duration) {
        let method = method_label(method);
        self.http_latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// One upstream call, labelled by its HTTP status, or `timeout`, `connect`, `body` without one.
    pub fn upstream(&self, operation: &'static str, status: String, took: Duration) {
        self.upstream_latency
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
        self.upstream_requests
            .get_or_create(&UpstreamLabels { operation, status })
            .inc();
    }

    /// A finished change (a single apply or a whole job), from its audit record.
    /// `chunk_size`: the most lines one upstream call carries (more made it a job).
    pub fn change_finished(&self, rec: &NewAuditRecord, chunk_size: usize) {
        // Every change has a change set id now; "job" means more than one upstream call.
        let chunked = rec.selection.get("mdns").is_some()
            && usize::try_from(rec.line_count).unwrap_or(0) > chunk_size;
        let mode = if chunked { "job" } else { "single" };
        self.changes
            .get_or_create(&ChangeLabels {
                action: rec.action.clone(),
                mode,
                outcome: rec.outcome.as_str().to_owned(),
            })
            .inc();
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let (changed, failed) = (n(rec.updated), n(rec.failed));
        let mut unknown = n(rec.unknown);
        // A bulk selection whose call failed ambiguously lists no line: all of them are unknown.
        if rec.result.get("unknownAll") == Some(&serde_json::Value::Bool(true)) {
            unknown = unknown.max(n(rec.line_count).saturating_sub(changed + failed));
        }
        for (outcome, count) in [
            ("changed", changed),
            ("failed", failed),
            ("unknown", unknown),
        ] {
            self.change_lines
                .get_or_create(&LineLabels {
                    action: rec.action.clone(),
                    outcome,
                })
                .inc_by(count);
        }
    }

    /// The text exposition, after reading the values taken on scrape from `db`.
    pub async fn render(&self, db: &Db) -> String {
        match db.count_active_sessions().await {
            Ok(n) => {
                self.sessions.set(n);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: sessions could not be counted"),
        }
        let (size, idle, max) = db.pool_use();
        self.db_pool_size.set(i64::from(size));
        self.db_pool_idle
            .set(i64::try_from(idle).unwrap_or(i64::MAX));
        self.db_pool_max.set(i64::from(max));
        let mut out = String::new();
        if let Err(e) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        out
    }
}

/// The Sentinel operation of a write, from its path below `/devices/{corpId}/`.
pub fn write_operation(tail: &[&str]) -> &'static str {
    match tail.first().copied().unwrap_or_default() {
        "status" => "update_status",
        "nickname" => "update_nickname",
        "note" => "update_note",
        "filterGroup" => "update_filter_group",
        "deviceGroup" => "update_device_group",
        "dataLimits" => "update_data_limits",
        "summerUsage" => "update_summer_usage",
        "mdnCustomField" => "update_mdn_custom_field",
        "imei" => "update_imei",
        "bulkDeleteLabels" => "bulk_delete_labels",
        "smartspot-settings" => "update_smartspot_settings",
        "smartspot-settings-multi" => "update_smartspot_settings_multi",
        _ => "other_write",
    }
}

/// Standard methods by name; anything else as `other` (bounded label values).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route label: the matched template (`/devices/{corpId}`), `unmatched` for a 404 fallback.
fn route_label(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None if req.uri().path().starts_with("/static/") => "/static".to_owned(),
        None => "unmatched".to_owned(),
    }
}

/// Middleware: counts each request by its route template and status, with its latency.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let (method, route) = (req.method().clone(), route_label(&req));
    let start = Instant::now();
    let resp = next.run(req).await;
    m.http(&method, route, resp.status(), start.elapsed());
    resp
}

#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    db: Db,
}

async fn scrape(State(s): State<Scrape>) -> impl IntoResponse {
    let body = s.metrics.render(&s.db).await;
    (
        [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
        body,
    )
}

/// Binds `addr` and serves `GET /metrics` there (its own listener, nothing else on it).
/// Returns the bound address (a `:0` port resolved).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>, db: Db) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(Scrape { metrics, db });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    tracing::info!(%bound, "metrics at http://{bound}/metrics");
    Ok(bound)
}
