//! A confirmed change as a change set: stored with its lines before anything is sent, lines'
//! before-values read from Sentinel, per-line results, and the changes made in one call.
//!
//! Explicit lists run through the job runner ([`super::jobs`]); SmartSpot IMEIs (their password
//! is never stored) run here, in the request, and select-all changes (one bulk call) in
//! [`super::select_all`].

use std::collections::HashMap;

use uuid::Uuid;

use super::befores::canonical;
use super::error::ChangeError;
use super::form::{Change, Target};
use super::run::{self, AuditContext, Outcome};
use crate::domain::{CorpId, Mdn};
use crate::identity::caller::Caller;
use crate::outcome::LineOutcome;
use crate::state::AppState;
use crate::storage::audit::NewAuditRecord;
use crate::storage::changes::{LineResult, NewChangeSet, NewLine, Origin};
use crate::storage::jobs::ChunkOutcome;
use crate::storage::retry::retrying;

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

/// Makes a SmartSpot or select-all change as a change set in one upstream call: the lines are
/// stored first (select-all: streamed from Sentinel with their current values, see
/// [`super::select_all`]), then the call is sent, then each line's result and the audit record
/// are stored. Returns the change set's id.
pub async fn run_now(
    state: &AppState,
    user: &Caller,
    corp: &CorpId,
    audit: AuditContext,
    change: &Change,
    target: &Target,
) -> Result<Uuid, ChangeError> {
    if let Target::Bulk(_) = target {
        return Err(ChangeError::Invalid(
            "A change of every matching line runs as a job of its own.".into(),
        ));
    }
    let def = change.action.def();
    let after = def.after(&change.values);
    let lines: Vec<NewLine> = match target {
        Target::Imeis(i) => NewLine::pending(i, &after),
        Target::Lines(m) => NewLine::pending(m, &after),
        // Streamed above.
        Target::Bulk(_) => Vec::new(),
    };
    let id = Uuid::new_v4();
    let set = new_set(id, &audit, change, target, (Origin::Change, None));
    state.db.change_create(&set, &lines, None).await?;

    let result = run::call(state, &user.token, corp, change, target).await;
    let listed: Vec<String> = lines.iter().map(|l| l.mdn.clone()).collect();
    let outcome = Outcome::from_call(Some(&listed), &result);
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
    let stored = retrying("record lines", || {
        state.db.change_record_lines(id, &per_line)
    })
    .await;
    if let Err(e) = stored {
        tracing::error!(change = %id, error = %e, "line results could not be stored");
    }
    finish(state, id, outcome.error.as_deref(), Some(&rec)).await;
    Ok(id)
}

/// Ends a change set made in the request, with its audit record when something was sent.
pub(super) async fn finish(
    state: &AppState,
    id: Uuid,
    message: Option<&str>,
    rec: Option<&NewAuditRecord>,
) {
    let finished = retrying("finish change", || state.db.change_finish(id, message, rec)).await;
    match (finished, rec) {
        (Ok(()), Some(rec)) => state.metrics.change_finished(rec, super::CHUNK_SIZE),
        (Ok(()), None) => {}
        (Err(e), rec) => {
            tracing::error!(change = %id, error = %e, "change set could not be finished");
            // The change was sent: its audit record must not be lost with the change set's end.
            if let Some(rec) = rec {
                run::write_audit(state, rec).await;
            }
        }
    }
}
