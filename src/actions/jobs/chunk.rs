//! One chunk of a job: its token and policy check, its durable start mark, its call, its recorded outcome (each database step retried while the database is busy).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use super::*;
use crate::storage::changes::LineResult;
use crate::upstream::wire::WriteFailure;

/// What the chunk tasks of one job share.
pub(super) struct ChunkCtx {
    pub(super) state: AppState,
    pub(super) id: Uuid,
    pub(super) owner: String,
    pub(super) corp: CorpId,
    pub(super) change: Change,
    /// A revert's change per chunk (see [`JobPayload::chunk_changes`]).
    pub(super) chunk_changes: Vec<Change>,
    pub(super) source: TokenSource,
    /// The change set's line number of each chunk's first line.
    pub(super) firsts: Vec<i32>,
    /// Where each chunk's lines sat in the group's list at the job's start (may be empty).
    pub(super) windows: Vec<Option<befores::Window>>,
    /// A large list's values before, by line number, read from one export at the job's start;
    /// `None`: each chunk reads its own right before it is sent.
    pub(super) known: Option<HashMap<i32, String>>,
    /// Upstream calls at once: a chunk holds a slot from its token read to its call's answer.
    pub(super) calls: Arc<Semaphore>,
    /// The job's database writes (start marks, outcomes) one at a time: its chunks never queue
    /// on each other's locks in the database (SQLite's busy waits, a PostgreSQL row lock).
    pub(super) writes: tokio::sync::Mutex<()>,
    /// Outcomes waiting for the job's turn to write (see `record_queued`).
    pub(super) queued: std::sync::Mutex<Vec<(ChunkOutcome, Vec<LineResult>)>>,
    /// Time spent in each step, summed over the chunks.
    pub(super) steps: Steps,
    /// Set when another instance took the job over: stop sending and recording.
    pub(super) lost: Arc<AtomicBool>,
}

/// Milliseconds each step of a job's chunks took, summed over its chunks (logged at its end).
#[derive(Default)]
pub(super) struct Steps {
    befores: AtomicU64,
    slot: AtomicU64,
    token: AtomicU64,
    start: AtomicU64,
    call: AtomicU64,
    record: AtomicU64,
}

impl Steps {
    /// Time a chunk waited for its call slot.
    pub(super) fn waited(&self, since: Instant) {
        Self::add(&self.slot, since);
    }

    fn add(counter: &AtomicU64, since: Instant) -> Instant {
        let now = Instant::now();
        counter.fetch_add((now - since).as_millis() as u64, Ordering::Relaxed);
        now
    }

    /// Logs the job's time and its steps' sums (the benchmark's breakdown, at `info`).
    pub(super) fn log(&self, id: Uuid, lines: usize, read_ms: u64, total: Duration) {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed);
        tracing::info!(
            job = %id,
            lines,
            total_ms = total.as_millis() as u64,
            read_befores_ms = read_ms,
            befores_ms = ms(&self.befores),
            wait_slot_ms = ms(&self.slot),
            token_ms = ms(&self.token),
            mark_started_ms = ms(&self.start),
            call_ms = ms(&self.call),
            record_ms = ms(&self.record),
            "list change made (steps summed over chunks)"
        );
    }
}

impl ChunkCtx {
    /// The change chunk `i` sends.
    fn change_of(&self, i: usize) -> &Change {
        self.chunk_changes.get(i).unwrap_or(&self.change)
    }
}

/// Sends one chunk and records its outcome (unless the job was taken over). Only the token
/// read, the start mark and the call hold one of the job's call slots: values before already
/// read (a large list's) are stored before, and the outcome recorded after, while other chunks
/// are in their calls.
/// `slot` was taken in chunk order by the job's loop, so chunks read their values before and
/// are sent in the list's order.
pub(super) async fn run_chunk(
    ctx: &ChunkCtx,
    i: usize,
    mdns: Vec<Mdn>,
    slot: tokio::sync::OwnedSemaphorePermit,
) {
    if ctx.lost.load(Ordering::SeqCst) {
        return;
    }
    let sent = send_chunk(ctx, i, mdns.clone()).await;
    drop(slot);
    if let Some(o) = sent {
        let t = Instant::now();
        record_queued(ctx, i, o, &mdns).await;
        Steps::add(&ctx.steps.record, t);
    }
}

/// The outcome of one chunk, or `None` when this instance no longer owns the job.
pub(super) async fn send_chunk(ctx: &ChunkCtx, i: usize, mdns: Vec<Mdn>) -> Option<ChunkOutcome> {
    let state = &ctx.state;
    let t = Instant::now();
    // The token and roles as they are now: refreshed when expiring, gone after sign-out.
    let (token, user) = match ctx.source.access(state).await.map_err(no_token_reason) {
        Ok(g) => g,
        Err(reason) => return Some(not_sent(i, &mdns, reason)),
    };
    let t = Steps::add(&ctx.steps.token, t);
    let change = ctx.change_of(i);
    let allowed = change.authorize(&user, &ctx.corp, mdns.len());
    if let Err(refusal) = allowed {
        return Some(refused(i, &mdns, &refusal.0));
    }
    // Read before the start mark: a chunk stopped while reading is simply sent later, and reads
    // again. Stored with the mark, in its transaction.
    let found = match &ctx.known {
        Some(known) => known_befores(ctx, i, known, &mdns),
        None => read_befores(ctx, i, &token, &user, &mdns).await,
    };
    let t = Steps::add(&ctx.steps.befores, t);
    let chunk = i32::try_from(i).unwrap_or(i32::MAX);
    // The durable "started" mark comes before the call: if this instance dies in the call, the
    // instance resuming the job knows not to send it again.
    let turn = ctx.writes.lock().await;
    let started = retrying("mark chunk started", || {
        state.db.job_start_chunk(ctx.id, &ctx.owner, chunk, &found)
    })
    .await;
    drop(turn);
    let t = Steps::add(&ctx.steps.start, t);
    match started {
        Ok(true) => {}
        Ok(false) => {
            // Either the job is no longer ours, or an earlier attempt of ours committed the
            // mark without our hearing it: then nothing was sent, but say so honestly.
            let ours = retrying("renew lease", || {
                state.db.job_renew_lease(ctx.id, &ctx.owner, LEASE)
            })
            .await;
            return match ours {
                Ok(false) => {
                    ctx.lost.store(true, Ordering::SeqCst);
                    None
                }
                // Ours (or unknown: then the final sweep and a resume sort it out): not sent.
                _ => Some(not_sent(i, &mdns, NOT_STARTED_REASON)),
            };
        }
        Err(e) => {
            tracing::error!(job = %ctx.id, chunk, error = %e, "chunk start not recorded; not sent");
            return Some(not_sent(i, &mdns, NOT_STARTED_REASON));
        }
    }
    if !change.per_line() {
        let o = call_lines(ctx, i, change, mdns, token).await;
        Steps::add(&ctx.steps.call, t);
        return Some(o);
    }
    // The operation sets more than the change does (both limits when one is left unchanged):
    // the lines are sent grouped by their own current value of the rest, never a default.
    let first = ctx.firsts.get(i).copied().unwrap_or_default();
    let now: HashMap<i32, String> = found.into_iter().collect();
    let (groups, unsendable) = befores::split_by_line(
        change,
        mdns.iter().enumerate().map(|(k, m)| {
            let seq = first.saturating_add(i32::try_from(k).unwrap_or(i32::MAX));
            (m.clone(), now.get(&seq).cloned())
        }),
    );
    let mut total = Outcome::default();
    for (group_change, lines) in groups {
        let o = call_lines(ctx, i, &group_change, lines, token.clone()).await;
        total.absorb(o.outcome);
    }
    total
        .failed
        .extend(unsendable.into_iter().map(|(m, reason)| WriteFailure {
            mdn: m.to_string(),
            reason,
        }));
    Steps::add(&ctx.steps.call, t);
    Some(numbered(i, total))
}

/// One upstream call of `change` for `mdns` (chunk `i`), renewing the sign-in on a `401`.
async fn call_lines(
    ctx: &ChunkCtx,
    i: usize,
    change: &Change,
    mdns: Vec<Mdn>,
    token: SecretString,
) -> ChunkOutcome {
    let state = &ctx.state;
    let lines: Vec<String> = mdns.iter().map(|m| m.to_string()).collect();
    let target = Target::Lines(mdns.clone());
    let mut r = run::call(state, &token, &ctx.corp, change, &target).await;
    let mut token = token;
    let mut renewals = 0;
    while run::unauthorized(&r) && renewals < MAX_RENEWALS {
        // A 401 means nothing was applied: the token ran out in flight. Renew the sign-in and
        // send this chunk again, with the roles as they are now.
        renewals += 1;
        match ctx
            .source
            .renew(state, &token)
            .await
            .map_err(no_token_reason)
        {
            Ok((fresh, user)) => {
                if let Err(refusal) = change.authorize(&user, &ctx.corp, mdns.len()) {
                    return refused(i, &mdns, &refusal.0);
                }
                r = run::call(state, &fresh, &ctx.corp, change, &target).await;
                token = fresh;
            }
            // Signed out while it was in flight, or the sign-in was refused: a `401` applied
            // nothing, so these lines were not sent.
            Err(reason) => return not_sent(i, &mdns, reason),
        }
    }
    numbered(i, Outcome::from_call(Some(&lines), &r))
}

/// Chunk `i`'s outcome, numbered as stored.
pub(super) fn numbered(i: usize, outcome: Outcome) -> ChunkOutcome {
    ChunkOutcome {
        chunk: i32::try_from(i).unwrap_or(i32::MAX),
        outcome,
    }
}

/// Chunk `i`'s values before, `(seq, value)`, from those the job read at its start.
fn known_befores(
    ctx: &ChunkCtx,
    i: usize,
    known: &HashMap<i32, String>,
    mdns: &[Mdn],
) -> Vec<(i32, String)> {
    let first = ctx.firsts.get(i).copied().unwrap_or_default();
    (0..mdns.len())
        .filter_map(|k| {
            let seq = first.saturating_add(i32::try_from(k).ok()?);
            known.get(&seq).map(|v| (seq, v.clone()))
        })
        .collect()
}

/// Reads chunk `i`'s lines' values as they are now, right before it is sent, `(seq, value)`.
/// A failure leaves them unknown ("—"); it never stops the chunk.
async fn read_befores(
    ctx: &ChunkCtx,
    i: usize,
    token: &SecretString,
    user: &Principal,
    mdns: &[Mdn],
) -> Vec<(i32, String)> {
    let first = ctx.firsts.get(i).copied().unwrap_or_default();
    let window = ctx.windows.get(i).copied().flatten();
    let def = ctx.change_of(i).action.def();
    let state = &ctx.state;
    match befores::read_chunk(state, token, user, &ctx.corp, def, mdns, first, window).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(change = %ctx.id, error = %e, "before-values could not be read");
            Vec::new()
        }
    }
}

/// How often one chunk renews the sign-in after a `401` (each one applied nothing) before its
/// lines are failed with Sentinel's refusal: a slow upstream can outlast a fresh short token too.
const MAX_RENEWALS: u32 = 3;

/// A chunk recorded as unknown without being sent (or without being sent again), with `reason`.
pub(super) fn not_sent(i: usize, mdns: &[Mdn], reason: &str) -> ChunkOutcome {
    let mut o = Outcome {
        unknown: mdns.iter().map(|m| m.to_string()).collect(),
        error: Some(reason.into()),
        ..Default::default()
    };
    o.outcome = o.classify();
    numbered(i, o)
}

/// A chunk the user's current roles no longer allow: every line failed, nothing sent.
pub(super) fn refused(i: usize, mdns: &[Mdn], why: &str) -> ChunkOutcome {
    numbered(
        i,
        Outcome {
            failed: mdns
                .iter()
                .map(|m| WriteFailure {
                    mdn: m.to_string(),
                    reason: why.to_owned(),
                })
                .collect(),
            upstream_status: Some(403),
            error: Some(why.to_owned()),
            outcome: ChangeResult::Refused,
            ..Default::default()
        },
    )
}

/// The line number (in the change set) of each chunk's first line.
pub(super) fn first_seqs(chunks: &[Vec<Mdn>]) -> Vec<i32> {
    let mut at = 0usize;
    chunks
        .iter()
        .map(|c| {
            let first = i32::try_from(at).unwrap_or(i32::MAX);
            at += c.len();
            first
        })
        .collect()
}

/// "Stopped: you signed out — N lines not sent." when the session ended mid-change.
pub(super) fn stopped_message(chunks: &[ChunkOutcome]) -> Option<String> {
    let count = |reason: &str| -> usize {
        chunks
            .iter()
            .filter(|c| c.outcome.error.as_deref() == Some(reason))
            .map(|c| c.outcome.unknown.len())
            .sum()
    };
    let lines = |n: usize| crate::actions::form::plural(n as u64, "line");
    let (signed_out, refused) = (count(SIGNED_OUT_REASON), count(SIGN_IN_REFUSED_REASON));
    if refused > 0 {
        return Some(format!(
            "Stopped: Sentinel no longer accepted the sign-in and it could not be renewed — {} not sent. Sign in and retry them.",
            lines(refused + signed_out)
        ));
    }
    (signed_out > 0).then(|| {
        format!(
            "Stopped: you signed out — {} not sent. Sign in and retry them.",
            lines(signed_out)
        )
    })
}

/// Chunk outcome `o`'s per-line results (`mdns` from line `first` on).
fn line_results(o: &ChunkOutcome, mdns: &[Mdn], first: i32) -> Vec<LineResult> {
    // Lines certainly never sent did not change: failed with the reason, not unknown, so a
    // retry takes them without the "may already have changed" warning.
    let never_sent = o.outcome.error.as_deref().is_some_and(is_not_sent);
    changeset::chunk_results(&o.outcome, mdns, first, never_sent)
}

/// Records a chunk's outcome and its lines' results (`mdns` from line `first` on) together.
pub(super) async fn record(
    state: &AppState,
    id: Uuid,
    owner: &str,
    o: &ChunkOutcome,
    mdns: &[Mdn],
    first: i32,
) {
    let lines = line_results(o, mdns, first);
    record_all(state, id, owner, &[(o.clone(), lines)]).await;
}

/// Queues chunk `i`'s outcome and records it with every other one queued meanwhile, in one
/// transaction, in the job's turn to write (group commit: the chunk that gets the turn records
/// what the others queued, and theirs find nothing left).
async fn record_queued(ctx: &ChunkCtx, i: usize, o: ChunkOutcome, mdns: &[Mdn]) {
    let first = ctx.firsts.get(i).copied().unwrap_or_default();
    let lines = line_results(&o, mdns, first);
    let queue = || ctx.queued.lock().unwrap_or_else(|e| e.into_inner());
    queue().push((o, lines));
    let turn = ctx.writes.lock().await;
    let batch = std::mem::take(&mut *queue());
    if !batch.is_empty() {
        record_all(&ctx.state, ctx.id, &ctx.owner, &batch).await;
    }
    drop(turn);
}

/// Records chunk outcomes with their lines' results, in one transaction.
async fn record_all(
    state: &AppState,
    id: Uuid,
    owner: &str,
    batch: &[(ChunkOutcome, Vec<LineResult>)],
) {
    let rows: Vec<(&ChunkOutcome, &[LineResult])> =
        batch.iter().map(|(o, l)| (o, l.as_slice())).collect();
    let chunks: Vec<i32> = batch.iter().map(|(o, _)| o.chunk).collect();
    match retrying("record chunk", || {
        state.db.job_record_chunks(id, owner, &rows)
    })
    .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %id, ?chunks, "chunks not recorded: lease lost"),
        Err(e) => tracing::error!(job = %id, ?chunks, error = %e, "chunks not recorded"),
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::retry::busy;

    #[test]
    fn only_busy_and_connection_errors_are_tried_again() {
        // SQLite: SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT (517), SQLITE_LOCKED; not a constraint (2067).
        for code in ["5", "517", "6"] {
            assert!(busy(Some(code)), "{code}");
        }
        for code in ["2067", "19", "1"] {
            assert!(!busy(Some(code)), "{code}");
        }
        // PostgreSQL: serialization failure, deadlock, too many connections, shutdown.
        for code in ["40001", "40P01", "53300", "57P01", "08006", "55P03"] {
            assert!(busy(Some(code)), "{code}");
        }
        // Unique violation, syntax error, no code at all.
        for code in [Some("23505"), Some("42601"), None] {
            assert!(!busy(code), "{code:?}");
        }
    }
}
