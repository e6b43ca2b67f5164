//! The simulator's JSON bodies, written from the vendor's OpenAPI schemas (not shared with the console's client).

use serde::{Deserialize, Serialize};

use super::validate::{Imei, Mdn};

/// `Label`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub id: i64,
    pub name: String,
}

/// `Device`: fields a line lacks are left out of the answer, as in the vendor text's example.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub key: String,
    pub mdn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corp_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corp_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oem_serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uicc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub esn_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mdn_custom_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summer_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_center_status: Option<String>,
    /// MB. The schema allows `null` for "no limit"; a line without one leaves the field out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_amount_used: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_amount_used: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last30_days_used: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_status: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_health_status: Option<bool>,
}

/// `DeviceList`
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    pub total_count: u64,
    pub devices: Vec<Device>,
}

/// `Totals`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Totals {
    pub active: u64,
    pub suspended: u64,
    pub total: u64,
}

/// `BulkSelection`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkSelection {
    // Required by the schema; the handlers check it is `true` before decoding.
    #[allow(dead_code)]
    pub select_all: bool,
    #[serde(default)]
    pub search_value: Option<String>,
    #[serde(default)]
    pub label_ids: Option<Vec<i64>>,
    #[serde(default)]
    pub filter_group: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub excluded_mdns: Option<Vec<Mdn>>,
}

/// `DeviceSelection`: `oneOf` an `MdnListSelection` and a `BulkSelectionHolder`.
#[derive(Debug, Clone, Deserialize)]
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

/// `StatusChange`
#[derive(Debug, Clone, Deserialize)]
pub struct StatusChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub status: String,
    /// In the schema's example; the simulator keeps no history, so it is read and dropped.
    #[serde(default)]
    #[allow(dead_code)]
    pub reason: Option<String>,
}

/// `NicknameChange`
#[derive(Debug, Clone, Deserialize)]
pub struct NicknameChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub nickname: String,
}

/// `NoteChange`
#[derive(Debug, Clone, Deserialize)]
pub struct NoteChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub note: String,
}

/// `FilterGroupChange`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterGroupChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub filter_group: String,
}

/// `DeviceGroupChange`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceGroupChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub device_group: String,
}

/// `DataLimitsChange`: both limits required, `null` = no limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataLimitsChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub monthly_limit: Option<f64>,
    pub daily_limit: Option<f64>,
}

/// `SummerUsageChange`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummerUsageChange {
    #[serde(flatten)]
    pub selection: DeviceSelection,
    pub summer_status: String,
}

/// `MdnCustomFieldChange`: a list of devices only.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MdnCustomFieldChange {
    pub mdns: Vec<Mdn>,
    pub mdn_custom_field: String,
}

/// `ImeiChange`
#[derive(Debug, Clone, Deserialize)]
pub struct ImeiChange {
    pub mdns: Vec<Mdn>,
    pub imei: Imei,
}

/// `BulkDeleteLabels`
#[derive(Debug, Clone, Deserialize)]
pub struct BulkDeleteLabels {
    #[serde(flatten)]
    pub selection: DeviceSelection,
}

/// `CustomizedListRequest`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomizedListRequest {
    pub bulk_selection: BulkSelection,
}

/// The `band` enum of `SmartSpotSettingsValues`.
pub const SMARTSPOT_BANDS: [&str; 3] = ["2.4GHz", "5GHz", "dual"];

/// `SmartSpotSettingsValues`; `wifiPassword` is write-only, so an answer never has it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmartSpotValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssid: Option<String>,
    #[serde(default, skip_serializing)]
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

impl std::fmt::Debug for SmartSpotValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the passphrase.
        f.debug_struct("SmartSpotValues")
            .field("ssid", &self.ssid)
            .field("max_clients", &self.max_clients)
            .field("band", &self.band)
            .field("content_filter_enabled", &self.content_filter_enabled)
            .field("hotspot_enabled", &self.hotspot_enabled)
            .finish_non_exhaustive()
    }
}

/// `SmartSpotSettings` (the `GET` answer) and `SmartSpotSettingsRequest` (the single `PUT`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartSpotSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    #[serde(flatten)]
    pub values: SmartSpotValues,
}

/// `SmartSpotSettingsMultiRequest`
#[derive(Debug, Clone, Deserialize)]
pub struct SmartSpotSettingsMultiRequest {
    pub imeis: Vec<Imei>,
    pub settings: SmartSpotValues,
}

/// `WriteFailure`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteFailure {
    pub mdn: String,
    pub reason: String,
}

/// `WriteResult`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteResult {
    pub updated: u64,
    pub failed: Vec<WriteFailure>,
}

/// `HealthCheck`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `Health`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub mdn: String,
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    pub checks: Vec<HealthCheck>,
}

/// The body of `POST /v1.0/auth/token` (the vendor's own sign-in).
#[derive(Clone, Deserialize)]
pub struct PasswordSignIn {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for PasswordSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSignIn")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selections_decode_in_either_shape() {
        let s: StatusChange =
            serde_json::from_value(json!({"mdns": ["521-267-1508"], "status": "SUSPENDED"}))
                .unwrap();
        assert!(matches!(s.selection, DeviceSelection::Mdns { ref mdns } if mdns.len() == 1));
        let n: NicknameChange = serde_json::from_value(json!({
            "bulkSelection": {"selectAll": true, "searchValue": "Bus", "excludedMdns": ["304-228-6302"]},
            "nickname": "x"
        }))
        .unwrap();
        let DeviceSelection::Bulk { bulk_selection } = n.selection else {
            panic!("not a bulk selection");
        };
        assert_eq!(bulk_selection.search_value.as_deref(), Some("Bus"));
        assert_eq!(
            bulk_selection.excluded_mdns.unwrap()[0].digits(),
            "3042286302"
        );
    }

    #[test]
    fn smartspot_answers_never_carry_the_password() {
        let s = SmartSpotSettings {
            imei: Some("355737360073462".into()),
            values: SmartSpotValues {
                ssid: Some("Kajeet-Bus-47".into()),
                wifi_password: Some("correct-horse-42".into()),
                max_clients: Some(10),
                ..Default::default()
            },
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({"imei": "355737360073462", "ssid": "Kajeet-Bus-47", "maxClients": 10})
        );
        assert!(!format!("{s:?}").contains("horse"));
    }

    #[test]
    fn device_names_follow_the_schema() {
        let d = Device {
            key: "5212671508".into(),
            mdn: "521-267-1508".into(),
            status: None,
            network: None,
            device_name: Some("Kajeet ENT-BYOD".into()),
            corp_id: None,
            corp_description: None,
            nickname: None,
            filter_group: None,
            imei: None,
            iccid: None,
            eid: None,
            mac: None,
            oem_serial_number: Some("KJ1".into()),
            uicc: None,
            esn_hex: Some("80ABCDEF".into()),
            sim_type: None,
            apn: None,
            note: None,
            mdn_custom_field: None,
            labels: None,
            summer_status: None,
            media_center_status: None,
            monthly_limit: None,
            daily_limit: None,
            monthly_amount_used: None,
            day_amount_used: None,
            last30_days_used: Some(1.5),
            online_status: Some(true),
            show_health_status: None,
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"key": "5212671508", "mdn": "521-267-1508", "deviceName": "Kajeet ENT-BYOD",
                   "oemSerialNumber": "KJ1", "esnHex": "80ABCDEF", "last30DaysUsed": 1.5,
                   "onlineStatus": true})
        );
    }
}
