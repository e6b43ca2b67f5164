//! The scope table's rules for the self-service portal: whose home it is, which device groups a
//! look-up searches, and what a line's card offers (directly, on the admin page, or by request).

use super::{Operation, Principal};
use crate::domain::CorpId;
use crate::domain::Role;

/// The changes the portal offers on a line as one-tap forms, when the scope table allows them.
const PORTAL_DIRECT: &[Operation] = &[
    Operation::UpdateMdnCustomField,
    Operation::UpdateSmartspotSettings,
];

/// The changes portal users ask for most (a lost device suspended, a line resumed, a limit raised,
/// a rename, another filter group): offered directly when allowed, else by request.
const PORTAL_COMMON: &[Operation] = &[
    Operation::UpdateStatus,
    Operation::UpdateDataLimits,
    Operation::UpdateNickname,
    Operation::UpdateFilterGroup,
];

/// What the portal shows on one line's card, decided here from the scope table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortalActions {
    /// One-line form for the MDN custom field.
    pub mdn_custom_field: bool,
    /// Link to the SmartSpot settings form (SmartSpot lines only).
    pub smartspot_settings: bool,
    /// The SmartSpot settings may be read (shown on the card).
    pub smartspot_read: bool,
    /// The line's health may be read (when the line reports health).
    pub health: bool,
    /// Common changes this user may make, but on the admin line page (managers, technicians).
    pub admin_page: bool,
    /// Common changes this user may not make: what a change request will be for.
    pub not_allowed: Vec<Operation>,
    /// Of those, the ones this user may request (the approvals rule).
    pub requestable: Vec<Operation>,
}

impl Principal {
    /// Holds only `readonly` and/or `org_mediacenter`: the portal is their home page.
    pub fn is_portal_user(&self) -> bool {
        !self.roles.is_empty()
            && self
                .roles
                .iter()
                .all(|r| matches!(r, Role::Readonly | Role::OrgMediaCenter))
    }

    /// Does `GET /` send this user to the portal? Portal users whose token names their device groups
    /// (without them the portal cannot search, and the picker's typed device group is their way in).
    pub fn lands_on_portal(&self) -> bool {
        self.is_portal_user() && self.corp_ids.is_some()
    }

    /// The device groups a portal look-up searches: every group the token names that the user may list.
    /// `None` when the token names none (the console cannot tell which groups are theirs).
    pub fn portal_groups(&self) -> Option<Vec<CorpId>> {
        self.corp_ids.as_ref().map(|ids| {
            ids.iter()
                .filter(|c| self.can(Operation::ListDevices, c))
                .cloned()
                .collect()
        })
    }

    /// What the card on the admin line page reads besides the line (its health, a SmartSpot's
    /// settings); its changes are the page's own action links.
    pub fn line_page_card(&self, corp: &CorpId, smartspot: bool) -> PortalActions {
        PortalActions {
            smartspot_read: smartspot && self.can(Operation::GetSmartspotSettings, corp),
            health: self.can(Operation::DeviceHealth, corp),
            ..PortalActions::default()
        }
    }

    /// May this user undo, from a line's card, a change of `op` they made there? Only the card's
    /// own one-tap changes, and only when the scope table allows the change itself.
    pub fn may_undo_on_card(&self, op: Operation, corp: &CorpId) -> bool {
        PORTAL_DIRECT.contains(&op) && self.can(op, corp)
    }

    /// What the card of a line of `corp` offers this user (`smartspot`: the line is a SmartSpot).
    pub fn portal_actions(&self, corp: &CorpId, smartspot: bool) -> PortalActions {
        let direct = |op: Operation| PORTAL_DIRECT.contains(&op) && self.can(op, corp);
        PortalActions {
            mdn_custom_field: direct(Operation::UpdateMdnCustomField),
            smartspot_settings: smartspot && direct(Operation::UpdateSmartspotSettings),
            smartspot_read: smartspot && self.can(Operation::GetSmartspotSettings, corp),
            health: self.can(Operation::DeviceHealth, corp),
            admin_page: PORTAL_COMMON.iter().any(|op| self.can(*op, corp)),
            not_allowed: PORTAL_COMMON
                .iter()
                .copied()
                .filter(|op| !self.can(*op, corp))
                .collect(),
            requestable: PORTAL_COMMON
                .iter()
                .copied()
                .filter(|op| self.may_request(*op, corp))
                .collect(),
        }
    }
}
