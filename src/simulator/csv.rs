//! CSV export: the column names of both list operations, each line's cells, and a streamed body written with the `csv` crate.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::data::{Line, label_name};
use super::{Simulator, lock};

/// Rows per streamed chunk.
const CHUNK_ROWS: usize = 256;

/// `list_devices`' columns (vendor text).
const LIST_COLUMNS: &[&str] = &[
    "IMEI",
    "MDN",
    "STATUS",
    "MEDIA_CENTER_STATUS",
    "DEVICE_NAME",
    "NICKNAME",
    "FILTER_GROUP",
    "SUMMER_STATUS",
    "LAST_30_DAYS_USED",
    "MONTHLY_LIMIT",
    "DAILY_LIMIT",
    "MONTHLY_AMOUNT_USED",
    "DAY_AMOUNT_USED",
    "CORP_ID",
    "CORP_DESCRIPTION",
    "NOTE",
    "UICC",
    "NETWORK",
    "APN",
    "EFFECTIVE_VPN_STATUS",
    "MDN_CUSTOM_FIELD",
    "LABELS",
    "MAC",
    "OEM_SERIAL_NUMBER",
    "NAME",
    "DESCRIPTION",
    "VERIZON_BI_PLAN_ID",
    "SIM_TYPE",
    "EID",
];

/// `customized_list`'s columns (vendor text: DEVICE and DEVICE_GROUP instead of DEVICE_NAME and
/// CORP_DESCRIPTION; no EFFECTIVE_VPN_STATUS, MDN_CUSTOM_FIELD or VERIZON_BI_PLAN_ID).
const CUSTOMIZED_COLUMNS: &[&str] = &[
    "IMEI",
    "MDN",
    "STATUS",
    "MEDIA_CENTER_STATUS",
    "DEVICE",
    "NICKNAME",
    "FILTER_GROUP",
    "SUMMER_STATUS",
    "LAST_30_DAYS_USED",
    "MONTHLY_LIMIT",
    "DAILY_LIMIT",
    "MONTHLY_AMOUNT_USED",
    "DAY_AMOUNT_USED",
    "CORP_ID",
    "DEVICE_GROUP",
    "NOTE",
    "UICC",
    "NETWORK",
    "APN",
    "LABELS",
    "MAC",
    "OEM_SERIAL_NUMBER",
    "NAME",
    "DESCRIPTION",
    "SIM_TYPE",
    "EID",
];

/// Which operation's column list applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    List,
    Customized,
}

/// Parses `columns` (comma-separated) against the operation's list.
pub fn parse_columns(raw: Option<&str>, which: Columns) -> Result<Vec<&'static str>, String> {
    let allowed = match which {
        Columns::List => LIST_COLUMNS,
        Columns::Customized => CUSTOMIZED_COLUMNS,
    };
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            "columns is required with export=CSV (a comma-separated list of column names)."
                .to_owned()
        })?;
    raw.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            allowed.iter().copied().find(|a| *a == c).ok_or_else(|| {
                format!(
                    "Column {c} is not a known column; expected some of {}.",
                    allowed.join(", ")
                )
            })
        })
        .collect()
}

fn num(x: f64) -> String {
    format!("{x:.2}")
}

fn opt_num(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

/// One cell of a line.
pub fn cell(l: &Line, column: &str) -> String {
    let s = |x: &Option<String>| x.clone().unwrap_or_default();
    match column {
        "IMEI" => l.imei.clone(),
        "MDN" => l.mdn.clone(),
        "STATUS" => l.status.clone(),
        "MEDIA_CENTER_STATUS" => l.media_center_status.clone(),
        "DEVICE_NAME" | "DEVICE" => l.device_name.clone(),
        "NICKNAME" | "NAME" => s(&l.nickname),
        "FILTER_GROUP" => l.filter_group.clone(),
        "SUMMER_STATUS" => s(&l.summer_status),
        "LAST_30_DAYS_USED" => num(l.last30_used),
        "MONTHLY_LIMIT" => opt_num(l.monthly_limit),
        "DAILY_LIMIT" => opt_num(l.daily_limit),
        "MONTHLY_AMOUNT_USED" => num(l.monthly_used),
        "DAY_AMOUNT_USED" => num(l.day_used),
        "CORP_ID" | "DEVICE_GROUP" => l.corp_id.to_owned(),
        "CORP_DESCRIPTION" | "DESCRIPTION" => l.corp_description().to_owned(),
        "NOTE" => s(&l.note),
        "UICC" => l.iccid.clone(),
        "NETWORK" => l.network.clone(),
        "APN" => l.apn.clone(),
        "EFFECTIVE_VPN_STATUS" => if l.vpn_enabled { "Enabled" } else { "Disabled" }.to_owned(),
        "MDN_CUSTOM_FIELD" => s(&l.mdn_custom_field),
        "LABELS" => l
            .labels
            .iter()
            .map(|id| label_name(*id).unwrap_or("Label"))
            .collect::<Vec<_>>()
            .join(";"),
        "MAC" => s(&l.mac),
        "OEM_SERIAL_NUMBER" => s(&l.serial),
        "VERIZON_BI_PLAN_ID" => s(&l.bi_plan_id),
        "SIM_TYPE" => l.sim_type.clone(),
        "EID" => s(&l.eid),
        _ => String::new(),
    }
}

/// A CSV writer that appends to `buf`: RFC 4180 quoting (only where needed) and CRLF line ends.
fn writer(buf: Vec<u8>) -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(buf)
}

/// Everything written so far.
fn finish(w: ::csv::Writer<Vec<u8>>) -> std::io::Result<Vec<u8>> {
    w.into_inner()
        .map_err(|e| std::io::Error::new(e.error().kind(), e.error().to_string()))
}

/// Writes one record.
fn row<I, S>(w: &mut ::csv::Writer<Vec<u8>>, cells: I) -> std::io::Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let cells: Vec<S> = cells.into_iter().collect();
    if cells.len() <= 1 && cells.iter().all(|c| c.as_ref().is_empty()) {
        // The crate writes `""` for an empty record; this simulator has always answered an empty
        // line there, and its answers stay byte for byte the same (a one-column export only).
        let mut bytes = finish(std::mem::replace(w, writer(Vec::new())))?;
        bytes.extend_from_slice(b"\r\n");
        *w = writer(bytes);
        return Ok(());
    }
    Ok(w.write_record(cells)?)
}

struct Cursor {
    sim: Simulator,
    corp: &'static str,
    ids: Arc<Vec<u32>>,
    columns: Vec<&'static str>,
    next: usize,
    header_sent: bool,
    cut_after: Option<usize>,
    rows_sent: usize,
    fail_next: bool,
    done: bool,
}

impl Cursor {
    /// The next chunk: the header first, then up to [`CHUNK_ROWS`] rows (fewer where a cut is due).
    fn chunk(&mut self) -> std::io::Result<Bytes> {
        let mut out = writer(Vec::new());
        if !self.header_sent {
            self.header_sent = true;
            row(&mut out, self.columns.iter().copied())?;
        }
        let end = (self.next + CHUNK_ROWS).min(self.ids.len());
        let limit = self.cut_after.map(|n| n.saturating_sub(self.rows_sent));
        let mut taken = 0usize;
        {
            let world = lock(&self.sim.inner.world);
            if let Some(g) = world.group(self.corp) {
                for id in &self.ids[self.next..end] {
                    if limit.is_some_and(|l| taken >= l) {
                        break;
                    }
                    // A line moved out meanwhile is skipped.
                    if let Some(l) = g.line_ref(*id) {
                        row(&mut out, self.columns.iter().map(|col| cell(&l, col)))?;
                        taken += 1;
                    }
                }
            }
        }
        self.next = end;
        self.rows_sent += taken;
        Ok(Bytes::from(finish(out)?))
    }
}

/// A streamed CSV answer over `ids` (read in chunks, never all at once).
pub fn stream(
    sim: Simulator,
    corp: &'static str,
    ids: Arc<Vec<u32>>,
    columns: Vec<&'static str>,
    cut_after: Option<usize>,
) -> Response {
    let cursor = Cursor {
        sim,
        corp,
        ids,
        columns,
        next: 0,
        header_sent: false,
        cut_after,
        rows_sent: 0,
        fail_next: false,
        done: false,
    };
    let body = futures::stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        if c.fail_next {
            // Give the server time to flush what was sent, so the client sees a broken body.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            c.done = true;
            let err = std::io::Error::other("CSV export cut off (injected fault)");
            return Some((Err(err), c));
        }
        let chunk = match c.chunk() {
            Ok(bytes) => bytes,
            Err(e) => {
                c.done = true;
                return Some((Err(e), c));
            }
        };
        if c.cut_after.is_some_and(|n| c.rows_sent >= n) {
            // The injected fault: send what we have, then break the stream.
            c.fail_next = true;
        } else if c.next >= c.ids.len() {
            c.done = true;
        }
        Some((Ok::<Bytes, std::io::Error>(chunk), c))
    });
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of these records.
    fn csv_of(records: &[&[&str]]) -> String {
        let mut w = writer(Vec::new());
        for r in records {
            row(&mut w, r.iter().copied()).unwrap();
        }
        String::from_utf8(finish(w).unwrap()).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(csv_of(&[&["plain", "a,b"]]), "plain,\"a,b\"\r\n");
        assert_eq!(csv_of(&[&["say \"hi\""]]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(
            csv_of(&[&["two\nlines", "cr\r"]]),
            "\"two\nlines\",\"cr\r\"\r\n"
        );
        // Spaces, semicolons and a leading = are not quoted (RFC 4180 needs no quotes there).
        assert_eq!(
            csv_of(&[&[" x ", "Buses;Library", "=1+1"]]),
            " x ,Buses;Library,=1+1\r\n"
        );
        // Empty cells, and the empty record of a one-column export, as this simulator always wrote them.
        assert_eq!(csv_of(&[&["", ""], &[""], &[]]), ",\r\n\r\n\r\n");
        assert_eq!(
            csv_of(&[&["MDN"], &["521-267-1508"]]),
            "MDN\r\n521-267-1508\r\n"
        );
    }

    #[test]
    fn columns_per_operation() {
        assert!(parse_columns(Some("MDN,DEVICE_NAME"), Columns::List).is_ok());
        assert!(parse_columns(Some("MDN,DEVICE_NAME"), Columns::Customized).is_err());
        assert!(parse_columns(Some("MDN,DEVICE"), Columns::Customized).is_ok());
        assert!(parse_columns(None, Columns::List).is_err());
        assert!(parse_columns(Some("MDN,NOPE"), Columns::List).is_err());
    }
}
