//! The scope matrix: every demo user × every action (and every read with a console route), over
//! real HTTP against the simulator. Allowed → exactly one upstream call with the user's bearer
//! token and the expected method, path and body; refused → 403 and no upstream call at all.
//! The expectations come from the vendor's rules written out below, checked against policy.rs.

use crate::helpers::*;

use sentinel_console::domain::{CorpId, Role, luhn_check_digit};
use sentinel_console::policy::{Operation, Principal};
use serde_json::{Value, json};

const CORP: &str = "NORTHSTAR-ISD";
const OTHER: &str = "NORTHSTAR-ISD-HS";
const ALL_GROUPS: &[&str] = &["NORTHSTAR-ISD", "NORTHSTAR-ISD-HS", "FLEET-LARGE"];

/// The demo users as the identity provider describes them: (login, roles, corp_ids, account_type).
type DemoUser = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static str>,
);
const USERS: &[DemoUser] = &[
    ("super", &["org_super"], ALL_GROUPS, None),
    ("tech", &["org_tech"], ALL_GROUPS, None),
    ("kajeet", &["org_kajeetmanaged"], ALL_GROUPS, None),
    ("manager", &["org_managerplus"], ALL_GROUPS, None),
    ("media", &["org_mediacenter"], ALL_GROUPS, None),
    ("readonly", &["readonly"], ALL_GROUPS, None),
    ("limited", &["org_tech"], &["NORTHSTAR-ISD"], None),
    ("choice", &["org_tech"], ALL_GROUPS, Some("kajeet_choice")),
];

/// `x-allowed-scopes` of the vendor documentation, written out independently of policy.rs.
const VENDOR: &[(&str, &str)] = &[
    ("list_devices", "any"),
    ("bulk_delete_labels", "any-but-readonly-or-mediacenter"),
    ("customized_list", "any-but-mediacenter"),
    ("update_data_limits", "org_super org_tech"),
    (
        "update_device_group",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    (
        "update_filter_group",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    (
        "update_imei",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    ("get_devices_by_imei", "any"),
    ("update_mdn_custom_field", "any-but-readonly"),
    (
        "update_nickname",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    (
        "update_note",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    ("update_smartspot_settings", "any-but-readonly"),
    ("update_smartspot_settings_multi", "any-but-readonly"),
    ("get_smartspot_settings", "any"),
    (
        "get_possible_statuses",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    (
        "update_status",
        "org_super org_tech org_kajeetmanaged org_managerplus",
    ),
    ("update_summer_usage", "org_super org_tech"),
    ("device_totals", "any"),
    ("device_health", "any"),
];

fn is_write(op: &str) -> bool {
    op.starts_with("update_") || op.starts_with("bulk_")
}

/// The vendor's rule for `login` calling `op` on `corp` (and, for a move, into `target`).
fn vendor_allows(login: &str, op: &str, corp: &str, target: Option<&str>) -> bool {
    let (_, roles, groups, account) = USERS.iter().find(|u| u.0 == login).expect("demo user");
    if !groups.contains(&corp) {
        return false;
    }
    if let Some(t) = target {
        if !groups.contains(&t) {
            return false;
        }
    }
    if is_write(op) && roles.contains(&"readonly") {
        return false;
    }
    if op == "update_summer_usage" && *account != Some("kajeet_choice") {
        return false;
    }
    let rule = VENDOR.iter().find(|r| r.0 == op).expect("vendor rule").1;
    match rule {
        "any" => !roles.is_empty(),
        "any-but-readonly" => roles.iter().any(|r| *r != "readonly"),
        "any-but-mediacenter" => roles.iter().any(|r| *r != "org_mediacenter"),
        "any-but-readonly-or-mediacenter" => roles
            .iter()
            .any(|r| *r != "readonly" && *r != "org_mediacenter"),
        list => roles.iter().any(|r| list.split(' ').any(|x| x == *r)),
    }
}

/// Issue 9: a signed-in user of the device group may *request* these changes when the vendor's
/// table does not let them make them (the request then needs a reason, and waits for approval).
fn may_request(login: &str, op: &str, corp: &str) -> bool {
    let (_, roles, groups, _) = USERS.iter().find(|u| u.0 == login).expect("demo user");
    const REQUESTABLE: &[&str] = &[
        "update_status",
        "update_nickname",
        "update_note",
        "update_data_limits",
        "update_filter_group",
    ];
    !roles.is_empty() && groups.contains(&corp) && REQUESTABLE.contains(&op)
}

fn principal(login: &str) -> Principal {
    let (_, roles, groups, account) = USERS.iter().find(|u| u.0 == login).expect("user");
    Principal {
        subject: login.into(),
        roles: roles
            .iter()
            .map(|r| Role::parse(r).expect("role"))
            .collect(),
        corp_ids: Some(
            groups
                .iter()
                .map(|g| CorpId::parse(g).expect("corp"))
                .collect(),
        ),
        account_type: account.map(str::to_owned),
        ..Default::default()
    }
}

#[test]
fn policy_table_agrees_with_the_vendor_rules() {
    assert_eq!(VENDOR.len(), Operation::ALL.len());
    for (login, ..) in USERS {
        let p = principal(login);
        for corp in [CORP, OTHER] {
            let c = CorpId::parse(corp).expect("corp");
            for op in Operation::ALL {
                assert_eq!(
                    p.can(op, &c),
                    vendor_allows(login, op.id(), corp, None),
                    "{login} {} on {corp}",
                    op.id()
                );
                assert_eq!(op.is_write(), is_write(op.id()), "{}", op.id());
            }
        }
        let (from, to) = (
            CorpId::parse(CORP).expect("corp"),
            CorpId::parse(OTHER).expect("corp"),
        );
        assert_eq!(
            p.check_device_group_move(&from, &to).is_ok(),
            vendor_allows(login, "update_device_group", CORP, Some(OTHER)),
            "{login} move"
        );
    }
}

/// One console call of the matrix and the upstream call it must cause when allowed.
struct Case {
    name: &'static str,
    op: &'static str,
    target: Option<&'static str>,
    /// GET path (reads) or POST form (writes).
    get: Option<String>,
    form: Vec<(String, String)>,
    action: &'static str,
    method: &'static str,
    path_suffix: String,
    body: Option<Value>,
}

fn post(
    name: &'static str,
    op: &'static str,
    action: &'static str,
    form: Vec<(&str, String)>,
    method: &'static str,
    suffix: &str,
    body: Value,
) -> Case {
    Case {
        name,
        op,
        target: None,
        get: None,
        form: form.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        action,
        method,
        path_suffix: suffix.to_owned(),
        body: Some(body),
    }
}

fn read(name: &'static str, op: &'static str, path: String, suffix: String) -> Case {
    Case {
        name,
        op,
        target: None,
        get: Some(path),
        form: vec![],
        action: "",
        method: "GET",
        path_suffix: suffix,
        body: None,
    }
}

/// The CSRF token of a user's session: `/` may redirect (one group), the list page always carries it.
async fn csrf(user: &Session) -> String {
    user.page_csrf(&format!("/devices/{CORP}")).await
}

/// Lines of a group from the console's list page: (mdn, network, device, imei).
async fn lines(app: &TestApp, corp: &str) -> Vec<(String, String, String, String)> {
    let html = app
        .get_text(&format!(
            "/devices/{corp}?limit=500&columns=network,device,imei"
        ))
        .await;
    let doc = scraper::Html::parse_document(&html);
    let row = scraper::Selector::parse("table#devices tbody tr").expect("sel");
    let cell = |tr: &scraper::ElementRef, c: &str| {
        let s = scraper::Selector::parse(&format!("td.{c}")).expect("sel");
        tr.select(&s)
            .next()
            .map(|e| e.text().collect::<String>().trim().to_owned())
            .unwrap_or_default()
    };
    doc.select(&row)
        .map(|tr| {
            (
                tr.value().attr("data-mdn").unwrap_or_default().to_owned(),
                cell(&tr, "col-network"),
                cell(&tr, "col-device"),
                cell(&tr, "col-imei"),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_role_and_action_through_the_console() {
    let app = spawn_app().await;
    // Learn the data as super (the simulator's deterministic groups).
    app.sign_in("super").await;
    let all = lines(&app, CORP).await;
    assert!(all.len() >= 400, "NORTHSTAR-ISD lines: {}", all.len());
    let arcnt = all
        .iter()
        .find(|l| l.1 == "ARCNT")
        .expect("an ARCNT line")
        .0
        .clone();
    let spots: Vec<String> = all
        .iter()
        .filter(|l| l.2.contains("SmartSpot") && !l.3.is_empty())
        .map(|l| l.3.clone())
        .take(2)
        .collect();
    assert_eq!(spots.len(), 2, "two SmartSpot devices");
    let plain: Vec<String> = all
        .iter()
        .filter(|l| l.1 != "ARCNT" && !l.2.contains("SmartSpot"))
        .map(|l| l.0.clone())
        .collect();
    let body14 = "35000000000001";
    let new_imei = format!("{body14}{}", luhn_check_digit(body14));
    let health_mdn = "521-267-1508".to_owned();

    let mut seen_tokens: Vec<String> = Vec::new();
    for (u, (login, ..)) in USERS.iter().enumerate() {
        let user_app = app.session_as(login).await;
        let m = plain[u * 2].clone();
        let mover = plain[u * 2 + 1].clone();
        let csrf = csrf(&user_app).await;
        let settings = json!({"ssid": "Matrix", "maxClients": 5, "band": "dual", "contentFilterEnabled": true, "hotspotEnabled": false});
        let mut cases = vec![
            read(
                "list",
                "list_devices",
                format!("/devices/{CORP}"),
                format!("/v1.0/devices/{CORP}"),
            ),
            read(
                "totals",
                "device_totals",
                format!("/devices/{CORP}/totals"),
                format!("/v1.0/devices/{CORP}/totals"),
            ),
            read(
                "imei",
                "get_devices_by_imei",
                format!("/devices/{CORP}/imei/{}", spots[0]),
                format!("/v1.0/devices/{CORP}/imei/{}", spots[0]),
            ),
            read(
                "health",
                "device_health",
                format!("/devices/{CORP}/{health_mdn}/health"),
                format!("/v1.0/devices/{CORP}/{health_mdn}/health"),
            ),
            read(
                "smartspot get",
                "get_smartspot_settings",
                format!("/devices/{CORP}/smartspot/{}", spots[0]),
                format!("/v1.0/devices/{CORP}/smartspot-settings/{}", spots[0]),
            ),
            read(
                "statuses",
                "get_possible_statuses",
                format!("/devices/{CORP}/actions/status?mdns={m}"),
                format!("/v1.0/devices/{CORP}/status"),
            ),
            post(
                "status",
                "update_status",
                "status",
                vec![
                    ("mdns", m.clone()),
                    ("status", "SUSPENDED".into()),
                    ("reason", "matrix".into()),
                ],
                "PUT",
                "/status",
                json!({"mdns": [m], "status": "SUSPENDED", "reason": "matrix"}),
            ),
            post(
                "nickname",
                "update_nickname",
                "nickname",
                vec![("mdns", m.clone()), ("nickname", "Matrix".into())],
                "PUT",
                "/nickname",
                json!({"mdns": [m], "nickname": "Matrix"}),
            ),
            post(
                "note",
                "update_note",
                "note",
                vec![("mdns", m.clone()), ("note", "matrix note".into())],
                "PUT",
                "/note",
                json!({"mdns": [m], "note": "matrix note"}),
            ),
            post(
                "filter group",
                "update_filter_group",
                "filter-group",
                vec![("mdns", m.clone()), ("filterGroup", "Staff".into())],
                "PUT",
                "/filterGroup",
                json!({"mdns": [m], "filterGroup": "Staff"}),
            ),
            post(
                "data limits",
                "update_data_limits",
                "data-limits",
                vec![
                    ("mdns", m.clone()),
                    ("monthlyLimit", "1024".into()),
                    ("dailyLimitNone", "true".into()),
                ],
                "PUT",
                "/dataLimits",
                json!({"mdns": [m], "monthlyLimit": 1024.0, "dailyLimit": null}),
            ),
            post(
                "summer usage",
                "update_summer_usage",
                "summer-usage",
                vec![("mdns", m.clone()), ("summerStatus", "ENABLED".into())],
                "PUT",
                "/summerUsage",
                json!({"mdns": [m], "summerStatus": "ENABLED"}),
            ),
            post(
                "mdn custom field",
                "update_mdn_custom_field",
                "mdn-custom-field",
                vec![("mdns", m.clone()), ("mdnCustomField", "Room 9".into())],
                "PUT",
                "/mdnCustomField",
                json!({"mdns": [m], "mdnCustomField": "Room 9"}),
            ),
            post(
                "imei",
                "update_imei",
                "imei",
                vec![("mdns", arcnt.clone()), ("imei", new_imei.clone())],
                "PUT",
                "/imei",
                json!({"mdns": [arcnt], "imei": new_imei}),
            ),
            post(
                "delete labels",
                "bulk_delete_labels",
                "delete-labels",
                vec![("mdns", m.clone())],
                "DELETE",
                "/bulkDeleteLabels",
                json!({"mdns": [m]}),
            ),
            post(
                "smartspot one",
                "update_smartspot_settings",
                "smartspot-settings",
                vec![
                    ("imeis", spots[0].clone()),
                    ("ssid", "Matrix".into()),
                    ("maxClients", "5".into()),
                    ("band", "dual".into()),
                    ("contentFilterEnabled", "true".into()),
                ],
                "PUT",
                "/smartspot-settings",
                {
                    let mut b = settings.clone();
                    b["imei"] = json!(spots[0]);
                    b
                },
            ),
            post(
                "smartspot multi",
                "update_smartspot_settings_multi",
                "smartspot-settings",
                vec![
                    ("imeis", spots[0].clone()),
                    ("imeis", spots[1].clone()),
                    ("ssid", "Matrix".into()),
                    ("maxClients", "5".into()),
                    ("band", "dual".into()),
                    ("contentFilterEnabled", "true".into()),
                ],
                "PUT",
                "/smartspot-settings-multi",
                json!({"imeis": spots, "settings": settings}),
            ),
        ];
        // Last: the move takes the line out of the group.
        let mut mv = post(
            "device group",
            "update_device_group",
            "device-group",
            vec![("mdns", mover.clone()), ("deviceGroup", OTHER.into())],
            "PUT",
            "/deviceGroup",
            json!({"mdns": [mover], "deviceGroup": OTHER}),
        );
        mv.target = Some(OTHER);
        cases.push(mv);

        for corp in [CORP, OTHER] {
            if corp == OTHER && *login != "limited" {
                continue; // everyone else may open both; `limited` shows the corp_ids rule
            }
            for c in &cases {
                app.sim.sim.clear_requests();
                let resp = match &c.get {
                    Some(path) => user_app.get(&path.replace(CORP, corp)).await,
                    None => {
                        let mut form = as_pairs(&c.form);
                        form.push(("confirmed", "true"));
                        user_app.post_action(corp, c.action, &form, &csrf).await
                    }
                };
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let reqs = app.sim.sim.api_requests();
                let allowed = vendor_allows(login, c.op, corp, c.target);
                let what = format!("{login} × {} on {corp}", c.name);
                if !allowed && c.get.is_none() && may_request(login, c.op, corp) {
                    // A request: with a reason it waits for approval (303 to it), without one
                    // the form asks for one (400); either way nothing reaches the upstream.
                    assert!(
                        status == 303 || (status == 400 && text.contains("Say why you ask")),
                        "{what}: expected a request, got {status}: {text:.300}"
                    );
                    assert!(
                        reqs.is_empty(),
                        "{what}: a request reached the upstream: {reqs:?}"
                    );
                    continue;
                } else if !allowed
                    && c.get.is_some()
                    && (may_request(login, c.op, corp)
                        // The status form of a requester offers the documented statuses
                        // instead of asking Sentinel's list, which their token may not read.
                        || (c.op == "get_possible_statuses"
                            && may_request(login, "update_status", corp)))
                {
                    assert_eq!(status, 200, "{what}: the request form, got {status}");
                    // Only a read the role may make: the selection's first lines named.
                    assert!(
                        reqs.iter().all(|r| r.method == "GET"
                            && vendor_allows(login, "list_devices", corp, None)),
                        "{what}: {reqs:?}"
                    );
                    assert!(text.contains("id=\"request-note\""), "{what}: {text:.300}");
                    continue;
                } else if !allowed {
                    assert_eq!(
                        status, 403,
                        "{what}: expected 403, got {status}: {text:.300}"
                    );
                    assert!(
                        reqs.is_empty(),
                        "{what}: refused but reached the upstream: {reqs:?}"
                    );
                    continue;
                }
                assert_ne!(status, 403, "{what}: refused: {text:.300}");
                let expected_path = c.path_suffix.replace(CORP, corp);
                let matching: Vec<_> = reqs
                    .iter()
                    .filter(|r| r.method == c.method && r.path.ends_with(&expected_path))
                    .collect();
                assert_eq!(
                    matching.len(),
                    1,
                    "{what}: expected one {} …{expected_path}, got {reqs:?}",
                    c.method
                );
                if c.get.is_none() {
                    // Reads of the lines' values before the change may precede it.
                    let writes = reqs
                        .iter()
                        .filter(|r| r.method != "GET" && !r.path.ends_with("/customizedList"))
                        .count();
                    assert_eq!(
                        writes, 1,
                        "{what}: a confirmed change is exactly one upstream write: {reqs:?}"
                    );
                    assert_eq!(status, 303, "{what}: {text:.300}");
                }
                let r = matching[0];
                let auth = r.authorization.clone().unwrap_or_default();
                assert!(
                    auth.starts_with("Bearer ") && auth.len() > 20,
                    "{what}: {auth}"
                );
                assert!(!r.has_cookie, "{what}: a cookie reached the upstream");
                if !seen_tokens.contains(&auth) {
                    seen_tokens.push(auth);
                }
                if let Some(expected) = &c.body {
                    let got: Value = serde_json::from_str(&r.body).expect("JSON body");
                    assert_eq!(&got, expected, "{what}: body");
                }
            }
        }
    }
    // Every user's calls carried that user's own token.
    assert!(
        seen_tokens.len() >= USERS.len(),
        "tokens: {}",
        seen_tokens.len()
    );
}
