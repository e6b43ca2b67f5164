//! Set MDN custom field: `update_mdn_custom_field`, explicit lists only.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, Selection, opt, lines_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, MdnCustomFieldChange, WriteResult};

pub struct MdnCustomField;
pub static ACTION: MdnCustomField = MdnCustomField;

const FIELDS: &[Field] = &[Field::new(
    "mdnCustomField",
    "Asset tag",
    "asset tag (Sentinel's MDN custom field)",
    Kind::Text {
        min: 0,
        max: 64,
        rows: 0,
    },
)
.help("up to 64 characters")];

#[async_trait]
impl Action for MdnCustomField {
    fn slug(&self) -> &'static str {
        "mdn-custom-field"
    }
    fn label(&self) -> &'static str {
        "Set asset tag"
    }
    fn menu_position(&self) -> u8 {
        80
    }
    fn operation(&self) -> Operation {
        Operation::UpdateMdnCustomField
    }
    fn selection(&self) -> Selection {
        Selection::Lines
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        format!("Asset tag → “{}”", v.text("mdnCustomField"))
    }
    fn replaces_text(&self) -> bool {
        true
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.mdn_custom_field)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::MdnCustomField]
    }
    fn after(&self, v: &Values) -> String {
        v.text("mdnCustomField").to_owned()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        super::set_back(self.slug(), &[("mdnCustomField", line.before)], ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = MdnCustomFieldChange {
            mdns: lines_of(target)?,
            mdn_custom_field: v.text("mdnCustomField").to_owned(),
        };
        Ok(to.upstream.update_mdn_custom_field(to.token, to.corp, &body).await?)
    }
}
