//! A job of one upstream call (a select-all's bulk call, a SmartSpot change): where it stands when
//! it starts or is resumed, and its one outcome recorded.

use uuid::Uuid;

use crate::outcome::Outcome;
use crate::state::AppState;
use crate::storage::changes::LineResult;
use crate::storage::jobs::ChunkOutcome;
use crate::storage::retry::retrying;

/// Where a job of one call stands.
pub enum OneCall {
    /// Its call's outcome is recorded: only the end is left.
    Recorded(Outcome),
    /// Marked started but never recorded (a stopped instance): it may have reached Sentinel, so
    /// it is settled unknown and never sent again.
    InFlight,
    /// Never started: it is sent now.
    Fresh,
}

/// Reads where job `id` stands; `None` when the database cannot say (logged; the job is left
/// for the resumer).
pub async fn stands(state: &AppState, id: Uuid, what: &str) -> Option<OneCall> {
    let recorded = match retrying("read chunks", || state.db.job_chunks(id)).await {
        Ok(c) => c.into_iter().next(),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "{what} job unreadable");
            return None;
        }
    };
    if let Some(c) = recorded {
        return Some(OneCall::Recorded(Outcome::sum([c.outcome])));
    }
    match retrying("read chunk starts", || state.db.job_started_unrecorded(id)).await {
        Ok(started) if !started.is_empty() => {
            tracing::warn!(job = %id, "{what} call was in flight on a stopped instance; not resent");
            Some(OneCall::InFlight)
        }
        Ok(_) => Some(OneCall::Fresh),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "{what} job unreadable");
            None
        }
    }
}

/// Records the call's outcome as the job's one chunk, with its lines' results. `false` when this
/// instance no longer runs the job (the one that does finishes it).
pub async fn record(
    state: &AppState,
    id: Uuid,
    owner: &str,
    outcome: &Outcome,
    lines: &[LineResult],
) -> bool {
    let chunk = ChunkOutcome {
        chunk: 0,
        outcome: outcome.clone(),
    };
    match retrying("record chunk", || {
        state.db.job_record_chunk_lines(id, owner, &chunk, lines)
    })
    .await
    {
        Ok(ours) => ours,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "outcome not recorded");
            true
        }
    }
}
