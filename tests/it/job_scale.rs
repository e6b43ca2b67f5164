//! Large explicit-list changes run as jobs at the scale users run them: 6,000 lines renamed in one
//! change on SQLite and PostgreSQL, several times, with other users browsing meanwhile; a token
//! that expires mid-change; a user who signs out mid-change. Every line is accounted for.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::actions::jobs::SIGNED_OUT_REASON;
use sentinel_console::simulator::SimConfig;
use sentinel_console::storage::Db;
use sentinel_console::storage::changes::ChangeState;
use sentinel_console::storage::jobs::JobState;
use uuid::Uuid;

const LARGE: &str = "FLEET-LARGE";

fn sim_config(lines: u64, token_ttl: Duration) -> SimConfig {
    SimConfig {
        large_group_size: lines,
        token_ttl,
        ..default_sim_config()
    }
}

/// The first `n` MDNs of the large group, read through the console's list pages.
async fn first_mdns(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    while out.len() < n {
        let page = list_mdns(
            &app.get_text(&format!("/devices/{LARGE}?limit=500&offset={offset}"))
                .await,
        );
        assert!(!page.is_empty(), "ran out of lines at {offset}");
        out.extend(page);
        offset += 500;
    }
    out.truncate(n);
    out
}

/// Posts a confirmed nickname change for `mdns`; returns the job id.
async fn rename(app: &TestApp, mdns: &[String], nickname: &str) -> Uuid {
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", nickname),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = app.post_action(LARGE, "nickname", &form, &csrf).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    location(&resp)
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("job id in location")
}

/// Waits (bounded) for the job to finish and returns it.
async fn finished(db: &Db, id: Uuid) -> sentinel_console::storage::jobs::Job {
    for _ in 0..600 {
        let job = db.job_get(id).await.expect("job").expect("stored");
        if job.state.is_finished() {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish within 60 s");
}

/// Per-line outcomes of the job: (changed, failed, unknown).
async fn counts(db: &Db, id: Uuid) -> (i64, usize, usize) {
    let chunks = db.job_chunks(id).await.expect("chunks");
    chunks.iter().fold((0, 0, 0), |(u, f, k), c| {
        (
            u + c.outcome.updated as i64,
            f + c.outcome.failed.len(),
            k + c.outcome.unknown.len(),
        )
    })
}

fn nickname_writes(app: &TestApp) -> usize {
    app.sim.api_requests_to("PUT", "/nickname").len()
}

/// 6,000 lines renamed three times in a row while another user browses: each run ends done with
/// all 6,000 changed and recorded, the audit has one record per run, and the other user never
/// sees an error.
async fn six_thousand_lines_three_times(app: TestApp) {
    app.sign_in("super").await;
    let mdns = first_mdns(&app, 6_000).await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let other = app.session_as("tech").await;
    for round in 0..3 {
        app.sim.sim.clear_requests();
        let nickname = format!("Bus {round}");
        let id = rename(&app, &mdns, &nickname).await;
        // Another user's pages, while the change runs, all answer.
        for _ in 0..10 {
            let r = other.get(&format!("/devices/{LARGE}?limit=25")).await;
            assert_eq!(r.status(), 200, "round {round}: another user's page failed");
        }
        let job = finished(&db, id).await;
        assert_eq!(job.state, JobState::Done, "round {round}");
        assert_eq!(job.done_chunks, 12, "round {round}");
        assert_eq!(
            counts(&db, id).await,
            (6_000, 0, 0),
            "round {round}: every line changed"
        );
        assert_eq!(
            nickname_writes(&app),
            12,
            "round {round}: each chunk sent once"
        );
        let last = app.sim.sim.device(LARGE, &mdns[5_999]).expect("device");
        assert_eq!(last.nickname.as_deref(), Some(nickname.as_str()));
    }
    let audits: i64 = match &db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(p)
            .await
            .expect("count"),
        Db::Postgres(p) => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(p)
            .await
            .expect("count"),
    };
    assert_eq!(audits, 3, "one audit record per change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_thousand_line_change_never_stalls_or_loses_lines_on_sqlite() {
    let app = spawn_app_with(sim_config(6_100, Duration::from_secs(3600)), |_| {}).await;
    six_thousand_lines_three_times(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_thousand_line_change_never_stalls_or_loses_lines_on_postgres() {
    let sim = spawn_sim(sim_config(6_100, Duration::from_secs(3600))).await;
    let url = postgres_url().await;
    let cfg = config_for(&sim, &url);
    let app = spawn_console(sim, cfg).await;
    six_thousand_lines_three_times(app).await;
}

/// Tokens live 4 s (refreshed after 2 s) and each chunk takes 1.5 s: ten chunks, four at a time,
/// outlive the token. The simulator checks the token after the injected latency, so a chunk
/// must be sent well inside the token's life for the test not to race the clock under load.
/// (Before: 2 s tokens and 1 s chunks left 10 ms of slack, and failed on a loaded machine.)
/// Every chunk is sent with a valid token (no "access token has expired").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_that_expires_mid_change_is_refreshed_for_later_chunks() {
    let app = spawn_app_with(sim_config(5_200, Duration::from_secs(4)), |_| {}).await;
    app.sign_in("super").await;
    let mdns = first_mdns(&app, 5_000).await;
    app.sim
        .slow_writes("/nickname", Duration::from_millis(1_500));
    app.sim.sim.clear_requests();
    let id = rename(&app, &mdns, "Library").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let job = finished(&db, id).await;
    assert_eq!(job.state, JobState::Done);
    assert_eq!(counts(&db, id).await, (5_000, 0, 0));
    let writes = app.sim.api_requests_to("PUT", "/nickname");
    assert_eq!(writes.len(), 10);
    let tokens: std::collections::HashSet<_> = writes
        .iter()
        .filter_map(|r| r.authorization.clone())
        .collect();
    assert!(
        tokens.len() > 1,
        "later chunks must be sent with a refreshed token"
    );
}

/// The user signs out while the change runs: the chunks not yet started are not sent and are
/// recorded with the sign-out reason; the counts still add up to every line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_out_mid_change_stops_sending() {
    let app = spawn_app_with(sim_config(5_200, Duration::from_secs(3600)), |_| {}).await;
    app.sign_in("super").await;
    let mdns = first_mdns(&app, 5_000).await;
    app.sim.slow_writes("/nickname", Duration::from_millis(800));
    app.sim.sim.clear_requests();
    let id = rename(&app, &mdns, "Gym").await;
    // Sign out while the first four chunks are in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let csrf = app.csrf().await;
    let out = app
        .post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(out.status(), 303);
    let db = Db::connect(&app.database_url).await.expect("db");
    let job = finished(&db, id).await;
    assert!(job.state.is_finished());
    let (changed, failed, unknown) = counts(&db, id).await;
    assert_eq!(
        changed + (failed + unknown) as i64,
        5_000,
        "every line accounted for"
    );
    // Only the chunks already in flight went out (their answers may be refusals: the sign-out
    // revoked the token they carried).
    let sent = nickname_writes(&app);
    assert!(sent <= 4, "{sent} chunks sent, some after sign-out");
    assert!(changed <= sent as i64 * 500);
    let stopped = db
        .job_chunks(id)
        .await
        .expect("chunks")
        .into_iter()
        .filter(|c| c.outcome.error.as_deref() == Some(SIGNED_OUT_REASON))
        .count();
    // Chunks refused (401) once the sign-out revoked their token applied nothing: not sent too.
    assert!(stopped >= 10 - sent, "the chunks not sent say why");
    // The change set says so too, and its per-line outcomes add up to every line.
    let c = db.change_get(id).await.expect("read").expect("change set");
    assert_eq!(c.changed + c.failed + c.unknown, 5_000);
    if stopped > 0 {
        let m = c.message.unwrap_or_default();
        assert!(m.starts_with("Stopped: you signed out —"), "{m}");
        assert!(
            m.contains(&format!("{} lines not sent", stopped * 500)),
            "{m}"
        );
        // Lines never sent did not change: not changed (with the reason), ready for a retry
        // once the user signs in again.
        assert!(c.failed as usize >= stopped * 500, "{:?}", c.state);
        assert_eq!(c.state, ChangeState::NeedsSignIn);
    }
}

/// A selection of 10,001 lines opens the action form through a POST body (a URL that long is
/// refused with 414 by servers and proxies), and changes nothing.
#[tokio::test]
async fn a_selection_too_long_for_a_url_opens_the_form_by_post() {
    let app = spawn_app_with(sim_config(10_100, Duration::from_secs(3600)), |_| {}).await;
    app.sign_in("super").await;
    let mdns = first_mdns(&app, 10_001).await;
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    form.push(("csrf_token", csrf.as_str()));
    app.sim.sim.clear_requests();
    let resp = app
        .post_form(&format!("/devices/{LARGE}/actions/nickname/form"), &form)
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.expect("body");
    assert!(
        html.contains("10001 lines") || html.contains("10,001 lines"),
        "{html:.2000}"
    );
    assert_eq!(
        html.matches(r#"name="mdns""#).count(),
        10_001,
        "every line carried on"
    );
    assert!(
        app.sim.sim.api_requests().iter().all(|r| r.method == "GET"),
        "opening the form changes nothing"
    );
    // Without the CSRF token it is refused like every POST.
    let form: Vec<(&str, &str)> = mdns.iter().take(3).map(|m| ("mdns", m.as_str())).collect();
    let resp = app
        .post_form(&format!("/devices/{LARGE}/actions/nickname/form"), &form)
        .await;
    assert_eq!(resp.status(), 403);
}
