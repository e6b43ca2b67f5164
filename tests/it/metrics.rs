//! Prometheus metrics on `METRICS_BIND_ADDR`: the series a list request, a change and a job leave,
//! their labels (route templates, operations, outcomes), and that nothing is served without it or
//! on the public listener.

use crate::helpers::*;

use std::net::SocketAddr;
use std::time::Duration;

use sentinel_console::simulator::{Fault, FaultKind};
use sentinel_console::startup::Application;

const CORP: &str = "NORTHSTAR-ISD";

/// A console with `METRICS_BIND_ADDR` on a random loopback port, and where its metrics are.
async fn spawn_with_metrics() -> (TestApp, SocketAddr) {
    spawn_with_metrics_on(&sqlite_url()).await
}

async fn spawn_with_metrics_on(db: &str) -> (TestApp, SocketAddr) {
    let sim = spawn_sim(default_sim_config()).await;
    let mut cfg = config_for(&sim, db);
    cfg.metrics_bind_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = Application::build(cfg).await.expect("build console");
    let metrics = app.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics, app.local_addr(), "metrics have their own listener");
    (run_console(sim, app), metrics)
}

async fn scrape(addr: SocketAddr) -> String {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let ct = header(&resp, "content-type");
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    resp.text().await.expect("body")
}

/// The value of the series named exactly `series` (name and labels as exposed), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn must(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// Sum of every series of `name` whose labels contain all of `labels`.
fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Posts a change with a fresh CSRF token; its status.
async fn post_change(app: &TestApp, action: &str, corp: &str, form: &[(&str, &str)]) -> u16 {
    let csrf = app.csrf().await;
    app.post_action(corp, action, form, &csrf)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn requests_upstream_calls_changes_and_sessions_are_counted() {
    let (app, metrics) = spawn_with_metrics().await;
    app.sign_in("tech").await;
    assert_eq!(app.get(&format!("/devices/{CORP}")).await.status(), 200);
    assert_eq!(
        app.get(&format!("/devices/{CORP}?limit=25")).await.status(),
        200
    );
    // A partial change: one line changed, one unknown to Sentinel (failed).
    let status = post_change(
        &app,
        "note",
        CORP,
        &[
            ("mdns", "521-267-1508"),
            ("mdns", "555-000-0000"),
            ("note", "metrics"),
            ("confirmed", "true"),
        ],
    )
    .await;
    assert_eq!(
        status, 303,
        "a confirmed change answers with its change set"
    );
    // A change whose answer is lost (Sentinel 503): its line is unknown.
    app.sim.sim.add_fault(Fault {
        times: Some(1),
        path_contains: Some("/nickname".into()),
        ..Fault::always(FaultKind::Status(503))
    });
    let status = post_change(
        &app,
        "nickname",
        CORP,
        &[
            ("mdns", "521-267-1508"),
            ("nickname", "m"),
            ("confirmed", "true"),
        ],
    )
    .await;
    assert_eq!(status, 303, "the answer was lost; the change set says so");

    let text = scrape(metrics).await;
    // Requests by route template and status: never the raw path.
    assert!(
        must(
            &text,
            r#"sentinel_console_http_requests_total{method="GET",route="/devices/{corp_id}",status="200"}"#
        ) >= 2.0
    );
    assert!(
        !text.contains(CORP),
        "a raw path (or a device group) reached a label"
    );
    assert!(
        must(
            &text,
            r#"sentinel_console_http_request_duration_seconds_count{method="GET",route="/devices/{corp_id}"}"#
        ) >= 2.0
    );
    let le_inf = must(
        &text,
        r#"sentinel_console_http_request_duration_seconds_bucket{method="GET",route="/devices/{corp_id}",le="+Inf"}"#,
    );
    assert!(le_inf >= 2.0);
    assert!(
        must(
            &text,
            r#"sentinel_console_http_request_duration_seconds_sum{method="GET",route="/devices/{corp_id}"}"#
        ) > 0.0
    );
    assert!(
        sum(
            &text,
            "sentinel_console_http_requests_total",
            &[
                r#"route="/devices/{corp_id}/actions/{action}""#,
                r#"method="POST""#
            ]
        ) >= 2.0
    );

    // Upstream calls by operation and status, matching what reached the simulator.
    let log = app.sim.sim.api_requests();
    let lists = log
        .iter()
        // Every group's list (the group picker asks each group for its line count).
        .filter(|r| r.method == "GET" && r.path.rsplit('/').nth(1) == Some("devices"))
        // Exports (a change's before-values) are counted as `list_devices_csv`.
        .filter(|r| {
            !r.query
                .as_deref()
                .unwrap_or_default()
                .contains("export=CSV")
        })
        .count() as f64;
    assert!(lists >= 2.0);
    assert_eq!(
        sum(
            &text,
            "sentinel_console_upstream_requests_total",
            &[r#"operation="list_devices""#]
        ),
        lists
    );
    assert!(
        must(
            &text,
            r#"sentinel_console_upstream_requests_total{operation="list_devices",status="200"}"#
        ) >= 1.0
    );
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_upstream_requests_total{operation="update_note",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_upstream_requests_total{operation="update_nickname",status="503"}"#
        ),
        1.0
    );
    assert!(
        must(
            &text,
            r#"sentinel_console_upstream_request_duration_seconds_count{operation="list_devices"}"#
        ) >= lists
    );

    // Changes and their lines by outcome.
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_changes_total{action="note",mode="single",outcome="partial"}"#
        ),
        1.0
    );
    for (outcome, n) in [("changed", 1.0), ("failed", 1.0), ("unknown", 0.0)] {
        assert_eq!(
            must(
                &text,
                &format!(
                    r#"sentinel_console_change_lines_total{{action="note",outcome="{outcome}"}}"#
                )
            ),
            n,
            "{outcome}"
        );
    }
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_change_lines_total{action="nickname",outcome="unknown"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_change_lines_total{action="nickname",outcome="changed"}"#
        ),
        0.0
    );

    // Sessions and the database pool, read on scrape.
    assert!(must(&text, "sentinel_console_sessions_active") >= 1.0);
    assert!(must(&text, "sentinel_console_db_pool_connections") >= 1.0);
    assert!(
        must(&text, "sentinel_console_db_pool_idle_connections")
            <= must(&text, "sentinel_console_db_pool_connections")
    );
    assert_eq!(must(&text, "sentinel_console_db_pool_max_connections"), 8.0);

    // A second browser signs in: one more session.
    let before = must(&text, "sentinel_console_sessions_active");
    let _other = app.session_as("readonly").await;
    let text = scrape(metrics).await;
    assert!(must(&text, "sentinel_console_sessions_active") > before);

    // Never on the public listener.
    assert_eq!(app.get("/metrics").await.status(), 404);
    let text = scrape(metrics).await;
    assert!(
        must(
            &text,
            r#"sentinel_console_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ) >= 1.0
    );
}

#[tokio::test]
async fn a_job_counts_once_with_all_its_lines() {
    let (app, metrics) = spawn_with_metrics().await;
    app.sign_in("super").await;
    let html = app.get_text("/devices/FLEET-LARGE?limit=500").await;
    let mut lines = list_mdns(&html);
    assert_eq!(lines.len(), 500);
    lines.push("555-000-0001".into()); // unknown to Sentinel: one failed line, two chunks
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("note", "job"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    assert_eq!(post_change(&app, "note", "FLEET-LARGE", &form).await, 303);
    let series = r#"sentinel_console_changes_total{action="note",mode="job",outcome="partial"}"#;
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(metrics).await;
        if value(&text, series).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(must(&text, series), 1.0);
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_change_lines_total{action="note",outcome="changed"}"#
        ),
        500.0
    );
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_change_lines_total{action="note",outcome="failed"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &text,
            r#"sentinel_console_upstream_requests_total{operation="update_note",status="200"}"#
        ),
        2.0,
        "one call per chunk"
    );
}

#[tokio::test]
async fn sessions_and_pool_are_read_from_postgresql_too() {
    let (app, metrics) = spawn_with_metrics_on(&postgres_url().await).await;
    let text = scrape(metrics).await;
    assert_eq!(must(&text, "sentinel_console_sessions_active"), 0.0);
    assert_eq!(
        must(&text, "sentinel_console_db_pool_max_connections"),
        16.0
    );
    app.sign_in("tech").await;
    let text = scrape(metrics).await;
    assert!(must(&text, "sentinel_console_sessions_active") >= 1.0);
    assert!(must(&text, "sentinel_console_db_pool_connections") >= 1.0);
}

#[tokio::test]
async fn no_metrics_listener_without_metrics_bind_addr() {
    let sim = spawn_sim(default_sim_config()).await;
    let cfg = config_for(&sim, &sqlite_url());
    assert!(cfg.metrics_bind_addr.is_none());
    let app = Application::build(cfg).await.expect("build console");
    assert_eq!(app.metrics_addr(), None);
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    let r = reqwest::get(format!("{base}/metrics")).await.expect("get");
    assert_eq!(r.status(), 404);
}
