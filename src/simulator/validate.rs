//! The simulator's own input rules (MDN, IMEI and Luhn, label ids, sort values), read from the vendor text.
//!
//! Written apart from the console's own domain parsers on purpose: those are what is under test.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// An MDN in the vendor schema's dashed form `^[0-9]{3}-[0-9]{3}-[0-9]{4}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Mdn(String);

/// Whether `s` is exactly the dashed form `521-267-1508`.
pub fn is_dashed_mdn(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b.iter().enumerate().all(|(i, c)| {
            if i == 3 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

impl Mdn {
    /// Strict: bodies carry the schema's dashed form.
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_dashed_mdn(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "“{}” is not an MDN: expected 10 digits such as 521-267-1508.",
                s.trim()
            ))
        }
    }

    /// Lenient, for a path segment: 10 digits with dashes, spaces, dots or parentheses between.
    pub fn parse_path(s: &str) -> Result<Self, String> {
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let punctuation_only = s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '.' | '(' | ')'));
        if digits.len() != 10 || !punctuation_only {
            return Err(format!(
                "“{}” is not an MDN: expected 10 digits such as 521-267-1508.",
                s.trim()
            ));
        }
        Ok(Self(format!(
            "{}-{}-{}",
            &digits[..3],
            &digits[3..6],
            &digits[6..]
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ten digits (the line's `key`).
    pub fn digits(&self) -> String {
        self.0.replace('-', "")
    }
}

impl fmt::Display for Mdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Mdn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Mdn::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Whether `s` is 15 ASCII digits (the schema's `^[0-9]{15}$`).
pub fn is_imei_shape(s: &str) -> bool {
    s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An IMEI in a request body: 15 digits, the last one the Luhn check digit of the other 14.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Imei(String);

impl Imei {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if !is_imei_shape(s) {
            return Err(format!("“{s}” is not an IMEI: expected exactly 15 digits."));
        }
        if luhn_check_digit(&s[..14]) != s.as_bytes()[14] - b'0' {
            return Err(format!(
                "“{s}” is not a valid IMEI: its check digit does not match."
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Imei {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Imei::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The Luhn digit that completes `body` (ASCII digits; anything else counts as 0).
pub fn luhn_check_digit(body: &str) -> u8 {
    // Walking from the right, the digit next to the check digit is doubled, then every second one.
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0')).min(9);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// `labelIds`: comma-separated non-negative integers, duplicates dropped, at most 50.
pub fn label_ids(s: &str) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id = part
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| format!("“{part}” is not a label id."))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > 50 {
        return Err("At most 50 labels can be combined.".to_owned());
    }
    Ok(ids)
}

/// The twelve `sort` values of the vendor text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    Mdn,
    Status,
    MediaCenterStatus,
    EsnHex,
    Uicc,
    DeviceName,
    MonthlyLimit,
    MonthlyAmountUsed,
    DayAmountUsed,
    Last30DaysUsed,
    DailyLimit,
    FilterGroup,
}

const SORT_VALUES: [(&str, SortField); 12] = [
    ("MDN", SortField::Mdn),
    ("STATUS", SortField::Status),
    ("MEDIA_CENTER_STATUS", SortField::MediaCenterStatus),
    ("ESNHEX", SortField::EsnHex),
    ("UICC", SortField::Uicc),
    ("DEVICE_NAME", SortField::DeviceName),
    ("MONTHLY_LIMIT", SortField::MonthlyLimit),
    ("MONTHLY_AMOUNT_USED", SortField::MonthlyAmountUsed),
    ("DAY_AMOUNT_USED", SortField::DayAmountUsed),
    ("LAST_30_DAYS_USED", SortField::Last30DaysUsed),
    ("DAILY_LIMIT", SortField::DailyLimit),
    ("FILTER_GROUP", SortField::FilterGroup),
];

/// Finds `s` (trimmed) among the `(wire, value)` pairs, or says which values are accepted.
fn one_of<T: Copy>(s: &str, what: &str, values: &[(&str, T)]) -> Result<T, String> {
    let s = s.trim();
    values
        .iter()
        .find(|(wire, _)| *wire == s)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = values.iter().map(|(w, _)| *w).collect();
            format!(
                "“{s}” is not a known {what}; expected one of {}.",
                names.join(", ")
            )
        })
}

impl SortField {
    #[cfg(test)]
    pub const ALL: [SortField; 12] = [
        SortField::Mdn,
        SortField::Status,
        SortField::MediaCenterStatus,
        SortField::EsnHex,
        SortField::Uicc,
        SortField::DeviceName,
        SortField::MonthlyLimit,
        SortField::MonthlyAmountUsed,
        SortField::DayAmountUsed,
        SortField::Last30DaysUsed,
        SortField::DailyLimit,
        SortField::FilterGroup,
    ];

    pub fn parse(s: &str) -> Result<Self, String> {
        one_of(s, "SortField", &SORT_VALUES)
    }
}

/// `sortDir`: ASC or DESC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    #[cfg(test)]
    pub const ALL: [SortDir; 2] = [SortDir::Asc, SortDir::Desc];

    pub fn parse(s: &str) -> Result<Self, String> {
        one_of(
            s,
            "SortDir",
            &[("ASC", SortDir::Asc), ("DESC", SortDir::Desc)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdns() {
        assert_eq!(Mdn::parse("521-267-1508").unwrap().digits(), "5212671508");
        assert!(Mdn::parse("5212671508").is_err());
        assert_eq!(
            Mdn::parse_path("(521) 267.1508").unwrap().as_str(),
            "521-267-1508"
        );
        assert!(Mdn::parse_path("521-267-150").is_err());
        assert!(Mdn::parse_path("521x267x1508").is_err());
    }

    #[test]
    fn imeis_and_luhn() {
        // The vendor text's example IMEI.
        assert_eq!(luhn_check_digit("35573736007346"), 2);
        assert!(Imei::parse("355737360073462").is_ok());
        let e = Imei::parse("355737360073463").unwrap_err();
        assert!(e.contains("check digit"), "{e}");
        assert!(Imei::parse("35573736007346").is_err());
        // The textbook example: 7992739871 → 3.
        assert_eq!(luhn_check_digit("7992739871"), 3);
    }

    #[test]
    fn labels_and_sorts() {
        assert_eq!(label_ids(" 12,18,12,").unwrap(), vec![12, 18]);
        assert!(label_ids("12,-1").is_err());
        assert!(label_ids("x").is_err());
        assert_eq!(
            SortField::parse(" LAST_30_DAYS_USED").unwrap(),
            SortField::Last30DaysUsed
        );
        let e = SortField::parse("NOPE").unwrap_err();
        assert!(e.starts_with("“NOPE” is not a known SortField; expected one of MDN, STATUS"));
        assert_eq!(SortDir::parse("DESC").unwrap(), SortDir::Desc);
        assert!(SortDir::parse("desc").is_err());
    }
}
