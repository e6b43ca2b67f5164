//! A select-all change as a durable job: stored before anything is read, then (in the job) the
//! matching lines read as one export stream (record by record, bounded memory) and stored a
//! block at a time with their values before, the one bulk call, its result recorded (see
//! `storage::changes::streamed`), and the audit entry; resumed by any instance after a stop.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use secrecy::SecretString;

use super::befores::{self, DeviceReader, canonical};
use super::form::{Change, Target};
use super::jobs::lease::Lease;
use super::jobs::one_call::{self, OneCall};
use super::jobs::payload::{JobPayload, RESUMED_REASON, needs_sign_in, no_token_reason};
use super::run::{self, Outcome};
use crate::domain::CorpId;
use crate::identity::caller::TokenSource;
use crate::outcome::ChangeResult;
use crate::state::AppState;
use crate::storage::changes::{LineState, StreamedLine};
use crate::storage::retry::retrying;
use crate::upstream::wire::{BulkSelection, Device, WriteFailure};
use crate::upstream::{ByteStream, UpstreamError};

/// Lines per stored block (one row and one short transaction each: 10,000 lines are still only
/// a few hundred KiB).
const BATCH: usize = 10_000;
/// Batches read ahead of the database: the stream goes on while a batch is written.
const AHEAD: usize = 2;

/// Opens the export of the lines a select-all covers (the list's search and labels; the
/// exclusions are left out as they arrive). `None`: nothing matches.
async fn open(
    state: &AppState,
    token: &SecretString,
    corp: &CorpId,
    change: &Change,
    b: &BulkSelection,
) -> Result<Option<ByteStream>, UpstreamError> {
    let p = befores::sorted(
        0,
        25,
        b.search_value.clone(),
        b.label_ids.clone().unwrap_or_default(),
    );
    let columns = befores::columns(change.action.def());
    match state
        .upstream
        .export_devices_csv(token, corp, &p, &columns)
        .await
    {
        Ok(s) => Ok(Some(s)),
        Err(UpstreamError::Status { message, .. })
            if message.to_ascii_uppercase().contains("NO DEVICES FOUND") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The lines stored and, when the change is sent per line ([`Change::per_line`]), each line
/// with its value before.
type Listed = (usize, Vec<(String, Option<String>)>);

/// Reads `stream` into change set `id` a batch at a time, while the previous batch is written.
/// Returns how many lines were stored, or why the stream or the database stopped.
async fn store_lines(
    state: &AppState,
    id: Uuid,
    change: &Change,
    excluded: &HashSet<String>,
    mut stream: ByteStream,
) -> Result<Listed, String> {
    let keep = change.per_line();
    let mut kept: Vec<(String, Option<String>)> = Vec::new();
    let def = change.action.def();
    let after = def.after(&change.values);
    let began = Instant::now();
    let (tx, mut rx) = mpsc::channel::<(i32, Vec<StreamedLine>)>(AHEAD);
    let (db, stored_after) = (state.db.clone(), after.clone());
    let writer = tokio::spawn(async move {
        let mut busy = Duration::ZERO;
        while let Some((first, lines)) = rx.recv().await {
            let t = Instant::now();
            retrying("store lines", || {
                db.change_append_lines(id, first, Some(&stored_after), &lines)
            })
            .await?;
            busy += t.elapsed();
        }
        Ok::<_, sqlx::Error>(busy)
    });
    let mut reader = DeviceReader::default();
    let mut batch: Vec<StreamedLine> = Vec::with_capacity(BATCH);
    let mut stored = 0usize;
    let mut devices: Vec<Device> = Vec::new();
    let mut read_error = None;
    let mut ended = false;
    let mut waited = Duration::ZERO;
    while !ended {
        match stream.next().await {
            Some(Ok(chunk)) => {
                if let Err(e) = reader.push(&chunk, &mut devices) {
                    read_error = Some(e.to_string());
                    break;
                }
            }
            Some(Err(e)) => {
                read_error = Some(e.to_string());
                break;
            }
            None => {
                reader.finish(&mut devices);
                ended = true;
            }
        }
        for d in devices.drain(..) {
            let mdn = canonical(&d.mdn);
            if d.mdn.is_empty() || excluded.contains(&mdn) {
                continue;
            }
            let before = def.before(&d);
            if keep {
                kept.push((mdn.clone(), Some(before.clone())));
            }
            batch.push(StreamedLine {
                before: Some(before),
                mdn,
            });
            if batch.len() == BATCH {
                let first = i32::try_from(stored).unwrap_or(i32::MAX);
                stored += batch.len();
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                let t = Instant::now();
                let sent = tx.send((first, full)).await;
                waited += t.elapsed();
                if sent.is_err() {
                    // The writer stopped (its error is reported below): stop reading.
                    ended = true;
                    break;
                }
            }
        }
    }
    // After a break too: the lines read so far are stored (and then failed: nothing is sent).
    if !batch.is_empty() {
        let first = i32::try_from(stored).unwrap_or(i32::MAX);
        stored += batch.len();
        let _ = tx.send((first, batch)).await;
    }
    drop(tx);
    let read_in = began.elapsed();
    let busy = match writer.await {
        Ok(Ok(busy)) => busy,
        Ok(Err(e)) => return Err(format!("the lines could not be stored ({e})")),
        Err(e) => return Err(format!("the lines could not be stored ({e})")),
    };
    // Where the time goes when a large select-all is slow: the stream, or the database.
    tracing::debug!(
        change = %id,
        read_ms = read_in.as_millis() as u64,
        waited_for_db_ms = waited.as_millis() as u64,
        written_ms = busy.as_millis() as u64,
        stored_ms = began.elapsed().as_millis() as u64,
        "select-all lines read and stored"
    );
    match read_error {
        Some(e) => Err(format!(
            "the matching lines could not be read from Sentinel ({e})"
        )),
        None => Ok((stored, kept)),
    }
}

/// What a select-all job's one chunk did, as the job runner records it.
fn recorded(o: &Outcome) -> Outcome {
    let mut kept = o.clone();
    kept.failed = o
        .failed
        .iter()
        .map(|f| WriteFailure {
            mdn: canonical(&f.mdn),
            reason: f.reason.clone(),
        })
        .collect();
    // Never the whole list: an unknown answer is settled on the change set.
    kept.unknown = Vec::new();
    kept
}

/// An outcome for lines never sent (`failed`) or perhaps sent (`unknown`), with `why`.
fn without_answer(why: &str, unknown: bool) -> Outcome {
    let mut o = Outcome {
        unknown_all: unknown,
        error: Some(why.to_owned()),
        ..Default::default()
    };
    o.outcome = if unknown {
        ChangeResult::Partial
    } else {
        ChangeResult::Failed
    };
    o
}

/// Runs (or, after a stopped instance, resumes) a select-all job claimed by this instance:
/// - its call already recorded: only the end is left;
/// - its call marked started but not recorded: it may have reached Sentinel, so every line is
///   settled unknown and nothing is sent again;
/// - otherwise nothing was sent: lines stored by a stopped instance are forgotten and read again,
///   then the call is made.
///
/// Either way the change set ends with every line accounted for and its audit entry.
pub(super) async fn process(
    state: &AppState,
    id: Uuid,
    lease: &Lease,
    payload: JobPayload,
    b: BulkSelection,
    corp: CorpId,
    source: TokenSource,
) {
    let owner = state.instance_id.clone();
    let outcome = match one_call::stands(state, id, "select-all").await {
        None => return,
        Some(OneCall::Recorded(o)) => o,
        Some(stands) => {
            let o = if matches!(stands, OneCall::InFlight) {
                settle(state, id, &[], LineState::Unknown, Some(RESUMED_REASON)).await;
                without_answer(RESUMED_REASON, true)
            } else {
                match send(state, lease, id, &payload, &b, &corp, &source).await {
                    Some(o) => o,
                    // The job was taken over by another instance.
                    None => return,
                }
            };
            if !one_call::record(state, id, &owner, &recorded(&o), &[]).await {
                return;
            }
            o
        }
    };
    finish(state, id, &owner, &payload, &b, &outcome).await;
}

/// Reads the matching lines into the change set and makes the one bulk call. `None` when the
/// job was taken over by another instance (it finishes it).
async fn send(
    state: &AppState,
    lease: &Lease,
    id: Uuid,
    payload: &JobPayload,
    b: &BulkSelection,
    corp: &CorpId,
    source: &TokenSource,
) -> Option<Outcome> {
    let started = Instant::now();
    let change = &payload.change;
    let target = Target::Bulk(b.clone());
    // Lines a stopped instance stored without sending anything are read again.
    match retrying("clear lines", || state.db.change_clear_streamed(id)).await {
        Ok(true) => {}
        Ok(false) => return Some(without_answer(RESUMED_REASON, true)),
        Err(e) => {
            let why = format!(
                "Not sent: the change could not be prepared ({e}). Nothing was changed; run it again."
            );
            return Some(without_answer(&why, false));
        }
    }
    let (mut token, mut user) = match source.access(state).await.map_err(no_token_reason) {
        Ok(g) => g,
        Err(reason) => return Some(without_answer(reason, false)),
    };
    if let Err(refusal) = change.authorize(&user, corp, 2) {
        return Some(without_answer(&refusal.0, false));
    }
    let mut stream = open(state, &token, corp, change, b).await;
    if matches!(&stream, Err(e) if e.status().map(|s| s.as_u16()) == Some(401)) {
        // The token ran out: renew the sign-in once and read again.
        match source.renew(state, &token).await.map_err(no_token_reason) {
            Ok((t, u)) => (token, user) = (t, u),
            Err(reason) => return Some(without_answer(reason, false)),
        }
        stream = open(state, &token, corp, change, b).await;
    }
    let stream = match stream {
        Ok(s) => s,
        Err(e) => {
            let why = format!(
                "Not sent: the matching lines could not be read from Sentinel ({}). Nothing was changed; run the change again.",
                e.described().message
            );
            return Some(without_answer(&why, false));
        }
    };
    let opened_in = started.elapsed();
    let excluded: HashSet<String> = b
        .excluded_mdns
        .iter()
        .flatten()
        .map(ToString::to_string)
        .collect();
    let listed = match stream {
        Some(s) => store_lines(state, id, change, &excluded, s).await,
        None => Ok((0, Vec::new())),
    };
    let per_line = match listed {
        Ok((_, lines)) => lines,
        Err(why) => {
            // Nothing was sent: the lines stored so far did not change.
            let message = format!("Not sent: {why}. Nothing was changed; run the change again.");
            tracing::warn!(change = %id, %message, "select-all change not sent");
            settle(state, id, &[], LineState::Failed, Some(&message)).await;
            return Some(without_answer(&message, false));
        }
    };
    let stored_in = started.elapsed();
    // The durable "started" mark comes before the call: an instance resuming this job after a
    // stop in the call knows it may have been sent, and never sends it again.
    match retrying("mark started", || {
        state.db.job_mark_chunk_started(id, &state.instance_id, 0)
    })
    .await
    {
        Ok(true) => {}
        Ok(false) if lease.is_lost() => return None,
        Ok(false) | Err(_) => {
            let why = "Not sent: the console could not record the start of the change. Nothing was changed; run it again.";
            settle(state, id, &[], LineState::Failed, Some(why)).await;
            return Some(without_answer(why, false));
        }
    }
    if change.per_line() {
        let outcome = send_per_line(state, source, token, corp, change, per_line).await;
        let failed: Vec<(String, String)> = outcome
            .failed
            .iter()
            .map(|f| (canonical(&f.mdn), f.reason.clone()))
            .collect();
        // Lines of a call whose answer was lost may have changed: the rest is reported unknown then.
        let (rest, note) = if outcome.unknown.is_empty() {
            (LineState::Changed, None)
        } else {
            (LineState::Unknown, outcome.error.as_deref())
        };
        settle(state, id, &failed, rest, note).await;
        return Some(outcome);
    }
    let mut result = run::call(state, &token, corp, change, &target).await;
    if run::unauthorized(&result) {
        // A 401 means nothing was applied: renew the sign-in and send once more.
        match source.renew(state, &token).await.map_err(no_token_reason) {
            Ok((t, u)) => match change.authorize(&u, corp, 2) {
                Ok(()) => result = run::call(state, &t, corp, change, &target).await,
                Err(refusal) => {
                    settle(state, id, &[], LineState::Failed, Some(&refusal.0)).await;
                    return Some(without_answer(&refusal.0, false));
                }
            },
            Err(reason) => {
                settle(state, id, &[], LineState::Failed, Some(reason)).await;
                return Some(without_answer(reason, false));
            }
        }
    }
    let _ = user;
    let called_in = started.elapsed();
    let outcome = Outcome::from_call(None, &result);
    let failed: Vec<(String, String)> = outcome
        .failed
        .iter()
        .map(|f| (canonical(&f.mdn), f.reason.clone()))
        .collect();
    let (rest, note) = if outcome.unknown_all {
        (LineState::Unknown, outcome.error.as_deref())
    } else if result.is_err() {
        let why = outcome.error.as_deref().unwrap_or("Not sent.");
        (LineState::Failed, Some(why))
    } else {
        (LineState::Changed, None)
    };
    settle(state, id, &failed, rest, note).await;
    // Each step's share of a large select-all's time (the benchmark's breakdown).
    let ms = |d: Duration| d.as_millis() as u64;
    tracing::info!(
        change = %id,
        open_ms = ms(opened_in),
        store_ms = ms(stored_in - opened_in),
        call_ms = ms(called_in - stored_in),
        settle_ms = ms(started.elapsed() - called_in),
        "select-all change made"
    );
    Some(outcome)
}

/// A select-all whose operation sets more than the change (both limits, one left unchanged):
/// its lines, read with their values before, are sent as explicit lists grouped by the value
/// each keeps ([`befores::split_by_line`]), [`super::CHUNK_SIZE`] lines per call.
async fn send_per_line(
    state: &AppState,
    source: &TokenSource,
    token: SecretString,
    corp: &CorpId,
    change: &Change,
    lines: Vec<(String, Option<String>)>,
) -> Outcome {
    let (groups, unsendable) = befores::split_by_line(change, lines);
    let mut total = Outcome::default();
    let mut token = token;
    for (c, ms) in groups {
        let mdns: Vec<crate::domain::Mdn> = ms
            .iter()
            .filter_map(|m| crate::domain::Mdn::parse(m).ok())
            .collect();
        for part in mdns.chunks(super::CHUNK_SIZE) {
            let target = Target::Lines(part.to_vec());
            let sent: Vec<String> = part.iter().map(ToString::to_string).collect();
            let mut r = run::call(state, &token, corp, &c, &target).await;
            if run::unauthorized(&r) {
                // A 401 applied nothing: renew the sign-in once and send this part again.
                match source.renew(state, &token).await.map_err(no_token_reason) {
                    Ok((t, u)) => {
                        token = t;
                        if let Err(refusal) = c.authorize(&u, corp, 2) {
                            total.failed.extend(sent.iter().map(|m| WriteFailure {
                                mdn: m.clone(),
                                reason: refusal.0.clone(),
                            }));
                            continue;
                        }
                        r = run::call(state, &token, corp, &c, &target).await;
                    }
                    Err(reason) => {
                        total.failed.extend(sent.iter().map(|m| WriteFailure {
                            mdn: m.clone(),
                            reason: reason.to_owned(),
                        }));
                        continue;
                    }
                }
            }
            total.absorb(Outcome::from_call(Some(&sent), &r));
        }
    }
    total.failed.extend(
        unsendable
            .into_iter()
            .map(|(mdn, reason)| WriteFailure { mdn, reason }),
    );
    total.outcome = total.classify();
    total
}

/// Ends the job and its change set with the audit entry, in one transaction.
async fn finish(
    state: &AppState,
    id: Uuid,
    owner: &str,
    payload: &JobPayload,
    b: &BulkSelection,
    outcome: &Outcome,
) {
    let set = match retrying("read change", || state.db.change_get(id)).await {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(change = %id, error = %e, "change set unreadable");
            return;
        }
    };
    // The lines each outcome counts, as settled on the change set (an unknown answer leaves
    // every line unknown, which the call's own answer does not list).
    let listed = u64::try_from(set.total_lines).unwrap_or_default();
    let mut rec = payload.audit.record(
        &Target::Bulk(b.clone()).audit_json(),
        payload.change.audit_fields(),
        Some(listed),
        outcome,
        Some(id.to_string()),
    );
    // Not settled (a stop mid-way): finishing makes every line not counted unknown.
    rec.updated = set.changed;
    rec.failed = set.failed;
    rec.unknown = set.total_lines - set.changed - set.failed;
    // A select-all whose count differs from what was listed: say so rather than hide it.
    let message = match outcome.error.clone() {
        Some(e) => Some(e),
        None if outcome.updated + outcome.failed.len() as u64 != listed => Some(format!(
            "Sentinel reported {} changed and {} not changed; {} lines matched when the change was made.",
            outcome.updated,
            outcome.failed.len(),
            listed
        )),
        None => None,
    };
    // Lines not sent because the sign-in ended or was refused wait for the user to sign in and
    // send them (the change page's one button: a retry of exactly those lines).
    // (Stopped before any line was read, there is nothing to send later: it simply failed.)
    let for_sign_in = listed > 0
        && (outcome.error.as_deref().is_some_and(needs_sign_in)
            || outcome.failed.iter().any(|f| needs_sign_in(&f.reason)));
    super::jobs::end::finish(
        state,
        id,
        owner,
        outcome,
        &rec,
        message.as_deref(),
        for_sign_in,
    )
    .await;
}

async fn settle(
    state: &AppState,
    id: Uuid,
    failed: &[(String, String)],
    rest: LineState,
    note: Option<&str>,
) {
    let stored = retrying("record lines", || {
        state.db.change_settle_all(id, failed, rest, note)
    })
    .await;
    if let Err(e) = stored {
        tracing::error!(change = %id, error = %e, "line results could not be stored");
    }
}
