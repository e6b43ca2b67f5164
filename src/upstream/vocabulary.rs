//! The values an operation takes, which are not always what a list reads: the statuses of
//! `GET /v1.0/devices/{corpId}/status` (`ACTIVE`), kept a while per device group, to which a
//! status read from a list (`active`) is mapped case-insensitively.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::{SentinelClient, UpstreamError};
use crate::domain::CorpId;

/// The statuses the vendor documents for the status operation: what a user whose token may not
/// read a group's own list (one who may only request) chooses from and is mapped to; the
/// approver's preview and Sentinel check the value.
pub const DOCUMENTED_STATUSES: &[&str] = &["ACTIVE", "SUSPENDED"];

/// How long a device group's statuses are reused.
pub const TTL: Duration = Duration::from_secs(600);
/// Device groups whose statuses are kept at most.
const MAX_GROUPS: u64 = 10_000;

/// The statuses of each device group, as `GET .../status` gave them.
pub type StatusCache = moka::sync::Cache<String, Statuses>;

/// A new, empty [`StatusCache`].
pub fn status_cache() -> StatusCache {
    moka::sync::Cache::builder()
        .max_capacity(MAX_GROUPS)
        .time_to_live(TTL)
        .build()
}

/// The statuses the status operation takes in one device group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statuses(Arc<[String]>);

impl Statuses {
    pub fn new(list: Vec<String>) -> Self {
        Self(list.into())
    }

    /// The operation's own spelling of `read` (compared case-insensitively, trimmed), or why
    /// there is none.
    pub fn map(&self, read: &str) -> Result<&str, String> {
        let read = read.trim();
        self.0
            .iter()
            .find(|s| s.eq_ignore_ascii_case(read))
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "“{read}” is not one of the statuses Sentinel takes ({}).",
                    self.0.join(", ")
                )
            })
    }

    /// [`DOCUMENTED_STATUSES`].
    pub fn documented() -> Self {
        Self::new(
            DOCUMENTED_STATUSES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        )
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl SentinelClient {
    /// The statuses of `corp`'s status operation: read once with this token, then reused for
    /// [`TTL`] (the caller checks the scope table first, as for any call).
    pub async fn statuses(
        &self,
        token: &SecretString,
        corp: &CorpId,
    ) -> Result<Statuses, UpstreamError> {
        if let Some(s) = self.statuses.get(corp.as_str()) {
            return Ok(s);
        }
        let s = Statuses::new(self.get_possible_statuses(token, corp).await?);
        self.statuses.insert(corp.as_str().to_owned(), s.clone());
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_read_from_a_list_is_mapped_case_insensitively() {
        let s = Statuses::new(vec!["ACTIVE".into(), "SUSPENDED".into()]);
        assert_eq!(s.map("active"), Ok("ACTIVE"));
        assert_eq!(s.map(" Suspended "), Ok("SUSPENDED"));
        let why = s.map("deactivated").unwrap_err();
        assert!(why.contains("“deactivated”"), "{why}");
        assert!(why.contains("ACTIVE, SUSPENDED"), "{why}");
    }
}
