//! A confirmed change keeps its promises at the edges (contract section 5): a select-all runs as
//! a durable job that a stopped instance or a browser gone away cannot leave half done; a 401 on
//! a write renews the sign-in and sends that part once more; an approval applies exactly the
//! lines its preview showed; retry and revert follow the two-person rule like any change.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::simulator::{Fault, FaultKind, SimConfig};
use sentinel_console::storage::Db;
use sentinel_console::storage::changes::{ChangeSet, ChangeState};
use uuid::Uuid;

const CORP: &str = "NORTHSTAR-ISD";
const LARGE: &str = "FLEET-LARGE";

/// Every line of a finished change set has an outcome, and one audit entry records it.
async fn accounted(db: &Db, c: &ChangeSet) {
    assert!(c.state.is_finished(), "{:?}", c.state);
    assert!(c.total_lines > 0, "no line stored");
    assert_eq!(
        c.changed + c.failed + c.unknown,
        c.total_lines,
        "every line accounted for: {c:?}"
    );
    assert_eq!(audits(db, c.id).await, 1, "one audit entry for the change");
}

/// The audit entries recording change set `id` being made (not its steps, such as approval).
async fn audits(db: &Db, id: Uuid) -> i64 {
    let sql = "SELECT COUNT(*) FROM audit_log WHERE job_id = $1 AND event IS NULL";
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql)
            .bind(id.to_string())
            .fetch_one(p)
            .await
            .expect("count"),
        Db::Postgres(p) => sqlx::query_scalar(sql)
            .bind(id.to_string())
            .fetch_one(p)
            .await
            .expect("count"),
    }
}

fn writes(sim: &TestSim, suffix: &str) -> usize {
    sim.api_requests_to("PUT", suffix).len()
}

/// A confirmed select-all note over every line of `corp`.
fn select_all_note(note: &str) -> Vec<(&'static str, String)> {
    vec![
        ("select_all", "true".into()),
        ("note", note.into()),
        ("confirmed", "true".into()),
        ("acknowledged", "true".into()),
    ]
}

async fn post_select_all(s: &Session, corp: &str, note: &str) -> reqwest::Response {
    let csrf = s.page_csrf(&format!("/devices/{corp}")).await;
    let form = select_all_note(note);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.post_action(corp, "note", &pairs, &csrf).await
}

async fn waits_until_sent(sim: &TestSim, suffix: &str) {
    for _ in 0..200 {
        if writes(sim, suffix) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the write never reached Sentinel");
}

/// Signs in on `a`, confirms a select-all note whose bulk call is slowed down, and kills `a`
/// once the call reached Sentinel. Returns the change set's id and the browser.
async fn select_all_then_kill(sim: &TestSim, a: &mut Instance) -> (Uuid, Session) {
    let at_a = Session::new(&a.base);
    assert_eq!(
        at_a.sign_in_to("tech", &format!("/devices/{CORP}"))
            .await
            .status(),
        200
    );
    sim.slow_writes("/note", Duration::from_secs(8));
    let resp = post_select_all(&at_a, CORP, "Durable").await;
    assert_eq!(resp.status(), 303, "answered before the call ends");
    let id = change_id_of(&resp);
    waits_until_sent(sim, "/note").await;
    a.kill();
    (id, at_a)
}

/// A select-all whose instance is killed while its bulk call is in flight is settled by the
/// other instance: its lines unknown (it may have been applied), never sent again, one audit entry.
#[tokio::test]
async fn a_select_all_killed_mid_call_is_settled_by_another_instance_on_postgres() {
    let sim = spawn_sim(default_sim_config()).await;
    let db_url = postgres_url().await;
    let mut a = Instance::start(config_for(&sim, &db_url)).await;
    let b = Instance::start(config_for(&sim, &db_url)).await;
    let (id, at_a) = select_all_then_kill(&sim, &mut a).await;

    let db = Db::connect(&db_url).await.expect("db");
    let c = finished_within(&db, id, 60).await;
    accounted(&db, &c).await;
    assert_eq!(c.total_lines, 499);
    assert_eq!(c.unknown, 499, "the call may have been applied: unknown");
    assert_eq!(writes(&sim, "/note"), 1, "never sent twice");
    // The page says what happened, on the instance that finished it.
    let page = at_a.at(&b.base).get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains("stopped while these lines were being sent"),
        "{page}"
    );
}

/// The same on the embedded SQLite: the instance restarted on the same file settles it.
#[tokio::test]
async fn a_select_all_killed_mid_call_is_settled_after_a_restart_on_sqlite() {
    let sim = spawn_sim(default_sim_config()).await;
    let db_url = sqlite_url();
    let mut a = Instance::start(config_for(&sim, &db_url)).await;
    let (id, _) = select_all_then_kill(&sim, &mut a).await;

    let _again = Instance::start(config_for(&sim, &db_url)).await;
    let db = Db::connect(&db_url).await.expect("db");
    let c = finished_within(&db, id, 60).await;
    accounted(&db, &c).await;
    assert_eq!(c.unknown, 499);
    assert_eq!(writes(&sim, "/note"), 1, "never sent twice");
}

/// A browser that goes away one second after confirming changes nothing: the change is made,
/// every line gets its result, the audit entry is written.
#[tokio::test]
async fn a_select_all_whose_browser_disconnects_after_one_second_finishes() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    app.sim.slow_writes("/note", Duration::from_secs(2));
    let csrf = app.page_csrf(&format!("/devices/{CORP}")).await;
    let form = select_all_note("Gone away");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut body: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    body.push(("csrf_token", csrf.as_str()));
    let sent = impatient
        .post(app.url(&format!("/devices/{CORP}/actions/note")))
        .header("cookie", app.cookie_header())
        .form(&body)
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up first");

    let db = Db::connect(&app.database_url).await.expect("db");
    let mut found = None;
    let filter = sentinel_console::storage::changes::ChangeFilter {
        corp_ids: None,
        subject: None,
        states: Vec::new(),
        offset: 0,
        limit: 10,
    };
    for _ in 0..100 {
        let (list, _) = db.change_list(&filter).await.expect("list");
        if let Some(c) = list.into_iter().find(|c| c.corp_id == CORP) {
            found = Some(c.id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = found.expect("the change set was stored before anything was sent");
    let c = finished_within(&db, id, 60).await;
    accounted(&db, &c).await;
    assert_eq!((c.state, c.changed), (ChangeState::Done, 499));
    // Issue 22, finding 11: a finished job no longer names the session it ran for.
    let job = db.job_get(id).await.expect("read").expect("job");
    assert!(job.state.is_finished());
    assert_eq!(
        job.session_id, None,
        "the session id is cleared when the job ends"
    );
    assert_eq!(writes(&app.sim, "/note"), 1);
    let line = app.sim.sim.device(
        CORP,
        &list_mdns(&app.get_text(&format!("/devices/{CORP}")).await)[0],
    );
    assert_eq!(line.expect("line").note.as_deref(), Some("Gone away"));
}

/// Tokens live 2 s and every write takes 1.5 s, so tokens run out in flight: each 401 renews
/// the sign-in and sends that chunk again, and all 6,000 lines change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_401_mid_change_renews_the_sign_in_and_every_line_changes() {
    let app = spawn_app_with(
        SimConfig {
            large_group_size: 6_000,
            token_ttl: Duration::from_secs(2),
            ..default_sim_config()
        },
        |_| {},
    )
    .await;
    app.sign_in("super").await;
    let mut lines = Vec::new();
    while lines.len() < 6_000 {
        let page = list_mdns(
            &app.get_text(&format!(
                "/devices/{LARGE}?limit=1000&offset={}",
                lines.len()
            ))
            .await,
        );
        assert!(!page.is_empty());
        lines.extend(page);
    }
    let csrf = app.page_csrf(&format!("/devices/{LARGE}")).await;
    // Every call is slow (the before-values' reads too), so a token is old when it arrives.
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Latency(Duration::from_millis(1_500)),
        path_contains: Some(format!("/devices/{LARGE}")),
        method: None,
        times: None,
    });
    let mut form: Vec<(&str, &str)> = lines.iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([
        ("nickname", "Renewed"),
        ("confirmed", "true"),
        ("acknowledged", "true"),
    ]);
    let resp = app.post_action(LARGE, "nickname", &form, &csrf).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    let c = finished_within(&app.state.db, id, 180).await;
    assert_eq!(
        (c.changed, c.failed, c.unknown),
        (6_000, 0, 0),
        "{:?}",
        c.message
    );
    let refused = app.sim.api_requests_to("PUT", "/nickname").len();
    assert!(
        refused > 12,
        "tokens did run out in flight ({refused} writes for 12 chunks)"
    );
}

/// Readonly asks for a note on every line matching `search`: a waiting change set's id.
async fn request_note_on_matches(ro: &Session, search: &str, note: &str) -> Uuid {
    let csrf = ro.page_csrf(&format!("/devices/{CORP}")).await;
    let resp = ro
        .post_action(
            CORP,
            "note",
            &[
                ("select_all", "true"),
                ("searchValue", search),
                ("note", note),
                ("reason", "Inventory"),
                ("confirmed", "true"),
                ("acknowledged", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 303);
    change_id_of(&resp)
}

/// An approver's preview of change set `id`: its page and the plan digest it carries.
async fn approval_preview(s: &Session, id: Uuid) -> (String, String) {
    let csrf = s.csrf().await;
    let page = s
        .post_csrf(&format!("/changes/{id}/approve"), &csrf)
        .await
        .text()
        .await
        .expect("preview");
    let digest = attrs(&page, "input[name=plan]", "value");
    assert_eq!(digest.len(), 1, "the preview carries what it showed");
    (page, digest[0].clone())
}

/// Confirms an approval with the digest of the preview it was made from.
async fn approve_as_shown(s: &Session, id: Uuid, digest: &str) -> reqwest::Response {
    let csrf = s.csrf().await;
    s.post_form(
        &format!("/changes/{id}/approve"),
        &[
            ("csrf_token", csrf.as_str()),
            ("confirmed", "true"),
            ("plan", digest),
        ],
    )
    .await
}

/// A select-all request is bound to the lines the approver's preview showed: lines renamed to
/// match afterwards are not touched, and a confirmation from an older preview is shown again.
#[tokio::test]
async fn an_approval_applies_exactly_the_lines_its_preview_showed() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let mdns = list_mdns(&ro.get_text(&format!("/devices/{CORP}")).await);
    rename_elsewhere(&app.sim, CORP, &mdns[0], "Zebra-Cart-1").await;
    let id = request_note_on_matches(&ro, "Zebra-Cart", "Bound").await;
    assert_eq!(
        app.state.db.change_get(id).await.unwrap().unwrap().state,
        ChangeState::AwaitingApproval
    );

    let tech = app.session_as("tech").await;
    let (preview, first) = approval_preview(&tech, id).await;
    assert!(preview.contains(&mdns[0]), "{preview}");
    // Five more lines match now (renamed in between): the approval must not widen.
    for m in &mdns[1..6] {
        rename_elsewhere(&app.sim, CORP, m, &format!("Zebra-Cart-{m}")).await;
    }
    // A confirmation without the preview's digest (a forged or stale one) is shown again.
    let tcsrf = tech.csrf().await;
    let stale = tech
        .post_form(
            &format!("/changes/{id}/approve"),
            &[("csrf_token", tcsrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(stale.status(), 200);
    assert!(
        stale
            .text()
            .await
            .unwrap()
            .contains("not what your earlier preview showed")
    );
    assert_eq!(
        writes(&app.sim, "/note"),
        0,
        "nothing sent from a stale preview"
    );
    // That second preview bound the six lines: the first preview's digest is refused too, and
    // shows the preview again.
    let old = approve_as_shown(&tech, id, &first).await;
    assert_eq!(old.status(), 200);
    let again = old.text().await.unwrap();
    let last = attrs(&again, "input[name=plan]", "value");
    // Confirming what was last shown applies exactly those lines.
    let done = approve_as_shown(&tech, id, &last[0]).await;
    assert_eq!(done.status(), 303);
    let c = finished_within(&app.state.db, id, 30).await;
    assert_eq!(c.total_lines, 6, "the lines the last preview showed");
    assert_eq!(c.changed, 6);
    let sent = app.sim.api_requests_to("PUT", "/note");
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].body.contains("bulkSelection"),
        "explicit lines: {}",
        sent[0].body
    );
}

/// An approval whose preview showed one line applies one line, even when more match by then.
#[tokio::test]
async fn a_select_all_request_never_widens_after_the_preview() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let mdns = list_mdns(&ro.get_text(&format!("/devices/{CORP}")).await);
    rename_elsewhere(&app.sim, CORP, &mdns[0], "Walrus-1").await;
    let id = request_note_on_matches(&ro, "Walrus", "One only").await;
    let tech = app.session_as("tech").await;
    let (_, digest) = approval_preview(&tech, id).await;
    for m in &mdns[1..6] {
        rename_elsewhere(&app.sim, CORP, m, &format!("Walrus-{m}")).await;
    }
    let done = approve_as_shown(&tech, id, &digest).await;
    assert_eq!(done.status(), 303);
    let c = finished_within(&app.state.db, id, 30).await;
    assert_eq!(
        (c.total_lines, c.changed),
        (1, 1),
        "the preview said one line"
    );
    for m in &mdns[1..6] {
        let d = app.sim.sim.device(CORP, m).expect("line");
        assert_ne!(
            d.note.as_deref(),
            Some("One only"),
            "{m} was not in the preview"
        );
    }
}

/// Retry and revert follow the two-person rule: a revert over the threshold waits for a second
/// admin, and nothing is sent until one approves it.
#[tokio::test]
async fn retry_and_revert_wait_for_a_second_admin_above_the_threshold() {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.approval_required_above = Some(3)
    })
    .await;
    let tech = app.session_as("tech").await;
    let mdns = list_mdns(&tech.get_text(&format!("/devices/{CORP}")).await);
    let csrf = tech.page_csrf(&format!("/devices/{CORP}")).await;
    // Three lines: not above the threshold, applied at once.
    let mut form: Vec<(&str, &str)> = mdns[..3].iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([("nickname", "Pair"), ("confirmed", "true")]);
    let resp = tech.post_action(CORP, "nickname", &form, &csrf).await;
    let first = change_id_of(&resp);
    let c = finished_within(&app.state.db, first, 30).await;
    assert_eq!(c.changed, 3);
    let sent = writes(&app.sim, "/nickname");

    // With four lines the change itself waits; approved by kajeet, it runs; then its revert
    // (four lines again) waits for a second admin too.
    let mut form: Vec<(&str, &str)> = mdns[3..7].iter().map(|m| ("mdns", m.as_str())).collect();
    form.extend([("nickname", "Quad"), ("confirmed", "true")]);
    let resp = tech.post_action(CORP, "nickname", &form, &csrf).await;
    let held = change_id_of(&resp);
    let other = app.session_as("super").await;
    let (_, digest) = approval_preview(&other, held).await;
    let ok = approve_as_shown(&other, held, &digest).await;
    assert_eq!(ok.status(), 303);
    let c = finished_within(&app.state.db, held, 30).await;
    assert_eq!(c.changed, 4);
    let sent_after = writes(&app.sim, "/nickname");
    assert_eq!(sent_after, sent + 1);

    let revert = tech
        .post_form(
            &format!("/changes/{held}/revert"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(revert.status(), 303);
    let rid = change_id_of(&revert);
    let r = app.state.db.change_get(rid).await.unwrap().unwrap();
    assert_eq!(r.state, ChangeState::AwaitingApproval, "the revert waits");
    assert_eq!(writes(&app.sim, "/nickname"), sent_after, "nothing sent");
    // Its own author cannot approve it.
    let own = tech
        .post_form(
            &format!("/changes/{rid}/approve"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(own.status(), 403);
}

/// A SmartSpot change is a job like the others: its instance killed while the call is in flight,
/// the other instance settles it (unknown: it may have been applied), never sends it again,
/// writes the one audit entry, and the Wi-Fi password sealed for it is gone.
#[tokio::test]
async fn a_smartspot_change_killed_mid_call_is_settled_and_its_password_deleted_on_postgres() {
    let sim = spawn_sim(default_sim_config()).await;
    let db_url = postgres_url().await;
    let mut a = Instance::start(config_for(&sim, &db_url)).await;
    let _b = Instance::start(config_for(&sim, &db_url)).await;
    let at_a = Session::new(&a.base);
    assert_eq!(
        at_a.sign_in_to("tech", &format!("/devices/{CORP}"))
            .await
            .status(),
        200
    );
    let imei = at_a.imei_of(CORP, "304-228-6302").await;
    sim.slow_writes("smartspot-settings", Duration::from_secs(8));
    let csrf = at_a.csrf().await;
    // The confirmation waits for a one-device change: it is sent from a task of its own.
    let posting = {
        let s = at_a.clone();
        tokio::spawn(async move {
            let form = [
                ("imeis", imei.as_str()),
                ("ssid", "Bus-49"),
                ("wifiPassword", "Killed-Pass-0815"),
                ("maxClients", "7"),
                ("band", "dual"),
                ("hotspotEnabled", "true"),
                ("confirmed", "true"),
            ];
            s.post_action(CORP, "smartspot-settings", &form, &csrf)
                .await
        })
    };
    waits_until_sent(&sim, "smartspot-settings").await;
    let db = Db::connect(&db_url).await.expect("db");
    let (list, _) = db.change_list(&Default::default()).await.expect("list");
    let id = list
        .iter()
        .find(|c| c.action == "smartspot-settings")
        .expect("stored before it was sent")
        .id;
    assert!(
        db.job_secret(id).await.expect("read").is_some(),
        "sealed while it runs"
    );
    a.kill();
    let _ = posting.await;

    let c = finished_within(&db, id, 60).await;
    accounted(&db, &c).await;
    assert_eq!(c.unknown, 1, "the call may have been applied: unknown");
    assert_eq!(writes(&sim, "smartspot-settings"), 1, "never sent twice");
    assert_eq!(
        db.job_secret(id).await.expect("read"),
        None,
        "the password is gone"
    );
}
