//! Batch update from a spreadsheet (issue 11): an edited export uploaded back, compared with the
//! lines' values now, and applied as one change set.
//!
//! - [`parse`]: the upload parsed as it streams into each line's wanted values (bounded memory)
//! - [`diff`]: those values compared with the group's export, grouped into upstream calls
//! - [`stored`]: the plan kept server-side between the preview and its confirmation
//!
//! The confirmation (`routes::import::apply`) is the one place a plan becomes a change set.

pub mod diff;
pub mod parse;
pub mod stored;

use crate::actions::ActionKind;
use crate::domain::Column;
use crate::policy::import_operation;

pub use diff::{DiffLine, Plan, PlanGroup, Preview};
pub use parse::{FileError, Parser, Upload};

/// Refused rows listed in the preview (all are counted).
pub const REFUSED_SHOWN: usize = 500;
/// Changed cells listed in the preview (all are counted).
pub const DIFF_SHOWN: usize = 200;

/// Why a row of the file cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Why {
    /// The MDN cell is not an MDN.
    NotAnMdn,
    /// The row says (CORP_ID) it is a line of another device group.
    OtherGroup,
    /// No line of this device group has this MDN.
    UnknownMdn,
    /// The MDN is in several rows with different values.
    Duplicate,
    /// A cell is not a value the action's form would accept.
    BadValue,
    /// The user's roles may not change a column this row changes.
    NotAllowed,
    /// The row has fewer cells than the header.
    BadRow,
}

impl Why {
    pub fn label(self) -> &'static str {
        match self {
            Why::NotAnMdn => "not an MDN",
            Why::OtherGroup => "line of another device group",
            Why::UnknownMdn => "unknown MDN (not a line of this device group)",
            Why::Duplicate => "duplicate MDN with different values",
            Why::BadValue => "bad value for the column",
            Why::NotAllowed => "a column your roles may not change",
            Why::BadRow => "row shorter than the header",
        }
    }
}

/// One row that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The spreadsheet's row number (the header is row 1).
    pub row: u32,
    pub mdn: Option<String>,
    pub why: Why,
    pub message: String,
}

/// The catalogue action that changes `column` (the one backed by the column's operation).
pub fn action_of(column: Column) -> Option<ActionKind> {
    let op = import_operation(column)?;
    ActionKind::all().find(|a| a.operation() == op)
}

/// The action form's field a column's value is parsed as.
pub fn field_of(column: Column) -> &'static str {
    match column {
        Column::Nickname => "nickname",
        Column::Note => "note",
        Column::FilterGroup => "filterGroup",
        Column::MdnCustomField => "mdnCustomField",
        Column::Status => "status",
        Column::MonthlyLimit => "monthlyLimit",
        Column::DailyLimit => "dailyLimit",
        _ => "",
    }
}

/// "20 MiB", "512 KiB", "100 bytes".
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Is this one of the two limit columns (sent together, in one data-limits call)?
pub fn is_limit(column: Column) -> bool {
    matches!(column, Column::MonthlyLimit | Column::DailyLimit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::IMPORT_COLUMNS;

    #[test]
    fn every_import_column_has_an_action_and_a_field_it_owns() {
        for c in IMPORT_COLUMNS {
            let a = action_of(*c).unwrap_or_else(|| panic!("{c} has no action"));
            assert!(
                a.fields().iter().any(|f| f.name == field_of(*c)),
                "{c}: {a} has no field {}",
                field_of(*c)
            );
        }
        assert_eq!(action_of(Column::Imei), None);
    }
}
