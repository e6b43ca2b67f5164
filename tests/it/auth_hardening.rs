//! Issue 12 items 4–7 (sign-in side): roles rebuilt at refresh, tokens encrypted at rest,
//! revocation at every end of a session, no anonymous sign-in, one key per database
//! (password throttling: `password_sign_in.rs`).

use crate::helpers::*;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sentinel_console::config::{Config, IdentityConfig, OAuthEndpoints};
use sentinel_console::simulator::SimConfig;
use url::Url;

const CORP: &str = "NORTHSTAR-ISD";
const LIST: &str = "/devices/NORTHSTAR-ISD";

/// What the test token endpoint does to the simulator's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Twist {
    /// Pass through.
    None,
    /// Refreshed tokens carry only `readonly` (a role removed at the identity provider).
    RefreshReadonly,
    /// Refresh is refused (`invalid_grant`).
    RefuseRefresh,
    /// The code exchange names nobody (no `sub`, no `email`).
    Anonymous,
}

#[derive(Clone)]
struct Proxy {
    sim_token_url: String,
    twist: Arc<Mutex<Twist>>,
    http: reqwest::Client,
}

/// A token endpoint in front of the simulator's, twisting its answers on demand.
async fn token_proxy(State(p): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
    let twist = *p.twist.lock().unwrap();
    let text = String::from_utf8_lossy(&body).into_owned();
    let refresh = text.contains("grant_type=refresh_token");
    if refresh && twist == Twist::RefuseRefresh {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let mut rb = p.http.post(&p.sim_token_url).body(body.to_vec());
    for h in ["content-type", "authorization", "accept"] {
        if let Some(v) = headers.get(h) {
            rb = rb.header(h, v.clone());
        }
    }
    let resp = rb.send().await.expect("simulator token endpoint");
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut json: serde_json::Value = resp.json().await.expect("token json");
    if let Some(obj) = json.as_object_mut() {
        if refresh && twist == Twist::RefreshReadonly && obj.contains_key("access_token") {
            obj.insert("scope".into(), "readonly".into());
        }
        if !refresh && twist == Twist::Anonymous {
            obj.remove("sub");
            obj.remove("email");
        }
    }
    (status, axum::Json(json)).into_response()
}

/// A console whose token endpoint is the twisting proxy in front of the simulator.
async fn app_with_proxy(
    sim_cfg: SimConfig,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, Arc<Mutex<Twist>>) {
    let sim = spawn_sim(sim_cfg).await;
    let twist = Arc::new(Mutex::new(Twist::None));
    let proxy = Proxy {
        sim_token_url: sim.url("/oauth/token"),
        twist: twist.clone(),
        http: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/oauth/token", axum::routing::post(token_proxy))
        .with_state(proxy);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut cfg = config_for(&sim, &sqlite_url());
    if let IdentityConfig::OAuth(o) = &mut cfg.identity {
        if let OAuthEndpoints::Manual { token_url, .. } = &mut o.endpoints {
            *token_url = Url::parse(&format!("http://{proxy_addr}/oauth/token")).unwrap();
        }
    }
    tweak(&mut cfg);
    (spawn_console(sim, cfg).await, twist)
}

fn short_tokens() -> SimConfig {
    SimConfig {
        token_ttl: Duration::from_secs(2),
        ..default_sim_config()
    }
}

/// The access token the console last sent upstream.
fn last_bearer(app: &TestApp) -> String {
    app.sim
        .sim
        .api_requests()
        .iter()
        .rev()
        .find_map(|r| r.authorization.clone())
        .and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .expect("an upstream call with a token")
}

/// Bodies of the revocation requests the simulator received.
fn revocations(app: &TestApp) -> Vec<String> {
    app.sim
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/oauth/revoke")
        .map(|r| r.body)
        .collect()
}

/// Waits (up to 3 s) for a revocation of `token`.
async fn revoked(app: &TestApp, token: &str) -> bool {
    for _ in 0..30 {
        if revocations(app).iter().any(|b| b.contains(token)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn is_sign_in_redirect(r: &reqwest::Response) -> bool {
    r.status().is_redirection()
        && r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.contains("/login"))
}

#[tokio::test]
async fn a_role_removed_at_the_provider_stops_at_the_next_refresh() {
    let (app, twist) = app_with_proxy(short_tokens(), |_| {}).await;
    app.sign_in("tech").await;
    assert_eq!(app.get(LIST).await.status(), 200);
    *twist.lock().unwrap() = Twist::RefreshReadonly;
    // Past the refresh point (half of the 2 s lifetime): the next request refreshes.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let csrf = app.csrf().await;
    app.sim.sim.clear_requests();
    let r = app
        .post_form(
            &format!("/devices/{CORP}/actions/status"),
            &[
                ("mdns", "521-267-1508"),
                ("status", "SUSPENDED"),
                ("confirmed", "true"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    // Readonly now: the change is no longer applied — at most requested (and without a reason,
    // not even that).
    assert_eq!(r.status(), 400, "the org_tech role was removed");
    assert!(r.text().await.unwrap().contains("Say why you ask"));
    // At most the read that names the selected line; no change.
    assert!(
        app.sim.sim.api_requests().iter().all(|r| r.method == "GET"),
        "no change reached the upstream: {:?}",
        app.sim.sim.api_requests()
    );
}

#[tokio::test]
async fn a_provider_that_names_nobody_signs_nobody_in() {
    let (app, twist) = app_with_proxy(default_sim_config(), |_| {}).await;
    *twist.lock().unwrap() = Twist::Anonymous;
    let r = app.sign_in_to("tech", "/").await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("did not say who you are"), "{html}");
    assert!(is_sign_in_redirect(&app.get(LIST).await), "not signed in");
    // The tokens it did hand out are revoked.
    assert!(
        !revocations(&app).is_empty() || {
            tokio::time::sleep(Duration::from_millis(500)).await;
            !revocations(&app).is_empty()
        }
    );
}

#[tokio::test]
async fn a_failed_refresh_signs_out_and_revokes() {
    let (app, twist) = app_with_proxy(short_tokens(), |_| {}).await;
    app.sign_in("tech").await;
    assert_eq!(app.get(LIST).await.status(), 200);
    let token = last_bearer(&app);
    *twist.lock().unwrap() = Twist::RefuseRefresh;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(is_sign_in_redirect(&app.get(LIST).await));
    assert!(revoked(&app, &token).await, "{:?}", revocations(&app));
}

#[tokio::test]
async fn the_absolute_lifetime_revokes() {
    let (app, _) = app_with_proxy(default_sim_config(), |c| {
        c.session_absolute = Duration::from_secs(2);
    })
    .await;
    app.sign_in("tech").await;
    assert_eq!(app.get(LIST).await.status(), 200);
    let token = last_bearer(&app);
    assert!(!revocations(&app).iter().any(|b| b.contains(&token)));
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let before = revocations(&app).len();
    assert!(is_sign_in_redirect(&app.get(LIST).await));
    assert!(revoked(&app, &token).await, "{:?}", revocations(&app));
    assert!(revocations(&app).len() > before);
}

#[tokio::test]
async fn the_idle_expiry_revokes_when_expired_sessions_are_swept() {
    idle_expiry_revokes(sqlite_url()).await;
}

#[tokio::test]
async fn the_idle_expiry_revokes_when_expired_sessions_are_swept_postgres() {
    idle_expiry_revokes(postgres_url().await).await;
}

async fn idle_expiry_revokes(database_url: String) {
    let (app, _) = app_with_proxy(default_sim_config(), |c| {
        c.session_idle = Duration::from_secs(3);
        c.database_url = database_url;
    })
    .await;
    app.sign_in("tech").await;
    assert_eq!(app.get(LIST).await.status(), 200);
    let token = last_bearer(&app);
    assert_eq!(app.state.auth.sweep_expired().await, 0, "not yet expired");
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert_eq!(app.state.auth.sweep_expired().await, 1);
    assert!(revoked(&app, &token).await, "{:?}", revocations(&app));
    assert!(is_sign_in_redirect(&app.get(LIST).await));
}

/// Every session row's raw bytes, read from the database itself.
async fn raw_session_rows(database_url: &str) -> Vec<Vec<u8>> {
    if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query_scalar(r#"select data from "tower_sessions"."session""#)
            .fetch_all(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query_scalar("select data from tower_sessions")
            .fetch_all(&pool)
            .await
            .unwrap()
    }
}

async fn tokens_are_sealed_in(database_url: String) {
    let sim = spawn_sim(default_sim_config()).await;
    let cfg = config_for(&sim, &database_url);
    let app = spawn_console(sim, cfg).await;
    app.sign_in("tech").await;
    assert_eq!(app.get(LIST).await.status(), 200);
    let token = last_bearer(&app);
    let rows = raw_session_rows(&database_url).await;
    assert!(!rows.is_empty());
    for row in &rows {
        let text = String::from_utf8_lossy(row);
        assert!(!text.contains(&token), "access token in clear");
        assert!(
            !text.contains("org_tech") && !text.contains("refresh"),
            "{text}"
        );
        assert!(text.contains("v2."), "sealed value: {text}");
    }
}

#[tokio::test]
async fn tokens_are_encrypted_at_rest_sqlite() {
    tokens_are_sealed_in(sqlite_url()).await;
}

#[tokio::test]
async fn tokens_are_encrypted_at_rest_postgres() {
    tokens_are_sealed_in(postgres_url().await).await;
}

#[cfg(unix)]
#[tokio::test]
async fn database_and_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "{path}");
    let key = sentinel_console::crypto::key_file_path(&Config::for_tests("x").data_dir);
    assert_eq!(mode(key.to_str().unwrap()), 0o600);
}

#[tokio::test]
async fn a_bad_key_is_a_clear_startup_error() {
    let err = sentinel_console::crypto::TokenCipher::from_config(
        Some("c2hvcnQ="),
        std::path::Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("TOKEN_ENCRYPTION_KEY") && err.contains("32 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn another_key_on_the_same_database_refuses_to_start() {
    use base64::Engine;
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let database_url = sqlite_url();
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, &database_url);
    cfg.token_encryption_key = Some(b64(1).into());
    let a = spawn_console(sim, cfg).await;
    a.sign_in("tech").await;
    assert_eq!(a.get(LIST).await.status(), 200);
    // Same database, another key: it would read every session as signed out. It stops instead.
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, &database_url);
    cfg.token_encryption_key = Some(b64(2).into());
    let err = match sentinel_console::startup::Application::build(cfg).await {
        Ok(_) => panic!("started with another key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("TOKEN_ENCRYPTION_KEY does not match"), "{err}");
    assert!(sim.sim.api_requests().is_empty());
    assert_eq!(a.get(LIST).await.status(), 200);
}

/// A role removed while a long change runs: the chunks sent after the next refresh are refused
/// by the console itself (the roles of the latest token are checked per chunk), never sent, and
/// every line is still accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_removed_mid_change_stops_the_chunks_after_the_refresh() {
    use sentinel_console::simulator::{Fault, FaultKind};
    let sim_cfg = SimConfig {
        token_ttl: Duration::from_secs(2),
        large_group_size: 5_200,
        ..default_sim_config()
    };
    let (app, twist) = app_with_proxy(sim_cfg, |_| {}).await;
    app.sign_in("super").await;
    let mut mdns: Vec<String> = Vec::new();
    for offset in (0..5_000).step_by(500) {
        let html = app
            .get_text(&format!("/devices/FLEET-LARGE?limit=500&offset={offset}"))
            .await;
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("table#devices tbody tr").unwrap();
        mdns.extend(
            doc.select(&sel)
                .filter_map(|tr| tr.value().attr("data-mdn").map(str::to_owned)),
        );
    }
    assert_eq!(mdns.len(), 5_000);
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Latency(Duration::from_millis(1_000)),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: None,
    });
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", "Room 12"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
        ("csrf_token", csrf.as_str()),
    ]);
    app.sim.sim.clear_requests();
    let r = app
        .post_form("/devices/FLEET-LARGE/actions/nickname", &form)
        .await;
    assert_eq!(r.status(), 303);
    *twist.lock().unwrap() = Twist::RefreshReadonly;
    let id: uuid::Uuid = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap();
    let db = sentinel_console::storage::Db::connect(&app.database_url)
        .await
        .unwrap();
    let mut done = false;
    for _ in 0..300 {
        if db.job_get(id).await.unwrap().unwrap().state.is_finished() {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the job finished");
    let chunks = db.job_chunks(id).await.unwrap();
    let lines: usize = chunks
        .iter()
        .map(|c| {
            usize::try_from(c.outcome.updated).unwrap()
                + c.outcome.failed.len()
                + c.outcome.unknown.len()
        })
        .sum();
    assert_eq!(lines, 5_000, "every line accounted for");
    let sent = app
        .sim
        .sim
        .api_requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/nickname"))
        .count();
    let refused = chunks
        .iter()
        .filter(|c| c.outcome.upstream_status == Some(403) && c.outcome.failed.len() == 500)
        .count();
    assert!(sent < 10, "chunks after the role was removed were sent");
    // Chunks in their call when the role went may be refused by Sentinel itself (403, sent);
    // every other chunk is refused by the console before it is sent. None is lost.
    let changed = chunks.iter().filter(|c| c.outcome.updated == 500).count();
    assert!(refused >= 10 - sent, "the chunks not sent were refused");
    assert_eq!(changed + refused, 10, "every chunk changed or refused");
    assert!(
        chunks
            .iter()
            .filter(|c| c.outcome.upstream_status == Some(403))
            .all(|c| c
                .outcome
                .failed
                .iter()
                .all(|f| f.reason.contains("read-only"))),
        "the refusal says why"
    );
}

/// Issue 22 finding 9: an approval or a rejection is decided with the approver's roles as the
/// identity provider grants them now, not as their (still valid) access token said an hour ago.
#[tokio::test]
async fn an_approver_whose_role_was_removed_at_the_provider_is_refused_on_approve_and_reject() {
    // Tokens that stay valid for an hour: only a fresh look at the provider notices the change.
    let (app, twist) = app_with_proxy(default_sim_config(), |_| {}).await;
    let reader = app.session_as("readonly").await;
    let csrf = reader.csrf().await;
    let resp = reader
        .post_form(
            &format!("/devices/{CORP}/actions/status"),
            &[
                ("mdns", "521-267-1508"),
                ("status", "SUSPENDED"),
                ("reason", "Lost on the bus"),
                ("confirmed", "true"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303, "a request is stored");
    let id = change_id_of(&resp);
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    // Before the role is removed the approver sees the preview.
    let preview = app
        .post_csrf(&format!("/changes/{id}/approve"), &csrf)
        .await;
    assert_eq!(preview.status(), 200);
    // The provider now grants tech only `readonly`.
    *twist.lock().unwrap() = Twist::RefreshReadonly;
    app.sim.sim.clear_requests();
    let approve = app
        .post_form(
            &format!("/changes/{id}/approve"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(
        approve.status(),
        403,
        "approving needs the role granted now"
    );
    let reject = app
        .post_form(
            &format!("/changes/{id}/reject"),
            &[("csrf_token", csrf.as_str()), ("reason", "Not now")],
        )
        .await;
    assert_eq!(reject.status(), 403, "rejecting needs the role granted now");
    let c = app.state.db.change_get(id).await.unwrap().unwrap();
    assert_eq!(
        c.state,
        sentinel_console::storage::changes::ChangeState::AwaitingApproval
    );
    assert!(
        app.sim.sim.api_requests().iter().all(|r| r.method == "GET"),
        "nothing written: {:?}",
        app.sim.sim.api_requests()
    );
}
