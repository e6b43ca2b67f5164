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
    let (token, user) = match ctx.source.grant(state).await {
        Ok(g) => g,
        Err(reason) => return Some(not_sent(i, &mdns, reason)),
    };
    let change = ctx.change_of(i);
    let allowed = change.authorize(&user, &ctx.corp, mdns.len());
    if let Err(refusal) = allowed {
        return Some(refused(i, &mdns, &refusal.0));
    }
    // Before the start mark: a chunk stopped while reading is simply sent later, and reads again.
    let befores = store_befores(ctx, i, &token, &user, &mdns).await;
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
    if !change.per_line() {
        return Some(call_lines(ctx, i, change, mdns, token).await);
    }
    // The operation sets more than the change does (both limits when one is left unchanged):
    // the lines are sent grouped by their own current value of the rest, never a default.
    let first = ctx.firsts.get(i).copied().unwrap_or_default();
    let now: std::collections::HashMap<i32, String> = befores.into_iter().collect();
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
        total.absorb(from_chunk_outcome(&o));
    }
    total
        .failed
        .extend(unsendable.into_iter().map(|(m, reason)| WriteFailure {
            mdn: m.to_string(),
            reason,
        }));
    Some(to_chunk_outcome(i, &total))
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
        match ctx.source.renew(state, &token).await {
            Ok((fresh, user)) => {
                if let Err(refusal) = change.authorize(&user, &ctx.corp, mdns.len()) {
                    return refused(i, &mdns, &refusal.0);
                }
                r = run::call(state, &fresh, &ctx.corp, change, &target).await;
                token = fresh;
            }
            // Signed out while it was in flight: the refusal is the chunk's answer.
            Err(SIGNED_OUT_REASON) => break,
            Err(reason) => return not_sent(i, &mdns, reason),
        }
    }
    to_chunk_outcome(i, &Outcome::from_call(Some(&lines), &r))
}

/// Reads chunk `i`'s lines' values as they are now, right before it is sent, and stores them in
/// a short transaction of their own (and returns them). A failure leaves them unknown ("—"); it
/// never stops the chunk (a change that needs them then sends none of those lines).
async fn store_befores(
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
        Ok(found) if found.is_empty() => found,
        Ok(found) => {
            let stored = retrying("store before-values", || {
                state.db.change_set_befores(ctx.id, &found)
            })
            .await;
            if let Err(e) = stored {
                tracing::warn!(change = %ctx.id, error = %e, "before-values could not be stored");
            }
            found
        }
        Err(e) => {
            tracing::warn!(change = %ctx.id, error = %e, "before-values could not be read");
            Vec::new()
        }
    }
}

/// How often one chunk renews the sign-in after a `401` (each one applied nothing) before its
/// lines are failed with Sentinel's refusal: a slow upstream can outlast a fresh short token too.
const MAX_RENEWALS: u32 = 3;

/// Where a job's chunks get the user's access token and roles.
pub(crate) enum TokenSource {
    /// The user's session, read (and refreshed) for each chunk: a sign-out stops the job.
    Session(String),
    /// No session to read (kept in memory only, for this process's life).
    Held(SecretString, Principal),
    /// A resumed job without a session: nothing can be sent.
    Gone,
    /// A sealed grant (a scheduled change): refreshed as needed; gone when the provider refuses.
    Grant(uuid::Uuid),
}

impl TokenSource {
    /// Where a job gets its token: its grant, the session it was started from, the token held
    /// in memory since the request, or nowhere (a resumed job whose session is unknown).
    pub(crate) fn of(
        payload: &JobPayload,
        held: Option<(SecretString, Principal)>,
        session_id: Option<String>,
    ) -> TokenSource {
        match (payload.grant, held, session_id) {
            (Some(g), _, _) => TokenSource::Grant(g),
            (None, _, Some(sid)) => TokenSource::Session(sid),
            (None, Some((t, user)), None) => TokenSource::Held(t, user),
            (None, None, None) => TokenSource::Gone,
        }
    }

    /// A fresh token after the upstream answered `401` to `rejected` (it ran out in flight):
    /// the session or grant refreshed now, once for every chunk that met it. An error means the
    /// refresh was refused: nothing more can be sent.
    pub(crate) async fn renew(
        &self,
        state: &AppState,
        rejected: &SecretString,
    ) -> Result<(SecretString, Principal), &'static str> {
        use secrecy::ExposeSecret;
        if let TokenSource::Session(sid) = self {
            // Signed out meanwhile (the token was revoked): that is why it was refused.
            if matches!(crate::auth::session_grant(state, sid).await, Ok(None)) {
                return Err(SIGNED_OUT_REASON);
            }
        }
        let renewed = match self {
            TokenSource::Held(..) | TokenSource::Gone => return Err(SIGN_IN_REFUSED_REASON),
            TokenSource::Grant(g) => {
                crate::auth::grant::renewed(state, *g, rejected.expose_secret())
                    .await
                    .map(|k| {
                        k.map(|k| {
                            (
                                SecretString::from(k.tokens.access.expose().to_owned()),
                                k.principal,
                            )
                        })
                    })
            }
            TokenSource::Session(sid) => crate::auth::session_renewed(state, sid, rejected).await,
        };
        match renewed {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(SIGN_IN_REFUSED_REASON),
            Err(e) => {
                tracing::error!(error = %e, "the sign-in could not be renewed for a job");
                Err(SESSION_UNREADABLE_REASON)
            }
        }
    }

    /// The token and user to send a chunk with, or why the chunk cannot be sent.
    pub(crate) async fn grant(
        &self,
        state: &AppState,
    ) -> Result<(SecretString, Principal), &'static str> {
        match self {
            TokenSource::Held(t, p) => Ok((t.clone(), p.clone())),
            TokenSource::Gone => Err(SIGNED_OUT_REASON),
            TokenSource::Grant(g) => match crate::auth::grant::access(state, *g).await {
                Ok(Some(g)) => Ok(g),
                Ok(None) => Err(GRANT_GONE_REASON),
                Err(e) => {
                    tracing::error!(error = %e, "a grant is unreadable for a job");
                    Err(SESSION_UNREADABLE_REASON)
                }
            },
            TokenSource::Session(sid) => match session_grant(state, sid).await {
                Ok(Some(g)) => Ok(g),
                Ok(None) => Err(SIGNED_OUT_REASON),
                Err(e) => {
                    tracing::error!(error = %e, "session store unreadable for a job");
                    Err(SESSION_UNREADABLE_REASON)
                }
            },
        }
    }
}

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

/// How many times a job's database step is tried before it is given up.
pub(super) const DB_ATTEMPTS: u32 = 12;

/// Runs a database step again, with backoff, while it fails for a passing reason (a busy
/// SQLite, a pool momentarily exhausted, a dropped connection): a chunk's result is never
/// dropped because another writer held the lock for a moment. Every step retried here is
/// idempotent.
pub(crate) async fn retrying<T, F, Fut>(what: &str, mut step: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(25);
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < DB_ATTEMPTS && transient(&e) => {
                tracing::warn!(step = what, attempt, error = %e, "database busy; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Errors worth another try: the database or the connection, not the request itself.
pub(super) fn transient(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Database(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
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
    let never_sent = o.error.as_deref().is_some_and(|r| {
        [
            SIGNED_OUT_REASON,
            SESSION_UNREADABLE_REASON,
            NOT_STARTED_REASON,
            SIGN_IN_REFUSED_REASON,
        ]
        .contains(&r)
    });
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
