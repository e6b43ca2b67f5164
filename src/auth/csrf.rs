//! CSRF: the per-session secret, masked afresh in every response (BREACH), its check on every
//! state-changing request, and the request-context middleware around the console (idle touch,
//! refused-token sign-out).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::form_post::{FORM_LIMIT, is_form};
use crate::crypto::constant_time_eq;
pub use crate::crypto::random_token;
use crate::error::AppError;
use crate::htmx::HtmxContext;
use crate::identity::session::{AUTH_KEY, CSRF_KEY, auth_of, stored_auth, touch_interval};
use crate::paths;
use crate::state::AppState;
use crate::views::CsrfToken;

/// The header htmx sends the token in (set on `<body hx-headers>` by the layout).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session's CSRF secret. It is never printed as it is: every response shows its own
/// [`CsrfSecret::masked`] form, so that a compressed page that also echoes the user's input
/// leaks nothing about it (BREACH).
#[derive(Clone)]
pub struct CsrfSecret(String);

impl std::fmt::Debug for CsrfSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfSecret([redacted])")
    }
}

impl CsrfSecret {
    /// A fresh random pad and the secret XORed with it: `base64url(pad ‖ pad ⊕ secret)`,
    /// different on every call.
    pub fn masked(&self) -> String {
        let secret = self.0.as_bytes();
        let mut pad = vec![0u8; secret.len()];
        rand::rng().fill_bytes(&mut pad);
        let mut out = pad.clone();
        out.extend(pad.iter().zip(secret).map(|(p, s)| p ^ s));
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Is `provided` a masked form of this secret (or the secret itself, as pages served before
    /// masking carried it)? Compared in constant time.
    pub fn accepts(&self, provided: &str) -> bool {
        let secret = self.0.as_bytes();
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(provided) {
            if bytes.len() == 2 * secret.len() {
                let (pad, masked) = bytes.split_at(secret.len());
                let unmasked: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
                return constant_time_eq(&unmasked, secret);
            }
        }
        constant_time_eq(provided.as_bytes(), secret)
    }
}

/// The session's CSRF secret, created when missing.
pub async fn ensure_token(session: &Session) -> Result<CsrfSecret, AppError> {
    if let Some(t) = session.get::<String>(CSRF_KEY).await? {
        return Ok(CsrfSecret(t));
    }
    let t = random_token();
    session.insert(CSRF_KEY, &t).await?;
    Ok(CsrfSecret(t))
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Why a state-changing request was refused.
enum Refused {
    Mismatch,
    TooLarge,
}

/// Checks the request's token against `expected`; hands back the request with its body intact.
async fn check(req: Request, expected: Option<&CsrfSecret>) -> Result<Request, Refused> {
    let header_token = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (req, provided) = match header_token {
        Some(t) => (req, Some(t)),
        None if is_form(req.headers()) => {
            let (parts, body) = req.into_parts();
            let bytes = to_bytes(body, FORM_LIMIT)
                .await
                .map_err(|_| Refused::TooLarge)?;
            let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|pairs| {
                    pairs
                        .into_iter()
                        .find(|(k, _)| k == "csrf_token")
                        .map(|(_, v)| v)
                });
            (Request::from_parts(parts, Body::from(bytes)), token)
        }
        // The import's upload is not read here: its form carries the token in the query. No
        // other route takes it there.
        None if is_multipart(req.headers()) && paths::is_import_upload(req.uri().path()) => {
            let token = req.uri().query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "csrf_token")
                    .map(|(_, v)| v.into_owned())
            });
            (req, token)
        }
        None => (req, None),
    };
    match (expected, provided) {
        (Some(e), Some(p)) if e.accepts(&p) => Ok(req),
        _ => Err(Refused::Mismatch),
    }
}

/// The 403 page (or htmx fragment) for a missing or wrong token. Rendered here because this
/// middleware sits outside [`crate::error::render_errors`].
fn render_refusal(htmx: bool, csrf: Option<String>) -> Response {
    crate::error::render_error(&AppError::Csrf.info(), htmx, csrf, "/")
}

/// Does this response send the user to sign in?
fn sends_to_sign_in(resp: &Response) -> bool {
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok());
    (resp.status().is_redirection() && location.is_some_and(paths::is_login))
        || crate::htmx::redirect_target(resp).is_some_and(paths::is_login)
}

/// Middleware (inside the session layer, outside error rendering): puts the session's CSRF
/// token in the request extensions, refuses state-changing requests without it, and after the
/// handler keeps the session's idle expiry moving.
pub async fn csrf_and_context(
    State(state): State<AppState>,
    hx: HtmxContext,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return next.run(req).await;
    };
    let auth = match auth_of(&session).await {
        Ok(a) => a,
        Err(e) => return AppError::from(e).into_response(),
    };
    let token = if auth.is_some() {
        match ensure_token(&session).await {
            Ok(t) => Some(t),
            Err(e) => return e.into_response(),
        }
    } else {
        // Before sign-in only the password form has one.
        session
            .get::<String>(CSRF_KEY)
            .await
            .ok()
            .flatten()
            .map(CsrfSecret)
    };
    if let Some(t) = &token {
        req.extensions_mut().insert(CsrfToken(t.masked()));
    }
    if auth.is_none() && super::resume::is_keepable(&req) {
        // Signed out elsewhere while a preview was open: keep the change for after sign-in.
        let csrf = token.map(|t| t.masked());
        return super::resume::keep_and_ask(&state, &session, req, hx.htmx, csrf).await;
    }
    if is_unsafe(req.method()) {
        req = match check(req, token.as_ref()).await {
            Ok(r) => r,
            Err(Refused::Mismatch) => {
                tracing::warn!("refused a state-changing request without a valid CSRF token");
                return render_refusal(hx.htmx, token.map(|t| t.masked()));
            }
            Err(Refused::TooLarge) => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form is too large (limit 1 MiB).",
                )
                    .into_response();
            }
        };
    }
    let is_login = req.uri().path() == paths::login_form().as_str();
    let resp = next.run(req).await;
    if auth.is_some() && session.id().is_some() && !is_login && sends_to_sign_in(&resp) {
        // Signed in, yet sent to sign in: Sentinel refused the token (or the session ended).
        // Without this, /login would see the session and send the user straight back.
        if let Err(e) = session.flush().await {
            tracing::warn!(error = %e, "could not end a refused session");
        }
        return resp;
    }
    if auth.is_none() && session.is_modified() {
        // A sign-in in progress: keep its state no longer than an idle session.
        session.set_expiry(Some(super::idle_expiry(state.config.session_idle)));
    }
    if let Err(e) = after_request(&state, &session).await {
        tracing::warn!(error = %e, "could not update the session after the request");
    }
    resp
}

/// After the handler: when the session changed, or its idle expiry is due to move, write it
/// under the session's lock with the *stored* tokens (another request or instance may have
/// refreshed meanwhile; a stale copy must never overwrite a rotated refresh token).
async fn after_request(state: &AppState, session: &Session) -> Result<(), AppError> {
    let Some(id) = session.id() else {
        // New (the sign-in saves it) or flushed.
        return Ok(());
    };
    let Some(mut mine) = auth_of(session).await? else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc();
    let due = now - mine.last_seen >= touch_interval(state.config.session_idle);
    if !due && !session.is_modified() {
        return Ok(());
    }
    let lock = state.auth.locks.lock_for(id);
    let _guard = lock.lock().await;
    match stored_auth(&state.auth.store, &id).await? {
        None => {
            // Signed out elsewhere meanwhile: do not bring the session back.
            session.clear().await;
            return Ok(());
        }
        Some(Some(stored)) if stored.generation >= mine.generation => {
            mine.tokens = stored.tokens;
            mine.generation = stored.generation;
        }
        Some(_) => {}
    }
    mine.last_seen = now;
    session.set_expiry(Some(super::idle_expiry(state.config.session_idle)));
    session.insert(AUTH_KEY, &mine).await?;
    // Saved here, under the lock; the session layer's own save after this writes the same data.
    session.save().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn every_masked_form_of_the_secret_and_no_other() {
        let secret = CsrfSecret(random_token());
        let (a, b) = (secret.masked(), secret.masked());
        assert_ne!(a, b);
        assert!(!a.contains(&secret.0) && a.len() == 115, "{a}");
        assert!(secret.accepts(&a) && secret.accepts(&b));
        assert!(
            secret.accepts(&secret.0.clone()),
            "an unmasked secret from an older page"
        );
        let other = CsrfSecret(random_token());
        assert!(!other.accepts(&a));
        for bad in ["", "x", "!!!!", &a[..85], &format!("{a}A"), &secret.0[..42]] {
            assert!(!secret.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }
}
