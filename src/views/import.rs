//! The CSV import's pages: the upload form (with why a file was refused) and the diff preview.

use askama::Template;
use askama_web::WebTemplate;

use super::Layout;
use crate::actions::ACK_ABOVE;
use crate::auth::CurrentUser;
use crate::config::Config;
use crate::domain::{Column, CorpId, ListQuery};
use crate::import::size_text;
use crate::import::{Preview, REFUSED_SHOWN};
use crate::paths::{self, Href};
use crate::policy::IMPORT_COLUMNS;

/// An importable column and whether this user may change it.
#[derive(Debug, Clone)]
pub struct ColumnView {
    pub name: &'static str,
    pub label: &'static str,
    pub allowed: bool,
}

/// `GET /devices/{corpId}/import`, and the same form when a file is refused.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/import.html")]
pub struct ImportPage {
    pub layout: Layout,
    pub corp: String,
    pub list_href: Href,
    pub post_href: Href,
    pub export_href: Href,
    pub max_size: String,
    pub max_rows: u64,
    pub columns: Vec<ColumnView>,
    pub error: Option<String>,
}

impl ImportPage {
    pub fn new(config: &Config, user: &CurrentUser, corp: &CorpId, error: Option<String>) -> Self {
        Self {
            layout: Layout::signed_in(format!("Import into {corp}"), &user.principal, &user.csrf),
            corp: corp.to_string(),
            list_href: paths::group(corp),
            post_href: paths::import_upload(corp, &user.csrf),
            export_href: paths::export(
                corp,
                &ListQuery::default(),
                &std::iter::once(Column::Mdn)
                    .chain(IMPORT_COLUMNS.iter().copied())
                    .collect::<Vec<_>>(),
            ),
            max_size: size_text(config.import_max_bytes),
            max_rows: config.import_max_rows,
            columns: IMPORT_COLUMNS
                .iter()
                .map(|c| ColumnView {
                    name: c.as_str(),
                    label: c.label(),
                    allowed: user.principal.check_import_column(*c, corp).is_ok(),
                })
                .collect(),
            error,
        }
    }
}

/// One changed cell in the preview.
#[derive(Debug, Clone)]
pub struct CellView {
    pub row: u32,
    pub mdn: String,
    pub column: &'static str,
    pub before: String,
    pub after: String,
}

/// One refused row in the preview.
#[derive(Debug, Clone)]
pub struct RefusedView {
    pub row: u32,
    pub mdn: String,
    pub reason: &'static str,
    pub message: String,
}

/// The answer to an upload: what will change, what will not and why; nothing sent yet.
#[derive(Template, WebTemplate, Debug)]
#[template(path = "pages/import_preview.html")]
pub struct ImportPreviewPage {
    pub layout: Layout,
    pub corp: String,
    pub list_href: Href,
    pub form_href: Href,
    pub post_href: Href,
    pub csrf: String,
    pub file_name: String,
    pub rows: u64,
    pub lines_changed: u64,
    pub unchanged: u64,
    pub cells_changed: u64,
    /// (column, changed lines), for every importable column of the file.
    pub counts: Vec<(&'static str, u64)>,
    pub ignored: Vec<String>,
    pub calls: usize,
    pub cells: Vec<CellView>,
    pub cells_more: u64,
    pub refused: Vec<RefusedView>,
    pub refused_total: u64,
    pub refused_more: u64,
    pub refused_by: Vec<(&'static str, u64)>,
    /// The stored plan to confirm; `None`: nothing to change.
    pub plan_id: Option<String>,
    pub needs_ack: bool,
    pub ack_label: String,
}

impl ImportPreviewPage {
    pub fn new(
        user: &CurrentUser,
        corp: &CorpId,
        file_name: Option<String>,
        p: &Preview,
        plan_id: Option<String>,
    ) -> Self {
        let lines = p.plan.lines() as u64;
        Self {
            layout: Layout::signed_in(
                format!("Import preview: {corp}"),
                &user.principal,
                &user.csrf,
            ),
            corp: corp.to_string(),
            list_href: paths::group(corp),
            form_href: paths::import(corp),
            post_href: paths::import(corp),
            csrf: user.csrf.clone(),
            file_name: file_name
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "the file".into()),
            rows: p.rows,
            lines_changed: p.lines_changed,
            unchanged: p.unchanged,
            cells_changed: p.cells_changed,
            counts: p.counts.iter().map(|(c, n)| (c.as_str(), *n)).collect(),
            ignored: p.ignored.clone(),
            calls: p.plan.calls(),
            cells: p
                .shown
                .iter()
                .map(|d| CellView {
                    row: d.row,
                    mdn: d.mdn.clone(),
                    column: d.column.as_str(),
                    before: d.before.clone(),
                    after: d.after.clone(),
                })
                .collect(),
            cells_more: p.cells_changed.saturating_sub(p.shown.len() as u64),
            refused: p
                .refused
                .iter()
                .take(REFUSED_SHOWN)
                .map(|r| RefusedView {
                    row: r.row,
                    mdn: r.mdn.clone().unwrap_or_default(),
                    reason: r.why.label(),
                    message: r.message.clone(),
                })
                .collect(),
            refused_total: p.refused_total,
            refused_more: p.refused_total.saturating_sub(p.refused.len() as u64),
            refused_by: p.refused_by.iter().map(|(w, n)| (w.label(), *n)).collect(),
            plan_id,
            needs_ack: lines > ACK_ABOVE,
            ack_label: format!(
                "Yes, apply these {} changes to {} lines",
                p.cells_changed, p.lines_changed
            ),
        }
    }
}
