//! Set note: `update_note` on a list or everything matching; an empty note clears it.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, opt, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, NoteChange, WriteResult};

pub struct Note;
pub static ACTION: Note = Note;

const FIELDS: &[Field] = &[Field::new(
    "note",
    "Note",
    "note",
    Kind::Text {
        min: 0,
        max: 1000,
        rows: 4,
    },
)
.help("up to 1000 characters; empty clears it")];

#[async_trait]
impl Action for Note {
    fn slug(&self) -> &'static str {
        "note"
    }
    fn label(&self) -> &'static str {
        "Set note"
    }
    fn menu_position(&self) -> u8 {
        30
    }
    fn operation(&self) -> Operation {
        Operation::UpdateNote
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        match v.text("note") {
            "" => "Note → (empty)".into(),
            n => format!("Note → “{n}”"),
        }
    }
    fn replaces_text(&self) -> bool {
        true
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.note)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::Note]
    }
    fn after(&self, v: &Values) -> String {
        v.text("note").to_owned()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        super::set_back(self.slug(), &[("note", line.before)], ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = NoteChange {
            selection: selection_of(target)?,
            note: v.text("note").to_owned(),
        };
        Ok(to.upstream.update_note(to.token, to.corp, &body).await?)
    }
}
