//! The one outcome model: what happened to a line, and to a change as a whole.
//!
//! The runner produces them, the storage keeps them (as their `as_str` text), the views and the
//! audit show them; nothing matches on outcome strings.

use serde::{Deserialize, Serialize};

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
