//! An upstream call's label in the metrics: its HTTP status, or `timeout`, `connect`, `body`.

use reqwest::Response;

use super::UpstreamError;

/// The status label of one call's result.
pub(super) fn of(sent: &Result<Response, UpstreamError>) -> String {
    match sent {
        Ok(resp) => resp.status().as_str().to_owned(),
        Err(UpstreamError::Status { status, .. }) => status.as_str().to_owned(),
        Err(UpstreamError::Timeout(_)) => "timeout".to_owned(),
        Err(UpstreamError::Connect(_)) => "connect".to_owned(),
        Err(UpstreamError::BadBody(_)) => "body".to_owned(),
    }
}
