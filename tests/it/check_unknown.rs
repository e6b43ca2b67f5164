//! Lines of unknown outcome checked with Sentinel (issue 23): each one's value read again says
//! whether the change reached it — marked changed, or not changed and then retried exactly —
//! for an explicit list and for a select-all, and nothing is sent by the check itself.

use crate::helpers::*;

use sentinel_console::simulator::{Fault, FaultKind};
use sentinel_console::storage::changes::ChangeState;

const LARGE: &str = "FLEET-LARGE";
const CORP: &str = "NORTHSTAR-ISD";

fn fault(kind: FaultKind, path: &str) -> Fault {
    Fault {
        kind,
        path_contains: Some(path.into()),
        method: Some("PUT".into()),
        times: Some(1),
    }
}

/// Posts the check of change set `id`'s unknown lines; answers the page it leads to.
async fn check(app: &TestApp, id: uuid::Uuid) -> String {
    let page = app.get_text(&format!("/changes/{id}")).await;
    let csrf = extract_meta_csrf(&page).expect("csrf");
    let resp = app.post_csrf(&format!("/changes/{id}/check"), &csrf).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    app.follow(resp).await.text().await.expect("page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_lines_are_checked_with_sentinel_then_the_ones_not_changed_are_retried_exactly() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let mut lines = Vec::new();
    while lines.len() < 1_000 {
        let page = list_mdns(
            &app.get_text(&format!(
                "/devices/{LARGE}?limit=500&offset={}",
                lines.len()
            ))
            .await,
        );
        lines.extend(page);
    }
    lines.truncate(1_000);
    // One chunk's call fails with a 500 (nothing applied), the other's answer is cut after it
    // was applied: both chunks' 500 lines are unknown.
    app.sim
        .sim
        .add_fault(fault(FaultKind::Status(500), "/nickname"));
    app.sim
        .sim
        .add_fault(fault(FaultKind::CutAnswer, "/nickname"));
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", "Checked"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = app.post_action(LARGE, "nickname", &form, &csrf).await;
    let id = change_id_of(&resp);
    let c = finished_within(&app.state.db, id, 60).await;
    assert_eq!(
        (c.changed, c.failed, c.unknown),
        (0, 0, 1_000),
        "{:?}",
        c.message
    );
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains("Check the 1000 lines with Sentinel"),
        "{page:.3000}"
    );
    let writes = app.sim.api_requests_to("PUT", "/nickname").len();

    let page = check(&app, id).await;
    assert!(
        page.contains("Checked 1000 lines with Sentinel: 500 had the new value and are now changed; 500 still had their value before and are now not changed (they can be retried)."),
        "{page:.3000}"
    );
    assert_eq!(
        app.sim.api_requests_to("PUT", "/nickname").len(),
        writes,
        "a check sends nothing"
    );
    let c = stored_change(&app.state.db, id).await;
    assert_eq!((c.changed, c.failed, c.unknown), (500, 500, 0));
    assert_eq!(c.state, ChangeState::DoneWithFailures);
    // No unknown line left: no check, and one exact retry of the lines not changed.
    assert!(!page.contains("id=\"check-form\""));
    assert!(
        page.contains("Retry the 500 lines that failed…"),
        "{page:.3000}"
    );

    let csrf = extract_meta_csrf(&page).expect("csrf");
    let resp = app
        .post_form(
            &format!("/changes/{id}/retry"),
            &[
                ("csrf_token", csrf.as_str()),
                ("confirmed", "true"),
                ("acknowledged", "true"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let r = finished_within(&app.state.db, change_id_of(&resp), 60).await;
    assert_eq!((r.total_lines, r.changed), (500, 500), "{:?}", r.message);
    for m in &lines {
        let d = app.sim.sim.device(LARGE, m).expect("line");
        assert_eq!(d.nickname.as_deref(), Some("Checked"), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_select_all_whose_answer_was_lost_is_checked_line_by_line() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.page_csrf(&format!("/devices/{CORP}")).await;
    // Applied, then the answer cut: every line unknown, through the change set.
    app.sim.sim.add_fault(fault(FaultKind::CutAnswer, "/note"));
    let form = [
        ("select_all", "true"),
        ("note", "Checked later"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    let resp = app.post_action(CORP, "note", &form, &csrf).await;
    let id = change_id_of(&resp);
    let c = finished_within(&app.state.db, id, 60).await;
    assert!(c.total_lines > 0);
    assert_eq!(c.unknown, c.total_lines, "{:?}", c.message);

    let page = check(&app, id).await;
    assert!(
        page.contains(&format!(
            "Checked {} lines with Sentinel: {} had the new value and are now changed.",
            c.total_lines, c.total_lines
        )),
        "{page:.3000}"
    );
    let after = stored_change(&app.state.db, id).await;
    assert_eq!((after.changed, after.unknown), (c.total_lines, 0));
    assert_eq!(after.state, ChangeState::Done);
    let csv = app.get_text(&format!("/changes/{id}/lines.csv")).await;
    assert!(!csv.contains(",unknown,"), "{csv:.500}");
    // Checking again: nothing left to check.
    let csrf = extract_meta_csrf(&page).expect("csrf");
    let again = app.post_csrf(&format!("/changes/{id}/check"), &csrf).await;
    assert_eq!(again.status(), 400);
}
