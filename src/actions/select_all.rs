//! A select-all change as a change set: the matching lines read first as one export stream
//! (record by record, bounded memory) and stored a block at a time with their values before,
//! then the one bulk call, then its result recorded (see `storage::changes::streamed`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::befores::{self, DeviceReader, canonical};
use super::form::{Change, Target};
use super::jobs::retrying;
use super::run::{self, AuditContext, Outcome};
use crate::auth::CurrentUser;
use crate::domain::CorpId;
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::changes::{LineState, Origin, StreamedLine};
use crate::upstream::wire::{BulkSelection, Device};
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
    user: &CurrentUser,
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
        .export_devices_csv(&user.token, corp, &p, &columns)
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

/// Reads `stream` into change set `id` a batch at a time, while the previous batch is written.
/// Returns how many lines were stored, or why the stream or the database stopped.
async fn store_lines(
    state: &AppState,
    id: Uuid,
    change: &Change,
    excluded: &HashSet<String>,
    mut stream: ByteStream,
) -> Result<usize, String> {
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
            batch.push(StreamedLine {
                before: Some(def.before(&d)),
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
        None => Ok(stored),
    }
}

/// Makes a select-all change as a change set: lines stored with their values before (read from
/// the export just before the call), one bulk call, every line's result. Returns its id.
pub async fn run(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    audit: AuditContext,
    change: &Change,
    target: &Target,
    b: &BulkSelection,
) -> Result<Uuid, AppError> {
    // Opened before the change set is stored: a refused or failed read is an error page, as
    // any read is, and leaves nothing behind.
    let started = Instant::now();
    let stream = open(state, user, corp, change, b).await?;
    let opened_in = started.elapsed();
    let id = Uuid::new_v4();
    let set = super::changeset::new_set(id, &audit, change, target, (Origin::Change, None));
    state.db.change_create(&set, &[], None).await?;
    let created_in = started.elapsed();
    let excluded: HashSet<String> = b
        .excluded_mdns
        .iter()
        .flatten()
        .map(ToString::to_string)
        .collect();
    let listed = match stream {
        Some(s) => store_lines(state, id, change, &excluded, s).await,
        None => Ok(0),
    };
    let listed = match listed {
        Ok(n) => n,
        Err(why) => {
            // Nothing was sent: the lines stored so far did not change.
            let message = format!("Not sent: {why}. Nothing was changed; run the change again.");
            tracing::warn!(change = %id, %message, "select-all change not sent");
            settle(state, id, &[], LineState::Failed, Some(&message)).await;
            super::changeset::finish(state, id, Some(&message), None).await;
            return Ok(id);
        }
    };

    let stored_in = started.elapsed();
    let result = run::call(state, &user.token, corp, change, target).await;
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
    let settled_in = started.elapsed();
    let rec = audit.record(
        &target.audit_json(),
        change.audit_fields(),
        Some(listed as u64),
        &outcome,
        Some(id.to_string()),
    );
    // A select-all whose count differs from what was listed: say so rather than hide it.
    let message = match &result {
        Ok(w) if w.updated as usize + w.failed.len() != listed => Some(format!(
            "Sentinel reported {} changed and {} not changed; {} lines matched when the change was made.",
            w.updated,
            w.failed.len(),
            listed
        )),
        _ => outcome.error.clone(),
    };
    super::changeset::finish(state, id, message.as_deref(), Some(&rec)).await;
    // Each step's share of a large select-all's time (the benchmark's breakdown).
    let ms = |d: Duration| d.as_millis() as u64;
    tracing::info!(
        change = %id,
        lines = listed,
        open_ms = ms(opened_in),
        create_ms = ms(created_in - opened_in),
        store_ms = ms(stored_in - created_in),
        call_ms = ms(called_in - stored_in),
        settle_ms = ms(settled_in - called_in),
        finish_ms = ms(started.elapsed() - settled_in),
        "select-all change made"
    );
    Ok(id)
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
