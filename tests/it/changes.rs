//! Change sets: every confirmed change is stored with its lines before anything is sent, and its
//! page shows progress, counts and per-line results (before, after, outcome), filterable and as
//! CSV; the per-line outcomes always add up to the change's lines.

use crate::helpers::*;

use std::time::{Duration, Instant};

use sentinel_console::simulator::{Fault, FaultKind, SimConfig};
use sentinel_console::storage::Db;
use sentinel_console::storage::changes::{ChangeSet, ChangeState, LineState};
use uuid::Uuid;

const LARGE: &str = "FLEET-LARGE";
const CORP: &str = "NORTHSTAR-ISD";

fn sim_config(lines: u64) -> SimConfig {
    SimConfig {
        large_group_size: lines,
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

/// Posts a confirmed nickname change of `mdns` in `corp`; returns the change set's id.
async fn rename(app: &TestApp, corp: &str, mdns: &[String], nickname: &str) -> Uuid {
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", nickname),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = app.post_action(corp, "nickname", &form, &csrf).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    change_id(&resp)
}

fn change_id(resp: &reqwest::Response) -> Uuid {
    let loc = location(resp);
    assert!(loc.starts_with("/changes/"), "303 to the change set: {loc}");
    loc.trim_start_matches("/changes/")
        .parse()
        .expect("change id")
}

/// Waits (bounded) for the change set to finish.
async fn finished(db: &Db, id: Uuid) -> ChangeSet {
    finished_within(db, id, 120).await
}

fn assert_adds_up(c: &ChangeSet) {
    assert_eq!(
        c.changed + c.failed + c.unknown,
        c.total_lines,
        "every line has one outcome: {c:?}"
    );
}

/// The data rows of a lines.csv, split in cells (no quoted commas in these tests).
fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_600_line_change_shows_progress_then_per_line_results() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let mut lines = first_mdns(&app, 600).await;
    let before = app
        .sim
        .sim
        .device(LARGE, &lines[0])
        .expect("line")
        .nickname
        .unwrap_or_default();
    lines.push("555-000-0001".into()); // unknown to Sentinel: one per-line failure
    let slow = Fault {
        kind: FaultKind::Latency(Duration::from_millis(600)),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: None,
    };
    app.sim.sim.add_fault(slow);
    let id = rename(&app, LARGE, &lines, "Route 9").await;
    let page = format!("/changes/{id}");
    // While it runs the page polls its progress; a reload shows the same.
    let first = app.get_text(&page).await;
    assert!(first.contains(r#"id="job-progress""#), "{first:.1500}");
    let db = Db::connect(&app.database_url).await.expect("db");
    let c = finished(&db, id).await;
    assert_eq!(c.state, ChangeState::DoneWithFailures);
    assert_eq!(
        (c.total_lines, c.changed, c.failed, c.unknown),
        (601, 600, 1, 0)
    );
    assert_adds_up(&c);

    let html = app.get_text(&page).await;
    assert!(
        html.contains(r#"data-state="done_with_failures""#),
        "{html:.1500}"
    );
    assert_eq!(texts(&html, "#result-updated"), vec!["600"]);
    // Per-line results with the value before and after.
    let row = format!("#change-lines tr[data-mdn='{}']", lines[0]);
    let cells = texts(&html, &format!("{row} td"));
    assert_eq!(cells[1], before, "{cells:?}");
    assert_eq!(cells[2], "Route 9");
    assert_eq!(cells[3], "changed");
    // Filtered by outcome (the htmx fragment and the page).
    let failed = app
        .get_htmx(&format!("/changes/{id}?part=lines&outcome=failed"))
        .await
        .text()
        .await
        .expect("fragment");
    assert_eq!(
        attrs(&failed, "#change-lines tbody tr", "data-mdn"),
        vec!["555-000-0001"]
    );
    assert!(!failed.contains("<html"), "a fragment, not a page");
    let changed = app
        .get_text(&format!("/changes/{id}?outcome=changed"))
        .await;
    assert_eq!(
        attrs(&changed, "#change-lines tbody tr", "data-outcome").len(),
        50
    );
    assert!(
        attrs(&changed, "#change-lines tbody tr", "data-outcome")
            .iter()
            .all(|o| o == "changed")
    );
    assert_eq!(
        app.get(&format!("/changes/{id}?outcome=maybe"))
            .await
            .status(),
        400
    );
    // The CSV: every line, before, after, outcome, message.
    let resp = app.get(&format!("/changes/{id}/lines.csv")).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/csv"));
    let csv = resp.text().await.expect("csv");
    assert!(csv.starts_with("MDN,BEFORE,AFTER,OUTCOME,MESSAGE\r\n"));
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 601);
    assert_eq!(rows[0][0], lines[0]);
    assert_eq!(rows[0][1], before);
    assert_eq!(rows[0][2..4], ["Route 9".to_owned(), "changed".to_owned()]);
    assert_eq!(rows[600][0], "555-000-0001");
    assert_eq!(rows[600][3], "failed");
    assert!(!rows[600][4].is_empty(), "Sentinel's reason is kept");
    // The list shows it, filtered by state and "mine".
    let list = app.get_text("/changes?state=done&mine=1").await;
    assert!(list.contains(&format!("/changes/{id}")), "{list:.2000}");
    let running = app.get_text("/changes?state=running").await;
    assert!(!running.contains(&format!("/changes/{id}")));
    assert_eq!(app.get("/changes?state=bogus").await.status(), 400);
    // The old job address leads to the change set.
    let old = app.get(&format!("/jobs/{id}")).await;
    assert_eq!(location(&old), page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ambiguous_failure_leaves_that_chunks_lines_unknown() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let lines = first_mdns(&app, 1_000).await;
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(500),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: Some(1),
    });
    let id = rename(&app, LARGE, &lines, "Depot").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let c = finished(&db, id).await;
    assert_eq!((c.changed, c.failed, c.unknown), (500, 0, 500), "{c:?}");
    assert_eq!(c.state, ChangeState::DoneWithFailures);
    assert_adds_up(&c);
    let unknown = app
        .get_text(&format!("/changes/{id}?outcome=unknown"))
        .await;
    let shown = attrs(&unknown, "#change-lines tbody tr", "data-outcome");
    assert_eq!(shown.len(), 50);
    assert!(shown.iter().all(|o| o == "unknown"));
    assert!(
        unknown.contains("may or may not have changed"),
        "{unknown:.3000}"
    );
    assert_eq!(
        app.sim.api_requests_to("PUT", "/nickname").len(),
        2,
        "never retried"
    );
}

#[tokio::test]
async fn a_select_all_change_has_per_line_before_values() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let matching = list_mdns(
        &app.get_text(&format!("/devices/{CORP}?searchValue=Bus&limit=500"))
            .await,
    );
    assert!(matching.len() > 1);
    let kept = &matching[0];
    let kept_before = app.sim.sim.device(CORP, kept).expect("line").nickname;
    let excluded = &matching[1];
    let form = [
        ("select_all", "true"),
        ("searchValue", "Bus"),
        ("excluded_mdns", excluded.as_str()),
        ("nickname", "Fleet bus"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    let resp = app.post_action(CORP, "nickname", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id(&resp);
    let db = Db::connect(&app.database_url).await.expect("db");
    let c = finished(&db, id).await;
    assert_eq!(c.total_lines as usize, matching.len() - 1, "{c:?}");
    assert_eq!(c.state, ChangeState::Done);
    assert_adds_up(&c);
    let csv = app.get_text(&format!("/changes/{id}/lines.csv")).await;
    let rows = csv_rows(&csv);
    assert!(
        rows.iter().all(|r| r[0] != *excluded),
        "the excluded line is not in it"
    );
    let row = rows.iter().find(|r| r[0] == *kept).expect("the kept line");
    assert_eq!(row[1], kept_before.unwrap_or_default(), "its value before");
    assert_eq!(row[2..4], ["Fleet bus".to_owned(), "changed".to_owned()]);
    // One bulk call went out.
    assert_eq!(app.sim.api_requests_to("PUT", "/nickname").len(), 1);
}

#[tokio::test]
async fn a_change_set_is_hidden_from_users_of_other_groups() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let lines = first_mdns(&app, 3).await;
    let id = rename(&app, LARGE, &lines, "Spare").await;
    let limited = app.session_as("limited").await;
    for path in [format!("/changes/{id}"), format!("/changes/{id}/lines.csv")] {
        assert_eq!(limited.get(&path).await.status(), 404, "{path}");
    }
    let list = limited.get_text("/changes").await;
    assert!(!list.contains(&id.to_string()));
    // Another user of the group sees it (and the navigation links to the list).
    let tech = app.session_as("tech").await;
    let page = tech.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains(r#"data-state="done""#), "{page:.1500}");
    assert!(page.contains(r#"href="/changes""#));
    assert_eq!(app.get("/changes/not-a-uuid").await.status(), 404);
}

/// 50,000 lines in one explicit list, posted in the body: stored, sent in 100 chunks, every
/// line accounted for with its value before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fifty_thousand_line_explicit_list_works_end_to_end() {
    // The simulator's writes over a 50,000-line group are slow in a debug build on a shared
    // machine: a 5 s timeout would (correctly) leave whole chunks unknown.
    let app = spawn_app_with(sim_config(50_100), |c| {
        c.upstream_timeout = Duration::from_secs(60)
    })
    .await;
    app.sign_in("super").await;
    let lines = first_mdns(&app, 50_000).await;
    app.sim.sim.clear_requests();
    let started = Instant::now();
    let id = rename(&app, LARGE, &lines, "Fleet 50k").await;
    let posted = started.elapsed();
    let db = Db::connect(&app.database_url).await.expect("db");
    let c = finished(&db, id).await;
    let done = started.elapsed();
    eprintln!("50,000 lines: 303 after {posted:?}, finished after {done:?}");
    assert_adds_up(&c);
    if c.unknown > 0 {
        let l = db
            .change_lines_page(id, Some(LineState::Unknown), 0, 1)
            .await
            .expect("lines");
        panic!("{} lines unknown, e.g. {l:?}", c.unknown);
    }
    if c.failed > 0 {
        let l = db
            .change_lines_page(id, Some(LineState::Failed), 0, 1)
            .await
            .expect("lines");
        panic!("{} lines failed, e.g. {l:?} ({:?})", c.failed, c.message);
    }
    assert_eq!(
        (c.total_lines, c.changed, c.failed, c.unknown),
        (50_000, 50_000, 0, 0)
    );
    assert_eq!(c.state, ChangeState::Done);
    assert_eq!(app.sim.api_requests_to("PUT", "/nickname").len(), 100);
    let csv = app.get_text(&format!("/changes/{id}/lines.csv")).await;
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 50_000);
    assert!(rows.iter().all(|r| r[3] == "changed"));
    assert!(
        rows.iter().all(|r| !r[1].is_empty()),
        "every line has its value before"
    );
    assert_eq!(rows[49_999][0], lines[49_999]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_previews_the_failed_lines_then_runs_them_as_a_new_change_set() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let lines = first_mdns(&app, 1_000).await;
    // One of the two chunks' answers is lost: its 500 lines are unknown.
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(500),
        path_contains: Some("/nickname".into()),
        method: Some("PUT".into()),
        times: Some(1),
    });
    let id = rename(&app, LARGE, &lines, "Shuttle").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let first = finished(&db, id).await;
    assert_eq!(
        (first.changed, first.unknown),
        (500, 500),
        "{:?}",
        first.state
    );
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains(r#"id="retry-form""#), "{page:.2000}");
    // No line failed: the button says it retries the unknown ones, and its form asks for them.
    assert_eq!(
        texts(&page, "#retry-form button"),
        [
            "Retry the 500 lines with an unknown outcome…",
            "Change the value, then retry…"
        ]
    );
    assert_eq!(
        attrs(&page, "#retry-form input[name=include_unknown]", "type"),
        ["hidden"]
    );
    let csrf = app.csrf().await;
    let retry = format!("/changes/{id}/retry");
    app.sim.sim.clear_requests();
    // The button's form as it is: a preview that warns.
    let preview = app
        .post_form(
            &retry,
            &[("csrf_token", csrf.as_str()), ("include_unknown", "true")],
        )
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("preview");
    assert!(html.contains("may already have applied"), "{html:.2000}");
    assert!(html.contains("<strong>500</strong>"), "{html:.2000}");
    assert!(
        app.sim.api_requests_to("PUT", "/nickname").is_empty(),
        "a preview sends nothing"
    );
    // Without the CSRF token it is refused.
    assert_eq!(
        app.post_form(
            &retry,
            &[("include_unknown", "true"), ("confirmed", "true")]
        )
        .await
        .status(),
        403
    );
    let mut confirm = confirm_fields(&html);
    confirm.push(("acknowledged".into(), "true".into()));
    confirm.push(("csrf_token".into(), csrf.clone()));
    let resp = app.post_form(&retry, &confirm).await;
    assert_eq!(resp.status(), 303);
    let second_id = change_id(&resp);
    assert_ne!(second_id, id);
    let second = finished(&db, second_id).await;
    assert_eq!(
        (second.total_lines, second.changed),
        (500, 500),
        "{second:?}"
    );
    assert_eq!(second.parent_id, Some(id));
    assert_eq!(app.sim.api_requests_to("PUT", "/nickname").len(), 1);
    let page = app.get_text(&format!("/changes/{second_id}")).await;
    assert!(
        page.contains(&format!("/changes/{id}")),
        "links to the change it retries"
    );
}

#[tokio::test]
async fn a_reader_is_offered_a_request_not_a_retry_and_a_forged_retry_sends_nothing() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let mut lines = first_mdns(&app, 2).await;
    lines.push("555-000-0001".into());
    let id = rename(&app, LARGE, &lines, "Spare").await;
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains(r#"id="retry-form""#));
    let reader = app.session_as("readonly").await;
    let page = reader.get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains(r#"data-state="done_with_failures""#),
        "{page:.1500}"
    );
    // A user who may only request a rename is offered to ask for the retry, never to send it.
    assert!(
        page.contains("Request a retry of the line that failed…"),
        "{page:.3000}"
    );
    let writes = app.sim.api_requests_to("PUT", "/nickname").len();
    let (_, stored) = app.state.db.change_list(&Default::default()).await.unwrap();
    let csrf = reader.csrf().await;
    let resp = reader
        .post_form(
            &format!("/changes/{id}/retry"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    // Confirmed without the reason a request needs: nothing stored, nothing sent.
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Say why you ask"));
    assert_eq!(app.sim.api_requests_to("PUT", "/nickname").len(), writes);
    let (_, now) = app.state.db.change_list(&Default::default()).await.unwrap();
    assert_eq!(now, stored);
}
