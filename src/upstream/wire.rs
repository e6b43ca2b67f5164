//! Every type that crosses the wire to or from the Sentinel devices API, in one place,
//! so that a correction to the vendor's schemas is a one-file change.

use serde::{Deserialize, Serialize};

use crate::domain::{Imei, Mdn};

/// A label on a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub id: i64,
    pub name: String,
}

/// One line (device) of a device group. Missing fields are unknown or not applicable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub key: String,
    /// Kept as the upstream wrote it; parsed into [`Mdn`] where it is used as input.
    pub mdn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oem_serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uicc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esn_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdn_custom_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summer_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_center_status: Option<String>,
    /// MB; `null` = no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_limit: Option<f64>,
    /// MB; `null` = no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_amount_used: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_amount_used: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last30_days_used: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_status: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_health_status: Option<bool>,
}

impl Device {
    /// A SmartSpot hotspot (it has settings of its own): Sentinel names its device model so.
    pub fn is_smartspot(&self) -> bool {
        self.imei.is_some()
            && self
                .device_name
                .as_deref()
                .is_some_and(|n| n.contains("SmartSpot"))
    }
}

/// A page of devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    pub total_count: u64,
    pub devices: Vec<Device>,
}

/// Device counts of a device group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Totals {
    pub active: u64,
    pub suspended: u64,
    pub total: u64,
}

/// Selects devices by filter instead of by list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BulkSelection {
    pub select_all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_ids: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_mdns: Option<Vec<Mdn>>,
}

/// "Either a list of devices or a bulk selection": exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DeviceSelection {
    Mdns {
        mdns: Vec<Mdn>,
    },
    Bulk {
        #[serde(rename = "bulkSelection")]
        bulk_selection: BulkSelection,
    },
}

/// `PUT .../status`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `PUT .../nickname`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NicknameChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub nickname: String,
}

/// `PUT .../note`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub note: String,
}

/// `PUT .../filterGroup`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterGroupChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub filter_group: String,
}

/// `PUT .../deviceGroup`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceGroupChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub device_group: String,
}

/// `PUT .../dataLimits`; `None` = no limit (sent as `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataLimitsChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub monthly_limit: Option<f64>,
    pub daily_limit: Option<f64>,
}

/// `PUT .../summerUsage`: `ENABLED` or `DISABLED`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummerUsageChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub summer_status: String,
}

/// `PUT .../mdnCustomField`: a list only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MdnCustomFieldChange {
    pub mdns: Vec<Mdn>,
    pub mdn_custom_field: String,
}

/// `PUT .../imei`: exactly one ARCNT line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImeiChange {
    pub mdns: Vec<Mdn>,
    pub imei: Imei,
}

/// `DELETE .../bulkDeleteLabels`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkDeleteLabels {
    #[serde(flatten)]
    pub selection: DeviceSelection,
}

/// `POST .../customizedList` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomizedListRequest {
    pub bulk_selection: BulkSelection,
}

/// SmartSpot settings without the IMEI. `wifi_password` is write-only.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SmartSpotSettingsValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clients: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_filter_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotspot_enabled: Option<bool>,
}

impl std::fmt::Debug for SmartSpotSettingsValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartSpotSettingsValues")
            .field("ssid", &self.ssid)
            .field(
                "wifi_password",
                &self.wifi_password.as_ref().map(|_| "[redacted]"),
            )
            .field("max_clients", &self.max_clients)
            .field("band", &self.band)
            .field("content_filter_enabled", &self.content_filter_enabled)
            .field("hotspot_enabled", &self.hotspot_enabled)
            .finish()
    }
}

/// The SmartSpot bands.
pub const SMARTSPOT_BANDS: [&str; 3] = ["2.4GHz", "5GHz", "dual"];

/// SmartSpot settings of one device (`GET`), or the single-device write (`PUT`, `imei` required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SmartSpotSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    #[serde(flatten)]
    pub values: SmartSpotSettingsValues,
}

/// `PUT .../smartspot-settings-multi`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartSpotSettingsMultiRequest {
    pub imeis: Vec<Imei>,
    pub settings: SmartSpotSettingsValues,
}

/// A line a write did not change, with the upstream's reason (the outcome model's own type).
pub use crate::outcome::WriteFailure;

/// Outcome of a write; a bulk write can partly fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WriteResult {
    pub updated: u64,
    #[serde(default)]
    pub failed: Vec<WriteFailure>,
}

/// One health check of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub name: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The health of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub mdn: String,
    pub healthy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    pub checks: Vec<HealthCheck>,
}

/// The upstream's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    pub message: String,
}

/// `POST /v1.0/auth/token` (the vendor's own sign-in).
#[derive(Clone, Serialize, Deserialize)]
pub struct PasswordTokenRequest {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for PasswordTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordTokenRequest")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Answer of `POST /v1.0/auth/token`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasswordTokenResponse {
    pub token: String,
    pub details: serde_json::Value,
}

impl std::fmt::Debug for PasswordTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordTokenResponse")
            .field("token", &"[redacted]")
            .field("details", &self.details)
            .finish()
    }
}

/// A CSV column's name in `customizedList`: the vendor calls DEVICE_NAME `DEVICE` there and
/// lists neither CORP_DESCRIPTION (its `DEVICE_GROUP` may be the id or the description: we
/// don't guess), EFFECTIVE_VPN_STATUS, MDN_CUSTOM_FIELD nor VERIZON_BI_PLAN_ID; `None`: not offered.
pub fn customized_list_column(c: crate::domain::Column) -> Option<&'static str> {
    use crate::domain::Column;
    match c {
        Column::DeviceName => Some("DEVICE"),
        Column::CorpDescription
        | Column::EffectiveVpnStatus
        | Column::MdnCustomField
        | Column::VerizonBiPlanId => None,
        other => Some(other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_serialises_as_either_shape() {
        let s = StatusChange {
            selection: DeviceSelection::Mdns {
                mdns: vec![Mdn::parse("521-267-1508").unwrap()],
            },
            status: "SUSPENDED".into(),
            reason: None,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"mdns": ["521-267-1508"], "status": "SUSPENDED"})
        );
        let b = NicknameChange {
            selection: DeviceSelection::Bulk {
                bulk_selection: BulkSelection {
                    select_all: true,
                    search_value: Some("Bus".into()),
                    ..Default::default()
                },
            },
            nickname: "x".into(),
        };
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({"bulkSelection": {"selectAll": true, "searchValue": "Bus"}, "nickname": "x"})
        );
        let back: NicknameChange =
            serde_json::from_value(serde_json::to_value(&b).unwrap()).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn data_limits_send_null_for_no_limit() {
        let d = DataLimitsChange {
            selection: DeviceSelection::Mdns { mdns: vec![] },
            monthly_limit: Some(10240.0),
            daily_limit: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert!(v.get("dailyLimit").unwrap().is_null());
    }
}
