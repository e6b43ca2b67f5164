//! The fleet's history (issue 24): tracking, samples taken once per interval across instances,
//! day rows equal to the simulator's usage changes, billing-cycle resets, failed samples, the
//! kept sign-in refused and resumed, idle lines → suspend → revert, proof of use, drift.

use std::collections::BTreeSet;
use std::time::Duration;

use sentinel_console::simulator::{Fault, FaultKind};
use sentinel_console::storage::Db;
use sentinel_console::storage::usage::Tracking;

use crate::helpers::*;

/// The 24-line group the tests track.
const HS: &str = "NORTHSTAR-ISD-HS";

async fn tracked_app() -> TestApp {
    tracked_app_with(|_| {}).await
}

async fn tracked_app_with(tweak: impl FnOnce(&mut sentinel_console::config::Config)) -> TestApp {
    let app = spawn_app_with(default_sim_config(), |cfg| {
        cfg.usage.sample_every = Duration::from_secs(1);
        tweak(cfg);
    })
    .await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let resp = start(&app.session, &csrf).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/devices/{HS}/usage"));
    app
}

async fn start(s: &Session, csrf: &str) -> reqwest::Response {
    s.post_form(
        &format!("/devices/{HS}/tracking"),
        &[("enabled", "true"), ("csrf_token", csrf)],
    )
    .await
}

async fn tracking(db: &Db) -> Tracking {
    db.usage_tracking(HS).await.expect("read").expect("tracked")
}

/// Waits until the group has `n` good samples more than `after` (at most 20 s).
async fn good_samples(db: &Db, n: usize) {
    for _ in 0..200 {
        let t = tracking(db).await;
        let s = db.usage_samples(t.gid, 1000).await.expect("samples");
        if s.iter().filter(|s| s.ok).count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} good samples within 20 s");
}

async fn sample_count(db: &Db) -> (usize, usize) {
    let t = tracking(db).await;
    let s = db.usage_samples(t.gid, 1000).await.expect("samples");
    (
        s.iter().filter(|s| s.ok).count(),
        s.iter().filter(|s| !s.ok).count(),
    )
}

/// The group's MDNs (dashed), from the simulator.
async fn hs_mdns(app: &TestApp) -> Vec<String> {
    let html = app.get_text(&format!("/devices/{HS}?limit=100")).await;
    list_mdns(&html)
}

/// The proof of use CSV's rows by MDN.
async fn proof(app: &TestApp) -> Vec<Vec<String>> {
    let resp = app.get(&format!("/devices/{HS}/usage.csv")).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-disposition").contains("attachment"));
    let text = resp.text().await.expect("csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("MDN,NICKNAME,DAYS_USED,USAGE_MB,FIRST_USED,LAST_USED,DAYS_SAMPLED")
    );
    lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], mdn: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == mdn)
        .unwrap_or_else(|| panic!("{mdn} in the proof of use"))
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[tokio::test]
async fn day_rows_equal_the_simulators_usage_changes_with_a_billing_cycle_reset() {
    let app = tracked_app().await;
    let db = app.state.db.clone();
    good_samples(&db, 2).await;
    let mdns = hs_mdns(&app).await;
    let (a, b) = (mdns[0].clone(), mdns[1].clone());
    assert!(app.sim.sim.add_usage(HS, &a, 10.0));
    // B's billing cycle starts again, then it uses 5 MB: the new value counts.
    assert!(app.sim.sim.new_billing_cycle(HS, &b));
    assert!(app.sim.sim.add_usage(HS, &b, 5.0));
    let (ok, _) = sample_count(&db).await;
    good_samples(&db, ok + 1).await;
    assert!(app.sim.sim.add_usage(HS, &a, 2.5));
    let (ok, _) = sample_count(&db).await;
    good_samples(&db, ok + 2).await;

    let rows = proof(&app).await;
    assert_eq!(rows.len(), mdns.len(), "one row per line");
    let day = today();
    assert_eq!(row(&rows, &a)[2..], ["1", "12.50", &day, &day, "1"]);
    assert_eq!(row(&rows, &b)[2..], ["1", "5.00", &day, &day, "1"]);
    assert_eq!(row(&rows, &mdns[2])[2..], ["0", "0.00", "", "", "1"]);

    // The page shows the day's total and the per-filter-group sums.
    let page = app.get_text(&format!("/devices/{HS}/usage")).await;
    let cells = texts(&page, &format!("#usage-table tr[data-day=\"{day}\"] td"));
    assert_eq!(cells[0], "17.50 MB", "{page:.3000}");
    assert_eq!(cells[1], format!("2 of {}", mdns.len()));
    assert!(!texts(&page, "#proof-table tbody tr").is_empty());
}

#[tokio::test]
async fn failed_samples_are_recorded_as_failed_and_followed_by_good_ones() {
    let app = tracked_app().await;
    let db = app.state.db.clone();
    good_samples(&db, 1).await;
    for kind in [
        FaultKind::Status(500),
        FaultKind::RateLimited { retry_after: 1 },
        FaultKind::CutCsvAfterRows(5),
    ] {
        let (ok, failed) = sample_count(&db).await;
        app.sim.sim.add_fault(Fault {
            kind: kind.clone(),
            path_contains: Some(format!("/devices/{HS}")),
            method: Some("GET".into()),
            times: Some(1),
        });
        good_samples(&db, ok + 1).await;
        let (_, now_failed) = sample_count(&db).await;
        assert_eq!(
            now_failed,
            failed + 1,
            "{kind:?} recorded as one failed sample"
        );
    }
    let t = tracking(&db).await;
    let samples = db.usage_samples(t.gid, 100).await.expect("samples");
    let failed: Vec<_> = samples.iter().filter(|s| !s.ok).collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|s| s.lines == 0 && s.message.is_some()));
    assert!(samples[0].ok, "the last sample is a good one");
    // Nothing was stored as zeros: the lines' latest values are the simulator's.
    let latest = db.usage_latest(t.gid).await.expect("latest");
    assert_eq!(latest.len(), hs_mdns(&app).await.len());
    let page = app.get_text(&format!("/devices/{HS}/usage")).await;
    assert_eq!(
        texts(&page, "#samples tr.sample-failed").len(),
        3,
        "{page:.2000}"
    );
}

#[tokio::test]
async fn a_refused_sign_in_pauses_tracking_until_it_is_resumed() {
    let app = tracked_app().await;
    let db = app.state.db.clone();
    good_samples(&db, 1).await;
    app.sim.sim.revoke_user("tech");
    for _ in 0..100 {
        if tracking(&db).await.state == "needs_sign_in" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = tracking(&db).await;
    assert_eq!(t.state, "needs_sign_in");
    let (ok, _) = sample_count(&db).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sample_count(&db).await.0, ok, "no sample while paused");

    let again = app.session_as("tech").await;
    let page = again.get_text(&format!("/devices/{HS}/usage")).await;
    assert!(page.contains("id=\"tracking-paused\""), "{page:.2000}");
    assert!(page.contains("id=\"tracking-resume\""));
    let list = again.get_text(&format!("/devices/{HS}")).await;
    assert!(
        list.contains("id=\"tracking-paused\""),
        "the list says so too"
    );
    let csrf = again.page_csrf(&format!("/devices/{HS}/usage")).await;
    assert_eq!(start(&again, &csrf).await.status(), 303);
    good_samples(&db, ok + 1).await;
    assert_eq!(tracking(&db).await.state, "active");

    // A reader may see the history but not start tracking.
    let reader = app.session_as("readonly").await;
    let page = reader.get_text(&format!("/devices/{HS}/usage")).await;
    assert!(!page.contains("id=\"tracking-stop\""));
    let csrf = reader.page_csrf(&format!("/devices/{HS}/usage")).await;
    assert_eq!(start(&reader, &csrf).await.status(), 403);
    // Without the CSRF token nothing changes.
    let forged = app
        .post_form(&format!("/devices/{HS}/tracking"), &[("enabled", "false")])
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(tracking(&db).await.state, "active");
}

#[tokio::test]
async fn idle_lines_equal_brute_force_and_go_to_suspend_and_back() {
    let app = tracked_app_with(|cfg| cfg.usage.line_monthly_cost = Some(1_500)).await;
    let db = app.state.db.clone();
    good_samples(&db, 2).await;
    let mdns = hs_mdns(&app).await;
    let used: BTreeSet<String> = mdns.iter().step_by(3).cloned().collect();
    for m in &used {
        assert!(app.sim.sim.add_usage(HS, m, 1.0));
    }
    let (ok, _) = sample_count(&db).await;
    good_samples(&db, ok + 1).await;
    // Brute force: every line whose usage did not grow since today's first sample.
    let idle: BTreeSet<String> = mdns
        .iter()
        .filter(|m| !used.contains(*m))
        .cloned()
        .collect();

    let page = app
        .get_text(&format!("/devices/{HS}/usage?idle_days=7"))
        .await;
    assert_eq!(texts(&page, "#idle-count"), [idle.len().to_string()]);
    assert_eq!(
        texts(&page, "#idle-cost"),
        [format!("${}", idle.len() * 15)],
        "priced with LINE_MONTHLY_COST"
    );
    let sel = app
        .get_text(&format!("/devices/{HS}/usage/idle?idle_days=7"))
        .await;
    let selected: BTreeSet<String> = attrs(&sel, "#usage-selection input[name=mdns]", "value")
        .into_iter()
        .collect();
    assert_eq!(selected, idle);
    assert!(sel.contains("data-action=\"status\""), "{sel:.3000}");

    // The selection → suspend (preview, confirm) → revert.
    let status_of = |m: &str| {
        app.sim
            .sim
            .device(HS, m)
            .and_then(|d| d.status)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let before: Vec<String> = idle.iter().map(|m| status_of(m)).collect();
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = idle.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([("status", "SUSPENDED"), ("reason", "Idle for weeks")]);
    let preview = app.post_action(HS, "status", &form, &csrf).await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("preview");
    let mut confirm = confirm_fields(&html);
    confirm.push(("csrf_token".into(), csrf.clone()));
    confirm.push(("acknowledged".into(), "true".into()));
    let done = app
        .post_form(&format!("/devices/{HS}/actions/status"), &confirm)
        .await;
    let status = done.status();
    assert_eq!(status, 303, "{}", done.text().await.unwrap_or_default());
    let id = change_id_of(&done);
    finished_within(&db, id, 20).await;
    for m in &idle {
        assert_eq!(status_of(m), "suspended", "{m}");
    }
    let url = format!("/changes/{id}/revert");
    let html = app
        .post_form(&url, &[("csrf_token", csrf.as_str())])
        .await
        .text()
        .await
        .expect("preview");
    let mut confirm = confirm_fields(&html);
    confirm.push(("csrf_token".into(), csrf.clone()));
    confirm.push(("acknowledged".into(), "true".into()));
    let back = app.post_form(&url, &confirm).await;
    assert_eq!(back.status(), 303);
    // The revert holds exactly the idle lines, each back to its status before (a status read
    // as `active` is sent as the operation's `ACTIVE`).
    let c = finished_within(&db, change_id_of(&back), 20).await;
    assert_eq!(c.total_lines as usize, idle.len(), "{c:?}");
    let lines = app.get_text(&format!("/changes/{}/lines.csv", c.id)).await;
    let reverted: BTreeSet<String> = lines
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reverted, idle);
    assert_eq!(c.changed as usize, idle.len(), "every line reverted: {c:?}");
    let after: Vec<String> = idle.iter().map(|m| status_of(m)).collect();
    assert_eq!(after, before, "each line back to its status before");
    // The console's own change and its revert are no drift.
    let (ok, _) = sample_count(&db).await;
    good_samples(&db, ok + 2).await;
    let drift = app.get_text(&format!("/devices/{HS}/drift")).await;
    assert!(drift.contains("id=\"drift-none\""), "{drift:.3000}");
}

#[tokio::test]
async fn drift_shows_a_direct_change_once_and_not_a_console_change() {
    let app = tracked_app().await;
    let db = app.state.db.clone();
    good_samples(&db, 1).await;
    let mdns = hs_mdns(&app).await;
    // Set in the vendor's portal: straight to the simulator's API.
    let token = app.sim.sim.issue_access_token("super").expect("token");
    let resp = reqwest::Client::new()
        .put(
            app.sim
                .url(&format!("/sentinel/api/v1.0/devices/{HS}/status")),
        )
        .bearer_auth(token)
        .json(&serde_json::json!({"mdns": [mdns[0]], "status": "SUSPENDED", "reason": "portal"}))
        .send()
        .await
        .expect("put");
    assert!(
        resp.status().is_success(),
        "{}",
        resp.text().await.unwrap_or_default()
    );
    // A nickname changed through the console.
    let csrf = app.csrf().await;
    let form = [
        ("mdns", mdns[1].as_str()),
        ("nickname", "Console name"),
        ("confirmed", "true"),
    ];
    let done = app.post_action(HS, "nickname", &form, &csrf).await;
    assert_eq!(done.status(), 303);
    finished_within(&db, change_id_of(&done), 20).await;
    let (ok, _) = sample_count(&db).await;
    good_samples(&db, ok + 3).await;

    let page = app.get_text(&format!("/devices/{HS}/drift")).await;
    let rows = attrs(&page, "#drift-rows tr", "data-mdn");
    assert_eq!(rows, [mdns[0].clone()], "{page:.3000}");
    assert_eq!(attrs(&page, "#drift-rows tr", "data-field"), ["STATUS"]);
    let put_back = attrs(&page, "#drift-rows a.put-back", "href");
    assert_eq!(put_back.len(), 1);
    assert!(put_back[0].contains("/actions/status?"), "{}", put_back[0]);
    assert!(put_back[0].contains("status=ACTIVE"), "{}", put_back[0]);
    let form = app.get(&put_back[0]).await;
    assert_eq!(form.status(), 200);
    let csv = app.get_text(&format!("/devices/{HS}/drift.csv")).await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.starts_with("MDN,FIELD,BEFORE,AFTER,SEEN_AT"));
}

#[tokio::test]
async fn before_the_first_sample_the_page_explains_tracking_and_bad_input_is_refused() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let page = app.get_text(&format!("/devices/{HS}/usage")).await;
    assert!(page.contains("id=\"usage-empty\""));
    assert!(page.contains("id=\"tracking-start\""));
    for q in [
        "from=2026-13-01",
        "idle_days=8",
        "by=colour",
        "from=2026-02-01&to=2026-01-01",
    ] {
        let resp = app.get(&format!("/devices/{HS}/usage?{q}")).await;
        assert_eq!(resp.status(), 400, "{q}");
    }
    let csv = app.get_text(&format!("/devices/{HS}/usage.csv")).await;
    assert_eq!(csv.lines().count(), 1);
}

#[tokio::test]
async fn two_instances_on_one_postgresql_take_one_sample_per_interval() {
    let db_url = postgres_url().await;
    let sim = spawn_sim(default_sim_config()).await;
    let cfg = || {
        let mut c = config_for(&sim, &db_url);
        c.usage.sample_every = Duration::from_secs(1);
        c
    };
    let a = Instance::start(cfg()).await;
    let _b = Instance::start(cfg()).await;
    let s = Session::new(&a.base);
    let landed = s.sign_in_to("tech", "/").await;
    assert_eq!(landed.status(), 200);
    let csrf = s.csrf().await;
    assert_eq!(start(&s, &csrf).await.status(), 303);
    let db = Db::connect(&db_url).await.expect("db");
    good_samples(&db, 1).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let t = tracking(&db).await;
    let samples = db.usage_samples(t.gid, 100).await.expect("samples");
    assert!(samples.iter().all(|s| s.ok));
    let mut at: Vec<_> = samples.iter().map(|s| s.taken_at).collect();
    at.sort();
    for w in at.windows(2) {
        assert!(
            w[1] - w[0] >= time::Duration::milliseconds(500),
            "two samples in one interval: {w:?}"
        );
    }
    assert!(
        (5..=8).contains(&at.len()),
        "{} samples in about 6 s",
        at.len()
    );
}

#[tokio::test]
async fn the_demo_fills_labelled_simulated_history_at_first_start() {
    let mut cfg = sentinel_console::config::Config::for_tests(&sqlite_url());
    cfg.usage.demo_history_days = 3;
    let app = sentinel_console::startup::Application::build(cfg)
        .await
        .expect("build");
    let base = format!("http://{}", app.local_addr());
    let db = app.state().db.clone();
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    for _ in 0..100 {
        if db
            .usage_tracking("NORTHSTAR-ISD")
            .await
            .expect("read")
            .is_some_and(|t| t.simulated_before.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = Session::new(&base);
    s.sign_in_to("tech", "/").await;
    let page = s.get_text("/devices/NORTHSTAR-ISD/usage").await;
    assert!(page.contains("id=\"simulated-note\""), "{page:.3000}");
    assert!(!page.contains("id=\"usage-empty\""));
    let rows = texts(&page, "#usage-table tbody tr td.num");
    assert!(
        rows.iter().any(|c| c.ends_with(" MB") && c != "0.00 MB"),
        "{rows:?}"
    );
}
