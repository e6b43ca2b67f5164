//! Remove all labels: `bulk_delete_labels` on a list or everything matching (cannot be undone).

use async_trait::async_trait;

use super::field::{Field, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{BulkDeleteLabels, Device, WriteResult};

pub struct DeleteLabels;
pub static ACTION: DeleteLabels = DeleteLabels;

#[async_trait]
impl Action for DeleteLabels {
    fn slug(&self) -> &'static str {
        "delete-labels"
    }
    fn label(&self) -> &'static str {
        "Remove all labels"
    }
    fn menu_position(&self) -> u8 {
        100
    }
    fn operation(&self) -> Operation {
        Operation::BulkDeleteLabels
    }
    fn fields(&self) -> &'static [Field] {
        &[]
    }
    fn intro(&self) -> Option<&'static str> {
        Some("Every label will be removed from each selected line.")
    }
    fn preview_warning(&self) -> Option<&'static str> {
        Some("Every label is removed from each line; this cannot be undone here.")
    }
    fn summary(&self, _v: &Values) -> String {
        "Remove every label".into()
    }
    fn before(&self, d: &Device) -> String {
        d.labels
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|l| l.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::Labels]
    }
    fn after(&self, _v: &Values) -> String {
        "(no labels)".into()
    }
    fn irreversible(&self) -> Option<&'static str> {
        Some("Removing labels cannot be undone through this API.")
    }
    fn revert(&self, _line: &RevertLine<'_>, _ctx: &RevertCtx<'_>) -> Result<Change, String> {
        Err(self.irreversible().unwrap_or_default().into())
    }
    async fn send(&self, to: Call<'_>, _v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = BulkDeleteLabels {
            selection: selection_of(target)?,
        };
        Ok(to.upstream.bulk_delete_labels(to.token, to.corp, &body).await?)
    }
}
