//! Domain newtypes parsed once at the edge: device groups, MDNs, IMEIs, sort orders, list queries.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value from the outside was refused; the message is fit to show to a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn bad(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// A device group id (`corpId`): letters, digits, `-`, `_`, `.`; 1..=64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CorpId(String);

impl CorpId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 {
            return Err(bad("A device group id must have 1 to 64 characters."));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(format!(
                "“{s}” is not a device group id (letters, digits, - _ . only)."
            )));
        }
        if s.chars().all(|c| c == '.') {
            // `.` and `..` are path segments, not names: they would change the upstream path.
            return Err(bad(format!("“{s}” is not a device group id.")));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CorpId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CorpId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A mobile device number in the vendor's dashed form `NNN-NNN-NNNN`.
/// Accepts 10 digits with or without dashes, spaces, dots or parentheses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Mdn(String);

impl Mdn {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
        let only_punct = s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '.' | '(' | ')'));
        if digits.len() != 10 || !only_punct {
            return Err(bad(format!(
                "“{}” is not an MDN: expected 10 digits such as 521-267-1508.",
                s.trim()
            )));
        }
        Ok(Self(format!(
            "{}-{}-{}",
            &digits[0..3],
            &digits[3..6],
            &digits[6..10]
        )))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 10 digits without dashes (the vendor's `key`).
    pub fn digits(&self) -> String {
        self.0.replace('-', "")
    }
}

impl fmt::Display for Mdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Mdn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Mdn::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An IMEI: 15 digits whose last is the Luhn check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Imei(String);

impl Imei {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.len() != 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "“{s}” is not an IMEI: expected exactly 15 digits."
            )));
        }
        if !luhn_ok(s) {
            return Err(bad(format!(
                "“{s}” is not a valid IMEI: its check digit does not match."
            )));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Luhn check over a string of ASCII digits; anything else (or nothing) fails the check.
pub fn luhn_ok(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// The Luhn check digit that completes `body` (14 digits for an IMEI).
pub fn luhn_check_digit(body: &str) -> u8 {
    for d in 0..10u8 {
        if luhn_ok(&format!("{body}{d}")) {
            return d;
        }
    }
    0
}

impl fmt::Display for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Imei {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Imei::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal / $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The upstream's spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            /// A human label for the UI.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                match s.trim() {
                    $($wire => Ok($name::$variant),)+
                    other => Err(bad(format!(
                        "“{}” is not a known {}; expected one of {}.",
                        other,
                        stringify!($name),
                        [$($wire),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

wire_enum!(
    /// The twelve sort values of the vendor documentation.
    SortField {
        Mdn = "MDN" / "MDN",
        Status = "STATUS" / "Status",
        MediaCenterStatus = "MEDIA_CENTER_STATUS" / "Media center status",
        EsnHex = "ESNHEX" / "ESN (hex)",
        Uicc = "UICC" / "UICC",
        DeviceName = "DEVICE_NAME" / "Device",
        MonthlyLimit = "MONTHLY_LIMIT" / "Monthly limit",
        MonthlyAmountUsed = "MONTHLY_AMOUNT_USED" / "Used this month",
        DayAmountUsed = "DAY_AMOUNT_USED" / "Used today",
        Last30DaysUsed = "LAST_30_DAYS_USED" / "Last 30 days",
        DailyLimit = "DAILY_LIMIT" / "Daily limit",
        FilterGroup = "FILTER_GROUP" / "Filter group",
    }
);

wire_enum!(
    /// Sort direction.
    SortDir {
        Asc = "ASC" / "ascending",
        Desc = "DESC" / "descending",
    }
);

impl SortDir {
    pub fn flip(self) -> Self {
        match self {
            SortDir::Asc => SortDir::Desc,
            SortDir::Desc => SortDir::Asc,
        }
    }
}

wire_enum!(
    /// The 29 CSV columns of `list_devices` (vendor documentation).
    Column {
        Imei = "IMEI" / "IMEI",
        Mdn = "MDN" / "MDN",
        Status = "STATUS" / "Status",
        MediaCenterStatus = "MEDIA_CENTER_STATUS" / "Media center status",
        DeviceName = "DEVICE_NAME" / "Device",
        Nickname = "NICKNAME" / "Nickname",
        FilterGroup = "FILTER_GROUP" / "Filter group",
        SummerStatus = "SUMMER_STATUS" / "Summer status",
        Last30DaysUsed = "LAST_30_DAYS_USED" / "Last 30 days used",
        MonthlyLimit = "MONTHLY_LIMIT" / "Monthly limit",
        DailyLimit = "DAILY_LIMIT" / "Daily limit",
        MonthlyAmountUsed = "MONTHLY_AMOUNT_USED" / "Used this month",
        DayAmountUsed = "DAY_AMOUNT_USED" / "Used today",
        CorpId = "CORP_ID" / "Device group",
        CorpDescription = "CORP_DESCRIPTION" / "Device group description",
        Note = "NOTE" / "Note",
        Uicc = "UICC" / "UICC",
        Network = "NETWORK" / "Network",
        Apn = "APN" / "APN",
        EffectiveVpnStatus = "EFFECTIVE_VPN_STATUS" / "VPN status",
        MdnCustomField = "MDN_CUSTOM_FIELD" / "MDN custom field",
        Labels = "LABELS" / "Labels",
        Mac = "MAC" / "MAC",
        OemSerialNumber = "OEM_SERIAL_NUMBER" / "Serial number",
        Name = "NAME" / "Name",
        Description = "DESCRIPTION" / "Description",
        VerizonBiPlanId = "VERIZON_BI_PLAN_ID" / "Verizon BI plan id",
        SimType = "SIM_TYPE" / "SIM type",
        Eid = "EID" / "EID",
    }
);

wire_enum!(
    /// The role scopes a token can carry.
    Role {
        OrgSuper = "org_super" / "Super administrator",
        OrgTech = "org_tech" / "Technician",
        OrgKajeetManaged = "org_kajeetmanaged" / "Kajeet-managed",
        OrgManagerPlus = "org_managerplus" / "Manager plus",
        OrgMediaCenter = "org_mediacenter" / "Media center",
        Readonly = "readonly" / "Read only",
    }
);

impl Role {
    /// Roles from a space-separated OAuth `scope`; unknown values are ignored.
    pub fn from_scope_str(scope: &str) -> Vec<Role> {
        let mut roles: Vec<Role> = scope
            .split_ascii_whitespace()
            .filter_map(|s| Role::parse(s).ok())
            .collect();
        roles.sort_by_key(|r| r.as_str());
        roles.dedup();
        roles
    }
}

/// Page sizes the list's menu offers; any other size from 1 to [`MAX_PAGE_SIZE`] is accepted too.
pub const PAGE_SIZES: [u32; 4] = [25, 50, 100, 500];

/// The largest `limit` passed to the upstream.
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// A page size (the upstream's `limit`): 1 to [`MAX_PAGE_SIZE`], passed on verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let n: u32 = t.parse().map_err(|_| {
            bad(format!(
                "“{t}” is not a page size; give a number from 1 to {MAX_PAGE_SIZE}."
            ))
        })?;
        if (1..=MAX_PAGE_SIZE).contains(&n) {
            Ok(Self(n))
        } else {
            Err(bad(format!(
                "Page size {n} is out of range; give a number from 1 to {MAX_PAGE_SIZE}."
            )))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(25)
    }
}

/// A free-text search, trimmed, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchValue(String);

impl SearchValue {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.chars().count() > 100 {
            return Err(bad("A search may have at most 100 characters."));
        }
        if s.chars().any(char::is_control) {
            return Err(bad("A search may not contain control characters."));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Label ids, as the comma-separated `labelIds` query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelIds(Vec<i64>);

impl LabelIds {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut ids = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id: i64 = part
                .parse()
                .map_err(|_| bad(format!("“{part}” is not a label id.")))?;
            if id < 0 {
                return Err(bad(format!("“{part}” is not a label id.")));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() > 50 {
            return Err(bad("At most 50 labels can be combined."));
        }
        Ok(Self(ids))
    }
    pub fn from_ids(ids: Vec<i64>) -> Self {
        Self(ids)
    }
    pub fn ids(&self) -> &[i64] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, id: i64) -> bool {
        self.0.contains(&id)
    }
    /// The wire form: `12,18`.
    pub fn to_param(&self) -> String {
        self.0
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The list's query as the user sees it in the URL (upstream names and values), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub offset: u64,
    pub limit: PageSize,
    pub sort: SortField,
    pub sort_dir: SortDir,
    pub search: SearchValue,
    pub labels: LabelIds,
    /// A tracked group's snapshot filters (not the upstream's: never sent to it).
    pub filter: ListFilter,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: PageSize::default(),
            sort: SortField::Mdn,
            sort_dir: SortDir::Asc,
            search: SearchValue::default(),
            labels: LabelIds::default(),
            filter: ListFilter::default(),
        }
    }
}

/// The raw query string fields of the list; every field optional, all strings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawListQuery {
    pub offset: Option<String>,
    pub limit: Option<String>,
    pub sort: Option<String>,
    #[serde(rename = "sortDir")]
    pub sort_dir: Option<String>,
    #[serde(rename = "searchValue")]
    pub search_value: Option<String>,
    #[serde(rename = "labelIds")]
    pub label_ids: Option<String>,
}

impl ListQuery {
    /// Parses the raw query; an empty value means the default.
    pub fn parse(raw: &RawListQuery) -> Result<Self, ParseError> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let d = ListQuery::default();
        let offset = match given(&raw.offset) {
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| bad(format!("“{s}” is not a valid offset.")))?,
            None => 0,
        };
        if offset > 10_000_000 {
            return Err(bad("That offset is out of range."));
        }
        Ok(Self {
            offset,
            limit: given(&raw.limit)
                .map(PageSize::parse)
                .transpose()?
                .unwrap_or(d.limit),
            sort: given(&raw.sort)
                .map(SortField::parse)
                .transpose()?
                .unwrap_or(d.sort),
            sort_dir: given(&raw.sort_dir)
                .map(SortDir::parse)
                .transpose()?
                .unwrap_or(d.sort_dir),
            search: raw
                .search_value
                .as_deref()
                .map(SearchValue::parse)
                .transpose()?
                .unwrap_or_default(),
            labels: raw
                .label_ids
                .as_deref()
                .map(LabelIds::parse)
                .transpose()?
                .unwrap_or_default(),
            filter: ListFilter::default(),
        })
    }

    /// Query pairs in the upstream's names, for links and for the upstream call.
    /// Defaults are left out of links so URLs stay short.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("offset", self.offset.to_string()),
            ("limit", self.limit.get().to_string()),
            ("sort", self.sort.as_str().to_owned()),
            ("sortDir", self.sort_dir.as_str().to_owned()),
        ];
        if !self.search.is_empty() {
            p.push(("searchValue", self.search.as_str().to_owned()));
        }
        if !self.labels.is_empty() {
            p.push(("labelIds", self.labels.to_param()));
        }
        p.extend(self.filter.to_pairs());
        p
    }
}

/// Where a change was made from, as the audit log marks it: absent for the admin console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The self-service portal (its forms post `via=portal`).
    Portal,
}

impl Via {
    /// The form field `via`: absent or empty is the console itself; anything but `portal` is refused.
    pub fn parse(s: Option<&str>) -> Result<Option<Self>, ParseError> {
        match s.map(str::trim) {
            None | Some("") => Ok(None),
            Some("portal") => Ok(Some(Via::Portal)),
            Some(_) => Err(bad("The field “via” may only be “portal”.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Portal => "portal",
        }
    }
}

pub mod amounts;
pub mod data_limit;
pub mod day;
pub mod form_pairs;
mod list_filter;
mod table;
pub mod when;
pub use list_filter::{FilterField, ListFilter, MAX_FILTER_VALUES};
pub use table::{TableColumn, TableColumns};
pub use when::RunAt;

mod user_name;
pub use user_name::{MAX_USER_NAME, UserName};

#[cfg(test)]
mod tests;
