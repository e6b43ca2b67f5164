//! A job's end, whichever runner ran it (explicit lists, select-all, SmartSpot): its state, its
//! change set's and its audit record in one transaction, and the metrics.

use uuid::Uuid;

use crate::outcome::{ChangeResult, Outcome};
use crate::state::AppState;
use crate::storage::audit::NewAuditRecord;
use crate::storage::jobs::JobState;
use crate::storage::retry::retrying;

/// Ends a job and its change set with `outcome` and its audit record `rec`, in one transaction:
/// never lost, never written twice (every runner ends here). `for_sign_in`: it stopped for a
/// sign-in and waits in `needs_sign_in` for the user to send the lines not sent.
pub async fn finish(
    state: &AppState,
    id: Uuid,
    owner: &str,
    outcome: &Outcome,
    rec: &NewAuditRecord,
    message: Option<&str>,
    for_sign_in: bool,
) {
    let state_after = if outcome.updated == 0 && outcome.outcome != ChangeResult::Ok {
        JobState::Failed
    } else {
        JobState::Done
    };
    let result = outcome.audit_result();
    let finished = retrying("finish", || {
        state
            .db
            .job_finish_change(id, owner, state_after, &result, rec, message, for_sign_in)
    })
    .await;
    match finished {
        Ok(Some(_)) => state
            .metrics
            .change_finished(rec, crate::actions::CHUNK_SIZE),
        Ok(None) => tracing::warn!(job = %id, "job finished elsewhere"),
        Err(e) => tracing::error!(job = %id, error = %e, "job could not be finished"),
    }
}
