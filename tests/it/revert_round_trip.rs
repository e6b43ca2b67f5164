//! Issue 21: a change then its revert puts every line back exactly as it was, for every action
//! that can be reverted; statuses go back in the status operation's own vocabulary, and one that
//! cannot is named in the preview and not sent; the change page offers only what can work.

use crate::helpers::*;

use sentinel_console::actions::ActionKind;
use sentinel_console::storage::Db;
use serde_json::Value as Device;
use uuid::Uuid;

const CORP: &str = "NORTHSTAR-ISD";
const HIGH_SCHOOL: &str = "NORTHSTAR-ISD-HS";

/// A change to make, then revert.
struct Case {
    slug: &'static str,
    /// The demo user who makes both (summer usage needs a `kajeet_choice` account).
    user: &'static str,
    lines: usize,
    /// Which lines the change can be made to and put back from.
    fits: fn(&Device) -> bool,
    fields: fn(&Device) -> Vec<(&'static str, String)>,
    /// Where the change takes the lines (a move), when not their own group.
    moves_to: Option<&'static str>,
}

fn any(_: &Device) -> bool {
    true
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            slug: "status",
            user: "super",
            lines: 3,
            fits: |d| d["status"] == "active",
            fields: |_| vec![("status", "SUSPENDED".into()), ("reason", "Lost".into())],
            moves_to: None,
        },
        Case {
            slug: "nickname",
            user: "super",
            lines: 3,
            fits: |d| d["nickname"].as_str().is_some_and(|n| !n.is_empty()),
            fields: |_| vec![("nickname", "Round trip".into())],
            moves_to: None,
        },
        Case {
            slug: "note",
            user: "super",
            lines: 3,
            fits: any,
            fields: |_| vec![("note", "Round trip note".into())],
            moves_to: None,
        },
        Case {
            slug: "filter-group",
            user: "super",
            lines: 3,
            fits: |d| d["filterGroup"].as_str().is_some_and(|f| f != "Admin"),
            fields: |_| vec![("filterGroup", "Admin".into())],
            moves_to: None,
        },
        Case {
            slug: "device-group",
            user: "super",
            lines: 2,
            fits: any,
            fields: |_| vec![("deviceGroup", HIGH_SCHOOL.into())],
            moves_to: Some(HIGH_SCHOOL),
        },
        Case {
            slug: "data-limits",
            user: "super",
            lines: 3,
            fits: any,
            fields: |_| {
                vec![
                    ("monthlyLimit", "777".into()),
                    ("dailyLimitNone", "true".into()),
                ]
            },
            moves_to: None,
        },
        Case {
            slug: "summer-usage",
            user: "choice",
            lines: 3,
            fits: |d| d["summerStatus"] == "DISABLED",
            fields: |_| vec![("summerStatus", "ENABLED".into())],
            moves_to: None,
        },
        Case {
            slug: "mdn-custom-field",
            user: "super",
            lines: 3,
            fits: any,
            fields: |_| vec![("mdnCustomField", "RT-42".into())],
            moves_to: None,
        },
        Case {
            slug: "imei",
            user: "super",
            lines: 1,
            fits: |d| d["network"] == "ARCNT",
            fields: |_| {
                let body = "35000000000777";
                let check = sentinel_console::domain::luhn_check_digit(body);
                vec![("imei", format!("{body}{check}"))]
            },
            moves_to: None,
        },
    ]
}

/// A line as the simulator holds it (its wire form), in `corp`.
fn line(app: &TestApp, corp: &str, mdn: &str) -> Option<Device> {
    let d = app.sim.sim.device(corp, mdn)?;
    serde_json::to_value(d).ok()
}

fn mdn_of(d: &Device) -> &str {
    d["mdn"].as_str().unwrap_or_default()
}

/// Every line of the district, as the simulator holds it.
async fn district(app: &TestApp) -> Vec<Device> {
    let html = app.get_text(&format!("/devices/{CORP}?limit=500")).await;
    list_mdns(&html)
        .iter()
        .filter_map(|m| line(app, CORP, m))
        .collect()
}

/// The preview of a change set's retry or revert (`what`).
async fn preview_of(session: &Session, id: Uuid, what: &str, csrf: &str) -> String {
    let preview = session
        .post_form(&format!("/changes/{id}/{what}"), &[("csrf_token", csrf)])
        .await;
    assert_eq!(preview.status(), 200, "{what} of {id}");
    preview.text().await.expect("preview")
}

/// Previews a change set's retry or revert (`what`), then confirms it; returns the preview and
/// the new change set.
async fn preview_and_confirm(session: &Session, id: Uuid, what: &str) -> (String, Uuid) {
    let csrf = session.csrf().await;
    let url = format!("/changes/{id}/{what}");
    let html = preview_of(session, id, what, &csrf).await;
    let mut confirm = confirm_fields(&html);
    confirm.push(("acknowledged".into(), "true".into()));
    confirm.push(("csrf_token".into(), csrf));
    let resp = session.post_form(&url, &confirm).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    (html, change_id_of(&resp))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revertable_action_puts_every_line_back_as_it_was() {
    let app = spawn_app().await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let all = cases();
    // Every action that can be reverted has its case here (a new one must add its own).
    let covered: Vec<&str> = all.iter().map(|c| c.slug).collect();
    for kind in ActionKind::all() {
        assert!(
            kind.def().irreversible().is_some() || covered.contains(&kind.slug()),
            "{kind}: no round trip"
        );
    }
    app.sign_in("super").await;
    let mut pool = district(&app).await;
    for case in all {
        let session = app.session_as(case.user).await;
        let picked: Vec<Device> = pool
            .iter()
            .filter(|d| (case.fits)(d))
            .take(case.lines)
            .cloned()
            .collect();
        assert_eq!(picked.len(), case.lines, "{}: not enough lines", case.slug);
        pool.retain(|d| !picked.iter().any(|p| mdn_of(p) == mdn_of(d)));
        let fields = (case.fields)(&picked[0]);
        let csrf = session.csrf().await;
        let mut form: Vec<(&str, &str)> = picked.iter().map(|d| ("mdns", mdn_of(d))).collect();
        form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        form.extend([("confirmed", "true"), ("acknowledged", "true")]);
        let resp = session.post_action(CORP, case.slug, &form, &csrf).await;
        assert_eq!(
            resp.status(),
            303,
            "{}: {}",
            case.slug,
            resp.text().await.unwrap_or_default()
        );
        let id = change_id_of(&resp);
        let done = finished_within(&db, id, 60).await;
        assert_eq!(done.changed, case.lines as i64, "{}: {done:?}", case.slug);
        let now = case.moves_to.unwrap_or(CORP);
        for d in &picked {
            let changed = line(&app, now, mdn_of(d)).expect("line");
            assert_ne!(
                &changed,
                d,
                "{}: the change reached {}",
                case.slug,
                mdn_of(d)
            );
        }
        app.sim.sim.clear_requests();
        let (preview, back) = preview_and_confirm(&session, id, "revert").await;
        assert!(
            texts(&preview, "#revert-left-out li").is_empty(),
            "{}: {preview:.3000}",
            case.slug
        );
        let reverted = finished_within(&db, back, 60).await;
        assert_eq!(
            (reverted.changed, reverted.failed, reverted.unknown),
            (case.lines as i64, 0, 0),
            "{}: {reverted:?}",
            case.slug
        );
        for d in &picked {
            assert_eq!(
                line(&app, CORP, mdn_of(d)).as_ref(),
                Some(d),
                "{}: {} is not back as it was",
                case.slug,
                mdn_of(d)
            );
        }
    }
}

#[tokio::test]
async fn a_status_goes_back_in_the_operations_vocabulary_and_one_it_does_not_take_is_named() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let lines: Vec<String> = district(&app)
        .await
        .into_iter()
        .filter(|d| d["status"] == "active")
        .take(3)
        .map(|d| mdn_of(&d).to_owned())
        .collect();
    // Sentinel lists one of them as `deactivated`, a status its status operation does not take.
    assert!(app.sim.sim.set_status(CORP, &lines[2], "deactivated"));
    let csrf = app.csrf().await;
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([("status", "SUSPENDED"), ("confirmed", "true")]);
    let resp = app.post_action(CORP, "status", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    finished_within(&db, id, 60).await;
    app.sim.sim.clear_requests();
    let preview = preview_of(&app, id, "revert", &csrf).await;
    // Before confirming: the value sent is the operation's own, and the line that cannot be put
    // back is named with the reason.
    assert_eq!(texts(&preview, "#revert-values li"), ["“ACTIVE”: 2 lines"]);
    let left = texts(&preview, "#revert-left-out li");
    assert_eq!(left.len(), 1, "{preview:.3000}");
    assert!(
        left[0].contains("1 line cannot be put back")
            && left[0].contains(
                "“deactivated” is not one of the statuses Sentinel takes (ACTIVE, SUSPENDED)"
            )
            && left[0].contains(&lines[2]),
        "{left:?}"
    );
    assert!(app.sim.api_requests_to("PUT", "/status").is_empty());
    let mut confirm = confirm_fields(&preview);
    confirm.push(("csrf_token".into(), csrf.clone()));
    let resp = app
        .post_form(&format!("/changes/{id}/revert"), &confirm)
        .await;
    assert_eq!(resp.status(), 303);
    let back = finished_within(&db, change_id_of(&resp), 60).await;
    assert_eq!((back.changed, back.failed), (2, 0), "{back:?}");
    let sent = app.sim.api_requests_to("PUT", "/status");
    assert_eq!(sent.len(), 1, "one call per value");
    assert!(
        sent[0].body.contains(r#""status":"ACTIVE""#),
        "{}",
        sent[0].body
    );
    assert!(!sent[0].body.contains(&lines[2]), "{}", sent[0].body);
    for m in &lines[..2] {
        assert_eq!(line(&app, CORP, m).expect("line")["status"], "active");
    }
    // The status list was read once for the group and kept: a second preview reads it no more.
    let reads = |app: &TestApp| {
        app.sim
            .api_requests_to("GET", &format!("{CORP}/status"))
            .len()
    };
    let before = reads(&app);
    preview_of(&app, id, "revert", &csrf).await;
    assert_eq!(reads(&app), before, "the statuses are cached per group");
}

#[tokio::test]
async fn the_simulator_refuses_a_lower_case_status_as_sentinel_does() {
    let app = spawn_app().await;
    let token = app.sim.sim.issue_access_token("tech").expect("token");
    let resp = reqwest::Client::new()
        .put(
            app.sim
                .url(&format!("/sentinel/api/v1.0/devices/{CORP}/status")),
        )
        .bearer_auth(token)
        .json(&serde_json::json!({"mdns": ["521-267-1508"], "status": "active"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.expect("body");
    assert!(body.contains("not one of the possible statuses"), "{body}");
}

/// Issue 21: the change page shows only the retry and revert that can work, each saying what it
/// does: an action that cannot be undone says why instead; a revert's failed line can be retried
/// (each line with its own value), where that used to end on a bare 400.
#[tokio::test]
async fn the_change_page_offers_only_what_can_work_and_a_reverts_failed_line_is_retried() {
    let app = spawn_app().await;
    app.sign_in("super").await;
    let db = Db::connect(&app.database_url).await.expect("db");
    let named: Vec<Device> = district(&app)
        .await
        .into_iter()
        .filter(|d| d["nickname"].as_str().is_some_and(|n| !n.is_empty()))
        .take(3)
        .collect();
    let lines: Vec<&str> = named.iter().map(mdn_of).collect();
    let csrf = app.csrf().await;

    // Removing labels: no revert button, the reason instead.
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", *m)).collect();
    form.extend([("confirmed", "true"), ("acknowledged", "true")]);
    let resp = app.post_action(CORP, "delete-labels", &form, &csrf).await;
    let labels = change_id_of(&resp);
    finished_within(&db, labels, 60).await;
    let page = app.get_text(&format!("/changes/{labels}")).await;
    assert!(!page.contains(r#"id="revert-form""#), "{page:.3000}");
    assert!(!page.contains(r#"id="retry-form""#), "every line changed");
    assert_eq!(
        texts(&page, "#no-revert"),
        ["Removing labels cannot be undone through this API."]
    );

    // A rename, then its revert with one line refused by Sentinel.
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", *m)).collect();
    form.extend([("nickname", "Spare"), ("confirmed", "true")]);
    let resp = app.post_action(CORP, "nickname", &form, &csrf).await;
    let renamed = change_id_of(&resp);
    finished_within(&db, renamed, 60).await;
    let page = app.get_text(&format!("/changes/{renamed}")).await;
    assert_eq!(
        texts(&page, "#revert-form button"),
        ["Revert the 3 lines changed…"]
    );
    assert!(!page.contains(r#"id="retry-form""#), "nothing to retry");
    assert!(
        app.sim
            .sim
            .refuse_writes(CORP, lines[2], Some("Line locked"))
    );
    let session = app.session_as("super").await;
    let (_, back) = preview_and_confirm(&session, renamed, "revert").await;
    let reverted = finished_within(&db, back, 60).await;
    assert_eq!((reverted.changed, reverted.failed), (2, 1), "{reverted:?}");

    // The revert's page offers to retry the failed line, and says so; it works.
    let page = session.get_text(&format!("/changes/{back}")).await;
    assert_eq!(
        texts(&page, "#retry-form button"),
        ["Retry the line that failed…"],
        "{page:.3000}"
    );
    assert!(!texts(&page, "#retry-explain").is_empty());
    assert!(app.sim.sim.refuse_writes(CORP, lines[2], None));
    let (preview, again) = preview_and_confirm(&session, back, "retry").await;
    assert!(preview.contains(lines[2]), "{preview:.3000}");
    let retried = finished_within(&db, again, 60).await;
    assert_eq!((retried.changed, retried.failed), (1, 0), "{retried:?}");
    for d in &named {
        assert_eq!(
            line(&app, CORP, mdn_of(d)).expect("line")["nickname"],
            d["nickname"],
            "{} has its own name back",
            mdn_of(d)
        );
    }
}
