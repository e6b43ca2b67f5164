//! Bulk changes as safe actions: the action catalogue, typed requests, previews, running and the job runner.
//!
//! - [`ActionKind`]: the eleven actions of CONTRACT §4 and the operation each needs.
//! - [`form`]: the posted form parsed into a typed [`form::ActionRequest`] (per-field errors).
//! - [`preview`]: what will change, with current values fetched from the list.
//! - [`run`]: applying a change (one upstream call), its outcome and its audit record.
//! - [`jobs`]: explicit lists longer than one call, chunked and run as a background job.
//! - [`limit`]: the per-session write rate limit.

pub mod form;
pub mod jobs;
pub mod limit;
pub mod preview;
pub mod run;

use crate::domain::CorpId;
use crate::policy::{Operation, Principal};

/// Most lines one upstream call carries for an explicit list; longer lists are chunked.
pub const CHUNK_SIZE: usize = 500;
/// Chunks of one job in flight at once.
pub const JOB_CONCURRENCY: usize = 4;
/// Lines listed in a preview; the rest are counted.
pub const PREVIEW_LINES: usize = 50;
/// Above this many lines the user must tick "Yes, change these N lines".
pub const ACK_ABOVE: u64 = 10;
/// Most lines one explicit list may carry.
pub const MAX_LIST: usize = 50_000;
/// Most IMEIs one SmartSpot change may carry (one upstream call).
pub const MAX_IMEIS: usize = 500;

/// The eleven actions (`{action}` in `/devices/{corpId}/actions/{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Status,
    Nickname,
    Note,
    FilterGroup,
    DeviceGroup,
    DataLimits,
    SummerUsage,
    MdnCustomField,
    Imei,
    DeleteLabels,
    SmartspotSettings,
}

impl ActionKind {
    pub const ALL: [ActionKind; 11] = [
        ActionKind::Status,
        ActionKind::Nickname,
        ActionKind::Note,
        ActionKind::FilterGroup,
        ActionKind::DeviceGroup,
        ActionKind::DataLimits,
        ActionKind::SummerUsage,
        ActionKind::MdnCustomField,
        ActionKind::Imei,
        ActionKind::DeleteLabels,
        ActionKind::SmartspotSettings,
    ];

    /// The URL segment.
    pub fn slug(self) -> &'static str {
        match self {
            ActionKind::Status => "status",
            ActionKind::Nickname => "nickname",
            ActionKind::Note => "note",
            ActionKind::FilterGroup => "filter-group",
            ActionKind::DeviceGroup => "device-group",
            ActionKind::DataLimits => "data-limits",
            ActionKind::SummerUsage => "summer-usage",
            ActionKind::MdnCustomField => "mdn-custom-field",
            ActionKind::Imei => "imei",
            ActionKind::DeleteLabels => "delete-labels",
            ActionKind::SmartspotSettings => "smartspot-settings",
        }
    }

    /// `None` for an unknown (or forged) action.
    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.slug() == s)
    }

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::Status => "Change status",
            ActionKind::Nickname => "Rename (nickname)",
            ActionKind::Note => "Set note",
            ActionKind::FilterGroup => "Move to filter group",
            ActionKind::DeviceGroup => "Move to device group",
            ActionKind::DataLimits => "Set data limits",
            ActionKind::SummerUsage => "Summer usage",
            ActionKind::MdnCustomField => "Set MDN custom field",
            ActionKind::Imei => "Change IMEI",
            ActionKind::DeleteLabels => "Remove all labels",
            ActionKind::SmartspotSettings => "SmartSpot settings",
        }
    }

    /// The upstream operation (for SmartSpot: the single-device one; see [`ActionKind::operation_for`]).
    pub fn operation(self) -> Operation {
        match self {
            ActionKind::Status => Operation::UpdateStatus,
            ActionKind::Nickname => Operation::UpdateNickname,
            ActionKind::Note => Operation::UpdateNote,
            ActionKind::FilterGroup => Operation::UpdateFilterGroup,
            ActionKind::DeviceGroup => Operation::UpdateDeviceGroup,
            ActionKind::DataLimits => Operation::UpdateDataLimits,
            ActionKind::SummerUsage => Operation::UpdateSummerUsage,
            ActionKind::MdnCustomField => Operation::UpdateMdnCustomField,
            ActionKind::Imei => Operation::UpdateImei,
            ActionKind::DeleteLabels => Operation::BulkDeleteLabels,
            ActionKind::SmartspotSettings => Operation::UpdateSmartspotSettings,
        }
    }

    /// The operation for a change of `lines` lines (SmartSpot: several IMEIs use `-multi`).
    pub fn operation_for(self, lines: usize) -> Operation {
        match self {
            ActionKind::SmartspotSettings if lines > 1 => Operation::UpdateSmartspotSettingsMulti,
            other => other.operation(),
        }
    }

    /// May this action take a bulk selection (select all matching)?
    pub fn accepts_bulk(self) -> bool {
        !matches!(
            self,
            ActionKind::MdnCustomField | ActionKind::Imei | ActionKind::SmartspotSettings
        )
    }

    /// Actions this user may run in this device group, in menu order (from the scope table).
    pub fn allowed_for(user: &Principal, corp: &CorpId) -> Vec<ActionKind> {
        Self::ALL
            .into_iter()
            .filter(|a| user.can(a.operation(), corp))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for a in ActionKind::ALL {
            assert_eq!(ActionKind::from_slug(a.slug()), Some(a));
        }
        assert_eq!(ActionKind::from_slug("drop-table"), None);
    }

    #[test]
    fn smartspot_uses_multi_for_several() {
        assert_eq!(
            ActionKind::SmartspotSettings.operation_for(1),
            Operation::UpdateSmartspotSettings
        );
        assert_eq!(
            ActionKind::SmartspotSettings.operation_for(3),
            Operation::UpdateSmartspotSettingsMulti
        );
    }
}
