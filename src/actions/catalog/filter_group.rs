//! Move to filter group: `update_filter_group` on a list or everything matching.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, opt, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, FilterGroupChange, WriteResult};

pub struct FilterGroup;
pub static ACTION: FilterGroup = FilterGroup;

const FIELDS: &[Field] = &[Field::new(
    "filterGroup",
    "Filter group",
    "filter group",
    Kind::Text {
        min: 1,
        max: 64,
        rows: 0,
    },
)
.help("one of the filter groups this device group's lines use, as Sentinel spells it")
.suggested_from(Column::FilterGroup)];

#[async_trait]
impl Action for FilterGroup {
    fn slug(&self) -> &'static str {
        "filter-group"
    }
    fn label(&self) -> &'static str {
        "Move to filter group"
    }
    fn menu_position(&self) -> u8 {
        40
    }
    fn operation(&self) -> Operation {
        Operation::UpdateFilterGroup
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        format!("Filter group → {}", v.text("filterGroup"))
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.filter_group)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::FilterGroup]
    }
    fn after(&self, v: &Values) -> String {
        v.text("filterGroup").to_owned()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        if line.before.is_empty() {
            return Err("The line had no filter group before, and Sentinel cannot clear one.".into());
        }
        super::set_back(self.slug(), &[("filterGroup", line.before)], ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = FilterGroupChange {
            selection: selection_of(target)?,
            filter_group: v.text("filterGroup").to_owned(),
        };
        Ok(to.upstream.update_filter_group(to.token, to.corp, &body).await?)
    }
}
