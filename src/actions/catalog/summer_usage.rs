//! Summer usage: `update_summer_usage` (Kajeet Choice accounts), enabled or disabled.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, opt, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, SummerUsageChange, WriteResult};

pub struct SummerUsage;
pub static ACTION: SummerUsage = SummerUsage;

const FIELDS: &[Field] = &[Field::new(
    "summerStatus",
    "Summer usage",
    "summer usage",
    Kind::Radio(&[("ENABLED", "Enabled"), ("DISABLED", "Disabled")]),
)
.missing("Choose Enabled or Disabled.")];

#[async_trait]
impl Action for SummerUsage {
    fn slug(&self) -> &'static str {
        "summer-usage"
    }
    fn label(&self) -> &'static str {
        "Summer usage"
    }
    fn menu_position(&self) -> u8 {
        70
    }
    fn operation(&self) -> Operation {
        Operation::UpdateSummerUsage
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        format!("Summer usage → {}", v.text("summerStatus"))
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.summer_status)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::SummerStatus]
    }
    fn after(&self, v: &Values) -> String {
        v.text("summerStatus").to_owned()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        if line.before.is_empty() {
            return Err("The line had no summer usage setting before.".into());
        }
        super::set_back(self.slug(), &[("summerStatus", line.before)], ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = SummerUsageChange {
            selection: selection_of(target)?,
            summer_status: v.text("summerStatus").to_owned(),
        };
        Ok(to.upstream.update_summer_usage(to.token, to.corp, &body).await?)
    }
}
