//! The CSV export's page: its column picker (a plain GET form to the export URL), MDN first.

use askama::Template;
use askama_web::WebTemplate;

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

/// The columns in the order a file reads best: the line first, then its state, use and limits, then
/// identifiers and the rest.
const EXPORT_ORDER: [Column; 29] = [
    Column::Mdn,
    Column::Nickname,
    Column::Status,
    Column::FilterGroup,
    Column::DeviceName,
    Column::Network,
    Column::MonthlyAmountUsed,
    Column::MonthlyLimit,
    Column::DayAmountUsed,
    Column::DailyLimit,
    Column::Last30DaysUsed,
    Column::Note,
    Column::MdnCustomField,
    Column::Labels,
    Column::Imei,
    Column::Eid,
    Column::Uicc,
    Column::Mac,
    Column::OemSerialNumber,
    Column::SimType,
    Column::Apn,
    Column::MediaCenterStatus,
    Column::SummerStatus,
    Column::EffectiveVpnStatus,
    Column::CorpId,
    Column::CorpDescription,
    Column::Name,
    Column::Description,
    Column::VerizonBiPlanId,
];

/// A column's name on screen (the deployment's words, not the API's).
fn column_label(c: Column) -> &'static str {
    match c {
        Column::MdnCustomField => "Asset tag (MDN custom field)",
        Column::MonthlyAmountUsed => "Used this month",
        Column::Last30DaysUsed => "Used, last 30 days",
        other => other.label(),
    }
}

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
    /// The picker for the list showing `q`, with `chosen` ticked.
    pub fn new(corp: &CorpId, q: &ListQuery, chosen: &[Column]) -> Self {
        Self {
            action: paths::export_form(corp),
            search: q.search.as_str().to_owned(),
            label_ids: q.labels.to_param(),
            sort: q.sort.as_str().to_owned(),
            sort_dir: q.sort_dir.as_str().to_owned(),
            columns: EXPORT_ORDER
                .iter()
                .map(|&c| ColumnChoice {
                    value: c.as_str(),
                    label: column_label(c),
                    checked: chosen.contains(&c),
                })
                .collect(),
        }
    }
}

/// `GET /devices/{corpId}/export`: the picker on a page of its own, back to the list it came from.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/export.html")]
pub struct ExportPage {
    pub layout: crate::views::Layout,
    pub corp: String,
    pub back_href: Href,
    pub search: String,
    pub picker: ExportPicker,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_offers_every_column_once() {
        for c in Column::ALL {
            assert_eq!(EXPORT_ORDER.iter().filter(|x| *x == c).count(), 1, "{c}");
        }
    }
}
