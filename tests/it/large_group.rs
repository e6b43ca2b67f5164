//! A large device group (FLEET-LARGE, 2,000 lines here): list, sort, search and totals work,
//! the console never asks Sentinel for more than the page it shows, and a full export completes.

use crate::helpers::*;

const LARGE: &str = "FLEET-LARGE";

/// The `limit` of every list call the simulator saw (not the exports, which have no paging).
fn list_limits(sim: &TestSim) -> Vec<u32> {
    sim.api_calls()
        .iter()
        .filter(|c| !c.contains("export=CSV"))
        .filter_map(|c| {
            let (_, uri) = c.split_once(' ')?;
            let url = url::Url::parse(&format!("http://x{uri}")).ok()?;
            if !url.path().ends_with(&format!("/devices/{LARGE}")) {
                return None;
            }
            url.query_pairs()
                .find(|(k, _)| k == "limit")
                .map(|(_, v)| v.parse().expect("numeric limit"))
        })
        .collect()
}

#[tokio::test]
async fn large_group_pages_sort_search_and_totals_fetch_only_the_page_shown() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    app.sim.sim.clear_requests();

    let page = app.get(&format!("/devices/{LARGE}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert_eq!(list_mdns(&page).len(), 25);
    assert!(
        page.contains("of 2000") || page.contains("of 2,000"),
        "range missing"
    );

    // The last page, 100 per page, sorted by usage.
    let last = app
        .get_htmx(&format!(
            "/devices/{LARGE}?offset=1900&limit=100&sort=LAST_30_DAYS_USED&sortDir=DESC"
        ))
        .await;
    assert_eq!(last.status(), 200);
    let last = last.text().await.unwrap();
    assert_eq!(list_mdns(&last).len(), 100);

    // Sorted descending: the usage column's raw values never increase.
    let doc = scraper::Html::parse_document(&last);
    let sel = scraper::Selector::parse("#devices tbody td.col-last30").unwrap();
    let used: Vec<f64> = doc
        .select(&sel)
        .map(|td| {
            td.value()
                .attr("data-value")
                .unwrap_or("0")
                .parse()
                .unwrap_or(0.0)
        })
        .collect();
    assert!(used.windows(2).all(|w| w[0] >= w[1]), "{used:?}");

    // A search for one line's MDN finds it.
    let first = list_mdns(&page)[0].clone();
    let found = app
        .get_htmx(&format!("/devices/{LARGE}?searchValue={first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(list_mdns(&found).contains(&first), "{first} not found");

    // Totals (the fragment) add up to the group.
    let totals = app.get_htmx(&format!("/devices/{LARGE}/totals")).await;
    assert_eq!(totals.status(), 200);
    let totals = totals.text().await.unwrap();
    assert!(
        totals.contains("2000") || totals.contains("2,000"),
        "{totals}"
    );

    // Never more than the page shown.
    let limits = list_limits(&app.sim);
    assert!(!limits.is_empty());
    assert!(limits.iter().all(|l| [25, 100].contains(l)), "{limits:?}");
    assert_eq!(
        limits.iter().filter(|l| **l == 100).count(),
        1,
        "{limits:?}"
    );
}

#[tokio::test]
async fn full_export_of_the_large_group_completes() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let resp = app
        .get(&format!(
            "/devices/{LARGE}/export.csv?columns=MDN,STATUS,LAST_30_DAYS_USED"
        ))
        .await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.expect("complete body");
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 2_001, "header + 2,000 rows");
    assert_eq!(lines[0], b"MDN,STATUS,LAST_30_DAYS_USED\r");
}
