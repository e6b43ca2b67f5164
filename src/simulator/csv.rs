//! CSV export: the column names of both list operations, RFC 4180 quoting, and a streamed body.

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

/// RFC 4180: quote a field that holds a comma, quote, CR or LF; double the quotes inside.
pub fn escape(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn row(out: &mut String, cells: impl Iterator<Item = String>) {
    let mut first = true;
    for c in cells {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&escape(&c));
    }
    out.push_str("\r\n");
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
            let err = Err(std::io::Error::other("CSV export cut off (injected fault)"));
            return Some((futures::stream::iter(vec![err]), c));
        }
        let mut out = String::new();
        if !c.header_sent {
            c.header_sent = true;
            row(&mut out, c.columns.iter().map(|s| (*s).to_owned()));
        }
        let end = (c.next + CHUNK_ROWS).min(c.ids.len());
        let limit = c.cut_after.map(|n| n.saturating_sub(c.rows_sent));
        let mut taken = 0usize;
        {
            let world = lock(&c.sim.inner.world);
            if let Some(g) = world.group(c.corp) {
                for id in &c.ids[c.next..end] {
                    if limit.is_some_and(|l| taken >= l) {
                        break;
                    }
                    // A line moved out meanwhile is skipped.
                    if let Some(l) = g.line(*id) {
                        row(&mut out, c.columns.iter().map(|col| cell(&l, col)));
                        taken += 1;
                    }
                }
            }
        }
        c.next = end;
        c.rows_sent += taken;
        if c.cut_after.is_some_and(|n| c.rows_sent >= n) && c.next <= c.ids.len() {
            // The injected fault: send what we have, then break the stream.
            c.fail_next = true;
            let chunk = Ok::<Bytes, std::io::Error>(Bytes::from(out));
            return Some((futures::stream::iter(vec![chunk]), c));
        }
        if c.next >= c.ids.len() {
            c.done = true;
        }
        Some((
            futures::stream::iter(vec![Ok::<Bytes, std::io::Error>(Bytes::from(out))]),
            c,
        ))
    });
    use futures::StreamExt;
    let body = Body::from_stream(body.flatten());
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b"), "\"a,b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("two\nlines"), "\"two\nlines\"");
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
