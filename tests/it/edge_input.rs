//! Bad input refused at the edge, before it costs anything or reaches a database: control
//! characters in any form or query value (a clear 400 on SQLite and PostgreSQL alike, nothing
//! changed), and a huge form of IMEIs refused at the cap without quadratic work.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::domain::luhn_check_digit;
use sentinel_console::storage::changes::ChangeState;

const CORP: &str = "NORTHSTAR-ISD";
const REFUSED: &str = "contains a control character";

/// `resp` is a 400 whose page says which field holds the control character.
async fn refused(resp: reqwest::Response, what: &str, field: &str) {
    assert_eq!(resp.status(), 400, "{what}");
    let body = resp.text().await.expect("body");
    assert!(
        body.contains(REFUSED) && body.contains(&format!("“{field}”")),
        "{what}: a clear message naming {field}: {body}"
    );
}

async fn control_characters_are_refused(database_url: String) {
    let sim = spawn_sim(default_sim_config()).await;
    let app = spawn_console(sim.clone(), config_for(&sim, &database_url)).await;
    let ro = app.session_as("readonly").await;
    let tech = app.session_as("tech").await;
    let mdns = list_mdns(&ro.get_text(&format!("/devices/{CORP}?limit=25")).await);
    // A request for tech to reject.
    let csrf = ro.csrf().await;
    let resp = ro
        .post_action(
            CORP,
            "status",
            &[
                ("mdns", mdns[0].as_str()),
                ("status", "SUSPENDED"),
                ("reason", "Lost on the bus"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    let id = change_id_of(&resp);
    let csrf = tech.csrf().await;
    let resp = tech
        .post_form(
            &format!("/changes/{id}/reject"),
            &[("csrf_token", csrf.as_str()), ("reason", "Not\0now")],
        )
        .await;
    refused(resp, "a reject reason with NUL", "reason").await;
    let c = stored_change(&app.state.db, id).await;
    assert_eq!(c.state, ChangeState::AwaitingApproval, "nothing decided");

    // A change's own text field, previewed or confirmed: nothing reaches Sentinel.
    app.sim.sim.clear_requests();
    for confirmed in ["false", "true"] {
        let resp = tech
            .post_action(
                CORP,
                "note",
                &[
                    ("mdns", mdns[1].as_str()),
                    ("note", "bad\u{1b}[31m"),
                    ("confirmed", confirmed),
                ],
                &csrf,
            )
            .await;
        refused(resp, "a note with ESC", "note").await;
    }
    assert!(app.sim.api_requests_to("PUT", "/note").is_empty());

    // Query values that reach SQL: the audit page, its CSV (a 400, not a body cut short), the
    // change lists.
    for (path, field) in [
        ("/audit?user=%00", "user"),
        ("/audit.csv?user=%00", "user"),
        ("/audit?corpId=NORTHSTAR%00", "corpId"),
        ("/changes?state=done%00", "state"),
        (&format!("/changes/{id}?outcome=%07"), "outcome"),
        ("/portal?q=%00", "q"),
    ] {
        refused(tech.get(path).await, path, field).await;
    }
    // Line ends and TABs are text a textarea holds: still accepted.
    let resp = tech
        .post_form(
            &format!("/changes/{id}/reject"),
            &[
                ("csrf_token", csrf.as_str()),
                ("reason", "Not now:\r\n\tafter exams"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(tech.get("/audit").await.status(), 200);
}

#[tokio::test]
async fn control_characters_are_refused_at_the_edge_on_sqlite() {
    control_characters_are_refused(sqlite_url()).await;
}

#[tokio::test]
async fn control_characters_are_refused_at_the_edge_on_postgres() {
    control_characters_are_refused(postgres_url().await).await;
}

/// A form of `n` distinct, valid IMEIs for the SmartSpot settings action.
fn imei_form(csrf: &str, n: u64) -> String {
    let mut body = format!("csrf_token={csrf}&ssid=Bus&maxClients=8&band=dual");
    for i in 0..n {
        let stem = format!("35{i:012}");
        body.push_str(&format!("&imeis={stem}{}", luhn_check_digit(&stem)));
    }
    body
}

async fn post_imeis(app: &TestApp, body: String) -> (u16, String) {
    let resp = app
        .client
        .post(app.url(&format!("/devices/{CORP}/actions/smartspot-settings")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        // Generous: the refusal takes milliseconds; the pairwise de-duplication it replaced
        // took tens of seconds.
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("an answer");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

#[tokio::test]
async fn a_huge_form_of_imeis_is_refused_at_the_cap() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    // 2 MB: over the form limit, refused before it is parsed.
    let body = imei_form(&csrf, 95_000);
    assert!(body.len() > 2_000_000);
    let (status, text) = post_imeis(&app, body).await;
    assert_eq!(status, 413);
    assert!(
        text.contains("The form is too large (limit 1 MiB)."),
        "{text}"
    );
    // Just under the limit: about 47,000 IMEIs, refused at the 501st.
    let body = imei_form(&csrf, 47_000);
    assert!(body.len() > 1_000_000 && body.len() < 1024 * 1024);
    let (status, text) = post_imeis(&app, body).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("At most 500 SmartSpot devices can be changed at once."),
        "{text}"
    );
    assert!(app.sim.api_requests_to("PUT", "/smartspot").is_empty());
}
