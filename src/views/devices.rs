//! Views of the device list (page, results fragment, totals), device-group picker, IMEI look-up and health.

use askama::Template;
use askama_web::WebTemplate;

use crate::domain::{CorpId, ListQuery, PAGE_SIZES, SortDir, SortField, TableColumn, TableColumns};
use crate::paths::{self, Href};
use crate::upstream::wire::{Device, Health, Totals};
use crate::views::Layout;
use crate::views::format::{count, data_limit, data_size, status_class, status_label};

/// One label chip in a row; its link adds the label to the filter.
#[derive(Debug, Clone)]
pub struct LabelChip {
    pub id: i64,
    pub name: String,
    pub href: Href,
}

/// One row of the device table, already formatted.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub mdn: String,
    pub line_href: Href,
    pub health_href: Href,
    pub nickname: String,
    pub status: String,
    pub status_class: &'static str,
    pub online: Option<bool>,
    pub network: String,
    pub device_name: String,
    pub filter_group: String,
    pub imei: String,
    pub imei_href: Option<Href>,
    pub asset_tag: String,
    pub media_center_status: String,
    pub esn_hex: String,
    pub uicc: String,
    pub monthly_limit: String,
    pub monthly_limit_raw: String,
    pub daily_limit: String,
    pub daily_limit_raw: String,
    pub monthly_used: String,
    pub monthly_used_raw: String,
    pub day_used: String,
    pub day_used_raw: String,
    pub last30: String,
    pub last30_raw: String,
    pub labels: Vec<LabelChip>,
    pub show_health: bool,
}

fn raw(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

impl DeviceRow {
    pub fn new(corp: &CorpId, d: &Device, q: &ListQuery) -> Self {
        Self::showing(corp, d, q, &TableColumns::default())
    }

    /// A row whose label links keep the list's `columns`.
    pub fn showing(corp: &CorpId, d: &Device, q: &ListQuery, columns: &TableColumns) -> Self {
        let status = text(&d.status);
        let labels = d
            .labels
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                let mut nq = q.clone();
                let mut ids = nq.labels.ids().to_vec();
                if !ids.contains(&l.id) {
                    ids.push(l.id);
                }
                nq.labels = crate::domain::LabelIds::from_ids(ids);
                nq.offset = 0;
                LabelChip {
                    id: l.id,
                    name: l.name.clone(),
                    href: paths::devices_showing(corp, &nq, columns),
                }
            })
            .collect();
        Self {
            mdn: d.mdn.clone(),
            line_href: paths::line(corp, &d.mdn),
            health_href: paths::health(corp, &d.mdn),
            nickname: text(&d.nickname),
            status_class: status_class(&status),
            status: status_label(&status),
            online: d.online_status,
            network: text(&d.network),
            device_name: text(&d.device_name),
            filter_group: text(&d.filter_group),
            imei: text(&d.imei),
            imei_href: d
                .imei
                .as_deref()
                .filter(|i| !i.is_empty())
                .map(|i| paths::imei(corp, i)),
            asset_tag: text(&d.mdn_custom_field),
            media_center_status: status_label(&text(&d.media_center_status)),
            esn_hex: text(&d.esn_hex),
            uicc: text(&d.uicc),
            monthly_limit: data_limit(d.monthly_limit),
            monthly_limit_raw: raw(d.monthly_limit),
            daily_limit: data_limit(d.daily_limit),
            daily_limit_raw: raw(d.daily_limit),
            monthly_used: data_size(d.monthly_amount_used),
            monthly_used_raw: raw(d.monthly_amount_used),
            day_used: data_size(d.day_amount_used),
            day_used_raw: raw(d.day_amount_used),
            last30: data_size(d.last30_days_used),
            last30_raw: raw(d.last30_days_used),
            labels,
            show_health: d.show_health_status.unwrap_or(false),
        }
    }
}

/// A column header; sortable ones link to the list sorted by them.
#[derive(Debug, Clone)]
pub struct HeaderCell {
    pub label: &'static str,
    pub class: String,
    pub sort: Option<&'static str>,
    pub href: Href,
    /// `ascending` / `descending`, for `aria-sort` on the sorted column only.
    pub aria_sort: Option<&'static str>,
    pub indicator: &'static str,
}

/// A column's CSS class: `col-<key>` (and `num` for numbers).
pub fn column_class(c: TableColumn) -> String {
    if c.numeric() {
        format!("col-{} num", c.key())
    } else {
        format!("col-{}", c.key())
    }
}

fn headers(corp: &CorpId, q: &ListQuery, columns: &TableColumns) -> Vec<HeaderCell> {
    columns
        .all()
        .iter()
        .map(|&c| match c.sort() {
            None => HeaderCell {
                label: c.label(),
                class: column_class(c),
                sort: None,
                href: Href::default(),
                aria_sort: None,
                indicator: "",
            },
            Some(s) => {
                let active = s == q.sort;
                let mut nq = q.clone();
                nq.sort = s;
                // Clicking the active column flips it; a new column starts ascending
                // (usage columns start descending: the heaviest users first).
                nq.sort_dir = if active {
                    q.sort_dir.flip()
                } else if matches!(
                    s,
                    SortField::Last30DaysUsed
                        | SortField::MonthlyAmountUsed
                        | SortField::DayAmountUsed
                ) {
                    SortDir::Desc
                } else {
                    SortDir::Asc
                };
                nq.offset = 0;
                HeaderCell {
                    label: c.label(),
                    class: column_class(c),
                    sort: Some(s.as_str()),
                    href: paths::devices_showing(corp, &nq, columns),
                    aria_sort: match (active, q.sort_dir) {
                        (false, _) => None,
                        (true, SortDir::Asc) => Some("ascending"),
                        (true, SortDir::Desc) => Some("descending"),
                    },
                    indicator: match (active, q.sort_dir) {
                        (false, _) => "",
                        (true, SortDir::Asc) => "▲",
                        (true, SortDir::Desc) => "▼",
                    },
                }
            }
        })
        .collect()
}

/// The totals strip: the whole device group's active / suspended / all lines (Sentinel's totals
/// search fewer fields than its list, so a search's count comes from the list alone).
#[derive(Template, WebTemplate, Debug, Clone)]
#[template(path = "fragments/totals.html")]
pub struct TotalsFragment {
    pub totals: Option<Totals>,
    /// Why the totals are missing, when they are.
    pub problem: Option<String>,
}

impl TotalsFragment {
    pub fn count(&self, n: &u64) -> String {
        count(*n)
    }
}

/// An active label filter with a link that removes it.
#[derive(Debug, Clone)]
pub struct ActiveLabel {
    pub id: i64,
    pub name: String,
    pub remove_href: Href,
}

/// The part of the list page that htmx swaps: totals, filters, table, pagination.
#[derive(Template, WebTemplate, Debug, Clone)]
#[template(path = "fragments/device_results.html")]
pub struct DeviceResults {
    pub corp: String,
    pub list_href: Href,
    pub headers: Vec<HeaderCell>,
    pub columns: Vec<TableColumn>,
    pub rows: Vec<DeviceRow>,
    pub total_count: u64,
    pub from: u64,
    pub to: u64,
    pub prev_href: Option<Href>,
    pub next_href: Option<Href>,
    pub first_href: Option<Href>,
    pub last_href: Option<Href>,
    pub page: u64,
    pub pages: u64,
    pub search: String,
    pub active_labels: Vec<ActiveLabel>,
    pub clear_href: Href,
    /// The CSV export of these lines (its column picker).
    pub export_href: Href,
    /// The sorted column: its cells carry their raw value (`data-value`).
    pub sorted: Option<TableColumn>,
    /// The selection form's target (the bar's buttons choose the action).
    pub selection_href: Href,
    /// The list state (sort, direction, labels) for the controls form.
    pub state: ListState,
    /// In an htmx swap, the controls' hidden state is updated out of band.
    pub oob: bool,
    /// Selection checkboxes and the action bar; `None` in the self-service view.
    pub selection: Option<crate::views::actions::SelectionBar>,
    /// A list filtered from the latest sample: its time and chips (issue 24).
    pub snapshot: Option<crate::views::list_filters::SnapshotNote>,
}

/// Hidden inputs that carry the list state the controls form does not show.
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/list_state.html")]
pub struct ListState {
    pub sort: String,
    pub sort_dir: String,
    pub label_ids: String,
    pub oob: bool,
}

/// What the list shows: its query and its columns.
#[derive(Debug, Clone, Copy)]
pub struct ListView<'a> {
    pub corp: &'a CorpId,
    pub q: &'a ListQuery,
    pub columns: &'a TableColumns,
}

impl ListView<'_> {
    fn href(&self, q: &ListQuery) -> Href {
        paths::devices_showing(self.corp, q, self.columns)
    }
}

impl DeviceResults {
    pub fn new(
        view: ListView<'_>,
        devices: &[Device],
        total_count: u64,
        label_names: &[(i64, String)],
        oob: bool,
    ) -> Self {
        let ListView { corp, q, columns } = view;
        let limit = u64::from(q.limit.get());
        let shown = devices.len() as u64;
        let from = if shown == 0 { 0 } else { q.offset + 1 };
        let to = q.offset + shown;
        let page_at = |offset: u64| {
            let mut nq = q.clone();
            nq.offset = offset;
            view.href(&nq)
        };
        let last_offset = if total_count == 0 {
            0
        } else {
            ((total_count - 1) / limit) * limit
        };
        let prev = (q.offset > 0).then(|| page_at(q.offset.saturating_sub(limit)));
        let next = (to < total_count && shown > 0).then(|| page_at(q.offset + limit));
        let active_labels = q
            .labels
            .ids()
            .iter()
            .map(|id| {
                let mut nq = q.clone();
                nq.labels = crate::domain::LabelIds::from_ids(
                    q.labels.ids().iter().copied().filter(|x| x != id).collect(),
                );
                nq.offset = 0;
                ActiveLabel {
                    id: *id,
                    name: label_names
                        .iter()
                        .find(|(i, _)| i == id)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_else(|| format!("Label {id}")),
                    remove_href: view.href(&nq),
                }
            })
            .collect();
        let cleared = ListQuery {
            limit: q.limit,
            ..ListQuery::default()
        };
        Self {
            corp: corp.to_string(),
            list_href: view.href(q),
            headers: headers(corp, q, columns),
            columns: columns.all().to_vec(),
            rows: devices
                .iter()
                .map(|d| DeviceRow::showing(corp, d, q, columns))
                .collect(),
            total_count,
            from,
            to,
            first_href: prev.as_ref().map(|_| page_at(0)),
            last_href: next.as_ref().map(|_| page_at(last_offset)),
            prev_href: prev,
            next_href: next,
            page: q.offset / limit + 1,
            pages: total_count.div_ceil(limit).max(1),
            search: q.search.as_str().to_owned(),
            active_labels,
            clear_href: view.href(&cleared),
            export_href: paths::export_picker(corp, q),
            sorted: columns
                .all()
                .iter()
                .copied()
                .find(|c| c.sort() == Some(q.sort)),
            // The form's default target (each action's button sets its own `formaction`).
            selection_href: crate::actions::ActionKind::all()
                .next()
                .map_or_else(|| paths::group(corp), |k| paths::action(corp, k)),
            state: ListState {
                sort: q.sort.as_str().to_owned(),
                sort_dir: q.sort_dir.as_str().to_owned(),
                label_ids: q.labels.to_param(),
                oob,
            },
            oob,
            selection: None,
            snapshot: None,
        }
    }

    /// A count for people (`1,234`).
    pub fn count(&self, n: &u64) -> String {
        count(*n)
    }
}

/// A page-size choice in the controls.
#[derive(Debug, Clone)]
pub struct PageSizeOption {
    pub value: u32,
    pub selected: bool,
}

/// The device list page: the controls and the results fragment.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/devices.html")]
pub struct DevicesPage {
    pub layout: Layout,
    pub corp: String,
    pub corp_description: String,
    pub action: Href,
    pub search: String,
    pub page_sizes: Vec<PageSizeOption>,
    pub other_groups: Vec<GroupLink>,
    /// The device group's totals.
    pub totals: TotalsFragment,
    pub results: DeviceResults,
    /// The overview's link, where the scope table shows it.
    pub overview_href: Option<String>,
    /// The usage history's link, and whether tracking is paused (issue 24).
    pub usage: Option<crate::views::usage::UsageLink>,
    /// The CSV import's link, when the user may change an importable column.
    pub import_href: Option<String>,
    /// A tracked group's filters from its latest sample (issue 24).
    pub filters: Option<crate::views::list_filters::ListFilters>,
    /// The column chooser's boxes.
    pub chooser: Vec<ColumnChoice>,
}

/// One box of the column chooser.
#[derive(Debug, Clone)]
pub struct ColumnChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

impl ColumnChoice {
    /// Every column but the MDN (always shown), ticked when shown.
    pub fn all(columns: &TableColumns) -> Vec<Self> {
        TableColumn::ALL
            .iter()
            .filter(|c| **c != TableColumn::Mdn)
            .map(|&c| Self {
                key: c.key(),
                label: c.label(),
                checked: columns.contains(c),
            })
            .collect()
    }
}

impl DevicesPage {
    pub fn page_sizes(q: &ListQuery) -> Vec<PageSizeOption> {
        // The menu's sizes, plus the one in the URL (selected) when it is another value.
        let current = q.limit.get();
        let mut sizes = PAGE_SIZES.to_vec();
        if !sizes.contains(&current) {
            sizes.push(current);
            sizes.sort_unstable();
        }
        sizes
            .into_iter()
            .map(|v| PageSizeOption {
                value: v,
                selected: v == current,
            })
            .collect()
    }
}

/// A device group the user may open.
#[derive(Debug, Clone)]
pub struct GroupLink {
    pub corp: String,
    pub href: Href,
    /// Sentinel's description of the group (the picker reads it).
    pub description: String,
    /// "499 lines", or why it could not be read (the picker).
    pub lines: String,
}

impl GroupLink {
    pub fn new(corp: &CorpId) -> Self {
        Self {
            corp: corp.to_string(),
            href: paths::group(corp),
            description: String::new(),
            lines: String::new(),
        }
    }
}

/// The device-group picker (`GET /` with several groups, or none known).
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/groups.html")]
pub struct GroupsPage {
    pub layout: Layout,
    pub groups: Vec<GroupLink>,
    /// The form for a typed device group id.
    pub open_href: Href,
}

/// Devices carrying one IMEI.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/imei.html")]
pub struct ImeiPage {
    pub layout: Layout,
    pub corp: String,
    pub back_href: Href,
    pub imei: String,
    pub rows: Vec<DeviceRow>,
    pub smartspot_href: Href,
}

/// One line's health.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/health.html")]
pub struct HealthPage {
    pub layout: Layout,
    pub corp: String,
    pub back_href: Href,
    pub mdn: String,
    pub health: Option<Health>,
    /// Why there is no health to show (404 / 409 from Sentinel), shown in place.
    pub unavailable: Option<String>,
}
