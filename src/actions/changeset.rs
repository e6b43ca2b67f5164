//! A confirmed change as a change set: stored with its lines before anything is sent, lines'
//! before-values read from Sentinel, per-line results, and the changes made in one call.
//!
//! Explicit lists run through the job runner ([`super::jobs`]); SmartSpot IMEIs (their password
//! is never stored) and select-all changes (one bulk call) run here, in the request.

use std::collections::HashMap;

use secrecy::SecretString;
use uuid::Uuid;

use super::ActionKind;
use super::form::{Change, Target};
use super::jobs::{TokenSource, retrying};
use super::run::{self, AuditContext, Outcome};
use crate::auth::CurrentUser;
use crate::domain::{CorpId, Mdn, SortDir, SortField};
use crate::error::AppError;
use crate::outcome::LineOutcome;
use crate::policy::{Operation, Principal};
use crate::state::AppState;
use crate::storage::changes::{LineResult, NewChangeSet, NewLine, Origin};
use crate::storage::jobs::ChunkOutcome;
use crate::upstream::ListParams;
use crate::upstream::wire::{BulkSelection, Device};

/// Lines per list page read for before-values.
const PAGE: u32 = 500;

/// The stored description of a change about to be made.
pub fn new_set(
    id: Uuid,
    audit: &AuditContext,
    change: &Change,
    target: &Target,
    (origin, parent): (Origin, Option<Uuid>),
) -> NewChangeSet {
    NewChangeSet {
        id,
        subject: audit.subject.clone(),
        user_name: audit.user_name.clone(),
        corp_id: audit.corp_id.clone(),
        action: audit.action.slug().to_owned(),
        fields: change.audit_fields(),
        summary: change.summary(),
        selection: target.audit_json(),
        selection_text: target.describe(),
        parent_id: parent,
        origin,
        waiting: None,
    }
}

/// Each chunk's change of a change set whose chunks carry their own (a revert, a CSV import), read
/// from its stored fields: `(seq after the chunk's last line, change)` in line order; `None` for
/// a change set of one change.
pub fn chunk_changes(fields: &serde_json::Value) -> Option<Vec<(i32, Change)>> {
    let per = fields.get("perChunk")?.as_array()?;
    let mut end = 0i32;
    let mut out = Vec::with_capacity(per.len());
    for c in per {
        let stored = serde_json::json!({ "action": c.get("action")?, "fields": c.get("fields")? });
        let change: Change = serde_json::from_value(stored).ok()?;
        end = end.saturating_add(i32::try_from(c.get("lines")?.as_u64()?).ok()?);
        out.push((end, change));
    }
    Some(out)
}

/// The change of the line numbered `seq` (see [`chunk_changes`]).
pub fn change_at(per: &[(i32, Change)], seq: i32) -> Option<&Change> {
    per.iter().find(|(end, _)| seq < *end).map(|(_, c)| c)
}

/// The same MDN whatever way Sentinel wrote it.
fn canonical(mdn: &str) -> String {
    Mdn::parse(mdn).map_or_else(|_| mdn.to_owned(), |m| m.to_string())
}

/// Per-line results of one call over `lines` (numbered from `first`): the lines Sentinel names
/// as failed or unknown are so, every other line changed.
fn results(
    lines: &[String],
    first: i32,
    failed: &[(String, String)],
    unknown: &[String],
    unknown_all: bool,
    note: Option<&str>,
) -> Vec<LineResult> {
    let failed: HashMap<String, &str> = failed
        .iter()
        .map(|(m, r)| (canonical(m), r.as_str()))
        .collect();
    let unknown: std::collections::HashSet<String> = unknown.iter().map(|m| canonical(m)).collect();
    lines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let key = canonical(m);
            let seq = first.saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
            let (outcome, note) = if let Some(r) = failed.get(&key) {
                (LineOutcome::Failed((*r).to_owned()), None)
            } else if unknown_all || unknown.contains(&key) {
                (LineOutcome::Unknown, note.map(str::to_owned))
            } else {
                (LineOutcome::Changed, None)
            };
            LineResult { seq, outcome, note }
        })
        .collect()
}

/// Per-line results of one job chunk; `never_sent`: its lines failed with the chunk's reason.
pub fn chunk_results(
    o: &ChunkOutcome,
    mdns: &[Mdn],
    first: i32,
    never_sent: bool,
) -> Vec<LineResult> {
    let lines: Vec<String> = mdns.iter().map(|m| m.to_string()).collect();
    if never_sent {
        let why = o.error.clone().unwrap_or_default();
        let all: Vec<(String, String)> = lines.iter().map(|m| (m.clone(), why.clone())).collect();
        return results(&lines, first, &all, &[], false, None);
    }
    results(
        &lines,
        first,
        &o.failed,
        &o.unknown,
        false,
        o.error.as_deref(),
    )
}

fn page(offset: u64, search: Option<String>, labels: Vec<i64>) -> ListParams {
    ListParams {
        offset,
        limit: PAGE,
        sort: SortField::Mdn,
        sort_dir: SortDir::Asc,
        search_value: search,
        label_ids: labels,
    }
}

/// Reads the current value of every line of a job's change set from the group's list (a page
/// at a time, keeping only the lines of the change) and stores it. A failure leaves the values
/// unknown ("—"); it never stops the change.
pub(super) async fn read_befores(
    state: &AppState,
    source: &TokenSource,
    id: Uuid,
    corp: &CorpId,
    change: &Change,
    chunk_changes: &[Change],
    chunks: &[Vec<Mdn>],
) {
    let Ok((token, user)) = source.grant(state).await else {
        return;
    };
    if !user.can(Operation::ListDevices, corp) {
        return;
    }
    // A line may be in several chunks of different actions (a CSV import changing two
    // columns): each of its lines gets the before-value of its own chunk's action.
    let mut wanted: HashMap<String, Vec<(i32, ActionKind)>> = HashMap::new();
    let mut seq = 0i32;
    for (c, mdns) in chunks.iter().enumerate() {
        let kind = chunk_changes.get(c).unwrap_or(change).action;
        for m in mdns {
            wanted.entry(m.to_string()).or_default().push((seq, kind));
            seq = seq.saturating_add(1);
        }
    }
    let mut offset = 0u64;
    while !wanted.is_empty() {
        let list = match state
            .upstream
            .list_devices(&token, corp, &page(offset, None, vec![]))
            .await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(change = %id, error = %e, "before-values could not be read");
                return;
            }
        };
        let last = list.devices.len() < PAGE as usize;
        let found: Vec<(i32, String)> = list
            .devices
            .iter()
            .flat_map(|d| {
                wanted
                    .remove(&canonical(&d.mdn))
                    .into_iter()
                    .flatten()
                    .map(|(s, kind)| (s, kind.def().before(d)))
            })
            .collect();
        if !found.is_empty() {
            let stored = retrying("store before-values", || {
                state.db.change_set_befores(id, &found)
            })
            .await;
            if let Err(e) = stored {
                tracing::warn!(change = %id, error = %e, "before-values could not be stored");
                return;
            }
        }
        if last {
            break;
        }
        offset += u64::from(PAGE);
    }
}

/// The lines a select-all change covers, read page by page through the upstream's own selection
/// (or the plain list with the same filter when the role may not use it).
pub(crate) async fn bulk_lines(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    b: &BulkSelection,
) -> Result<Vec<Device>, AppError> {
    let excluded: Vec<Mdn> = b.excluded_mdns.clone().unwrap_or_default();
    let customized = user.can(Operation::CustomizedList, corp);
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
        let list = if customized {
            state
                .upstream
                .customized_list(token, corp, &page(offset, None, vec![]), b)
                .await?
        } else {
            let p = page(
                offset,
                b.search_value.clone(),
                b.label_ids.clone().unwrap_or_default(),
            );
            state.upstream.list_devices(token, corp, &p).await?
        };
        let last = list.devices.len() < PAGE as usize;
        out.extend(
            list.devices
                .into_iter()
                .filter(|d| Mdn::parse(&d.mdn).map_or(true, |m| !excluded.contains(&m))),
        );
        if last || out.len() > super::MAX_LIST * 4 {
            return Ok(out);
        }
        offset += u64::from(PAGE);
    }
}

/// Makes a SmartSpot or select-all change as a change set in one upstream call: the lines are
/// stored first (select-all: read from Sentinel with their current values), then the call is
/// sent, then each line's result and the audit record are stored. Returns the change set's id.
pub async fn run_now(
    state: &AppState,
    user: &CurrentUser,
    corp: &CorpId,
    audit: AuditContext,
    change: &Change,
    target: &Target,
) -> Result<Uuid, AppError> {
    let def = change.action.def();
    let after = def.after(&change.values);
    let lines: Vec<NewLine> = match target {
        Target::Imeis(i) => i
            .iter()
            .map(|i| NewLine {
                mdn: i.to_string(),
                before: None,
                after: Some(after.clone()),
            })
            .collect(),
        Target::Lines(m) => m
            .iter()
            .map(|m| NewLine {
                mdn: m.to_string(),
                before: None,
                after: Some(after.clone()),
            })
            .collect(),
        Target::Bulk(b) => bulk_lines(state, &user.principal, &user.token, corp, b)
            .await?
            .iter()
            .map(|d| NewLine {
                mdn: canonical(&d.mdn),
                before: Some(def.before(d)),
                after: Some(after.clone()),
            })
            .collect(),
    };
    let id = Uuid::new_v4();
    let set = new_set(id, &audit, change, target, (Origin::Change, None));
    state.db.change_create(&set, &lines, None).await?;

    let result = run::call(state, &user.token, corp, change, target).await;
    let listed: Vec<String> = lines.iter().map(|l| l.mdn.clone()).collect();
    let sent = match target {
        Target::Bulk(_) => None,
        _ => Some(listed.as_slice()),
    };
    let outcome = Outcome::from_call(sent, &result);
    let failed: Vec<(String, String)> = outcome
        .failed
        .iter()
        .map(|f| (f.mdn.clone(), f.reason.clone()))
        .collect();
    let per_line = results(
        &listed,
        0,
        &failed,
        &outcome.unknown,
        outcome.unknown_all,
        outcome.error.as_deref(),
    );
    let rec = audit.record(
        &target.audit_json(),
        change.audit_fields(),
        Some(listed.len() as u64),
        &outcome,
        Some(id.to_string()),
    );
    // A select-all whose count differs from what was listed: say so rather than hide it.
    let message = match (target, &result) {
        (Target::Bulk(_), Ok(w)) if w.updated as usize + w.failed.len() != listed.len() => {
            Some(format!(
                "Sentinel reported {} changed and {} not changed; {} lines matched when the change was made.",
                w.updated,
                w.failed.len(),
                listed.len()
            ))
        }
        _ => outcome.error.clone(),
    };
    let stored = retrying("record lines", || {
        state.db.change_record_lines(id, &per_line)
    })
    .await;
    if let Err(e) = stored {
        tracing::error!(change = %id, error = %e, "line results could not be stored");
    }
    let finished = retrying("finish change", || {
        state.db.change_finish(id, message.as_deref(), Some(&rec))
    })
    .await;
    match finished {
        Ok(()) => state.metrics.change_finished(&rec),
        Err(e) => {
            tracing::error!(change = %id, error = %e, "change set could not be finished");
            // The change was sent: its audit record must not be lost with the change set's end.
            run::write_audit(state, &rec).await;
        }
    }
    Ok(id)
}
