//! Changes over more than one upstream call: an explicit list cut into chunks of [`CHUNK_SIZE`],
//! run as a background job stored in the database, [`JOB_CONCURRENCY`] chunks at a time.
//!
//! Each chunk is its own task: it reads the user's token from the session store (refreshed when
//! it expires, so a long job outlives a short token), re-checks the policy with the roles that
//! token carries, marks itself started in the database, calls Sentinel and records its own
//! outcome, each database step in its own short transaction and retried while the database is
//! busy. No chunk ever waits on a lock another chunk holds, and a final sweep records any chunk
//! left without an outcome as unknown, so the per-line counts always add up to the job's lines.
//!
//! The user's access token is never written to the jobs table. A job abandoned by a stopped
//! instance is taken over by another ([`spawn_resumer`]): a chunk started without a recorded
//! result may already have been sent, so it is recorded as unknown and never sent again. When
//! the user has signed out, the remaining lines are recorded as unknown and not sent. Then the
//! job is finished (result + audit record). Writes are never retried blindly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::error::ChangeError;
use super::form::{Change, Target};
use super::run::{self, AuditContext, Outcome};
use super::{CHUNK_SIZE, JOB_CONCURRENCY};
use super::{befores, changeset};
use crate::domain::{CorpId, Imei, Mdn};
use crate::identity::caller::Caller;
use crate::outcome::ChangeResult;
use crate::policy::{Operation, Principal};
use crate::state::AppState;
use crate::storage::changes::{NewLine, Origin};
use crate::storage::jobs::{ChunkOutcome, Job, JobState, NewJob};
use crate::storage::retry::retrying;
use crate::upstream::wire::BulkSelection;

/// How long a claim on a job lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(30);

/// Cuts an explicit list into chunks of at most [`CHUNK_SIZE`].
pub fn chunk(mdns: &[Mdn]) -> Vec<Vec<Mdn>> {
    mdns.chunks(CHUNK_SIZE).map(<[Mdn]>::to_vec).collect()
}

/// A stored job: its change set's id and the task running it here (a caller may wait on it for a
/// short change; the job goes on without it).
pub type Started = (Uuid, tokio::task::JoinHandle<()>);

/// What every kind of job is started with: where it runs, for whom, who made it and why.
/// Each kind stores its change set, its lines and its job in one transaction before anything is
/// sent, then runs the job on this instance (with `user`'s token when the job has no session to
/// read a fresh one from).
pub struct Starter<'a> {
    pub state: &'a AppState,
    pub user: &'a Caller,
    pub session_id: Option<String>,
    pub corp: &'a CorpId,
    pub audit: AuditContext,
    /// A new change, or a retry / revert of a parent.
    pub origin: (Origin, Option<Uuid>),
}

impl Starter<'_> {
    /// One change for an explicit list, cut into chunks of [`CHUNK_SIZE`].
    pub async fn list(self, change: Change, mdns: &[Mdn]) -> Result<Started, ChangeError> {
        let id = Uuid::new_v4();
        let set = changeset::new_set(
            id,
            &self.audit,
            &change,
            &Target::Lines(mdns.to_vec()),
            self.origin,
        );
        let after = change.action.def().after(&change.values);
        let lines = NewLine::pending(mdns, &after);
        let payload = JobPayload {
            chunks: chunk(mdns),
            ..JobPayload::new(self.audit.clone(), change)
        };
        self.launch(set, &lines, payload, None).await
    }

    /// Lines that get different values (a revert, an import): one group per change, each cut
    /// into chunks of [`CHUNK_SIZE`], all run with the job's bounded concurrency. `summary`
    /// describes the whole change set.
    pub async fn groups(
        self,
        groups: Vec<(Change, Vec<Mdn>)>,
        summary: String,
    ) -> Result<Started, ChangeError> {
        let Some(first) = groups.first().map(|(c, _)| c.clone()) else {
            return Err(ChangeError::Invalid("There is no line to change.".into()));
        };
        let id = Uuid::new_v4();
        let mut chunks = Vec::new();
        let mut chunk_changes = Vec::new();
        let mut lines = Vec::new();
        let mut all = Vec::new();
        for (change, mdns) in &groups {
            let after = change.action.def().after(&change.values);
            lines.extend(NewLine::pending(mdns, &after));
            for c in chunk(mdns) {
                chunks.push(c);
                chunk_changes.push(change.clone());
            }
            all.extend(mdns.iter().cloned());
        }
        let payload = JobPayload {
            chunks,
            chunk_changes,
            ..JobPayload::new(self.audit.clone(), first.clone())
        };
        let mut set = changeset::new_set(id, &self.audit, &first, &Target::Lines(all), self.origin);
        set.summary = summary;
        set.fields = payload.audit_fields();
        self.launch(set, &lines, payload, None).await
    }

    /// Every line matching a search: stored before anything is read or sent; reading the
    /// matching lines, the bulk call and the result are the job's ([`super::select_all`]).
    pub async fn select_all(
        self,
        change: Change,
        b: &BulkSelection,
    ) -> Result<Started, ChangeError> {
        let id = Uuid::new_v4();
        let set = changeset::new_set(
            id,
            &self.audit,
            &change,
            &Target::Bulk(b.clone()),
            self.origin,
        );
        let payload = JobPayload {
            bulk: Some(b.clone()),
            ..JobPayload::new(self.audit.clone(), change)
        };
        self.launch(set, &[], payload, None).await
    }

    /// SmartSpot settings for `imeis`: the new Wi-Fi password sealed for this job's row only,
    /// deleted when the job finishes; the call, its result and the audit entry are the job's
    /// ([`super::smartspot`]).
    pub async fn smartspot(self, change: Change, imeis: &[Imei]) -> Result<Started, ChangeError> {
        let id = Uuid::new_v4();
        let set = changeset::new_set(
            id,
            &self.audit,
            &change,
            &Target::Imeis(imeis.to_vec()),
            self.origin,
        );
        let after = change.action.def().after(&change.values);
        let lines = NewLine::pending(imeis, &after);
        let (secret_field, sealed) =
            match crate::actions::catalog::field::secrets(change.action.fields())
                .find_map(|name| change.values.secret(name).map(|v| (name, v)))
            {
                Some((name, v)) => (
                    Some(name.to_owned()),
                    Some(
                        self.state
                            .auth
                            .cipher
                            .seal(v, crate::crypto::Row::JobSecret(id)),
                    ),
                ),
                None => (None, None),
            };
        let payload = JobPayload {
            imeis: Some(imeis.to_vec()),
            secret_field,
            ..JobPayload::new(self.audit.clone(), change)
        };
        self.launch(set, &lines, payload, sealed).await
    }

    /// Stores the change set, its lines and its job in one transaction, then runs the job here.
    async fn launch(
        self,
        set: crate::storage::changes::NewChangeSet,
        lines: &[NewLine],
        payload: JobPayload,
        sealed: Option<String>,
    ) -> Result<Started, ChangeError> {
        let id = set.id;
        let new = NewJob {
            id,
            subject: self.audit.subject.clone(),
            session_id: self.session_id,
            corp_id: self.corp.to_string(),
            action: self.audit.action.slug().to_owned(),
            payload: serde_json::to_value(&payload).map_err(|e| ChangeError::Internal(e.into()))?,
            total_chunks: payload.total_chunks(),
            total_lines: i64::try_from(lines.len()).unwrap_or(i64::MAX),
            sealed,
        };
        let began = std::time::Instant::now();
        self.state.db.change_create(&set, lines, Some(&new)).await?;
        tracing::info!(change = %id, lines = lines.len(), store_ms = began.elapsed().as_millis() as u64, "change set stored");
        let st = self.state.clone();
        let held = (self.user.token.clone(), self.user.principal.clone());
        let handle = tokio::spawn(async move {
            run(st, id, Some(held)).await;
        });
        Ok((id, handle))
    }
}

/// Runs a stored job on this instance (a released waiting change set), in the background.
pub(crate) fn spawn_run(state: &AppState, id: Uuid, held: Option<(SecretString, Principal)>) {
    let st = state.clone();
    tokio::spawn(async move {
        run(st, id, held).await;
    });
}

/// Claims and runs a job. `held`: the owner's token and user (fresh start) or `None` (a resume).
async fn run(state: AppState, id: Uuid, held: Option<(SecretString, Principal)>) {
    let Some(lease) = Lease::take(&state, id) else {
        tracing::debug!(job = %id, "job already running here");
        return;
    };
    match state.db.job_claim(id, &state.instance_id, LEASE).await {
        Ok(Some(job)) => process(&state, job, lease, held).await,
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
                    Ok(Some(job)) => match Lease::take(&state, job.id) {
                        // Still running here (a busy database let its lease lapse, or a
                        // fresh start has just claimed it): claiming it renewed the lease;
                        // the run in progress goes on.
                        None => {}
                        Some(lease) => {
                            tracing::warn!(job = %job.id, "resuming an abandoned job");
                            process(&state, job, lease, None).await;
                        }
                    },
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

async fn process(
    state: &AppState,
    job: Job,
    lease: Lease,
    held: Option<(SecretString, Principal)>,
) {
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
    let source = TokenSource::of(payload.grant, held, job.session_id.clone());
    // The lease is kept while working; recording stops if another instance took the job over.
    if let Some(bulk) = payload.bulk.clone() {
        super::select_all::process(state, id, &lease, payload, bulk, corp, source).await;
        return;
    }
    if let Some(imeis) = payload.imeis.clone() {
        super::smartspot::process(state, id, &lease, payload, imeis, corp, source).await;
        return;
    }
    let recorded: Vec<i32> = match retrying("read chunks", || state.db.job_chunks(id)).await {
        Ok(c) => c.iter().map(|c| c.chunk).collect(),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job chunks unreadable");
            return;
        }
    };
    // Started before but never answered: may have reached Sentinel, so never sent again.
    let in_flight: Vec<i32> =
        match retrying("read chunk starts", || state.db.job_started_unrecorded(id)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(job = %id, error = %e, "job chunk starts unreadable");
                return;
            }
        };
    let firsts = first_seqs(&payload.chunks);
    let mut pending: Vec<(usize, Vec<Mdn>)> = Vec::new();
    for (i, mdns) in payload.chunks.iter().enumerate() {
        let n = i32::try_from(i).unwrap_or(i32::MAX);
        if recorded.contains(&n) {
            continue;
        }
        if in_flight.contains(&n) {
            tracing::warn!(job = %id, chunk = n, "chunk was in flight on a stopped instance; not resent");
            let o = not_sent(i, &mdns[..], RESUMED_REASON);
            record(state, id, &owner, &o, mdns, firsts[i]).await;
        } else {
            pending.push((i, mdns.clone()));
        }
    }

    // Every chunk runs as its own task and records its own outcome in its own short
    // transaction: no chunk waits on another's lock, so none can stall the job.
    // The lines' values before: a large list's from one export of the group, now; otherwise
    // where the lines sit in the group's list, so that each chunk reads its own lines' values
    // right before it is sent with one list page (one chunk alone reads an export: as cheap).
    let began = std::time::Instant::now();
    let pending_lines: usize = pending.iter().map(|(_, m)| m.len()).sum();
    let one_action = payload
        .chunk_changes
        .iter()
        .all(|c| c.action == payload.change.action);
    let (windows, known) = match source.access(state).await.map_err(no_token_reason) {
        Ok((token, user)) if user.can(Operation::ListDevices, &corp) => {
            let all = if pending_lines >= befores::ONE_EXPORT_FROM && one_action {
                let def = payload.change.action.def();
                befores::read_all(state, &token, &corp, def, &pending, &firsts).await
            } else {
                None
            };
            match all {
                Some(all) => (Vec::new(), Some(all)),
                None if pending.len() > 1 => (
                    befores::locate(state, &token, &corp, &payload.chunks).await,
                    None,
                ),
                None => (Vec::new(), None),
            }
        }
        _ => (Vec::new(), None),
    };
    let read_ms = began.elapsed().as_millis() as u64;
    let ctx = Arc::new(ChunkCtx {
        state: state.clone(),
        id,
        owner: owner.clone(),
        corp,
        change: payload.change.clone(),
        chunk_changes: payload.chunk_changes.clone(),
        source,
        firsts,
        windows,
        known,
        calls: Arc::new(Semaphore::new(JOB_CONCURRENCY)),
        writes: tokio::sync::Mutex::new(()),
        queued: std::sync::Mutex::new(Vec::new()),
        steps: Steps::default(),
        lost: lease.lost.clone(),
    });

    // Chunks in flight: JOB_CONCURRENCY of them in their upstream call, as many again storing
    // their values before or recording their outcome meanwhile (see `run_chunk`).
    let permits = Arc::new(Semaphore::new(2 * JOB_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (i, mdns) in pending {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        // The call slot is taken here, in chunk order: a chunk reads its lines' values right
        // before it is sent, after the chunks ahead of it (a task's own wait would be in any order).
        let t = std::time::Instant::now();
        let Ok(slot) = ctx.calls.clone().acquire_owned().await else {
            break;
        };
        ctx.steps.waited(t);
        if ctx.lost.load(Ordering::SeqCst) {
            break;
        }
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let _permit = permit;
            run_chunk(&ctx, i, mdns, slot).await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            tracing::error!(job = %id, error = %e, "a chunk task ended abnormally");
        }
    }
    drop(lease);
    if ctx.lost.load(Ordering::SeqCst) {
        return;
    }
    let Some(chunks) = account_every_chunk(state, id, &owner, &payload.chunks).await else {
        return;
    };
    // Where a large list's time goes (the benchmark's breakdown): the steps' sums over chunks.
    ctx.steps.log(id, pending_lines, read_ms, began.elapsed());
    let total = Outcome::sum(chunks.iter().map(|c| c.outcome.clone()));
    let all: Vec<Mdn> = payload.chunks.concat();
    let rec = payload.audit.record(
        &Target::Lines(all.clone()).audit_json(),
        payload.audit_fields(),
        Some(all.len() as u64),
        &total,
        Some(id.to_string()),
    );
    let message = stopped_message(&chunks);
    // Lines not sent because the sign-in ended or was refused wait for the user to sign in.
    let for_sign_in = chunks
        .iter()
        .any(|c| c.outcome.error.as_deref().is_some_and(needs_sign_in));
    end::finish(
        state,
        id,
        &owner,
        &total,
        &rec,
        message.as_deref(),
        for_sign_in,
    )
    .await;
}

/// Reads the recorded chunks and records any chunk still without an outcome as unknown, so the
/// job's counts always add up to its lines. `None` when the database cannot be read.
async fn account_every_chunk(
    state: &AppState,
    id: Uuid,
    owner: &str,
    chunks: &[Vec<Mdn>],
) -> Option<Vec<ChunkOutcome>> {
    let read = || retrying("read chunks", || state.db.job_chunks(id));
    let mut recorded = match read().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job chunks unreadable");
            return None;
        }
    };
    let missing: Vec<usize> = (0..chunks.len())
        .filter(|i| {
            !recorded
                .iter()
                .any(|c| usize::try_from(c.chunk).ok() == Some(*i))
        })
        .collect();
    if missing.is_empty() {
        return Some(recorded);
    }
    for i in missing {
        tracing::error!(job = %id, chunk = i, "chunk ended without a recorded outcome");
        let o = not_sent(i, &chunks[i], UNRECORDED_REASON);
        record(state, id, owner, &o, &chunks[i], first_seqs(chunks)[i]).await;
    }
    recorded = match read().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "job chunks unreadable");
            return None;
        }
    };
    Some(recorded)
}

mod chunk;
pub mod end;
pub mod lease;
pub mod one_call;
pub mod payload;
use crate::identity::caller::TokenSource;
use chunk::*;
use lease::Lease;
pub use payload::*;

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
            Outcome {
                updated: 500,
                ..Default::default()
            },
            Outcome {
                unknown: vec!["555-000-0001".into()],
                upstream_status: Some(500),
                error: Some("boom".into()),
                ..Default::default()
            },
        ];
        let s = Outcome::sum(chunks);
        assert_eq!(s.updated, 500);
        assert_eq!(s.unknown.len(), 1);
        assert_eq!(s.outcome, "partial");
    }
}
