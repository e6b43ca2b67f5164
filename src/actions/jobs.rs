//! Changes over more than one upstream call: an explicit list cut into chunks of [`CHUNK_SIZE`],
//! run as a background job stored in the database, [`JOB_CONCURRENCY`] chunks at a time.
//!
//! The user's access token is never written to the jobs table. Each chunk is marked started in
//! the database before its upstream call. A job abandoned by a stopped instance is taken over by
//! another ([`spawn_resumer`]): a chunk started without a recorded result may already have been
//! sent, so it is recorded as unknown and never sent again; a chunk never started is run with the
//! user's token, read from the shared session store through the job's `session_id` (refreshed if
//! needed). If the user has signed out, those lines are recorded as unknown and not sent. Then
//! the job is finished (result + audit record). Writes are never retried blindly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::form::{Change, Target};
use super::run::{self, AuditContext, Outcome};
use super::{CHUNK_SIZE, JOB_CONCURRENCY};
use crate::auth::session_token;
use crate::domain::{CorpId, Mdn};
use crate::startup::AppState;
use crate::storage::jobs::{ChunkOutcome, Job, JobState, NewJob};
use crate::upstream::wire::WriteFailure;

/// How long a claim on a job lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(30);

/// Why a resumed job's in-flight chunks are unknown (started, no recorded answer).
pub const RESUMED_REASON: &str = "The console instance running this change stopped while these lines were being sent to Sentinel, before its answer was recorded. They may or may not have changed; the console does not send a change twice, so they were not retried. Check these lines and run the change again for them if needed.";

/// Why a resumed job's never-started chunks are unknown when the user's session is gone.
pub const SIGNED_OUT_REASON: &str = "The user signed out before the change finished; these lines were not sent. Sign in and run the change again for them.";

/// Why a resumed job's chunk was not sent when the session store could not be read.
const SESSION_UNREADABLE_REASON: &str = "The console could not read the user's session to continue this change, so these lines were not sent. Run the change again for them.";

/// Why a chunk was not sent when its start could not be recorded.
const NOT_STARTED_REASON: &str = "The console could not record the start of this part of the change, so these lines were not sent. Run the change again for them.";

/// Everything needed to run a job (no secrets: SmartSpot changes never run as jobs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobPayload {
    pub audit: AuditContext,
    pub change: Change,
    pub chunks: Vec<Vec<Mdn>>,
}

/// Cuts an explicit list into chunks of at most [`CHUNK_SIZE`].
pub fn chunk(mdns: &[Mdn]) -> Vec<Vec<Mdn>> {
    mdns.chunks(CHUNK_SIZE).map(<[Mdn]>::to_vec).collect()
}

/// Stores a job for `mdns` and starts running it on this instance with `token`.
pub async fn start(
    state: &AppState,
    token: SecretString,
    session_id: Option<String>,
    corp: &CorpId,
    audit: AuditContext,
    change: Change,
    mdns: &[Mdn],
) -> Result<Uuid, crate::error::AppError> {
    let id = Uuid::new_v4();
    let chunks = chunk(mdns);
    let payload = JobPayload {
        audit: audit.clone(),
        change,
        chunks,
    };
    let total_chunks = i32::try_from(payload.chunks.len()).unwrap_or(i32::MAX);
    let new = NewJob {
        id,
        subject: audit.subject.clone(),
        session_id,
        corp_id: corp.to_string(),
        action: audit.action.slug().to_owned(),
        payload: serde_json::to_value(&payload)
            .map_err(|e| crate::error::AppError::Internal(e.into()))?,
        total_chunks,
        total_lines: i64::try_from(mdns.len()).unwrap_or(i64::MAX),
    };
    state.db.job_create(&new).await?;
    let st = state.clone();
    tokio::spawn(async move {
        run(st, id, Some(token)).await;
    });
    Ok(id)
}

/// Claims and runs a job. `token`: the owner's token (fresh start) or `None` (a resume).
pub async fn run(state: AppState, id: Uuid, token: Option<SecretString>) {
    match state.db.job_claim(id, &state.instance_id, LEASE).await {
        Ok(Some(job)) => process(&state, job, token).await,
        Ok(None) => tracing::debug!(job = %id, "job already claimed elsewhere"),
        Err(e) => tracing::error!(job = %id, error = %e, "job could not be claimed"),
    }
}

/// Takes over abandoned jobs (lease expired) every few seconds, for the life of the process.
pub fn spawn_resumer(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            loop {
                match state.db.job_claim_next(&state.instance_id, LEASE).await {
                    Ok(Some(job)) => {
                        tracing::warn!(job = %job.id, "resuming an abandoned job");
                        process(&state, job, None).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "looking for abandoned jobs failed");
                        break;
                    }
                }
            }
        }
    });
}

fn to_chunk_outcome(i: usize, o: &Outcome) -> ChunkOutcome {
    ChunkOutcome {
        chunk: i32::try_from(i).unwrap_or(i32::MAX),
        updated: i64::try_from(o.updated).unwrap_or(i64::MAX),
        failed: o
            .failed
            .iter()
            .map(|f| (f.mdn.clone(), f.reason.clone()))
            .collect(),
        unknown: o.unknown.clone(),
        upstream_status: o.upstream_status.map(i32::from),
        error: o.error.clone(),
    }
}

fn from_chunk_outcome(c: &ChunkOutcome) -> Outcome {
    let mut o = Outcome {
        updated: u64::try_from(c.updated).unwrap_or_default(),
        failed: c
            .failed
            .iter()
            .map(|(mdn, reason)| WriteFailure {
                mdn: mdn.clone(),
                reason: reason.clone(),
            })
            .collect(),
        unknown: c.unknown.clone(),
        upstream_status: c.upstream_status.and_then(|s| u16::try_from(s).ok()),
        error: c.error.clone(),
        ..Default::default()
    };
    o.outcome = if o.upstream_status == Some(403) {
        "refused".into()
    } else {
        o.classify().into()
    };
    o
}

/// Sums recorded chunks into the job's outcome.
pub fn summarise(chunks: &[ChunkOutcome]) -> Outcome {
    let mut total = Outcome::default();
    for c in chunks {
        total.absorb(from_chunk_outcome(c));
    }
    if total.outcome != "refused" || total.updated > 0 {
        total.outcome = total.classify().into();
    }
    total
}

async fn process(state: &AppState, job: Job, token: Option<SecretString>) {
    let id = job.id;
    let owner = state.instance_id.clone();
    let payload: JobPayload = match serde_json::from_value(job.payload.clone()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job payload unreadable");
            let res = serde_json::json!({ "error": "The job's stored data could not be read." });
            let _ = state
                .db
                .job_finish(id, &owner, JobState::Failed, &res)
                .await;
            return;
        }
    };
    let corp = match CorpId::parse(&job.corp_id) {
        Ok(c) => c,
        Err(_) => return,
    };
    let recorded: Vec<i32> = match state.db.job_chunks(id).await {
        Ok(c) => c.iter().map(|c| c.chunk).collect(),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job chunks unreadable");
            return;
        }
    };
    // Started before but never answered: may have reached Sentinel, so never sent again.
    let in_flight: Vec<i32> = match state.db.job_started_unrecorded(id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job chunk starts unreadable");
            return;
        }
    };
    let mut pending: Vec<(usize, Vec<Mdn>)> = Vec::new();
    for (i, mdns) in payload.chunks.iter().enumerate() {
        let n = i32::try_from(i).unwrap_or(i32::MAX);
        if recorded.contains(&n) {
            continue;
        }
        if in_flight.contains(&n) {
            tracing::warn!(job = %id, chunk = n, "chunk was in flight on a stopped instance; not resent");
            record(state, id, &owner, &not_sent(i, &mdns[..], RESUMED_REASON)).await;
        } else {
            pending.push((i, mdns.clone()));
        }
    }

    // Keep the lease while working; stop recording if another instance took the job over.
    let lost = Arc::new(AtomicBool::new(false));
    let renew = {
        let (st, lost) = (state.clone(), lost.clone());
        let owner = owner.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match st.db.job_renew_lease(id, &owner, LEASE).await {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::SeqCst);
                        break;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "lease renewal failed"),
                }
            }
        })
    };

    // A fresh start holds the user's token; a resume reads it from the session store.
    let source = match token {
        Some(t) => TokenSource::Held(t),
        None => TokenSource::Session(job.session_id.clone()),
    };
    let change = &payload.change;
    let mut results = futures::stream::iter(pending)
        .map(|(i, mdns)| {
            let (source, corp, owner, lost) = (&source, &corp, owner.as_str(), &lost);
            async move {
                if lost.load(Ordering::SeqCst) {
                    return None;
                }
                let token = match source.token(state).await {
                    Ok(t) => t,
                    Err(reason) => return Some(not_sent(i, &mdns, reason)),
                };
                let chunk = i32::try_from(i).unwrap_or(i32::MAX);
                // The durable "started" mark comes before the call: if this instance dies in
                // the call, the instance resuming the job knows not to send it again.
                match state.db.job_mark_chunk_started(id, owner, chunk).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %id, chunk, "chunk not started: lease lost or already started");
                        return None;
                    }
                    Err(e) => {
                        tracing::error!(job = %id, chunk, error = %e, "chunk start not recorded; not sent");
                        return Some(not_sent(i, &mdns, NOT_STARTED_REASON));
                    }
                }
                let lines: Vec<String> = mdns.iter().map(|m| m.to_string()).collect();
                let r = run::call(state, &token, corp, change, &Target::Lines(mdns)).await;
                Some(to_chunk_outcome(i, &Outcome::from_call(Some(&lines), &r)))
            }
        })
        .buffer_unordered(JOB_CONCURRENCY);
    while let Some(o) = results.next().await {
        if lost.load(Ordering::SeqCst) {
            break;
        }
        if let Some(o) = o {
            record(state, id, &owner, &o).await;
        }
    }
    drop(results);
    renew.abort();
    if lost.load(Ordering::SeqCst) {
        return;
    }
    let chunks = match state.db.job_chunks(id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job chunks unreadable");
            return;
        }
    };
    let total = summarise(&chunks);
    let state_after = if total.updated == 0 && total.outcome != "ok" {
        JobState::Failed
    } else {
        JobState::Done
    };
    let result = total.audit_result();
    let all: Vec<Mdn> = payload.chunks.concat();
    let rec = payload.audit.record(
        &Target::Lines(all.clone()).audit_json(),
        payload.change.audit_fields(),
        Some(all.len() as u64),
        &total,
        Some(id.to_string()),
    );
    // The job's end and its audit record in one transaction: never lost, never written twice.
    match state
        .db
        .job_finish_audited(id, &owner, state_after, &result, &rec)
        .await
    {
        Ok(Some(_)) => state.metrics.change_finished(&rec),
        Ok(None) => tracing::warn!(job = %id, "job finished elsewhere"),
        Err(e) => tracing::error!(job = %id, error = %e, "job could not be finished"),
    }
}

/// Where a job's chunks get the user's access token.
enum TokenSource {
    /// Given by the request that started the job (kept in memory only).
    Held(SecretString),
    /// A resumed job: the session's stored token, read (and refreshed) for each chunk.
    Session(Option<String>),
}

impl TokenSource {
    /// The token to send a chunk with, or why the chunk cannot be sent.
    async fn token(&self, state: &AppState) -> Result<SecretString, &'static str> {
        match self {
            TokenSource::Held(t) => Ok(t.clone()),
            TokenSource::Session(None) => Err(SIGNED_OUT_REASON),
            TokenSource::Session(Some(sid)) => match session_token(state, sid).await {
                Ok(Some(t)) => Ok(t),
                Ok(None) => Err(SIGNED_OUT_REASON),
                Err(e) => {
                    tracing::error!(error = %e, "session store unreadable for a resumed job");
                    Err(SESSION_UNREADABLE_REASON)
                }
            },
        }
    }
}

/// A chunk recorded as unknown without being sent (or without being sent again), with `reason`.
fn not_sent(i: usize, mdns: &[Mdn], reason: &str) -> ChunkOutcome {
    ChunkOutcome {
        chunk: i32::try_from(i).unwrap_or(i32::MAX),
        unknown: mdns.iter().map(|m| m.to_string()).collect(),
        error: Some(reason.into()),
        ..Default::default()
    }
}

async fn record(state: &AppState, id: Uuid, owner: &str, o: &ChunkOutcome) {
    match state.db.job_record_chunk(id, owner, o).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %id, chunk = o.chunk, "chunk not recorded: lease lost"),
        Err(e) => tracing::error!(job = %id, chunk = o.chunk, error = %e, "chunk not recorded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_cut_in_chunks_of_500() {
        let mdns: Vec<Mdn> = (0..1201)
            .map(|i| Mdn::parse(&format!("555{i:07}")).unwrap())
            .collect();
        let c = chunk(&mdns);
        assert_eq!(
            c.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500, 201]
        );
    }

    #[test]
    fn summary_adds_chunks_and_keeps_unknowns() {
        let chunks = vec![
            ChunkOutcome {
                chunk: 0,
                updated: 500,
                ..Default::default()
            },
            ChunkOutcome {
                chunk: 1,
                unknown: vec!["555-000-0001".into()],
                upstream_status: Some(500),
                error: Some("boom".into()),
                ..Default::default()
            },
        ];
        let s = summarise(&chunks);
        assert_eq!(s.updated, 500);
        assert_eq!(s.unknown.len(), 1);
        assert_eq!(s.outcome, "partial");
    }
}
