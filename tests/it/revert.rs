//! Reverting a change set: each changed line back to its value before, one upstream call per
//! value, a revert of a revert, changes that cannot be reverted say why, scope and CSRF.

use crate::helpers::*;

use sentinel_console::storage::Db;
use sentinel_console::storage::changes::{ChangeSet, Origin};
use uuid::Uuid;

const LARGE: &str = "FLEET-LARGE";

async fn mdns(app: &TestApp, n: usize) -> Vec<String> {
    let mut m = list_mdns(&app.get_text(&format!("/devices/{LARGE}?limit=50")).await);
    assert!(m.len() >= n, "{m:?}");
    m.truncate(n);
    m
}

/// Posts a confirmed `kind` change of `lines` with `fields`; returns the change set's id.
async fn change(app: &TestApp, kind: &str, lines: &[String], fields: &[(&str, &str)]) -> Uuid {
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend_from_slice(fields);
    form.extend([("confirmed", "true"), ("acknowledged", "true")]);
    let resp = app.post_action(LARGE, kind, &form, &csrf).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    change_id_of(&resp)
}

async fn finished(db: &Db, id: Uuid) -> ChangeSet {
    finished_within(db, id, 60).await
}

fn nickname(app: &TestApp, mdn: &str) -> String {
    app.sim
        .sim
        .device(LARGE, mdn)
        .expect("line")
        .nickname
        .unwrap_or_default()
}

/// Previews then confirms the revert of `id`; returns the new change set's id.
async fn revert(app: &TestApp, id: Uuid) -> Uuid {
    let csrf = app.csrf().await;
    let url = format!("/changes/{id}/revert");
    let preview = app.post_csrf(&url, &csrf).await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("preview");
    assert!(html.contains(r#"id="revert-values""#), "{html:.2000}");
    let mut confirm = confirm_fields(&html);
    confirm.push(("csrf_token".into(), csrf));
    let resp = app.post_form(&url, &confirm).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    change_id_of(&resp)
}

#[tokio::test]
async fn a_revert_restores_each_lines_old_nickname_one_call_per_value_and_reverts_again() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let lines = mdns(&app, 3).await;
    finished(
        &db,
        change(&app, "nickname", &lines[..2], &[("nickname", "Alpha")]).await,
    )
    .await;
    finished(
        &db,
        change(&app, "nickname", &lines[2..], &[("nickname", "Beta")]).await,
    )
    .await;
    let id = change(&app, "nickname", &lines, &[("nickname", "Gamma")]).await;
    assert_eq!(finished(&db, id).await.changed, 3);
    assert!(lines.iter().all(|m| nickname(&app, m) == "Gamma"));

    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains(r#"id="revert-form""#), "{page:.2000}");
    app.sim.sim.clear_requests();
    let csrf = app.csrf().await;
    let preview = app
        .post_csrf(&format!("/changes/{id}/revert"), &csrf)
        .await
        .text()
        .await
        .expect("preview");
    assert!(
        preview.contains("“Alpha”</strong>: 2 lines"),
        "{preview:.3000}"
    );
    assert!(
        preview.contains("“Beta”</strong>: 1 line"),
        "{preview:.3000}"
    );
    assert!(
        app.sim.api_requests_to("PUT", "/nickname").is_empty(),
        "a preview sends nothing"
    );

    let back = revert(&app, id).await;
    let set = finished(&db, back).await;
    assert_eq!((set.total_lines, set.changed), (3, 3), "{set:?}");
    assert_eq!(set.origin, Origin::Revert);
    assert_eq!(set.parent_id, Some(id));
    assert_eq!(nickname(&app, &lines[0]), "Alpha");
    assert_eq!(nickname(&app, &lines[1]), "Alpha");
    assert_eq!(nickname(&app, &lines[2]), "Beta");
    assert_eq!(
        app.sim.api_requests_to("PUT", "/nickname").len(),
        2,
        "one upstream call per value restored"
    );
    let csv = app.get_text(&format!("/changes/{back}/lines.csv")).await;
    assert!(csv.contains("Gamma,Alpha,changed"), "{csv}");

    // The revert's lines have their before-values too: reverting it puts "Gamma" back.
    app.sim.sim.clear_requests();
    let again = revert(&app, back).await;
    let set = finished(&db, again).await;
    assert_eq!(set.changed, 3, "{set:?}");
    assert!(lines.iter().all(|m| nickname(&app, m) == "Gamma"));
    assert_eq!(app.sim.api_requests_to("PUT", "/nickname").len(), 1);
}

#[tokio::test]
async fn removing_labels_cannot_be_reverted_and_says_why() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let lines = mdns(&app, 2).await;
    let id = change(&app, "delete-labels", &lines, &[]).await;
    finished(&db, id).await;
    app.sim.sim.clear_requests();
    let csrf = app.csrf().await;
    let resp = app
        .post_form(
            &format!("/changes/{id}/revert"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.expect("body");
    assert!(
        body.contains("Removing labels cannot be undone through this API"),
        "{body:.2000}"
    );
    assert!(
        app.sim
            .api_requests_to("DELETE", "/bulkDeleteLabels")
            .is_empty(),
        "nothing sent"
    );
}

#[tokio::test]
async fn a_reader_is_offered_a_request_a_forged_revert_sends_nothing_and_csrf_is_required() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let lines = mdns(&app, 2).await;
    let id = change(&app, "nickname", &lines, &[("nickname", "Spare")]).await;
    finished(&db, id).await;
    let url = format!("/changes/{id}/revert");
    app.sim.sim.clear_requests();
    // Without the CSRF token it is refused.
    assert_eq!(
        app.post_form(&url, &[("confirmed", "true")]).await.status(),
        403
    );
    let reader = app.session_as("readonly").await;
    let page = reader.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains(r#"id="change-facts""#), "{page:.1500}");
    // A user who may only request a rename is offered to ask for the revert, never to send it.
    assert!(
        page.contains("Request a revert of the 2 lines changed…"),
        "{page:.3000}"
    );
    let csrf = reader.csrf().await;
    let resp = reader
        .post_form(
            &url,
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    // Confirmed without the reason a request needs: refused, nothing sent.
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Say why you ask"));
    assert!(
        app.sim.api_requests_to("PUT", "/nickname").is_empty(),
        "nothing sent"
    );
}

const DISTRICT: &str = "NORTHSTAR-ISD";
const HIGH_SCHOOL: &str = "NORTHSTAR-ISD-HS";

/// `super` moves the first two lines of the district to the high school; gives them and the change.
async fn moved_to_high_school(app: &TestApp, db: &Db) -> (Vec<String>, Uuid) {
    app.sign_in("super").await;
    let mut lines = list_mdns(&app.get_text(&format!("/devices/{DISTRICT}?limit=2")).await);
    lines.truncate(2);
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([("deviceGroup", HIGH_SCHOOL), ("confirmed", "true")]);
    let resp = app
        .post_action(DISTRICT, "device-group", &form, &csrf)
        .await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    assert_eq!(finished(db, id).await.changed, 2);
    for m in &lines {
        assert!(app.sim.sim.device(HIGH_SCHOOL, m).is_some(), "{m} moved");
    }
    (lines, id)
}

#[tokio::test]
async fn a_move_is_reverted_from_the_group_the_lines_went_to() {
    let app = spawn_app().await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let (lines, id) = moved_to_high_school(&app, &db).await;

    // `tech` may open both groups: the preview says where the lines are and where they go back.
    let tech = app.session_as("tech").await;
    let csrf = tech.csrf().await;
    let url = format!("/changes/{id}/revert");
    let preview = tech.post_csrf(&url, &csrf).await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("preview");
    assert_eq!(
        texts(&html, "#revert-values li"),
        vec![format!("“{DISTRICT}”: 2 lines")],
        "{html:.3000}"
    );
    assert!(
        texts(&html, "#revert-count")[0].contains(&format!("2 lines in {HIGH_SCHOOL} back")),
        "{html:.3000}"
    );
    app.sim.sim.clear_requests();
    let mut confirm = confirm_fields(&html);
    confirm.push(("csrf_token".into(), csrf));
    let resp = tech.post_form(&url, &confirm).await;
    assert_eq!(resp.status(), 303);
    let back = change_id_of(&resp);
    let set = finished(&db, back).await;
    assert_eq!((set.total_lines, set.changed), (2, 2), "{set:?}");
    assert_eq!(set.origin, Origin::Revert);
    // Recorded in the group it was made from, and sent from there, once.
    assert_eq!(set.corp_id, HIGH_SCHOOL);
    let puts = app.sim.api_requests_to("PUT", "/deviceGroup");
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert!(
        puts[0].path.contains(&format!("/{HIGH_SCHOOL}/")),
        "{}",
        puts[0].path
    );
    assert!(puts[0].body.contains(DISTRICT), "{}", puts[0].body);
    for m in &lines {
        assert!(app.sim.sim.device(DISTRICT, m).is_some(), "{m} is back");
        assert!(app.sim.sim.device(HIGH_SCHOOL, m).is_none());
    }
    let csv = tech.get_text(&format!("/changes/{back}/lines.csv")).await;
    assert!(
        csv.contains(&format!("{HIGH_SCHOOL},{DISTRICT},changed")),
        "{csv}"
    );
}

#[tokio::test]
async fn a_move_is_not_reverted_by_someone_who_may_not_open_the_other_group() {
    let app = spawn_app().await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let (lines, id) = moved_to_high_school(&app, &db).await;

    // `limited` may open the district only: it sees the change, but cannot move the lines back.
    let limited = app.session_as("limited").await;
    assert_eq!(limited.get(&format!("/changes/{id}")).await.status(), 200);
    let csrf = limited.csrf().await;
    app.sim.sim.clear_requests();
    for confirmed in [false, true] {
        let mut form = vec![("csrf_token", csrf.as_str())];
        if confirmed {
            form.push(("confirmed", "true"));
        }
        let resp = limited
            .post_form(&format!("/changes/{id}/revert"), &form)
            .await;
        // The preview names the lines that cannot be put back and offers no confirmation;
        // a forged confirmation is refused.
        assert_eq!(resp.status(), if confirmed { 400 } else { 200 });
        let body = resp.text().await.expect("body");
        assert!(
            body.contains(&format!("The lines are in {HIGH_SCHOOL} now"))
                && body.contains("needs access to both groups"),
            "{body:.3000}"
        );
        if !confirmed {
            assert!(!body.contains(r#"id="confirm-form""#), "{body:.3000}");
            assert_eq!(texts(&body, "#revert-left-out li").len(), 1, "{body:.3000}");
        }
    }
    assert!(app.sim.api_requests_to("PUT", "/deviceGroup").is_empty());
    for m in &lines {
        assert!(app.sim.sim.device(HIGH_SCHOOL, m).is_some(), "{m} stays");
    }
}

/// A select-all records its result on the change set rather than on each line: its revert still
/// finds every changed line with its own value before.
#[tokio::test]
async fn a_select_all_change_is_reverted_line_by_line() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let matching = list_mdns(
        &app.get_text(&format!("/devices/{DISTRICT}?searchValue=Bus&limit=500"))
            .await,
    );
    assert!(matching.len() > 2, "{matching:?}");
    let nick = |m: &str| {
        app.sim
            .sim
            .device(DISTRICT, m)
            .expect("line")
            .nickname
            .unwrap_or_default()
    };
    let before: Vec<String> = matching.iter().map(|m| nick(m)).collect();
    let csrf = app.csrf().await;
    let form = [
        ("select_all", "true"),
        ("searchValue", "Bus"),
        ("nickname", "Fleet bus"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    let resp = app.post_action(DISTRICT, "nickname", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    let set = finished(&db, id).await;
    assert_eq!(set.changed as usize, matching.len(), "{set:?}");
    assert!(matching.iter().all(|m| nick(m) == "Fleet bus"));
    let page = app
        .get_text(&format!("/changes/{id}?part=lines&outcome=changed"))
        .await;
    assert!(page.contains(matching[0].as_str()), "{page:.2000}");

    let back = revert(&app, id).await;
    let set = finished(&db, back).await;
    assert_eq!(set.changed as usize, matching.len(), "{set:?}");
    let after: Vec<String> = matching.iter().map(|m| nick(m)).collect();
    assert_eq!(after, before);
}
