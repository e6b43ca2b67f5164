//! `GET /devices/{corpId}/export.csv`: the device list (or a selection) as a CSV download,
//! streamed from Sentinel to the browser chunk by chunk, never held whole.
//!
//! Selections: `select_all=true` (+ the list's `searchValue` / `labelIds` and repeated
//! `excluded_mdns`) is sent to `customizedList` as a `bulkSelection`. An explicit list
//! (repeated `mdns`) cannot be expressed as a `bulkSelection` (it only has exclusions), so
//! the console asks `customizedList` for every line (`selectAll: true`) and keeps the rows
//! whose MDN is listed, adding the MDN column for the filter and dropping it again when it
//! was not asked for. Both kinds of selection need `customized_list`'s scopes.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tower_sessions::Session;

use crate::auth::CurrentUser;
use crate::csv::{guard_stream, split_fields};
use crate::domain::{Column, CorpId, ListQuery, Mdn, RawListQuery};
use crate::error::AppError;
use crate::policy::Operation;
use crate::routes::devices::authorize;
use crate::state::AppState;
use crate::upstream::wire::{BulkSelection, customized_list_column};
use crate::upstream::{ByteStream, ListParams, UpstreamError};
use crate::views::export::DEFAULT_COLUMNS;

/// Session key of the user's last column choice.
pub const SESSION_KEY: &str = "export_columns";

/// An explicit selection longer than this is refused: use "select all" instead.
pub const MAX_EXPLICIT_MDNS: usize = 10_000;

/// A CSV record longer than this means the upstream stream is not CSV we can filter.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Which lines go into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every line matching the list's search and labels (`list_devices`).
    List,
    /// `select_all=true`: the list's filter less `excluded_mdns` (`customizedList`).
    All { excluded: Vec<Mdn> },
    /// Repeated `mdns`: exactly these lines (`customizedList`, filtered here).
    Mdns(Vec<Mdn>),
}

/// The export's query, parsed.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub query: ListQuery,
    pub columns: Vec<Column>,
    /// Did the user choose the columns (then they are remembered)?
    pub columns_given: bool,
    pub selection: Selection,
}

impl ExportRequest {
    /// The scope-table operation this export calls upstream.
    pub fn operation(&self) -> Operation {
        match self.selection {
            Selection::List => Operation::ListDevices,
            _ => Operation::CustomizedList,
        }
    }
}

/// Parses the export query: the list's fields (offset/limit ignored), `columns` (repeated
/// and/or comma-separated), and the selection fields.
pub fn parse_export_query(raw: Option<&str>) -> Result<ExportRequest, AppError> {
    let mut list = RawListQuery::default();
    let mut columns: Vec<Column> = Vec::new();
    let mut columns_given = false;
    let mut mdns: Vec<Mdn> = Vec::new();
    let mut excluded: Vec<Mdn> = Vec::new();
    let mut select_all = false;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "sort" => list.sort = Some(v.into_owned()),
            "sortDir" => list.sort_dir = Some(v.into_owned()),
            "searchValue" => list.search_value = Some(v.into_owned()),
            "labelIds" => list.label_ids = Some(v.into_owned()),
            "columns" => {
                for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let c = Column::parse(part).map_err(|_| {
                        AppError::BadRequest(format!(
                            "“{part}” is not a column the export offers; expected one of {}.",
                            Column::ALL
                                .iter()
                                .map(|c| c.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                    columns_given = true;
                    if !columns.contains(&c) {
                        columns.push(c);
                    }
                }
            }
            "mdns" if !v.trim().is_empty() => mdns.push(Mdn::parse(&v)?),
            "excluded_mdns" if !v.trim().is_empty() => excluded.push(Mdn::parse(&v)?),
            "select_all" => {
                select_all = match v.trim() {
                    "true" | "on" | "1" => true,
                    "false" | "0" | "" => false,
                    other => {
                        return Err(AppError::BadRequest(format!(
                            "select_all must be true or false, not “{other}”."
                        )));
                    }
                }
            }
            // offset/limit are the list's paging: an export has every matching line.
            _ => {}
        }
    }
    if columns.is_empty() {
        columns = DEFAULT_COLUMNS.to_vec();
    }
    let selection = match (select_all, mdns.is_empty()) {
        (true, false) => {
            return Err(AppError::BadRequest(
                "Choose either “select all” or a list of lines, not both.".into(),
            ));
        }
        (true, true) => Selection::All { excluded },
        (false, false) => {
            mdns.sort();
            mdns.dedup();
            if mdns.len() > MAX_EXPLICIT_MDNS {
                return Err(AppError::BadRequest(format!(
                    "At most {MAX_EXPLICIT_MDNS} lines can be picked one by one; use “select all” instead."
                )));
            }
            Selection::Mdns(mdns)
        }
        (false, true) => Selection::List,
    };
    if selection != Selection::List {
        let missing: Vec<&str> = columns
            .iter()
            .filter(|c| customized_list_column(**c).is_none())
            .map(|c| c.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(AppError::BadRequest(format!(
                "Sentinel cannot export {} for a selection of lines; untick {} or export the whole list instead.",
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            )));
        }
    }
    Ok(ExportRequest {
        query: ListQuery::parse(&list)?,
        columns,
        columns_given,
        selection,
    })
}

/// The columns the user exported last time, or the default set.
pub async fn remembered_columns(session: &Session) -> Vec<Column> {
    match session.get::<Vec<String>>(SESSION_KEY).await {
        Ok(Some(names)) => {
            let cols: Vec<Column> = names.iter().filter_map(|n| Column::parse(n).ok()).collect();
            if cols.is_empty() {
                DEFAULT_COLUMNS.to_vec()
            } else {
                cols
            }
        }
        Ok(None) => DEFAULT_COLUMNS.to_vec(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the remembered export columns");
            DEFAULT_COLUMNS.to_vec()
        }
    }
}

/// The download's file name: `NORTHSTAR-ISD-devices-2026-11-25.csv` (today, UTC).
pub fn file_name(corp: &CorpId, today: time::Date) -> String {
    let date = today
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    // A CorpId has only letters, digits, - _ . : safe inside a quoted filename.
    format!("{corp}-devices-{date}.csv")
}

/// `GET /devices/{corpId}/export.csv`
pub async fn export_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(corp): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let req = parse_export_query(raw.as_deref())?;
    // The scope check comes before any upstream call (org_mediacenter may not use customizedList).
    let corp = authorize(&user, &corp, req.operation())?;
    if req.columns_given {
        let names: Vec<&str> = req.columns.iter().map(|c| c.as_str()).collect();
        if let Err(e) = session.insert(SESSION_KEY, names).await {
            // Remembering is a convenience: never fail the download for it.
            tracing::warn!(error = %e, "could not remember the export columns");
        }
    }
    let mut params = ListParams::from(&req.query);
    params.offset = 0;
    let token = &user.token;
    let upstream = &state.upstream;
    let stream: ByteStream = match &req.selection {
        Selection::List => {
            upstream
                .export_devices_csv(token, &corp, &params, &req.columns)
                .await?
        }
        Selection::All { excluded } => {
            let sel = BulkSelection {
                select_all: true,
                search_value: params.search_value.clone(),
                label_ids: (!params.label_ids.is_empty()).then(|| params.label_ids.clone()),
                filter_group: None,
                status: None,
                excluded_mdns: (!excluded.is_empty()).then(|| excluded.clone()),
            };
            upstream
                .customized_list_csv(token, &corp, &params, &req.columns, &sel)
                .await?
        }
        Selection::Mdns(mdns) => {
            let sel = BulkSelection {
                select_all: true,
                search_value: None,
                label_ids: None,
                filter_group: None,
                status: None,
                excluded_mdns: None,
            };
            let mut cols = req.columns.clone();
            let drop_mdn = !cols.contains(&Column::Mdn);
            if drop_mdn {
                cols.push(Column::Mdn);
            }
            let raw = upstream
                .customized_list_csv(token, &corp, &params, &cols, &sel)
                .await?;
            let raw = with_idle_timeout(raw, state.config.upstream_timeout);
            filter_by_mdn(raw, mdns.iter().map(|m| m.as_str().to_owned()), drop_mdn)
        }
    };
    let stream = match req.selection {
        Selection::Mdns(_) => stream,
        _ => with_idle_timeout(stream, state.config.upstream_timeout),
    };
    // Nicknames, notes, the custom field: Sentinel's text reaches a spreadsheet, so every
    // cell that would be evaluated as a formula is guarded, record by record as it streams.
    let mut stream = guard_stream(stream);
    // Wait for the first bytes, so a failure before any data is a normal error page;
    // after that the status line is sent and a failure can only abort the body.
    let first = match stream.next().await {
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => return Err(e.into()),
        None => None,
    };
    tracing::info!(
        corp = %corp,
        columns = req.columns.len(),
        selection = match req.selection {
            Selection::List => "list",
            Selection::All { .. } => "select_all",
            Selection::Mdns(_) => "mdns",
        },
        "CSV export started"
    );
    // Fused: a compressing body polls again after the end, which an `unfold` stream must not see.
    let body = futures::stream::iter(first.map(Ok)).chain(stream).fuse();
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file_name(&corp, time::OffsetDateTime::now_utc().date())
    ))
    .map_err(|e| AppError::Internal(anyhow::anyhow!("content-disposition: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        // An `Err` item makes hyper abort the chunked body (no final zero-size chunk):
        // the browser reports a failed download instead of a short "complete" file.
        Body::from_stream(body),
    )
        .into_response())
}

/// Ends the stream with [`UpstreamError::Timeout`] when no chunk comes for `idle`; stops after an error.
pub fn with_idle_timeout(s: ByteStream, idle: Duration) -> ByteStream {
    Box::pin(futures::stream::unfold(Some(s), move |st| async move {
        let mut s = st?;
        match tokio::time::timeout(idle, s.next()).await {
            Ok(Some(Ok(b))) => Some((Ok(b), Some(s))),
            Ok(Some(Err(e))) => Some((Err(e), None)),
            Ok(None) => None,
            Err(_) => Some((Err(UpstreamError::Timeout(idle)), None)),
        }
    }))
}

/// Keeps the header row and the rows whose `MDN` field is in `wanted`, streaming;
/// with `drop_mdn`, the MDN column (which must then be the last one) is removed.
pub fn filter_by_mdn(
    upstream: ByteStream,
    wanted: impl IntoIterator<Item = String>,
    drop_mdn: bool,
) -> ByteStream {
    let filter = MdnFilter::new(wanted.into_iter().collect(), drop_mdn);
    Box::pin(futures::stream::unfold(
        (Some(upstream), filter),
        |(st, mut f)| async move {
            let mut s = st?;
            loop {
                match s.next().await {
                    Some(Ok(chunk)) => match f.push(&chunk) {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Some((Ok(out), (Some(s), f))),
                        Err(e) => return Some((Err(e), (None, f))),
                    },
                    // A partial record is dropped: nothing that looks complete follows an error.
                    Some(Err(e)) => return Some((Err(e), (None, f))),
                    None => {
                        return match f.finish() {
                            Ok(out) if out.is_empty() => None,
                            Ok(out) => Some((Ok(out), (None, f))),
                            Err(e) => Some((Err(e), (None, f))),
                        };
                    }
                }
            }
        },
    ))
}

/// Incremental RFC 4180 record splitter that keeps the rows of the wanted MDNs.
#[derive(Debug)]
pub struct MdnFilter {
    wanted: HashSet<String>,
    drop_mdn: bool,
    buf: BytesMut,
    /// Bytes of `buf` already scanned (all inside the current record).
    scanned: usize,
    in_quotes: bool,
    /// Index of the MDN field, known once the header row is read.
    mdn_idx: Option<usize>,
}

impl MdnFilter {
    pub fn new(wanted: HashSet<String>, drop_mdn: bool) -> Self {
        Self {
            wanted,
            drop_mdn,
            buf: BytesMut::new(),
            scanned: 0,
            in_quotes: false,
            mdn_idx: None,
        }
    }

    /// Feeds a chunk; returns the complete records to keep.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, UpstreamError> {
        self.buf.extend_from_slice(chunk);
        let mut out = BytesMut::new();
        let mut start = 0;
        let mut i = self.scanned;
        while i < self.buf.len() {
            match self.buf[i] {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    let record = self.buf[start..=i].to_vec();
                    self.record(&record, &mut out)?;
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        let _ = self.buf.split_to(start);
        self.scanned = self.buf.len();
        if self.buf.len() > MAX_RECORD_BYTES {
            return Err(UpstreamError::BadBody(
                "a CSV record is longer than 1 MiB".into(),
            ));
        }
        Ok(out.freeze())
    }

    /// The upstream ended: a last record without a line end still counts.
    pub fn finish(&mut self) -> Result<Bytes, UpstreamError> {
        let mut out = BytesMut::new();
        if !self.buf.is_empty() {
            let record = self.buf.split().to_vec();
            self.record(&record, &mut out)?;
        }
        if self.mdn_idx.is_none() {
            return Err(UpstreamError::BadBody("the CSV export was empty".into()));
        }
        Ok(out.freeze())
    }

    fn record(&mut self, record: &[u8], out: &mut BytesMut) -> Result<(), UpstreamError> {
        let body_len = record.len()
            - if record.ends_with(b"\r\n") {
                2
            } else if record.ends_with(b"\n") {
                1
            } else {
                0
            };
        let (content, eol) = record.split_at(body_len);
        let fields = split_fields(content);
        let idx = match self.mdn_idx {
            Some(i) => i,
            None => {
                let i = fields
                    .iter()
                    .position(|(s, e)| unquote(&content[*s..*e]).trim() == Column::Mdn.as_str())
                    .ok_or_else(|| {
                        UpstreamError::BadBody("the CSV export has no MDN column".into())
                    })?;
                if self.drop_mdn && i + 1 != fields.len() {
                    return Err(UpstreamError::BadBody(
                        "the CSV export's MDN column is not the last one".into(),
                    ));
                }
                self.mdn_idx = Some(i);
                self.emit(content, eol, &fields, out);
                return Ok(());
            }
        };
        let keep = fields
            .get(idx)
            .and_then(|(s, e)| Mdn::parse(&unquote(&content[*s..*e])).ok())
            .is_some_and(|m| self.wanted.contains(m.as_str()));
        if keep {
            self.emit(content, eol, &fields, out);
        }
        Ok(())
    }

    fn emit(&self, content: &[u8], eol: &[u8], fields: &[(usize, usize)], out: &mut BytesMut) {
        match (self.drop_mdn, fields.last()) {
            // Cut the last field and the comma before it.
            (true, Some((s, _))) => out.extend_from_slice(&content[..s.saturating_sub(1)]),
            _ => out.extend_from_slice(content),
        }
        out.extend_from_slice(if eol.is_empty() { b"\n" } else { eol });
    }
}

/// A field's value: surrounding quotes removed, `""` unescaped.
fn unquote(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    let t = s.trim();
    match t.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], wanted: &[&str], drop: bool) -> Result<String, UpstreamError> {
        let mut f = MdnFilter::new(wanted.iter().map(|s| s.to_string()).collect(), drop);
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&f.push(c)?);
        }
        out.extend_from_slice(&f.finish()?);
        Ok(String::from_utf8(out).unwrap())
    }

    const CSV: &[u8] = b"NICKNAME,NOTE,MDN\r\n\
\"Bus, 47\",\"multi\r\nline \"\"note\"\"\",521-267-1508\r\n\
Office,,304-228-6302\r\n\
Gym,x,555-000-1111\r\n";

    #[test]
    fn keeps_wanted_rows_and_drops_added_mdn_across_any_chunking() {
        let want = "NICKNAME,NOTE\r\n\"Bus, 47\",\"multi\r\nline \"\"note\"\"\"\r\nGym,x\r\n";
        for split in 0..CSV.len() {
            let (a, b) = CSV.split_at(split);
            let got = run(&[a, b], &["521-267-1508", "555-000-1111"], true).unwrap();
            assert_eq!(got, want, "split at {split}");
        }
    }

    #[test]
    fn keeps_mdn_when_requested_and_matches_undashed() {
        let csv = b"MDN,STATUS\n5212671508,active\n304-228-6302,suspended";
        let got = run(&[csv], &["521-267-1508"], false).unwrap();
        assert_eq!(got, "MDN,STATUS\n5212671508,active\n");
        let got = run(&[csv], &["304-228-6302"], false).unwrap();
        assert_eq!(got, "MDN,STATUS\n304-228-6302,suspended\n");
    }

    #[test]
    fn refuses_csv_without_mdn() {
        assert!(run(&[b"STATUS\nactive\n"], &["521-267-1508"], false).is_err());
    }

    #[test]
    fn parses_columns_repeated_and_comma_separated() {
        let r = parse_export_query(Some(
            "columns=MDN,STATUS&columns=IMEI&columns=MDN&offset=50",
        ))
        .unwrap();
        assert_eq!(r.columns, vec![Column::Mdn, Column::Status, Column::Imei]);
        assert!(r.columns_given);
        assert_eq!(r.selection, Selection::List);
        assert_eq!(r.operation(), Operation::ListDevices);
        let r = parse_export_query(None).unwrap();
        assert_eq!(r.columns, DEFAULT_COLUMNS.to_vec());
        assert!(!r.columns_given);
    }

    #[test]
    fn names_the_bad_column() {
        let e = parse_export_query(Some("columns=MDN,BOGUS")).unwrap_err();
        assert!(e.to_string().contains("BOGUS"), "{e}");
    }

    #[test]
    fn selections() {
        let r = parse_export_query(Some("select_all=true&excluded_mdns=5212671508")).unwrap();
        assert_eq!(
            r.selection,
            Selection::All {
                excluded: vec![Mdn::parse("521-267-1508").unwrap()]
            }
        );
        assert_eq!(r.operation(), Operation::CustomizedList);
        let r = parse_export_query(Some("mdns=5212671508&mdns=521-267-1508")).unwrap();
        assert_eq!(
            r.selection,
            Selection::Mdns(vec![Mdn::parse("521-267-1508").unwrap()])
        );
        assert!(parse_export_query(Some("mdns=5212671508&select_all=true")).is_err());
        assert!(parse_export_query(Some("mdns=12")).is_err());
        // customizedList has no VPN status column: refused for a selection, fine for the list.
        let e = parse_export_query(Some("select_all=true&columns=MDN,EFFECTIVE_VPN_STATUS"))
            .unwrap_err();
        assert!(e.to_string().contains("EFFECTIVE_VPN_STATUS"), "{e}");
        assert!(parse_export_query(Some("columns=MDN,EFFECTIVE_VPN_STATUS")).is_ok());
    }

    #[test]
    fn file_name_has_corp_and_date() {
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        let d = time::macros::date!(2026 - 11 - 25);
        assert_eq!(file_name(&corp, d), "NORTHSTAR-ISD-devices-2026-11-25.csv");
    }
}
