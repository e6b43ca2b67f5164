//! What a change set offers to do again — retry its lines not changed, revert its lines changed —
//! decided from its state and counts and the scope table: the one rule the change page draws its
//! buttons by and the retry and revert handlers refuse by, so no button leads to a refusal.

use crate::actions::ActionKind;
use crate::actions::catalog::Selection;
use crate::domain::CorpId;
use crate::policy::{Principal, WriteMode};
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
    /// Sent now, or asked for (a user whose role only lets them request it).
    pub mode: WriteMode,
}

impl RetryOffer {
    /// Only lines of unknown outcome are left to retry.
    pub fn unknown_only(&self) -> bool {
        self.failed == 0
    }

    /// The button.
    pub fn label(&self) -> String {
        let verb = verb(self.mode, "Retry", "retry");
        if self.unknown_only() {
            format!(
                "{verb} the {} with an unknown outcome…",
                lines(self.unknown)
            )
        } else {
            format!("{verb} the {} that failed…", lines(self.failed))
        }
    }

    /// What it does, beside the button.
    pub fn explain(&self) -> &'static str {
        if self.mode == WriteMode::Request {
            "Your role does not allow this change, so the retry is sent as a request, with your reason: nothing is sent until someone whose role allows it approves it."
        } else if self.unknown_only() {
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
    /// Sent now, or asked for (a user whose role only lets them request it).
    pub mode: WriteMode,
}

impl RevertOffer {
    pub fn unknown_only(&self) -> bool {
        self.changed == 0
    }

    pub fn label(&self) -> String {
        let verb = verb(self.mode, "Revert", "revert");
        if self.unknown_only() {
            format!(
                "{verb} the {} with an unknown outcome…",
                lines(self.unknown)
            )
        } else {
            format!("{verb} the {} changed…", lines(self.changed))
        }
    }

    pub fn explain(&self) -> &'static str {
        if self.mode == WriteMode::Request {
            return "Your role does not allow this change, so putting the lines back is sent as a request, with your reason: nothing is sent until someone whose role allows it approves it.";
        }
        "Each line is put back to the value it had before this change, after a preview that names any line that cannot be."
    }
}

/// "Retry" done, or "Request a retry" asked for.
fn verb(mode: WriteMode, now: &str, noun: &str) -> String {
    match mode {
        WriteMode::Direct => now.to_owned(),
        WriteMode::Request => format!("Request a {noun} of"),
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

/// The action of `c`, and whether this user may run it again in its group or only ask for it
/// (the same rule as a new change: [`Principal::write_mode`]), or why neither.
fn runnable(c: &ChangeSet, user: &Principal) -> Result<(ActionKind, WriteMode), String> {
    if !c.at_rest() {
        return Err("This change is still running: wait until it has finished.".into());
    }
    let kind = ActionKind::from_slug(&c.action)
        .ok_or_else(|| "This action is no longer offered.".to_owned())?;
    let corp = CorpId::parse(&c.corp_id).map_err(|e| e.0)?;
    let mode = user.write_mode(kind.operation(), &corp).map_err(|r| r.0)?;
    Ok((kind, mode))
}

/// The retry of `c` this user may start, or why there is none.
pub fn retry_offer(c: &ChangeSet, user: &Principal) -> Result<RetryOffer, String> {
    let (kind, mode) = runnable(c, user)?;
    if kind.selection() == Selection::Imeis {
        return Err("The Wi-Fi password of a SmartSpot change is kept only while it runs, so it cannot be retried: make the change again from the device's page.".into());
    }
    let offer = RetryOffer {
        failed: count(c.failed),
        unknown: count(c.unknown),
        editable: crate::actions::changeset::chunk_changes(&c.fields).is_none()
            && kind
                .fields()
                .iter()
                .any(|f| !matches!(f.kind, crate::actions::catalog::field::Kind::Secret { .. })),
        mode,
    };
    if offer.failed + offer.unknown == 0 {
        return Err("Every line changed: there is nothing to retry.".into());
    }
    Ok(offer)
}

/// The revert of `c` this user may start, or why there is none (an action the API cannot undo
/// says so on the page).
pub fn revert_offer(c: &ChangeSet, user: &Principal) -> Result<RevertOffer, String> {
    let (kind, mode) = runnable(c, user)?;
    if let Some(why) = kind.def().irreversible() {
        return Err(why.into());
    }
    let offer = RevertOffer {
        changed: count(c.changed),
        unknown: count(c.unknown),
        mode,
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

/// The check with Sentinel a change set offers: its lines of unknown outcome, read again to
/// settle what really changed (nothing is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOffer {
    pub unknown: u64,
}

impl CheckOffer {
    pub fn label(&self) -> String {
        format!("Check the {} with Sentinel", lines(self.unknown))
    }

    pub fn explain(&self) -> &'static str {
        "No answer came for these lines, so the console does not know whether they changed. Sentinel is asked for each line's value now: a line with the new value is marked changed, one that still has its value before is marked not changed (then it can be retried exactly). Nothing is sent."
    }
}

/// The check of `c`'s unknown lines this user may run (reading the group's lines), or none.
pub fn check_offer(c: &ChangeSet, user: &Principal) -> Option<CheckOffer> {
    let corp = CorpId::parse(&c.corp_id).ok()?;
    (c.at_rest() && c.unknown > 0 && user.can(crate::policy::Operation::ListDevices, &corp)).then(
        || CheckOffer {
            unknown: count(c.unknown),
        },
    )
}

/// What a check found, in words: "Checked 3 lines with Sentinel: 2 had the new value, …".
pub fn checked_words(c: &crate::actions::check::Checked) -> String {
    let n = c.changed + c.not_changed + c.still_unknown;
    let mut parts = Vec::new();
    if c.changed > 0 {
        parts.push(format!(
            "{} had the new value and are now changed",
            c.changed
        ));
    }
    if c.not_changed > 0 {
        parts.push(format!(
            "{} still had their value before and are now not changed (they can be retried)",
            c.not_changed
        ));
    }
    if c.still_unknown > 0 {
        parts.push(format!(
            "{} had another value or were not found, and stay unknown",
            c.still_unknown
        ));
    }
    format!(
        "Checked {} with Sentinel: {}.",
        crate::actions::input::plural(n, "line"),
        parts.join("; ")
    )
}
