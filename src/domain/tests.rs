//! Unit tests of the edge newtypes.

use super::*;

#[test]
fn corp_id_refuses_dot_segments() {
    for bad in [".", "..", "...", " .. "] {
        assert!(CorpId::parse(bad).is_err(), "{bad:?}");
    }
    assert!(CorpId::parse("NORTHSTAR-ISD.v2").is_ok());
    assert!(CorpId::parse(".hidden").is_ok());
}

#[test]
fn mdn_normalises() {
    assert_eq!(Mdn::parse("5212671508").unwrap().as_str(), "521-267-1508");
    assert_eq!(
        Mdn::parse("(521) 267-1508").unwrap().as_str(),
        "521-267-1508"
    );
    assert!(Mdn::parse("521-267-150").is_err());
    assert!(Mdn::parse("521-267-15089").is_err());
    assert!(Mdn::parse("52a-267-1508").is_err());
}

#[test]
fn imei_checks_luhn() {
    assert!(Imei::parse("355737360073462").is_ok());
    assert!(Imei::parse("355737360073463").is_err());
    assert!(Imei::parse("35573736007346").is_err());
    let body = "35573736007347";
    let full = format!("{body}{}", luhn_check_digit(body));
    assert!(Imei::parse(&full).is_ok());
}

#[test]
fn list_query_defaults_and_errors() {
    let q = ListQuery::parse(&RawListQuery::default()).unwrap();
    assert_eq!(q, ListQuery::default());
    let raw = RawListQuery {
        sort: Some("NOPE".into()),
        ..Default::default()
    };
    assert!(ListQuery::parse(&raw).is_err());
    for bad_limit in ["0", "1001", "ten", "-5", "2.5"] {
        let raw = RawListQuery {
            limit: Some(bad_limit.into()),
            ..Default::default()
        };
        assert!(ListQuery::parse(&raw).is_err(), "{bad_limit}");
    }
    let raw = RawListQuery {
        limit: Some("30".into()),
        ..Default::default()
    };
    assert_eq!(ListQuery::parse(&raw).unwrap().limit.get(), 30);
}

#[test]
fn corp_id_rejects_paths() {
    assert!(CorpId::parse("NORTHSTAR-ISD").is_ok());
    assert!(CorpId::parse("../etc").is_err());
    assert!(CorpId::parse("a/b").is_err());
}
