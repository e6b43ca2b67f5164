//! The action catalogue: one module per bulk action, each implementing [`Action`]; the index of
//! modules is generated from this folder by `build.rs`, so an action cannot be left out of a list.
//!
//! A new bulk action backed by an existing upstream operation is one new file here (its slug,
//! label, fields, request and before → after) plus its operation's row in `policy.rs`.

pub mod change;
pub mod field;

use std::fmt;
use std::sync::LazyLock;

use async_trait::async_trait;
use secrecy::SecretString;

pub use self::change::Change;
use self::field::{Field, ParseCtx, Values};
pub use super::error::RunError;
use super::input::{RawForm, Target};
use crate::domain::{Column, CorpId};
use crate::policy::{Operation, Principal, Refusal};
use crate::upstream::SentinelClient;
use crate::upstream::vocabulary::Statuses;
use crate::upstream::wire::{Device, WriteResult};

include!(concat!(env!("OUT_DIR"), "/catalog_index.rs"));

/// Every column some action's [`Action::before`] reads.
pub const BEFORE_COLUMNS: &[Column] = &[
    Column::Status,
    Column::Nickname,
    Column::Note,
    Column::FilterGroup,
    Column::CorpId,
    Column::Imei,
    Column::MdnCustomField,
    Column::SummerStatus,
    Column::MonthlyLimit,
    Column::DailyLimit,
    Column::Labels,
];

/// What an action may be applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Lines chosen one by one, or everything matching the list ("select all").
    LinesOrAll,
    /// Lines chosen one by one only.
    Lines,
    /// SmartSpot devices by IMEI.
    Imeis,
}

/// Where a request is sent: the client, the user's token and the device group.
pub struct Call<'a> {
    pub upstream: &'a SentinelClient,
    pub token: &'a SecretString,
    pub corp: &'a CorpId,
}

/// One line of a change about to be reverted: its stored values, and (only when the action's
/// [`Action::revert_reads_current`] says so) its value now, as [`Action::before`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct RevertLine<'a> {
    pub before: &'a str,
    pub after: Option<&'a str>,
    pub now: Option<&'a str>,
}

/// What a revert's change is built with besides the line: where it is sent from (the change's
/// group, or the one a move took the line to: [`Action::revert_from`]) and the values the
/// operations there take (read from Sentinel only when [`Action::revert_needs_statuses`]).
#[derive(Debug, Clone, Copy)]
pub struct RevertCtx<'a> {
    pub corp: &'a CorpId,
    pub statuses: Option<&'a Statuses>,
}

/// The change of action `slug` that sets its fields to `pairs`, parsed as that action's form
/// is (a revert names its own action, or another one: clear → set back), or why it cannot.
pub fn set_back(slug: &str, pairs: &[(&str, &str)], ctx: &RevertCtx<'_>) -> Result<Change, String> {
    let action = ActionKind::from_slug(slug)
        .ok_or_else(|| format!("The action “{slug}” is no longer offered."))?;
    let form = RawForm::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    let parse_ctx = ParseCtx {
        corp: ctx.corp,
        secret: None,
    };
    Change::parse(action, &form, &parse_ctx).map_err(|e| {
        let why: Vec<String> = e.0.into_iter().map(|(_, m)| m).collect();
        format!("Its earlier value cannot be set again: {}", why.join(" "))
    })
}

/// One bulk action: everything about it in one place.
#[async_trait]
pub trait Action: Send + Sync + 'static {
    /// The URL segment (`{action}` in `/devices/{corpId}/actions/{action}`).
    fn slug(&self) -> &'static str;
    /// The menu label.
    fn label(&self) -> &'static str;
    /// Place in menus (lower first).
    fn menu_position(&self) -> u8;
    /// The upstream operation (its scope-table row decides who may run it).
    fn operation(&self) -> Operation;
    /// The operation for a change of `lines` lines (SmartSpot: several devices use `-multi`).
    fn operation_for(&self, _lines: usize) -> Operation {
        self.operation()
    }
    fn selection(&self) -> Selection {
        Selection::LinesOrAll
    }
    /// The form's fields, in order (empty: the action has none).
    fn fields(&self) -> &'static [Field];
    /// A sentence shown in the form instead of fields, or above them.
    fn intro(&self) -> Option<&'static str> {
        None
    }
    /// Values a new form starts with.
    fn defaults(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Said in the preview whatever the lines.
    fn preview_warning(&self) -> Option<&'static str> {
        None
    }
    /// May this user send this change for `lines` lines? Asks the scope table only.
    fn authorize(
        &self,
        user: &Principal,
        corp: &CorpId,
        lines: usize,
        _values: &Values,
    ) -> Result<(), Refusal> {
        user.check(self.operation_for(lines), corp)
    }
    /// The change in words ("Status → SUSPENDED (reason: Summer break)"); secrets never shown.
    fn summary(&self, v: &Values) -> String;
    /// A line's current value of what this action changes.
    fn before(&self, d: &Device) -> String;
    /// The export columns [`Action::before`] reads (the MDN aside), so that a line's value
    /// before can be read from Sentinel's CSV export too.
    fn before_columns(&self) -> &'static [Column] {
        BEFORE_COLUMNS
    }
    /// The value a line will have.
    fn after(&self, v: &Values) -> String {
        self.summary(v)
    }
    /// Does sending `v` need each line's value now (the operation sets more than the change
    /// does, e.g. both limits when one is left unchanged)? Then lines are sent grouped by
    /// [`Action::for_line`], never with a default for what the user left alone.
    fn per_line(&self, _v: &Values) -> bool {
        false
    }
    /// The values sent for a line whose value now is `before` (as [`Action::before`] wrote
    /// it), or why that line cannot be sent.
    fn for_line(&self, v: &Values, _before: &str) -> Result<Values, String> {
        Ok(v.clone())
    }
    /// The value a line will have, given its value now when it is known.
    fn after_line(&self, v: &Values, before: Option<&str>) -> String {
        match before.map(|b| self.for_line(v, b)) {
            Some(Ok(filled)) => self.after(&filled),
            _ => self.after(v),
        }
    }
    /// Does it replace a text a line may already have (a nickname, a note)? Then the preview
    /// counts the values it replaces and asks for a tick above a few.
    fn replaces_text(&self) -> bool {
        false
    }
    /// Why a line whose value now could not be read is not sent (see [`Action::per_line`]).
    fn unread_reason(&self) -> String {
        "Not sent: this line's current value could not be read from Sentinel.".into()
    }
    /// Why no change of this action can be put back through the API, whatever the line.
    fn irreversible(&self) -> Option<&'static str> {
        None
    }
    /// The change that puts one line back to its value before, in the operations' own
    /// vocabulary (see [`set_back`]; it may be another action's), or why it cannot.
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String>;
    /// Does [`Action::revert`] need the statuses the status operation takes?
    fn revert_needs_statuses(&self) -> bool {
        false
    }
    /// Does [`Action::revert`] need the line's value now?
    fn revert_reads_current(&self) -> bool {
        false
    }
    /// The device group a line's revert is sent from when the change took the line out of its
    /// own (a move: the line is in the other group now); `None`: the change's own group.
    fn revert_from(&self, _line: &RevertLine<'_>) -> Option<CorpId> {
        None
    }
    /// The one upstream call for `target`.
    async fn send(
        &self,
        to: Call<'_>,
        v: &Values,
        target: &Target,
    ) -> Result<WriteResult, RunError>;
}

/// An action of the catalogue: a cheap, comparable handle (serialised as its slug).
#[derive(Clone, Copy)]
pub struct ActionKind(&'static dyn Action);

static ORDERED: LazyLock<Vec<ActionKind>> = LazyLock::new(|| {
    let mut all: Vec<ActionKind> = REGISTERED.iter().map(|a| ActionKind(*a)).collect();
    all.sort_by_key(|a| a.0.menu_position());
    all
});

impl ActionKind {
    /// Every action, in menu order.
    pub fn all() -> impl Iterator<Item = ActionKind> {
        ORDERED.iter().copied()
    }

    /// `None` for an unknown (or forged) action.
    pub fn from_slug(s: &str) -> Option<Self> {
        Self::all().find(|a| a.slug() == s)
    }

    /// The action's definition.
    pub fn def(self) -> &'static dyn Action {
        self.0
    }

    pub fn slug(self) -> &'static str {
        self.0.slug()
    }

    pub fn label(self) -> &'static str {
        self.0.label()
    }

    pub fn operation(self) -> Operation {
        self.0.operation()
    }

    pub fn operation_for(self, lines: usize) -> Operation {
        self.0.operation_for(lines)
    }

    pub fn fields(self) -> &'static [Field] {
        self.0.fields()
    }

    pub fn selection(self) -> Selection {
        self.0.selection()
    }

    /// May this action take a bulk selection (select all matching)?
    pub fn accepts_bulk(self) -> bool {
        self.selection() == Selection::LinesOrAll
    }

    /// Actions this user may run in this device group, in menu order (from the scope table).
    pub fn allowed_for(user: &Principal, corp: &CorpId) -> Vec<ActionKind> {
        Self::all()
            .filter(|a| user.can(a.operation(), corp))
            .collect()
    }

    /// The change that puts `line` back (of this action's change in `corp`) and the device group
    /// it is sent from, or why it cannot.
    pub fn revert(
        self,
        line: &RevertLine<'_>,
        corp: &CorpId,
        statuses: Option<&Statuses>,
    ) -> Result<(Change, CorpId), String> {
        let def = self.def();
        if let Some(why) = def.irreversible() {
            return Err(why.into());
        }
        let from = def.revert_from(line).unwrap_or_else(|| corp.clone());
        let ctx = RevertCtx {
            corp: &from,
            statuses,
        };
        let change = def.revert(line, &ctx)?;
        Ok((change, from))
    }

    /// The actions this user may only request in `corp` (the approvals rule), in menu order.
    pub fn requestable_for(user: &Principal, corp: &CorpId) -> Vec<ActionKind> {
        Self::all()
            .filter(|a| user.may_request(a.operation(), corp))
            .collect()
    }
}

impl PartialEq for ActionKind {
    fn eq(&self, other: &Self) -> bool {
        self.slug() == other.slug()
    }
}
impl Eq for ActionKind {}

impl std::hash::Hash for ActionKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.slug().hash(state);
    }
}

impl fmt::Debug for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionKind({})", self.slug())
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl serde::Serialize for ActionKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.slug())
    }
}

impl<'de> serde::Deserialize<'de> for ActionKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ActionKind::from_slug(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown action {s:?}")))
    }
}

/// The upstream's "list or bulk selection" for `target` (IMEIs are not one).
pub fn selection_of(target: &Target) -> Result<crate::upstream::wire::DeviceSelection, RunError> {
    target.selection().ok_or(RunError::Mismatch)
}

/// The explicit list of `target`, for operations that take only MDNs.
pub fn lines_of(target: &Target) -> Result<Vec<crate::domain::Mdn>, RunError> {
    match target {
        Target::Lines(m) => Ok(m.clone()),
        _ => Err(RunError::Mismatch),
    }
}

/// "10 GB", "1500 MB", "No limit": a limit for people (read back by `domain::data_limit::parse`).
pub fn limit_text(v: Option<f64>) -> String {
    crate::domain::data_limit::text(v)
}

/// An optional device field, "" when absent.
pub fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn slugs_positions_and_fields_are_unique() {
        let all: Vec<ActionKind> = ActionKind::all().collect();
        assert_eq!(all.len(), REGISTERED.len());
        let slugs: HashSet<_> = all.iter().map(|a| a.slug()).collect();
        assert_eq!(slugs.len(), all.len(), "two actions share a slug");
        let pos: HashSet<_> = all.iter().map(|a| a.def().menu_position()).collect();
        assert_eq!(pos.len(), all.len(), "two actions share a menu position");
        for a in &all {
            assert_eq!(ActionKind::from_slug(a.slug()), Some(*a));
            let names: HashSet<_> = a.fields().iter().map(|f| f.name).collect();
            assert_eq!(names.len(), a.fields().len(), "{a}: a field name repeats");
            assert!(
                a.operation().is_write(),
                "{a}: an action must be backed by a write operation"
            );
        }
        assert_eq!(ActionKind::from_slug("drop-table"), None);
    }

    #[test]
    fn the_eleven_contract_actions_are_there_in_menu_order() {
        // CONTRACT §4's actions; the catalogue may hold more (a new file is a new action).
        let contract = [
            "status",
            "nickname",
            "note",
            "filter-group",
            "device-group",
            "data-limits",
            "summer-usage",
            "mdn-custom-field",
            "imei",
            "delete-labels",
            "smartspot-settings",
        ];
        let slugs: Vec<&str> = ActionKind::all()
            .map(|a| a.slug())
            .filter(|s| contract.contains(s))
            .collect();
        assert_eq!(slugs, contract);
    }

    #[test]
    fn a_stored_change_round_trips_without_its_secret() {
        let form = RawForm::from_pairs(vec![
            ("ssid".into(), "Bus-47".into()),
            ("maxClients".into(), "10".into()),
            ("band".into(), "dual".into()),
        ]);
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        let kind = ActionKind::from_slug("smartspot-settings").unwrap();
        let c = Change::parse(
            kind,
            &form,
            &ParseCtx {
                corp: &corp,
                secret: Some("s3cret-pass"),
            },
        )
        .unwrap();
        let stored = serde_json::to_string(&c).unwrap();
        assert!(!stored.contains("s3cret"), "{stored}");
        let back: Change = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.values.secret("wifiPassword"), None);
        assert_eq!(back.values.text("ssid"), "Bus-47");
        assert_eq!(back.action, kind);
    }

    fn revert(
        slug: &str,
        before: &str,
        after: Option<&str>,
        now: Option<&str>,
    ) -> Result<Change, String> {
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        let kind = ActionKind::from_slug(slug).unwrap();
        let statuses = Statuses::new(vec!["ACTIVE".into(), "SUSPENDED".into()]);
        kind.revert(&RevertLine { before, after, now }, &corp, Some(&statuses))
            .map(|(c, _)| c)
    }

    #[test]
    fn a_revert_reads_back_the_before_text_each_action_wrote() {
        let c = revert("data-limits", "10240 MB / No limit", None, None).unwrap();
        assert_eq!(c.values.limit("monthlyLimit"), Some(10240.0));
        assert_eq!(c.values.limit("dailyLimit"), None);
        assert_eq!(c.action.def().after(&c.values), "10 GB / No limit");
        // What the console writes now reads back the same.
        let c = revert("data-limits", "1.5 GB / 500 MB", None, None).unwrap();
        assert_eq!(c.values.limit("monthlyLimit"), Some(1536.0));
        assert_eq!(c.values.limit("dailyLimit"), Some(500.0));
        assert!(revert("data-limits", "lots", None, None).is_err());
        let c = revert("nickname", "Bus 4", None, None).unwrap();
        assert_eq!(c.values.text("nickname"), "Bus 4");
        assert!(revert("nickname", "", None, None).is_err());
        assert!(revert("note", "", None, None).is_ok());
        assert!(revert("summer-usage", "ENABLED", None, None).is_ok());
        assert!(revert("summer-usage", "MAYBE", None, None).is_err());
        let labels = revert("delete-labels", "A, B", None, None).unwrap_err();
        assert!(labels.contains("cannot be undone"), "{labels}");
        // A move is put back from the group the line is in now.
        let back = revert("device-group", "NORTHSTAR-ISD", Some("OTHER"), None).unwrap();
        assert_eq!(
            back.values.group("deviceGroup").unwrap().as_str(),
            "NORTHSTAR-ISD"
        );
        let line = RevertLine {
            before: "NORTHSTAR-ISD",
            after: Some("OTHER"),
            now: None,
        };
        let (_, from) = back
            .action
            .revert(&line, &CorpId::parse("NORTHSTAR-ISD").unwrap(), None)
            .unwrap();
        assert_eq!(from.as_str(), "OTHER");
        assert!(revert("device-group", "", Some("OTHER"), None).is_err());
        assert!(revert("device-group", "NORTHSTAR-ISD", None, None).is_err());
        assert!(revert("smartspot-settings", "", None, None).is_err());
    }

    #[test]
    fn a_status_is_put_back_in_the_operations_own_vocabulary() {
        let c = revert("status", "active", None, None).unwrap();
        assert_eq!(c.values.text("status"), "ACTIVE");
        let why = revert("status", "deactivated", None, None).unwrap_err();
        assert!(why.contains("ACTIVE, SUSPENDED"), "{why}");
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        let line = RevertLine {
            before: "active",
            after: None,
            now: None,
        };
        let kind = ActionKind::from_slug("status").unwrap();
        assert!(
            kind.revert(&line, &corp, None).is_err(),
            "no vocabulary: not sent"
        );
    }

    #[test]
    fn an_imei_is_put_back_only_when_the_line_still_has_the_changed_one() {
        let (old, new) = ("490154203237518", "356938035643809");
        assert!(revert("imei", old, Some(new), Some(new)).is_ok());
        let again = revert("imei", old, Some(new), Some("352099001761481")).unwrap_err();
        assert!(again.contains("changed again"), "{again}");
        assert!(revert("imei", old, Some(new), None).is_err());
    }
}
