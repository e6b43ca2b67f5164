//! Sentinel Console: a backend-for-frontend over the Kajeet Sentinel devices API.
//!
//! Where things live:
//! - [`config`]: environment variables (CONTRACT §3)
//! - [`startup`]: building and serving the application (assembles the routers)
//! - [`state`]: [`state::AppState`], shared by every handler
//! - [`domain`]: newtypes parsed at the edge
//! - [`policy`]: the one scope table
//! - [`portal`]: the self-service portal's look-up (identifiers typed or scanned)
//! - [`upstream`]: the Sentinel API client and its wire types
//! - [`auth`]: sign-in, sessions, token refresh, CSRF
//! - [`client_addr`]: the client's address (`TRUSTED_PROXIES` and `X-Forwarded-For`)
//! - [`routes`]: HTTP handlers, one module per area
//! - [`views`]: askama templates (page structs wrap fragment structs)
//! - [`error`]: the one `AppError`, rendered as a page or an htmx fragment
//! - [`paths`]: every console URL, built and percent-encoded in one place
//! - [`htmx`]: htmx requests and answers, through `axum-htmx`
//! - [`assets`]: static files, their versioned URLs and caching
//! - [`csv`]: CSV through the `csv` crate: safe cells and rows, streamed record transforms (guard, MDN filter)
//! - [`storage`]: the database (SQLite or PostgreSQL): sessions, audit log, jobs
//! - [`crypto`]: token encryption at rest
//! - [`simulator`]: the embedded Sentinel simulator and demo identity provider
//! - [`overview`]: the device group overview, aggregated from one streamed export
//! - [`import`]: batch update from an uploaded CSV: streaming parse, diff with the lines now, the plan
//! - [`middleware`]: security headers, request ids, logging
//! - [`outcome`]: the one outcome model (a line's, a change's)
//! - [`scheduler`]: due scheduled changes claimed across instances, expired requests
//! - [`metrics`]: Prometheus series and the `METRICS_BIND_ADDR` listener

pub mod actions;
pub mod assets;
pub mod auth;
pub mod client_addr;
pub mod config;
pub mod crypto;
pub mod csv;
pub mod domain;
pub mod error;
pub mod htmx;
pub mod identity;
pub mod import;
pub mod metrics;
pub mod middleware;
pub mod outcome;
pub mod overview;
pub mod paths;
pub mod policy;
pub mod portal;
pub mod routes;
pub mod scheduler;
pub mod simulator;
pub mod startup;
pub mod state;
pub mod storage;
pub mod upstream;
pub mod usage;
pub mod views;
