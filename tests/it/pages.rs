//! The line page (the card, its actions on top, its history from change lines and select-all
//! blocks, all details folded), the portal's "Saved" with its undo, and a change confirmed after
//! the session ended elsewhere: kept, signed in again, its preview shown again, applied only then.

use crate::helpers::*;

const CORP: &str = "NORTHSTAR-ISD";

/// The line page's history rows: (title, before, after, outcome).
fn history(html: &str) -> Vec<(String, String, String, String)> {
    let doc = scraper::Html::parse_document(html);
    let text = |e: Option<scraper::ElementRef>| {
        e.map(|e| e.text().collect::<String>().trim().to_owned())
            .unwrap_or_default()
    };
    doc.select(&selector("#line-changes li.history-item"))
        .map(|li| {
            (
                text(li.select(&selector(".history-title")).next()),
                text(li.select(&selector(".history-before")).next()),
                text(li.select(&selector(".history-after")).next()),
                li.value()
                    .attr("data-outcome")
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_line_page_is_the_card_with_actions_on_top_and_every_change_that_touched_it() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let mdn = "304-228-6302";
    let path = format!("/devices/{CORP}/line/{mdn}");
    let before = app.sim.sim.device(CORP, mdn).expect("line").nickname;
    let html = app.get_text(&path).await;
    // The card (status, usage against limits), the actions above it, all details folded.
    assert_eq!(attrs(&html, "#line-card", "data-mdn"), vec![mdn]);
    assert!(!texts(&html, "#line-card #usage-month").is_empty());
    let actions = attrs(&html, "nav#change a[data-action]", "data-action");
    assert!(actions.contains(&"status".to_owned()), "{actions:?}");
    let hrefs = attrs(&html, "nav#change a[data-action=nickname]", "href");
    assert!(
        hrefs[0].contains("mdns=304-228-6302"),
        "pre-selected with this line: {hrefs:?}"
    );
    let (card_at, actions_at) = (
        html.find("id=\"line-card\"").expect("card"),
        html.find("id=\"change\"").expect("actions"),
    );
    assert!(actions_at < card_at, "the actions come first");
    assert!(html.contains("<details class=\"all-details\" id=\"all-details\">"));
    assert!(texts(&html, "#all-details #line-facts dt").contains(&"ICCID".to_owned()));
    assert_eq!(texts(&html, "#line-changes-none").len(), 1, "no change yet");

    // A change of this line alone, then one of all lines matching a search (stored in blocks).
    let csrf = app.csrf().await;
    let resp = app
        .post_action(
            CORP,
            "nickname",
            &[("mdns", mdn), ("nickname", "Bus 47"), ("confirmed", "true")],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 303);
    let first = change_id_of(&resp);
    finished_within(&app.state.db, first, 10).await;
    let resp = app
        .post_action(
            CORP,
            "nickname",
            &[
                ("select_all", "true"),
                ("searchValue", "Bus 47"),
                ("nickname", "Bus 48"),
                ("confirmed", "true"),
                ("acknowledged", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 303);
    let second = change_id_of(&resp);
    finished_within(&app.state.db, second, 10).await;

    let html = app.get_text(&path).await;
    let rows = history(&html);
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Newest first, each with its before → after and outcome, linked to its change set.
    assert_eq!(rows[0].1, "Bus 47");
    assert_eq!(rows[0].2, "Bus 48");
    assert_eq!(rows[0].3, "changed");
    let shown_before = before.unwrap_or_default();
    assert_eq!(
        rows[1].1,
        if shown_before.is_empty() {
            "empty".to_owned()
        } else {
            shown_before
        }
    );
    assert_eq!(rows[1].2, "Bus 47");
    assert_eq!(
        attrs(&html, "#line-changes a.history-title", "href"),
        vec![format!("/changes/{second}"), format!("/changes/{first}")]
    );
    // Another line's page does not list them.
    let other = app
        .get_text(&format!("/devices/{CORP}/line/521-267-1508"))
        .await;
    assert!(history(&other).is_empty());
}

#[tokio::test]
async fn a_portal_save_stays_on_the_card_with_saved_and_an_undo_through_a_revert() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    let mdn = "304-228-6302";
    let before = app
        .sim
        .sim
        .device(CORP, mdn)
        .expect("line")
        .mdn_custom_field
        .unwrap_or_default();
    let card = media.get_text(&format!("/portal/{CORP}/{mdn}")).await;
    let action = attrs(&card, "#mdn-custom-field-form", "action");
    let doc = scraper::Html::parse_document(&card);
    let mut form: Vec<(String, String)> = doc
        .select(&selector("#mdn-custom-field-form input[type=hidden]"))
        .map(|i| {
            (
                i.value().attr("name").unwrap_or_default().to_owned(),
                i.value().attr("value").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    form.push(("mdnCustomField".into(), "Library cart 7".into()));
    // Save: applied through the pipeline, and back on the card.
    let resp = media.post_form(&action[0], &form).await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(
        to.starts_with(&format!("/portal/{CORP}/{mdn}?saved=")),
        "{to}"
    );
    assert_eq!(app.sim.api_requests_to("PUT", "/mdnCustomField").len(), 1);
    let card = media.get_text(&to).await;
    assert_eq!(texts(&card, "#card-saved strong"), vec!["Saved"]);
    assert!(
        texts(&card, "#card-saved p")[0].contains("“Library cart 7”"),
        "{card}"
    );
    assert_eq!(
        attrs(&card, "#card-mdnCustomField", "value"),
        vec!["Library cart 7"]
    );
    // Undo: a revert of that change set, confirmed from the card, back on the card.
    let undo = attrs(&card, "#card-undo", "action");
    assert_eq!(undo.len(), 1, "an undo is offered");
    let doc = scraper::Html::parse_document(&card);
    let fields: Vec<(String, String)> = doc
        .select(&selector("#card-undo input[type=hidden]"))
        .map(|i| {
            (
                i.value().attr("name").unwrap_or_default().to_owned(),
                i.value().attr("value").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let resp = media.post_form(&undo[0], &fields).await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(
        to.starts_with(&format!("/portal/{CORP}/{mdn}?saved=")),
        "{to}"
    );
    let card = media.get_text(&to).await;
    assert_eq!(texts(&card, "#card-saved strong"), vec!["Put back"]);
    assert!(texts(&card, "#card-undo").is_empty(), "no undo of the undo");
    let now = app
        .sim
        .sim
        .device(CORP, mdn)
        .expect("line")
        .mdn_custom_field;
    assert_eq!(now.unwrap_or_default(), before);
    // Both are in the audit log, marked via portal.
    let (records, _) = app.state.db.audit_list(&Default::default()).await.unwrap();
    assert!(records.len() >= 2);
    assert!(
        records
            .iter()
            .take(2)
            .all(|r| r.via.as_deref() == Some("portal"))
    );
    // Someone else's change set id on the card says nothing.
    let tech = app.session_as("tech").await;
    let csrf = tech.csrf().await;
    let resp = tech
        .post_action(
            CORP,
            "nickname",
            &[("mdns", mdn), ("nickname", "x"), ("confirmed", "true")],
            &csrf,
        )
        .await;
    let theirs = change_id_of(&resp);
    let card = media
        .get_text(&format!("/portal/{CORP}/{mdn}?saved={theirs}"))
        .await;
    assert!(texts(&card, "#card-saved").is_empty());
}

#[tokio::test]
async fn a_change_confirmed_after_signing_out_elsewhere_waits_for_sign_in_and_a_fresh_confirm() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let mdn = "304-228-6302";
    let preview = app
        .post_action(
            CORP,
            "nickname",
            &[("mdns", mdn), ("nickname", "Kept bus")],
            &csrf,
        )
        .await
        .text()
        .await
        .unwrap();
    let confirm = confirm_fields(&preview);
    assert!(confirm.contains(&("confirmed".into(), "true".into())));
    // Signed out in another tab.
    let out = app
        .post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert!(out.status().is_redirection() || out.status().is_success());
    // Confirming the open preview: nothing is sent; the page says what happened.
    let mut form = confirm.clone();
    form.push(("csrf_token".into(), csrf.clone()));
    let resp = app
        .client
        .post(app.url(&format!("/devices/{CORP}/actions/nickname")))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let html = resp.text().await.unwrap();
    assert_eq!(
        texts(&html, ".error-page h1"),
        vec!["You were signed out — sign in to finish this change"]
    );
    let sign_in = attrs(&html, ".way-on a", "href");
    assert!(
        sign_in
            .iter()
            .any(|h| h.contains("next=%2Fchanges%2Fresume")),
        "{sign_in:?}"
    );
    assert!(app.sim.api_requests_to("PUT", "/nickname").is_empty());
    // Signing in leads to the same preview, and still nothing is sent.
    let landing = app.sign_in_to("tech", "/changes/resume").await;
    assert_eq!(landing.status(), 200);
    let again = landing.text().await.unwrap();
    let fields = confirm_fields(&again);
    assert!(fields.contains(&("nickname".into(), "Kept bus".into())));
    assert!(fields.contains(&("mdns".into(), mdn.into())));
    assert!(app.sim.api_requests_to("PUT", "/nickname").is_empty());
    // It opens once.
    let twice = app.get("/changes/resume").await;
    assert_eq!(twice.status(), 303);
    // A fresh confirm makes it.
    let csrf = extract_meta_csrf(&again).expect("csrf");
    let resp = app
        .post_action(CORP, "nickname", &as_pairs(&fields), &csrf)
        .await;
    assert_eq!(resp.status(), 303);
    finished_within(&app.state.db, change_id_of(&resp), 10).await;
    assert_eq!(app.sim.api_requests_to("PUT", "/nickname").len(), 1);
    // A form from another site (no same-origin mark) is not kept: the usual refusal.
    let stranger = app.new_session();
    let resp = stranger
        .post_form(
            &format!("/devices/{CORP}/actions/nickname"),
            &[("mdns", mdn), ("nickname", "x"), ("confirmed", "true")],
        )
        .await;
    assert_eq!(resp.status(), 403);
    let resp = stranger.get("/changes/resume").await;
    assert!(resp.status().is_redirection());
    assert!(location(&resp).starts_with("/login"), "{}", location(&resp));
}
