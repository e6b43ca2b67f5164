//! Conformance of the embedded simulator with the Sentinel OpenAPI file, through the real client.

use crate::helpers::*;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use secrecy::SecretString;
use sentinel_console::domain::{
    Column, CorpId, Imei, Mdn, Role, SortDir, SortField, luhn_check_digit,
};
use sentinel_console::policy::{Operation, Principal};
use sentinel_console::simulator::{Fault, FaultKind, SimConfig};
use sentinel_console::upstream::wire;
use sentinel_console::upstream::wire::*;
use sentinel_console::upstream::{ListParams, SentinelClient, UpstreamError};
use serde_json::{Value, json};

const NS: &str = "NORTHSTAR-ISD";
const MAIN_OFFICE: &str = "521-267-1508";
const BUS_47: &str = "304-228-6302";
const MAIN_IMEI: &str = "355737360073462";

fn corp(s: &str) -> CorpId {
    CorpId::parse(s).unwrap()
}

fn mdn(s: &str) -> Mdn {
    Mdn::parse(s).unwrap()
}

fn client(sim: &TestSim) -> SentinelClient {
    SentinelClient::new(&sim.api_base(), Duration::from_secs(10)).unwrap()
}

fn params(sort: SortField, dir: SortDir, offset: u64, limit: u32) -> ListParams {
    ListParams {
        offset,
        limit,
        sort,
        sort_dir: dir,
        search_value: None,
        label_ids: Vec::new(),
    }
}

fn page(limit: u32) -> ListParams {
    params(SortField::Mdn, SortDir::Asc, 0, limit)
}

/// A token through the vendor's own sign-in: POST /sentinel/api/v1.0/auth/token.
async fn token(sim: &TestSim, user: &str) -> SecretString {
    let resp = client(sim)
        .password_token(user, &SecretString::from("demo".to_owned()))
        .await
        .expect("password sign-in");
    SecretString::from(resp.token)
}

fn status_of(e: &UpstreamError) -> (u16, String) {
    match e {
        UpstreamError::Status {
            status, message, ..
        } => (status.as_u16(), message.clone()),
        other => panic!("expected a status error, got {other:?}"),
    }
}

fn assert_status<T: std::fmt::Debug>(r: Result<T, UpstreamError>, code: u16, contains: &str) {
    let e = r.expect_err("expected an error");
    let (s, m) = status_of(&e);
    assert_eq!(s, code, "{m}");
    assert!(
        m.contains(contains),
        "message {m:?} should contain {contains:?}"
    );
}

fn imei_with(body14: &str) -> Imei {
    Imei::parse(&format!("{body14}{}", luhn_check_digit(body14))).unwrap()
}

/// Lines the per-operation calls use.
struct Fixture {
    arcnt: Mdn,
    mover: Mdn,
    plain: Mdn,
}

async fn fixture(sim: &TestSim) -> Fixture {
    let t = token(sim, "tech").await;
    let list = client(sim)
        .list_devices(&t, &corp(NS), &page(500))
        .await
        .unwrap();
    let pick = |f: &dyn Fn(&Device) -> bool| {
        list.devices
            .iter()
            .find(|d| d.mdn != MAIN_OFFICE && d.mdn != BUS_47 && f(d))
            .map(|d| mdn(&d.mdn))
            .unwrap()
    };
    Fixture {
        arcnt: pick(&|d| d.network.as_deref() == Some("ARCNT")),
        mover: pick(&|d| d.network.as_deref() == Some("Verizon")),
        plain: pick(&|d| d.network.as_deref() == Some("AT&T")),
    }
}

fn mdns(m: &[&Mdn]) -> DeviceSelection {
    DeviceSelection::Mdns {
        mdns: m.iter().map(|x| (*x).clone()).collect(),
    }
}

/// Calls one operation with a valid request; the method and path the OpenAPI file gives it.
async fn call(
    c: &SentinelClient,
    t: &SecretString,
    op: Operation,
    fx: &Fixture,
) -> (Result<(), UpstreamError>, &'static str, String) {
    let ns = corp(NS);
    let base = format!("/sentinel/api/v1.0/devices/{NS}");
    let main = mdn(MAIN_OFFICE);
    let main_imei = Imei::parse(MAIN_IMEI).unwrap();
    let bulk = BulkSelection {
        select_all: true,
        search_value: Some("Bus".into()),
        ..Default::default()
    };
    let ok = |r: Result<WriteResult, UpstreamError>| r.map(|_| ());
    use Operation::*;
    match op {
        ListDevices => (
            c.list_devices(t, &ns, &page(25)).await.map(|_| ()),
            "GET",
            base,
        ),
        BulkDeleteLabels => (
            ok(c.bulk_delete_labels(
                t,
                &ns,
                &wire::BulkDeleteLabels {
                    selection: mdns(&[&fx.plain]),
                },
            )
            .await),
            "DELETE",
            format!("{base}/bulkDeleteLabels"),
        ),
        CustomizedList => (
            c.customized_list(t, &ns, &page(25), &bulk)
                .await
                .map(|_| ()),
            "POST",
            format!("{base}/customizedList"),
        ),
        UpdateDataLimits => (
            ok(c.update_data_limits(
                t,
                &ns,
                &DataLimitsChange {
                    selection: mdns(&[&fx.plain]),
                    monthly_limit: Some(10240.0),
                    daily_limit: None,
                },
            )
            .await),
            "PUT",
            format!("{base}/dataLimits"),
        ),
        UpdateDeviceGroup => (
            ok(c.update_device_group(
                t,
                &ns,
                &DeviceGroupChange {
                    selection: mdns(&[&fx.mover]),
                    device_group: "NORTHSTAR-ISD-HS".into(),
                },
            )
            .await),
            "PUT",
            format!("{base}/deviceGroup"),
        ),
        UpdateFilterGroup => (
            ok(c.update_filter_group(
                t,
                &ns,
                &FilterGroupChange {
                    selection: mdns(&[&fx.plain]),
                    filter_group: "Student_HS".into(),
                },
            )
            .await),
            "PUT",
            format!("{base}/filterGroup"),
        ),
        UpdateImei => (
            ok(c.update_imei(
                t,
                &ns,
                &ImeiChange {
                    mdns: vec![fx.arcnt.clone()],
                    imei: imei_with("35999900000001"),
                },
            )
            .await),
            "PUT",
            format!("{base}/imei"),
        ),
        GetDevicesByImei => (
            c.get_devices_by_imei(t, &ns, &main_imei).await.map(|_| ()),
            "GET",
            format!("{base}/imei/{MAIN_IMEI}"),
        ),
        UpdateMdnCustomField => (
            ok(c.update_mdn_custom_field(
                t,
                &ns,
                &MdnCustomFieldChange {
                    mdns: vec![fx.plain.clone()],
                    mdn_custom_field: "Room 114".into(),
                },
            )
            .await),
            "PUT",
            format!("{base}/mdnCustomField"),
        ),
        UpdateNickname => (
            ok(c.update_nickname(
                t,
                &ns,
                &NicknameChange {
                    selection: mdns(&[&fx.plain]),
                    nickname: "Renamed".into(),
                },
            )
            .await),
            "PUT",
            format!("{base}/nickname"),
        ),
        UpdateNote => (
            ok(c.update_note(
                t,
                &ns,
                &NoteChange {
                    selection: mdns(&[&fx.plain]),
                    note: "A note".into(),
                },
            )
            .await),
            "PUT",
            format!("{base}/note"),
        ),
        UpdateSmartspotSettings => (
            ok(c.update_smartspot_settings(
                t,
                &ns,
                &SmartSpotSettings {
                    imei: Some(MAIN_IMEI.into()),
                    values: SmartSpotSettingsValues {
                        ssid: Some("Main-Office".into()),
                        ..Default::default()
                    },
                },
            )
            .await),
            "PUT",
            format!("{base}/smartspot-settings"),
        ),
        UpdateSmartspotSettingsMulti => (
            ok(c.update_smartspot_settings_multi(
                t,
                &ns,
                &SmartSpotSettingsMultiRequest {
                    imeis: vec![main_imei.clone()],
                    settings: SmartSpotSettingsValues {
                        max_clients: Some(12),
                        ..Default::default()
                    },
                },
            )
            .await),
            "PUT",
            format!("{base}/smartspot-settings-multi"),
        ),
        GetSmartspotSettings => (
            c.get_smartspot_settings(t, &ns, &main_imei)
                .await
                .map(|_| ()),
            "GET",
            format!("{base}/smartspot-settings/{MAIN_IMEI}"),
        ),
        GetPossibleStatuses => (
            c.get_possible_statuses(t, &ns).await.map(|_| ()),
            "GET",
            format!("{base}/status"),
        ),
        UpdateStatus => (
            ok(c.update_status(
                t,
                &ns,
                &StatusChange {
                    selection: mdns(&[&fx.plain]),
                    status: "ACTIVE".into(),
                    reason: Some("test".into()),
                },
            )
            .await),
            "PUT",
            format!("{base}/status"),
        ),
        UpdateSummerUsage => (
            ok(c.update_summer_usage(
                t,
                &ns,
                &SummerUsageChange {
                    selection: mdns(&[&fx.plain]),
                    summer_status: "DISABLED".into(),
                },
            )
            .await),
            "PUT",
            format!("{base}/summerUsage"),
        ),
        DeviceTotals => (
            c.device_totals(t, &ns, None).await.map(|_| ()),
            "GET",
            format!("{base}/totals"),
        ),
        DeviceHealth => (
            c.device_health(t, &ns, &main).await.map(|_| ()),
            "GET",
            format!("{base}/{MAIN_OFFICE}/health"),
        ),
    }
}

#[tokio::test]
async fn every_operation_succeeds_fails_and_sends_what_the_openapi_file_describes() {
    let sim = spawn_sim(default_sim_config()).await;
    let fx = fixture(&sim).await;
    let c = client(&sim);
    // `choice` holds org_tech and a Kajeet Choice account: every operation is open to it.
    let t = token(&sim, "choice").await;
    let bogus = SecretString::from("not-a-token".to_owned());
    for op in Operation::ALL {
        // 401 without a valid token.
        let (r, _, _) = call(&c, &bogus, op, &fx).await;
        assert_status(r, 401, "unknown");

        // 5xx and 429 through faults.
        sim.sim.add_fault(Fault {
            times: Some(1),
            ..Fault::always(FaultKind::Status(503))
        });
        let (r, _, _) = call(&c, &t, op, &fx).await;
        assert_status(r, 503, "temporarily unavailable");
        sim.sim.add_fault(Fault {
            times: Some(1),
            ..Fault::always(FaultKind::RateLimited { retry_after: 7 })
        });
        let (r, _, _) = call(&c, &t, op, &fx).await;
        match r {
            Err(UpstreamError::Status {
                status,
                retry_after,
                ..
            }) => {
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
                assert_eq!(retry_after, Some(7));
            }
            other => panic!("{op:?}: expected 429, got {other:?}"),
        }

        // Success, and the request is the one the OpenAPI file describes.
        sim.sim.clear_requests();
        let (r, method, path) = call(&c, &t, op, &fx).await;
        r.unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
        let reqs = sim.sim.api_requests();
        assert_eq!(reqs.len(), 1, "{op:?}");
        let req = &reqs[0];
        assert_eq!(req.method, method, "{op:?}");
        assert_eq!(req.path, path, "{op:?}");
        assert_eq!(
            req.authorization.as_deref(),
            Some(format!("Bearer {}", secrecy::ExposeSecret::expose_secret(&t)).as_str()),
            "{op:?}"
        );
        assert!(!req.has_cookie, "{op:?}");
        if matches!(method, "PUT" | "POST" | "DELETE") {
            assert_eq!(
                req.content_type.as_deref(),
                Some("application/json"),
                "{op:?}"
            );
            let body: Value = serde_json::from_str(&req.body).unwrap();
            assert!(body.is_object(), "{op:?}");
        } else {
            assert!(req.body.is_empty(), "{op:?}");
        }
    }
}

#[tokio::test]
async fn scope_rules_agree_with_the_console_policy_table() {
    for user in [
        "super", "tech", "kajeet", "manager", "media", "readonly", "limited", "choice",
    ] {
        let sim = spawn_sim(default_sim_config()).await;
        let fx = fixture(&sim).await;
        let c = client(&sim);
        let resp = c
            .password_token(user, &SecretString::from("demo".to_owned()))
            .await
            .unwrap();
        let d = &resp.details;
        let principal = Principal {
            subject: user.into(),
            roles: Role::from_scope_str(d["scope"].as_str().unwrap()),
            corp_ids: Some(
                d["corpIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| corp(v.as_str().unwrap()))
                    .collect(),
            ),
            account_type: d["accountType"].as_str().map(str::to_owned),
            ..Default::default()
        };
        let t = SecretString::from(resp.token);
        for op in Operation::ALL {
            let (r, _, _) = call(&c, &t, op, &fx).await;
            // A move also needs the target group (the policy checks that separately).
            let allowed = if op == Operation::UpdateDeviceGroup {
                principal
                    .check_device_group_move(&corp(NS), &corp("NORTHSTAR-ISD-HS"))
                    .is_ok()
            } else {
                principal.can(op, &corp(NS))
            };
            match r {
                Ok(()) => assert!(allowed, "{user} {op:?}: the simulator allowed it"),
                Err(e) => {
                    let (s, m) = status_of(&e);
                    assert!(!allowed, "{user} {op:?}: {s} {m}");
                    assert_eq!(s, 403, "{user} {op:?}: {m}");
                }
            }
        }
    }
}

#[tokio::test]
async fn northstar_totals_search_and_the_vendor_example_lines() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let totals = c.device_totals(&t, &ns, None).await.unwrap();
    assert_eq!(
        totals,
        Totals {
            active: 487,
            suspended: 12,
            total: 499
        }
    );
    let req = sim.sim.api_requests().pop().unwrap();
    assert_eq!(req.query, None);

    let main = sim.sim.device(NS, MAIN_OFFICE).unwrap();
    assert_eq!(main.key, "5212671508");
    assert_eq!(main.nickname.as_deref(), Some("Main Office Hotspot"));
    assert_eq!(main.network.as_deref(), Some("Verizon"));
    assert_eq!(main.imei.as_deref(), Some(MAIN_IMEI));
    assert_eq!(main.monthly_amount_used, Some(31245.43));
    let bus = sim.sim.device(NS, "3042286302").unwrap();
    assert_eq!(bus.nickname.as_deref(), Some("Bus #47"));
    assert_eq!(bus.device_name.as_deref(), Some("SmartSpot AOL-BYOD"));
    assert_eq!(bus.filter_group.as_deref(), Some("Student_K8"));

    // Search "Bus" finds the buses, in the list and in the totals.
    let bus_totals = c.device_totals(&t, &ns, Some("Bus")).await.unwrap();
    assert!(bus_totals.total >= 36, "{bus_totals:?}");
    assert_eq!(
        sim.sim.api_requests().pop().unwrap().query.as_deref(),
        Some("searchValue=Bus")
    );
    let mut p = page(500);
    p.search_value = Some("bus".into());
    let list = c.list_devices(&t, &ns, &p).await.unwrap();
    assert_eq!(list.total_count, bus_totals.total);
    assert!(list.devices.iter().all(|d| {
        d.nickname
            .as_deref()
            .is_some_and(|n| n.starts_with("Bus #"))
    }));
    assert!(list.devices.iter().any(|d| d.mdn == BUS_47));

    // MDN search with or without dashes.
    for s in ["5212671508", "521-267-1508", "267-15"] {
        let mut p = page(25);
        p.search_value = Some(s.into());
        let list = c.list_devices(&t, &ns, &p).await.unwrap();
        assert!(list.devices.iter().any(|d| d.mdn == MAIN_OFFICE), "{s}");
    }
    // IMEI, ICCID and MAC are searched too.
    let mut p = page(25);
    p.search_value = Some(MAIN_IMEI.into());
    assert_eq!(c.list_devices(&t, &ns, &p).await.unwrap().total_count, 1);
    let iccid = main.iccid.clone().unwrap();
    p.search_value = Some(iccid);
    assert_eq!(c.list_devices(&t, &ns, &p).await.unwrap().total_count, 1);
}

fn key_of(d: &Device, s: SortField) -> (Option<String>, Option<f64>) {
    let t = |x: &Option<String>| (x.as_ref().map(|s| s.to_lowercase()), None);
    let n = |x: Option<f64>| (None, x);
    match s {
        SortField::Mdn => (Some(d.mdn.clone()), None),
        SortField::Status => t(&d.status),
        SortField::MediaCenterStatus => t(&d.media_center_status),
        SortField::EsnHex => t(&d.esn_hex),
        SortField::Uicc => t(&d.uicc),
        SortField::DeviceName => t(&d.device_name),
        SortField::FilterGroup => t(&d.filter_group),
        SortField::MonthlyLimit => n(d.monthly_limit),
        SortField::DailyLimit => n(d.daily_limit),
        SortField::MonthlyAmountUsed => n(d.monthly_amount_used),
        SortField::DayAmountUsed => n(d.day_amount_used),
        SortField::Last30DaysUsed => n(d.last30_days_used),
    }
}

fn cmp_keys(
    a: &(Option<String>, Option<f64>),
    b: &(Option<String>, Option<f64>),
) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then_with(|| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    })
}

#[tokio::test]
async fn every_sort_value_sorts_both_ways_stably_and_pages() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    for s in SortField::ALL {
        for d in SortDir::ALL {
            let list = c
                .list_devices(&t, &ns, &params(*s, *d, 0, 500))
                .await
                .unwrap();
            assert_eq!(list.devices.len(), 499);
            for w in list.devices.windows(2) {
                let (a, b) = (key_of(&w[0], *s), key_of(&w[1], *s));
                let ord = cmp_keys(&a, &b);
                let ord = if *d == SortDir::Desc {
                    ord.reverse()
                } else {
                    ord
                };
                assert!(ord.is_le(), "{s:?} {d:?}: {a:?} then {b:?}");
                if ord.is_eq() {
                    assert!(w[0].mdn < w[1].mdn, "{s:?} {d:?}: tie-break by MDN");
                }
            }
            let q = sim.sim.api_requests().pop().unwrap().query.unwrap();
            assert_eq!(
                q,
                format!(
                    "offset=0&limit=500&sort={}&sortDir={}",
                    s.as_str(),
                    d.as_str()
                )
            );
        }
    }
    // Paging: pages of 100 cover every line once; the last page is short.
    let mut seen = HashSet::new();
    for offset in (0..499).step_by(100) {
        let list = c
            .list_devices(
                &t,
                &ns,
                &params(SortField::Last30DaysUsed, SortDir::Desc, offset, 100),
            )
            .await
            .unwrap();
        assert_eq!(list.total_count, 499);
        for d in list.devices {
            assert!(seen.insert(d.mdn));
        }
    }
    assert_eq!(seen.len(), 499);
    let tail = c
        .list_devices(&t, &ns, &params(SortField::Mdn, SortDir::Asc, 490, 25))
        .await
        .unwrap();
    assert_eq!(tail.devices.len(), 9);
}

#[tokio::test]
async fn label_filter_matches_any_label() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let mut p = page(500);
    p.label_ids = vec![12];
    let buses = c.list_devices(&t, &ns, &p).await.unwrap();
    assert!(buses.total_count >= 36);
    assert!(buses.devices.iter().all(|d| {
        d.labels
            .as_ref()
            .unwrap()
            .iter()
            .any(|l| l.id == 12 && l.name == "Buses")
    }));
    p.label_ids = vec![30, 18];
    let any = c.list_devices(&t, &ns, &p).await.unwrap();
    assert!(any.total_count > 0);
    assert!(any.devices.iter().all(|d| {
        d.labels
            .as_ref()
            .unwrap()
            .iter()
            .any(|l| l.id == 30 || l.id == 18)
    }));
    let q = sim.sim.api_requests().pop().unwrap().query.unwrap();
    assert!(q.ends_with("&labelIds=30%2C18"), "{q}");
}

#[tokio::test]
async fn no_devices_found_quirk_becomes_an_empty_list() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let mut p = page(25);
    p.search_value = Some("no such line anywhere".into());
    let list = c.list_devices(&t, &ns, &p).await.unwrap();
    assert_eq!(list, DeviceList::default());
    let sel = BulkSelection {
        select_all: true,
        search_value: Some("no such line".into()),
        ..Default::default()
    };
    assert_eq!(
        c.customized_list(&t, &ns, &page(25), &sel).await.unwrap(),
        DeviceList::default()
    );
    let unknown = imei_with("35000000000000");
    assert!(
        c.get_devices_by_imei(&t, &ns, &unknown)
            .await
            .unwrap()
            .is_empty()
    );

    // On the wire it is a 404 with NO DEVICES FOUND.
    let raw = reqwest::Client::new()
        .get(sim.url(&format!(
            "/sentinel/api/v1.0/devices/{NS}?offset=0&limit=25&sort=MDN&sortDir=ASC&searchValue=zzzz"
        )))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&t))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    let body: ApiError = raw.json().await.unwrap();
    assert_eq!(body.message, "NO DEVICES FOUND");

    // The fault gives the same answer.
    sim.sim.add_fault(Fault {
        times: Some(1),
        ..Fault::always(FaultKind::NoDevicesFound)
    });
    assert_eq!(
        c.list_devices(&t, &ns, &page(25)).await.unwrap(),
        DeviceList::default()
    );
}

async fn collect(mut s: sentinel_console::upstream::ByteStream) -> Result<String, UpstreamError> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn csv_export_streams_the_requested_columns_for_every_match() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let cols = [
        Column::Mdn,
        Column::Status,
        Column::Imei,
        Column::Labels,
        Column::Last30DaysUsed,
    ];
    let mut p = params(SortField::Mdn, SortDir::Asc, 40, 5);
    p.search_value = Some("Bus".into());
    sim.sim.clear_requests();
    let csv = collect(c.export_devices_csv(&t, &ns, &p, &cols).await.unwrap())
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "MDN,STATUS,IMEI,LABELS,LAST_30_DAYS_USED");
    let buses = c.device_totals(&t, &ns, Some("Bus")).await.unwrap().total;
    // offset/limit are ignored: every match is exported.
    assert_eq!(lines.len() as u64 - 1, buses);
    assert!(lines.iter().any(|l| l.starts_with("304-228-6302,active,")));
    assert!(lines[1..].iter().all(|l| l.contains("Buses")));
    let req = &sim.sim.api_requests()[0];
    let q = req.query.as_deref().unwrap();
    assert!(
        q.contains("columns=MDN%2CSTATUS%2CIMEI%2CLABELS%2CLAST_30_DAYS_USED"),
        "{q}"
    );
    assert!(q.contains("export=CSV"), "{q}");

    // The whole group: 499 rows, streamed in chunks.
    let all = collect(
        c.export_devices_csv(
            &t,
            &ns,
            &page(25),
            &[Column::Mdn, Column::Nickname, Column::Note],
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(all.lines().count(), 500);
    // RFC 4180: a nickname with a comma is quoted.
    let fx_mdn = all
        .lines()
        .nth(10)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    c.update_nickname(
        &t,
        &ns,
        &NicknameChange {
            selection: mdns(&[&mdn(&fx_mdn)]),
            nickname: "Gym, \"north\" door".into(),
        },
    )
    .await
    .unwrap();
    let all = collect(
        c.export_devices_csv(&t, &ns, &page(25), &[Column::Mdn, Column::Nickname])
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(
        all.contains(&format!("{fx_mdn},\"Gym, \"\"north\"\" door\"\r\n")),
        "{all}"
    );

    // Unknown or missing columns: 400.
    let raw = reqwest::Client::new();
    for q in [
        "offset=0&limit=25&sort=MDN&sortDir=ASC&export=CSV&columns=MDN,NOPE",
        "offset=0&limit=25&sort=MDN&sortDir=ASC&export=CSV",
        "offset=0&limit=25&sort=MDN&sortDir=ASC&export=XLSX&columns=MDN",
    ] {
        let r = raw
            .get(sim.url(&format!("/sentinel/api/v1.0/devices/{NS}?{q}")))
            .bearer_auth(secrecy::ExposeSecret::expose_secret(&t))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        let e: ApiError = r.json().await.unwrap();
        assert_eq!(e.error, "bad_request");
    }

    // An export cut off mid-stream is an error for the client, not a short file.
    sim.sim.add_fault(Fault {
        times: Some(1),
        ..Fault::always(FaultKind::CutCsvAfterRows(300))
    });
    let cut = collect(
        c.export_devices_csv(&t, &ns, &page(25), &[Column::Mdn])
            .await
            .unwrap(),
    )
    .await;
    assert!(cut.is_err(), "the cut stream must fail");
}

#[tokio::test]
async fn customized_list_selects_by_bulk_selection_as_json_and_csv() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let buses = c.device_totals(&t, &ns, Some("Bus")).await.unwrap().total;
    let sel = BulkSelection {
        select_all: true,
        search_value: Some("Bus".into()),
        excluded_mdns: Some(vec![mdn(BUS_47)]),
        ..Default::default()
    };
    sim.sim.clear_requests();
    let list = c
        .customized_list(&t, &ns, &params(SortField::Mdn, SortDir::Asc, 0, 10), &sel)
        .await
        .unwrap();
    assert_eq!(list.total_count, buses - 1);
    assert_eq!(list.devices.len(), 10);
    let req = &sim.sim.api_requests()[0];
    assert_eq!(
        req.query.as_deref(),
        Some("offset=0&limit=10&sort=MDN&sortDir=ASC")
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"bulkSelection": {"selectAll": true, "searchValue": "Bus", "excludedMdns": [BUS_47]}})
    );

    let sel = BulkSelection {
        select_all: true,
        filter_group: Some("Student_K8".into()),
        status: Some("ACTIVE".into()),
        label_ids: Some(vec![12]),
        ..Default::default()
    };
    let list = c.customized_list(&t, &ns, &page(500), &sel).await.unwrap();
    assert!(list.total_count > 0);
    assert!(
        list.devices
            .iter()
            .all(|d| d.filter_group.as_deref() == Some("Student_K8")
                && d.status.as_deref() == Some("active"))
    );

    let csv = collect(
        c.customized_list_csv(&t, &ns, &page(25), &[Column::Mdn, Column::Imei], &sel)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(csv.lines().next(), Some("MDN,IMEI"));
    assert_eq!(csv.lines().count() as u64, list.total_count + 1);

    // The customized list has its own column names (DEVICE, not DEVICE_NAME).
    let raw = reqwest::Client::new();
    let url = |cols: &str| {
        sim.url(&format!(
            "/sentinel/api/v1.0/devices/{NS}/customizedList?offset=0&limit=5&sort=MDN&sortDir=ASC&export=CSV&columns={cols}"
        ))
    };
    let body = json!({"bulkSelection": {"selectAll": true}});
    let tok = secrecy::ExposeSecret::expose_secret(&t).to_owned();
    let ok = raw
        .post(url("MDN,DEVICE,DEVICE_GROUP"))
        .bearer_auth(&tok)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let text = ok.text().await.unwrap();
    assert!(text.contains("521-267-1508,Kajeet ENT-BYOD,NORTHSTAR-ISD"));
    let bad = raw
        .post(url("MDN,DEVICE_NAME"))
        .bearer_auth(&tok)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // Media center may not use it.
    let media = token(&sim, "media").await;
    assert_status(
        c.customized_list(&media, &ns, &page(25), &sel).await,
        403,
        "org_mediacenter",
    );
}

#[tokio::test]
async fn reads_by_imei_health_smartspot_and_statuses() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let main_imei = Imei::parse(MAIN_IMEI).unwrap();
    let by_imei = c.get_devices_by_imei(&t, &ns, &main_imei).await.unwrap();
    assert_eq!(by_imei.len(), 1);
    assert_eq!(by_imei[0].mdn, MAIN_OFFICE);

    let h = c.device_health(&t, &ns, &mdn(MAIN_OFFICE)).await.unwrap();
    assert_eq!(h.mdn, MAIN_OFFICE);
    let names: Vec<_> = h.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["signal", "battery", "data session"]);
    assert_eq!(h.healthy, h.checks.iter().all(|c| c.ok));
    let e = c.device_health(&t, &ns, &mdn(BUS_47)).await.unwrap_err();
    match &e {
        UpstreamError::Status { status, code, .. } => {
            assert_eq!(status.as_u16(), 409);
            assert_eq!(code.as_deref(), Some("health_status_not_shown"));
        }
        other => panic!("{other:?}"),
    }
    assert_status(
        c.device_health(&t, &ns, &mdn("999-999-9999")).await,
        404,
        "999-999-9999 was not found",
    );

    let s = c.get_smartspot_settings(&t, &ns, &main_imei).await.unwrap();
    assert_eq!(s.imei.as_deref(), Some(MAIN_IMEI));
    assert_eq!(s.values.ssid.as_deref(), Some("Kajeet-Bus-47"));
    assert!(s.values.wifi_password.is_none());
    let raw = reqwest::Client::new()
        .get(sim.url(&format!(
            "/sentinel/api/v1.0/devices/{NS}/smartspot-settings/{MAIN_IMEI}"
        )))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&t))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !raw.contains("wifiPassword") && !raw.contains("correct-horse"),
        "{raw}"
    );
    assert_status(
        c.get_smartspot_settings(&t, &ns, &imei_with("35000000000000"))
            .await,
        404,
        "No device with IMEI",
    );

    assert_eq!(
        c.get_possible_statuses(&t, &ns).await.unwrap(),
        ["ACTIVE", "SUSPENDED"]
    );
    let media = token(&sim, "media").await;
    assert_status(
        c.get_possible_statuses(&media, &ns).await,
        403,
        "org_mediacenter",
    );
}

#[tokio::test]
async fn writes_apply_and_show_on_the_next_read() {
    let sim = spawn_sim(default_sim_config()).await;
    let fx = fixture(&sim).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let main = mdn(MAIN_OFFICE);

    // Status: suspended on the next list and in the totals.
    let r = c
        .update_status(
            &t,
            &ns,
            &StatusChange {
                selection: mdns(&[&main, &mdn("999-000-0000")]),
                status: "SUSPENDED".into(),
                reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(r.updated, 1);
    assert_eq!(
        r.failed,
        [WriteFailure {
            mdn: "999-000-0000".into(),
            reason: "Device not found".into()
        }]
    );
    let body: Value = serde_json::from_str(&sim.sim.api_requests().pop().unwrap().body).unwrap();
    assert_eq!(
        body,
        json!({"mdns": [MAIN_OFFICE, "999-000-0000"], "status": "SUSPENDED"})
    );
    let mut p = page(5);
    p.search_value = Some(MAIN_OFFICE.into());
    let l = c.list_devices(&t, &ns, &p).await.unwrap();
    assert_eq!(l.devices[0].status.as_deref(), Some("suspended"));
    let tot = c.device_totals(&t, &ns, None).await.unwrap();
    assert_eq!((tot.active, tot.suspended, tot.total), (486, 13, 499));
    assert_status(
        c.update_status(
            &t,
            &ns,
            &StatusChange {
                selection: mdns(&[&main]),
                status: "FROZEN".into(),
                reason: None,
            },
        )
        .await,
        422,
        "FROZEN",
    );

    // Nickname by bulk selection.
    let r = c
        .update_nickname(
            &t,
            &ns,
            &NicknameChange {
                selection: DeviceSelection::Bulk {
                    bulk_selection: BulkSelection {
                        select_all: true,
                        search_value: Some(MAIN_OFFICE.into()),
                        ..Default::default()
                    },
                },
                nickname: "Front Office Hotspot".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.updated, 1);
    assert_eq!(
        sim.sim.device(NS, MAIN_OFFICE).unwrap().nickname.as_deref(),
        Some("Front Office Hotspot")
    );

    // Note: at most 1000 characters.
    c.update_note(
        &t,
        &ns,
        &NoteChange {
            selection: mdns(&[&main]),
            note: "In the safe".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sim.sim.device(NS, MAIN_OFFICE).unwrap().note.as_deref(),
        Some("In the safe")
    );
    assert_status(
        c.update_note(
            &t,
            &ns,
            &NoteChange {
                selection: mdns(&[&main]),
                note: "x".repeat(1001),
            },
        )
        .await,
        400,
        "1000",
    );

    // Filter group: known groups only.
    c.update_filter_group(
        &t,
        &ns,
        &FilterGroupChange {
            selection: mdns(&[&main]),
            filter_group: "Admin".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sim.sim
            .device(NS, MAIN_OFFICE)
            .unwrap()
            .filter_group
            .as_deref(),
        Some("Admin")
    );
    assert_status(
        c.update_filter_group(
            &t,
            &ns,
            &FilterGroupChange {
                selection: mdns(&[&main]),
                filter_group: "Nope".into(),
            },
        )
        .await,
        422,
        "Nope",
    );

    // Data limits: null = no limit.
    c.update_data_limits(
        &t,
        &ns,
        &DataLimitsChange {
            selection: mdns(&[&main]),
            monthly_limit: Some(2048.0),
            daily_limit: None,
        },
    )
    .await
    .unwrap();
    let d = sim.sim.device(NS, MAIN_OFFICE).unwrap();
    assert_eq!((d.monthly_limit, d.daily_limit), (Some(2048.0), None));
    assert_status(
        c.update_data_limits(
            &t,
            &ns,
            &DataLimitsChange {
                selection: mdns(&[&main]),
                monthly_limit: Some(-1.0),
                daily_limit: None,
            },
        )
        .await,
        400,
        "monthlyLimit",
    );

    // MDN custom field: at most 64 characters.
    c.update_mdn_custom_field(
        &t,
        &ns,
        &MdnCustomFieldChange {
            mdns: vec![main.clone()],
            mdn_custom_field: "Room 114".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sim.sim
            .device(NS, MAIN_OFFICE)
            .unwrap()
            .mdn_custom_field
            .as_deref(),
        Some("Room 114")
    );
    assert_status(
        c.update_mdn_custom_field(
            &t,
            &ns,
            &MdnCustomFieldChange {
                mdns: vec![main.clone()],
                mdn_custom_field: "x".repeat(65),
            },
        )
        .await,
        400,
        "64",
    );

    // IMEI: only ARCNT lines change; others are reported in `failed`.
    let new_imei = imei_with("35999900000002");
    let r = c
        .update_imei(
            &t,
            &ns,
            &ImeiChange {
                mdns: vec![main.clone()],
                imei: new_imei.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.updated, 0);
    assert_eq!(
        r.failed,
        [WriteFailure {
            mdn: MAIN_OFFICE.into(),
            reason: "Device network is Verizon, not ARCNT".into()
        }]
    );
    let r = c
        .update_imei(
            &t,
            &ns,
            &ImeiChange {
                mdns: vec![fx.arcnt.clone()],
                imei: new_imei.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        WriteResult {
            updated: 1,
            failed: vec![]
        }
    );
    let found = c.get_devices_by_imei(&t, &ns, &new_imei).await.unwrap();
    assert_eq!(found[0].mdn, fx.arcnt.as_str());
    assert_status(
        c.update_imei(
            &t,
            &ns,
            &ImeiChange {
                mdns: vec![fx.arcnt.clone(), main.clone()],
                imei: new_imei.clone(),
            },
        )
        .await,
        400,
        "exactly 1",
    );

    // Labels: bulk delete by label clears them; the label filter then finds nothing.
    let before = c.device_totals(&t, &ns, Some("Bus")).await.unwrap().total;
    let r = c
        .bulk_delete_labels(
            &t,
            &ns,
            &BulkDeleteLabels {
                selection: DeviceSelection::Bulk {
                    bulk_selection: BulkSelection {
                        select_all: true,
                        label_ids: Some(vec![12]),
                        ..Default::default()
                    },
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(r.updated, before);
    let mut p = page(25);
    p.label_ids = vec![12];
    assert_eq!(c.list_devices(&t, &ns, &p).await.unwrap().total_count, 0);

    // SmartSpot settings, one and several.
    let main_imei = Imei::parse(MAIN_IMEI).unwrap();
    c.update_smartspot_settings(
        &t,
        &ns,
        &SmartSpotSettings {
            imei: Some(MAIN_IMEI.into()),
            values: SmartSpotSettingsValues {
                ssid: Some("Front-Office".into()),
                wifi_password: Some("a-long-secret".into()),
                band: Some("5GHz".into()),
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();
    let s = c.get_smartspot_settings(&t, &ns, &main_imei).await.unwrap();
    assert_eq!(s.values.ssid.as_deref(), Some("Front-Office"));
    assert_eq!(s.values.band.as_deref(), Some("5GHz"));
    assert!(s.values.wifi_password.is_none());
    assert_status(
        c.update_smartspot_settings(
            &t,
            &ns,
            &SmartSpotSettings {
                imei: Some(MAIN_IMEI.into()),
                values: SmartSpotSettingsValues {
                    max_clients: Some(16),
                    ..Default::default()
                },
            },
        )
        .await,
        400,
        "maxClients",
    );
    assert_status(
        c.update_smartspot_settings(
            &t,
            &ns,
            &SmartSpotSettings {
                imei: Some(imei_with("35000000000000").to_string()),
                values: SmartSpotSettingsValues::default(),
            },
        )
        .await,
        404,
        "No SmartSpot device",
    );
    let plain_imei = sim.sim.device(NS, fx.plain.as_str()).unwrap().imei.unwrap();
    let plain_is_smartspot = sim
        .sim
        .device(NS, fx.plain.as_str())
        .unwrap()
        .device_name
        .unwrap()
        .contains("SmartSpot");
    let unknown = imei_with("35000000000000");
    let r = c
        .update_smartspot_settings_multi(
            &t,
            &ns,
            &SmartSpotSettingsMultiRequest {
                imeis: vec![
                    main_imei.clone(),
                    unknown.clone(),
                    Imei::parse(&plain_imei).unwrap(),
                ],
                settings: SmartSpotSettingsValues {
                    hotspot_enabled: Some(false),
                    ..Default::default()
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(r.updated, if plain_is_smartspot { 2 } else { 1 });
    assert!(
        r.failed
            .iter()
            .any(|f| f.mdn == unknown.as_str() && f.reason == "Device not found")
    );
    if !plain_is_smartspot {
        assert!(r.failed.iter().any(|f| f.mdn == fx.plain.as_str()));
    }
    let s = c.get_smartspot_settings(&t, &ns, &main_imei).await.unwrap();
    assert_eq!(s.values.hotspot_enabled, Some(false));

    // Device group: the line moves to the other group.
    let r = c
        .update_device_group(
            &t,
            &ns,
            &DeviceGroupChange {
                selection: mdns(&[&fx.mover]),
                device_group: "NORTHSTAR-ISD-HS".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.updated, 1);
    assert!(sim.sim.device(NS, fx.mover.as_str()).is_none());
    let moved = sim
        .sim
        .device("NORTHSTAR-ISD-HS", fx.mover.as_str())
        .unwrap();
    assert_eq!(moved.corp_id.as_deref(), Some("NORTHSTAR-ISD-HS"));
    assert_eq!(c.device_totals(&t, &ns, None).await.unwrap().total, 498);
    assert_status(
        c.update_device_group(
            &t,
            &ns,
            &DeviceGroupChange {
                selection: mdns(&[&main]),
                device_group: "ELSEWHERE".into(),
            },
        )
        .await,
        422,
        "ELSEWHERE",
    );
    let limited = token(&sim, "limited").await;
    assert_status(
        c.update_device_group(
            &limited,
            &ns,
            &DeviceGroupChange {
                selection: mdns(&[&main]),
                device_group: "NORTHSTAR-ISD-HS".into(),
            },
        )
        .await,
        403,
        "NORTHSTAR-ISD-HS",
    );

    // Summer usage needs a Kajeet Choice account.
    let su = SummerUsageChange {
        selection: mdns(&[&main]),
        summer_status: "ENABLED".into(),
    };
    assert_status(
        c.update_summer_usage(&t, &ns, &su).await,
        403,
        "Kajeet Choice",
    );
    let choice = token(&sim, "choice").await;
    c.update_summer_usage(&choice, &ns, &su).await.unwrap();
    assert_eq!(
        sim.sim
            .device(NS, MAIN_OFFICE)
            .unwrap()
            .summer_status
            .as_deref(),
        Some("ENABLED")
    );
}

#[tokio::test]
async fn access_is_refused_with_readable_messages() {
    let sim = spawn_sim(SimConfig {
        token_ttl: Duration::from_secs(1),
        ..default_sim_config()
    })
    .await;
    let c = client(&sim);
    let ns = corp(NS);
    let ro = token(&sim, "readonly").await;
    // readonly reads but never writes.
    c.list_devices(&ro, &ns, &page(5)).await.unwrap();
    assert_status(
        c.update_note(
            &ro,
            &ns,
            &NoteChange {
                selection: mdns(&[&mdn(MAIN_OFFICE)]),
                note: "x".into(),
            },
        )
        .await,
        403,
        "Scope readonly may not change devices.",
    );
    // corp_ids restrict every call; an unknown group is 404.
    let limited = token(&sim, "limited").await;
    c.device_totals(&limited, &ns, None).await.unwrap();
    assert_status(
        c.device_totals(&limited, &corp("FLEET-LARGE"), None).await,
        403,
        "FLEET-LARGE",
    );
    assert_status(
        c.device_totals(&limited, &corp("NOPE"), None).await,
        404,
        "Device group NOPE was not found.",
    );
    // Wrong password; expired token.
    let e = c
        .password_token("tech", &SecretString::from("wrong".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, 401);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_status(c.list_devices(&ro, &ns, &page(5)).await, 401, "expired");
}

#[tokio::test]
async fn bad_requests_are_400_with_the_api_error_body() {
    let sim = spawn_sim(default_sim_config()).await;
    // `choice` may call every write, so the answers are about the request, not the scopes.
    let t = token(&sim, "choice").await;
    let tok = secrecy::ExposeSecret::expose_secret(&t).to_owned();
    let http = reqwest::Client::new();
    let base = sim.url(&format!("/sentinel/api/v1.0/devices/{NS}"));
    for q in [
        "limit=25&sort=MDN&sortDir=ASC",
        "offset=0&sort=MDN&sortDir=ASC",
        "offset=0&limit=25&sortDir=ASC",
        "offset=0&limit=25&sort=MDN",
        "offset=x&limit=25&sort=MDN&sortDir=ASC",
        "offset=0&limit=25&sort=NICKNAME&sortDir=ASC",
        "offset=0&limit=25&sort=MDN&sortDir=UP",
        "offset=0&limit=25&sort=MDN&sortDir=ASC&labelIds=a,b",
    ] {
        let r = http
            .get(format!("{base}?{q}"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        let e: ApiError = r.json().await.unwrap();
        assert_eq!(e.error, "bad_request", "{q}");
        assert!(!e.message.is_empty());
    }
    let put = |path: &str, body: &str| {
        http.put(format!("{base}/{path}"))
            .bearer_auth(&tok)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    for (path, body) in [
        ("note", "{not json"),
        ("note", r#"{"note": "x"}"#),
        (
            "note",
            r#"{"mdns": ["521-267-1508"], "bulkSelection": {"selectAll": true}, "note": "x"}"#,
        ),
        ("note", r#"{"mdns": [], "note": "x"}"#),
        ("note", r#"{"mdns": ["5212671508"], "note": "x"}"#),
        ("note", r#"{"mdns": ["521-267-1508"]}"#),
        (
            "status",
            r#"{"bulkSelection": {"searchValue": "Bus"}, "status": "ACTIVE"}"#,
        ),
        (
            "summerUsage",
            r#"{"mdns": ["521-267-1508"], "summerStatus": "MAYBE"}"#,
        ),
        (
            "dataLimits",
            r#"{"mdns": ["521-267-1508"], "monthlyLimit": 5}"#,
        ),
        ("imei", r#"{"mdns": ["521-267-1508"], "imei": "12345"}"#),
        ("smartspot-settings", r#"{"ssid": "x"}"#),
        (
            "smartspot-settings",
            r#"{"imei": "355737360073462", "band": "6GHz"}"#,
        ),
        (
            "smartspot-settings-multi",
            r#"{"imeis": [], "settings": {}}"#,
        ),
    ] {
        let r = put(path, body).await.unwrap();
        assert_eq!(r.status(), 400, "{path} {body}");
        let e: ApiError = r.json().await.unwrap();
        assert_eq!(e.error, "bad_request");
    }
}

#[tokio::test]
async fn faults_over_http_and_in_process() {
    let sim = spawn_sim(default_sim_config()).await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let ns = corp(NS);
    let http = reqwest::Client::new();
    // The JSON form of a fault.
    let r = http
        .post(sim.url("/_sim/faults"))
        .json(&json!({"kind": {"status": 500}, "path_contains": "/totals", "times": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    c.list_devices(&t, &ns, &page(5)).await.unwrap();
    assert_status(
        c.device_totals(&t, &ns, None).await,
        500,
        "An unexpected error occurred.",
    );
    c.device_totals(&t, &ns, None).await.unwrap();

    // Malformed JSON is a body error, not a crash.
    sim.sim.add_fault(Fault {
        method: Some("GET".into()),
        times: Some(1),
        ..Fault::always(FaultKind::MalformedJson)
    });
    assert!(matches!(
        c.list_devices(&t, &ns, &page(5)).await,
        Err(UpstreamError::BadBody(_))
    ));

    // Latency.
    sim.sim.add_fault(Fault {
        times: Some(1),
        ..Fault::always(FaultKind::Latency(Duration::from_millis(200)))
    });
    let start = Instant::now();
    c.device_totals(&t, &ns, None).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));

    // Until cleared, over HTTP.
    sim.sim.add_fault(Fault::always(FaultKind::Status(502)));
    assert_status(c.device_totals(&t, &ns, None).await, 502, "");
    assert_status(c.device_totals(&t, &ns, None).await, 502, "");
    let r = http.delete(sim.url("/_sim/faults")).send().await.unwrap();
    assert!(r.status().is_success());
    c.device_totals(&t, &ns, None).await.unwrap();

    // The request log over HTTP; requests are recorded before the auth decision.
    let _ = http
        .get(sim.url(&format!("/sentinel/api/v1.0/devices/{NS}/totals")))
        .send()
        .await
        .unwrap();
    let log: Vec<Value> = http
        .get(sim.url("/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        last["path"],
        format!("/sentinel/api/v1.0/devices/{NS}/totals")
    );
    assert!(last["authorization"].is_null());
    http.delete(sim.url("/_sim/requests")).send().await.unwrap();
    assert!(sim.sim.requests().is_empty());
}

#[tokio::test]
async fn the_large_group_is_generated_lazily_and_stays_fast() {
    let sim = spawn_sim(SimConfig {
        large_group_size: 20_000,
        ..default_sim_config()
    })
    .await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let fleet = corp("FLEET-LARGE");
    let start = Instant::now();
    let tot = c.device_totals(&t, &fleet, None).await.unwrap();
    assert_eq!(tot.total, 20_000);
    let l = c
        .list_devices(
            &t,
            &fleet,
            &params(SortField::Last30DaysUsed, SortDir::Desc, 100, 50),
        )
        .await
        .unwrap();
    assert_eq!(l.total_count, 20_000);
    assert_eq!(l.devices.len(), 50);
    let first = l.devices[0].clone();
    c.update_nickname(
        &t,
        &fleet,
        &NicknameChange {
            selection: mdns(&[&mdn(&first.mdn)]),
            nickname: "Renamed fleet line".into(),
        },
    )
    .await
    .unwrap();
    let l2 = c
        .list_devices(
            &t,
            &fleet,
            &params(SortField::Last30DaysUsed, SortDir::Desc, 100, 50),
        )
        .await
        .unwrap();
    assert_eq!(
        l2.devices[0].nickname.as_deref(),
        Some("Renamed fleet line")
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

/// The demo IdP: authorization code + PKCE S256.
struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce(verifier: &str) -> Pkce {
    use base64::Engine;
    use sha2::Digest;
    Pkce {
        verifier: verifier.into(),
        challenge: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes())),
    }
}

const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";

fn authorize_query(p: &Pkce) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "sentinel-console".into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "st-123".into()),
        ("code_challenge", p.challenge.clone()),
        ("code_challenge_method", "S256".into()),
        ("scope", "org_super org_tech readonly".into()),
    ]
}

async fn code_for(sim: &TestSim, http: &reqwest::Client, p: &Pkce, user: &str) -> String {
    let mut form = authorize_query(p);
    form.push(("user", user.into()));
    let r = http
        .post(sim.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(REDIRECT));
    let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-123");
    q["code"].clone()
}

async fn exchange(sim: &TestSim, http: &reqwest::Client, form: &[(&str, &str)]) -> (u16, Value) {
    let r = http
        .post(sim.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn oauth_code_flow_with_pkce_refresh_rotation_and_revocation() {
    let sim = spawn_sim(default_sim_config()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let p = pkce("a-verifier-that-is-long-enough-0123456789-abcdefghijklmnop");

    // The sign-in page: one plain form per user, echoing every query parameter.
    let r = http
        .get(sim.url("/oauth/authorize"))
        .query(&authorize_query(&p))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    // The console's layout: scripts only from files, no inline style (the CSP allows neither).
    assert!(!html.contains("style="));
    let doc = scraper::Html::parse_document(&html);
    let scripts = scraper::Selector::parse("script").unwrap();
    assert!(
        doc.select(&scripts)
            .all(|s| s.value().attr("src").is_some()
                && s.text().collect::<String>().trim().is_empty())
    );
    let forms = scraper::Selector::parse(r#"form[method="post"][action="authorize"]"#).unwrap();
    let forms: Vec<_> = doc.select(&forms).collect();
    assert_eq!(forms.len(), 8);
    let hidden = scraper::Selector::parse(r#"input[type="hidden"]"#).unwrap();
    let button = scraper::Selector::parse(r#"button[type="submit"][name="user"]"#).unwrap();
    let users: Vec<_> = forms
        .iter()
        .map(|f| {
            f.select(&button)
                .next()
                .unwrap()
                .value()
                .attr("value")
                .unwrap()
        })
        .collect();
    assert_eq!(
        users,
        [
            "super", "tech", "kajeet", "manager", "media", "readonly", "limited", "choice"
        ]
    );
    let echoed: Vec<(String, String)> = forms[1]
        .select(&hidden)
        .map(|i| {
            (
                i.value().attr("name").unwrap().to_owned(),
                i.value().attr("value").unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = authorize_query(&p)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(echoed, expected);

    // Invalid authorize requests get a 400 page.
    for (k, v) in [
        ("code_challenge_method", "plain"),
        ("response_type", "token"),
        ("redirect_uri", "/relative"),
        ("code_challenge", ""),
    ] {
        let q: Vec<_> = authorize_query(&p)
            .into_iter()
            .map(|(a, b)| if a == k { (a, v.to_owned()) } else { (a, b) })
            .collect();
        let r = http
            .get(sim.url("/oauth/authorize"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{k}={v}");
        assert!(r.text().await.unwrap().contains(k), "{k}");
    }

    // Wrong verifier: invalid_grant, and the code is used up.
    let code = code_for(&sim, &http, &p, "tech").await;
    let (s, body) = exchange(
        &sim,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "sentinel-console"),
            (
                "code_verifier",
                "the-wrong-verifier-0123456789-0123456789-0123456789",
            ),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["error"], "invalid_grant");
    let (s, body) = exchange(
        &sim,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "sentinel-console"),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));

    // The right verifier.
    let code = code_for(&sim, &http, &p, "choice").await;
    let good = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", "sentinel-console"),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (s, tok) = exchange(&sim, &http, &good).await;
    assert_eq!(s, 200, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], "org_tech");
    assert_eq!(tok["account_type"], "kajeet_choice");
    assert_eq!(tok["sub"], "choice");
    assert_eq!(
        tok["corp_ids"],
        json!(["NORTHSTAR-ISD", "NORTHSTAR-ISD-HS", "FLEET-LARGE"])
    );
    assert_eq!(tok["expires_in"], 3600);
    assert!(tok["name"].as_str().unwrap().contains("Taylor"));
    assert!(tok["email"].as_str().unwrap().contains('@'));
    // Single use.
    let (s, _) = exchange(&sim, &http, &good).await;
    assert_eq!(s, 400);

    let c = client(&sim);
    let access = SecretString::from(tok["access_token"].as_str().unwrap().to_owned());
    c.device_totals(&access, &corp(NS), None).await.unwrap();

    // Refresh rotates; a racing reuse within 5 s gets the same new pair.
    let rt = tok["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let http = http.clone();
        let url = sim.url("/oauth/token");
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", "sentinel-console"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, first) = refresh(rt.clone()).await;
    assert_eq!(s, 200);
    assert_ne!(first["refresh_token"], tok["refresh_token"]);
    assert_eq!(first["scope"], "org_tech");
    let (s, again) = refresh(rt.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(again["refresh_token"], first["refresh_token"]);
    let (s, bad) = refresh("unknown".into()).await;
    assert_eq!((s, bad["error"].as_str()), (400, Some("invalid_grant")));

    // Revoking the refresh token revokes its access tokens; revoke always answers 200.
    let new_access = SecretString::from(first["access_token"].as_str().unwrap().to_owned());
    c.device_totals(&new_access, &corp(NS), None).await.unwrap();
    let r = http
        .post(sim.url("/oauth/revoke"))
        .form(&[
            ("token", first["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_status(c.device_totals(&new_access, &corp(NS), None).await, 401, "");
    let (s, _) = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 400);
    // Revoking an access token.
    let r = http
        .post(sim.url("/oauth/revoke"))
        .form(&[("token", tok["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_status(c.device_totals(&access, &corp(NS), None).await, 401, "");
    let r = http
        .post(sim.url("/oauth/revoke"))
        .form(&[("token", "never-issued")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Timing of the 100,000-line group (debug builds are slow; run with `--ignored` to look).
#[tokio::test]
#[ignore]
async fn timing_of_a_100k_group() {
    let sim = spawn_sim(SimConfig {
        large_group_size: 100_000,
        ..default_sim_config()
    })
    .await;
    let c = client(&sim);
    let t = token(&sim, "tech").await;
    let fleet = corp("FLEET-LARGE");
    let time = |label: &str, start: Instant| eprintln!("{label}: {:?}", start.elapsed());
    let s = Instant::now();
    c.device_totals(&t, &fleet, None).await.unwrap();
    time("totals (cold)", s);
    let s = Instant::now();
    c.device_totals(&t, &fleet, None).await.unwrap();
    time("totals (cached)", s);
    let s = Instant::now();
    c.list_devices(
        &t,
        &fleet,
        &params(SortField::Last30DaysUsed, SortDir::Desc, 0, 25),
    )
    .await
    .unwrap();
    time("sort LAST_30_DAYS_USED (cold)", s);
    let s = Instant::now();
    c.list_devices(
        &t,
        &fleet,
        &params(SortField::Last30DaysUsed, SortDir::Desc, 5000, 25),
    )
    .await
    .unwrap();
    time("sort LAST_30_DAYS_USED (cached)", s);
    let mut p = params(SortField::Mdn, SortDir::Asc, 0, 25);
    p.search_value = Some("Route 12".into());
    let s = Instant::now();
    c.list_devices(&t, &fleet, &p).await.unwrap();
    time("search", s);
    let s = Instant::now();
    let csv = collect(
        c.export_devices_csv(
            &t,
            &fleet,
            &page(25),
            &[Column::Mdn, Column::Status, Column::Labels],
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    time("csv 100k", s);
    assert_eq!(csv.lines().count(), 100_001);
    let s = Instant::now();
    c.get_devices_by_imei(
        &t,
        &fleet,
        &Imei::parse(&imei_with("86490204000123").to_string()).unwrap(),
    )
    .await
    .unwrap();
    time("imei lookup", s);
}
