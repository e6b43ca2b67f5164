//! Rename: `update_nickname` sets one nickname on a list or everything matching.

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, opt, selection_of};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{Device, NicknameChange, WriteResult};

pub struct Nickname;
pub static ACTION: Nickname = Nickname;

const FIELDS: &[Field] = &[Field::new(
    "nickname",
    "New nickname",
    "nickname",
    Kind::Text {
        min: 1,
        max: 100,
        rows: 0,
    },
)];

#[async_trait]
impl Action for Nickname {
    fn slug(&self) -> &'static str {
        "nickname"
    }
    fn label(&self) -> &'static str {
        "Rename (nickname)"
    }
    fn menu_position(&self) -> u8 {
        20
    }
    fn operation(&self) -> Operation {
        Operation::UpdateNickname
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn summary(&self, v: &Values) -> String {
        format!("Nickname → “{}”", v.text("nickname"))
    }
    fn replaces_text(&self) -> bool {
        true
    }
    fn before(&self, d: &Device) -> String {
        opt(&d.nickname)
    }
    fn before_columns(&self) -> &'static [Column] {
        &[Column::Nickname]
    }
    fn after(&self, v: &Values) -> String {
        v.text("nickname").to_owned()
    }
    fn revert(&self, line: &RevertLine<'_>, ctx: &RevertCtx<'_>) -> Result<Change, String> {
        if line.before.is_empty() {
            return Err("The line had no nickname before, and Sentinel cannot clear one.".into());
        }
        super::set_back(self.slug(), &[("nickname", line.before)], ctx)
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let body = NicknameChange {
            selection: selection_of(target)?,
            nickname: v.text("nickname").to_owned(),
        };
        Ok(to.upstream.update_nickname(to.token, to.corp, &body).await?)
    }
}
