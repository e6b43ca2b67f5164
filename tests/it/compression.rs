//! Compression (gzip, brotli) of pages, fragments, static files and the streamed CSV; versioned static URLs cached for a year.

use crate::helpers::*;

use std::io::Read;

use futures::StreamExt;
use sentinel_console::simulator::{Fault, FaultKind};

fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("unbrotli");
        }
        other => panic!("unexpected encoding {other}"),
    }
    out
}

/// GETs `path` accepting `encoding`: (content-encoding, bytes on the wire, decoded body).
async fn fetch(app: &TestApp, path: &str, encoding: &str) -> (String, usize, Vec<u8>) {
    let resp = app
        .client
        .get(app.url(path))
        .header("accept-encoding", encoding)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200, "{path}");
    let got = resp
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_owned();
    let wire = resp.bytes().await.expect("body").to_vec();
    let body = if got == "identity" {
        wire.clone()
    } else {
        decode(&got, &wire)
    };
    (got, wire.len(), body)
}

fn rows(html: &[u8]) -> usize {
    let doc = scraper::Html::parse_document(&String::from_utf8_lossy(html));
    let sel = scraper::Selector::parse("table#devices tbody tr").expect("sel");
    doc.select(&sel).count()
}

#[tokio::test]
async fn pages_fragments_and_static_files_are_compressed_and_decode_to_the_same_bytes() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    for (limit, want) in [(25, 25), (500, 499)] {
        let path = format!("/devices/NORTHSTAR-ISD?limit={limit}");
        let (_, plain_len, plain) = fetch(&app, &path, "identity").await;
        assert_eq!(rows(&plain), want);
        for enc in ["gzip", "br"] {
            let (got, wire, body) = fetch(&app, &path, enc).await;
            assert_eq!(got, enc, "{path}");
            assert_eq!(rows(&body), want, "{path} {enc}");
            assert_eq!(body.len(), plain_len, "{path} {enc}: decoded size");
            assert!(wire * 4 < plain_len, "{path} {enc}: {wire} of {plain_len}");
            eprintln!(
                "FIGURE {limit}-row list page: {plain_len} bytes identity, {wire} bytes {enc}"
            );
        }
    }
    // An htmx fragment.
    let r = app
        .client
        .get(app.url("/devices/NORTHSTAR-ISD?limit=100"))
        .header("hx-request", "true")
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("fragment");
    assert_eq!(r.headers()["content-encoding"], "br");
    let body = decode("br", &r.bytes().await.expect("body"));
    assert!(!String::from_utf8_lossy(&body).contains("<html"));
    assert_eq!(rows(&body), 100);
    // Static files, byte for byte after decoding (htmx is the vendored file, unmodified).
    for file in ["app.css", "app.js", "vendor/htmx.min.js"] {
        let disk =
            std::fs::read(format!("{}/static/{file}", env!("CARGO_MANIFEST_DIR"))).expect("file");
        for enc in ["gzip", "br"] {
            let path = sentinel_console::assets::asset_url(file);
            let (got, _, body) = fetch(&app, &path, enc).await;
            assert_eq!(got, enc, "{path}");
            assert!(body == disk, "{path} {enc} differs from the file");
        }
    }
}

#[tokio::test]
async fn static_urls_are_versioned_in_pages_and_cached_for_a_year() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let html = app.get_text("/devices/NORTHSTAR-ISD").await;
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("script[src], link[href]").expect("sel");
    let urls: Vec<String> = doc
        .select(&sel)
        .filter_map(|e| e.value().attr("src").or(e.value().attr("href")))
        .filter(|u| u.starts_with("/static/"))
        .map(str::to_owned)
        .collect();
    assert!(urls.len() >= 3, "{urls:?}");
    let v = format!("?v={}", sentinel_console::assets::version());
    for u in &urls {
        assert!(u.ends_with(&v), "{u} is not versioned");
        let r = app.get(u).await;
        assert_eq!(r.status(), 200, "{u}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{u}"
        );
    }
    // Unversioned or outdated: revalidate.
    for u in ["/static/app.css", "/static/app.css?v=0000"] {
        let r = app.get(u).await;
        assert_eq!(r.status(), 200, "{u}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{u}");
    }
}

#[tokio::test]
async fn the_csv_streams_compressed_and_a_mid_stream_failure_still_breaks_the_body() {
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let resp = app
        .client
        .get(app.url("/devices/NORTHSTAR-ISD-HS/export.csv?columns=MDN,STATUS"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("csv");
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert!(resp.headers().get("content-length").is_none());
    let csv = decode("gzip", &resp.bytes().await.expect("body"));
    assert!(csv.starts_with(b"MDN,STATUS\r\n"));
    // The audit CSV streams compressed too.
    let resp = app
        .client
        .get(app.url("/audit.csv"))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("audit csv");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "br");
    let csv = decode("br", &resp.bytes().await.expect("body"));
    assert!(
        csv.starts_with(b"id,at,"),
        "{}",
        String::from_utf8_lossy(&csv)
    );

    let all: Vec<&str> = sentinel_console::domain::Column::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    app.sim.sim.add_fault(Fault {
        kind: FaultKind::CutCsvAfterRows(1_900),
        path_contains: Some("/devices/FLEET-LARGE".into()),
        method: None,
        times: Some(1),
    });
    let resp = app
        .client
        .get(app.url(&format!(
            "/devices/FLEET-LARGE/export.csv?columns={}",
            all.join(",")
        )))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("csv");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "br");
    let mut stream = resp.bytes_stream();
    let (mut received, mut chunks, mut failed) = (0usize, 0usize, false);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                received += b.len();
                chunks += 1;
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body ended cleanly after {received} bytes");
    assert!(
        chunks > 1 && received > 0,
        "{chunks} chunks, {received} bytes before the break"
    );
}
