//! A user name typed at the password sign-in, and the one form of it that names the person.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

use super::{ParseError, bad};

/// A user name as typed at the password sign-in, trimmed: what Sentinel is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

/// The longest user name accepted.
pub const MAX_USER_NAME: usize = 256;

impl UserName {
    pub fn parse(typed: &str) -> Result<Self, ParseError> {
        let t = typed.trim();
        if t.is_empty() {
            return Err(bad("Enter your username."));
        }
        if t.chars().count() > MAX_USER_NAME {
            return Err(bad(format!(
                "A username has at most {MAX_USER_NAME} characters."
            )));
        }
        if t.chars().any(char::is_control) {
            return Err(bad("A username cannot contain control characters."));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The person, whatever the spelling: Unicode's compatibility caseless form
    /// (NFKD of the case fold, twice over, from NFD), so `Ann`, `ANN` and `ａｎｎ` are one user.
    pub fn folded(&self) -> String {
        self.0
            .chars()
            .nfd()
            .default_case_fold()
            .nfkd()
            .default_case_fold()
            .nfkd()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_whatever_the_spelling() {
        let f = |s: &str| UserName::parse(s).unwrap().folded();
        assert_eq!(f("  Tech "), "tech");
        assert_eq!(f("TECH"), f("tech"));
        assert_eq!(f("ｔｅｃｈ"), "tech");
        assert_eq!(f("STRASSE"), f("straße"));
        assert_eq!(f("ΟΔΟΣ"), f("οδοσ"));
        assert_eq!(f("Ångström"), f("A\u{30a}ngstro\u{308}m"));
        assert_eq!(UserName::parse(" Ann ").unwrap().as_str(), "Ann");
        assert!(UserName::parse("  ").is_err());
        assert!(UserName::parse("a\u{0}b").is_err());
        assert!(UserName::parse(&"x".repeat(257)).is_err());
    }
}
