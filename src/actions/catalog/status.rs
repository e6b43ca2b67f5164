//! Change status: `update_status` for a list or everything matching, with an optional reason.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, opt, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, StatusChange, WriteResult};

pub struct Status;
pub static ACTION: Status = Status;

const FIELDS: &[Field] = &[
    Field::new("status", "New status", "status", Kind::Status).missing("Choose the new status."),
    Field::new(
        "reason",
        "Reason",
        "reason",
        Kind::Text {
            min: 0,
            max: 500,
            rows: 2,
        },
    )
    .help("optional, up to 500 characters")
    .absent_when_empty(),
];

#[async_trait]
impl Action for Status {
    fn slug(&self) -> &'static str {
        "status"
    }
    fn label(&self) -> &'static str {
        "Change status"
    }
    fn menu_position(&self) -> u8 {
        10
    }
    fn operation(&self) -> Operation {
        Operation::UpdateStatus
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        let status = v.text("status");
        match v.opt_text("reason") {
            Some(r) => format!("Status → {status} (reason: {r})"),
            None => format!("Status → {status}"),
        }
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.status)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::Status]
    }
    fn after(&self, v: &Values) -> String {
        v.text("status").to_owned()
    }
    /// Sent in the status operation's own vocabulary: a line read as `active` is set back to
    /// `ACTIVE`; a status the operation does not take is not sent.
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        if line.before.is_empty() {
            return Err("The line's status before the change is not known.".into());
        }
        let statuses = ctx
            .statuses
            .ok_or("The statuses Sentinel takes could not be read.")?;
        super::set_back(self.slug(), &[("status", statuses.map(line.before)?)], ctx)
    }
    fn revert_needs_statuses(&self) -> bool {
        true
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = StatusChange {
            selection: selection_of(target)?,
            status: v.text("status").to_owned(),
            reason: v.opt_text("reason"),
        };
        Ok(to.upstream.update_status(to.token, to.corp, &body).await?)
    }
}
