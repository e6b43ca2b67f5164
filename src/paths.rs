//! Owns every console URL: one function per route (CONTRACT §4), and the only place that percent-encodes.
//!
//! Handlers and views ask here for finished [`Href`]s and hand them to templates, which print
//! them and never assemble a URL. Path segments and query values are encoded the way browsers
//! encode forms (`application/x-www-form-urlencoded`), except that a space in a path segment is
//! `%20` (`+` is literal there).

use std::fmt;

use url::form_urlencoded;

use crate::actions::ActionKind;
use crate::domain::{Column, CorpId, ListQuery, SearchValue, TableColumns};
use crate::storage::audit::AuditFilter;

mod portal;
mod resume;
mod usage;
pub use portal::*;
pub use resume::*;
pub use usage::*;

/// A console URL (path and query), already encoded; templates print it as is (HTML-escaped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Href(String);

impl Href {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// This path with `pairs` as its query (`?` only when there is one).
    fn with_query<K: AsRef<str>, V: AsRef<str>>(
        path: String,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let q = query_string(pairs);
        if q.is_empty() {
            Self(path)
        } else {
            Self(format!("{path}?{q}"))
        }
    }
}

impl fmt::Display for Href {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Href {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Href> for String {
    fn from(h: Href) -> Self {
        h.0
    }
}

impl PartialEq<&str> for Href {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One path segment, percent-encoded (a `/` in a value stays inside its segment).
fn seg(value: impl fmt::Display) -> String {
    form_urlencoded::byte_serialize(value.to_string().as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `k=v&k=v`, form-encoded; the one query encoder.
pub fn query_string<K: AsRef<str>, V: AsRef<str>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k.as_ref(), v.as_ref());
    }
    s.finish()
}

fn group_path(corp: &CorpId) -> String {
    format!("/devices/{}", seg(corp))
}

/// `GET /`: the user's device group or the picker.
pub fn home() -> Href {
    Href("/".into())
}

/// `GET /open?corpId=…`: the picker's form (the browser adds the query).
pub fn open() -> Href {
    Href("/open".into())
}

/// `GET /devices/{corpId}`: the list at its defaults (no query).
pub fn group(corp: &CorpId) -> Href {
    Href(group_path(corp))
}

/// `GET /devices/{corpId}?…`: the list showing `q`.
pub fn devices(corp: &CorpId, q: &ListQuery) -> Href {
    Href(format!(
        "{}?{}",
        group_path(corp),
        query_string(q.to_pairs())
    ))
}

/// A local path and query the console already holds (the page a person was on), as a link; anything
/// else is the home page.
pub fn local(path_and_query: &str) -> Href {
    if path_and_query.starts_with('/') && !path_and_query.starts_with("//") {
        Href(path_and_query.to_owned())
    } else {
        home()
    }
}

/// `GET /devices/{corpId}?…&columns=…`: the list showing `q` in `columns` (left out at their default),
/// so the address shares the view.
pub fn devices_showing(corp: &CorpId, q: &ListQuery, columns: &TableColumns) -> Href {
    let mut pairs: Vec<(&str, String)> = q.to_pairs();
    if !columns.is_default() {
        pairs.push(("columns", columns.to_param()));
    }
    Href::with_query(group_path(corp), pairs)
}

/// `GET /devices/{corpId}/totals?searchValue=…`
pub fn totals(corp: &CorpId, search: &SearchValue) -> Href {
    Href::with_query(
        format!("{}/totals", group_path(corp)),
        (!search.is_empty()).then(|| ("searchValue", search.as_str())),
    )
}

/// `GET /devices/{corpId}/export.csv` without a query: the column picker's form target.
pub fn export_form(corp: &CorpId) -> Href {
    Href(format!("{}/export.csv", group_path(corp)))
}

/// `GET /devices/{corpId}/export?…`: the export's column picker for the list showing `q`.
pub fn export_picker(corp: &CorpId, q: &ListQuery) -> Href {
    let pairs = q
        .to_pairs()
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "offset" | "limit"));
    Href::with_query(format!("{}/export", group_path(corp)), pairs)
}

/// `GET /devices/{corpId}/export.csv?…`: the list's filter and sort, and `columns`.
pub fn export(corp: &CorpId, q: &ListQuery, columns: &[Column]) -> Href {
    let mut pairs: Vec<(&str, String)> = q
        .to_pairs()
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "offset" | "limit"))
        .collect();
    if !columns.is_empty() {
        let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
        pairs.push(("columns", names.join(",")));
    }
    Href::with_query(export_form(corp).0, pairs)
}

/// `GET /devices/{corpId}/line/{mdn}`: one line.
pub fn line(corp: &CorpId, mdn: impl fmt::Display) -> Href {
    Href(format!("{}/line/{}", group_path(corp), seg(mdn)))
}

/// `GET /devices/{corpId}/{mdn}/health`
pub fn health(corp: &CorpId, mdn: impl fmt::Display) -> Href {
    Href(format!("{}/{}/health", group_path(corp), seg(mdn)))
}

/// `GET /devices/{corpId}/imei/{imei}`
pub fn imei(corp: &CorpId, imei: impl fmt::Display) -> Href {
    Href(format!("{}/imei/{}", group_path(corp), seg(imei)))
}

/// `GET /devices/{corpId}/smartspot/{imei}`
pub fn smartspot(corp: &CorpId, imei: impl fmt::Display) -> Href {
    Href(format!("{}/smartspot/{}", group_path(corp), seg(imei)))
}

/// `GET|POST /devices/{corpId}/actions/{action}`: the action's form (GET) and the change (POST).
pub fn action(corp: &CorpId, kind: ActionKind) -> Href {
    Href(format!("{}/actions/{}", group_path(corp), seg(kind.slug())))
}

/// `GET /devices/{corpId}/actions/{action}?mdns=…`: the action's form for these lines.
pub fn action_for_lines<M: fmt::Display>(
    corp: &CorpId,
    kind: ActionKind,
    mdns: impl IntoIterator<Item = M>,
) -> Href {
    Href::with_query(
        action(corp, kind).0,
        mdns.into_iter().map(|m| ("mdns", m.to_string())),
    )
}

/// `GET /devices/{corpId}/actions/{action}?…`: the action's form for a selection, pre-filled
/// with the given field values (e.g. "Schedule the reverse").
pub fn action_form_with(corp: &CorpId, kind: ActionKind, pairs: &[(String, String)]) -> Href {
    Href::with_query(
        action(corp, kind).0,
        pairs.iter().map(|(k, v)| (k.as_str(), v.clone())),
    )
}

/// `POST /devices/{corpId}/actions/{action}/form`: the form for a selection too long for a URL.
pub fn action_form(corp: &CorpId, kind: ActionKind) -> Href {
    Href(format!("{}/form", action(corp, kind)))
}

/// `GET /jobs/{id}`: a background change's progress.
pub fn job(id: impl fmt::Display) -> Href {
    Href(format!("/jobs/{}", seg(id)))
}

fn audit_pairs(f: &AuditFilter, offset: Option<u64>) -> Vec<(&'static str, String)> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut p: Vec<(&str, String)> = Vec::new();
    if let Some(s) = &f.subject {
        p.push(("user", s.clone()));
    }
    if let Some(s) = &f.action {
        p.push(("action", s.clone()));
    }
    if let Some(s) = &f.corp_id {
        p.push(("corpId", s.clone()));
    }
    if let Some(d) = f.from.and_then(|d| d.format(&fmt).ok()) {
        p.push(("from", d));
    }
    if let Some(d) = f.to.and_then(|d| d.format(&fmt).ok()) {
        p.push(("to", d));
    }
    if let Some(o) = offset.filter(|o| *o > 0) {
        p.push(("offset", o.to_string()));
    }
    p
}

/// `GET /audit` without a query: the filter form's target.
pub fn audit_form() -> Href {
    Href("/audit".into())
}

/// `GET /audit?…`: the audit log filtered by `f`, from `offset`.
pub fn audit(f: &AuditFilter, offset: Option<u64>) -> Href {
    Href(format!("/audit?{}", query_string(audit_pairs(f, offset))))
}

/// `GET /audit?corpId=…`: one device group's changes.
pub fn audit_of_group(corp: &CorpId) -> Href {
    audit(
        &AuditFilter {
            corp_id: Some(corp.to_string()),
            ..AuditFilter::default()
        },
        None,
    )
}

/// `GET /audit.csv?…`: every record matching `f`.
pub fn audit_csv(f: &AuditFilter) -> Href {
    Href(format!("/audit.csv?{}", query_string(audit_pairs(f, None))))
}

/// `GET /login` without a query: the password form's target.
pub fn login_form() -> Href {
    Href("/login".into())
}

/// `GET /login?next=…`: sign in, then come back to `next` (a local path).
pub fn login(next: &str) -> Href {
    Href::with_query(login_form().0, [("next", next)])
}

/// Is `target` (a `Location` value) the sign-in page?
pub fn is_login(target: &str) -> bool {
    let login = login_form();
    target == login.as_str()
        || target
            .strip_prefix(login.as_str())
            .is_some_and(|rest| rest.starts_with('?'))
}

/// `GET /auth/callback`: the OAuth redirect URI's path (after `PUBLIC_URL`).
pub fn auth_callback() -> Href {
    Href("/auth/callback".into())
}

/// `POST /logout`
pub fn logout() -> Href {
    Href("/logout".into())
}

/// `GET /signed-out`
pub fn signed_out() -> Href {
    Href("/signed-out".into())
}

/// `GET /changes?state=…&mine=1`: the change sets the user may see.
pub fn changes(state: Option<&str>, mine: bool) -> Href {
    let mut p: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = state {
        p.push(("state", s));
    }
    if mine {
        p.push(("mine", "1"));
    }
    Href::with_query("/changes".into(), p)
}

/// `GET /changes/{id}`: one change set.
pub fn change(id: impl fmt::Display) -> Href {
    Href(format!("/changes/{}", seg(id)))
}

/// `GET /changes?state=…&mine=1&offset=…`: a page of the change sets list.
pub fn changes_page(state: Option<&str>, mine: bool, offset: u64) -> Href {
    let off = offset.to_string();
    let mut p: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = state {
        p.push(("state", s));
    }
    if mine {
        p.push(("mine", "1"));
    }
    if offset > 0 {
        p.push(("offset", off.as_str()));
    }
    Href::with_query("/changes".to_owned(), p)
}

/// `GET /changes/{id}?part=lines&outcome=…&offset=…`: the lines fragment, filtered and paged.
pub fn change_lines(id: impl fmt::Display, outcome: Option<&str>, offset: u64) -> Href {
    let off = offset.to_string();
    let mut p: Vec<(&str, &str)> = vec![("part", "lines")];
    if let Some(o) = outcome {
        p.push(("outcome", o));
    }
    if offset > 0 {
        p.push(("offset", off.as_str()));
    }
    Href::with_query(change(id).0, p)
}

/// `GET /changes/{id}?outcome=…`: one change set's lines with that outcome.
pub fn change_outcome(id: impl fmt::Display, outcome: &str) -> Href {
    Href::with_query(change(id).0, [("outcome", outcome)])
}

/// `GET /changes/{id}?via=portal`: a change made from the portal, whose result leads back to it.
pub fn change_from_portal(id: impl fmt::Display) -> Href {
    Href::with_query(change(id).0, [("via", "portal")])
}

/// `GET /devices/{corpId}/actions/{action}?mdns=…&via=portal`: a change (or request) for one line
/// from the portal, whose result leads back to the line's card.
pub fn action_from_portal(corp: &CorpId, kind: ActionKind, mdn: &str) -> Href {
    Href::with_query(
        action(corp, kind).0,
        [("mdns", mdn.to_owned()), ("via", "portal".to_owned())],
    )
}

/// `GET /changes/{id}/lines.csv`: per-line results.
pub fn change_lines_csv(id: impl fmt::Display) -> Href {
    Href(format!("{}/lines.csv", change(id)))
}

/// `POST /changes/{id}/retry`: a new change set for the failed lines.
pub fn change_retry(id: impl fmt::Display) -> Href {
    Href(format!("{}/retry", change(id)))
}

/// `POST /changes/{id}/check`: its lines of unknown outcome read again from Sentinel.
pub fn change_check(id: impl fmt::Display) -> Href {
    Href(format!("{}/check", change(id)))
}

/// `GET /changes/{id}?checked=<changed>-<not changed>-<still unknown>`: the page after a check,
/// saying what it found.
pub fn change_checked(id: impl fmt::Display, changed: u64, not_changed: u64, unknown: u64) -> Href {
    Href::with_query(
        change(id).0,
        [("checked", format!("{changed}-{not_changed}-{unknown}"))],
    )
}

/// `POST /changes/{id}/revert`: a new change set back to the before-values.
pub fn change_revert(id: impl fmt::Display) -> Href {
    Href(format!("{}/revert", change(id)))
}

/// `GET /changes/{id}?seen=<state>`: the progress fragment's poll, which reloads the whole page
/// once the state moved on (so its buttons follow the state).
pub fn change_poll(id: impl fmt::Display, seen: &str) -> Href {
    Href::with_query(change(id).0, [("seen", seen)])
}

/// `GET /changes/inbox`: the header's fragment (changes waiting for this user, news of their requests).
pub fn changes_inbox() -> Href {
    Href("/changes/inbox".to_owned())
}

/// `POST /changes/{id}/approve`
pub fn change_approve(id: impl fmt::Display) -> Href {
    Href(format!("{}/approve", change(id)))
}

/// `POST /changes/{id}/reject` (`reason`)
pub fn change_reject(id: impl fmt::Display) -> Href {
    Href(format!("{}/reject", change(id)))
}

/// `POST /changes/{id}/cancel`
pub fn change_cancel(id: impl fmt::Display) -> Href {
    Href(format!("{}/cancel", change(id)))
}

/// `GET /devices/{corpId}/overview`: the device group at a glance.
pub fn overview(corp: &CorpId) -> Href {
    Href(format!("{}/overview", group_path(corp)))
}

/// `GET /devices/{corpId}/overview?idle_mb=…`: the overview with an idle threshold.
pub fn overview_at(corp: &CorpId, idle_mb: u32) -> Href {
    Href::with_query(overview(corp).0, [("idle_mb", idle_mb.to_string())])
}

/// `GET /devices/{corpId}/overview/lines?figure=…`: a figure's lines, ready for a bulk action.
pub fn overview_lines(corp: &CorpId, figure: &[(&'static str, String)], idle_mb: u32) -> Href {
    overview_sub(corp, "lines", figure, idle_mb)
}

/// `GET /devices/{corpId}/overview/lines.csv?figure=…`: a figure's lines as CSV.
pub fn overview_lines_csv(corp: &CorpId, figure: &[(&'static str, String)], idle_mb: u32) -> Href {
    overview_sub(corp, "lines.csv", figure, idle_mb)
}

fn overview_sub(
    corp: &CorpId,
    leaf: &str,
    figure: &[(&'static str, String)],
    idle_mb: u32,
) -> Href {
    let idle = idle_mb.to_string();
    Href::with_query(
        format!("{}/{leaf}", overview(corp).0),
        figure
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain([("idle_mb", idle.as_str())]),
    )
}

/// `GET|POST /devices/{corpId}/import`: batch update from a CSV.
pub fn import(corp: &CorpId) -> Href {
    Href(format!("{}/import", group_path(corp)))
}

/// The import's upload target: a multipart form carries its CSRF token in the query, since the
/// token check reads no multipart body (a file may be 20 MiB).
pub fn import_upload(corp: &CorpId, csrf: &str) -> Href {
    Href::with_query(import(corp).0, [("csrf_token", csrf)])
}

/// Is `path` the import's upload route (`/devices/{corpId}/import`, as [`import`] builds it),
/// the one route whose multipart form may carry its CSRF token in the query?
pub fn is_import_upload(path: &str) -> bool {
    path.strip_prefix("/devices/")
        .and_then(|rest| rest.strip_suffix("/import"))
        .is_some_and(|corp| !corp.is_empty() && !corp.contains('/'))
}

/// `GET /portal?q=…`: the self-service portal (no query when `q` is empty).
pub fn portal(q: &str) -> Href {
    Href::with_query("/portal".into(), (!q.is_empty()).then_some(("q", q)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RawListQuery, SortDir, SortField};

    fn corp(s: &str) -> CorpId {
        CorpId::parse(s).unwrap()
    }

    fn kind(slug: &str) -> ActionKind {
        ActionKind::from_slug(slug).unwrap()
    }

    #[test]
    fn segments_are_encoded_and_stay_one_segment() {
        assert_eq!(seg("a b&c/d%e"), "a%20b%26c%2Fd%25e");
        assert_eq!(seg("Zoë+1"), "Zo%C3%AB%2B1");
        assert_eq!(
            line(&corp("NORTHSTAR-ISD"), "521-267-1508"),
            "/devices/NORTHSTAR-ISD/line/521-267-1508"
        );
        assert_eq!(imei(&corp("G"), "x/../y"), "/devices/G/imei/x%2F..%2Fy");
        assert_eq!(health(&corp("G"), "1 2"), "/devices/G/1%202/health");
        assert_eq!(smartspot(&corp("G"), "35"), "/devices/G/smartspot/35");
        assert_eq!(job("a/b"), "/jobs/a%2Fb");
    }

    #[test]
    fn list_query_round_trips_through_the_parser() {
        let raw = RawListQuery {
            offset: Some("50".into()),
            limit: Some("25".into()),
            sort: Some("STATUS".into()),
            sort_dir: Some("DESC".into()),
            search_value: Some("Bus 47 & co / 100% Zoë".into()),
            label_ids: Some("3,7".into()),
        };
        let q = ListQuery::parse(&raw).unwrap();
        assert_eq!(q.sort, SortField::Status);
        assert_eq!(q.sort_dir, SortDir::Desc);
        let href = devices(&corp("NORTHSTAR-ISD"), &q);
        let (path, query) = href.as_str().split_once('?').unwrap();
        assert_eq!(path, "/devices/NORTHSTAR-ISD");
        assert!(
            query.contains("searchValue=Bus+47+%26+co+%2F+100%25+Zo%C3%AB"),
            "{query}"
        );
        let back: RawListQuery = serde_urlencoded::from_str(query).unwrap();
        assert_eq!(ListQuery::parse(&back).unwrap(), q);
    }

    #[test]
    fn export_carries_filter_and_columns_not_paging() {
        let q = ListQuery::parse(&RawListQuery {
            offset: Some("50".into()),
            search_value: Some("a&b".into()),
            ..RawListQuery::default()
        })
        .unwrap();
        let h = export(&corp("G"), &q, &[Column::Mdn, Column::Status]);
        let query = h.as_str().strip_prefix("/devices/G/export.csv?").unwrap();
        assert!(
            !query.contains("offset") && !query.contains("limit"),
            "{query}"
        );
        assert!(query.contains("searchValue=a%26b"), "{query}");
        assert!(query.ends_with("columns=MDN%2CSTATUS"), "{query}");
        assert_eq!(export_form(&corp("G")), "/devices/G/export.csv");
    }

    #[test]
    fn actions_and_login() {
        let g = corp("G");
        assert_eq!(action(&g, kind("nickname")), "/devices/G/actions/nickname");
        assert_eq!(
            action_form(&g, kind("nickname")),
            "/devices/G/actions/nickname/form"
        );
        assert_eq!(
            action_for_lines(&g, kind("status"), ["521-267-1508"]),
            "/devices/G/actions/status?mdns=521-267-1508"
        );
        assert_eq!(
            login("/devices/G?a=1&b=2"),
            "/login?next=%2Fdevices%2FG%3Fa%3D1%26b%3D2"
        );
        assert!(is_login("/login") && is_login("/login?next=%2F"));
        assert!(!is_login("/loginx") && !is_login("/logout"));
        assert_eq!(audit_of_group(&g), "/audit?corpId=G");
        assert_eq!(audit_csv(&AuditFilter::default()), "/audit.csv?");
    }

    #[test]
    fn coming_routes() {
        assert_eq!(changes(None, false), "/changes");
        assert_eq!(
            changes(Some("running"), true),
            "/changes?state=running&mine=1"
        );
        assert_eq!(change_lines_csv("7"), "/changes/7/lines.csv");
        assert_eq!(change_retry("7"), "/changes/7/retry");
        assert_eq!(change_revert("7"), "/changes/7/revert");
        assert_eq!(portal("a b&c"), "/portal?q=a+b%26c");
        assert_eq!(portal(""), "/portal");
        assert_eq!(import(&corp("G")), "/devices/G/import");
        assert_eq!(
            import_upload(&corp("G"), "a+b"),
            "/devices/G/import?csrf_token=a%2Bb"
        );
        let s = SearchValue::parse("x y").unwrap();
        assert_eq!(totals(&corp("G"), &s), "/devices/G/totals?searchValue=x+y");
    }
}
