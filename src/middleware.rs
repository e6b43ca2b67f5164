//! Cross-cutting HTTP layers: security headers (CSP, HSTS and friends), no-store for pages, request ids.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Scripts only from this origin (htmx is served from `/static`), no inline script, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The request-id header, set on every request and echoed on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// HSTS for a console served over https: a year, subdomains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The client's own `X-Request-Id`, kept apart from the console's (which is always generated).
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// Which request a write came from, for its audit record: the console's id and the client's own.
#[derive(Debug, Clone, Default)]
pub struct WriteOrigin {
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for WriteOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            request_id: parts
                .headers
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            client_request_id: parts
                .extensions
                .get::<ClientRequestId>()
                .map(|c| c.0.clone()),
        })
    }
}

/// Middleware (outermost): moves a client's `X-Request-Id` into [`ClientRequestId`] (when it is
/// short printable text) so that the console's id layer always generates its own.
pub async fn take_client_request_id(mut req: Request, next: Next) -> Response {
    if let Some(v) = req.headers_mut().remove(&REQUEST_ID) {
        let id =
            v.to_str().ok().map(str::trim).filter(|s| {
                !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic())
            });
        if let Some(id) = id {
            let id = ClientRequestId(id.to_owned());
            req.extensions_mut().insert(id);
        }
    }
    next.run(req).await
}

/// What [`security_headers_for`] sets beyond [`security_headers`].
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    /// PUBLIC_URL is https: `Strict-Transport-Security` too.
    pub https: bool,
    /// The CSP: [`CSP`], with the identity provider's origin among the `form-action` targets when
    /// sign-out (a form) ends the provider's session too by redirecting there.
    pub csp: HeaderValue,
}

impl HeaderPolicy {
    pub fn new(https: bool, sign_out_origin: Option<&str>) -> Self {
        let csp = sign_out_origin
            .map(|o| CSP.replace("form-action 'self'", &format!("form-action 'self' {o}")))
            .and_then(|c| HeaderValue::from_str(&c).ok())
            .unwrap_or(HeaderValue::from_static(CSP));
        Self { https, csp }
    }
}

/// Middleware: [`security_headers`] with the [`HeaderPolicy`]'s CSP, plus
/// `Strict-Transport-Security` when https.
pub async fn security_headers_for(
    State(policy): State<HeaderPolicy>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = security_headers(req, next).await;
    resp.headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy.csp);
    if policy.https {
        resp.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

/// Middleware: every page rendered inside knows whether the console runs the embedded demo.
pub async fn demo_flag(State(demo): State<bool>, req: Request, next: Next) -> Response {
    crate::views::demo_scope(demo, next.run(req)).await
}

/// Middleware: security headers on every response; `Cache-Control: no-store` on everything but `/static`.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if is_static {
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
        }
    } else {
        // Pages carry a user's lines: never keep them in a shared or back-forward cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
