//! Every page of the product in a real headless Chromium, with real data, at 390 × 844 and 1400 × 1000:
//! axe-core finds no serious or critical violation, nothing scrolls sideways, the phone header stays one
//! line with its menu, and a screenshot of each is kept in `target/screenshots/`. Also the errors a
//! person meets: an unknown address is the product's own page, with a way on and no status code.

use crate::browser::{Step, click, have_browser, in_browser, js, sign_in_at, wait_until};
use crate::browser_portal::{axe_check, axe_source, no_horizontal_scroll, shot};
use crate::helpers::*;

use fantoccini::Client;
use serde_json::json;

const CORP: &str = "NORTHSTAR-ISD";
const SIZES: [(u32, u32); 2] = [(390, 844), (1400, 1000)];

/// Opens `path`, waits for `ready` (a CSS selector), then checks and photographs it at both sizes.
async fn check_page(
    c: &Client,
    base: &str,
    axe: Option<&str>,
    name: &str,
    path: &str,
    ready: &str,
) -> Step<()> {
    for (w, h) in SIZES {
        c.set_window_size(w, h)
            .await
            .map_err(|e| format!("window size: {e}"))?;
        c.goto(&format!("{base}{path}"))
            .await
            .map_err(|e| format!("open {path}: {e}"))?;
        let script = format!("return !!document.querySelector({});", json!(ready));
        let script = &script;
        wait_until(&format!("{ready} on {path}"), || async move {
            Ok((js(c, script).await? == json!(true)).then_some(()))
        })
        .await?;
        let what = format!("{name} at {w}x{h}");
        no_horizontal_scroll(c, &what).await?;
        if w < 600 {
            let header = js(
                c,
                "return document.querySelector('header.top').getBoundingClientRect().height;",
            )
            .await?
            .as_f64()
            .unwrap_or(f64::MAX);
            if header > 64.0 {
                return Err(format!("{what}: the header is {header}px tall"));
            }
        }
        axe_check(c, axe, &what).await?;
        shot(c, &format!("page-{name}-{w}x{h}")).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_on_a_phone_and_a_desktop_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let axe = axe_source();
    let app = spawn_app().await;
    // A change set to look at (its page, the changes list and the audit log have a row).
    app.sign_in("tech").await;
    let csrf = app.csrf().await;
    let resp = app
        .post_action(
            CORP,
            "nickname",
            &[
                ("mdns", "304-228-6302"),
                ("nickname", "Bus 47"),
                ("confirmed", "true"),
                ("acknowledged", "true"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(resp.status(), 303);
    let change = location(&resp);
    let base = app.base.clone();
    in_browser("pages", |c, _| async move {
        let c = &c;
        let axe = axe.as_deref();
        sign_in_at(c, &base, &format!("/devices/{CORP}"), "tech").await?;
        let pages = [
            ("list", format!("/devices/{CORP}"), "table#devices tbody tr"),
            (
                "list-search",
                format!("/devices/{CORP}?searchValue=Bus&columns=network,last30,labels"),
                "table#devices tbody tr",
            ),
            (
                "line",
                format!("/devices/{CORP}/line/304-228-6302"),
                "#line-facts",
            ),
            ("export", format!("/devices/{CORP}/export"), "#export-form"),
            ("changes", "/changes".to_owned(), "main h1"),
            ("change", change.clone(), "main h1"),
            ("audit", "/audit".to_owned(), "main h1"),
            ("overview", format!("/devices/{CORP}/overview"), "main h1"),
            ("import", format!("/devices/{CORP}/import"), "main h1"),
            ("portal", "/portal?q=304-228-6302".to_owned(), "#line-card"),
            (
                "not-found",
                "/no/such/page?expected-error".to_owned(),
                ".error-page",
            ),
            (
                "bad-request",
                format!("/devices/{CORP}?limit=0&expected-error=1"),
                ".error-page",
            ),
        ];
        for (name, path, ready) in &pages {
            check_page(c, &base, axe, name, path, ready).await?;
        }
        // The list with lines selected: the action bar is on screen and over no row.
        c.set_window_size(1400, 1000)
            .await
            .map_err(|e| format!("window size: {e}"))?;
        c.goto(&format!("{base}/devices/{CORP}"))
            .await
            .map_err(|e| format!("open the list: {e}"))?;
        click(c, "table#devices tbody tr:nth-child(2) input[name=mdns]").await?;
        let covered = js(
            c,
            "const bar = document.getElementById('selection-bar').getBoundingClientRect();
             if (bar.height === 0) return 'no bar';
             const rows = Array.from(document.querySelectorAll('table#devices tbody tr'));
             return rows.some(r => { const b = r.getBoundingClientRect();
               return b.bottom > bar.top && b.top < bar.bottom; }) ? 'covers a row' : 'ok';",
        )
        .await?;
        if covered != json!("ok") {
            return Err(format!("the action bar with a line selected: {covered}"));
        }
        axe_check(c, axe, "the list with a line selected").await?;
        shot(c, "page-list-selected-1400x1000").await?;
        Ok(())
    })
    .await;

    // The 404 and 400 pages in words: no status code, the title once, a way on.
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status(), 404);
    let html = page.text().await.expect("body");
    assert!(!html.contains("(HTTP"), "{html}");
    assert_eq!(texts(&html, ".error-page h1"), vec!["Not found"]);
    assert!(!attrs(&html, ".error-page .way-on a", "href").is_empty());
    let bad = app.get_text(&format!("/devices/{CORP}?limit=0")).await;
    assert!(!bad.contains("(HTTP"), "{bad}");
    assert_eq!(
        texts(&bad, "main strong").len(),
        0,
        "the title is not repeated"
    );
}
