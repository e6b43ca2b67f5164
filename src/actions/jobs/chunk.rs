//! One chunk of a job: its token and policy check, its durable start mark, its call, its recorded outcome (each database step retried while the database is busy).

use super::*;

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
    /// Set when another instance took the job over: stop sending and recording.
    pub(super) lost: Arc<AtomicBool>,
}

impl ChunkCtx {
    /// The change chunk `i` sends.
    fn change_of(&self, i: usize) -> &Change {
        self.chunk_changes.get(i).unwrap_or(&self.change)
    }
}

/// Sends one chunk and records its outcome (unless the job was taken over).
pub(super) async fn run_chunk(ctx: &ChunkCtx, i: usize, mdns: Vec<Mdn>) {
    if ctx.lost.load(Ordering::SeqCst) {
        return;
    }
    if let Some(o) = send_chunk(ctx, i, mdns.clone()).await {
        let first = ctx.firsts.get(i).copied().unwrap_or_default();
        record(&ctx.state, ctx.id, &ctx.owner, &o, &mdns, first).await;
    }
}

/// The outcome of one chunk, or `None` when this instance no longer owns the job.
pub(super) async fn send_chunk(ctx: &ChunkCtx, i: usize, mdns: Vec<Mdn>) -> Option<ChunkOutcome> {
    let state = &ctx.state;
    // The token and roles as they are now: refreshed when expiring, gone after sign-out.
    let (token, user) = match ctx.source.access(state).await.map_err(no_token_reason) {
        Ok(g) => g,
        Err(reason) => return Some(not_sent(i, &mdns, reason)),
    };
    let change = ctx.change_of(i);
    let allowed = change.authorize(&user, &ctx.corp, mdns.len());
    if let Err(refusal) = allowed {
        return Some(refused(i, &mdns, &refusal.0));
    }
    // Before the start mark: a chunk stopped while reading is simply sent later, and reads again.
    store_befores(ctx, i, &token, &user, &mdns).await;
    let chunk = i32::try_from(i).unwrap_or(i32::MAX);
    // The durable "started" mark comes before the call: if this instance dies in the call, the
    // instance resuming the job knows not to send it again.
    let started = retrying("mark chunk started", || {
        state.db.job_mark_chunk_started(ctx.id, &ctx.owner, chunk)
    })
    .await;
    match started {
        Ok(true) => {}
        Ok(false) => {
            // Either the job is no longer ours, or an earlier attempt of ours committed the
            // mark without our hearing it: then nothing was sent, but say so honestly.
            return match state.db.job_renew_lease(ctx.id, &ctx.owner, LEASE).await {
                Ok(true) => Some(not_sent(i, &mdns, NOT_STARTED_REASON)),
                _ => {
                    ctx.lost.store(true, Ordering::SeqCst);
                    None
                }
            };
        }
        Err(e) => {
            tracing::error!(job = %ctx.id, chunk, error = %e, "chunk start not recorded; not sent");
            return Some(not_sent(i, &mdns, NOT_STARTED_REASON));
        }
    }
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
                    return Some(refused(i, &mdns, &refusal.0));
                }
                r = run::call(state, &fresh, &ctx.corp, change, &target).await;
                token = fresh;
            }
            // Signed out while it was in flight, or the sign-in was refused: a `401` applied
            // nothing, so these lines were not sent.
            Err(reason) => return Some(not_sent(i, &mdns, reason)),
        }
    }
    Some(to_chunk_outcome(i, &Outcome::from_call(Some(&lines), &r)))
}

/// Reads chunk `i`'s lines' values as they are now, right before it is sent, and stores them in
/// a short transaction of their own. A failure leaves them unknown ("—"); it never stops the chunk.
async fn store_befores(
    ctx: &ChunkCtx,
    i: usize,
    token: &SecretString,
    user: &Principal,
    mdns: &[Mdn],
) {
    let first = ctx.firsts.get(i).copied().unwrap_or_default();
    let window = ctx.windows.get(i).copied().flatten();
    let def = ctx.change_of(i).action.def();
    let state = &ctx.state;
    match befores::read_chunk(state, token, user, &ctx.corp, def, mdns, first, window).await {
        Ok(found) if found.is_empty() => {}
        Ok(found) => {
            let stored = retrying("store before-values", || {
                state.db.change_set_befores(ctx.id, &found)
            })
            .await;
            if let Err(e) = stored {
                tracing::warn!(change = %ctx.id, error = %e, "before-values could not be stored");
            }
        }
        Err(e) => tracing::warn!(change = %ctx.id, error = %e, "before-values could not be read"),
    }
}

/// How often one chunk renews the sign-in after a `401` (each one applied nothing) before its
/// lines are failed with Sentinel's refusal: a slow upstream can outlast a fresh short token too.
const MAX_RENEWALS: u32 = 3;

/// A chunk recorded as unknown without being sent (or without being sent again), with `reason`.
pub(super) fn not_sent(i: usize, mdns: &[Mdn], reason: &str) -> ChunkOutcome {
    ChunkOutcome {
        chunk: i32::try_from(i).unwrap_or(i32::MAX),
        unknown: mdns.iter().map(|m| m.to_string()).collect(),
        error: Some(reason.into()),
        ..Default::default()
    }
}

/// A chunk the user's current roles no longer allow: every line failed, nothing sent.
pub(super) fn refused(i: usize, mdns: &[Mdn], why: &str) -> ChunkOutcome {
    ChunkOutcome {
        chunk: i32::try_from(i).unwrap_or(i32::MAX),
        failed: mdns
            .iter()
            .map(|m| (m.to_string(), why.to_owned()))
            .collect(),
        upstream_status: Some(403),
        error: Some(why.to_owned()),
        ..Default::default()
    }
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
            .filter(|c| c.error.as_deref() == Some(reason))
            .map(|c| c.unknown.len())
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

/// Records a chunk's outcome and its lines' results (`mdns` from line `first` on) together.
pub(super) async fn record(
    state: &AppState,
    id: Uuid,
    owner: &str,
    o: &ChunkOutcome,
    mdns: &[Mdn],
    first: i32,
) {
    // Lines certainly never sent did not change: failed with the reason, not unknown, so a
    // retry takes them without the "may already have changed" warning.
    let never_sent = o.error.as_deref().is_some_and(is_not_sent);
    let lines = changeset::chunk_results(o, mdns, first, never_sent);
    match retrying("record chunk", || {
        state.db.job_record_chunk_lines(id, owner, o, &lines)
    })
    .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %id, chunk = o.chunk, "chunk not recorded: lease lost"),
        Err(e) => tracing::error!(job = %id, chunk = o.chunk, error = %e, "chunk not recorded"),
    }
}
