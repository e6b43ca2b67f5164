//! `GET /devices/{corpId}/export.csv`: the device list (or a selection) as a CSV download,
//! streamed from Sentinel to the browser chunk by chunk, never held whole.
//!
//! Selections: `select_all=true` (+ the list's `searchValue` / `labelIds` and repeated
//! `excluded_mdns`) is sent to `customizedList` as a `bulkSelection`. An explicit list
//! (repeated `mdns`) cannot be expressed as a `bulkSelection` (it only has exclusions), so
//! the console asks `customizedList` for every line (`selectAll: true`) and keeps the rows
//! whose MDN is listed, adding the MDN column for the filter and dropping it again when it
//! was not asked for. Both kinds of selection need `customized_list`'s scopes.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tower_sessions::Session;

use crate::auth::CurrentUser;
use crate::csv::{filter_by_mdn, guard_stream};
use crate::domain::{Column, CorpId, ListQuery, Mdn, RawListQuery};
use crate::error::AppError;
use crate::policy::Operation;
use crate::routes::edge::{GroupPath, authorize};
use crate::state::AppState;
use crate::upstream::wire::{BulkSelection, customized_list_column};
use crate::upstream::with_idle_timeout;
use crate::upstream::{ByteStream, ListParams};
use crate::views::export::DEFAULT_COLUMNS;

/// Session key of the user's last column choice.
pub const SESSION_KEY: &str = "export_columns";

/// An explicit selection longer than this is refused: use "select all" instead.
pub const MAX_EXPLICIT_MDNS: usize = 10_000;

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

/// `GET /devices/{corpId}/export`: the columns of the file to choose, for the list's search and order.
pub async fn picker(
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    authorize(&user, &corp, Operation::ListDevices)?;
    let raw: RawListQuery = crate::routes::edge::parse_query(raw.as_deref())?;
    let q = ListQuery::parse(&raw)?;
    Ok(crate::views::export::ExportPage {
        layout: crate::views::Layout::signed_in(
            format!("Export {corp}"),
            &user.principal,
            &user.csrf,
        ),
        corp: corp.to_string(),
        back_href: crate::paths::devices(&corp, &q),
        search: q.search.as_str().to_owned(),
        picker: crate::views::export::ExportPicker::new(
            &corp,
            &q,
            &remembered_columns(&session).await,
        ),
    }
    .into_response())
}

/// `GET /devices/{corpId}/export.csv`
pub async fn export_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    GroupPath(corp): GroupPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let req = parse_export_query(raw.as_deref())?;
    // The scope check comes before any upstream call (org_mediacenter may not use customizedList).
    authorize(&user, &corp, req.operation())?;
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
    let body = futures::stream::iter(first.map(Ok)).chain(stream);
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
        super::streamed::body(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

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
