//! The self-service portal's look-up: whatever is printed on a device (typed or scanned), matched against a line's identifiers.

use crate::domain::{ParseError, SearchValue};
use crate::upstream::wire::Device;

/// Longest look-up accepted (an EID has 32 digits; a nickname may be longer).
pub const MAX_TERM: usize = 100;

/// Most lines the portal lists for one look-up; past that it asks for more of the identifier.
pub const MAX_MATCHES: usize = 20;

/// What the user typed or scanned into the portal's box: trimmed, at most [`MAX_TERM`] characters,
/// no control characters. Empty means "nothing asked yet".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LookupTerm(String);

impl LookupTerm {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.chars().count() > MAX_TERM {
            return Err(ParseError(format!(
                "A look-up may have at most {MAX_TERM} characters: type or scan one identifier of the device."
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError(
                "A look-up may not contain control characters.".into(),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list search sent to Sentinel: a phone number written with separators ("(521) 267-1508")
    /// is searched by its digits; anything else as typed.
    pub fn search_value(&self) -> Result<SearchValue, ParseError> {
        let phone_like = self
            .0
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | '.' | ' ' | '+'));
        if phone_like {
            return SearchValue::parse(&digits(&self.0));
        }
        // A MAC written without colons (or with dashes) is searched as Sentinel writes it.
        let sq = squeezed(&self.0);
        let mac_like = sq.len() == 12
            && sq.chars().all(|c| c.is_ascii_hexdigit())
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
        if mac_like {
            let pairs: Vec<&str> = (0..6).map(|i| &sq[i * 2..i * 2 + 2]).collect();
            return SearchValue::parse(&pairs.join(":"));
        }
        SearchValue::parse(&self.0)
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Letters and digits only, upper case: `aa:bb-cc` and `AABBCC` are the same MAC.
fn squeezed(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Which identifier of `d` the term is exactly (not just part of), if any: "MDN", "IMEI", …
pub fn exact_match(d: &Device, term: &LookupTerm) -> Option<&'static str> {
    let t = term.as_str();
    let t_digits = digits(t);
    let t_sq = squeezed(t);
    if t_sq.is_empty() {
        return None;
    }
    let mdn = digits(&d.mdn);
    // A scanned or typed MDN may carry the country code 1.
    if !mdn.is_empty() && (t_digits == mdn || t_digits == format!("1{mdn}")) && t_sq == t_digits {
        return Some("MDN");
    }
    let ids: [(&'static str, &Option<String>); 6] = [
        ("IMEI", &d.imei),
        ("ICCID", &d.iccid),
        ("EID", &d.eid),
        ("MAC", &d.mac),
        ("serial number", &d.oem_serial_number),
        ("ESN", &d.esn_hex),
    ];
    for (kind, v) in ids {
        if v.as_deref()
            .is_some_and(|v| !v.is_empty() && squeezed(v) == t_sq)
        {
            return Some(kind);
        }
    }
    if d.nickname
        .as_deref()
        .is_some_and(|n| n.trim().eq_ignore_ascii_case(t))
    {
        return Some("nickname");
    }
    None
}

/// Keeps the exact matches when there are any (a scanned IMEI must not list every line that
/// merely contains its digits); otherwise every line Sentinel found.
pub fn prefer_exact<T>(found: Vec<T>, device: impl Fn(&T) -> &Device, term: &LookupTerm) -> Vec<T> {
    if found.iter().any(|f| exact_match(device(f), term).is_some()) {
        found
            .into_iter()
            .filter(|f| exact_match(device(f), term).is_some())
            .collect()
    } else {
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        serde_json::from_value(serde_json::json!({
            "key": "k", "mdn": "521-267-1508", "imei": "355737360073462",
            "mac": "A4:5E:60:12:34:56", "oemSerialNumber": "SN-88412", "nickname": "Bus 47"
        }))
        .expect("device")
    }

    fn term(s: &str) -> LookupTerm {
        LookupTerm::parse(s).expect("term")
    }

    #[test]
    fn identifiers_match_exactly_whatever_their_punctuation() {
        let d = device();
        assert_eq!(exact_match(&d, &term("5212671508")), Some("MDN"));
        assert_eq!(exact_match(&d, &term("(521) 267-1508")), Some("MDN"));
        assert_eq!(exact_match(&d, &term("15212671508")), Some("MDN"));
        assert_eq!(exact_match(&d, &term("355737360073462")), Some("IMEI"));
        assert_eq!(exact_match(&d, &term("a45e60123456")), Some("MAC"));
        assert_eq!(exact_match(&d, &term("sn-88412")), Some("serial number"));
        assert_eq!(exact_match(&d, &term("bus 47")), Some("nickname"));
        assert_eq!(exact_match(&d, &term("3557")), None);
        assert_eq!(exact_match(&d, &term("Bus")), None);
    }

    #[test]
    fn terms_are_trimmed_capped_and_phone_numbers_searched_by_digits() {
        assert_eq!(term("  5212671508\t").as_str(), "5212671508");
        assert!(LookupTerm::parse(&"9".repeat(MAX_TERM + 1)).is_err());
        assert!(LookupTerm::parse("a\u{7}b").is_err());
        assert_eq!(
            term("(521) 267-1508").search_value().unwrap().as_str(),
            "5212671508"
        );
        assert_eq!(
            term("A4:5E:60").search_value().unwrap().as_str(),
            "A4:5E:60"
        );
        assert_eq!(
            term("a45e-6012-3456").search_value().unwrap().as_str(),
            "A4:5E:60:12:34:56"
        );
    }
}
