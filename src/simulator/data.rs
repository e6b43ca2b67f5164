//! Deterministic line data: a pure function (group, index) → line, so every run sees the same devices.

use crate::domain::luhn_check_digit;
use crate::upstream::wire::{Device, Label, SmartSpotSettings, SmartSpotSettingsValues};

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
    fn salt(self) -> u64 {
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
/// The 12 suspended lines of NORTHSTAR-ISD (so totals are 487 / 12 / 499).
const NORTHSTAR_SUSPENDED: [u32; 12] = [17, 58, 93, 131, 177, 202, 248, 291, 333, 376, 420, 467];
const FLEET_MDN_BASE: u64 = 6_102_000_000;

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
            values: SmartSpotSettingsValues {
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

/// SplitMix64: tiny, fast and good enough for demo data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    /// Megabytes with two decimals in `0..max`.
    pub fn mb(&mut self, max: u64) -> f64 {
        (self.below(max * 100)) as f64 / 100.0
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0'))
            .collect::<String>()
            .to_ascii_uppercase()
    }
}

fn imei_from(body14: &str) -> String {
    format!("{body14}{}", luhn_check_digit(body14))
}

fn mdn_from_digits(d: u64) -> String {
    let s = format!("{d:010}");
    format!("{}-{}-{}", &s[0..3], &s[3..6], &s[6..10])
}

/// The MDN of base line `i` of a group (cheap: no other field is computed).
pub fn base_mdn(kind: GroupKind, i: u32) -> String {
    const AREAS: [u64; 6] = [521, 304, 614, 330, 740, 937];
    let i64_ = u64::from(i);
    match (kind, i) {
        (GroupKind::Northstar, 0) => "521-267-1508".to_owned(),
        (GroupKind::Northstar, 1) => "304-228-6302".to_owned(),
        (GroupKind::Northstar, _) => {
            // 7919 is coprime with 10000, so the last four digits alone are unique per index.
            let area = AREAS[(i % 6) as usize];
            let exch = 300 + (i64_ * 7) % 600;
            let last = (i64_ * 7919 + 1234) % 10_000;
            mdn_from_digits(area * 10_000_000 + exch * 10_000 + last)
        }
        (GroupKind::NorthstarHs, _) => mdn_from_digits(4_125_550_000 + 1000 + i64_ * 13),
        (GroupKind::Fleet, _) => mdn_from_digits(FLEET_MDN_BASE + i64_),
    }
}

/// The status of base line `i` (cheap, so totals of a large group need no full generation).
pub fn base_status(kind: GroupKind, i: u32) -> &'static str {
    let suspended = match kind {
        GroupKind::Northstar => NORTHSTAR_SUSPENDED.contains(&i),
        _ => Rng::new(kind.salt() ^ u64::from(i)).below(100) < 4,
    };
    if suspended { "suspended" } else { "active" }
}

/// The inverse of [`base_mdn`] for the large group (the small ones keep a map).
pub fn fleet_index_of(mdn_digits: &str, size: u32) -> Option<u32> {
    let d: u64 = mdn_digits.parse().ok()?;
    let i = d.checked_sub(FLEET_MDN_BASE)?;
    (i < u64::from(size)).then_some(i as u32)
}

/// Base indexes of the large group whose generated IMEI is `imei` (the inverse of its formula).
pub fn fleet_indexes_of_imei(imei: &str, size: u32) -> Vec<u32> {
    let Some(serial) = imei
        .strip_prefix("86490204")
        .filter(|_| imei.len() == 15)
        .and_then(|rest| rest[..6].parse::<u32>().ok())
    else {
        return Vec::new();
    };
    (serial..size).step_by(1_000_000).collect()
}

const SCHOOL_PLACES: &[&str] = &[
    "Library Cart",
    "Room",
    "Principal's Office",
    "Nurse's Office",
    "Front Desk",
    "Field Trip Kit",
    "Loaner",
    "Gym Office",
    "Counselor Hotspot",
    "Band Room",
    "Maintenance Truck",
    "Summer Loaner",
    "Cafeteria Kiosk",
    "Science Lab",
];
const NOTES: &[&str] = &[
    "Kept in the main office safe over the summer.",
    "Battery swelling reported; replace before fall.",
    "Checked out to the robotics club.",
    "Returned by family, wiped and ready.",
    "Mounted behind the driver's seat.",
];

/// Base line `i` of a group: every field from a seeded generator, same result every run.
pub fn generate(kind: GroupKind, i: u32) -> Line {
    let mut r = Rng::new(kind.salt() ^ (u64::from(i).wrapping_mul(0xD6E8_FEB8_6659_FD93)));
    let mdn = base_mdn(kind, i);
    let digits = mdn.replace('-', "");

    let is_bus = kind == GroupKind::Northstar && (1..=49).contains(&i);
    let arcnt = match kind {
        GroupKind::Fleet => i % 11 == 3,
        _ => i % 9 == 5 && !is_bus,
    };
    let mut network = if arcnt {
        "ARCNT"
    } else {
        *r.pick(&["Verizon", "T-Mobile", "AT&T", "Verizon", "T-Mobile"])
    }
    .to_owned();
    let mut device_name = if network == "ARCNT" {
        "Chromebook SIM"
    } else if is_bus {
        "SmartSpot AOL-BYOD"
    } else {
        *r.pick(&[
            "Kajeet ENT-BYOD",
            "SmartSpot AOL-BYOD",
            "Chromebook SIM",
            "Kajeet SmartSpot 6",
            "Franklin T10",
            "Inseego MiFi 8000",
        ])
    }
    .to_owned();

    let mut nickname = match kind {
        GroupKind::Northstar if is_bus => {
            // Bus #47 is the vendor example (index 1); the others skip its number.
            let n = if i == 1 {
                47
            } else if i > 47 {
                i
            } else {
                i - 1
            };
            Some(format!("Bus #{n}"))
        }
        GroupKind::Northstar | GroupKind::NorthstarHs => {
            if r.chance(10) {
                None
            } else {
                let place = *r.pick(SCHOOL_PLACES);
                Some(match place {
                    "Room" => format!("Room {} Chromebook", 100 + r.below(240)),
                    "Principal's Office" | "Nurse's Office" | "Front Desk" | "Gym Office"
                    | "Counselor Hotspot" | "Band Room" | "Cafeteria Kiosk" => {
                        if kind == GroupKind::NorthstarHs {
                            format!("HS {place}")
                        } else {
                            place.to_owned()
                        }
                    }
                    _ => format!("{place} {}", 1 + r.below(12)),
                })
            }
        }
        GroupKind::Fleet => Some(match i % 4 {
            0 => format!("Fleet Unit {:05}", i),
            1 => format!("Route {} Vehicle", 1 + i % 400),
            2 => format!("Site {} Gateway", 1 + i % 900),
            _ => format!("Loaner {:05}", i),
        }),
    };

    let mut filter_group = if is_bus {
        if i % 3 == 0 {
            "Student_HS"
        } else {
            "Student_K8"
        }
    } else if kind == GroupKind::NorthstarHs {
        *r.pick(&["Student_HS", "Student_HS", "Staff", "Admin"])
    } else {
        *r.pick(FILTER_GROUPS)
    }
    .to_owned();

    let mut labels = Vec::new();
    if is_bus {
        labels.push(12);
    }
    for (id, pct) in [(18, 12), (21, 8), (30, 3), (7, 10), (33, 2)] {
        if r.chance(pct) {
            labels.push(id);
        }
    }
    if nickname
        .as_deref()
        .is_some_and(|n| n.starts_with("Library"))
        && !labels.contains(&21)
    {
        labels.push(21);
    }
    labels.sort_unstable();

    let status = base_status(kind, i).to_owned();

    let tac_serial = match kind {
        GroupKind::Northstar => format!("35573736{:06}", 100_000 + i * 17),
        GroupKind::NorthstarHs => format!("35290611{:06}", 200_000 + i * 17),
        GroupKind::Fleet => format!("86490204{:06}", i % 1_000_000),
    };
    let mut imei = imei_from(&tac_serial);

    let mut monthly_used = r.mb(40_000);
    let day_used = r.mb(2_000).min(monthly_used);
    let mut last30 = monthly_used + r.mb(3_000);
    let monthly_limit = *r.pick(&[
        None,
        Some(5_120.0),
        Some(10_240.0),
        Some(20_480.0),
        Some(51_200.0),
    ]);
    let daily_limit = *r.pick(&[None, None, Some(500.0), Some(1_024.0), Some(2_048.0)]);
    let mut online = r.chance(70);
    let mut show_health = r.chance(35);

    let apn = match network.as_str() {
        "Verizon" => "kajeet.vzwentp",
        "T-Mobile" => "fast.t-mobile.com",
        "AT&T" => "broadband",
        _ => "arcnt.kajeet.com",
    }
    .to_owned();
    let sim_type = r.pick(&["pSIM", "pSIM", "eSIM"]).to_string();
    let eid = (sim_type == "eSIM").then(|| format!("89049032{}", r.digits(24)));
    let iccid = format!("8914800000{}", r.digits(9));
    let imsi = format!("31048{}", r.digits(10));
    let mac = (device_name.contains("SmartSpot") || device_name.contains("MiFi") || r.chance(40))
        .then(|| (0..6).map(|_| r.hex(2)).collect::<Vec<_>>().join(":"));
    let serial = r.chance(85).then(|| format!("KJ{}", r.hex(8)));
    let esn_hex = format!("80{}", r.hex(6));
    let note = r.chance(12).then(|| r.pick(NOTES).to_string());
    let mdn_custom_field = r
        .chance(20)
        .then(|| format!("Asset {}", 10_000 + r.below(90_000)));
    let summer_status = r
        .chance(60)
        .then(|| r.pick(&["ENABLED", "DISABLED"]).to_string());
    let media_center_status = r.pick(&["Enrolled", "Not enrolled", "Pending"]).to_string();
    let vpn_enabled = r.chance(25);
    let bi_plan_id = (network == "Verizon").then(|| format!("BI-{}", 40_000 + r.below(60_000)));

    let mut smartspot = device_name.contains("SmartSpot").then(|| SmartSpot {
        ssid: match &nickname {
            Some(n) if n.starts_with("Bus #") => format!("Kajeet-Bus-{}", &n[5..]),
            _ => format!("Kajeet-{}", &digits[6..]),
        },
        wifi_password: format!("demo-{}", r.digits(8)),
        max_clients: 5 + r.below(11) as u32,
        band: r.pick(&["2.4GHz", "5GHz", "dual"]).to_string(),
        content_filter_enabled: !r.chance(10),
        hotspot_enabled: !r.chance(15),
    });

    // The vendor documentation's two example lines.
    if kind == GroupKind::Northstar && i == 0 {
        network = "Verizon".into();
        device_name = "Kajeet ENT-BYOD".into();
        nickname = Some("Main Office Hotspot".into());
        filter_group = "Staff".into();
        imei = "355737360073462".into();
        monthly_used = 31_245.43;
        last30 = 31_245.43;
        online = true;
        show_health = true;
        // The OpenAPI file's SmartSpot examples use this IMEI, so it carries settings too.
        smartspot = Some(SmartSpot {
            ssid: "Kajeet-Bus-47".into(),
            wifi_password: "correct-horse-42".into(),
            max_clients: 10,
            band: "dual".into(),
            content_filter_enabled: true,
            hotspot_enabled: true,
        });
    }
    if kind == GroupKind::Northstar && i == 1 {
        network = "T-Mobile".into();
        device_name = "SmartSpot AOL-BYOD".into();
        filter_group = "Student_K8".into();
        imei = imei_from("35573736007347");
        monthly_used = 8_106.85;
        online = false;
        show_health = false;
    }

    Line {
        msisdn: format!("1{digits}"),
        mdn,
        status,
        apn: if i <= 1 && kind == GroupKind::Northstar {
            match network.as_str() {
                "Verizon" => "kajeet.vzwentp".into(),
                _ => "fast.t-mobile.com".into(),
            }
        } else {
            apn
        },
        network,
        device_name,
        corp_id: kind.corp_id(),
        nickname,
        filter_group,
        imei,
        iccid,
        eid,
        imsi,
        mac,
        serial,
        esn_hex,
        sim_type,
        note,
        mdn_custom_field,
        labels,
        summer_status,
        media_center_status,
        monthly_limit,
        daily_limit,
        monthly_used,
        day_used,
        last30_used: last30,
        online,
        show_health,
        vpn_enabled,
        bi_plan_id,
        smartspot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Imei, Mdn};
    use std::collections::HashSet;

    #[test]
    fn northstar_is_deterministic_and_valid() {
        let a: Vec<Line> = (0..NORTHSTAR_LINES)
            .map(|i| generate(GroupKind::Northstar, i))
            .collect();
        let b: Vec<Line> = (0..NORTHSTAR_LINES)
            .map(|i| generate(GroupKind::Northstar, i))
            .collect();
        assert_eq!(a, b);
        let mdns: HashSet<_> = a.iter().map(|l| l.mdn.clone()).collect();
        assert_eq!(mdns.len(), a.len());
        let imeis: HashSet<_> = a.iter().map(|l| l.imei.clone()).collect();
        assert_eq!(imeis.len(), a.len());
        for l in &a {
            assert!(Mdn::parse(&l.mdn).is_ok(), "{}", l.mdn);
            assert!(Imei::parse(&l.imei).is_ok(), "{}", l.imei);
        }
        let suspended = a.iter().filter(|l| l.status == "suspended").count();
        assert_eq!(suspended, 12);
        assert!(a.iter().filter(|l| l.network == "ARCNT").count() > 10);
        let buses = a
            .iter()
            .filter(|l| l.nickname.as_deref().is_some_and(|n| n.contains("Bus")))
            .count();
        assert!(buses >= 36, "{buses}");
    }

    #[test]
    fn fleet_mdn_inverts() {
        for i in [0, 1, 999, 99_999] {
            let m = base_mdn(GroupKind::Fleet, i);
            assert_eq!(fleet_index_of(&m.replace('-', ""), 100_000), Some(i));
        }
    }
}
