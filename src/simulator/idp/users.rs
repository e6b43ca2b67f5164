//! The demo users: one per role, one limited to a single device group, one on a Kajeet Choice account.

/// A demo user; `sub` is the login name.
#[derive(Debug)]
pub struct DemoUser {
    pub login: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub roles: &'static [&'static str],
    pub corp_ids: &'static [&'static str],
    pub account_type: Option<&'static str>,
    /// What this user's role may do, in one sentence (the demo sign-in page).
    pub about: &'static str,
}

pub(super) const ALL_GROUPS: &[&str] = &["NORTHSTAR-ISD", "NORTHSTAR-ISD-HS", "FLEET-LARGE"];

/// One demo user per role, plus a user limited to one device group and a Kajeet Choice user.
pub const USERS: &[DemoUser] = &[
    DemoUser {
        login: "super",
        name: "Morgan Ellis (Super administrator)",
        email: "morgan@northstar.example",
        roles: &["org_super"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A super administrator: may make every change the console offers, data limits included, in every device group.",
    },
    DemoUser {
        login: "tech",
        name: "Dana Whitfield (Technician)",
        email: "dana@northstar.example",
        roles: &["org_tech"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A technician: may make every change, from status and nicknames to data limits, labels and SmartSpot settings.",
    },
    DemoUser {
        login: "kajeet",
        name: "Riley Chen (Kajeet-managed)",
        email: "riley@kajeet.example",
        roles: &["org_kajeetmanaged"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A Kajeet-managed account: may change status, nicknames, notes, groups and IMEIs and delete labels, but not data limits.",
    },
    DemoUser {
        login: "manager",
        name: "Jordan Alvarez (Manager plus)",
        email: "jordan@northstar.example",
        roles: &["org_managerplus"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A manager plus: may change status, nicknames, notes, groups and IMEIs and delete labels, but not data limits.",
    },
    DemoUser {
        login: "media",
        name: "Sam Okafor (Media center)",
        email: "sam@northstar.example",
        roles: &["org_mediacenter"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A media center account: sees every line but may change only the MDN custom field and SmartSpot settings.",
    },
    DemoUser {
        login: "readonly",
        name: "Casey Brooks (Read only)",
        email: "casey@northstar.example",
        roles: &["readonly"],
        corp_ids: ALL_GROUPS,
        account_type: None,
        about: "A read-only account: sees and exports every line, and every change is refused.",
    },
    DemoUser {
        login: "limited",
        name: "Avery Patel (Technician, NORTHSTAR-ISD only)",
        email: "avery@northstar.example",
        roles: &["org_tech"],
        corp_ids: &["NORTHSTAR-ISD"],
        account_type: None,
        about: "A technician who may open only NORTHSTAR-ISD: the other device groups are refused.",
    },
    DemoUser {
        login: "choice",
        name: "Taylor Nguyen (Technician, Kajeet Choice)",
        email: "taylor@northstar.example",
        roles: &["org_tech"],
        corp_ids: ALL_GROUPS,
        account_type: Some("kajeet_choice"),
        about: "A technician on a Kajeet Choice account: everything a technician may do, plus the summer usage setting.",
    },
];

pub fn user(login: &str) -> Option<&'static DemoUser> {
    USERS.iter().find(|u| u.login == login)
}
