//! A tracked group's list filtered from its latest sample (issue 24, CONTRACT §6): the filtered
//! list equals the snapshot's lines, its "select all" sends exactly those lines as an explicit
//! list, and filters on an untracked group or with values no line has get a clear message.

use std::collections::BTreeSet;
use std::time::Duration;

use sentinel_console::storage::Db;

use crate::helpers::*;

/// The 24-line group the tests track.
const HS: &str = "NORTHSTAR-ISD-HS";

async fn start_tracking(app: &TestApp) {
    let csrf = app.csrf().await;
    let resp = app
        .post_form(
            &format!("/devices/{HS}/tracking"),
            &[("enabled", "true"), ("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(resp.status(), 303);
}

/// Waits for the group's first good sample (at most 20 s).
async fn first_sample(db: &Db) {
    for _ in 0..200 {
        if let Some(t) = db.usage_tracking(HS).await.expect("read") {
            let s = db.usage_samples(t.gid, 10).await.expect("samples");
            if s.iter().any(|s| s.ok) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no good sample within 20 s");
}

async fn app() -> TestApp {
    let app = spawn_app_with(default_sim_config(), |cfg| {
        cfg.usage.sample_every = Duration::from_secs(3600);
    })
    .await;
    app.sign_in("tech").await;
    app
}

/// The MDNs of the explicit `mdns` lists the simulator received on `PUT …/note`; panics on a
/// select-all body.
fn noted_mdns(app: &TestApp) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in app.sim.api_requests_to("PUT", "/note") {
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json body");
        assert!(
            v.get("bulkSelection").is_none(),
            "a filtered list never sends a select-all: {}",
            r.body
        );
        for m in v["mdns"].as_array().expect("explicit mdns") {
            out.insert(m.as_str().unwrap_or_default().to_owned());
        }
    }
    out
}

fn digits(m: &str) -> String {
    m.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test]
async fn the_filtered_list_is_the_snapshots_lines_and_select_all_sends_exactly_them() {
    let app = app().await;
    let all = list_mdns(&app.get_text(&format!("/devices/{HS}?limit=100")).await);
    assert!(all.len() >= 10, "{all:?}");
    // Suspended in the vendor's portal before the sample.
    for m in all.iter().step_by(4) {
        assert!(app.sim.sim.set_status(HS, m, "suspended"));
    }
    // Every suspended line (the group may have had some already).
    let status_of = |m: &str| {
        app.sim
            .sim
            .device(HS, m)
            .and_then(|d| d.status)
            .unwrap_or_default()
    };
    let suspended: BTreeSet<String> = all
        .iter()
        .filter(|m| status_of(m).eq_ignore_ascii_case("suspended"))
        .cloned()
        .collect();
    assert!(suspended.len() < all.len());
    start_tracking(&app).await;
    first_sample(&app.state.db).await;
    // After the sample, a line suspended now is not in the snapshot's list.
    let late = all
        .iter()
        .find(|m| !suspended.contains(*m))
        .cloned()
        .expect("an active line");
    assert!(app.sim.sim.set_status(HS, &late, "suspended"));

    let page = app
        .get_text(&format!("/devices/{HS}?status=SUSPENDED&limit=100"))
        .await;
    let shown: BTreeSet<String> = list_mdns(&page).into_iter().collect();
    assert_eq!(
        shown, suspended,
        "the snapshot's lines, compared without case"
    );
    assert_eq!(texts(&page, "#as-of time").len(), 1, "{page:.4000}");
    let chips = texts(&page, "a[data-filter-chip]");
    assert_eq!(chips.len(), 1);
    assert!(chips[0].contains("Status: SUSPENDED"), "{chips:?}");
    // The chip removes the filter; the controls offer the snapshot's values with counts.
    let remove = attrs(&page, "a[data-filter-chip]", "href");
    assert!(!remove[0].contains("status="), "{remove:?}");
    let options = texts(&page, "#snapshot-filters select[name=status] option");
    assert!(
        options
            .iter()
            .any(|o| o == &format!("suspended ({})", suspended.len())),
        "{options:?}"
    );
    assert_eq!(
        attrs(&page, "input[name=list_status]", "value"),
        ["SUSPENDED"]
    );
    assert!(
        texts(&page, "#export-link").is_empty(),
        "no export of the whole group"
    );

    // Two values of one field: any of them; paging keeps the filter.
    let both = app
        .get_text(&format!(
            "/devices/{HS}?status=suspended&status=active&limit=5"
        ))
        .await;
    assert_eq!(list_mdns(&both).len(), 5);
    let next = attrs(&both, "a[rel=next]", "href");
    assert!(
        next[0].contains("status=suspended") && next[0].contains("status=active"),
        "{next:?}"
    );

    // "Select all" with one line left unticked on the page: the form holds the snapshot's other
    // lines as an explicit list.
    let left_out = suspended.iter().next().cloned().expect("a line");
    let page_mdns: Vec<String> = suspended.iter().cloned().collect();
    let mut q: Vec<(String, String)> = vec![
        ("select_all".into(), "true".into()),
        ("list_status".into(), "SUSPENDED".into()),
        ("page_mdns".into(), page_mdns.join(",")),
    ];
    for m in suspended.iter().filter(|m| **m != left_out) {
        q.push(("mdns".into(), m.clone()));
    }
    let query = serde_urlencoded::to_string(&q).expect("query");
    let form = app
        .get_text(&format!("/devices/{HS}/actions/note?{query}"))
        .await;
    let expected: BTreeSet<String> = suspended
        .iter()
        .filter(|m| **m != left_out)
        .cloned()
        .collect();
    let held: BTreeSet<String> = attrs(&form, "input[type=hidden][name=mdns]", "value")
        .into_iter()
        .collect();
    assert_eq!(held, expected, "{form:.3000}");
    assert!(!form.contains("name=\"select_all\""), "{form:.3000}");

    // The change goes out for exactly those lines.
    let csrf = app.csrf().await;
    let mut post: Vec<(&str, &str)> = expected.iter().map(|m| ("mdns", m.as_str())).collect();
    post.push(("note", "Snapshot filter"));
    let preview = app.post_action(HS, "note", &post, &csrf).await;
    assert_eq!(preview.status(), 200);
    let mut confirm = confirm_fields(&preview.text().await.expect("preview"));
    confirm.push(("csrf_token".into(), csrf.clone()));
    confirm.push(("acknowledged".into(), "true".into()));
    let done = app
        .post_form(&format!("/devices/{HS}/actions/note"), &confirm)
        .await;
    assert_eq!(
        done.status(),
        303,
        "{}",
        done.text().await.unwrap_or_default()
    );
    finished_within(&app.state.db, change_id_of(&done), 20).await;
    let sent: BTreeSet<String> = noted_mdns(&app).iter().map(|m| digits(m)).collect();
    let want: BTreeSet<String> = expected.iter().map(|m| digits(m)).collect();
    assert_eq!(
        sent, want,
        "exactly the snapshot's matching lines reached Sentinel"
    );
    assert!(!sent.contains(&digits(&late)) && !sent.contains(&digits(&left_out)));

    // Posted straight to the action, a filtered select-all is still only a preview of the
    // snapshot's explicit lines.
    let direct = app
        .post_action(
            HS,
            "note",
            &[
                ("select_all", "true"),
                ("list_status", "suspended"),
                ("note", "x"),
                ("confirmed", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(direct.status(), 200, "a preview, not a change");
    let html = direct.text().await.expect("preview");
    let held: BTreeSet<String> = confirm_fields(&html)
        .into_iter()
        .filter(|(k, _)| k == "mdns")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(held, suspended);
}

#[tokio::test]
async fn filters_are_refused_clearly_on_an_untracked_group_and_for_values_no_line_has() {
    let app = app().await;
    let plain = app.get_text(&format!("/devices/{HS}")).await;
    assert!(
        !plain.contains("id=\"snapshot-filters\""),
        "not offered when untracked"
    );
    let resp = app.get(&format!("/devices/{HS}?status=active")).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.expect("page");
    assert!(
        text.contains("only while its usage is tracked"),
        "{text:.3000}"
    );

    start_tracking(&app).await;
    first_sample(&app.state.db).await;
    let page = app.get_text(&format!("/devices/{HS}")).await;
    assert!(page.contains("id=\"snapshot-filters\""), "{page:.3000}");
    assert_eq!(texts(&page, "#snapshot-filters time").len(), 1);

    for (q, says) in [
        ("status=lost", "Values seen"),
        ("network=", ""),
        (&format!("device={}", "x".repeat(101)), "longer than"),
    ] {
        let resp = app.get(&format!("/devices/{HS}?{q}")).await;
        if says.is_empty() {
            // An empty value is the controls' "any": the whole list.
            assert_eq!(resp.status(), 200, "{q}");
            continue;
        }
        assert_eq!(resp.status(), 400, "{q}");
        let text = resp.text().await.expect("page");
        assert!(text.contains(says), "{q}: {text:.3000}");
    }
    let resp = app
        .get(&format!(
            "/devices/{HS}/actions/note?select_all=true&list_status=lost"
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(app.sim.api_requests_to("PUT", "/note").is_empty());
}

#[tokio::test]
async fn the_overview_leads_to_the_history_and_the_portal_card_shows_the_strip() {
    let app = app().await;
    // Untracked: the overview offers tracking to an admin, not to a reader.
    let ov = app.get_text(&format!("/devices/{HS}/overview")).await;
    assert!(ov.contains("id=\"overview-tracking-start\""), "{ov:.3000}");
    assert!(!ov.contains("id=\"overview-idle-link\""));
    let ro = app.session_as("readonly").await;
    let ro_ov = ro.get_text(&format!("/devices/{HS}/overview")).await;
    assert!(ro_ov.contains("id=\"overview-usage\""), "{ro_ov:.3000}");
    assert!(!ro_ov.contains("id=\"overview-tracking-start\""));

    start_tracking(&app).await;
    first_sample(&app.state.db).await;
    let ov = app.get_text(&format!("/devices/{HS}/overview")).await;
    assert!(!ov.contains("id=\"overview-tracking-start\""));
    assert_eq!(
        attrs(&ov, "#overview-usage-link", "href"),
        [format!("/devices/{HS}/usage")]
    );
    assert_eq!(
        attrs(&ov, "#overview-idle-link", "href"),
        [format!("/devices/{HS}/usage/idle?idle_days=30")]
    );

    // The portal's card: the same strip as the line page.
    let mdn = list_mdns(&app.get_text(&format!("/devices/{HS}?limit=1")).await)
        .pop()
        .expect("a line");
    let card = ro.get_text(&format!("/portal?q={mdn}")).await;
    assert_eq!(
        texts(&card, "#line-card #line-history ol.strip li").len(),
        90
    );
    let used = texts(&card, "#line-card #used-days");
    assert!(used[0].starts_with("Used on"), "{used:?}");
    let line = app.get_text(&format!("/devices/{HS}/line/{mdn}")).await;
    assert_eq!(
        texts(&line, "#used-days"),
        used,
        "one fragment, the same words"
    );
}
