//! The change pipeline's remaining promises: a change whose sign-in is refused mid-run — an
//! explicit list or a select-all — waits for the user to sign in and send exactly the lines not
//! sent; a SmartSpot change runs as a durable job whose Wi-Fi password is sealed, then gone.
//! (Requesters asking for retries and reverts: `approvals.rs`.)

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::actions::jobs::is_not_sent;
use sentinel_console::storage::changes::{ChangeSet, ChangeState, LineState, Origin};
use uuid::Uuid;

const LARGE: &str = "FLEET-LARGE";

/// Waits (bounded) until change set `id` is at rest (finished, or stopped for a sign-in).
async fn at_rest(app: &TestApp, id: Uuid) -> ChangeSet {
    change_until(&app.state.db, id, 60, "come to rest", |c| c.at_rest()).await
}

/// Confirms the change page's "Send the lines not sent" of change set `id` (a retry of exactly
/// those lines); answers the new change set once it has finished.
async fn send_not_sent(app: &TestApp, id: Uuid, csrf: &str) -> ChangeSet {
    let done = app
        .post_form(
            &format!("/changes/{id}/retry"),
            &[
                ("csrf_token", csrf),
                ("not_sent", "true"),
                ("confirmed", "true"),
                ("acknowledged", "true"),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    finished_within(&app.state.db, change_id_of(&done), 60).await
}

/// The identity provider ends the user's sessions while 1,500 lines are being sent: the writes
/// in flight are refused (401) and the sign-in cannot be renewed, so nothing is applied. The change
/// waits in `needs_sign_in`, every line "not sent"; after signing in again, its page's one button
/// sends exactly those lines, as a retry, and every line changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_sign_in_mid_change_waits_for_the_user_to_finish_it() {
    let app = spawn_app_with(default_sim_config(), |_| {}).await;
    app.sign_in("super").await;
    let mut lines = Vec::new();
    while lines.len() < 1_500 {
        let page = list_mdns(
            &app.get_text(&format!(
                "/devices/{LARGE}?limit=500&offset={}",
                lines.len()
            ))
            .await,
        );
        assert!(!page.is_empty());
        lines.extend(page);
    }
    lines.truncate(1_500);
    let csrf = app.page_csrf(&format!("/devices/{LARGE}")).await;
    // Writes take a while (the simulator checks the token after the delay).
    app.sim
        .slow_writes("/nickname", Duration::from_millis(1_500));
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", "Finished later"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = app.post_action(LARGE, "nickname", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.sim.sim.revoke_user("super");

    let c = at_rest(&app, id).await;
    assert_eq!(c.state, ChangeState::NeedsSignIn, "{:?}", c.message);
    assert_eq!(
        (c.changed, c.failed, c.unknown),
        (0, 1_500, 0),
        "{:?}",
        c.message
    );
    let stored = app
        .state
        .db
        .change_lines_page(id, None, 0, 1_000)
        .await
        .expect("lines");
    // One page of the stored lines (a page holds at most 1,000): each not sent, and says so.
    assert_eq!(stored.len(), 1_000);
    for l in &stored {
        assert_eq!(l.outcome, LineState::Failed);
        let why = l.message.as_deref().unwrap_or_default();
        assert!(is_not_sent(why), "{}: {why}", l.mdn);
    }
    assert!(
        app.sim
            .sim
            .device(LARGE, &lines[0])
            .expect("line")
            .nickname
            .as_deref()
            != Some("Finished later")
    );

    // The console's session ended with the sign-in: the change page asks to sign in first.
    let page = app.get(&format!("/changes/{id}")).await;
    assert!(
        page.status().is_redirection(),
        "signed out: {}",
        page.status()
    );
    app.sim.sim.clear_faults();
    app.sign_in("super").await;
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains("Sign in to finish this change"),
        "{page:.2000}"
    );
    assert_eq!(
        attrs(&page, "#finish-form input[name=not_sent]", "value"),
        vec!["true"]
    );
    assert!(
        attrs(&page, "#retry-form", "action").is_empty(),
        "one button, not two"
    );
    let csrf = extract_meta_csrf(&page).expect("csrf");
    let retry = format!("/changes/{id}/retry");
    let preview = app
        .post_form(
            &retry,
            &[("csrf_token", csrf.as_str()), ("not_sent", "true")],
        )
        .await;
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.expect("preview");
    assert!(preview.contains("1500 lines"), "{preview:.3000}");
    let r = send_not_sent(&app, id, &csrf).await;
    assert_eq!(
        (r.changed, r.failed, r.unknown),
        (1_500, 0, 0),
        "{:?}",
        r.message
    );
    assert_eq!((r.origin, r.parent_id), (Origin::Retry, Some(id)));
    for m in [&lines[0], &lines[1_499]] {
        let line = app.sim.sim.device(LARGE, m).expect("line");
        assert_eq!(line.nickname.as_deref(), Some("Finished later"));
    }
}

/// A select-all whose bulk call is refused (401) after its lines were read, with a sign-in that
/// cannot be renewed, sends nothing and waits in `needs_sign_in`: its lines were read and stored,
/// so finishing it sends exactly those lines as a retry, not a new reading of the selection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_select_all_refused_mid_call_waits_for_the_user_to_finish_it() {
    const CORP: &str = "NORTHSTAR-ISD";
    let app = spawn_app_with(default_sim_config(), |c| {
        c.upstream_timeout = Duration::from_secs(20)
    })
    .await;
    app.sign_in("tech").await;
    let csrf = app.page_csrf(&format!("/devices/{CORP}")).await;
    // Longer than the confirmation waits for a select-all (3 s): it answers while the call is
    // still in flight.
    app.sim.slow_writes("/note", Duration::from_secs(5));
    let form = [
        ("select_all", "true"),
        ("note", "Finished after sign-in"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ];
    let resp = app.post_action(CORP, "note", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    // Once the lines are read (the call follows, slowed down; the simulator checks the token
    // after the delay), the provider ends the user's sessions.
    change_until(&app.state.db, id, 20, "read its lines", |c| {
        c.total_lines > 0
    })
    .await;
    app.sim.sim.revoke_user("tech");
    let c = at_rest(&app, id).await;
    assert_eq!(c.state, ChangeState::NeedsSignIn, "{:?}", c.message);
    assert!(c.total_lines > 0);
    assert_eq!((c.changed, c.failed, c.unknown), (0, c.total_lines, 0));
    let stored = app
        .state
        .db
        .change_lines_page(id, None, 0, 1_000)
        .await
        .expect("lines");
    assert!(
        stored
            .iter()
            .all(|l| is_not_sent(l.message.as_deref().unwrap_or_default())),
        "{stored:?}"
    );

    app.sim.sim.clear_faults();
    app.sign_in("tech").await;
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains("Sign in to finish this change"),
        "{page:.2000}"
    );
    let csrf = extract_meta_csrf(&page).expect("csrf");
    let r = send_not_sent(&app, id, &csrf).await;
    assert_eq!(
        (r.total_lines, r.changed, r.failed),
        (c.total_lines, c.total_lines, 0),
        "{:?}",
        r.message
    );
    assert_eq!((r.origin, r.parent_id), (Origin::Retry, Some(id)));
}

/// A SmartSpot change is a durable job like any other: the browser that gives up after one
/// second changes nothing, the Wi-Fi password waits sealed in the job's own row (never in the
/// clear, never in the payload) while the call runs, reaches Sentinel, and is gone once the job
/// has finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_smartspot_change_runs_as_a_job_whose_password_is_sealed_then_gone() {
    const CORP: &str = "NORTHSTAR-ISD";
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let imei = app.imei_of(CORP, "304-228-6302").await;
    let csrf = app.csrf().await;
    let secret = "Sealed-Pass-4711";
    app.sim
        .slow_writes("smartspot-settings", Duration::from_secs(2));
    let form = [
        ("imeis", imei.as_str()),
        ("ssid", "Bus-48"),
        ("wifiPassword", secret),
        ("maxClients", "9"),
        ("band", "dual"),
        ("hotspotEnabled", "true"),
        ("confirmed", "true"),
        ("csrf_token", csrf.as_str()),
    ];
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let sent = impatient
        .post(app.url(&format!("/devices/{CORP}/actions/smartspot-settings")))
        .header("cookie", app.cookie_header())
        .form(&form)
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up first");

    // While the call is in flight: the change set is stored, its password sealed for its job.
    let db = &app.state.db;
    let mut id = None;
    for _ in 0..100 {
        let (list, _) = db.change_list(&Default::default()).await.expect("list");
        if let Some(c) = list.into_iter().find(|c| c.action == "smartspot-settings") {
            id = Some(c.id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = id.expect("the change set was stored before anything was sent");
    let sealed = db
        .job_secret(id)
        .await
        .expect("read")
        .expect("sealed while running");
    assert!(!sealed.contains(secret), "never in the clear");
    let job = db.job_get(id).await.expect("read").expect("job");
    assert!(
        !job.payload.to_string().contains(secret),
        "never in the payload"
    );

    let c = finished_within(db, id, 60).await;
    assert_eq!(
        (c.state, c.changed),
        (ChangeState::Done, 1),
        "{:?}",
        c.message
    );
    let writes: Vec<_> = app
        .sim
        .sim
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("smartspot-settings"))
        .collect();
    assert_eq!(writes.len(), 1, "sent once");
    assert!(
        writes[0].body.contains(secret),
        "the password reaches Sentinel"
    );
    assert_eq!(
        db.job_secret(id).await.expect("read"),
        None,
        "gone once the job has finished"
    );
    let page = app.get_text(&format!("/changes/{id}")).await;
    assert!(!page.contains(secret));
    assert!(page.contains(r#"data-outcome="ok""#), "{page:.1500}");
}
