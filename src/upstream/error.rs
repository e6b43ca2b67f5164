//! What can go wrong talking to the upstream ([`UpstreamError`]), and each failure in words fit
//! to show a user: the status a page answers with, its title and message (Sentinel's own reason
//! kept), used by error pages and per-line results alike.

use std::time::Duration;

use reqwest::StatusCode;

/// What went wrong talking to the upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered with an error status (and, where it gave one, its message).
    #[error("Sentinel answered {status}: {message}")]
    Status {
        status: StatusCode,
        code: Option<String>,
        message: String,
        retry_after: Option<u64>,
    },
    #[error("Sentinel did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Sentinel could not be reached: {0}")]
    Connect(String),
    #[error("Sentinel sent an answer the console could not read: {0}")]
    BadBody(String),
}

impl UpstreamError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            UpstreamError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An upstream failure described for a person.
#[derive(Debug, Clone)]
pub struct Described {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl UpstreamError {
    /// The status a page about this error answers with, its title and a message fit to show.
    pub fn described(&self) -> Described {
        let e = self;
        let (status, title, message, retry_after) = match e {
            UpstreamError::Status {
                status,
                message,
                retry_after,
                ..
            } => {
                let s = status.as_u16();
                match s {
                    400 | 422 => (
                        StatusCode::BAD_REQUEST,
                        "Sentinel refused the request",
                        format!("Sentinel answered {s}: {message}"),
                        None,
                    ),
                    401 => (
                        StatusCode::UNAUTHORIZED,
                        "Sign-in needed",
                        "Sentinel no longer accepts your sign-in. Please sign in again.".to_owned(),
                        None,
                    ),
                    403 => (
                        StatusCode::FORBIDDEN,
                        "Not allowed by Sentinel",
                        format!("Sentinel refused this (403): {message}"),
                        None,
                    ),
                    404 => (
                        StatusCode::NOT_FOUND,
                        "Not found",
                        format!("Sentinel answered 404: {message}"),
                        None,
                    ),
                    409 => (
                        StatusCode::CONFLICT,
                        "Not possible right now",
                        format!("Sentinel answered 409: {message}"),
                        None,
                    ),
                    429 => (
                        StatusCode::TOO_MANY_REQUESTS,
                        "Sentinel is busy",
                        match retry_after {
                            Some(n) => format!(
                                "Sentinel is rate-limiting requests (429): {message} Try again in {n} seconds."
                            ),
                            None => format!("Sentinel is rate-limiting requests (429): {message}"),
                        },
                        *retry_after,
                    ),
                    _ => (
                        StatusCode::BAD_GATEWAY,
                        "Sentinel had a problem",
                        format!(
                            "Sentinel answered {s}: {message}. Nothing was changed by the console; try again in a moment."
                        ),
                        *retry_after,
                    ),
                }
            }
            UpstreamError::Timeout(d) => (
                StatusCode::GATEWAY_TIMEOUT,
                "Sentinel did not answer",
                format!(
                    "Sentinel did not answer within {} seconds. Try again in a moment.",
                    d.as_secs().max(1)
                ),
                None,
            ),
            UpstreamError::Connect(_) => (
                StatusCode::BAD_GATEWAY,
                "Sentinel is unreachable",
                "The console could not reach Sentinel. Try again in a moment.".to_owned(),
                None,
            ),
            UpstreamError::BadBody(_) => (
                StatusCode::BAD_GATEWAY,
                "Sentinel sent an unreadable answer",
                "Sentinel sent an answer the console could not read. Try again in a moment."
                    .to_owned(),
                None,
            ),
        };
        Described {
            status,
            title,
            message,
            retry_after,
        }
    }
}
