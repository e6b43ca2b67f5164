//! Property tests of every parser at the edge (`domain`, the action form): no panic on any input,
//! round-trips where a value has a canonical form, and refusal of what must be refused.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sentinel_console::actions::ActionKind;
use sentinel_console::actions::form::{RawForm, parse_change, parse_target};
use sentinel_console::domain::{
    Column, CorpId, Imei, LabelIds, ListQuery, MAX_PAGE_SIZE, Mdn, PageSize, RawListQuery, Role,
    SearchValue, SortDir, SortField, luhn_check_digit, luhn_ok,
};

/// Any string, with a bias to the characters parsers care about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[-0-9a-zA-Z_.,/()% =+@\t\r\n&]{0,40}",]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

proptest! {
    // Inside the `it` binary the default (`SourceParallel`) would find `tests/it/main.rs` and look
    // in `tests/proptest-regressions/`; the saved seeds live beside this file.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::with_cases(512)
    })]

    #[test]
    fn corp_id_never_panics_and_round_trips(s in text()) {
        if let Ok(c) = CorpId::parse(&s) {
            prop_assert_eq!(CorpId::parse(c.as_str()).unwrap(), c.clone());
            prop_assert!(!c.as_str().contains('/') && !c.as_str().is_empty());
            prop_assert!(c.as_str().len() <= 64);
        }
    }

    #[test]
    fn mdn_normalises_any_ten_digits(d in "[0-9]{10}", sep in "[- ]?") {
        let spaced = format!("{}{sep}{}{sep}{}", &d[..3], &d[3..6], &d[6..]);
        let m = Mdn::parse(&spaced).unwrap();
        prop_assert_eq!(m.as_str(), format!("{}-{}-{}", &d[..3], &d[3..6], &d[6..]));
        prop_assert_eq!(Mdn::parse(m.as_str()).unwrap(), m);
    }

    #[test]
    fn mdn_never_panics_and_refuses_other_digit_counts(s in text()) {
        if let Ok(m) = Mdn::parse(&s) {
            prop_assert_eq!(m.as_str().chars().filter(char::is_ascii_digit).count(), 10);
            prop_assert_eq!(Mdn::parse(m.as_str()).unwrap(), m);
        }
    }

    #[test]
    fn imei_accepts_luhn_and_refuses_a_wrong_check_digit(body in "[0-9]{14}", wrong in 1u8..10) {
        let good = luhn_check_digit(&body);
        let ok = format!("{body}{good}");
        prop_assert!(luhn_ok(&ok));
        prop_assert!(Imei::parse(&ok).is_ok());
        let bad = format!("{body}{}", (good + wrong) % 10);
        prop_assert!(Imei::parse(&bad).is_err());
    }

    #[test]
    fn imei_and_luhn_never_panic(s in text()) {
        let _ = luhn_ok(&s);
        if let Ok(i) = Imei::parse(&s) {
            prop_assert!(luhn_ok(&i.to_string()));
        }
    }

    #[test]
    fn wire_enums_never_panic_and_round_trip(s in text()) {
        let _ = Column::parse(&s);
        let _ = SortField::parse(&s);
        let _ = SortDir::parse(&s);
        let _ = Role::parse(&s);
        let _ = Role::from_scope_str(&s);
        for c in Column::ALL {
            prop_assert_eq!(Column::parse(c.as_str()).unwrap(), *c);
        }
        for c in SortField::ALL {
            prop_assert_eq!(SortField::parse(c.as_str()).unwrap(), *c);
        }
    }

    #[test]
    fn page_size_accepts_exactly_1_to_1000(n in any::<i64>(), s in text()) {
        let r = PageSize::parse(&n.to_string());
        prop_assert_eq!(r.is_ok(), (1..=i64::from(MAX_PAGE_SIZE)).contains(&n));
        if let Ok(p) = r {
            prop_assert_eq!(i64::from(p.get()), n);
        }
        if let Ok(p) = PageSize::parse(&s) {
            prop_assert!((1..=MAX_PAGE_SIZE).contains(&p.get()));
        }
    }

    #[test]
    fn search_and_labels_never_panic_and_round_trip(s in text()) {
        if let Ok(v) = SearchValue::parse(&s) {
            prop_assert!(v.as_str().chars().count() <= 100);
            prop_assert!(!v.as_str().chars().any(char::is_control));
            prop_assert_eq!(SearchValue::parse(v.as_str()).unwrap(), v);
        }
        if let Ok(l) = LabelIds::parse(&s) {
            prop_assert!(l.ids().len() <= 50 && l.ids().iter().all(|i| *i >= 0));
            prop_assert_eq!(LabelIds::parse(&l.to_param()).unwrap(), l);
        }
    }

    #[test]
    fn list_query_round_trips_through_its_own_pairs(
        offset in opt_text(), limit in opt_text(), sort in opt_text(),
        sort_dir in opt_text(), search in opt_text(), labels in opt_text(),
    ) {
        let raw = RawListQuery {
            offset, limit, sort, sort_dir,
            search_value: search, label_ids: labels,
        };
        if let Ok(q) = ListQuery::parse(&raw) {
            let pairs = q.to_pairs();
            let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
            let again = RawListQuery {
                offset: get("offset"), limit: get("limit"), sort: get("sort"),
                sort_dir: get("sortDir"), search_value: get("searchValue"), label_ids: get("labelIds"),
            };
            prop_assert_eq!(ListQuery::parse(&again).unwrap(), q.clone());
            let qs = sentinel_console::paths::query_string(q.to_pairs());
            let parsed: RawListQuery = serde_urlencoded::from_str(&qs).unwrap();
            prop_assert_eq!(ListQuery::parse(&parsed).unwrap(), q);
        }
    }

    #[test]
    fn action_forms_never_panic(
        body in prop_oneof![
            any::<Vec<u8>>(),
            proptest::collection::vec(
                (prop_oneof![
                    Just("mdns".to_owned()), Just("excluded_mdns".to_owned()), Just("select_all".to_owned()),
                    Just("imeis".to_owned()), Just("status".to_owned()), Just("nickname".to_owned()),
                    Just("note".to_owned()), Just("monthlyLimit".to_owned()), Just("dailyLimit".to_owned()),
                    Just("searchValue".to_owned()), Just("labelIds".to_owned()), "[a-zA-Z_]{1,12}",
                ], text()),
                0..8,
            ).prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap().into_bytes()),
        ],
        password in proptest::option::of(text()),
    ) {
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        if let Ok(form) = RawForm::parse(&body) {
            let _ = form.echo_pairs();
            for kind in ActionKind::all() {
                let _ = parse_target(kind, &form);
                let _ = parse_change(kind, &corp, &form, password.as_deref());
            }
        }
    }

    #[test]
    fn a_target_keeps_only_valid_mdns(mdns in proptest::collection::vec(text(), 1..5)) {
        let pairs: Vec<(String, String)> = mdns.iter().map(|m| ("mdns".to_owned(), m.clone())).collect();
        let form = RawForm::from_pairs(pairs);
        let all_valid = mdns.iter().all(|m| m.trim().is_empty() || Mdn::parse(m).is_ok());
        for kind in ActionKind::all() {
            if !all_valid {
                prop_assert!(parse_target(kind, &form).is_err(), "{:?} accepted {:?}", kind, mdns);
            }
        }
    }
}
