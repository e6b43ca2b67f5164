//! The device table's columns: which ones a person shows (`columns=` in the list's URL), parsed once.

use super::{ParseError, SortField, bad};

/// One column of the device table (not the export's: those are [`super::Column`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableColumn {
    Mdn,
    Nickname,
    Status,
    MonthUsed,
    MonthlyLimit,
    FilterGroup,
    Device,
    Network,
    Last30,
    DayUsed,
    DailyLimit,
    Imei,
    AssetTag,
    MediaCenter,
    EsnHex,
    Uicc,
    Labels,
}

impl TableColumn {
    /// Every column, in the table's order: the defaults first.
    pub const ALL: &'static [TableColumn] = &[
        Self::Mdn,
        Self::Nickname,
        Self::Status,
        Self::MonthUsed,
        Self::MonthlyLimit,
        Self::FilterGroup,
        Self::Device,
        Self::Network,
        Self::Last30,
        Self::DayUsed,
        Self::DailyLimit,
        Self::Imei,
        Self::AssetTag,
        Self::MediaCenter,
        Self::EsnHex,
        Self::Uicc,
        Self::Labels,
    ];

    /// What a list shows when nobody chose (the first seven of [`Self::ALL`]): MDN, nickname,
    /// status, used this month, monthly limit, filter group, device.
    pub const DEFAULT: &'static [TableColumn] = Self::ALL.split_at(7).0;

    /// Its name in `columns=`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Mdn => "mdn",
            Self::Nickname => "nickname",
            Self::Status => "status",
            Self::MonthUsed => "month",
            Self::MonthlyLimit => "limit",
            Self::FilterGroup => "filter",
            Self::Device => "device",
            Self::Network => "network",
            Self::Last30 => "last30",
            Self::DayUsed => "today",
            Self::DailyLimit => "daily",
            Self::Imei => "imei",
            Self::AssetTag => "asset",
            Self::MediaCenter => "media",
            Self::EsnHex => "esn",
            Self::Uicc => "uicc",
            Self::Labels => "labels",
        }
    }

    /// Its header.
    pub fn label(self) -> &'static str {
        match self {
            Self::Mdn => "MDN",
            Self::Nickname => "Nickname",
            Self::Status => "Status",
            Self::MonthUsed => "This month",
            Self::MonthlyLimit => "Monthly limit",
            Self::FilterGroup => "Filter group",
            Self::Device => "Device",
            Self::Network => "Network",
            Self::Last30 => "Last 30 days",
            Self::DayUsed => "Today",
            Self::DailyLimit => "Daily limit",
            Self::Imei => "IMEI",
            Self::AssetTag => "Asset tag",
            Self::MediaCenter => "Media center",
            Self::EsnHex => "ESN (hex)",
            Self::Uicc => "UICC",
            Self::Labels => "Labels",
        }
    }

    /// The upstream sort field, for the columns Sentinel can sort by (the others are not sortable).
    pub fn sort(self) -> Option<SortField> {
        match self {
            Self::Mdn => Some(SortField::Mdn),
            Self::Status => Some(SortField::Status),
            Self::MonthUsed => Some(SortField::MonthlyAmountUsed),
            Self::MonthlyLimit => Some(SortField::MonthlyLimit),
            Self::FilterGroup => Some(SortField::FilterGroup),
            Self::Device => Some(SortField::DeviceName),
            Self::Last30 => Some(SortField::Last30DaysUsed),
            Self::DayUsed => Some(SortField::DayAmountUsed),
            Self::DailyLimit => Some(SortField::DailyLimit),
            Self::MediaCenter => Some(SortField::MediaCenterStatus),
            Self::EsnHex => Some(SortField::EsnHex),
            Self::Uicc => Some(SortField::Uicc),
            Self::Nickname | Self::Network | Self::Imei | Self::AssetTag | Self::Labels => None,
        }
    }

    /// Is it a number (right-aligned)?
    pub fn numeric(self) -> bool {
        matches!(
            self,
            Self::MonthUsed | Self::MonthlyLimit | Self::Last30 | Self::DayUsed | Self::DailyLimit
        )
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let k = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.key().eq_ignore_ascii_case(k))
            .ok_or_else(|| {
                bad(format!(
                    "“{k}” is not a column of the list; expected some of {}.",
                    Self::ALL
                        .iter()
                        .map(|c| c.key())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

/// The columns a list shows: never empty, always with the MDN (the row's link), in the table's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumns(Vec<TableColumn>);

impl Default for TableColumns {
    fn default() -> Self {
        Self(TableColumn::DEFAULT.to_vec())
    }
}

impl TableColumns {
    /// Columns from their keys (`columns=mdn,status` or repeated `columns=`); the MDN is always added.
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Self, ParseError> {
        let mut wanted = vec![TableColumn::Mdn];
        for k in keys
            .into_iter()
            .flat_map(|v| v.split(','))
            .filter(|k| !k.trim().is_empty())
        {
            wanted.push(TableColumn::parse(k)?);
        }
        Ok(Self(
            TableColumn::ALL
                .iter()
                .copied()
                .filter(|c| wanted.contains(c))
                .collect(),
        ))
    }

    /// The `columns` values of a query string: `None` when it has none.
    pub fn from_query(raw: Option<&str>) -> Result<Option<Self>, ParseError> {
        let values: Vec<String> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "columns")
            .map(|(_, v)| v.into_owned())
            .collect();
        if values.is_empty() {
            return Ok(None);
        }
        Self::from_keys(values.iter().map(String::as_str)).map(Some)
    }

    /// These columns and the one the list is sorted by (a sort is never by a hidden column).
    pub fn showing_sort(mut self, sort: SortField) -> Self {
        if let Some(c) = TableColumn::ALL.iter().find(|c| c.sort() == Some(sort)) {
            if !self.0.contains(c) {
                self.0.push(*c);
                self.0
                    .sort_by_key(|x| TableColumn::ALL.iter().position(|y| y == x));
            }
        }
        self
    }

    pub fn all(&self) -> &[TableColumn] {
        &self.0
    }

    pub fn contains(&self, c: TableColumn) -> bool {
        self.0.contains(&c)
    }

    pub fn is_default(&self) -> bool {
        self.0 == TableColumn::DEFAULT
    }

    /// `mdn,nickname,…`: the value of `columns=`.
    pub fn to_param(&self) -> String {
        self.0.iter().map(|c| c.key()).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_parse_in_table_order_with_the_mdn() {
        let c = TableColumns::from_keys(["labels,status", "imei"]).unwrap();
        assert_eq!(c.to_param(), "mdn,status,imei,labels");
        assert!(TableColumns::from_keys(["bogus"]).is_err());
        assert!(TableColumns::from_keys([""]).unwrap().all() == [TableColumn::Mdn]);
        assert!(TableColumns::default().is_default());
        assert_eq!(
            TableColumns::default().to_param(),
            "mdn,nickname,status,month,limit,filter,device"
        );
        let sorted = TableColumns::default().showing_sort(SortField::Uicc);
        assert_eq!(sorted.all().last(), Some(&TableColumn::Uicc));
        assert_eq!(
            TableColumns::default().showing_sort(SortField::Status),
            TableColumns::default()
        );
    }

    #[test]
    fn columns_come_from_a_query_string() {
        assert_eq!(TableColumns::from_query(Some("limit=25")).unwrap(), None);
        let c = TableColumns::from_query(Some("columns=status&columns=device&limit=25"))
            .unwrap()
            .unwrap();
        assert_eq!(c.to_param(), "mdn,status,device");
        let c = TableColumns::from_query(Some("columns=mdn%2Cnetwork")).unwrap();
        assert_eq!(c.unwrap().to_param(), "mdn,network");
    }
}
