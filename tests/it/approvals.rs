//! Requests, approvals and scheduled changes (issue 9): a request waits and sends nothing; an
//! approval sends once with the approver's token; rejections, self-approval and approvers
//! without scope change nothing; the two-person rule; scheduled changes run once, on time, on
//! the sign-in kept (sealed) for them, late after a restart, never after a cancel, and wait for
//! a new sign-in when the grant is gone; requests expire.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::storage::Db;
use sentinel_console::storage::changes::{ChangeSet, ChangeState};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

const CORP: &str = "NORTHSTAR-ISD";

async fn lines(s: &Session, n: usize) -> Vec<String> {
    let mut m = list_mdns(&s.get_text(&format!("/devices/{CORP}?limit=25")).await);
    assert!(m.len() >= n, "{m:?}");
    m.truncate(n);
    m
}

/// Posts a confirmed status change of `mdns` with `extra` fields; answers the response.
async fn status_change(
    s: &Session,
    mdns: &[String],
    status: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = s.csrf().await;
    let mut form: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    form.push(("status", status));
    form.extend_from_slice(extra);
    form.extend([("confirmed", "true"), ("acknowledged", "true")]);
    s.post_action(CORP, "status", &form, &csrf).await
}

async fn get(db: &Db, id: Uuid) -> ChangeSet {
    stored_change(db, id).await
}

async fn until(db: &Db, id: Uuid, secs: u64, done: impl Fn(&ChangeSet) -> bool) -> ChangeSet {
    change_until(db, id, secs, "get there", done).await
}

fn status_writes(app: &TestApp) -> usize {
    app.sim.api_requests_to("PUT", "/status").len()
}

/// Posts a confirmed approval of change set `id` as `s`.
async fn approve(s: &Session, id: Uuid) -> reqwest::Response {
    let csrf = s.csrf().await;
    s.post_form(
        &format!("/changes/{id}/approve"),
        &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
    )
    .await
}

fn rfc3339_in(secs: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .format(&Rfc3339)
        .expect("format")
}

#[tokio::test]
async fn a_request_waits_and_an_approval_sends_it_once_with_the_approvers_token() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let mdns = lines(&ro, 3).await;

    // The form offers a request, with the reason it needs.
    let form = ro
        .get_text(&format!("/devices/{CORP}/actions/status?mdns={}", mdns[0]))
        .await;
    assert!(form.contains("id=\"request-note\""), "{form}");

    // No reason: the form again, nothing stored or sent.
    let resp = status_change(&ro, &mdns, "SUSPENDED", &[]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Say why you ask"));

    // The preview says it is a request and what the button does.
    let csrf = ro.csrf().await;
    let mut pv: Vec<(&str, &str)> = mdns.iter().map(|m| ("mdns", m.as_str())).collect();
    pv.extend([("status", "SUSPENDED"), ("reason", "Lost on the bus")]);
    let preview = ro
        .post_action(CORP, "status", &pv, &csrf)
        .await
        .text()
        .await
        .unwrap();
    assert!(preview.contains("Send the request"), "{preview}");
    assert!(preview.contains("id=\"preview-explain\""), "{preview}");

    let resp = status_change(&ro, &mdns, "SUSPENDED", &[("reason", "Lost on the bus")]).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    let c = get(&app.state.db, id).await;
    assert_eq!(c.state, ChangeState::AwaitingApproval);
    assert_eq!(c.total_lines, 3);
    assert_eq!(c.life.request_reason.as_deref(), Some("Lost on the bus"));
    assert_eq!(status_writes(&app), 0, "a request sends nothing");
    let page = ro.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains("Waiting for approval"), "{page}");
    assert!(
        !page.contains("id=\"approve-start\""),
        "the requester cannot approve"
    );

    // The technician's inbox counts it and lists it.
    let tech = app.session_as("tech").await;
    let inbox = tech.get_htmx("/changes/inbox").await.text().await.unwrap();
    assert!(inbox.contains("<span class=\"badge\">1</span>"), "{inbox}");
    let waiting = tech.get_text("/changes?state=awaiting_approval").await;
    assert!(waiting.contains(&id.to_string()), "{waiting}");

    // Approve: first a fresh preview of current values (nothing sent), then the change.
    let page = tech.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains("id=\"approve-start\""), "{page}");
    let csrf = tech.csrf().await;
    let preview = tech
        .post_csrf(&format!("/changes/{id}/approve"), &csrf)
        .await;
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.unwrap();
    assert!(preview.contains("Lost on the bus"), "{preview}");
    assert!(
        preview.contains("id=\"preview\""),
        "current values listed: {preview}"
    );
    assert_eq!(status_writes(&app), 0, "the approval preview sends nothing");

    let resp = approve(&tech, id).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let c = until(&app.state.db, id, 20, |c| c.state.is_finished()).await;
    assert_eq!(c.state, ChangeState::Done, "{:?}", c.message);
    assert_eq!(c.changed, 3);
    assert_eq!(c.life.decided_by.as_deref(), Some("tech"));
    let writes = app.sim.api_requests_to("PUT", "/status");
    assert_eq!(writes.len(), 1, "one upstream write");
    // Sentinel refuses readonly's token for writes: the change went with the technician's.
    assert!(writes[0].authorization.is_some());
    let now = app
        .sim
        .sim
        .device(CORP, &mdns[0])
        .unwrap()
        .status
        .unwrap_or_default();
    assert!(now.eq_ignore_ascii_case("SUSPENDED"), "{now}");

    // The requester sees it done, with who approved it, and news in the header.
    let page = ro.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains("Approved by"), "{page}");
    let news = ro.get_htmx("/changes/inbox").await.text().await.unwrap();
    assert!(news.contains("was approved and is done"), "{news}");
    let mine = ro.get_text("/changes?mine=1").await;
    assert!(mine.contains(&id.to_string()));

    // Approving again changes nothing.
    let again = approve(&tech, id).await;
    assert_eq!(again.status(), 400);
    assert_eq!(app.sim.api_requests_to("PUT", "/status").len(), 1);

    // Every step is in the audit log with who did it.
    let (records, _) = app
        .state
        .db
        .audit_list(&Default::default())
        .await
        .expect("audit");
    let events: Vec<(Option<String>, String)> = records
        .iter()
        .filter(|r| r.job_id.as_deref() == Some(id.to_string().as_str()))
        .map(|r| (r.event.clone(), r.subject.clone()))
        .collect();
    assert!(
        events.contains(&(Some("requested".into()), "readonly".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&(Some("approved".into()), "tech".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&(None, "tech".into())),
        "the change itself: {events:?}"
    );
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_sends_nothing() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let mdns = lines(&ro, 2).await;
    let resp = status_change(&ro, &mdns, "SUSPENDED", &[("reason", "Summer")]).await;
    let id = change_id_of(&resp);
    let tech = app.session_as("tech").await;
    let csrf = tech.csrf().await;
    let no_reason = tech
        .post_csrf(&format!("/changes/{id}/reject"), &csrf)
        .await;
    assert_eq!(no_reason.status(), 400);
    // CSRF is checked on every decision.
    let forged = tech
        .post_form(&format!("/changes/{id}/reject"), &[("reason", "x")])
        .await;
    assert_eq!(forged.status(), 403);
    let resp = tech
        .post_form(
            &format!("/changes/{id}/reject"),
            &[
                ("csrf_token", csrf.as_str()),
                ("reason", "Not during exams"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let c = get(&app.state.db, id).await;
    assert_eq!(c.state, ChangeState::Rejected);
    assert_eq!(status_writes(&app), 0);
    let page = ro.get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains("Rejected by") && page.contains("Not during exams"),
        "{page}"
    );
    // A rejected request cannot be approved after all.
    let late = approve(&tech, id).await;
    assert_eq!(late.status(), 400);
    assert_eq!(status_writes(&app), 0);
}

#[tokio::test]
async fn approvers_need_the_scope_and_nobody_approves_their_own_change() {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.approval_required_above = Some(2)
    })
    .await;
    let tech = app.session_as("tech").await;
    let mdns = lines(&tech, 3).await;
    // Three lines is above the two-person threshold: it waits for a second admin.
    let resp = status_change(&tech, &mdns, "SUSPENDED", &[]).await;
    assert_eq!(resp.status(), 303);
    let id = change_id_of(&resp);
    assert_eq!(
        get(&app.state.db, id).await.state,
        ChangeState::AwaitingApproval
    );
    assert_eq!(status_writes(&app), 0);
    // Two lines is not above it: applied at once.
    let small = status_change(&tech, &mdns[..2], "ACTIVE", &[]).await;
    let small = until(&app.state.db, change_id_of(&small), 20, |c| {
        c.state.is_finished()
    })
    .await;
    assert_eq!(small.state, ChangeState::Done);
    assert_eq!(status_writes(&app), 1);

    let own = approve(&tech, id).await;
    assert_eq!(own.status(), 403, "self-approval refused");
    let media = app.session_as("media").await;
    let unscoped = approve(&media, id).await;
    assert_eq!(
        unscoped.status(),
        403,
        "the media center may not change status"
    );
    assert_eq!(status_writes(&app), 1, "nothing sent by refused approvals");
    assert_eq!(
        get(&app.state.db, id).await.state,
        ChangeState::AwaitingApproval
    );

    let sup = app.session_as("super").await;
    let ok = approve(&sup, id).await;
    assert_eq!(ok.status(), 303);
    let c = until(&app.state.db, id, 20, |c| c.state.is_finished()).await;
    assert_eq!(c.state, ChangeState::Done);
    assert_eq!(status_writes(&app), 2);
}

#[tokio::test]
async fn a_scheduled_change_runs_once_on_time_on_its_sealed_grant() {
    let app = spawn_app().await;
    let tech = app.session_as("tech").await;
    let mdns = lines(&tech, 2).await;
    let at = rfc3339_in(3);
    let resp = status_change(
        &tech,
        &mdns,
        "SUSPENDED",
        &[("when", "later"), ("run_at", &at)],
    )
    .await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let id = change_id_of(&resp);
    let c = get(&app.state.db, id).await;
    assert_eq!(c.state, ChangeState::Scheduled);
    assert_eq!(status_writes(&app), 0);
    let page = tech.get_text(&format!("/changes/{id}")).await;
    assert!(page.contains("id=\"cancel-form\""), "{page}");
    assert!(page.contains("Schedule the reverse"), "{page}");

    // The kept sign-in is sealed: no token, role or name in clear in the database.
    let sealed = sealed_grants(&app.state.db).await;
    assert_eq!(sealed.len(), 1);
    assert!(sealed[0].starts_with("v2."), "{}", sealed[0]);
    for clear in ["access", "refresh", "org_tech", "tech"] {
        assert!(
            !sealed[0].contains(clear),
            "{clear} readable in {}",
            sealed[0]
        );
    }

    // Signing out does not stop it: it runs on the grant.
    let csrf = tech.csrf().await;
    tech.post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;

    let run_at = c.life.run_at.expect("run_at");
    let done = until(&app.state.db, id, 20, |c| c.state.is_finished()).await;
    assert_eq!(done.state, ChangeState::Done, "{:?}", done.message);
    let started = done.life.started_at.expect("started");
    assert!(started >= run_at, "not early");
    assert!(
        started - run_at < time::Duration::seconds(5),
        "within 5 s: {}",
        started - run_at
    );
    assert_eq!(status_writes(&app), 1);
    assert!(done.message.is_none(), "on time: {:?}", done.message);
}

async fn sealed_grants(db: &Db) -> Vec<String> {
    match db {
        Db::Sqlite(p) => {
            sqlx::query_scalar("SELECT sealed FROM grants")
                .fetch_all(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar("SELECT sealed FROM grants")
                .fetch_all(p)
                .await
        }
    }
    .expect("grants")
}

async fn move_run_at(db: &Db, id: Uuid, to: OffsetDateTime) {
    let at = to
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap();
    let sql = "UPDATE change_sets SET run_at = $1 WHERE id = $2";
    match db {
        Db::Sqlite(p) => sqlx::query(sql)
            .bind(at)
            .bind(id.to_string())
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql)
            .bind(at)
            .bind(id.to_string())
            .execute(p)
            .await
            .map(|_| ()),
    }
    .expect("update");
}

#[tokio::test]
async fn a_change_due_while_no_instance_ran_runs_at_the_next_start_and_says_it_ran_late() {
    // This console's scheduler only looks at start.
    let sim = spawn_sim(default_sim_config()).await;
    let db_url = sqlite_url();
    let mut cfg = config_for(&sim, &db_url);
    cfg.scheduler_tick = Duration::from_secs(3600);
    let a = spawn_console(sim.clone(), cfg).await;
    let tech = a.session_as("tech").await;
    let mdns = lines(&tech, 1).await;
    let resp = status_change(
        &tech,
        &mdns,
        "SUSPENDED",
        &[("when", "later"), ("run_at", &rfc3339_in(600))],
    )
    .await;
    let id = change_id_of(&resp);
    // It was due ten minutes ago, while no instance was running.
    move_run_at(
        &a.state.db,
        id,
        OffsetDateTime::now_utc() - time::Duration::minutes(10),
    )
    .await;
    assert_eq!(status_writes(&a), 0);
    // The next instance to start runs it.
    let b = spawn_console(sim.clone(), config_for(&sim, &db_url)).await;
    let done = until(&b.state.db, id, 20, |c| c.state.is_finished()).await;
    assert_eq!(done.state, ChangeState::Done);
    let msg = done.message.unwrap_or_default();
    assert!(msg.starts_with("Ran late"), "{msg}");
    assert_eq!(status_writes(&b), 1);
    let page = tech.at(&b.base).get_text(&format!("/changes/{id}")).await;
    assert!(page.contains("Ran late"), "{page}");
}

#[tokio::test]
async fn a_cancelled_change_never_runs_and_a_gone_grant_waits_for_sign_in() {
    let app = spawn_app().await;
    let tech = app.session_as("tech").await;
    let mdns = lines(&tech, 2).await;
    let resp = status_change(
        &tech,
        &mdns[..1],
        "SUSPENDED",
        &[("when", "later"), ("run_at", &rfc3339_in(2))],
    )
    .await;
    let cancelled = change_id_of(&resp);
    let csrf = tech.csrf().await;
    // Someone who may neither approve nor owns it cannot cancel it.
    let ro = app.session_as("readonly").await;
    let rcsrf = ro.csrf().await;
    let refused = ro
        .post_form(
            &format!("/changes/{cancelled}/cancel"),
            &[("csrf_token", rcsrf.as_str())],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let resp = tech
        .post_csrf(&format!("/changes/{cancelled}/cancel"), &csrf)
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        get(&app.state.db, cancelled).await.state,
        ChangeState::Cancelled
    );

    let resp = status_change(
        &tech,
        &mdns[1..],
        "SUSPENDED",
        &[("when", "later"), ("run_at", &rfc3339_in(2))],
    )
    .await;
    let orphan = change_id_of(&resp);
    // The identity provider ends the user's grants before it is due.
    app.sim.sim.revoke_user("tech");
    let c = until(&app.state.db, orphan, 20, |c| {
        c.state == ChangeState::NeedsSignIn
    })
    .await;
    assert!(c.message.unwrap_or_default().contains("Sign in again"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status_writes(&app), 0, "nothing sent for either");
    assert_eq!(
        get(&app.state.db, cancelled).await.state,
        ChangeState::Cancelled
    );
    // Its owner sees it, signed in again.
    let again = app.session_as("tech").await;
    let page = again.get_text("/changes?state=needs_sign_in").await;
    assert!(page.contains(&orphan.to_string()), "{page}");
}

#[tokio::test]
async fn bad_times_are_refused_with_a_clear_message_and_nothing_stored() {
    let app = spawn_app().await;
    let tech = app.session_as("tech").await;
    let mdns = lines(&tech, 1).await;
    for (at, says) in [
        ("2020-01-01T10:00", "has passed"),
        ("soon", "not a date and time"),
        ("2099-01-01T10:00", "at most"),
    ] {
        let resp = status_change(
            &tech,
            &mdns,
            "SUSPENDED",
            &[("when", "later"), ("run_at", at)],
        )
        .await;
        assert_eq!(resp.status(), 400, "{at}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(says), "{at}: {body}");
    }
    let (sets, n) = app.state.db.change_list(&Default::default()).await.unwrap();
    assert_eq!(n, 0, "{sets:?}");
    // A local time with the browser's offset is stored in UTC.
    let local = (OffsetDateTime::now_utc() + time::Duration::hours(3))
        .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
    let text = local
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]"
        ))
        .unwrap();
    let resp = status_change(
        &tech,
        &mdns,
        "SUSPENDED",
        &[("when", "later"), ("run_at", &text), ("tz_offset", "120")],
    )
    .await;
    let c = get(&app.state.db, change_id_of(&resp)).await;
    let at = c.life.run_at.unwrap();
    assert!(
        (at - local).abs() < time::Duration::minutes(1),
        "{at} vs {local}"
    );
    // "Now" wins over a time left in the field.
    let resp = status_change(
        &tech,
        &mdns,
        "ACTIVE",
        &[("when", "now"), ("run_at", &text)],
    )
    .await;
    let c = until(&app.state.db, change_id_of(&resp), 20, |c| {
        c.state.is_finished()
    })
    .await;
    assert_eq!(c.state, ChangeState::Done);
}

#[tokio::test]
async fn requests_expire_after_their_time_to_live() {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.request_ttl = Duration::from_secs(1)
    })
    .await;
    let ro = app.session_as("readonly").await;
    let mdns = lines(&ro, 1).await;
    let resp = status_change(&ro, &mdns, "SUSPENDED", &[("reason", "Lost")]).await;
    let id = change_id_of(&resp);
    let c = until(&app.state.db, id, 20, |c| c.state == ChangeState::Cancelled).await;
    assert!(c.message.unwrap_or_default().starts_with("Expired"));
    assert_eq!(status_writes(&app), 0);
}

#[tokio::test]
async fn two_instances_on_postgres_run_a_due_change_exactly_once() {
    let sim = spawn_sim(default_sim_config()).await;
    let db_url = postgres_url().await;
    let a = spawn_console(sim.clone(), config_for(&sim, &db_url)).await;
    let b = spawn_console(sim.clone(), config_for(&sim, &db_url)).await;
    let tech = a.session_as("tech").await;
    let mdns = lines(&tech, 3).await;
    let mut ids = Vec::new();
    for m in &mdns {
        let resp = status_change(
            &tech,
            std::slice::from_ref(m),
            "SUSPENDED",
            &[("when", "later"), ("run_at", &rfc3339_in(2))],
        )
        .await;
        ids.push(change_id_of(&resp));
    }
    for id in &ids {
        let c = until(&b.state.db, *id, 30, |c| c.state.is_finished()).await;
        assert_eq!(c.state, ChangeState::Done, "{:?}", c.message);
    }
    assert_eq!(
        status_writes(&a),
        3,
        "each change exactly once across both instances"
    );
}

#[tokio::test]
async fn a_portal_request_leads_back_to_the_portal_and_is_listed_there() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let mdn = "304-228-6302";
    let card = ro.get_text(&format!("/portal/{CORP}/{mdn}")).await;
    let hrefs = attrs(&card, "#card-request a", "href");
    let status = hrefs
        .iter()
        .find(|h| h.contains("/actions/status"))
        .expect("a request link for the status");
    let form = ro.get_text(status).await;
    assert!(form.contains("id=\"request-note\""));
    let csrf = ro.csrf().await;
    let resp = ro
        .post_action(
            CORP,
            "status",
            &[
                ("mdns", mdn),
                ("status", "SUSPENDED"),
                ("reason", "Lost in the library"),
                ("via", "portal"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 303);
    let loc = location(&resp);
    assert!(loc.ends_with("?via=portal"), "{loc}");
    let id = change_id_of(&resp);
    assert_eq!(
        get(&app.state.db, id).await.state,
        ChangeState::AwaitingApproval
    );
    let portal = ro.get_text("/portal").await;
    let listed = texts(&portal, "#portal-requests li");
    assert!(
        listed
            .iter()
            .any(|l| l.contains("SUSPENDED") && l.contains("Awaiting approval")),
        "{listed:?}"
    );
    assert_eq!(status_writes(&app), 0);
}

#[tokio::test]
async fn a_request_for_a_time_runs_at_that_time_once_approved_on_the_approvers_sign_in() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let mdns = lines(&ro, 1).await;
    let at = rfc3339_in(4);
    let resp = status_change(
        &ro,
        &mdns,
        "SUSPENDED",
        &[("reason", "Summer"), ("when", "later"), ("run_at", &at)],
    )
    .await;
    let id = change_id_of(&resp);
    let tech = app.session_as("tech").await;
    let resp = approve(&tech, id).await;
    assert_eq!(resp.status(), 303);
    let c = get(&app.state.db, id).await;
    assert_eq!(
        c.state,
        ChangeState::Scheduled,
        "approved, waiting for its time"
    );
    assert!(c.life.grant_id.is_some());
    assert_eq!(status_writes(&app), 0);
    let done = until(&app.state.db, id, 20, |c| c.state.is_finished()).await;
    assert_eq!(done.state, ChangeState::Done, "{:?}", done.message);
    assert_eq!(status_writes(&app), 1);
    // The change itself is recorded as the approver's.
    let (records, _) = app.state.db.audit_list(&Default::default()).await.unwrap();
    let sent: Vec<_> = records
        .iter()
        .filter(|r| r.job_id.as_deref() == Some(id.to_string().as_str()) && r.event.is_none())
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "tech");
}

/// A user whose role may only request a change asks for its revert and its retry like for any
/// change: a preview that asks the reason, a request that sends nothing, and an approval that
/// sends it (issue 21: requests apply to retry and revert).
#[tokio::test]
async fn a_user_who_may_only_request_asks_for_a_revert_and_a_retry() {
    use sentinel_console::simulator::{Fault, FaultKind};
    use sentinel_console::storage::changes::Origin;

    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    let tech = app.session_as("tech").await;
    let mdns = lines(&ro, 3).await;
    let resp = status_change(&ro, &mdns, "SUSPENDED", &[("reason", "Lost on the bus")]).await;
    let id = change_id_of(&resp);
    assert_eq!(approve(&tech, id).await.status(), 303);
    let c = until(&app.state.db, id, 20, |c| c.state.is_finished()).await;
    assert_eq!((c.state, c.changed), (ChangeState::Done, 3));
    let writes = status_writes(&app);

    // The change page offers the revert as a request.
    let page = ro.get_text(&format!("/changes/{id}")).await;
    assert!(
        page.contains("Request a revert of the 3 lines changed…"),
        "{page}"
    );

    // Its preview says it is a request and asks why.
    let csrf = ro.csrf().await;
    let preview = ro.post_csrf(&format!("/changes/{id}/revert"), &csrf).await;
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.unwrap();
    assert!(preview.contains("Send the request"), "{preview}");
    assert!(preview.contains("id=\"f-reason\""), "{preview}");
    assert!(preview.contains("id=\"preview-explain\""), "{preview}");

    // Without a reason: the preview again, nothing stored or sent.
    let before = app
        .state
        .db
        .change_list(&Default::default())
        .await
        .unwrap()
        .1;
    let resp = ro
        .post_form(
            &format!("/changes/{id}/revert"),
            &[("csrf_token", csrf.as_str()), ("confirmed", "true")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Say why you ask"));
    assert_eq!(
        app.state
            .db
            .change_list(&Default::default())
            .await
            .unwrap()
            .1,
        before
    );

    // With one: a request of the revert, waiting, nothing sent.
    let resp = ro
        .post_form(
            &format!("/changes/{id}/revert"),
            &[
                ("csrf_token", csrf.as_str()),
                ("confirmed", "true"),
                ("reason", "Found on the bus"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let rid = change_id_of(&resp);
    let r = get(&app.state.db, rid).await;
    assert_eq!(r.state, ChangeState::AwaitingApproval);
    assert_eq!((r.origin, r.parent_id), (Origin::Revert, Some(id)));
    assert_eq!(r.life.request_reason.as_deref(), Some("Found on the bus"));
    assert_eq!(status_writes(&app), writes, "a request sends nothing");

    // The technician approves it: the lines are active again.
    assert_eq!(approve(&tech, rid).await.status(), 303);
    let r = until(&app.state.db, rid, 20, |c| c.state.is_finished()).await;
    assert_eq!(
        (r.state, r.changed),
        (ChangeState::Done, 3),
        "{:?}",
        r.message
    );
    for m in &mdns {
        let now = app
            .sim
            .sim
            .device(CORP, m)
            .unwrap()
            .status
            .unwrap_or_default();
        assert!(now.eq_ignore_ascii_case("ACTIVE"), "{m}: {now}");
    }

    // A change whose answer was lost: the retry of its unknown lines is a request too.
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(500),
        path_contains: Some("/status".into()),
        method: Some("PUT".into()),
        times: Some(1),
    });
    let resp = status_change(&ro, &mdns, "SUSPENDED", &[("reason", "Summer")]).await;
    let sid = change_id_of(&resp);
    assert_eq!(approve(&tech, sid).await.status(), 303);
    let s = until(&app.state.db, sid, 20, |c| c.state.is_finished()).await;
    assert_eq!(s.unknown, 3, "{:?}", s.message);
    let page = ro.get_text(&format!("/changes/{sid}")).await;
    assert!(
        page.contains("Request a retry of the 3 lines with an unknown outcome…"),
        "{page}"
    );
    let csrf = ro.csrf().await;
    let resp = ro
        .post_form(
            &format!("/changes/{sid}/retry"),
            &[
                ("csrf_token", csrf.as_str()),
                ("confirmed", "true"),
                ("reason", "Summer, again"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let tid = change_id_of(&resp);
    let t = get(&app.state.db, tid).await;
    assert_eq!(t.state, ChangeState::AwaitingApproval);
    assert_eq!((t.origin, t.parent_id), (Origin::Retry, Some(sid)));
    assert_eq!(approve(&tech, tid).await.status(), 303);
    let t = until(&app.state.db, tid, 20, |c| c.state.is_finished()).await;
    assert_eq!(
        (t.state, t.changed),
        (ChangeState::Done, 3),
        "{:?}",
        t.message
    );
}
