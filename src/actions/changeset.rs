//! A confirmed change as a change set: stored with its lines before anything is sent, lines'
//! before-values read from Sentinel, per-line results, and the changes made in one call.
//!
//! Every kind runs as a job ([`super::jobs`]): explicit lists in chunks, select-all changes (one
//! bulk call) in [`super::select_all`], SmartSpot changes in [`super::smartspot`].

use std::collections::HashMap;

use uuid::Uuid;

use super::befores::canonical;
use super::form::{Change, Target};
use super::run::AuditContext;
use crate::domain::Mdn;
use crate::outcome::LineOutcome;
use crate::outcome::Outcome;
use crate::storage::changes::{LineResult, NewChangeSet, Origin};

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
pub(super) fn results(
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
pub fn chunk_results(o: &Outcome, mdns: &[Mdn], first: i32, never_sent: bool) -> Vec<LineResult> {
    let lines: Vec<String> = mdns.iter().map(|m| m.to_string()).collect();
    if never_sent {
        let why = o.error.clone().unwrap_or_default();
        let all: Vec<(String, String)> = lines.iter().map(|m| (m.clone(), why.clone())).collect();
        return results(&lines, first, &all, &[], false, None);
    }
    let failed: Vec<(String, String)> = o
        .failed
        .iter()
        .map(|f| (f.mdn.clone(), f.reason.clone()))
        .collect();
    results(
        &lines,
        first,
        &failed,
        &o.unknown,
        false,
        o.error.as_deref(),
    )
}
