//! The list's snapshot filters (CONTRACT §6): `status`, `network`, `filterGroup`, `device`,
//! each repeatable (any of its values), several fields together (all of them).

use super::{ParseError, bad};

/// Values one list may filter by, all fields together.
pub const MAX_FILTER_VALUES: usize = 50;
/// The longest filter value.
const MAX_VALUE_CHARS: usize = 100;

/// A field the snapshot list filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterField {
    Status,
    Network,
    FilterGroup,
    Device,
}

impl FilterField {
    pub const ALL: [FilterField; 4] = [
        FilterField::Status,
        FilterField::Network,
        FilterField::FilterGroup,
        FilterField::Device,
    ];

    /// The query key, as the contract names it.
    pub fn key(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Network => "network",
            Self::FilterGroup => "filterGroup",
            Self::Device => "device",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Status => "Status",
            Self::Network => "Network",
            Self::FilterGroup => "Filter group",
            Self::Device => "Device",
        }
    }

    pub fn from_key(k: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == k)
    }
}

/// The filters of one list, in the order given (a value given twice, in any case, counts once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter(Vec<(FilterField, String)>);

impl ListFilter {
    /// From decoded query pairs whose keys are `prefix` + a field's key; other keys are left
    /// alone, empty values ignored (a form's "any" choice).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        prefix: &str,
    ) -> Result<Self, ParseError> {
        let mut out: Vec<(FilterField, String)> = Vec::new();
        for (k, v) in pairs {
            let Some(f) = k.strip_prefix(prefix).and_then(FilterField::from_key) else {
                continue;
            };
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            if v.chars().count() > MAX_VALUE_CHARS {
                return Err(bad(format!(
                    "The {} filter is longer than {MAX_VALUE_CHARS} characters.",
                    f.label().to_lowercase()
                )));
            }
            if v.chars().any(char::is_control) {
                return Err(bad(format!(
                    "The {} filter has a control character.",
                    f.label().to_lowercase()
                )));
            }
            if out
                .iter()
                .any(|(g, w)| *g == f && w.eq_ignore_ascii_case(v))
            {
                continue;
            }
            out.push((f, v.to_owned()));
            if out.len() > MAX_FILTER_VALUES {
                return Err(bad(format!(
                    "A list can be filtered by at most {MAX_FILTER_VALUES} values."
                )));
            }
        }
        Ok(Self(out))
    }

    /// From a raw query string (`status=active&status=suspended&network=…`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ParseError> {
        let pairs = super::form_pairs::decode(raw.unwrap_or_default().as_bytes())?;
        Self::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), "")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every field and value, in the order given.
    pub fn entries(&self) -> &[(FilterField, String)] {
        &self.0
    }

    /// The values of one field.
    pub fn values(&self, f: FilterField) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(g, _)| *g == f)
            .map(|(_, v)| v.as_str())
    }

    /// The same filters without the `i`-th value (a chip removed).
    pub fn without(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        if i < v.len() {
            v.remove(i);
        }
        Self(v)
    }

    /// Query pairs (repeated keys), for links.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        self.0.iter().map(|(f, v)| (f.key(), v.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_cases() {
        let f = ListFilter::parse(Some(
            "status=active&status=ACTIVE&status=suspended&filterGroup=K-5+Safe&offset=0&device=",
        ))
        .unwrap();
        assert_eq!(
            f.values(FilterField::Status).collect::<Vec<_>>(),
            ["active", "suspended"]
        );
        assert_eq!(
            f.values(FilterField::FilterGroup).collect::<Vec<_>>(),
            ["K-5 Safe"]
        );
        assert_eq!(f.entries().len(), 3);
        assert_eq!(f.without(0).entries().len(), 2);
        assert_eq!(
            f.to_pairs()[2],
            ("filterGroup", "K-5 Safe".to_owned()),
            "keys as the contract names them"
        );
        assert!(ListFilter::parse(Some("offset=5")).unwrap().is_empty());
        assert!(ListFilter::parse(Some(&format!("network={}", "x".repeat(101)))).is_err());
        let prefixed = ListFilter::from_pairs(
            [("list_status", "active"), ("status", "SUSPENDED")],
            "list_",
        )
        .unwrap();
        assert_eq!(prefixed.to_pairs(), [("status", "active".to_owned())]);
    }
}
