//! The one outcome model: what happened to a line, to one upstream call ([`Outcome`]), and to a
//! change as a whole.
//!
//! The runner produces them, the job store records one [`Outcome`] per chunk and sums them with
//! [`Outcome::absorb`], the views and the audit show them; nothing matches on outcome strings.

use serde::{Deserialize, Serialize};

/// A line a write did not change, with the upstream's reason (as Sentinel's answer lists it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteFailure {
    pub mdn: String,
    pub reason: String,
}

/// What one upstream call did (or a whole change, summed): the one shape the runner produces,
/// the job store records per chunk, and the audit entry is written from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub updated: u64,
    /// Lines the upstream did not change, with its reason.
    pub failed: Vec<WriteFailure>,
    /// Lines whose fate is unknown (ambiguous failure): not retried.
    pub unknown: Vec<String>,
    /// A bulk selection whose call failed ambiguously: every selected line is unknown.
    pub unknown_all: bool,
    /// The upstream's status for a failed call.
    pub upstream_status: Option<u16>,
    /// A message for the whole call (refusal, error).
    pub error: Option<String>,
    pub outcome: ChangeResult,
}

impl Outcome {
    /// Adds `other` (another chunk of the same change) to this one.
    pub fn absorb(&mut self, other: Outcome) {
        self.updated += other.updated;
        self.failed.extend(other.failed);
        self.unknown.extend(other.unknown);
        self.unknown_all |= other.unknown_all;
        if other.upstream_status.is_some() {
            self.upstream_status = other.upstream_status;
        }
        if let Some(e) = other.error {
            self.error = Some(e);
        }
        if other.outcome == ChangeResult::Refused {
            self.outcome = ChangeResult::Refused;
        }
    }

    /// The sum of a change's chunks: refused only when nothing changed and a chunk was.
    pub fn sum(chunks: impl IntoIterator<Item = Outcome>) -> Outcome {
        let mut total = Outcome::default();
        for c in chunks {
            total.absorb(c);
        }
        if total.outcome != ChangeResult::Refused || total.updated > 0 {
            total.outcome = total.classify();
        }
        total
    }

    /// All changed, some, or none known to have changed (a refusal is decided by the caller).
    pub fn classify(&self) -> ChangeResult {
        let problems = !self.failed.is_empty()
            || !self.unknown.is_empty()
            || self.unknown_all
            || self.error.is_some();
        ChangeResult::from_counts(self.updated, problems)
    }

    /// Per-line result as the audit log stores it.
    pub fn audit_result(&self) -> serde_json::Value {
        serde_json::json!({
            "updated": self.updated,
            "failed": self.failed,
            "unknown": self.unknown,
            "unknownAll": self.unknown_all,
            "error": self.error,
        })
    }
}

/// What happened to one line of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "message", rename_all = "lowercase")]
pub enum LineOutcome {
    /// Sentinel changed it.
    Changed,
    /// Sentinel did not change it, and said why.
    Failed(String),
    /// No answer came: it may or may not have changed (never retried on its own).
    Unknown,
}

impl LineOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            LineOutcome::Changed => "changed",
            LineOutcome::Failed(_) => "failed",
            LineOutcome::Unknown => "unknown",
        }
    }
}

/// What happened to a change as a whole.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ChangeResult {
    /// Every line changed.
    #[default]
    Ok,
    /// Some lines changed, others failed or are unknown.
    Partial,
    /// No line is known to have changed.
    Failed,
    /// Sentinel (or the scope table) refused the change: nothing changed.
    Refused,
}

impl ChangeResult {
    pub const ALL: &'static [ChangeResult] = <Self as strum::VariantArray>::VARIANTS;

    /// The stored and machine-readable form (`audit.csv`, `data-outcome`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// From the counts: `changed` lines and whether any line failed or is unknown.
    pub fn from_counts(changed: u64, problems: bool) -> Self {
        match (changed, problems) {
            (_, false) => ChangeResult::Ok,
            (0, true) => ChangeResult::Failed,
            _ => ChangeResult::Partial,
        }
    }

    /// The alert class a page shows it with.
    pub fn alert_class(self) -> &'static str {
        match self {
            ChangeResult::Ok => "alert alert-ok",
            ChangeResult::Partial => "alert alert-warn",
            ChangeResult::Failed | ChangeResult::Refused => "alert alert-error",
        }
    }
}

/// Lets callers compare with the stored text (`record.outcome == "ok"`).
impl PartialEq<&str> for ChangeResult {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for &r in ChangeResult::ALL {
            assert_eq!(r.as_str().parse::<ChangeResult>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert!("maybe".parse::<ChangeResult>().is_err());
        assert_eq!(ChangeResult::from_counts(3, false), ChangeResult::Ok);
        assert_eq!(ChangeResult::from_counts(0, true), ChangeResult::Failed);
        assert_eq!(ChangeResult::from_counts(2, true), ChangeResult::Partial);
    }
}
