//! The scope rules of the fleet's history (CONTRACT §6): who may read a group's history, and
//! who may start, stop or resume its tracking (sampled later on their kept sign-in).

use super::{Operation, Principal, Refusal};
use crate::domain::{CorpId, Role};

/// Roles that read but do not run a fleet: they may see its history, not start sampling it.
const NOT_TRACKING: &[Role] = &[Role::Readonly, Role::OrgMediaCenter];

impl Principal {
    /// The history is read from the group's own samples: whoever may read the list may read it.
    pub fn check_usage(&self, corp: &CorpId) -> Result<(), Refusal> {
        self.check(Operation::ListDevices, corp)
    }

    /// Starting, stopping or resuming tracking: a role that may read the group and is not
    /// `readonly` or `org_mediacenter`. Checked again at every sample with the roles then.
    pub fn check_tracking(&self, corp: &CorpId) -> Result<(), Refusal> {
        self.check_usage(corp)?;
        if self.roles.iter().any(|r| !NOT_TRACKING.contains(r)) {
            Ok(())
        } else {
            Err(Refusal(format!(
                "Your role ({}) may read {corp}'s history but not start or stop its tracking.",
                self.roles_label()
            )))
        }
    }

    /// For templates: the tracking button.
    pub fn can_track(&self, corp: &CorpId) -> bool {
        self.check_tracking(corp).is_ok()
    }

    /// The overview's offer to start tracking: only where the group is not tracked, and only to
    /// a role that may start it.
    pub fn offer_tracking(&self, corp: &CorpId, tracked: bool) -> bool {
        !tracked && self.can_track(corp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(roles: &[Role]) -> Principal {
        Principal {
            subject: "u".into(),
            roles: roles.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn admins_track_readers_only_read() {
        let corp = CorpId::parse("NORTHSTAR-ISD").unwrap();
        for r in [
            Role::OrgSuper,
            Role::OrgTech,
            Role::OrgKajeetManaged,
            Role::OrgManagerPlus,
        ] {
            assert!(with(&[r]).can_track(&corp), "{r}");
        }
        for r in [Role::Readonly, Role::OrgMediaCenter] {
            assert!(!with(&[r]).can_track(&corp), "{r}");
            assert!(with(&[r]).check_usage(&corp).is_ok(), "{r}");
        }
        assert!(!with(&[]).can_track(&corp));
        assert!(with(&[Role::OrgTech]).offer_tracking(&corp, false));
        assert!(!with(&[Role::OrgTech]).offer_tracking(&corp, true));
        assert!(!with(&[Role::Readonly]).offer_tracking(&corp, false));
    }
}
