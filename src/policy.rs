//! The one scope table: which roles may call each upstream operation, and the extra conditions.
//!
//! Handlers ask [`Principal::check`] before any upstream call; templates ask
//! [`Principal::can`] to decide what to show. No rule is written anywhere else.

use crate::domain::{Column, CorpId, Role};
use serde::{Deserialize, Serialize};

/// Who may call an operation (the OpenAPI file's `x-allowed-scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Any role (a read the vendor text does not restrict).
    Any,
    /// Any role but `readonly` (a write the vendor text does not restrict).
    AnyButReadonly,
    /// Any role but `org_mediacenter`.
    AnyButMediaCenter,
    /// Any role but `readonly` or `org_mediacenter`.
    AnyButReadonlyOrMediaCenter,
    /// Only these roles.
    Only(&'static [Role]),
}

/// Read, write, or destructive write (the vendor's badge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Destructive,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub kind: Kind,
    pub allowed: Allowed,
    /// The account type the user must have (`x-requires-account-type`).
    pub account_type: Option<&'static str>,
    /// The network every changed line must be on (`x-requires-network`); the
    /// upstream reports other lines as failed, the preview warns about them.
    pub network: Option<&'static str>,
    /// The most lines one change may carry (`update_imei`: exactly one line per call).
    pub max_lines: Option<u64>,
}

const MANAGERS: &[Role] = &[
    Role::OrgSuper,
    Role::OrgTech,
    Role::OrgKajeetManaged,
    Role::OrgManagerPlus,
];
const SUPER_TECH: &[Role] = &[Role::OrgSuper, Role::OrgTech];

/// The 19 operations of the Sentinel devices API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    ListDevices,
    BulkDeleteLabels,
    CustomizedList,
    UpdateDataLimits,
    UpdateDeviceGroup,
    UpdateFilterGroup,
    UpdateImei,
    GetDevicesByImei,
    UpdateMdnCustomField,
    UpdateNickname,
    UpdateNote,
    UpdateSmartspotSettings,
    UpdateSmartspotSettingsMulti,
    GetSmartspotSettings,
    GetPossibleStatuses,
    UpdateStatus,
    UpdateSummerUsage,
    DeviceTotals,
    DeviceHealth,
}

impl Operation {
    pub const ALL: [Operation; 19] = [
        Operation::ListDevices,
        Operation::BulkDeleteLabels,
        Operation::CustomizedList,
        Operation::UpdateDataLimits,
        Operation::UpdateDeviceGroup,
        Operation::UpdateFilterGroup,
        Operation::UpdateImei,
        Operation::GetDevicesByImei,
        Operation::UpdateMdnCustomField,
        Operation::UpdateNickname,
        Operation::UpdateNote,
        Operation::UpdateSmartspotSettings,
        Operation::UpdateSmartspotSettingsMulti,
        Operation::GetSmartspotSettings,
        Operation::GetPossibleStatuses,
        Operation::UpdateStatus,
        Operation::UpdateSummerUsage,
        Operation::DeviceTotals,
        Operation::DeviceHealth,
    ];

    /// The table itself.
    pub const fn rule(self) -> Rule {
        use Allowed::*;
        use Operation::*;
        const fn r(kind: Kind, allowed: Allowed) -> Rule {
            Rule {
                kind,
                allowed,
                account_type: None,
                network: None,
                max_lines: None,
            }
        }
        match self {
            ListDevices | GetDevicesByImei | GetSmartspotSettings | DeviceTotals | DeviceHealth => {
                r(Kind::Read, Any)
            }
            CustomizedList => r(Kind::Read, AnyButMediaCenter),
            GetPossibleStatuses => r(Kind::Read, Only(MANAGERS)),
            BulkDeleteLabels => r(Kind::Destructive, AnyButReadonlyOrMediaCenter),
            UpdateDataLimits => r(Kind::Write, Only(SUPER_TECH)),
            UpdateDeviceGroup | UpdateFilterGroup | UpdateNickname | UpdateNote | UpdateStatus => {
                r(Kind::Write, Only(MANAGERS))
            }
            UpdateImei => Rule {
                network: Some("ARCNT"),
                max_lines: Some(1),
                ..r(Kind::Write, Only(MANAGERS))
            },
            UpdateMdnCustomField | UpdateSmartspotSettings | UpdateSmartspotSettingsMulti => {
                r(Kind::Write, AnyButReadonly)
            }
            UpdateSummerUsage => Rule {
                account_type: Some("kajeet_choice"),
                ..r(Kind::Write, Only(SUPER_TECH))
            },
        }
    }

    /// The OpenAPI `operationId`.
    pub fn id(self) -> &'static str {
        use Operation::*;
        match self {
            ListDevices => "list_devices",
            BulkDeleteLabels => "bulk_delete_labels",
            CustomizedList => "customized_list",
            UpdateDataLimits => "update_data_limits",
            UpdateDeviceGroup => "update_device_group",
            UpdateFilterGroup => "update_filter_group",
            UpdateImei => "update_imei",
            GetDevicesByImei => "get_devices_by_imei",
            UpdateMdnCustomField => "update_mdn_custom_field",
            UpdateNickname => "update_nickname",
            UpdateNote => "update_note",
            UpdateSmartspotSettings => "update_smartspot_settings",
            UpdateSmartspotSettingsMulti => "update_smartspot_settings_multi",
            GetSmartspotSettings => "get_smartspot_settings",
            GetPossibleStatuses => "get_possible_statuses",
            UpdateStatus => "update_status",
            UpdateSummerUsage => "update_summer_usage",
            DeviceTotals => "device_totals",
            DeviceHealth => "device_health",
        }
    }

    pub fn is_write(self) -> bool {
        !matches!(self.rule().kind, Kind::Read)
    }

    /// What the form says about this operation's extra conditions (line limit, network).
    pub fn conditions(self) -> Option<String> {
        let rule = self.rule();
        match (rule.max_lines, rule.network) {
            (Some(1), Some(net)) => Some(format!(
                "Sentinel changes the IMEI of exactly one line, and only on the {net} network."
            )),
            (Some(n), _) => Some(format!("Sentinel changes at most {n} lines at a time.")),
            (None, Some(net)) => Some(format!("Sentinel changes only lines on the {net} network.")),
            (None, None) => None,
        }
    }

    /// The line limit: `lines` is the count of an explicit list, `None` for "all matching".
    pub fn check_line_count(self, lines: Option<u64>) -> Result<(), Refusal> {
        match (self.rule().max_lines, lines) {
            (Some(max), n) if n.is_none_or(|n| n > max) => Err(Refusal(if max == 1 {
                "Choose exactly one line: Sentinel changes the IMEI of one line at a time."
                    .to_owned()
            } else {
                format!("Choose at most {max} lines: Sentinel refuses more in one change.")
            })),
            _ => Ok(()),
        }
    }
}

/// The signed-in user as the token response described them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Principal {
    /// Subject (user id) at the identity provider.
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    /// Device groups the user may open; `None` lets the upstream decide.
    pub corp_ids: Option<Vec<CorpId>>,
    pub account_type: Option<String>,
}

/// Why the console refuses an operation; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(&self.subject)
    }

    /// The roles, as shown in the header.
    pub fn roles_label(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// May this user open this device group? (`corp_ids` absent: the upstream decides.)
    pub fn may_open(&self, corp: &CorpId) -> bool {
        self.corp_ids.as_ref().is_none_or(|ids| ids.contains(corp))
    }

    /// The role part of the rule, without the device group.
    fn role_check(&self, op: Operation) -> Result<(), Refusal> {
        let rule = op.rule();
        if rule.kind != Kind::Read && self.has(Role::Readonly) {
            return Err(Refusal(
                "Your account is read-only: it cannot change lines.".into(),
            ));
        }
        let ok = match rule.allowed {
            Allowed::Any => !self.roles.is_empty(),
            Allowed::AnyButReadonly => self.roles.iter().any(|r| *r != Role::Readonly),
            Allowed::AnyButMediaCenter => self.roles.iter().any(|r| *r != Role::OrgMediaCenter),
            Allowed::AnyButReadonlyOrMediaCenter => self
                .roles
                .iter()
                .any(|r| !matches!(r, Role::Readonly | Role::OrgMediaCenter)),
            Allowed::Only(roles) => self.roles.iter().any(|r| roles.contains(r)),
        };
        if !ok {
            let held = if self.roles.is_empty() {
                "no role".to_owned()
            } else {
                self.roles_label()
            };
            return Err(Refusal(format!(
                "Your role ({held}) does not allow {}.",
                op.id().replace('_', " ")
            )));
        }
        if let Some(need) = rule.account_type {
            if self.account_type.as_deref() != Some(need) {
                return Err(Refusal(format!(
                    "{} needs a Kajeet Choice account.",
                    op.id().replace('_', " ")
                )));
            }
        }
        Ok(())
    }

    /// The whole rule for an operation on a device group. Called before every upstream call.
    pub fn check(&self, op: Operation, corp: &CorpId) -> Result<(), Refusal> {
        if !self.may_open(corp) {
            return Err(Refusal(format!(
                "You do not have access to device group {corp}."
            )));
        }
        self.role_check(op)
    }

    /// Moving lines into `target` also needs the right to open `target`.
    pub fn check_device_group_move(&self, from: &CorpId, target: &CorpId) -> Result<(), Refusal> {
        self.check(Operation::UpdateDeviceGroup, from)?;
        if !self.may_open(target) {
            return Err(Refusal(format!(
                "You cannot move lines into device group {target}: you do not have access to it."
            )));
        }
        Ok(())
    }

    /// Reverting a move into `moved_to`: the lines are there now, so putting them back into
    /// `back_to` is a move made from `moved_to`, which needs access to both groups.
    pub fn check_move_back(&self, moved_to: &CorpId, back_to: &CorpId) -> Result<(), Refusal> {
        self.check_device_group_move(moved_to, back_to)
            .map_err(|r| {
                Refusal(format!(
                    "The lines are in {moved_to} now: moving them back to {back_to} is a change made from {moved_to}, which needs access to both groups. {r}"
                ))
            })
    }

    /// For templates: would [`Principal::check`] allow this operation?
    pub fn can(&self, op: Operation, corp: &CorpId) -> bool {
        self.check(op, corp).is_ok()
    }

    /// The overview (issue 13) is computed from the list's own CSV export: whoever may read
    /// the list may see it. Refuses before the export is asked for.
    pub fn check_overview(&self, corp: &CorpId) -> Result<(), Refusal> {
        self.check(Operation::ListDevices, corp)
    }

    /// For templates: the list's link to the overview.
    pub fn can_view_overview(&self, corp: &CorpId) -> bool {
        self.check_overview(corp).is_ok()
    }

    /// May this user change anything at all in this device group? (the self-service view)
    pub fn can_change_anything(&self, corp: &CorpId) -> bool {
        Operation::ALL
            .iter()
            .any(|op| op.is_write() && self.can(*op, corp))
    }

    /// May this user change this import column in this group? (the import's per-column rule)
    pub fn check_import_column(&self, column: Column, corp: &CorpId) -> Result<(), Refusal> {
        match import_operation(column) {
            Some(op) => self.check(op, corp),
            None => Err(Refusal(format!(
                "{column} is not a column the import changes."
            ))),
        }
    }

    /// The import reads the group's export for the current values, and is worth offering
    /// only when at least one importable column may be changed.
    pub fn check_import(&self, corp: &CorpId) -> Result<(), Refusal> {
        self.check(Operation::ListDevices, corp)?;
        if IMPORT_COLUMNS
            .iter()
            .any(|c| self.check_import_column(*c, corp).is_ok())
        {
            Ok(())
        } else {
            Err(Refusal(
                "Your role may not change any column a CSV import can set.".into(),
            ))
        }
    }

    /// For templates: the list's link to the import.
    pub fn can_import(&self, corp: &CorpId) -> bool {
        self.check_import(corp).is_ok()
    }
}

/// The export columns a CSV import may change, in the order the preview shows them.
pub const IMPORT_COLUMNS: &[Column] = &[
    Column::Nickname,
    Column::Note,
    Column::FilterGroup,
    Column::MdnCustomField,
    Column::Status,
    Column::MonthlyLimit,
    Column::DailyLimit,
];

/// The upstream operation that changes an import column (both limits are one call).
pub fn import_operation(column: Column) -> Option<Operation> {
    Some(match column {
        Column::Nickname => Operation::UpdateNickname,
        Column::Note => Operation::UpdateNote,
        Column::FilterGroup => Operation::UpdateFilterGroup,
        Column::MdnCustomField => Operation::UpdateMdnCustomField,
        Column::Status => Operation::UpdateStatus,
        Column::MonthlyLimit | Column::DailyLimit => Operation::UpdateDataLimits,
        _ => return None,
    })
}

/// Which audit records a user may read: those of the device groups they may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    /// Records of these device groups (the token's `corp_ids`).
    Groups(Vec<CorpId>),
    /// No `corp_ids` in the token: the console cannot tell which groups are theirs,
    /// so only the records of changes the user made themselves.
    OwnOnly,
}

/// The audit records one reader gets for a request: those of the device groups they may open (or
/// the one asked for among them), and perhaps only their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditView {
    /// The one device group asked for, if any.
    pub corp_id: Option<CorpId>,
    /// Only records of these device groups; `None`: any group (the records are narrowed by subject).
    pub within: Option<Vec<CorpId>>,
    /// Only the records of changes this subject made.
    pub only_subject: Option<String>,
}

impl Principal {
    /// The audit view for a request naming `asked` (or no) device group: without one, every
    /// device group the reader may open at once.
    pub fn audit_view(&self, asked: Option<CorpId>) -> Result<AuditView, Refusal> {
        match self.audit_scope() {
            AuditScope::Groups(groups) => {
                match &asked {
                    Some(c) if !groups.contains(c) => {
                        return Err(Refusal(format!(
                            "You do not have access to device group {c}, so not to its audit log."
                        )));
                    }
                    None if groups.is_empty() => {
                        return Err(Refusal(
                            "You have no device group whose changes you may see.".into(),
                        ));
                    }
                    _ => {}
                }
                Ok(AuditView {
                    corp_id: asked,
                    within: Some(groups),
                    only_subject: None,
                })
            }
            AuditScope::OwnOnly => Ok(AuditView {
                corp_id: asked,
                within: None,
                only_subject: Some(self.subject.clone()),
            }),
        }
    }

    /// Change sets follow the audit rule: those of the device groups the user may open (only
    /// their own when those groups are not known).
    pub fn may_see_change(&self, corp: &CorpId, subject: &str) -> bool {
        match self.audit_scope() {
            AuditScope::Groups(groups) => groups.contains(corp),
            AuditScope::OwnOnly => subject == self.subject,
        }
    }

    /// What a list of change sets is narrowed to: (device groups, only this user's).
    pub fn change_list_scope(&self) -> (Option<Vec<CorpId>>, Option<String>) {
        match self.audit_scope() {
            AuditScope::Groups(groups) => (Some(groups), None),
            AuditScope::OwnOnly => (None, Some(self.subject.clone())),
        }
    }

    /// The audit-log rule: any signed-in user sees the records of the device groups they may open.
    pub fn audit_scope(&self) -> AuditScope {
        match &self.corp_ids {
            Some(ids) => AuditScope::Groups(ids.clone()),
            None => AuditScope::OwnOnly,
        }
    }
}

mod approval;
mod portal;
mod usage;
pub use approval::{REQUESTABLE, WriteMode, needs_second_admin};
pub use portal::PortalActions;

#[cfg(test)]
mod tests {
    use super::*;

    fn p(roles: &[Role]) -> Principal {
        Principal {
            subject: "t".into(),
            roles: roles.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn readonly_forbids_every_write_whatever_else() {
        let u = p(&[Role::OrgSuper, Role::Readonly]);
        let corp = CorpId::parse("X").unwrap();
        for op in Operation::ALL {
            assert_eq!(u.can(op, &corp), !op.is_write(), "{op:?}");
        }
    }

    #[test]
    fn summer_usage_needs_kajeet_choice() {
        let corp = CorpId::parse("X").unwrap();
        let mut u = p(&[Role::OrgTech]);
        assert!(!u.can(Operation::UpdateSummerUsage, &corp));
        u.account_type = Some("kajeet_choice".into());
        assert!(u.can(Operation::UpdateSummerUsage, &corp));
    }

    #[test]
    fn the_audit_shows_every_group_the_reader_may_open_unless_one_is_asked() {
        let (a, b) = (CorpId::parse("A").unwrap(), CorpId::parse("B").unwrap());
        let mut u = p(&[Role::OrgTech]);
        u.corp_ids = Some(vec![a.clone(), b.clone()]);
        let all = u.audit_view(None).unwrap();
        assert_eq!((all.corp_id, all.within), (None, Some(vec![a.clone(), b])));
        assert_eq!(u.audit_view(Some(a.clone())).unwrap().corp_id, Some(a));
        assert!(u.audit_view(Some(CorpId::parse("C").unwrap())).is_err());
        u.corp_ids = Some(vec![]);
        assert!(u.audit_view(None).is_err());
        u.corp_ids = None;
        let own = u.audit_view(None).unwrap();
        assert_eq!((own.within, own.only_subject.as_deref()), (None, Some("t")));
    }

    #[test]
    fn a_move_is_put_back_only_by_someone_who_may_open_both_groups() {
        let (a, b) = (CorpId::parse("A").unwrap(), CorpId::parse("B").unwrap());
        let mut u = p(&[Role::OrgTech]);
        u.corp_ids = Some(vec![a.clone(), b.clone()]);
        assert!(u.check_move_back(&b, &a).is_ok());
        u.corp_ids = Some(vec![a.clone()]);
        let why = u.check_move_back(&b, &a).unwrap_err().0;
        assert!(why.contains("needs access to both groups"), "{why}");
        u.corp_ids = Some(vec![b.clone()]);
        assert!(u.check_move_back(&b, &a).is_err());
    }

    #[test]
    fn audit_scope_follows_corp_ids() {
        let mut u = p(&[Role::Readonly]);
        assert_eq!(u.audit_scope(), AuditScope::OwnOnly);
        u.corp_ids = Some(vec![CorpId::parse("A").unwrap()]);
        assert_eq!(
            u.audit_scope(),
            AuditScope::Groups(vec![CorpId::parse("A").unwrap()])
        );
    }

    #[test]
    fn portal_users_and_their_card() {
        let corp = CorpId::parse("A").unwrap();
        let mut media = p(&[Role::OrgMediaCenter]);
        assert!(media.is_portal_user());
        assert!(p(&[Role::Readonly]).is_portal_user());
        assert!(!p(&[Role::OrgMediaCenter, Role::OrgTech]).is_portal_user());
        assert!(!p(&[]).is_portal_user());
        let a = media.portal_actions(&corp, true);
        assert!(a.mdn_custom_field && a.smartspot_settings && !a.admin_page);
        assert_eq!(a.not_allowed.len(), 4);
        assert!(!media.portal_actions(&corp, false).smartspot_settings);
        let ro = p(&[Role::Readonly]).portal_actions(&corp, true);
        assert!(!ro.mdn_custom_field && !ro.smartspot_settings && ro.smartspot_read);
        assert_eq!(media.portal_groups(), None);
        assert!(!media.lands_on_portal());
        media.corp_ids = Some(vec![corp.clone()]);
        assert!(media.lands_on_portal());
        assert_eq!(media.portal_groups(), Some(vec![corp]));
    }

    #[test]
    fn corp_ids_limit_groups() {
        let mut u = p(&[Role::OrgSuper]);
        u.corp_ids = Some(vec![CorpId::parse("A").unwrap()]);
        assert!(u.can(Operation::ListDevices, &CorpId::parse("A").unwrap()));
        assert!(!u.can(Operation::ListDevices, &CorpId::parse("B").unwrap()));
    }
}
