//! Reverting a change set: its changed lines grouped by the value each had before, each group the
//! change its action's own [`super::catalog::Action::revert`] states (in the operation's own
//! vocabulary), or why it cannot; a move to another device group is put back from that group,
//! when the user may open both.

use std::collections::HashMap;

use futures::StreamExt;

use super::catalog::{Change, RevertLine};
use super::error::ChangeError;
use super::preview::PreviewLine;
use crate::domain::{CorpId, Mdn, SortDir, SortField};
use crate::identity::caller::Caller;
use crate::policy::Operation;
use crate::state::AppState;
use crate::storage::changes::{ChangeSet, LineState};
use crate::upstream::ListParams;

use super::ActionKind;

/// Lines listed in a revert's preview.
const SHOWN: usize = 50;
/// Lines whose value now is read one by one (actions that need it allow one line at a time).
const CURRENT_READS: usize = 20;

/// One value to restore, the device group it is sent from and the lines that get it.
pub struct Group {
    pub value: String,
    pub change: Change,
    /// The change's own group, or where its lines are now (a move: see
    /// [`super::catalog::Action::revert_from`]).
    pub corp: CorpId,
    pub mdns: Vec<Mdn>,
}

/// Lines that cannot be put back, for one reason.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftOut {
    pub why: String,
    pub count: u64,
    /// The first of them.
    pub mdns: Vec<String>,
}

/// MDNs named per reason a line is left out.
const LEFT_OUT_NAMED: usize = 5;

/// What a revert would do.
#[derive(Default)]
pub struct Plan {
    pub groups: Vec<Group>,
    /// Why lines cannot be put back (they are not sent), with how many.
    pub left_out: Vec<LeftOut>,
    /// The first lines restored.
    pub shown: Vec<PreviewLine>,
}

impl Plan {
    pub fn lines(&self) -> usize {
        self.groups.iter().map(|g| g.mdns.len()).sum()
    }

    fn leave_out(&mut self, why: String, mdn: &str) {
        let at = match self.left_out.iter().position(|l| l.why == why) {
            Some(at) => at,
            None => {
                self.left_out.push(LeftOut {
                    why,
                    count: 0,
                    mdns: Vec::new(),
                });
                self.left_out.len() - 1
            }
        };
        if let Some(l) = self.left_out.get_mut(at) {
            l.count += 1;
            if l.mdns.len() < LEFT_OUT_NAMED {
                l.mdns.push(mdn.to_owned());
            }
        }
    }
}

struct Candidate {
    /// The line's own action (a CSV import changes several).
    kind: ActionKind,
    mdn: Mdn,
    before: Option<String>,
    after: Option<String>,
    unknown: bool,
}

/// Plans the revert of `parent`: its changed lines (and unknown ones when `include_unknown`),
/// grouped by the value each had before the change.
pub async fn plan(
    state: &AppState,
    user: &Caller,
    parent: &ChangeSet,
    kind: ActionKind,
    corp: &CorpId,
    include_unknown: bool,
) -> Result<Plan, ChangeError> {
    let mut candidates = Vec::new();
    let mut plan = Plan::default();
    let per_chunk = super::changeset::chunk_changes(&parent.fields);
    // Lines of several changes (an import's columns): each row says which.
    let by_change = per_chunk.is_some();
    let kind_of = |seq: i32| {
        per_chunk
            .as_deref()
            .and_then(|p| super::changeset::change_at(p, seq))
            .map_or(kind, |c| c.action)
    };
    let mut pages = std::pin::pin!(state.db.change_lines_stream(parent.id));
    while let Some(page) = pages.next().await {
        for l in page? {
            let unknown = l.outcome == LineState::Unknown;
            if !(l.outcome == LineState::Changed || include_unknown && unknown) {
                continue;
            }
            let Ok(mdn) = Mdn::parse(&l.mdn) else {
                plan.leave_out("Not a line (MDN) of this account.".into(), &l.mdn);
                continue;
            };
            candidates.push(Candidate {
                kind: kind_of(l.seq),
                mdn,
                before: l.before_value,
                after: l.after_value,
                unknown,
            });
        }
    }
    let def = kind.def();
    let current = if def.revert_reads_current() {
        current_values(state, user, corp, kind, &candidates).await?
    } else {
        HashMap::new()
    };
    let needs_statuses = candidates
        .iter()
        .any(|c| c.kind.def().revert_needs_statuses());
    let statuses = if !needs_statuses {
        None
    } else if user.principal.can(Operation::GetPossibleStatuses, corp) {
        Some(state.upstream.statuses(&user.token, corp).await?)
    } else if user.principal.may_request(Operation::UpdateStatus, corp) {
        // A requester's token may not read the group's list: the documented statuses, as on
        // their status form (the approver's preview and Sentinel check the value).
        Some(crate::upstream::vocabulary::Statuses::documented())
    } else {
        None
    };
    // Most lines share a few values: work out each (action, before, after) once.
    type Reverted = Result<(Change, CorpId), String>;
    let mut parsed: HashMap<(ActionKind, String, Option<String>), Reverted> = HashMap::new();
    let mut index: HashMap<(ActionKind, String, CorpId), usize> = HashMap::new();
    for c in candidates {
        let Some(before) = c.before.as_deref() else {
            plan.leave_out(
                "Its value before the change was not read from Sentinel, so it is not known."
                    .into(),
                c.mdn.as_str(),
            );
            continue;
        };
        let kind = c.kind;
        let line = RevertLine {
            before,
            after: c.after.as_deref(),
            now: current.get(&c.mdn).map(String::as_str),
        };
        let reverted = if kind.def().revert_reads_current() {
            kind.revert(&line, corp, statuses.as_ref())
        } else {
            parsed
                .entry((kind, before.to_owned(), c.after.clone()))
                .or_insert_with(|| kind.revert(&line, corp, statuses.as_ref()))
                .clone()
        };
        let (change, from) = match reverted {
            Ok(r) => r,
            Err(why) => {
                plan.leave_out(why, c.mdn.as_str());
                continue;
            }
        };
        // A line that left the group is put back from where it is now, if this user may.
        if from != *corp {
            if let Err(why) = user.principal.check_move_back(&from, corp) {
                plan.leave_out(why.0, c.mdn.as_str());
                continue;
            }
        }
        let value = change.action.def().after(&change.values);
        if plan.shown.len() < SHOWN {
            plan.shown.push(PreviewLine {
                mdn: c.mdn.to_string(),
                current: c.after.clone().unwrap_or_else(|| "—".into()),
                new: value.clone(),
                warning: c
                    .unknown
                    .then(|| "Outcome unknown: this line may not have changed.".to_owned()),
                what: by_change.then(|| change.action.label()),
            });
        }
        let at = *index
            .entry((change.action, value.clone(), from.clone()))
            .or_insert_with(|| {
                plan.groups.push(Group {
                    value,
                    change,
                    corp: from,
                    mdns: Vec::new(),
                });
                plan.groups.len() - 1
            });
        if let Some(g) = plan.groups.get_mut(at) {
            g.mdns.push(c.mdn);
        }
    }
    Ok(plan)
}

/// Each candidate line's value now (as the action writes it), read from the group's list.
async fn current_values(
    state: &AppState,
    user: &Caller,
    corp: &CorpId,
    kind: ActionKind,
    candidates: &[Candidate],
) -> Result<HashMap<Mdn, String>, ChangeError> {
    let mut out = HashMap::new();
    if candidates.len() > CURRENT_READS || !user.principal.can(Operation::ListDevices, corp) {
        return Ok(out);
    }
    for c in candidates {
        let params = ListParams {
            offset: 0,
            limit: 10,
            sort: SortField::Mdn,
            sort_dir: SortDir::Asc,
            search_value: Some(c.mdn.to_string()),
            label_ids: vec![],
        };
        let list = state
            .upstream
            .list_devices(&user.token, corp, &params)
            .await?;
        if let Some(d) = list
            .devices
            .iter()
            .find(|d| Mdn::parse(&d.mdn).is_ok_and(|m| m == c.mdn))
        {
            out.insert(c.mdn.clone(), kind.def().before(d));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::super::catalog::field::{Field, Values};
    use super::super::catalog::{Action, Call, RevertCtx, set_back};
    use super::super::form::Target;
    use super::super::run::RunError;
    use super::*;
    use crate::upstream::wire::{Device, WriteResult};

    /// A variant action (clearing a note) is put back through another one (setting it).
    struct ClearNote;

    #[async_trait]
    impl Action for ClearNote {
        fn slug(&self) -> &'static str {
            "clear-note-test"
        }
        fn label(&self) -> &'static str {
            "Clear note"
        }
        fn menu_position(&self) -> u8 {
            255
        }
        fn operation(&self) -> Operation {
            Operation::UpdateNote
        }
        fn fields(&self) -> &'static [Field] {
            &[]
        }
        fn summary(&self, _v: &Values) -> String {
            "Note → (empty)".into()
        }
        fn before(&self, d: &Device) -> String {
            d.note.clone().unwrap_or_default()
        }
        fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
            set_back("note", &[("note", line.before)], ctx)
        }
        async fn send(
            &self,
            _to: Call<'_>,
            _v: &Values,
            _target: &Target,
        ) -> Result<WriteResult, RunError> {
            Err(RunError::Mismatch)
        }
    }

    #[test]
    fn a_clear_is_reverted_by_the_action_that_sets_the_value_back() {
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        let line = RevertLine {
            before: "Bus 47, spare charger",
            after: Some(""),
            now: None,
        };
        let ctx = RevertCtx {
            corp: &corp,
            statuses: None,
        };
        let back = ClearNote.revert(&line, &ctx).unwrap();
        assert_eq!(back.action.slug(), "note", "not clearing it again");
        assert_eq!(back.values.text("note"), "Bus 47, spare charger");
    }
}
