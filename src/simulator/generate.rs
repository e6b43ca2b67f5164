//! Deterministic line data: a pure function (group, index) → line, so every run sees the same devices.

use super::data::{FILTER_GROUPS, GroupKind, Line, SmartSpot};
use super::rng::Rng;
use super::validate::luhn_check_digit;

/// The 12 suspended lines of NORTHSTAR-ISD (so totals are 487 / 12 / 499).
const NORTHSTAR_SUSPENDED: [u32; 12] = [17, 58, 93, 131, 177, 202, 248, 291, 333, 376, 420, 467];
const FLEET_MDN_BASE: u64 = 6_102_000_000;

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
    use std::collections::HashSet;

    use super::*;
    use crate::simulator::data::NORTHSTAR_LINES;
    use crate::simulator::validate::{Imei, Mdn};
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
