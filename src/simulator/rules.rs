//! Scope enforcement as the real Sentinel API does it, written out from the vendor text
//! independently of `crate::policy` (so the console's own table is tested against it).

/// The 19 operations, by the vendor text's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ListDevices,
    BulkDeleteLabels,
    CustomizedList,
    UpdateDataLimits,
    UpdateDeviceGroup,
    UpdateFilterGroup,
    UpdateImei,
    GetDevicesByImei,
    UpdateMdnCustomField,
    UpdateNickname,
    UpdateNote,
    UpdateSmartspotSettings,
    UpdateSmartspotSettingsMulti,
    GetSmartspotSettings,
    GetPossibleStatuses,
    UpdateStatus,
    UpdateSummerUsage,
    DeviceTotals,
    DeviceHealth,
}

/// "org_super, org_tech or org_kajeetmanaged or org_managerplus"
const MANAGERS: &[&str] = &[
    "org_super",
    "org_tech",
    "org_kajeetmanaged",
    "org_managerplus",
];
const SUPER_TECH: &[&str] = &["org_super", "org_tech"];
const ALL_ROLES: &[&str] = &[
    "org_super",
    "org_tech",
    "org_kajeetmanaged",
    "org_managerplus",
    "org_mediacenter",
    "readonly",
];

impl Op {
    fn is_write(self) -> bool {
        !matches!(
            self,
            Op::ListDevices
                | Op::CustomizedList
                | Op::GetDevicesByImei
                | Op::GetSmartspotSettings
                | Op::GetPossibleStatuses
                | Op::DeviceTotals
                | Op::DeviceHealth
        )
    }

    /// Roles that may call the operation; `None` = any token (reads the vendor text leaves open).
    fn allowed(self) -> Option<Vec<&'static str>> {
        use Op::*;
        let all_but = |x: &[&str]| {
            ALL_ROLES
                .iter()
                .copied()
                .filter(|r| !x.contains(r))
                .collect::<Vec<_>>()
        };
        match self {
            ListDevices | GetDevicesByImei | GetSmartspotSettings | DeviceTotals | DeviceHealth => {
                None
            }
            // "This endpoint cannot be accessed by scope org_mediacenter."
            CustomizedList => Some(all_but(&["org_mediacenter"])),
            // "cannot be accessed by scope org_mediacenter and readonly users"
            BulkDeleteLabels => Some(all_but(&["org_mediacenter", "readonly"])),
            // "can only be accessed by scope org_super or org_tech"
            UpdateDataLimits | UpdateSummerUsage => Some(SUPER_TECH.to_vec()),
            UpdateDeviceGroup | UpdateFilterGroup | UpdateImei | UpdateNickname | UpdateNote
            | GetPossibleStatuses | UpdateStatus => Some(MANAGERS.to_vec()),
            // No restriction stated on these writes; readonly is refused below.
            UpdateMdnCustomField | UpdateSmartspotSettings | UpdateSmartspotSettingsMulti => {
                Some(all_but(&["readonly"]))
            }
        }
    }

    fn name(self) -> &'static str {
        use Op::*;
        match self {
            ListDevices => "list devices",
            BulkDeleteLabels => "delete labels",
            CustomizedList => "use the customized list",
            UpdateDataLimits => "change data limits",
            UpdateDeviceGroup => "move devices to another device group",
            UpdateFilterGroup => "change filter groups",
            UpdateImei => "change IMEIs",
            GetDevicesByImei => "look up devices by IMEI",
            UpdateMdnCustomField => "change the MDN custom field",
            UpdateNickname => "change nicknames",
            UpdateNote => "change notes",
            UpdateSmartspotSettings | UpdateSmartspotSettingsMulti => "change SmartSpot settings",
            GetSmartspotSettings => "read SmartSpot settings",
            GetPossibleStatuses => "read the possible statuses",
            UpdateStatus => "change device status",
            UpdateSummerUsage => "change summer usage",
            DeviceTotals => "read device totals",
            DeviceHealth => "read device health",
        }
    }
}

/// What the rules need to know about the caller.
pub struct Caller<'a> {
    pub roles: &'a [&'a str],
    pub corp_ids: &'a [&'a str],
    pub account_type: Option<&'a str>,
}

/// Whether the caller may open the device group at all.
pub fn check_corp(caller: &Caller<'_>, corp: &str) -> Result<(), String> {
    if caller.corp_ids.contains(&corp) {
        Ok(())
    } else {
        Err(format!("You do not have access to device group {corp}."))
    }
}

/// Whether the caller's scopes allow the operation.
pub fn check_op(caller: &Caller<'_>, op: Op) -> Result<(), String> {
    if op.is_write() && caller.roles.contains(&"readonly") {
        return Err("Scope readonly may not change devices.".into());
    }
    if let Some(allowed) = op.allowed() {
        if !caller.roles.iter().any(|r| allowed.contains(r)) {
            return Err(format!(
                "Your scopes ({}) may not {}; it needs one of: {}.",
                if caller.roles.is_empty() {
                    "none".to_owned()
                } else {
                    caller.roles.join(", ")
                },
                op.name(),
                allowed.join(", ")
            ));
        }
    }
    if op == Op::UpdateSummerUsage && caller.account_type != Some("kajeet_choice") {
        return Err("Summer usage can only be changed with a Kajeet Choice account.".into());
    }
    Ok(())
}

/// A device-group move must target one of the caller's device groups.
pub fn check_move_target(caller: &Caller<'_>, target: &str) -> Result<(), String> {
    if caller.corp_ids.contains(&target) {
        Ok(())
    } else {
        Err(format!(
            "Device group {target} is not one of your device groups; lines can only be moved between your own."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller<'a>(roles: &'a [&'a str], account: Option<&'a str>) -> Caller<'a> {
        Caller {
            roles,
            corp_ids: &["NORTHSTAR-ISD"],
            account_type: account,
        }
    }

    #[test]
    fn table() {
        assert!(check_op(&caller(&["readonly"], None), Op::ListDevices).is_ok());
        assert!(check_op(&caller(&["readonly"], None), Op::UpdateMdnCustomField).is_err());
        assert!(check_op(&caller(&["org_mediacenter"], None), Op::CustomizedList).is_err());
        assert!(
            check_op(
                &caller(&["org_mediacenter"], None),
                Op::UpdateMdnCustomField
            )
            .is_ok()
        );
        assert!(check_op(&caller(&["org_mediacenter"], None), Op::BulkDeleteLabels).is_err());
        assert!(check_op(&caller(&["org_managerplus"], None), Op::UpdateDataLimits).is_err());
        assert!(check_op(&caller(&["org_tech"], None), Op::UpdateSummerUsage).is_err());
        assert!(
            check_op(
                &caller(&["org_tech"], Some("kajeet_choice")),
                Op::UpdateSummerUsage
            )
            .is_ok()
        );
        assert!(check_op(&caller(&["org_tech", "readonly"], None), Op::UpdateNote).is_err());
        assert!(
            check_op(
                &caller(&["org_kajeetmanaged"], None),
                Op::GetPossibleStatuses
            )
            .is_ok()
        );
        assert!(check_corp(&caller(&[], None), "FLEET-LARGE").is_err());
    }
}
