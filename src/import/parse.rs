//! The uploaded CSV parsed as it streams (`csv-core`): encoding, delimiter and header checked,
//! then every data row turned into its line's wanted values, or the reason it cannot be used.
//!
//! Memory is bounded by the rows kept, not by the file: a row is one string of its importable
//! cells keyed by the MDN's ten digits; the raw record is dropped as soon as it is read.

use std::collections::HashMap;

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

use super::{Refused, Why, size_text};
use crate::csv::needs_guard;
use crate::domain::{Column, CorpId, Mdn};
use crate::policy::IMPORT_COLUMNS;

/// A record longer than this is not a spreadsheet row (a 10-MB single line is refused).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// The header row must end within this many bytes.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Why the whole file is refused: nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, FileError> {
    Err(FileError(msg.into()))
}

/// The header row, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub mdn: usize,
    /// `CORP_ID`, when the file has it: a row of another group is refused.
    pub corp: Option<usize>,
    /// The importable columns: (cell index, column), in [`IMPORT_COLUMNS`] order.
    pub columns: Vec<(usize, Column)>,
    /// Header names the import does not use, as written.
    pub ignored: Vec<String>,
    pub width: usize,
}

/// One line's wanted values: the cells of [`Header::columns`], in that order, trimmed and with
/// the export's formula guard removed, in one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub row: u32,
    text: Box<str>,
    ends: Box<[u32]>,
}

impl Wanted {
    /// The `i`-th importable cell.
    pub fn cell(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(p) => self.ends.get(p).map_or(self.text.len(), |e| *e as usize),
        };
        let end = self.ends.get(i).map_or(start, |e| *e as usize);
        self.text.get(start..end).unwrap_or_default()
    }

    fn same_values(&self, other: &Wanted) -> bool {
        self.text == other.text && self.ends == other.ends
    }
}

/// A whole file, parsed.
#[derive(Debug, Default)]
pub struct Upload {
    pub header: Option<Header>,
    /// `;` or `,` (or TAB), as the header row used.
    pub delimiter: u8,
    /// By the MDN's ten digits.
    pub wanted: HashMap<u64, Wanted>,
    /// MDNs given different values in several rows: every such row number.
    pub conflicts: HashMap<u64, Vec<u32>>,
    /// Rows refused while reading (bad MDN, other group, short row).
    pub refused: Vec<Refused>,
    /// Data rows (blank rows not counted).
    pub rows: u64,
    pub bytes: u64,
}

impl Upload {
    pub fn header(&self) -> Result<&Header, FileError> {
        self.header
            .as_ref()
            .ok_or_else(|| FileError("The file has no header row.".into()))
    }
}

/// The MDN as a map key: its ten digits as a number.
pub fn mdn_key(m: &Mdn) -> u64 {
    m.digits().parse().unwrap_or_default()
}

/// The MDN of a key made by [`mdn_key`].
pub fn key_mdn(k: u64) -> Option<Mdn> {
    Mdn::parse(&format!("{k:010}")).ok()
}

/// The cell's value as the export meant it: the leading `'` the export's guard adds to a cell
/// a spreadsheet would evaluate is removed (only then: `'hello` keeps its quote), then trimmed.
pub fn unguard(raw: &str) -> &str {
    let t = raw.trim();
    match t.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest.trim(),
        _ => t,
    }
}

/// The streaming parser: [`Parser::push`] each chunk as it arrives, then [`Parser::finish`].
pub struct Parser {
    corp: CorpId,
    max_bytes: u64,
    max_rows: u64,
    /// Bytes before the header row's end is seen (the delimiter is read from it).
    start: Vec<u8>,
    reader: Option<Reader>,
    scratch: Vec<u8>,
    /// The current record's field bytes, and where each field ends.
    rec: Vec<u8>,
    ends: Vec<usize>,
    rec_bytes: usize,
    /// Records read so far (the header included): the spreadsheet's row number.
    records: u32,
    /// Has any byte other than white space come?
    seen_text: bool,
    out: Upload,
}

impl Parser {
    pub fn new(corp: CorpId, max_bytes: u64, max_rows: u64) -> Self {
        Self {
            corp,
            max_bytes,
            max_rows,
            start: Vec::new(),
            reader: None,
            scratch: vec![0; 8192],
            rec: Vec::new(),
            ends: Vec::new(),
            rec_bytes: 0,
            records: 0,
            seen_text: false,
            out: Upload {
                delimiter: b',',
                ..Upload::default()
            },
        }
    }

    /// Feeds one chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.out.bytes += chunk.len() as u64;
        if self.out.bytes > self.max_bytes {
            return refuse(format!(
                "The file is larger than {}: split it, or export fewer columns.",
                size_text(self.max_bytes)
            ));
        }
        if chunk.contains(&0) {
            return refuse(binary_message(&self.start, chunk));
        }
        self.seen_text = self.seen_text || chunk.iter().any(|b| !b.is_ascii_whitespace());
        if self.reader.is_none() {
            self.start.extend_from_slice(chunk);
            if !self.start.contains(&b'\n') {
                if self.start.len() > MAX_HEADER_BYTES {
                    return refuse(
                        "The first row is longer than 64 KiB: the file has no header row of column names (it may not be a CSV file).",
                    );
                }
                return Ok(());
            }
            let start = std::mem::take(&mut self.start);
            return self.begin(&start);
        }
        self.feed(chunk)
    }

    /// The file ended: the last record, then the whole result.
    pub fn finish(mut self) -> Result<Upload, FileError> {
        if !self.seen_text {
            return refuse("The file is empty.");
        }
        if self.reader.is_none() {
            let start = std::mem::take(&mut self.start);
            self.begin(&start)?;
        }
        // An empty input tells the reader the file is over.
        self.feed(&[])?;
        if self.out.header.is_none() {
            return refuse("The file has no header row.");
        }
        if self.out.rows == 0 {
            return refuse("The file has a header row but no data rows.");
        }
        Ok(self.out)
    }

    /// The header row's bytes are in: check the encoding, pick the delimiter, start reading.
    fn begin(&mut self, start: &[u8]) -> Result<(), FileError> {
        if start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]) {
            return refuse(
                "The file is UTF-16 text; save it as “CSV UTF-8” (comma or semicolon separated) and upload it again.",
            );
        }
        if start.starts_with(b"PK\x03\x04") || start.starts_with(b"%PDF") {
            return refuse(binary_message(start, &[]));
        }
        let body = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
        let line_end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
        self.out.delimiter = delimiter_of(&body[..line_end]);
        self.reader = Some(ReaderBuilder::new().delimiter(self.out.delimiter).build());
        if body.is_empty() {
            return Ok(());
        }
        self.feed(body)
    }

    /// Runs the reader over `input` (empty: the end of the file).
    fn feed(&mut self, mut input: &[u8]) -> Result<(), FileError> {
        let eof = input.is_empty();
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(());
            };
            let (res, nin, nout) = reader.read_field(input, &mut self.scratch);
            input = &input[nin..];
            self.rec.extend_from_slice(&self.scratch[..nout]);
            self.rec_bytes += nin;
            if self.rec_bytes > MAX_RECORD_BYTES {
                return refuse(format!(
                    "Row {} is longer than 1 MiB: this is not a spreadsheet export (is a quote left open?).",
                    self.records + 1
                ));
            }
            match res {
                ReadFieldResult::InputEmpty => return Ok(()),
                ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => {
                    self.ends.push(self.rec.len());
                    if record_end {
                        self.record()?;
                    }
                }
                ReadFieldResult::End => return Ok(()),
            }
            // Never hand the reader an empty input mid-file: it would take it for the end.
            if input.is_empty() && !eof {
                return Ok(());
            }
        }
    }

    /// One complete record: the header, or a data row.
    fn record(&mut self) -> Result<(), FileError> {
        self.records = self.records.saturating_add(1);
        let rec = std::mem::take(&mut self.rec);
        let ends = std::mem::take(&mut self.ends);
        self.rec_bytes = 0;
        let Ok(text) = std::str::from_utf8(&rec) else {
            return refuse(format!(
                "Row {} is not UTF-8 text: the file was saved in another encoding. Save it as “CSV UTF-8” and upload it again.",
                self.records
            ));
        };
        let mut cells = Vec::with_capacity(ends.len());
        let mut at = 0;
        for e in &ends {
            cells.push(text.get(at..*e).unwrap_or_default());
            at = *e;
        }
        let result = match self.out.header {
            None => self.header(&cells),
            Some(_) => self.row(&cells),
        };
        // Keep the buffers' capacity for the next record.
        self.rec = rec;
        self.rec.clear();
        self.ends = ends;
        self.ends.clear();
        result
    }

    fn header(&mut self, cells: &[&str]) -> Result<(), FileError> {
        let mut mdn = None;
        let mut corp = None;
        let mut columns: Vec<(usize, Column)> = Vec::new();
        let mut ignored = Vec::new();
        for (i, raw) in cells.iter().enumerate() {
            let name = raw
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_uppercase();
            let col = Column::parse(&name).ok();
            let repeated = |c: Column| refuse(format!("The header names {c} twice."));
            match col {
                Some(Column::Mdn) if mdn.is_some() => return repeated(Column::Mdn),
                Some(Column::Mdn) => mdn = Some(i),
                Some(Column::CorpId) => corp = corp.or(Some(i)),
                Some(c) if IMPORT_COLUMNS.contains(&c) => {
                    if columns.iter().any(|(_, k)| *k == c) {
                        return repeated(c);
                    }
                    columns.push((i, c));
                }
                _ => ignored.push(if raw.trim().is_empty() {
                    format!("(column {} has no name)", i + 1)
                } else {
                    raw.trim().to_owned()
                }),
            }
        }
        let Some(mdn) = mdn else {
            let found: Vec<&str> = cells.iter().map(|c| c.trim()).take(8).collect();
            return refuse(format!(
                "The first row has no MDN column (it reads “{}”). The first row must hold the export's column names, such as MDN,NICKNAME,NOTE; is this a CSV export of the console?",
                found.join(", ")
            ));
        };
        if columns.is_empty() {
            let names: Vec<&str> = IMPORT_COLUMNS.iter().map(|c| c.as_str()).collect();
            return refuse(format!(
                "The file has no column the import can change; add one of {}.",
                names.join(", ")
            ));
        }
        columns.sort_by_key(|(_, c)| IMPORT_COLUMNS.iter().position(|k| k == c));
        self.out.header = Some(Header {
            mdn,
            corp,
            columns,
            ignored,
            width: cells.len(),
        });
        Ok(())
    }

    fn row(&mut self, cells: &[&str]) -> Result<(), FileError> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            // Spreadsheets leave rows of empty cells behind: not a row to use.
            return Ok(());
        }
        self.out.rows += 1;
        if self.out.rows > self.max_rows {
            return refuse(format!(
                "The file has more than {} rows; split it into several files.",
                self.max_rows
            ));
        }
        let row = self.records;
        let Some(h) = self.out.header.as_ref() else {
            return Ok(());
        };
        let mdn_text = cells.get(h.mdn).map(|c| unguard(c)).unwrap_or_default();
        let mut refused = |why: Why, mdn: Option<String>, message: String| {
            self.out.refused.push(Refused {
                row,
                mdn,
                why,
                message,
            });
            Ok(())
        };
        if cells.len() < h.width {
            return refused(
                Why::BadRow,
                (!mdn_text.is_empty()).then(|| mdn_text.to_owned()),
                format!(
                    "The row has {} cells where the header has {}: a missing cell is not read as empty.",
                    cells.len(),
                    h.width
                ),
            );
        }
        let mdn = match Mdn::parse(mdn_text) {
            Ok(m) => m,
            Err(e) => {
                let shown = (!mdn_text.is_empty()).then(|| mdn_text.to_owned());
                let msg = if mdn_text.is_empty() {
                    "The MDN cell is empty.".to_owned()
                } else {
                    e.0
                };
                return refused(Why::NotAnMdn, shown, msg);
            }
        };
        if let Some(group) = h.corp.and_then(|i| cells.get(i)).map(|c| unguard(c)) {
            if !group.is_empty() && group != self.corp.as_str() {
                let msg = format!(
                    "The row is a line of device group {group}, not {}: import it there.",
                    self.corp
                );
                return refused(Why::OtherGroup, Some(mdn.to_string()), msg);
            }
        }
        let mut text = String::new();
        let mut ends = Vec::with_capacity(h.columns.len());
        for (i, _) in &h.columns {
            text.push_str(cells.get(*i).map(|c| unguard(c)).unwrap_or_default());
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        let wanted = Wanted {
            row,
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        };
        let key = mdn_key(&mdn);
        match self.out.wanted.get(&key) {
            None => {
                self.out.wanted.insert(key, wanted);
            }
            // The same values twice: harmless, the line is changed once.
            Some(first) if first.same_values(&wanted) => {}
            Some(first) => {
                let first_row = first.row;
                self.out
                    .conflicts
                    .entry(key)
                    .or_insert_with(|| vec![first_row])
                    .push(row);
            }
        }
        Ok(())
    }
}

/// The delimiter the header row uses most, outside quotes: `,`, `;` (spreadsheets in many
/// locales) or TAB.
fn delimiter_of(line: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in line {
        if *b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if b == d {
                    *n += 1;
                }
            }
        }
    }
    // Ties (none at all: one column) go to the comma, the export's own.
    counts
        .iter()
        .fold((b',', 0), |best, c| if c.1 > best.1 { *c } else { best })
        .0
}

fn binary_message(start: &[u8], chunk: &[u8]) -> String {
    let head = if start.is_empty() { chunk } else { start };
    if head.starts_with(b"PK\x03\x04") {
        "This is an Excel workbook (or another zip file), not CSV: in the spreadsheet, save it as “CSV UTF-8” and upload that.".into()
    } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        "The file is UTF-16 text; save it as “CSV UTF-8” and upload it again.".into()
    } else {
        "The file holds binary data, not CSV text: upload a CSV export of the console.".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Result<Upload, FileError> {
        let mut p = Parser::new(CorpId::parse("NORTHSTAR-ISD").unwrap(), 1 << 24, 1000);
        for c in chunks {
            p.push(c)?;
        }
        p.finish()
    }

    fn parse(bytes: &[u8]) -> Result<Upload, FileError> {
        parse_chunks(&[bytes])
    }

    fn cells(u: &Upload, mdn: &str) -> Vec<String> {
        let w = &u.wanted[&mdn_key(&Mdn::parse(mdn).unwrap())];
        let n = u.header.as_ref().unwrap().columns.len();
        (0..n).map(|i| w.cell(i).to_owned()).collect()
    }

    #[test]
    fn reads_an_export_in_any_chunking_with_bom_crlf_quotes_and_the_guard_removed() {
        let csv = "\u{feff}MDN,NICKNAME,IMEI,NOTE\r\n521-267-1508,\"Bus, 47\",1,\"two\r\nlines\"\r\n5212671509,\"'=HYPERLINK(\"\"x\"\")\",2,'hello\r\n";
        let bytes = csv.as_bytes();
        for at in 0..bytes.len() {
            let (a, b) = bytes.split_at(at);
            let u = parse_chunks(&[a, b]).unwrap();
            let h = u.header.as_ref().unwrap();
            assert_eq!(h.columns, vec![(1, Column::Nickname), (3, Column::Note)]);
            assert_eq!(h.ignored, vec!["IMEI".to_owned()]);
            assert_eq!(u.rows, 2);
            assert_eq!(cells(&u, "521-267-1508"), ["Bus, 47", "two\r\nlines"]);
            assert_eq!(cells(&u, "521-267-1509"), ["=HYPERLINK(\"x\")", "'hello"]);
            assert_eq!(u.wanted[&5212671508].row, 2);
        }
    }

    #[test]
    fn semicolons_and_tabs() {
        let u = parse(b"MDN;NOTE;MONTHLY_LIMIT\n521-267-1508;a, b;10240,5\n").unwrap();
        assert_eq!(u.delimiter, b';');
        assert_eq!(cells(&u, "521-267-1508"), ["a, b", "10240,5"]);
        let u = parse(b"MDN\tNOTE\n521-267-1508\tx\n").unwrap();
        assert_eq!(u.delimiter, b'\t');
        assert_eq!(cells(&u, "521-267-1508"), ["x"]);
    }

    #[test]
    fn refuses_bad_files_with_a_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"\r\n\r\n", "empty"),
            (b"MDN,NOTE\r\n", "no data rows"),
            (b"NOTE,NICKNAME\nx,y\n", "no MDN column"),
            (b"521-267-1508,Bus\n", "no MDN column"),
            (
                b"MDN,IMEI\n521-267-1508,1\n",
                "no column the import can change",
            ),
            (b"MDN,NOTE,NOTE\n1,2,3\n", "twice"),
            (b"MDN,NOTE\n521-267-1508,caf\xe9\n", "UTF-8"),
            (b"\xff\xfeM\0D\0N\0", "UTF-16"),
            (b"PK\x03\x04\x14\0\0\0", "Excel"),
            (b"MDN,NOTE\n\0\x01\x02", "binary"),
        ];
        for (bytes, want) in cases {
            let e = parse(bytes).unwrap_err();
            assert!(
                e.0.contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(bytes)
            );
        }
        let long = vec![b'x'; MAX_HEADER_BYTES + 1];
        assert!(parse(&long).unwrap_err().0.contains("no header row"));
        let mut line = b"MDN,NOTE\n521-267-1508,\"".to_vec();
        line.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        assert!(parse(&line).unwrap_err().0.contains("longer than 1 MiB"));
    }

    #[test]
    fn size_and_row_limits() {
        let mut p = Parser::new(CorpId::parse("G").unwrap(), 10, 1000);
        assert!(
            p.push(b"MDN,NOTE\n521")
                .unwrap_err()
                .0
                .contains("larger than 10 bytes")
        );
        let mut p = Parser::new(CorpId::parse("G").unwrap(), 1 << 20, 1);
        p.push(b"MDN,NOTE\n521-267-1508,a\n,\n").unwrap();
        let e = p.push(b"521-267-1509,b\n").unwrap_err();
        assert!(e.0.contains("more than 1 rows"), "{e}");
    }

    #[test]
    fn rows_refused_while_reading() {
        let u = parse(
            b"MDN,NOTE,CORP_ID\n\
              12,a,NORTHSTAR-ISD\n\
              521-267-1508,b,OTHER\n\
              521-267-1509,c\n\
              ,,\n\
              521-267-1510,d,\n\
              521-267-1510,d,NORTHSTAR-ISD\n\
              521-267-1510,e,\n",
        )
        .unwrap();
        let got: Vec<(u32, Why)> = u.refused.iter().map(|r| (r.row, r.why)).collect();
        assert_eq!(
            got,
            [(2, Why::NotAnMdn), (3, Why::OtherGroup), (4, Why::BadRow)]
        );
        assert_eq!(u.rows, 6);
        assert_eq!(u.conflicts[&5212671510], vec![6, 8]);
    }

    #[test]
    fn unguards_only_what_the_export_guarded() {
        assert_eq!(unguard("'=1+1"), "=1+1");
        assert_eq!(unguard(" '-A1 "), "-A1");
        assert_eq!(unguard("'-12"), "'-12");
        assert_eq!(unguard("'hello"), "'hello");
        assert_eq!(unguard("'\ttab"), "tab");
    }
}
