//! Before-values are read from Sentinel just before each chunk is sent (so a line changed by
//! someone else after the job started gets the later value), and a select-all change reads its
//! matching lines as one export stream, with a per-line result for each.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::simulator::{Fault, FaultKind, SimConfig};
use sentinel_console::storage::Db;
use sentinel_console::storage::changes::{ChangeSet, ChangeState};
use uuid::Uuid;

const LARGE: &str = "FLEET-LARGE";

async fn first_mdns(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let page = list_mdns(
            &app.get_text(&format!("/devices/{LARGE}?limit=500&offset={}", out.len()))
                .await,
        );
        assert!(!page.is_empty());
        out.extend(page);
    }
    out.truncate(n);
    out
}

async fn finished(db: &Db, id: Uuid) -> ChangeSet {
    finished_within(db, id, 60).await
}

/// `(mdn, before, outcome)` of every line, from the change's CSV.
async fn lines_csv(app: &TestApp, id: Uuid) -> Vec<(String, String, String)> {
    let text = app.get_text(&format!("/changes/{id}/lines.csv")).await;
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            (r[0].to_owned(), r[1].to_owned(), r[3].to_owned())
        })
        .collect()
}

fn change_id(resp: &reqwest::Response) -> Uuid {
    location(resp)
        .trim_start_matches("/changes/")
        .parse()
        .expect("change id")
}

/// Posts a confirmed select-all note `note` over `LARGE` (with `extra` fields) and waits for its
/// change set to finish.
async fn select_all_note(
    app: &TestApp,
    csrf: &str,
    note: &str,
    extra: &[(&str, &str)],
) -> (Db, ChangeSet) {
    let mut form = vec![
        ("select_all", "true"),
        ("note", note),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    form.extend_from_slice(extra);
    let resp = app.post_action(LARGE, "note", &form, csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id(&resp);
    let db = Db::connect(&app.database_url).await.expect("db");
    let c = finished(&db, id).await;
    (db, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_line_changed_after_the_job_started_gets_the_later_value_as_before() {
    let app = spawn_app_with(
        SimConfig {
            large_group_size: 4_000,
            ..default_sim_config()
        },
        |_| {},
    )
    .await;
    app.sign_in("super").await;
    // 3,000 lines: 6 chunks, 4 at a time, so chunks 4 and 5 start only after a first one ends.
    let lines = first_mdns(&app, 3_000).await;
    let last = lines[2_999].clone();
    let first_before = app.sim.sim.device(LARGE, &lines[0]).expect("line").nickname;
    // The first 4 chunks' writes take 1.5 s: the other client's change lands meanwhile.
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Latency(Duration::from_millis(1_500)),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: Some(4),
    });
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", "Fleet"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = app.post_action(LARGE, "nickname", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id(&resp);
    for _ in 0..200 {
        if app.sim.api_requests_to("PUT", "/nickname").len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        app.sim.api_requests_to("PUT", "/nickname").len(),
        4,
        "the first 4 chunks are being sent, the last not yet"
    );
    // Let the 4th write take the last slow-down before the other client's own write.
    tokio::time::sleep(Duration::from_millis(100)).await;
    rename_elsewhere(&app.sim, LARGE, &last, "Renamed meanwhile").await;

    let db = Db::connect(&app.database_url).await.expect("db");
    let c = finished(&db, id).await;
    assert_eq!((c.total_lines, c.changed), (3_000, 3_000), "{c:?}");
    let rows = lines_csv(&app, id).await;
    let of = |m: &str| rows.iter().find(|r| r.0 == m).expect("line").clone();
    assert_eq!(
        of(&last).1,
        "Renamed meanwhile",
        "the value just before its chunk was sent"
    );
    assert_eq!(of(&lines[0]).1, first_before.unwrap_or_default());
    assert!(rows.iter().all(|r| r.2 == "changed"));
    // One export located the lines at the start; then one list page per chunk, no export.
    let reads: Vec<String> = app
        .sim
        .api_calls()
        .into_iter()
        .filter(|c| c.contains("export=CSV"))
        .collect();
    let exports = reads.len();
    assert_eq!(exports, 1, "{reads:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_select_all_change_streams_its_lines_then_records_each_result() {
    let app = spawn_app_with(
        SimConfig {
            large_group_size: 20_000,
            ..default_sim_config()
        },
        |c| c.upstream_timeout = Duration::from_secs(60),
    )
    .await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let excluded = first_mdns(&app, 1).await.remove(0);
    let kept = first_mdns(&app, 2).await.remove(1);
    let kept_before = app.sim.sim.device(LARGE, &kept).expect("line").note;
    app.sim.sim.clear_requests();
    let (_, c) = select_all_note(
        &app,
        &csrf,
        "Audited",
        &[("excluded_mdns", excluded.as_str())],
    )
    .await;
    let id = c.id;
    assert_eq!(
        (c.total_lines, c.changed, c.failed, c.unknown),
        (19_999, 19_999, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.state, ChangeState::Done);
    let calls = app.sim.api_calls();
    let exports = calls.iter().filter(|c| c.contains("export=CSV")).count();
    let pages = calls
        .iter()
        .filter(|c| c.starts_with("GET") && !c.contains("export=CSV"))
        .count();
    assert_eq!(
        (exports, pages),
        (1, 0),
        "one export stream, no pages: {calls:#?}"
    );
    assert_eq!(app.sim.api_requests_to("PUT", "/note").len(), 1);
    let rows = lines_csv(&app, id).await;
    assert_eq!(rows.len(), 19_999);
    assert!(rows.iter().all(|r| r.0 != excluded));
    let row = rows.iter().find(|r| r.0 == kept).expect("kept line");
    assert_eq!(row.1, kept_before.unwrap_or_default());
    assert!(rows.iter().all(|r| r.2 == "changed"));
}

#[tokio::test]
async fn a_select_all_whose_stream_breaks_sends_nothing_and_says_so() {
    let app = spawn_app_with(
        SimConfig {
            large_group_size: 5_000,
            ..default_sim_config()
        },
        |_| {},
    )
    .await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::CutCsvAfterRows(1_500),
        path_contains: None,
        method: None,
        times: Some(1),
    });
    let (_, c) = select_all_note(&app, &csrf, "Never", &[]).await;
    assert_eq!(c.state, ChangeState::Failed, "{c:?}");
    assert_eq!(c.changed + c.unknown, 0);
    assert_eq!(c.failed, c.total_lines, "the lines read were not sent");
    assert!(
        c.message
            .as_deref()
            .unwrap_or_default()
            .contains("Not sent"),
        "{c:?}"
    );
    assert!(app.sim.api_requests_to("PUT", "/note").is_empty());
}

/// Lines Sentinel refuses in a select-all's one answer are failed with its reason, each on its
/// own, the rest changed; retrying sends exactly the refused ones.
#[tokio::test]
async fn a_select_all_records_the_lines_sentinel_refused_and_retries_only_those() {
    let app = spawn_app_with(
        SimConfig {
            large_group_size: 5_000,
            ..default_sim_config()
        },
        |_| {},
    )
    .await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let lines = first_mdns(&app, 3_000).await;
    let refused = [lines[10].clone(), lines[2_999].clone()];
    for m in &refused {
        assert!(app.sim.sim.refuse_writes(LARGE, m, Some("Line is locked")));
    }
    let (db, c) = select_all_note(&app, &csrf, "Audited", &[]).await;
    let id = c.id;
    assert_eq!(
        (c.total_lines, c.changed, c.failed, c.unknown),
        (5_000, 4_998, 2, 0),
        "{c:?}"
    );
    assert_eq!(c.state, ChangeState::DoneWithFailures);
    let failed = app
        .get_text(&format!("/changes/{id}?part=lines&outcome=failed"))
        .await;
    for m in &refused {
        assert!(failed.contains(m.as_str()), "{failed:.3000}");
    }
    assert!(failed.contains("Line is locked"), "{failed:.3000}");
    assert!(!failed.contains(lines[11].as_str()), "{failed:.3000}");
    let rows = lines_csv(&app, id).await;
    assert_eq!(rows.len(), 5_000);
    assert_eq!(rows.iter().filter(|r| r.2 == "failed").count(), 2);
    assert_eq!(rows.iter().filter(|r| r.2 == "changed").count(), 4_998);

    for m in &refused {
        app.sim.sim.refuse_writes(LARGE, m, None);
    }
    app.sim.sim.clear_requests();
    let retry = format!("/changes/{id}/retry");
    let preview = app
        .post_form(&retry, &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("preview");
    assert!(html.contains("<strong>2</strong>"), "{html:.2000}");
    let mut confirm = confirm_fields(&html);
    confirm.push(("acknowledged".into(), "true".into()));
    confirm.push(("csrf_token".into(), csrf.clone()));
    let resp = app.post_form(&retry, &confirm).await;
    assert_eq!(resp.status(), 303);
    let again = finished(&db, change_id(&resp)).await;
    assert_eq!((again.total_lines, again.changed), (2, 2), "{again:?}");
    let sent = app.sim.api_requests_to("PUT", "/note");
    assert_eq!(sent.len(), 1);
    for m in &refused {
        assert_eq!(
            app.sim.sim.device(LARGE, m).expect("line").note.as_deref(),
            Some("Audited")
        );
    }
}
