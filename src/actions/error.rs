//! What making a change can fail with, below the web: input or scope refused, nothing found,
//! too many changes at once, the upstream, or a failure of the console itself. `crate::error`
//! turns it into the page or fragment a person sees.

use crate::domain::ParseError;
use crate::identity::IdentityError;
use crate::policy::Refusal;
use crate::upstream::UpstreamError;

/// Every way making, holding or running a change can fail before it is stored.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Input that cannot make a change (a message fit to show).
    #[error("{0}")]
    Invalid(String),
    /// The scope table, or the change's state, does not allow it.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    /// The sign-in the change needs is gone.
    #[error("Please sign in.")]
    SignedOut,
    /// Too many changes in a short time.
    #[error("Too many changes in a short time. Wait {retry_after} seconds and try again.")]
    RateLimited { retry_after: u64 },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A bug or an infrastructure failure; logged, shown without detail.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ChangeError {
    /// The message a person is shown (the upstream's failure in words; no internal detail).
    pub fn user_message(&self) -> String {
        match self {
            ChangeError::Upstream(e) => e.described().message,
            ChangeError::Internal(_) => {
                "The console hit an unexpected problem. It has been logged; please try again."
                    .into()
            }
            other => other.to_string(),
        }
    }
}

impl From<ParseError> for ChangeError {
    fn from(e: ParseError) -> Self {
        ChangeError::Invalid(e.0)
    }
}

impl From<Refusal> for ChangeError {
    fn from(e: Refusal) -> Self {
        ChangeError::Refused(e.0)
    }
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Internal(e.into())
    }
}

impl From<serde_json::Error> for ChangeError {
    fn from(e: serde_json::Error) -> Self {
        ChangeError::Internal(e.into())
    }
}

impl From<IdentityError> for ChangeError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::SignedOut => ChangeError::SignedOut,
            IdentityError::Refused(m) => ChangeError::Invalid(m),
            IdentityError::Internal(e) => ChangeError::Internal(e),
        }
    }
}

/// Why a change could not be sent or was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The selection does not fit the action (a bug: the form parser prevents it).
    #[error("this change cannot be sent for that selection")]
    Mismatch,
}
