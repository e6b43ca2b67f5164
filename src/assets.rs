//! Static files: versioned URLs (`?v=<content hash>`, built here only) served with long-lived caching.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use tower_http::services::ServeDir;

/// Where the console serves `static/`.
pub const MOUNT: &str = "/static";

/// `Cache-Control` of a URL carrying the current version: it never changes.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of an unversioned (or outdated) URL: revalidate every time.
pub const REVALIDATE: &str = "no-cache";

/// `static/` beside the crate (a `cargo run` checkout) or beside the working directory.
pub fn static_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    if here.is_dir() {
        here
    } else {
        PathBuf::from("static")
    }
}

/// The version of the static files: the first 16 hex digits of a SHA-256 over every file's
/// path and content, computed once (at startup, on first use).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut files = Vec::new();
        collect(&static_dir(), &mut files);
        files.sort();
        let mut h = Sha256::new();
        for f in &files {
            h.update(f.to_string_lossy().as_bytes());
            h.update(std::fs::read(f).unwrap_or_default());
        }
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The one place static URLs are built: `asset_url("app.css")` is `/static/app.css?v=<version>`.
pub fn asset_url(path: &str) -> String {
    format!("{MOUNT}/{}?v={}", path.trim_start_matches('/'), version())
}

/// `static/` as a service, each answer with the `Cache-Control` its URL deserves.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .fallback_service(ServeDir::new(static_dir()))
        .layer(axum::middleware::from_fn(cache_control))
}

async fn cache_control(req: Request, next: Next) -> Response {
    let current = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.strip_prefix("v=") == Some(version()))
    });
    let mut resp = next.run(req).await;
    if resp.status().is_success() {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if current { IMMUTABLE } else { REVALIDATE }),
        );
    }
    resp
}
