//! What a stored job carries ([`JobPayload`]) and the words its lines get when they cannot be
//! sent: shared by the explicit-list runner and select-all, below both.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actions::form::Change;
use crate::actions::run::AuditContext;
use crate::domain::{Imei, Mdn};
use crate::identity::caller::NoToken;
use crate::upstream::wire::BulkSelection;

/// Why a resumed job's in-flight chunks are unknown (started, no recorded answer).
pub const RESUMED_REASON: &str = "The console instance running this change stopped while these lines were being sent to Sentinel, before its answer was recorded. They may or may not have changed; the console does not send a change twice, so they were not retried. Check these lines and run the change again for them if needed.";

/// Why a resumed job's never-started chunks are unknown when the user's session is gone.
pub const SIGNED_OUT_REASON: &str = "Stopped: the user signed out (or the session ended) before the change finished, so these lines were not sent. Sign in and run the change again for them.";

/// Why a scheduled change's chunk was not sent when the sign-in kept for it is gone.
pub const GRANT_GONE_REASON: &str = "Not sent: the sign-in kept for this scheduled change is no longer valid (the identity provider refused to refresh it). Sign in and run the change again for these lines.";

/// Why a chunk was not sent when Sentinel refused the token and the sign-in could not be renewed.
pub const SIGN_IN_REFUSED_REASON: &str = "Not sent: Sentinel no longer accepted the sign-in and it could not be renewed. Sign in again and retry these lines.";

/// The words a change line gets when no token can be had to send it.
pub fn no_token_reason(why: NoToken) -> &'static str {
    match why {
        NoToken::SignedOut => SIGNED_OUT_REASON,
        NoToken::Refused => SIGN_IN_REFUSED_REASON,
        NoToken::GrantGone => GRANT_GONE_REASON,
        NoToken::Unreadable => SESSION_UNREADABLE_REASON,
    }
}

/// Was a line with this reason certainly never applied (not sent, or refused with `401`)? Then
/// it did not change: a retry takes it without the "may already have changed" warning.
pub fn is_not_sent(reason: &str) -> bool {
    [
        SIGNED_OUT_REASON,
        SESSION_UNREADABLE_REASON,
        NOT_STARTED_REASON,
        SIGN_IN_REFUSED_REASON,
        GRANT_GONE_REASON,
    ]
    .contains(&reason)
}

/// Does this reason wait for the user to sign in again (their sign-in ended or was refused)?
pub fn needs_sign_in(reason: &str) -> bool {
    [SIGNED_OUT_REASON, SIGN_IN_REFUSED_REASON, GRANT_GONE_REASON].contains(&reason)
}

/// Why a resumed job's chunk was not sent when the session store could not be read.
pub const SESSION_UNREADABLE_REASON: &str = "The console could not read the user's session to continue this change, so these lines were not sent. Run the change again for them.";

/// Why a chunk that ended without a recorded outcome is unknown.
pub const UNRECORDED_REASON: &str = "The console lost track of this part of the change while it ran, so these lines may or may not have changed. Check them and run the change again for them if needed.";

/// Why a chunk was not sent when its start could not be recorded.
pub const NOT_STARTED_REASON: &str = "The console could not record the start of this part of the change, so these lines were not sent. Run the change again for them.";

/// Everything needed to run a job — never a secret: a SmartSpot change's Wi-Fi password is
/// sealed in the job's own row of `job_secrets`, and only its field's name is here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobPayload {
    pub audit: AuditContext,
    pub change: Change,
    pub chunks: Vec<Vec<Mdn>>,
    /// A revert's change for each chunk (a chunk's lines share one value to restore); empty:
    /// `change` for every chunk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunk_changes: Vec<Change>,
    /// A scheduled change runs on the sealed grant of whoever scheduled (or approved) it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Uuid>,
    /// A select-all: its lines are read (and stored) when the job runs, then sent in one bulk
    /// call as the job's one chunk (see [`super::select_all`]); `chunks` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<BulkSelection>,
    /// A SmartSpot change: its devices, sent in one call as the job's one chunk (see
    /// [`crate::actions::smartspot`]); `chunks` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imeis: Option<Vec<Imei>>,
    /// The secret field typed for this change, whose value waits sealed in `job_secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_field: Option<String>,
}

impl JobPayload {
    /// A job of `change` with nothing else yet (its lines, groups, grant or selection are set by
    /// whoever starts it).
    pub fn new(audit: AuditContext, change: Change) -> Self {
        Self {
            audit,
            change,
            chunks: Vec::new(),
            chunk_changes: Vec::new(),
            grant: None,
            bulk: None,
            imeis: None,
            secret_field: None,
        }
    }

    /// Upstream calls the job makes: one per chunk, or the one bulk call of a select-all.
    pub fn total_chunks(&self) -> i32 {
        if self.bulk.is_some() || self.imeis.is_some() {
            1
        } else {
            i32::try_from(self.chunks.len()).unwrap_or(i32::MAX)
        }
    }

    /// The fields the audit record gives: the change's, or each chunk's for a revert.
    pub fn audit_fields(&self) -> serde_json::Value {
        if self.chunk_changes.is_empty() {
            return self.change.audit_fields();
        }
        let per_chunk: Vec<serde_json::Value> = self
            .chunk_changes
            .iter()
            .zip(&self.chunks)
            .map(|(c, m)| serde_json::json!({ "action": c.action, "fields": c.audit_fields(), "lines": m.len() }))
            .collect();
        serde_json::json!({ "perChunk": per_chunk })
    }
}
