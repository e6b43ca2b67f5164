//! Lines of unknown outcome checked with Sentinel: each one's value read now (one export of the
//! group) and compared with what the change wrote — the new value means it reached the line, the
//! value before means it did not (then an exact retry of those lines can be offered); anything
//! else stays unknown. Nothing is sent.

use std::collections::HashSet;

use futures::StreamExt;

use super::ActionKind;
use super::befores::{self, canonical};
use super::error::ChangeError;
use crate::domain::CorpId;
use crate::identity::caller::Caller;
use crate::policy::Operation;
use crate::state::AppState;
use crate::storage::changes::{ChangeSet, CheckedLine, LineState};

/// Unknown lines a check reads at most (one export of the group either way).
pub const CHECK_MAX: usize = 100_000;

/// What a check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    /// Lines that have the new value: the change reached them.
    pub changed: u64,
    /// Lines that still have their value before: the change did not reach them.
    pub not_changed: u64,
    /// Lines whose value is neither (changed since by something else), or not found.
    pub still_unknown: u64,
}

/// Why a line found with its old value is recorded as not changed.
pub const NOT_CHANGED: &str = "Checked with Sentinel: this line still has its value before the change, so the change did not reach it. It can be retried.";

/// Reads the unknown lines of change set `set` from Sentinel with `user`'s token and settles the
/// ones whose value now tells what happened.
pub async fn unknown_lines(
    state: &AppState,
    user: &Caller,
    set: &ChangeSet,
) -> Result<Checked, ChangeError> {
    let kind = ActionKind::from_slug(&set.action)
        .ok_or_else(|| ChangeError::Invalid("This action is no longer offered.".into()))?;
    let corp = CorpId::parse(&set.corp_id)?;
    user.principal.check(Operation::ListDevices, &corp)?;
    if !set.at_rest() {
        return Err(ChangeError::Invalid(
            "This change is still running: check its lines once it has finished.".into(),
        ));
    }
    // An import's lines each carry their own column's change.
    let per_chunk = super::changeset::chunk_changes(&set.fields);
    let mut unknown: Vec<(CheckedLine, ActionKind)> = Vec::new();
    let mut pages = std::pin::pin!(state.db.change_lines_stream(set.id));
    while let Some(page) = pages.next().await {
        for l in page? {
            if l.outcome != LineState::Unknown || unknown.len() >= CHECK_MAX {
                continue;
            }
            let line_kind = per_chunk
                .as_deref()
                .and_then(|per| super::changeset::change_at(per, l.seq))
                .map_or(kind, |c| c.action);
            unknown.push((
                CheckedLine {
                    seq: l.seq,
                    mdn: canonical(&l.mdn),
                    before: l.before_value,
                    after: l.after_value,
                    outcome: LineState::Unknown,
                    message: None,
                },
                line_kind,
            ));
        }
    }
    if unknown.is_empty() {
        return Err(ChangeError::Invalid(
            "No line of this change has an unknown outcome.".into(),
        ));
    }
    let kinds: Vec<ActionKind> = unknown
        .iter()
        .map(|(_, k)| *k)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let wanted: HashSet<String> = unknown.iter().map(|(l, _)| l.mdn.clone()).collect();
    let now = befores::read_values(state, &user.token, &corp, &kinds, &wanted).await?;
    let mut found = Checked::default();
    let mut settled = Vec::new();
    for (mut line, k) in unknown {
        let value = now.get(&line.mdn).and_then(|by_kind| by_kind.get(&k));
        match value.map(|v| verdict(v, line.before.as_deref(), line.after.as_deref())) {
            Some(LineState::Changed) => {
                line.outcome = LineState::Changed;
                found.changed += 1;
                settled.push(line);
            }
            Some(LineState::Failed) => {
                line.outcome = LineState::Failed;
                line.message = Some(NOT_CHANGED.to_owned());
                found.not_changed += 1;
                settled.push(line);
            }
            _ => found.still_unknown += 1,
        }
    }
    if !settled.is_empty() {
        state.db.change_settle_checked(set.id, &settled).await?;
    }
    tracing::info!(change = %set.id, changed = found.changed, not_changed = found.not_changed, unknown = found.still_unknown, "unknown lines checked with Sentinel");
    Ok(found)
}

/// What a line's value `now` says: the new value (`Changed`), still the value before
/// (`Failed`), or neither (`Unknown`). Compared as words, whatever their case (a list reads
/// `active` where the operation wrote `ACTIVE`).
fn verdict(now: &str, before: Option<&str>, after: Option<&str>) -> LineState {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    match (before, after) {
        (_, Some(a)) if same(now, a) => LineState::Changed,
        (Some(b), Some(a)) if same(now, b) && !same(a, b) => LineState::Failed,
        _ => LineState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_changed_not_changed_or_still_unknown() {
        let v = |now, b, a| verdict(now, Some(b), Some(a));
        assert_eq!(v("suspended", "active", "SUSPENDED"), LineState::Changed);
        assert_eq!(v("active", "active", "SUSPENDED"), LineState::Failed);
        assert_eq!(v("deactivated", "active", "SUSPENDED"), LineState::Unknown);
        // A change that wrote the value the line already had tells nothing by its value.
        assert_eq!(v("Bus 47", "Bus 47", "Bus 47"), LineState::Changed);
        assert_eq!(verdict("x", None, None), LineState::Unknown);
    }
}
