//! Issue 10, the self-service portal: landing, look-up by every identifier kind across the user's device
//! groups (and never outside them), the line card, direct changes through the action pipeline marked
//! "via portal" in the audit log, and CSRF on every POST.

use crate::helpers::*;

use sentinel_console::simulator::Device;

const CORP: &str = "NORTHSTAR-ISD";
const HS: &str = "NORTHSTAR-ISD-HS";

/// The `data-mdn` of the card on a portal page, if it shows one.
fn card_mdn(html: &str) -> Option<String> {
    attrs(html, "#line-card", "data-mdn").into_iter().next()
}

fn card_corp(html: &str) -> Option<String> {
    attrs(html, "#line-card", "data-corp").into_iter().next()
}

fn q(term: &str) -> String {
    format!(
        "/portal?{}",
        serde_urlencoded::to_string([("q", term)]).expect("qs")
    )
}

/// A line of `corp` that carries every identifier (IMEI, ICCID, EID, MAC, serial), read from the simulator.
async fn fully_identified_line(app: &TestApp, corp: &str) -> Device {
    let tech = app.session_as("tech").await;
    let html = tech.get_text(&format!("/devices/{corp}?limit=200")).await;
    list_mdns(&html)
        .iter()
        .filter_map(|m| app.sim.sim.device(corp, m))
        .find(|d| {
            d.eid.is_some()
                && d.mac.is_some()
                && d.oem_serial_number.is_some()
                && d.imei.is_some()
                && d.iccid.is_some()
        })
        .expect("a line with every identifier")
}

#[tokio::test]
async fn portal_users_land_on_the_portal_and_others_reach_it_from_the_header() {
    let app = spawn_app().await;
    for user in ["readonly", "media"] {
        let s = app.session_as(user).await;
        let resp = s.get("/").await;
        assert_eq!(location(&resp), "/portal", "{user}");
        let page = s.get_text("/portal").await;
        assert!(
            attrs(&page, "input#portal-q", "autofocus").len() == 1,
            "the box has focus"
        );
        assert_eq!(attrs(&page, "form#portal-search", "method"), vec!["get"]);
    }
    let tech = app.session_as("tech").await;
    let resp = tech.get("/").await;
    assert_ne!(header(&resp, "location"), "/portal");
    let page = tech.get_text("/audit").await;
    assert!(attrs(&page, "nav.top-nav a", "href").contains(&"/portal".to_owned()));
    assert_eq!(tech.get("/portal").await.status(), 200);
}

#[tokio::test]
async fn look_up_by_each_identifier_kind_opens_the_line() {
    let app = spawn_app().await;
    let d = fully_identified_line(&app, CORP).await;
    let media = app.session_as("media").await;
    let digits: String = d.mdn.chars().filter(char::is_ascii_digit).collect();
    let mac = d.mac.clone().unwrap();
    let kinds = [
        ("MDN", d.mdn.clone()),
        ("MDN digits (scanned)", digits.clone()),
        ("MDN with spaces", format!("  {digits}  ")),
        ("IMEI", d.imei.clone().unwrap()),
        ("ICCID", d.iccid.clone().unwrap()),
        ("EID", d.eid.clone().unwrap()),
        ("MAC", mac.clone()),
        ("MAC without colons", mac.replace(':', "").to_lowercase()),
        ("serial number", d.oem_serial_number.clone().unwrap()),
    ];
    for (kind, term) in kinds {
        let html = media.get_text(&q(&term)).await;
        assert_eq!(
            card_mdn(&html).as_deref(),
            Some(d.mdn.as_str()),
            "look-up by {kind} ({term}) should open {}",
            d.mdn
        );
    }
    // The vendor's example line by its nickname: its card, with its health check.
    let html = media.get_text(&q("Main Office Hotspot")).await;
    assert_eq!(card_mdn(&html).as_deref(), Some("521-267-1508"));
    assert_eq!(texts(&html, "#card-health h3"), vec!["Health check"]);
}

#[tokio::test]
async fn several_matches_show_a_short_list_of_cards_to_open() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    // Part of a nickname: many lines, listed (capped), each linking to its card.
    let html = media.get_text(&q("Bus")).await;
    assert!(card_mdn(&html).is_none());
    let links = attrs(&html, "#portal-matches a.match", "href");
    assert!(links.len() > 1 && links.len() <= 20, "{}", links.len());
    let first = &links[0];
    assert!(first.starts_with("/portal/"), "{first}");
    let card = media.get_text(first).await;
    assert!(card_mdn(&card).is_some(), "the list's link opens a card");
    // Nothing at all: said so, with what was searched.
    let html = media.get_text(&q("no-such-device-zz")).await;
    assert_eq!(texts(&html, "#portal-none strong").len(), 1);
}

#[tokio::test]
async fn a_user_with_several_groups_finds_lines_in_any_of_them_and_never_outside() {
    let app = spawn_app().await;
    let hs = fully_identified_line(&app, HS).await;
    let media = app.session_as("media").await;
    app.sim.sim.clear_requests();
    let html = media.get_text(&q(hs.iccid.as_deref().unwrap())).await;
    assert_eq!(card_mdn(&html).as_deref(), Some(hs.mdn.as_str()));
    assert_eq!(card_corp(&html).as_deref(), Some(HS));
    // Every group the user may open was searched, each once.
    let lists: Vec<String> = app
        .sim
        .api_calls()
        .into_iter()
        .filter(|c| c.starts_with("GET ") && c.contains("searchValue="))
        .collect();
    for g in [CORP, HS, "FLEET-LARGE"] {
        assert_eq!(
            lists
                .iter()
                .filter(|c| c.contains(&format!("/devices/{g}?")))
                .count(),
            1,
            "{g}: {lists:?}"
        );
    }

    // A user limited to one group never finds a line of another, and the other is never asked.
    let limited = app.session_as("limited").await;
    app.sim.sim.clear_requests();
    let html = limited.get_text(&q(hs.iccid.as_deref().unwrap())).await;
    assert!(card_mdn(&html).is_none());
    assert_eq!(texts(&html, "#portal-none strong").len(), 1);
    let calls = app.sim.api_calls();
    assert!(
        calls.iter().all(|c| !c.contains(HS)),
        "no call to {HS}: {calls:?}"
    );
    // Its card route for another group: 403 before any upstream call.
    app.sim.sim.clear_requests();
    let resp = limited.get(&format!("/portal/{HS}/{}", hs.mdn)).await;
    assert_eq!(resp.status(), 403);
    let resp = media.get(&format!("/portal/OTHER-GROUP/{}", hs.mdn)).await;
    assert_eq!(resp.status(), 403);
    assert!(app.sim.api_calls().is_empty(), "{:?}", app.sim.api_calls());
}

#[tokio::test]
async fn a_bad_look_up_is_a_clear_400() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    let resp = media.get(&q(&"9".repeat(101))).await;
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(body.contains("at most 100 characters"), "{body}");
    assert_eq!(media.get(&q("a\u{1}b")).await.status(), 400);
}

#[tokio::test]
async fn the_htmx_swap_is_the_same_markup_as_the_page() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    let path = q("521-267-1508");
    let page = media.get_text(&path).await;
    let resp = media.get_htmx(&path).await;
    assert!(header(&resp, "vary").contains("HX-Request"));
    let fragment = resp.text().await.unwrap();
    assert!(
        fragment
            .trim_start()
            .starts_with("<div id=\"portal-results\"")
    );
    assert!(!fragment.contains("<html"));
    let doc = scraper::Html::parse_document(&page);
    let in_page = doc
        .select(&selector("#portal-results"))
        .next()
        .expect("results in the page")
        .html();
    // Each answer masks the CSRF token afresh (issue 22, finding 2): compare around it.
    let norm = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        let marker = r#"name="csrf_token" type="hidden" value=""#;
        while let Some(at) = rest.find(marker) {
            let (head, tail) = rest.split_at(at + marker.len());
            out.push_str(head);
            rest = tail.find('"').map_or("", |end| &tail[end..]);
        }
        out.push_str(rest);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let frag_doc = scraper::Html::parse_fragment(&fragment);
    let in_frag = frag_doc
        .select(&selector("#portal-results"))
        .next()
        .expect("results in the fragment")
        .html();
    assert_eq!(norm(&in_page), norm(&in_frag));
}

#[tokio::test]
async fn readonly_sees_no_direct_action_and_may_request_the_common_changes() {
    let app = spawn_app().await;
    let ro = app.session_as("readonly").await;
    // The vendor's SmartSpot example line (it reports health and has settings).
    let html = ro.get_text(&q("521-267-1508")).await;
    assert_eq!(card_mdn(&html).as_deref(), Some("521-267-1508"));
    for control in [
        "#mdn-custom-field-form",
        "#card-smartspot-change",
        "#card-admin",
        "#line-card form",
        "#line-card button",
    ] {
        assert!(texts(&html, control).is_empty(), "readonly sees {control}");
    }
    // What it may not do, it may request: each link opens the request form for this line.
    let asks = texts(&html, "#card-request a");
    assert!(
        asks.iter().any(|a| a.contains("suspend or resume")),
        "{asks:?}"
    );
    let hrefs = attrs(&html, "#card-request a", "href");
    assert!(
        hrefs.iter().any(|h| h
            .starts_with(&format!("/devices/{CORP}/actions/status?mdns=521-267-1508"))
            && h.ends_with("via=portal")),
        "{hrefs:?}"
    );
    let form = ro.get_text(&hrefs[0]).await;
    assert!(form.contains("id=\"request-note\""), "{form}");
    // A direct change it may not request is refused, before any upstream call.
    let csrf = ro.page_csrf("/portal").await;
    app.sim.sim.clear_requests();
    let resp = ro
        .post_action(
            CORP,
            "mdn-custom-field",
            &[
                ("mdns", "521-267-1508"),
                ("mdnCustomField", "x"),
                ("via", "portal"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert!(app.sim.api_requests_to("PUT", "/mdnCustomField").is_empty());
}

#[tokio::test]
async fn media_center_changes_the_mdn_custom_field_from_the_card_marked_via_portal() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    let mdn = "304-228-6302";
    let card = media.get_text(&format!("/portal/{CORP}/{mdn}")).await;
    assert_eq!(card_mdn(&card).as_deref(), Some(mdn));
    // The card's one-line form, as a browser would post it.
    let action = attrs(&card, "#mdn-custom-field-form", "action");
    assert_eq!(
        action,
        vec![format!("/devices/{CORP}/actions/mdn-custom-field")]
    );
    let doc = scraper::Html::parse_document(&card);
    let mut form: Vec<(String, String)> = doc
        .select(&selector("#mdn-custom-field-form input"))
        .map(|i| {
            (
                i.value().attr("name").unwrap_or_default().to_owned(),
                i.value().attr("value").unwrap_or_default().to_owned(),
            )
        })
        .filter(|(k, _)| k != "mdnCustomField")
        .collect();
    form.push(("mdnCustomField".into(), "Library cart 7".into()));
    assert!(form.contains(&("via".into(), "portal".into())));
    assert!(form.contains(&("confirmed".into(), "true".into())));
    // Save: one line, one field, the value shown on the card: made at once through the same
    // pipeline, and back on the card ("Saved", with its undo).
    let resp = media.post_form(&action[0], &form).await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert!(
        to.starts_with(&format!("/portal/{CORP}/{mdn}?saved=")),
        "{to}"
    );
    assert_eq!(app.sim.api_requests_to("PUT", "/mdnCustomField").len(), 1);
    let d = app.sim.sim.device(CORP, mdn).unwrap();
    assert_eq!(d.mdn_custom_field.as_deref(), Some("Library cart 7"));
    // The card shows the new value.
    let card = media.get_text(&to).await;
    assert_eq!(texts(&card, "#card-saved strong"), vec!["Saved"]);
    assert_eq!(
        attrs(&card, "#card-mdnCustomField", "value"),
        vec!["Library cart 7"]
    );
    // The same audit log, marked via portal (page and CSV).
    let (records, _) = app.state.db.audit_list(&Default::default()).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].via.as_deref(), Some("portal"));
    assert_eq!(records[0].action, "mdn-custom-field");
    let audit = media.get_text("/audit").await;
    assert_eq!(texts(&audit, "#audit .badge-via"), vec!["via portal"]);
    let csv = media.get_text("/audit.csv").await;
    assert!(
        csv.lines().nth(1).unwrap_or_default().ends_with(",portal,"),
        "{csv}"
    );

    // A change from the admin console is not marked.
    let tech = app.session_as("tech").await;
    let csrf = tech.csrf().await;
    let resp = tech
        .post_action(
            CORP,
            "mdn-custom-field",
            &[
                ("mdns", mdn),
                ("mdnCustomField", "x"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert!(!location(&resp).contains("via="), "{}", location(&resp));
    let (records, _) = app.state.db.audit_list(&Default::default()).await.unwrap();
    assert_eq!(records[0].via, None);
    // Anything but "portal" in `via` is refused.
    let resp = tech
        .post_action(
            CORP,
            "mdn-custom-field",
            &[("mdns", mdn), ("mdnCustomField", "x"), ("via", "elsewhere")],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn smartspot_lines_show_their_settings_and_media_center_may_change_them() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    let mdn = "304-228-6302"; // a SmartSpot AOL-BYOD
    let card = media.get_text(&format!("/portal/{CORP}/{mdn}")).await;
    assert!(
        !texts(&card, "#card-smartspot dl").is_empty(),
        "settings shown"
    );
    assert!(!card.contains("wifiPassword") && !card.contains("demo-"));
    let href = attrs(&card, "#card-smartspot-change", "href");
    assert_eq!(href.len(), 1);
    assert!(href[0].ends_with("?via=portal"), "{}", href[0]);
    let form = media.get_text(&href[0]).await;
    assert!(
        attrs(&form, "#action-form input[name=via]", "value") == vec!["portal"],
        "the settings form carries via=portal"
    );
    let ro = app.session_as("readonly").await;
    let card = ro.get_text(&format!("/portal/{CORP}/{mdn}")).await;
    assert!(!texts(&card, "#card-smartspot dl").is_empty());
    assert!(texts(&card, "#card-smartspot-change").is_empty());
}

#[tokio::test]
async fn every_portal_post_needs_the_csrf_token() {
    let app = spawn_app().await;
    let media = app.session_as("media").await;
    let card = media
        .get_text(&format!("/portal/{CORP}/304-228-6302"))
        .await;
    let action = attrs(&card, "#mdn-custom-field-form", "action");
    for token in [None, Some("wrong")] {
        let mut form = vec![
            ("mdns", "304-228-6302"),
            ("mdnCustomField", "x"),
            ("via", "portal"),
            ("confirmed", "true"),
        ];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let resp = media.post_form(&action[0], &form).await;
        assert_eq!(resp.status(), 403, "{token:?}");
    }
    assert!(app.sim.api_requests_to("PUT", "/mdnCustomField").is_empty());
}
