//! SmartSpot settings: `update_smartspot_settings` for one device, `-multi` for several; the Wi-Fi
//! password is write-only (never shown back; sealed for the change's job only while it runs).

use async_trait::async_trait;

use super::field::{Field, Kind, Values};
use super::{Action, Call, Change, RevertCtx, RevertLine, Selection};
use crate::actions::input::Target;
use super::RunError;
use crate::domain::Column;
use crate::policy::Operation;
use crate::upstream::wire::{
    Device, SMARTSPOT_BANDS, SmartSpotSettings, SmartSpotSettingsMultiRequest,
    SmartSpotSettingsValues, WriteResult,
};

pub struct SmartspotSettings;
pub static ACTION: SmartspotSettings = SmartspotSettings;

const FIELDS: &[Field] = &[
    Field::new(
        "ssid",
        "Network name (SSID)",
        "network name (SSID)",
        Kind::Text {
            min: 1,
            max: 32,
            rows: 0,
        },
    ),
    Field::new(
        "wifiPassword",
        "New Wi-Fi password",
        "Wi-Fi password",
        Kind::Secret { min: 8, max: 63 },
    )
    .help("8 to 63 characters; leave empty to keep the current one"),
    Field::new(
        "maxClients",
        "Maximum clients (1–15)",
        "number of clients",
        Kind::Count { min: 1, max: 15 },
    ),
    Field::new("band", "Band", "band", Kind::Select(&SMARTSPOT_BANDS))
        .missing("Choose a band: 2.4GHz, 5GHz or dual."),
    Field::new("contentFilterEnabled", "Content filter", "content filter", Kind::Flag),
    Field::new("hotspotEnabled", "Hotspot enabled", "hotspot", Kind::Flag),
];

fn on_off(v: bool) -> &'static str {
    if v { "on" } else { "off" }
}

fn settings(v: &Values) -> SmartSpotSettingsValues {
    SmartSpotSettingsValues {
        ssid: Some(v.text("ssid").to_owned()),
        wifi_password: v.secret("wifiPassword").map(str::to_owned),
        max_clients: v.count("maxClients"),
        band: Some(v.text("band").to_owned()),
        content_filter_enabled: Some(v.flag("contentFilterEnabled")),
        hotspot_enabled: Some(v.flag("hotspotEnabled")),
    }
}

#[async_trait]
impl Action for SmartspotSettings {
    fn slug(&self) -> &'static str {
        "smartspot-settings"
    }
    fn label(&self) -> &'static str {
        "SmartSpot settings"
    }
    fn menu_position(&self) -> u8 {
        110
    }
    fn operation(&self) -> Operation {
        Operation::UpdateSmartspotSettings
    }
    fn operation_for(&self, lines: usize) -> Operation {
        if lines > 1 {
            Operation::UpdateSmartspotSettingsMulti
        } else {
            Operation::UpdateSmartspotSettings
        }
    }
    fn selection(&self) -> Selection {
        Selection::Imeis
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn defaults(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("maxClients", "10"),
            ("band", "dual"),
            ("hotspotEnabled", "true"),
            ("contentFilterEnabled", "true"),
        ]
    }
    fn summary(&self, v: &Values) -> String {
        format!(
            "SSID → {}, max clients → {}, band → {}, content filter {}, hotspot {}{}",
            v.text("ssid"),
            v.count("maxClients")
                .map(|n| n.to_string())
                .unwrap_or_else(|| "(unchanged)".into()),
            v.text("band"),
            on_off(v.flag("contentFilterEnabled")),
            on_off(v.flag("hotspotEnabled")),
            if v.secret("wifiPassword").is_some() {
                ", new Wi-Fi password"
            } else {
                ""
            }
        )
    }
    fn before(&self, _d: &Device) -> String {
        "—".into()
    }
    fn before_columns(&self) -> &'static [Column] {
        &[]
    }
    fn irreversible(&self) -> Option<&'static str> {
        Some("The Wi-Fi password of a SmartSpot change is kept only while it runs, so it cannot be reverted: make the change again from the device's page.")
    }
    fn revert(&self, _line: &RevertLine<'_>, _ctx: &RevertCtx<'_>) -> Result<Change, String> {
        Err(self.irreversible().unwrap_or_default().into())
    }
    async fn send(&self, to: Call<'_>, v: &Values, target: &Target) -> Result<WriteResult, RunError> {
        let Target::Imeis(imeis) = target else {
            return Err(RunError::Mismatch);
        };
        let values = settings(v);
        Ok(match imeis.as_slice() {
            [one] => {
                let body = SmartSpotSettings {
                    imei: Some(one.to_string()),
                    values,
                };
                to.upstream
                    .update_smartspot_settings(to.token, to.corp, &body)
                    .await?
            }
            many => {
                let body = SmartSpotSettingsMultiRequest {
                    imeis: many.to_vec(),
                    settings: values,
                };
                to.upstream
                    .update_smartspot_settings_multi(to.token, to.corp, &body)
                    .await?
            }
        })
    }
}
