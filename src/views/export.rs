//! The CSV export column picker shown on the device list (a plain GET form to the export URL).

use askama::Template;

use crate::domain::{Column, CorpId, ListQuery};
use crate::paths::{self, Href};

/// Columns ticked the first time (and whenever the session remembers nothing usable).
pub const DEFAULT_COLUMNS: [Column; 9] = [
    Column::Mdn,
    Column::Nickname,
    Column::Status,
    Column::Network,
    Column::DeviceName,
    Column::FilterGroup,
    Column::Imei,
    Column::Last30DaysUsed,
    Column::MonthlyLimit,
];

/// One checkbox of the picker.
#[derive(Debug, Clone)]
pub struct ColumnChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// The "Export CSV" panel: every column as a checkbox, the list's state as hidden fields.
#[derive(Template, Debug, Clone)]
#[template(path = "fragments/export_picker.html")]
pub struct ExportPicker {
    /// `/devices/{corpId}/export.csv`
    pub action: Href,
    pub search: String,
    pub label_ids: String,
    pub sort: String,
    pub sort_dir: String,
    pub columns: Vec<ColumnChoice>,
}

impl ExportPicker {
    /// The picker's script, versioned (see [`crate::assets::asset_url`]).
    pub fn script_url(&self) -> String {
        crate::assets::asset_url("export.js")
    }

    /// The picker for the list showing `q`, with `chosen` ticked.
    pub fn new(corp: &CorpId, q: &ListQuery, chosen: &[Column]) -> Self {
        Self {
            action: paths::export_form(corp),
            search: q.search.as_str().to_owned(),
            label_ids: q.labels.to_param(),
            sort: q.sort.as_str().to_owned(),
            sort_dir: q.sort_dir.as_str().to_owned(),
            columns: Column::ALL
                .iter()
                .map(|c| ColumnChoice {
                    value: c.as_str(),
                    label: c.label(),
                    checked: chosen.contains(c),
                })
                .collect(),
        }
    }
}
