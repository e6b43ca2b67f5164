//! Change IMEI: `update_imei`, one line at a time (the scope table's line limit), ARCNT lines only.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, lines_of, opt};
use crate::actions::catalog::Selection;
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, ImeiChange, WriteResult};

pub struct Imei;
pub static ACTION: Imei = Imei;

const FIELDS: &[Field] = &[Field::new("imei", "New IMEI", "new IMEI", Kind::Imei)
    .help("15 digits, the last one a check digit")
    .missing("Enter the new IMEI (15 digits).")];

#[async_trait]
impl Action for Imei {
    fn slug(&self) -> &'static str {
        "imei"
    }
    fn label(&self) -> &'static str {
        "Change IMEI"
    }
    fn menu_position(&self) -> u8 {
        90
    }
    fn operation(&self) -> Operation {
        Operation::UpdateImei
    }
    fn selection(&self) -> Selection {
        Selection::Lines
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        format!("IMEI → {}", self.after(v))
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.imei)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::Imei]
    }
    fn after(&self, v: &Values) -> String {
        v.imei("imei").map(|i| i.to_string()).unwrap_or_default()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        let Some(now) = line.now else {
            return Err("The line's IMEI now could not be read, so it is not put back.".into());
        };
        if Some(now) != line.after {
            return Err(format!(
                "The line's IMEI changed again since (it is now {now}), so it is not put back."
            ));
        }
        if line.before.is_empty() {
            return Err("The line had no IMEI before.".into());
        }
        super::set_back(self.slug(), &[("imei", line.before)], ctx)
    }
    fn revert_reads_current(&self) -> bool {
        true
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = ImeiChange {
            mdns: lines_of(target)?,
            imei: v.imei("imei").ok_or(RunError::Mismatch)?.clone(),
        };
        Ok(to.upstream.update_imei(to.token, to.corp, &body).await?)
    }
}
