//! The scope table's rules for requests, approvals, the two-person rule and cancelling.

use super::{Kind, Operation, Principal, Refusal};
use crate::domain::CorpId;

/// What a signed-in user of a device group may ask for when their roles do not allow it.
pub const REQUESTABLE: &[Operation] = &[
    Operation::UpdateStatus,
    Operation::UpdateNickname,
    Operation::UpdateNote,
    Operation::UpdateDataLimits,
    Operation::UpdateFilterGroup,
];

/// How a confirmed change from this user proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The user's roles allow it: it is sent (now or at its time).
    Direct,
    /// Only a request: it waits for someone whose roles allow it.
    Request,
}

impl Principal {
    /// May this user ask for `op` in `corp`, which their roles do not allow?
    pub fn may_request(&self, op: Operation, corp: &CorpId) -> bool {
        !self.roles.is_empty()
            && REQUESTABLE.contains(&op)
            && self.may_open(corp)
            && self.check(Operation::ListDevices, corp).is_ok()
            && !self.can(op, corp)
    }

    /// Apply or request: the refusal of [`Principal::check`] when neither is open to the user.
    pub fn write_mode(&self, op: Operation, corp: &CorpId) -> Result<WriteMode, Refusal> {
        match self.check(op, corp) {
            Ok(()) => Ok(WriteMode::Direct),
            Err(_) if self.may_request(op, corp) => Ok(WriteMode::Request),
            Err(why) => Err(why),
        }
    }

    /// May this user approve (or reject) a change by `requester` of `op` in `corp`? Never their
    /// own; only with the operation's own scope in that device group.
    pub fn check_approve(
        &self,
        requester: &str,
        op: Operation,
        corp: &CorpId,
    ) -> Result<(), Refusal> {
        if requester == self.subject {
            return Err(Refusal(
                "You cannot approve or reject your own change: another user whose role allows it must."
                    .into(),
            ));
        }
        self.check(op, corp).map_err(|why| {
            Refusal(format!(
                "You cannot approve this change: {} It stays waiting for someone who may.",
                why.0
            ))
        })
    }

    /// For templates: would [`Principal::check_approve`] allow it?
    pub fn can_approve(&self, requester: &str, op: Operation, corp: &CorpId) -> bool {
        self.check_approve(requester, op, corp).is_ok()
    }

    /// Could any change ever wait for this user's approval (the header's "To approve")? Only roles that
    /// allow some change do: a request or a second-admin change is approved with the change's own scope.
    pub fn may_approve_any(&self) -> bool {
        Operation::ALL
            .iter()
            .any(|op| op.is_write() && self.role_check(*op).is_ok())
    }

    /// Who may cancel a waiting or scheduled change: its owner, or anyone who could approve it.
    pub fn can_cancel(&self, owner: &str, op: Operation, corp: &CorpId) -> bool {
        owner == self.subject || self.can(op, corp)
    }
}

/// `APPROVAL_REQUIRED_ABOVE`: does an admin's own change of `lines` lines (`None`: all matching,
/// count unknown) of `op` wait for a second admin? Above the threshold, and any destructive change.
pub fn needs_second_admin(threshold: Option<u64>, op: Operation, lines: Option<u64>) -> bool {
    match threshold {
        None => false,
        Some(max) => op.rule().kind == Kind::Destructive || lines.is_none_or(|n| n > max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(subject: &str, roles: &[Role]) -> Principal {
        Principal {
            subject: subject.into(),
            roles: roles.to_vec(),
            corp_ids: Some(vec![CorpId::parse("A").unwrap()]),
            ..Default::default()
        }
    }

    #[test]
    fn readonly_requests_what_it_may_not_do_in_its_groups_only() {
        let a = CorpId::parse("A").unwrap();
        let b = CorpId::parse("B").unwrap();
        let ro = user("ro", &[Role::Readonly]);
        assert_eq!(
            ro.write_mode(Operation::UpdateStatus, &a),
            Ok(WriteMode::Request)
        );
        assert!(ro.write_mode(Operation::UpdateStatus, &b).is_err());
        assert!(ro.write_mode(Operation::BulkDeleteLabels, &a).is_err());
        assert!(ro.write_mode(Operation::UpdateImei, &a).is_err());
        let tech = user("tech", &[Role::OrgTech]);
        assert_eq!(
            tech.write_mode(Operation::UpdateStatus, &a),
            Ok(WriteMode::Direct)
        );
    }

    #[test]
    fn approval_needs_scope_and_another_user() {
        let a = CorpId::parse("A").unwrap();
        let tech = user("tech", &[Role::OrgTech]);
        assert!(tech.can_approve("ro", Operation::UpdateStatus, &a));
        assert!(!tech.can_approve("tech", Operation::UpdateStatus, &a));
        let media = user("media", &[Role::OrgMediaCenter]);
        assert!(!media.can_approve("ro", Operation::UpdateStatus, &a));
        assert!(media.can_cancel("media", Operation::UpdateStatus, &a));
        assert!(!media.can_cancel("ro", Operation::UpdateStatus, &a));
    }

    #[test]
    fn two_person_rule() {
        assert!(!needs_second_admin(
            None,
            Operation::UpdateStatus,
            Some(10_000)
        ));
        assert!(!needs_second_admin(
            Some(100),
            Operation::UpdateStatus,
            Some(100)
        ));
        assert!(needs_second_admin(
            Some(100),
            Operation::UpdateStatus,
            Some(101)
        ));
        assert!(needs_second_admin(Some(100), Operation::UpdateStatus, None));
        assert!(needs_second_admin(
            Some(100),
            Operation::BulkDeleteLabels,
            Some(1)
        ));
    }
}
