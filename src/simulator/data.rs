//! What a line is: the shared labels and filter groups, the three device groups, a stored line and its wire form.

use super::wire::{Device, Label, SmartSpotSettings, SmartSpotValues};

/// The labels every device group shares (id, name).
pub const LABELS: &[(i64, &str)] = &[
    (7, "Staff devices"),
    (12, "Buses"),
    (18, "Summer loan"),
    (21, "Library"),
    (30, "Lost"),
    (33, "Repair"),
];

/// The filter groups a line can be in.
pub const FILTER_GROUPS: &[&str] = &["Staff", "Student_K8", "Student_HS", "Admin", "Unfiltered"];

pub fn label_name(id: i64) -> Option<&'static str> {
    LABELS.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}

/// The three device groups of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Northstar,
    NorthstarHs,
    Fleet,
}

impl GroupKind {
    pub fn corp_id(self) -> &'static str {
        match self {
            GroupKind::Northstar => "NORTHSTAR-ISD",
            GroupKind::NorthstarHs => "NORTHSTAR-ISD-HS",
            GroupKind::Fleet => "FLEET-LARGE",
        }
    }
    pub fn description(self) -> &'static str {
        match self {
            GroupKind::Northstar => "Northstar Independent School District",
            GroupKind::NorthstarHs => "Northstar High School",
            GroupKind::Fleet => "Statewide Connectivity Fleet",
        }
    }
    /// Salt so that the groups don't share random sequences.
    pub(super) fn salt(self) -> u64 {
        match self {
            GroupKind::Northstar => 0x4E53_4953_4400_0001,
            GroupKind::NorthstarHs => 0x4E53_4953_4448_0002,
            GroupKind::Fleet => 0x464C_4545_5400_0003,
        }
    }
}

/// Lines of NORTHSTAR-ISD and NORTHSTAR-ISD-HS.
pub const NORTHSTAR_LINES: u32 = 499;
pub const HS_LINES: u32 = 24;

/// SmartSpot settings as stored; the Wi-Fi password is never returned.
#[derive(Debug, Clone, PartialEq)]
pub struct SmartSpot {
    pub ssid: String,
    pub wifi_password: String,
    pub max_clients: u32,
    pub band: String,
    pub content_filter_enabled: bool,
    pub hotspot_enabled: bool,
}

/// One line as the simulator stores it (a superset of the wire `Device`).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub mdn: String,
    pub status: String,
    pub network: String,
    pub device_name: String,
    pub corp_id: &'static str,
    pub nickname: Option<String>,
    pub filter_group: String,
    pub imei: String,
    pub iccid: String,
    pub eid: Option<String>,
    pub imsi: String,
    pub msisdn: String,
    pub mac: Option<String>,
    pub serial: Option<String>,
    pub esn_hex: String,
    pub sim_type: String,
    pub apn: String,
    pub note: Option<String>,
    pub mdn_custom_field: Option<String>,
    pub labels: Vec<i64>,
    pub summer_status: Option<String>,
    pub media_center_status: String,
    pub monthly_limit: Option<f64>,
    pub daily_limit: Option<f64>,
    pub monthly_used: f64,
    pub day_used: f64,
    pub last30_used: f64,
    pub online: bool,
    pub show_health: bool,
    pub vpn_enabled: bool,
    pub bi_plan_id: Option<String>,
    pub smartspot: Option<SmartSpot>,
}

impl Line {
    pub fn mdn_digits(&self) -> String {
        self.mdn.replace('-', "")
    }

    pub fn corp_description(&self) -> &'static str {
        kind_of(self.corp_id).map_or("", GroupKind::description)
    }

    /// The wire form of the line.
    pub fn to_device(&self) -> Device {
        Device {
            key: self.mdn_digits(),
            mdn: self.mdn.clone(),
            status: Some(self.status.clone()),
            network: Some(self.network.clone()),
            device_name: Some(self.device_name.clone()),
            corp_id: Some(self.corp_id.to_owned()),
            corp_description: Some(self.corp_description().to_owned()),
            nickname: self.nickname.clone(),
            filter_group: Some(self.filter_group.clone()),
            imei: Some(self.imei.clone()),
            iccid: Some(self.iccid.clone()),
            eid: self.eid.clone(),
            mac: self.mac.clone(),
            oem_serial_number: self.serial.clone(),
            uicc: Some(self.iccid.clone()),
            esn_hex: Some(self.esn_hex.clone()),
            sim_type: Some(self.sim_type.clone()),
            apn: Some(self.apn.clone()),
            note: self.note.clone(),
            mdn_custom_field: self.mdn_custom_field.clone(),
            labels: Some(
                self.labels
                    .iter()
                    .map(|id| Label {
                        id: *id,
                        name: label_name(*id).unwrap_or("Label").to_owned(),
                    })
                    .collect(),
            ),
            summer_status: self.summer_status.clone(),
            media_center_status: Some(self.media_center_status.clone()),
            monthly_limit: self.monthly_limit,
            daily_limit: self.daily_limit,
            monthly_amount_used: Some(self.monthly_used),
            day_amount_used: Some(self.day_used),
            last30_days_used: Some(self.last30_used),
            online_status: Some(self.online),
            show_health_status: Some(self.show_health),
        }
    }

    /// The SmartSpot settings as the API returns them (never the password).
    pub fn smartspot_settings(&self) -> Option<SmartSpotSettings> {
        self.smartspot.as_ref().map(|s| SmartSpotSettings {
            imei: Some(self.imei.clone()),
            values: SmartSpotValues {
                ssid: Some(s.ssid.clone()),
                wifi_password: None,
                max_clients: Some(s.max_clients),
                band: Some(s.band.clone()),
                content_filter_enabled: Some(s.content_filter_enabled),
                hotspot_enabled: Some(s.hotspot_enabled),
            },
        })
    }
}

pub fn kind_of(corp: &str) -> Option<GroupKind> {
    [
        GroupKind::Northstar,
        GroupKind::NorthstarHs,
        GroupKind::Fleet,
    ]
    .into_iter()
    .find(|k| k.corp_id() == corp)
}
