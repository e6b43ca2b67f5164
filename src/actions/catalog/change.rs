//! A change: an action of the catalogue and its parsed fields — what every door hands the
//! pipeline, checked against the scope table, stored without secrets, described in words.

use super::ActionKind;
use super::field::{self, ParseCtx, Values};
use crate::actions::input::{FieldErrors, RawForm};
use crate::domain::CorpId;
use crate::policy::{Principal, Refusal, WriteMode};
use crate::upstream::wire::Device;

/// A change: an action and its parsed fields. Stored (jobs) as `{"action": slug, "fields": {...}}`
/// without secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: ActionKind,
    pub values: Values,
}

impl Change {
    /// Parses the action's fields from the form.
    pub fn parse(
        action: ActionKind,
        form: &RawForm,
        ctx: &ParseCtx<'_>,
    ) -> Result<Self, FieldErrors> {
        let values = field::parse(action.fields(), form, ctx)?;
        Ok(Self { action, values })
    }

    /// The fields as the audit log records them, secrets redacted.
    pub fn audit_fields(&self) -> serde_json::Value {
        self.values.to_json()
    }

    /// What the change sets, in words (secrets never shown).
    pub fn summary(&self) -> String {
        self.action.def().summary(&self.values)
    }

    /// (current, new) for one line in the preview; `None` when the line was not loaded.
    pub fn before_after(&self, d: Option<&Device>) -> (String, String) {
        let def = self.action.def();
        let before = d.map(|d| def.before(d));
        let after = def.after_line(&self.values, before.as_deref());
        (before.unwrap_or_else(|| "—".to_owned()), after)
    }

    /// Does sending it need each line's value now (see [`Action::per_line`])?
    pub fn per_line(&self) -> bool {
        self.action.def().per_line(&self.values)
    }

    /// The change sent for a line whose value now is `before`, or why it cannot be sent.
    pub fn for_line(&self, before: &str) -> Result<Change, String> {
        let values = self.action.def().for_line(&self.values, before)?;
        Ok(Change {
            action: self.action,
            values,
        })
    }

    /// May `user` send this change for `lines` lines now?
    pub fn authorize(&self, user: &Principal, corp: &CorpId, lines: usize) -> Result<(), Refusal> {
        self.action.def().authorize(user, corp, lines, &self.values)
    }

    /// Sent by `user` now, or only asked for ([`Principal::write_mode`] of its operation for
    /// `lines` lines), or refused: the rule of a new change, for one made again (retry, revert).
    pub fn mode_for(
        &self,
        user: &Principal,
        corp: &CorpId,
        lines: usize,
    ) -> Result<WriteMode, Refusal> {
        match user.write_mode(self.action.operation_for(lines), corp)? {
            WriteMode::Direct => {
                self.authorize(user, corp, lines)?;
                Ok(WriteMode::Direct)
            }
            request => Ok(request),
        }
    }
}

impl serde::Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({ "action": self.action, "fields": self.values.to_json() }).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Stored {
            action: ActionKind,
            fields: serde_json::Value,
        }
        let s = Stored::deserialize(d)?;
        let values =
            Values::from_json(s.action.fields(), &s.fields).map_err(serde::de::Error::custom)?;
        Ok(Self {
            action: s.action,
            values,
        })
    }
}
