//! One sample: a tracked group's CSV export stream read, as it arrives, into one compact
//! [`SampleLine`] per line (the columns that matter, usage in hundredths of MB; the columns with
//! few distinct values as numbers into the sample's [`Names`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::csv::records::{Splitter, fields, line_end};
use crate::domain::Column;
use crate::overview::{amount, mdn_number};
use crate::upstream::{ByteStream, UpstreamError};

/// The columns a sample asks for.
pub const SAMPLE_COLUMNS: [Column; 14] = [
    Column::Mdn,
    Column::Nickname,
    Column::Status,
    Column::FilterGroup,
    Column::Network,
    Column::DeviceName,
    Column::Labels,
    Column::MonthlyAmountUsed,
    Column::DayAmountUsed,
    Column::Last30DaysUsed,
    Column::MonthlyLimit,
    Column::DailyLimit,
    Column::SummerStatus,
    Column::MediaCenterStatus,
];

/// A value of a column with few distinct values, as its number in the sample's [`Names`].
pub type NameId = u32;

/// The distinct values of a sample's shared columns (statuses, filter groups, networks, devices,
/// label lists): each held once, lines hold their number (4 bytes, not a pointer and a length).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names(Vec<Arc<str>>);

impl Names {
    /// The value of `id` ("" for an unknown one).
    pub fn get(&self, id: NameId) -> &str {
        self.0.get(id as usize).map_or("", |s| s)
    }

    /// The shared value of `id` itself (no copy of its text).
    pub fn shared(&self, id: NameId) -> Arc<str> {
        self.0
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(""))
    }

    /// Every value, by number.
    pub fn all(&self) -> impl Iterator<Item = (NameId, &str)> {
        self.0.iter().enumerate().map(|(i, s)| (i as NameId, &**s))
    }
}

/// One sample: its lines (sorted by MDN, one per MDN) and the values they share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sample {
    pub lines: Vec<SampleLine>,
    pub names: Names,
}

impl Sample {
    /// The label names of a line's labels (`;`-separated as the export gives them), one by one.
    pub fn label_names(&self, l: &SampleLine) -> impl Iterator<Item = &str> {
        split_labels(self.names.get(l.labels))
    }
}

/// Label names from the export's `;`-separated list.
pub fn split_labels(labels: &str) -> impl Iterator<Item = &str> {
    labels
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// One line as a sample saw it (88 bytes and its nickname: a 100,000-line sample in ~10 MiB).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SampleLine {
    pub mdn: u64,
    pub nickname: Box<str>,
    /// The columns with few distinct values, as numbers into the sample's [`Names`].
    pub status: NameId,
    pub filter_group: NameId,
    pub network: NameId,
    pub device: NameId,
    /// The line's label list.
    pub labels: NameId,
    pub summer_status: NameId,
    pub media_center_status: NameId,
    /// Hundredths of MB.
    pub month_used: u32,
    pub day_used: u32,
    pub last30_used: u32,
    pub monthly_limit: Option<u32>,
    pub daily_limit: Option<u32>,
}

/// Reads the export into lines (sorted by MDN, one per MDN). An unreadable body, a missing
/// column, a broken stream or one silent for `idle` is an error: a sample is whole or it is
/// not taken.
pub async fn read(
    mut stream: ByteStream,
    idle: Duration,
    expected: usize,
) -> Result<Sample, UpstreamError> {
    let mut splitter = Splitter::default();
    // Room for the lines the group had last time: no doubling of a large vector while it grows.
    let mut reader = Reader {
        lines: Vec::with_capacity(expected),
        ..Reader::default()
    };
    while let Some(chunk) = tokio::time::timeout(idle, stream.next())
        .await
        .map_err(|_| UpstreamError::Timeout(idle))?
    {
        let chunk = chunk?;
        splitter.push(&chunk, |rec| reader.record(rec))?;
    }
    if let Some(last) = splitter.finish() {
        reader.record(&last)?;
    }
    if reader.pos.is_none() {
        return Err(UpstreamError::BadBody("the CSV export was empty".into()));
    }
    let mut lines = reader.lines;
    lines.sort_unstable_by_key(|l| l.mdn);
    lines.dedup_by_key(|l| l.mdn);
    Ok(Sample {
        lines,
        names: Names(reader.names),
    })
}

#[derive(Default)]
struct Reader {
    /// Each column's index in the export's rows (in [`SAMPLE_COLUMNS`] order).
    pos: Option<Vec<usize>>,
    lines: Vec<SampleLine>,
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, NameId>,
}

impl Reader {
    fn share(&mut self, v: &str) -> NameId {
        if let Some(id) = self.ids.get(v) {
            return *id;
        }
        let id = NameId::try_from(self.names.len()).unwrap_or(NameId::MAX);
        let a: Arc<str> = Arc::from(v);
        self.names.push(Arc::clone(&a));
        self.ids.insert(a, id);
        id
    }
}

impl Reader {
    fn record(&mut self, raw: &[u8]) -> Result<(), UpstreamError> {
        let (content, _) = line_end(raw);
        if content.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let cells: Vec<String> = fields(content)
            .into_iter()
            .map(|f| f.value.unwrap_or_default())
            .collect();
        let Some(pos) = &self.pos else {
            let names: Vec<&str> = cells
                .iter()
                .map(|c| c.trim().trim_start_matches('\u{feff}'))
                .collect();
            let pos = SAMPLE_COLUMNS
                .iter()
                .map(|c| {
                    names.iter().position(|n| *n == c.as_str()).ok_or_else(|| {
                        UpstreamError::BadBody(format!(
                            "the CSV export has no {} column",
                            c.as_str()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.pos = Some(pos);
            return Ok(());
        };
        let pos = pos.clone();
        let cell = |i: usize| cells.get(pos[i]).map_or("", |s| s.trim());
        let Some(mdn) = mdn_number(cell(0)) else {
            return Ok(());
        };
        let line = SampleLine {
            mdn,
            nickname: cell(1).into(),
            status: self.share(cell(2)),
            filter_group: self.share(cell(3)),
            network: self.share(cell(4)),
            device: self.share(cell(5)),
            labels: self.share(cell(6)),
            month_used: amount(cell(7)).unwrap_or(0),
            day_used: amount(cell(8)).unwrap_or(0),
            last30_used: amount(cell(9)).unwrap_or(0),
            monthly_limit: amount(cell(10)),
            daily_limit: amount(cell(11)),
            summer_status: self.share(cell(12)),
            media_center_status: self.share(cell(13)),
        };
        self.lines.push(line);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_any_chunking_and_column_order() {
        let csv = "STATUS,MDN,NICKNAME,FILTER_GROUP,NETWORK,DEVICE_NAME,LABELS,MONTHLY_AMOUNT_USED,DAY_AMOUNT_USED,LAST_30_DAYS_USED,MONTHLY_LIMIT,DAILY_LIMIT,SUMMER_STATUS,MEDIA_CENTER_STATUS\r\n\
active,614-300-0002,\"Bus, 47\",Staff,Verizon,Franklin T10,Buses;Staff devices,10.50,1.25,30.00,5120.00,,,ENABLED\r\n\
suspended,521-267-1508,,Student_K8,AT&T,SmartSpot,,0.00,0.00,0.00,,,SUSPENDED,DISABLED";
        for n in [1, 5, 64, 4096] {
            let chunks: Vec<Result<bytes::Bytes, UpstreamError>> = csv
                .as_bytes()
                .chunks(n)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            let sample = read(
                Box::pin(futures::stream::iter(chunks)),
                Duration::from_secs(1),
                0,
            )
            .await
            .unwrap();
            let lines = &sample.lines;
            assert_eq!(lines.len(), 2);
            assert_eq!(lines[0].mdn, 5_212_671_508);
            assert_eq!(&*lines[1].nickname, "Bus, 47");
            assert_eq!(sample.names.get(lines[1].status), "active");
            assert_eq!(sample.names.get(lines[0].device), "SmartSpot");
            assert_eq!(lines[1].month_used, 1_050);
            assert_eq!(lines[1].monthly_limit, Some(512_000));
            assert_eq!(lines[1].daily_limit, None);
            assert_eq!(
                sample.label_names(&lines[1]).collect::<Vec<_>>(),
                ["Buses", "Staff devices"]
            );
        }
        let bad: Vec<Result<bytes::Bytes, UpstreamError>> =
            vec![Ok(bytes::Bytes::from_static(b"MDN,STATUS\r\n"))];
        assert!(
            read(
                Box::pin(futures::stream::iter(bad)),
                Duration::from_secs(1),
                0
            )
            .await
            .is_err()
        );
    }
}
