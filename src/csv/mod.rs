//! CSV through the `csv` crate: cells safe to open in a spreadsheet, rows written, and upstream CSV streams rewritten record by record.
//!
//! - [`records`]: the one streaming record splitter (bounded memory) and its chunk transform
//! - [`guard`]: the formula-injection guard applied to a stream
//! - [`select`]: keeping the rows of chosen MDNs (and dropping a column added for that)

pub mod guard;
pub mod records;
pub mod select;

use std::borrow::Cow;

pub use guard::guard_stream;
pub use select::filter_by_mdn;

/// Would a spreadsheet evaluate this cell? It starts with `=`, `+`, `-`, `@`, TAB or CR and is
/// not a plain number. Plain numbers (`-12`, `+3.5`) are left alone so numeric columns keep
/// their values; `-1+1` or `-A1` is not a plain number and is guarded.
pub fn needs_guard(value: &str) -> bool {
    value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(value)
}

/// An optional sign, digits, and an optional fraction: `-12`, `+0.5`, `3.`.
fn is_plain_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The cell's value with a leading `'` when a spreadsheet would evaluate it.
pub fn guard_formula(value: &str) -> Cow<'_, str> {
    if needs_guard(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// One record, every cell guarded ([`guard_formula`]) and quoted where RFC 4180 needs it,
/// CRLF-terminated.
pub fn write_row<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .buffer_capacity(256)
        .from_writer(Vec::new());
    let guarded: Vec<Cow<'_, str>> = cells.into_iter().map(guard_formula).collect();
    let bytes = w
        .write_record(guarded.iter().map(|c| c.as_bytes()))
        .map_err(|e| e.to_string())
        .and_then(|()| w.into_inner().map_err(|e| e.to_string()));
    match bytes {
        // Cells came in as UTF-8 and only ASCII quotes and commas were added.
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        // Writing to memory cannot fail; should it, an empty row beats a panic.
        Err(e) => {
            tracing::error!(error = %e, "CSV row could not be written");
            String::new()
        }
    }
}

/// Quotes a cell per RFC 4180 and defuses formula injection (see [`guard_formula`]).
pub fn csv_cell(value: &str) -> String {
    if value.is_empty() {
        // The writer quotes a record made of one empty cell (`""`); a cell alone stays empty.
        return String::new();
    }
    let mut row = write_row([value]);
    row.truncate(row.trim_end_matches("\r\n").len());
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        for n in ["-2", "+1", "-0.5", "3.", "12"] {
            assert!(!needs_guard(n), "{n}");
        }
        for f in ["-", "+", "-1+1", "-.5", "=1", "@x", "\t1", "\r1", "-2e3"] {
            assert!(needs_guard(f), "{f:?}");
        }
    }

    #[test]
    fn cells_and_rows() {
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(write_row(["1", "", "=x", "a,b"]), "1,,'=x,\"a,b\"\r\n");
    }
}
