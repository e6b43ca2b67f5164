//! The device list and detail pages through the real server against the simulator.

use crate::helpers::*;

use std::time::Duration;

use sentinel_console::simulator::{Fault, FaultKind};

async fn signed_in(user: &str) -> TestApp {
    let app = spawn_app().await;
    let landed = app.sign_in_to(user, "/").await;
    assert!(
        landed.status().is_success(),
        "sign-in landed on {}",
        landed.status()
    );
    app
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.get(path).await;
    let s = r.status().as_u16();
    (s, r.text().await.expect("body"))
}

#[tokio::test]
async fn tech_sees_northstar_499_lines_with_totals() {
    let app = signed_in("tech").await;
    let (status, html) = page(&app, "/devices/NORTHSTAR-ISD").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(texts(&html, "table#devices tbody tr").len(), 25);
    assert_eq!(texts(&html, "#range")[0], "1–25 of 499 lines");
    let totals = texts(&html, "#totals .stat-value");
    assert_eq!(totals, vec!["487", "12", "499"]);
    assert!(html.contains("Northstar Independent School District"));
}

#[tokio::test]
async fn every_upstream_call_carries_the_users_bearer_and_no_cookie() {
    let app = signed_in("tech").await;
    app.sim.sim.clear_requests();
    let (status, _) = page(&app, "/devices/NORTHSTAR-ISD").await;
    assert_eq!(status, 200);
    let reqs = app.sim.sim.api_requests();
    assert_eq!(reqs.len(), 2, "list + totals: {reqs:?}");
    for r in &reqs {
        let auth = r.authorization.as_deref().expect("Authorization");
        assert!(auth.starts_with("Bearer ") && auth.len() > 20, "{auth}");
        assert!(!r.has_cookie, "a browser cookie reached the upstream");
    }
    let list = reqs
        .iter()
        .find(|r| r.path.ends_with("/devices/NORTHSTAR-ISD"))
        .expect("list call");
    let q = list.query.clone().unwrap_or_default();
    for p in ["offset=0", "limit=25", "sort=MDN", "sortDir=ASC"] {
        assert!(q.contains(p), "{q} lacks {p}");
    }
}

#[tokio::test]
async fn htmx_gets_the_fragment_the_page_includes() {
    let app = signed_in("tech").await;
    let path = "/devices/NORTHSTAR-ISD?sort=STATUS&sortDir=DESC&offset=25";
    let (_, full) = page(&app, path).await;
    let frag = app.get_htmx(path).await;
    assert_eq!(frag.status(), 200);
    assert!(
        frag.headers()
            .get("vary")
            .is_some_and(|v| v.to_str().unwrap_or("").contains("HX-Request"))
    );
    let frag = frag.text().await.expect("body");
    assert!(!frag.contains("<html"), "fragment must not be a page");
    assert!(frag.trim_start().starts_with("<div id=\"results\""));
    // The same rows render in both.
    assert_eq!(
        texts(&full, "table#devices tbody tr"),
        texts(&frag, "table#devices tbody tr")
    );
    assert_eq!(texts(&full, "#range"), texts(&frag, "#range"));
    // The fragment updates the controls' hidden state out of band.
    assert!(frag.contains("hx-swap-oob"));
    // A history restore asks for the whole page.
    let restore = app
        .client
        .get(app.url(path))
        .header("HX-Request", "true")
        .header("HX-History-Restore-Request", "true")
        .send()
        .await
        .expect("restore")
        .text()
        .await
        .expect("body");
    assert!(restore.contains("<html"));
}

#[tokio::test]
async fn sorts_by_every_sort_value_in_both_directions() {
    let app = signed_in("tech").await;
    for s in sentinel_console::domain::SortField::ALL {
        for d in ["ASC", "DESC"] {
            app.sim.sim.clear_requests();
            let (status, html) = page(
                &app,
                &format!("/devices/NORTHSTAR-ISD?sort={}&sortDir={d}", s.as_str()),
            )
            .await;
            assert_eq!(status, 200, "{} {d}", s.as_str());
            assert_eq!(texts(&html, "table#devices tbody tr").len(), 25);
            let reqs = app.sim.sim.api_requests();
            let q = reqs
                .iter()
                .find_map(|r| r.query.clone().filter(|q| q.contains("sort=")))
                .expect("list query");
            assert!(
                q.contains(&format!("sort={}", s.as_str())) && q.contains(&format!("sortDir={d}")),
                "{q}"
            );
            // The header of the active column shows the direction.
            let active = attrs(&html, &format!("th a[data-sort={}]", s.as_str()), "href");
            assert_eq!(active.len(), 1, "a sortable header for {}", s.as_str());
        }
    }
    // Usage sorted descending really comes back in that order.
    let (_, html) = page(
        &app,
        "/devices/NORTHSTAR-ISD?sort=LAST_30_DAYS_USED&sortDir=DESC&limit=100&columns=last30",
    )
    .await;
    let vals: Vec<f64> = attrs(&html, "td.col-last30", "data-value")
        .iter()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    assert_eq!(vals.len(), 100);
    assert!(vals.windows(2).all(|w| w[0] >= w[1]), "{vals:?}");
}

#[tokio::test]
async fn search_filters_rows_and_totals() {
    let app = signed_in("tech").await;
    app.sim.sim.clear_requests();
    let (status, html) = page(&app, "/devices/NORTHSTAR-ISD?searchValue=Bus").await;
    assert_eq!(status, 200);
    let nicks = texts(&html, "td.col-nickname");
    assert!(!nicks.is_empty());
    assert!(nicks.iter().all(|n| n.contains("Bus")), "{nicks:?}");
    // The cards count the whole group (Sentinel's totals search fewer fields than its list); the
    // matches are counted once, by the range, which the select-all repeats.
    let totals: Vec<u64> = texts(&html, "#totals .stat-value")
        .iter()
        .map(|v| v.replace(',', "").parse().unwrap_or(0))
        .collect();
    assert_eq!(totals, vec![487, 12, 499]);
    assert!(texts(&html, "#totals")[0].contains("in the group"));
    let range = texts(&html, "#range")[0].clone();
    let matching = crate::browser::numbers(&range)[2];
    assert!(matching < 499 && matching > 0, "{range}");
    assert!(range.contains("matching “Bus”"), "{range}");
    assert_eq!(
        attrs(&html, "input[name=select_all]", "data-total"),
        vec![matching.to_string()]
    );
    let reqs = app.sim.sim.api_requests();
    let list = reqs
        .iter()
        .find(|r| r.query.as_deref().unwrap_or("").contains("sort="))
        .expect("the list call");
    assert!(
        list.query
            .as_deref()
            .unwrap_or("")
            .contains("searchValue=Bus"),
        "{reqs:?}"
    );
    // The search box keeps the value.
    assert_eq!(attrs(&html, "input#search", "value"), vec!["Bus"]);
}

#[tokio::test]
async fn no_match_is_an_empty_list_not_an_error() {
    let app = signed_in("tech").await;
    let (status, html) = page(&app, "/devices/NORTHSTAR-ISD?searchValue=zzzz-nothing").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(texts(&html, "table#devices tbody tr").len(), 0);
    assert!(html.contains("No lines match"));
}

#[tokio::test]
async fn pages_through_the_list() {
    let app = signed_in("tech").await;
    let (_, html) = page(&app, "/devices/NORTHSTAR-ISD?offset=25").await;
    assert_eq!(texts(&html, "#range")[0], "26–50 of 499 lines");
    let next = attrs(&html, "a[rel=next]", "href");
    assert_eq!(next.len(), 1);
    assert!(next[0].contains("offset=50"), "{next:?}");
    for size in [50usize, 100, 500] {
        let (_, html) = page(&app, &format!("/devices/NORTHSTAR-ISD?limit={size}")).await;
        assert_eq!(texts(&html, "table#devices tbody tr").len(), size.min(499));
    }
    let (_, html) = page(&app, "/devices/NORTHSTAR-ISD?offset=475").await;
    assert_eq!(texts(&html, "#range")[0], "476–499 of 499 lines");
    assert!(attrs(&html, "a[rel=next]", "href").is_empty());
}

#[tokio::test]
async fn label_filter_reaches_the_upstream_and_shows_as_a_chip() {
    let app = signed_in("tech").await;
    // The labels column, chosen once, is remembered for the next page of this session.
    let (_, html) = page(&app, "/devices/NORTHSTAR-ISD?limit=500&columns=labels").await;
    let label = attrs(&html, "a.chip[data-label]", "data-label")
        .into_iter()
        .next()
        .expect("some label");
    app.sim.sim.clear_requests();
    let (status, html) = page(&app, &format!("/devices/NORTHSTAR-ISD?labelIds={label}")).await;
    assert_eq!(status, 200);
    let rows = texts(&html, "table#devices tbody tr");
    assert!(!rows.is_empty());
    let doc = scraper::Html::parse_document(&html);
    for tr in doc.select(&selector("table#devices tbody tr")) {
        let labels: Vec<_> = tr
            .select(&selector("a.chip"))
            .filter_map(|a| a.value().attr("data-label"))
            .collect();
        assert!(
            labels.contains(&label.as_str()),
            "row without the label: {labels:?}"
        );
    }
    assert!(!texts(&html, "a.chip-active").is_empty());
    let reqs = app.sim.sim.api_requests();
    let list = reqs
        .iter()
        .find(|r| r.query.as_deref().unwrap_or("").contains("sort="))
        .expect("list");
    assert!(
        list.query
            .as_deref()
            .unwrap_or("")
            .contains(&format!("labelIds={label}"))
    );
}

#[tokio::test]
async fn bad_query_is_a_readable_400_with_no_upstream_call() {
    let app = signed_in("tech").await;
    for q in [
        "sort=NOPE",
        "sortDir=UP",
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "labelIds=x",
    ] {
        app.sim.sim.clear_requests();
        let (status, html) = page(&app, &format!("/devices/NORTHSTAR-ISD?{q}")).await;
        assert_eq!(status, 400, "{q}");
        // The product's error page: what went wrong in words, a way on, no status code.
        assert!(html.contains("class=\"error-page\""), "{q}: {html}");
        assert!(!html.contains("(HTTP"), "{q}: {html}");
        assert!(
            app.sim.sim.api_requests().is_empty(),
            "{q} reached the upstream"
        );
    }
    let r = app.get_htmx("/devices/NORTHSTAR-ISD?sort=NOPE").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers().get("hx-retarget").and_then(|v| v.to_str().ok()),
        Some("#flash")
    );
    let body = r.text().await.expect("body");
    assert!(body.contains("NOPE") && !body.contains("<html"));
}

#[tokio::test]
async fn any_page_size_from_1_to_1000_goes_upstream_verbatim_and_shows_in_the_menu() {
    let app = signed_in("tech").await;
    app.sim.sim.clear_requests();
    let (status, html) = page(&app, "/devices/NORTHSTAR-ISD?limit=10").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(texts(&html, "table#devices tbody tr").len(), 10);
    let list = app
        .sim
        .sim
        .api_requests()
        .into_iter()
        .find(|r| r.path.ends_with("/devices/NORTHSTAR-ISD"))
        .expect("list call");
    let q = list.query.unwrap_or_default();
    assert!(q.split('&').any(|p| p == "limit=10"), "{q}");
    // The menu keeps its sizes and shows 10 too, selected.
    let options = texts(&html, "select#limit option");
    assert_eq!(options, vec!["10", "25", "50", "100", "500"]);
    assert_eq!(
        attrs(&html, "select#limit option[selected]", "value"),
        vec!["10"]
    );
    // The bounds are accepted; a menu size is not duplicated.
    for (limit, want) in [("1", 1), ("1000", 499)] {
        let (status, html) = page(&app, &format!("/devices/NORTHSTAR-ISD?limit={limit}")).await;
        assert_eq!(status, 200, "{limit}");
        assert_eq!(
            texts(&html, "table#devices tbody tr").len(),
            want,
            "{limit}"
        );
    }
    let (_, html) = page(&app, "/devices/NORTHSTAR-ISD?limit=50").await;
    assert_eq!(texts(&html, "select#limit option").len(), 4);
    // Out of range or not a number: a clear 400.
    let (status, html) = page(&app, "/devices/NORTHSTAR-ISD?limit=1001").await;
    assert_eq!(status, 400);
    assert!(html.contains("1 to 1000"), "{html}");
}

#[tokio::test]
async fn device_group_outside_corp_ids_is_403_without_upstream_call() {
    let app = signed_in("limited").await;
    app.sim.sim.clear_requests();
    let (status, html) = page(&app, "/devices/NORTHSTAR-ISD-HS").await;
    assert_eq!(status, 403);
    assert!(html.contains("NORTHSTAR-ISD-HS"));
    assert!(app.sim.sim.api_requests().is_empty());
    // Their own group opens; `/` goes straight there.
    let r = app.get("/").await;
    assert!(r.status().is_redirection());
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/devices/NORTHSTAR-ISD")
    );
}

#[tokio::test]
async fn several_groups_get_a_picker() {
    let app = signed_in("tech").await;
    let (status, html) = page(&app, "/").await;
    assert_eq!(status, 200);
    let links = attrs(&html, "ul.group-list a", "href");
    assert!(
        links.contains(&"/devices/NORTHSTAR-ISD".to_owned()),
        "{links:?}"
    );
    assert!(links.len() >= 2);
}

async fn fault_page(app: &TestApp, kind: FaultKind) -> (u16, String, Option<String>) {
    app.sim.sim.clear_faults();
    app.sim.sim.add_fault(Fault {
        kind,
        path_contains: None,
        method: None,
        times: None,
    });
    let r = app.get("/devices/NORTHSTAR-ISD").await;
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.text().await.expect("body");
    app.sim.sim.clear_faults();
    (status, body, retry)
}

#[tokio::test]
async fn upstream_faults_give_readable_errors_and_the_server_stays_up() {
    let app = spawn_app_with(default_sim_config(), |c| {
        c.upstream_timeout = Duration::from_millis(700)
    })
    .await;
    app.sign_in("tech").await;
    let (s, body, _) = fault_page(&app, FaultKind::Status(500)).await;
    assert_eq!(s, 502);
    assert!(body.contains("Sentinel answered 500"), "{body}");
    let (s, body, _) = fault_page(&app, FaultKind::Status(503)).await;
    assert_eq!(s, 502);
    assert!(body.contains("503"), "{body}");
    let (s, body, retry) = fault_page(&app, FaultKind::RateLimited { retry_after: 30 }).await;
    assert_eq!(s, 429);
    assert!(body.contains("30 seconds"), "{body}");
    assert_eq!(retry.as_deref(), Some("30"));
    let (s, body, _) = fault_page(&app, FaultKind::MalformedJson).await;
    assert_eq!(s, 502);
    assert!(body.contains("could not read"), "{body}");
    let (s, body, _) = fault_page(&app, FaultKind::Latency(Duration::from_millis(1500))).await;
    assert_eq!(s, 504);
    assert!(body.contains("did not answer"), "{body}");
    assert!(body.contains("<html") && !body.contains("panicked"));
    // Still serving.
    let (s, _) = page(&app, "/devices/NORTHSTAR-ISD").await;
    assert_eq!(s, 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn totals_failure_leaves_the_list_usable() {
    let app = signed_in("tech").await;
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::Status(500),
        path_contains: Some("/totals".into()),
        method: None,
        times: None,
    });
    let (s, html) = page(&app, "/devices/NORTHSTAR-ISD").await;
    assert_eq!(s, 200);
    assert_eq!(texts(&html, "table#devices tbody tr").len(), 25);
    assert!(texts(&html, "#totals")[0].contains("Totals unavailable"));
}

#[tokio::test]
async fn security_headers_on_pages() {
    let app = signed_in("tech").await;
    let r = app.get("/devices/NORTHSTAR-ISD").await;
    let h = r.headers();
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("CSP");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(h.get("referrer-policy").is_some());
    assert_eq!(
        h.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(h.get("x-request-id").is_some());
    let html = r.text().await.expect("body");
    assert!(!html.contains("<script>"), "no inline script");
    assert!(!html.contains(" style="), "no inline style");
}

#[tokio::test]
async fn ops_endpoints() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "ok");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn imei_lookup_and_health_pages() {
    let app = signed_in("tech").await;
    let (s, html) = page(&app, "/devices/NORTHSTAR-ISD/imei/355737360073462").await;
    assert_eq!(s, 200, "{html}");
    assert!(texts(&html, "#imei-devices td.col-mdn").contains(&"521-267-1508".to_owned()));
    let (s, html) = page(&app, "/devices/NORTHSTAR-ISD/imei/12345").await;
    assert_eq!(s, 400);
    assert!(html.contains("15 digits"));
    let (s, html) = page(&app, "/devices/NORTHSTAR-ISD/521-267-15/health").await;
    assert_eq!(s, 400);
    assert!(html.contains("not an MDN"));
    // Some line reports health; find one through the list.
    let (_, list) = page(&app, "/devices/NORTHSTAR-ISD?limit=500").await;
    let hrefs: Vec<String> = attrs(&list, "table#devices tbody tr", "data-mdn")
        .iter()
        .map(|m| format!("/devices/NORTHSTAR-ISD/{m}/health"))
        .collect();
    let mut saw_ok = false;
    let mut saw_409 = false;
    for h in hrefs.iter().take(60) {
        let (s, html) = page(&app, h).await;
        match s {
            200 => {
                assert!(html.contains("id=\"health-checks\""));
                saw_ok = true;
            }
            409 => {
                assert!(html.contains("does not report its health"));
                saw_409 = true;
            }
            other => panic!("{h}: {other}"),
        }
        if saw_ok && saw_409 {
            break;
        }
    }
    assert!(
        saw_ok && saw_409,
        "expected both healthy-reporting and non-reporting lines"
    );
}

#[tokio::test]
async fn embedded_mode_runs_the_whole_product_on_one_port() {
    let base = spawn_embedded().await;
    let landed = Session::new(&base)
        .sign_in_to("tech", "/devices/NORTHSTAR-ISD")
        .await;
    assert_eq!(landed.status(), 200);
    assert!(
        landed.url().path().ends_with("/devices/NORTHSTAR-ISD"),
        "{}",
        landed.url()
    );
    let html = landed.text().await.expect("body");
    assert_eq!(texts(&html, "#range")[0], "1–25 of 499 lines");
}

#[tokio::test]
async fn a_busy_session_is_not_rewritten_on_every_request() {
    // Each save re-sends the cookie; between idle touches a request must not save the session.
    let app = signed_in("tech").await;
    let _ = app.get("/devices/NORTHSTAR-ISD").await;
    let again = app.get("/devices/NORTHSTAR-ISD").await;
    assert_eq!(again.status(), 200);
    assert!(
        again.headers().get("set-cookie").is_none(),
        "session saved again"
    );
}

#[tokio::test]
async fn totals_are_reused_briefly_and_refetched_after_a_change() {
    let app = signed_in("tech").await;
    let _ = page(&app, "/devices/NORTHSTAR-ISD").await;
    app.sim.sim.clear_requests();
    let _ = page(&app, "/devices/NORTHSTAR-ISD?offset=25").await;
    let paths: Vec<String> = app
        .sim
        .sim
        .api_requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths.len(), 1, "a second page reuses the totals: {paths:?}");
    // A change through the console forgets them.
    let csrf = app.csrf().await;
    let form = [
        ("mdns", "521-267-1508"),
        ("status", "SUSPENDED"),
        ("reason", "lost"),
        ("confirmed", "true"),
    ];
    let r = app
        .post_action("NORTHSTAR-ISD", "status", &form, &csrf)
        .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    app.sim.sim.clear_requests();
    let (_, html) = page(&app, "/devices/NORTHSTAR-ISD").await;
    assert_eq!(app.sim.sim.api_requests().len(), 2);
    assert_eq!(
        texts(&html, "#totals .stat-value"),
        vec!["486", "13", "499"]
    );
}

#[tokio::test]
async fn a_line_page_shows_its_facts_and_only_the_changes_allowed() {
    let app = signed_in("tech").await;
    let (_, list) = page(&app, "/devices/NORTHSTAR-ISD?searchValue=Bus").await;
    let href = attrs(&list, "td.col-mdn a", "href")
        .into_iter()
        .next()
        .expect("a line link");
    assert!(href.starts_with("/devices/NORTHSTAR-ISD/line/"), "{href}");
    let (s, html) = page(&app, &href).await;
    assert_eq!(s, 200, "{html}");
    let facts = texts(&html, "#line-facts dt");
    assert!(
        facts.contains(&"Nickname".to_owned()) && facts.contains(&"Network".to_owned()),
        "{facts:?}"
    );
    let actions = attrs(&html, "#change a[data-action]", "data-action");
    assert!(actions.contains(&"status".to_owned()) && actions.contains(&"nickname".to_owned()));
    // org_tech may not change data limits? It may (super or tech); summer usage needs Kajeet Choice.
    assert!(!actions.contains(&"summer-usage".to_owned()), "{actions:?}");
    // A read-only user sees the same facts and no way to change the line, only to request.
    let ro = spawn_app().await;
    ro.sign_in("readonly").await;
    let (s, html) = page(&ro, &href).await;
    assert_eq!(s, 200);
    let asks = texts(&html, "#change a[data-action]");
    assert!(
        !asks.is_empty() && asks.iter().all(|a| a.starts_with("Request: ")),
        "{asks:?}"
    );
    // An unknown line is a 404, a malformed one a 400.
    let (s, _) = page(&app, "/devices/NORTHSTAR-ISD/line/999-999-9999").await;
    assert_eq!(s, 404);
    let (s, _) = page(&app, "/devices/NORTHSTAR-ISD/line/12-34").await;
    assert_eq!(s, 400);
}

/// The column chooser: `columns=` picks the table's columns (the MDN always), is remembered for the
/// session, shared through the links, and only the columns Sentinel sorts by are sortable.
#[tokio::test]
async fn columns_are_chosen_remembered_and_shared() {
    let app = signed_in("tech").await;
    let (_, html) = page(&app, "/devices/NORTHSTAR-ISD").await;
    let heads = texts(&html, "table#devices thead th:not(.check)");
    assert_eq!(
        heads,
        vec![
            "MDN ▲",
            "Nickname",
            "Status",
            "This month",
            "Monthly limit",
            "Filter group",
            "Device"
        ]
    );
    // Nickname is not a sort field of the API: no link, no sort mark.
    assert!(attrs(&html, "th.col-nickname a", "href").is_empty());
    assert_eq!(
        attrs(&html, "th[aria-sort]", "aria-sort"),
        vec!["ascending"]
    );
    let (s, html) = page(
        &app,
        "/devices/NORTHSTAR-ISD?columns=network&columns=status,imei",
    )
    .await;
    assert_eq!(s, 200);
    let heads = texts(&html, "table#devices thead th:not(.check)");
    assert_eq!(heads, vec!["MDN ▲", "Status", "Network", "IMEI"]);
    // Links keep the view in one canonical form.
    let next = attrs(&html, "a[rel=next]", "href");
    assert!(
        next[0].contains("columns=mdn%2Cstatus%2Cnetwork%2Cimei"),
        "{next:?}"
    );
    // Remembered: the next visit without `columns=` shows the same columns.
    let (_, again) = page(&app, "/devices/NORTHSTAR-ISD").await;
    assert_eq!(
        texts(&again, "table#devices thead th:not(.check)"),
        vec!["MDN ▲", "Status", "Network", "IMEI"]
    );
    // Another user's session is not affected.
    let other = app.session_as("tech").await;
    let fresh = other.get_text("/devices/NORTHSTAR-ISD").await;
    assert_eq!(texts(&fresh, "table#devices thead th:not(.check)").len(), 7);
    // A column that does not exist is a clear 400.
    let (s, bad) = page(&app, "/devices/NORTHSTAR-ISD?columns=bogus").await;
    assert_eq!(s, 400);
    assert!(bad.contains("not a column of the list"), "{bad}");
    // An htmx swap answers with the canonical address.
    let r = app
        .client
        .get(app.url("/devices/NORTHSTAR-ISD?columns=mdn&columns=device"))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("swap");
    assert_eq!(
        r.headers().get("HX-Push-Url").and_then(|v| v.to_str().ok()),
        Some("/devices/NORTHSTAR-ISD?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=mdn%2Cdevice")
    );
}

/// "To approve" is in the header only for roles the policy lets approve something.
#[tokio::test]
async fn to_approve_only_for_roles_that_can_approve() {
    let app = signed_in("tech").await;
    let nav = |html: &str| texts(html, "nav.top-nav a");
    let tech = app.get_text("/devices/NORTHSTAR-ISD").await;
    assert!(
        nav(&tech).iter().any(|t| t == "To approve"),
        "{:?}",
        nav(&tech)
    );
    let ro = app.session_as("readonly").await;
    let page = ro.get_text("/devices/NORTHSTAR-ISD").await;
    assert!(
        !nav(&page).iter().any(|t| t == "To approve"),
        "{:?}",
        nav(&page)
    );
    // The notices' place stays for everyone (news of one's own requests).
    assert_eq!(attrs(&page, "span#inbox", "hx-get").len(), 1);
}
