//! What a change set offers to do again — retry its lines not changed, revert its lines changed —
//! decided from its state and counts and the scope table: the one rule the change page draws its
//! buttons by and the retry and revert handlers refuse by, so no button leads to a refusal.

use crate::actions::ActionKind;
use crate::actions::catalog::Selection;
use crate::domain::CorpId;
use crate::policy::Principal;
use crate::storage::changes::ChangeSet;

/// A retry the change page offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOffer {
    /// Lines that failed (sent again).
    pub failed: u64,
    /// Lines with an unknown outcome: offered as a tick when some failed, else they are the
    /// retry (`include_unknown` is then always sent).
    pub unknown: u64,
    /// One change whose value can be edited before it is sent again (not an import's columns,
    /// not a secret).
    pub editable: bool,
}

impl RetryOffer {
    /// Only lines of unknown outcome are left to retry.
    pub fn unknown_only(&self) -> bool {
        self.failed == 0
    }

    /// The button.
    pub fn label(&self) -> String {
        if self.unknown_only() {
            format!("Retry the {} with an unknown outcome…", lines(self.unknown))
        } else {
            format!("Retry the {} that failed…", lines(self.failed))
        }
    }

    /// What it does, beside the button.
    pub fn explain(&self) -> &'static str {
        if self.unknown_only() {
            "No answer came for these lines, so they may already have changed: each is sent its change again, after a preview."
        } else {
            "Each line that failed is sent its change again, after a preview; the lines that changed are not touched."
        }
    }
}

/// A revert the change page offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertOffer {
    pub changed: u64,
    /// Lines with an unknown outcome: a tick when some changed, else they are the revert.
    pub unknown: u64,
}

impl RevertOffer {
    pub fn unknown_only(&self) -> bool {
        self.changed == 0
    }

    pub fn label(&self) -> String {
        if self.unknown_only() {
            format!(
                "Revert the {} with an unknown outcome…",
                lines(self.unknown)
            )
        } else {
            format!("Revert the {} changed…", lines(self.changed))
        }
    }

    pub fn explain(&self) -> &'static str {
        "Each line is put back to the value it had before this change, after a preview that names any line that cannot be."
    }
}

fn lines(n: u64) -> String {
    if n == 1 {
        "line".into()
    } else {
        format!("{n} lines")
    }
}

/// A non-negative count.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// The action and group of `c` this user may run it in, or why not.
fn runnable(c: &ChangeSet, user: &Principal) -> Result<ActionKind, String> {
    if !c.at_rest() {
        return Err("This change is still running: wait until it has finished.".into());
    }
    let kind = ActionKind::from_slug(&c.action)
        .ok_or_else(|| "This action is no longer offered.".to_owned())?;
    let corp = CorpId::parse(&c.corp_id).map_err(|e| e.0)?;
    user.check(kind.operation(), &corp).map_err(|r| r.0)?;
    Ok(kind)
}

/// The retry of `c` this user may start, or why there is none.
pub fn retry_offer(c: &ChangeSet, user: &Principal) -> Result<RetryOffer, String> {
    let kind = runnable(c, user)?;
    if kind.selection() == Selection::Imeis {
        return Err("The Wi-Fi password of a SmartSpot change is never kept, so it cannot be retried: make the change again from the device's page.".into());
    }
    let offer = RetryOffer {
        failed: count(c.failed),
        unknown: count(c.unknown),
        editable: crate::actions::changeset::chunk_changes(&c.fields).is_none()
            && kind
                .fields()
                .iter()
                .any(|f| !matches!(f.kind, crate::actions::catalog::field::Kind::Secret { .. })),
    };
    if offer.failed + offer.unknown == 0 {
        return Err("Every line changed: there is nothing to retry.".into());
    }
    Ok(offer)
}

/// The revert of `c` this user may start, or why there is none (an action the API cannot undo
/// says so on the page).
pub fn revert_offer(c: &ChangeSet, user: &Principal) -> Result<RevertOffer, String> {
    let kind = runnable(c, user)?;
    if let Some(why) = kind.def().irreversible() {
        return Err(why.into());
    }
    let offer = RevertOffer {
        changed: count(c.changed),
        unknown: count(c.unknown),
    };
    if offer.changed + offer.unknown == 0 {
        return Err("No line changed: there is nothing to revert.".into());
    }
    Ok(offer)
}

/// Why an action of `c` can never be reverted, said on its page instead of a button.
pub fn never_revertible(c: &ChangeSet) -> Option<&'static str> {
    let kind = ActionKind::from_slug(&c.action)?;
    (c.state.is_finished() && c.changed > 0)
        .then(|| kind.def().irreversible())
        .flatten()
}
