//! Static assets are served by the console itself (htmx, app.js, app.css) and pages load scripts only from /static.

use crate::helpers::*;

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/static/vendor/htmx.min.js", "javascript"),
        ("/static/app.js", "javascript"),
        ("/static/app.css", "text/css"),
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let ct = header(&resp, "content-type");
        assert!(ct.contains(kind), "{path}: content-type {ct:?}");
        let body = resp.bytes().await.expect("body");
        assert!(!body.is_empty(), "{path} is empty");
    }
    // The vendored file is the published htmx 2 build (its README records the exact version and hash).
    let htmx = app.get_text("/static/vendor/htmx.min.js").await;
    assert!(htmx.contains("htmx"), "htmx.min.js does not look like htmx");
}

/// Every `<script>` on a page has a `src` under `/static/` (no CDN, no inline script), and so does every stylesheet.
fn assert_local_assets(path: &str, html: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    let scripts = scraper::Selector::parse("script").expect("selector");
    let mut count = 0;
    for s in doc.select(&scripts) {
        let src = s.value().attr("src");
        assert!(
            src.is_some_and(|src| src.starts_with("/static/")),
            "{path}: a <script> not served from /static: {}",
            s.html()
        );
        count += 1;
    }
    let links = scraper::Selector::parse("link[rel~=stylesheet]").expect("selector");
    for l in doc.select(&links) {
        let href = l.value().attr("href").unwrap_or_default();
        assert!(
            href.starts_with("/static/"),
            "{path}: a stylesheet not served from /static: {href:?}"
        );
    }
    count
}

#[tokio::test]
async fn pages_load_scripts_only_from_static() {
    let app = spawn_app().await;

    // Signed out: the demo sign-in page is served by the simulator, so look at an error page of the console.
    let resp = app.get("/no-such-page").await;
    if header(&resp, "content-type").contains("text/html") {
        let html = resp.text().await.expect("body");
        assert_local_assets("/no-such-page (signed out)", &html);
    }

    app.sign_in_to("tech", "/devices/NORTHSTAR-ISD").await;
    let mut pages_checked = 0;
    for path in [
        "/",
        "/devices/NORTHSTAR-ISD",
        "/devices/NORTHSTAR-ISD?searchValue=Bus&sort=LAST_30_DAYS_USED&sortDir=DESC",
        "/audit",
        "/no-such-page",
    ] {
        let resp = app.get(path).await;
        let resp = app.follow(resp).await;
        if !header(&resp, "content-type").contains("text/html") {
            continue;
        }
        let status = resp.status();
        let html = resp.text().await.expect("body");
        let scripts = assert_local_assets(path, &html);
        if status.is_success() {
            assert!(
                html.contains(&format!(
                    r#"src="{}""#,
                    sentinel_console::assets::asset_url("vendor/htmx.min.js")
                )),
                "{path}: htmx is not loaded"
            );
            assert!(scripts >= 2, "{path}: expected htmx and app.js");
            pages_checked += 1;
        }
    }
    assert!(pages_checked >= 2, "too few pages could be checked");
}
