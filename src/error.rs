//! The one `AppError`: every failure a handler can meet, rendered as a page or an htmx fragment.
//!
//! A handler returns `AppError`; its `IntoResponse` stores an [`ErrorInfo`] in the
//! response extensions, and [`render_errors`] (which sees the request) turns it into
//! a full page or, for htmx requests, a fragment retargeted to the page's message area.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::ParseError;
use crate::htmx::{self, HtmxContext};
use crate::paths;
use crate::policy::Refusal;
use crate::upstream::UpstreamError;
use crate::views::{ErrorFragment, ErrorPage, Layout};

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that could not be parsed (query, path, form field).
    #[error("{0}")]
    BadRequest(String),
    /// The scope table (or the device-group list) refuses this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A POST without the session's CSRF token.
    #[error(
        "This form has expired or did not come from this console. Reload the page and try again."
    )]
    Csrf,
    /// No session, or the session expired: sign in, then come back to `next`.
    #[error("Please sign in.")]
    SignInRequired { next: String },
    /// Too many changes in a short time.
    #[error("Too many changes in a short time. Wait {retry_after} seconds and try again.")]
    RateLimited { retry_after: u64 },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A bug or an infrastructure failure; logged, shown without detail.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl From<ParseError> for AppError {
    fn from(e: ParseError) -> Self {
        AppError::BadRequest(e.0)
    }
}

impl From<Refusal> for AppError {
    fn from(e: Refusal) -> Self {
        AppError::Forbidden(e.0)
    }
}

impl From<crate::identity::IdentityError> for AppError {
    fn from(e: crate::identity::IdentityError) -> Self {
        use crate::identity::IdentityError as E;
        match e {
            // Only a kept sign-in asked for on behalf of a change meets a session gone.
            E::SignedOut => AppError::SignInRequired {
                next: paths::changes(None, false).into(),
            },
            E::Refused(m) => AppError::BadRequest(m),
            E::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<crate::actions::error::ChangeError> for AppError {
    fn from(e: crate::actions::error::ChangeError) -> Self {
        use crate::actions::error::ChangeError as E;
        match e {
            E::Invalid(m) => AppError::BadRequest(m),
            E::Refused(m) => AppError::Forbidden(m),
            E::NotFound(m) => AppError::NotFound(m),
            // A change asked for with no sign-in to keep: back to the changes after signing in.
            E::SignedOut => AppError::SignInRequired {
                next: paths::changes(None, false).into(),
            },
            E::RateLimited { retry_after } => AppError::RateLimited { retry_after },
            E::Upstream(e) => AppError::Upstream(e),
            E::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("session store: {e}"))
    }
}

/// The error's fragment, as the htmx answer and inside the error page.
/// `here`: the page the person was on (a retry, or where sign-in comes back to).
fn error_fragment(info: &ErrorInfo, here: &str) -> ErrorFragment {
    use crate::paths;
    use crate::views::WayOn;
    let way = |label, href| WayOn { label, href };
    let home = way("Your device groups", paths::home());
    let ways = match info.status.as_u16() {
        401 => vec![way("Sign in", paths::login(here)), home],
        404 => vec![home, way("Find a line", paths::portal(""))],
        429 | 500..=599 => vec![way("Try again", paths::local(here)), home],
        _ => vec![home],
    };
    ErrorFragment {
        title: info.title.clone(),
        message: info.message.clone(),
        ways,
    }
}

/// What the renderer needs to know about an error.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AppError {
    /// Status, title and a message fit to show.
    pub fn info(&self) -> ErrorInfo {
        let (status, title, message, retry_after) = match self {
            AppError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                "That request could not be used",
                m.clone(),
                None,
            ),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.clone(), None),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.clone(), None),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                self.to_string(),
                None,
            ),
            AppError::SignInRequired { .. } => (
                StatusCode::UNAUTHORIZED,
                "Sign-in needed",
                self.to_string(),
                None,
            ),
            AppError::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Slow down",
                self.to_string(),
                Some(*retry_after),
            ),
            AppError::Upstream(e) => return upstream_info(e),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The console hit an unexpected problem. It has been logged; please try again."
                    .to_owned(),
                None,
            ),
        };
        ErrorInfo {
            status,
            title: title.to_owned(),
            message,
            retry_after,
        }
    }
}

fn upstream_info(e: &UpstreamError) -> ErrorInfo {
    let d = e.described();
    ErrorInfo {
        status: d.status,
        title: d.title.to_owned(),
        message: d.message,
        retry_after: d.retry_after,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(e) => tracing::error!(error = %e, "internal error"),
            AppError::Upstream(e) => tracing::warn!(error = %e, "upstream error"),
            other => tracing::debug!(error = %other, "request refused"),
        }
        // Sentinel's 401 means our token is no longer good: sign in again (the auth layer
        // decides, see `auth::refused`, and stops there when the sign-in has just been made).
        if let AppError::Upstream(UpstreamError::Status {
            status, message, ..
        }) = &self
        {
            if status.as_u16() == 401 {
                let mut r = StatusCode::UNAUTHORIZED.into_response();
                r.extensions_mut().insert(SignInRedirect { next: None });
                r.extensions_mut().insert(UpstreamRefused {
                    message: message.clone(),
                });
                r.extensions_mut().insert(self.info());
                return r;
            }
        }
        if let AppError::SignInRequired { next } = &self {
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            r.extensions_mut().insert(SignInRedirect {
                next: Some(next.clone()),
            });
            r.extensions_mut().insert(self.info());
            return r;
        }
        let info = self.info();
        let mut r = info.status.into_response();
        if let Some(n) = info.retry_after {
            if let Ok(v) = HeaderValue::from_str(&n.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r.extensions_mut().insert(info);
        r
    }
}

/// Marks a response to a request the upstream refused with 401 (what it said).
#[derive(Debug, Clone)]
pub struct UpstreamRefused {
    pub message: String,
}

/// Marks a response that must send the user to sign in.
#[derive(Debug, Clone)]
pub struct SignInRedirect {
    /// Where to come back to; `None`: the page the request came from.
    pub next: Option<String>,
}

/// Middleware: renders [`ErrorInfo`] responses as a page or an htmx fragment.
pub async fn render_errors(hx: HtmxContext, req: Request, next: Next) -> Response {
    let here = hx.return_target(req.uri());
    let csrf = req
        .extensions()
        .get::<crate::views::CsrfToken>()
        .map(|c| c.0.clone());
    let mut resp = next.run(req).await;
    let Some(info) = resp.extensions_mut().remove::<ErrorInfo>() else {
        return resp;
    };
    if let Some(redirect) = resp.extensions_mut().remove::<SignInRedirect>() {
        let login = paths::login(&redirect.next.unwrap_or(here));
        return if hx.htmx {
            (StatusCode::UNAUTHORIZED, htmx::redirect(&login), ()).into_response()
        } else {
            axum::response::Redirect::to(login.as_str()).into_response()
        };
    }
    let mut out = render_error(&info, hx.htmx, csrf, &here);
    if let Some(ra) = resp.headers().get(header::RETRY_AFTER).cloned() {
        out.headers_mut().insert(header::RETRY_AFTER, ra);
    }
    out
}

/// An error as a full page, or for htmx as a fragment retargeted to the page's message area.
pub fn render_error(
    info: &ErrorInfo,
    fragment: bool,
    csrf: Option<String>,
    here: &str,
) -> Response {
    let body = if fragment {
        error_fragment(info, here).render()
    } else {
        ErrorPage {
            layout: Layout::anonymous(&info.title, csrf),
            error: error_fragment(info, here),
        }
        .render()
    };
    let out = match body {
        Ok(html) => (info.status, axum::response::Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error template failed");
            (info.status, info.message.clone()).into_response()
        }
    };
    if fragment {
        return (htmx::to_flash(), out).into_response();
    }
    out
}
