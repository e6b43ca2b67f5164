//! Move to device group: `update_device_group`; the user must also be able to open the target group.
//! A revert moves the lines back from the target group, so it needs both groups.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, opt, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::{Column, CorpId};
use crate::policy::{Operation, Principal, Refusal};
use crate::upstream::wire::{Device, DeviceGroupChange, WriteResult};

pub struct DeviceGroup;
pub static ACTION: DeviceGroup = DeviceGroup;

const FIELDS: &[Field] = &[Field::new(
    "deviceGroup",
    "Move to device group",
    "device group",
    Kind::DeviceGroup,
)
.missing("Choose the device group to move the lines to.")];

#[async_trait]
impl Action for DeviceGroup {
    fn slug(&self) -> &'static str {
        "device-group"
    }
    fn label(&self) -> &'static str {
        "Move to device group"
    }
    fn menu_position(&self) -> u8 {
        50
    }
    fn operation(&self) -> Operation {
        Operation::UpdateDeviceGroup
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn preview_warning(&self) -> Option<&'static str> {
        Some("Moved lines leave this device group: they will no longer show in this list.")
    }
    fn authorize(
        &self,
        user: &Principal,
        corp: &CorpId,
        _lines: usize,
        v: &Values,
    ) -> Result<(), Refusal> {
        match v.group("deviceGroup") {
            Some(to) => user.check_device_group_move(corp, to),
            None => user.check(self.operation(), corp),
        }
    }
    fn summary(&self, v: &Values) -> String {
        format!("Device group → {}", self.after(v))
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.corp_id)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::CorpId]
    }
    fn after(&self, v: &Values) -> String {
        v.group("deviceGroup").map(|c| c.to_string()).unwrap_or_default()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        match line.after {
            None => Err("The device group the line was moved to is not known, so it cannot be moved back.".into()),
            Some(_) if line.before.is_empty() => {
                Err("The line's device group before the move was not read from Sentinel.".into())
            }
            Some(to) if to == line.before => {
                Err(format!("The line was already in {to}: there is nothing to move back."))
            }
            Some(_) => super::set_back(self.slug(), &[("deviceGroup", line.before)], ctx),
        }
    }
    /// The moved line is in the target group now: moving it back is a move made from there.
    fn revert_from(&self, line: &RevertLine<'_>) -> Option<CorpId> {
        line.after.and_then(|to| CorpId::parse(to).ok())
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = DeviceGroupChange {
            selection: selection_of(target)?,
            device_group: v.group("deviceGroup").ok_or(RunError::Mismatch)?.to_string(),
        };
        Ok(to.upstream.update_device_group(to.token, to.corp, &body).await?)
    }
}
