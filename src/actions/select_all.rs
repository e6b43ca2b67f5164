//! A select-all change as a change set: the matching lines read first as one export stream
//! (record by record, bounded memory) and stored a batch at a time with their values before,
//! then the one bulk call, then every line's result set in the database.

use std::collections::HashSet;

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
use crate::storage::changes::{LineState, NewLine, Origin};
use crate::upstream::wire::{BulkSelection, Device};
use crate::upstream::{ByteStream, UpstreamError};

/// Lines per stored batch (one short transaction each: fewer, larger commits cost SQLite far
/// less, and 10,000 lines are still only a few MiB).
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
    let (tx, mut rx) = mpsc::channel::<(i32, Vec<NewLine>)>(AHEAD);
    let db = state.db.clone();
    let writer = tokio::spawn(async move {
        while let Some((first, lines)) = rx.recv().await {
            retrying("store lines", || db.change_append_lines(id, first, &lines)).await?;
        }
        Ok::<(), sqlx::Error>(())
    });
    let mut reader = DeviceReader::default();
    let mut batch: Vec<NewLine> = Vec::with_capacity(BATCH);
    let mut stored = 0usize;
    let mut devices: Vec<Device> = Vec::new();
    let mut read_error = None;
    let mut ended = false;
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
            batch.push(NewLine {
                before: Some(def.before(&d)),
                mdn,
                after: Some(after.clone()),
            });
            if batch.len() == BATCH {
                let first = i32::try_from(stored).unwrap_or(i32::MAX);
                stored += batch.len();
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.send((first, full)).await.is_err() {
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
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("the lines could not be stored ({e})")),
        Err(e) => return Err(format!("the lines could not be stored ({e})")),
    }
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
    let started = std::time::Instant::now();
    let stream = open(state, user, corp, change, b).await?;
    let id = Uuid::new_v4();
    let set = super::changeset::new_set(id, &audit, change, target, (Origin::Change, None));
    state.db.change_create(&set, &[], None).await?;
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
    let called_in = started.elapsed() - stored_in;
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
    tracing::info!(
        change = %id,
        lines = listed,
        stored_ms = stored_in.as_millis() as u64,
        call_ms = called_in.as_millis() as u64,
        settled_ms = (started.elapsed() - stored_in - called_in).as_millis() as u64,
        "select-all lines stored, sent and settled"
    );
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
