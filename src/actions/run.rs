//! Applying a change: exactly one upstream call, its outcome per line, and the audit record.
//!
//! A refusal or a 4xx answer means nothing changed; a timeout, 5xx or broken connection is
//! ambiguous, so those lines are reported as "unknown" and never retried.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::ActionKind;
use super::catalog::Call;
use super::form::{Change, Target};
use crate::domain::{CorpId, Via};
use crate::outcome::ChangeResult;
use crate::policy::Principal;
use crate::state::AppState;
use crate::storage::audit::NewAuditRecord;
use crate::upstream::UpstreamError;
use crate::upstream::wire::{WriteFailure, WriteResult};

pub use super::catalog::RunError;

/// Sends `change` for `target`: exactly one upstream call.
pub async fn call(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    change: &Change,
    target: &Target,
) -> Result<WriteResult, RunError> {
    let result = send(state, token, corp, change, target).await;
    // Whatever the outcome (even an unknown one), the counts may have moved.
    state.totals_cache.invalidate();
    state.overview_cache.forget_all();
    result
}

async fn send(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    change: &Change,
    target: &Target,
) -> Result<WriteResult, RunError> {
    let to = Call {
        upstream: &state.upstream,
        token,
        corp,
    };
    change.action.def().send(to, &change.values, target).await
}

pub use crate::outcome::Outcome;

/// Did the upstream refuse the token (`401`)? Then nothing was applied: renew and send again.
pub fn unauthorized<T>(r: &Result<T, RunError>) -> bool {
    matches!(r, Err(RunError::Upstream(e)) if e.status().map(|s| s.as_u16()) == Some(401))
}

/// Is this failure ambiguous (the write may or may not have happened)?
pub fn is_ambiguous(e: &UpstreamError) -> bool {
    match e {
        UpstreamError::Status { status, .. } => status.is_server_error(),
        UpstreamError::Timeout(_) | UpstreamError::Connect(_) | UpstreamError::BadBody(_) => true,
    }
}

/// What the user is told about an ambiguous failure.
pub const UNKNOWN_NOTE: &str = "Sentinel's answer was lost or was an error after the change was sent: these lines may or may not have changed. The console does not retry a change on its own; check these lines before changing them again.";

impl Outcome {
    /// From one call's answer. `lines`: the explicit list sent, when there was one.
    pub fn from_call(lines: Option<&[String]>, r: &Result<WriteResult, RunError>) -> Self {
        let mut o: Outcome = match r {
            Ok(w) => Outcome {
                updated: w.updated,
                failed: w.failed.clone(),
                ..Default::default()
            },
            Err(RunError::Mismatch) => Outcome {
                error: Some("This change cannot be sent for that selection.".into()),
                failed: lines
                    .unwrap_or_default()
                    .iter()
                    .map(|m| WriteFailure {
                        mdn: m.clone(),
                        reason: "Not sent.".into(),
                    })
                    .collect(),
                ..Default::default()
            },
            Err(RunError::Upstream(e)) => {
                let message = e.described().message;
                let status = e.status().map(|s| s.as_u16());
                if is_ambiguous(e) {
                    Outcome {
                        unknown: lines.unwrap_or_default().to_vec(),
                        unknown_all: lines.is_none(),
                        upstream_status: status,
                        error: Some(format!("{message} {UNKNOWN_NOTE}")),
                        ..Default::default()
                    }
                } else {
                    let reason = match e {
                        UpstreamError::Status { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    Outcome {
                        failed: lines
                            .unwrap_or_default()
                            .iter()
                            .map(|m| WriteFailure {
                                mdn: m.clone(),
                                reason: reason.clone(),
                            })
                            .collect(),
                        upstream_status: status,
                        error: Some(message),
                        ..Default::default()
                    }
                }
            }
        };
        let refused = matches!(r, Err(RunError::Upstream(e)) if !is_ambiguous(e) && e.status().map(|s| s.as_u16()) == Some(403));
        o.outcome = if refused {
            ChangeResult::Refused
        } else {
            o.classify()
        };
        o
    }
}

/// Who made a change, from where: what every audit record of it repeats.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditContext {
    pub request_id: Option<String>,
    /// The client's own `X-Request-Id` (jobs written before it existed have none).
    #[serde(default)]
    pub client_request_id: Option<String>,
    pub subject: String,
    pub user_name: Option<String>,
    pub roles: String,
    pub corp_id: String,
    pub action: ActionKind,
    /// Where the change was made from (the portal); jobs written before it existed have none.
    #[serde(default)]
    pub via: Option<Via>,
}

impl AuditContext {
    pub fn new(
        user: &Principal,
        corp: &CorpId,
        action: ActionKind,
        request_id: Option<String>,
        client_request_id: Option<String>,
    ) -> Self {
        Self {
            request_id,
            client_request_id,
            subject: user.subject.clone(),
            user_name: user.name.clone().or_else(|| user.email.clone()),
            roles: user.roles_label(),
            corp_id: corp.to_string(),
            action,
            via: None,
        }
    }

    /// The same context, marked as made from `via` (the portal).
    pub fn via(mut self, via: Option<Via>) -> Self {
        self.via = via;
        self
    }

    /// The audit record of a finished change.
    pub fn record(
        &self,
        target: &serde_json::Value,
        fields: serde_json::Value,
        line_count: Option<u64>,
        o: &Outcome,
        job_id: Option<String>,
    ) -> NewAuditRecord {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let count =
            line_count.unwrap_or(o.updated + o.failed.len() as u64 + o.unknown.len() as u64);
        NewAuditRecord {
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            subject: self.subject.clone(),
            user_name: self.user_name.clone(),
            roles: self.roles.clone(),
            corp_id: self.corp_id.clone(),
            action: self.action.slug().to_owned(),
            selection: target.clone(),
            fields,
            line_count: n(count),
            updated: n(o.updated),
            failed: n(o.failed.len() as u64),
            unknown: n(o.unknown.len() as u64),
            outcome: o.outcome,
            upstream_status: o.upstream_status.map(i32::from),
            result: o.audit_result(),
            job_id,
            via: self.via.map(|v| v.as_str().to_owned()),
            event: None,
        }
    }
}

/// Writes an audit record; a failure to write is logged loudly (the change itself already happened).
pub async fn write_audit(state: &AppState, rec: &NewAuditRecord) {
    state.metrics.change_finished(rec, super::CHUNK_SIZE);
    if let Err(e) = state.db.audit_insert(rec).await {
        tracing::error!(error = %e, action = %rec.action, corp = %rec.corp_id, "audit record could not be written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn outcomes_classify() {
        let ok = Outcome::from_call(
            Some(&["521-267-1508".into()]),
            &Ok(WriteResult {
                updated: 1,
                failed: vec![],
            }),
        );
        assert_eq!(ok.outcome, "ok");
        let partial = Outcome::from_call(
            None,
            &Ok(WriteResult {
                updated: 1,
                failed: vec![WriteFailure {
                    mdn: "x".into(),
                    reason: "no".into(),
                }],
            }),
        );
        assert_eq!(partial.outcome, "partial");
        let lines = vec!["521-267-1508".to_owned()];
        let refused = Outcome::from_call(
            Some(&lines),
            &Err(RunError::Upstream(UpstreamError::Status {
                status: StatusCode::FORBIDDEN,
                code: None,
                message: "no".into(),
                retry_after: None,
            })),
        );
        assert_eq!(refused.outcome, "refused");
        let unknown = Outcome::from_call(
            Some(&lines),
            &Err(RunError::Upstream(UpstreamError::Status {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: None,
                message: "boom".into(),
                retry_after: None,
            })),
        );
        assert_eq!(unknown.outcome, "failed");
        assert_eq!(unknown.unknown, lines);
        assert!(unknown.failed.is_empty());
    }
}
