//! Keeping the rows of chosen MDNs in an upstream CSV stream, and dropping the MDN column when it was added only for that.

use std::collections::HashSet;

use bytes::BytesMut;

use super::records::{Field, RecordTransform, fields, line_end, transform_stream};
use crate::domain::{Column, Mdn};
use crate::upstream::{ByteStream, UpstreamError};

/// Keeps the header row and the rows whose `MDN` field is in `wanted`.
#[derive(Debug)]
pub struct MdnFilter {
    wanted: HashSet<String>,
    /// Remove the MDN column (which must then be the last one).
    drop_mdn: bool,
    /// Index of the MDN field, known once the header row is read.
    mdn_idx: Option<usize>,
}

impl MdnFilter {
    pub fn new(wanted: HashSet<String>, drop_mdn: bool) -> Self {
        Self {
            wanted,
            drop_mdn,
            mdn_idx: None,
        }
    }

    fn emit(&self, content: &[u8], eol: &[u8], fields: &[Field], out: &mut BytesMut) {
        match (self.drop_mdn, fields.last()) {
            // Cut the last field and the comma before it.
            (true, Some(f)) => out.extend_from_slice(&content[..f.start.saturating_sub(1)]),
            _ => out.extend_from_slice(content),
        }
        out.extend_from_slice(if eol.is_empty() { b"\n" } else { eol });
    }
}

fn trimmed(f: &Field) -> &str {
    f.value.as_deref().map(str::trim).unwrap_or_default()
}

impl RecordTransform for MdnFilter {
    fn record(&mut self, raw: &[u8], out: &mut BytesMut) -> Result<(), UpstreamError> {
        let (content, eol) = line_end(raw);
        let fields = fields(content);
        let Some(idx) = self.mdn_idx else {
            let i = fields
                .iter()
                .position(|f| trimmed(f) == Column::Mdn.as_str())
                .ok_or_else(|| UpstreamError::BadBody("the CSV export has no MDN column".into()))?;
            if self.drop_mdn && i + 1 != fields.len() {
                return Err(UpstreamError::BadBody(
                    "the CSV export's MDN column is not the last one".into(),
                ));
            }
            self.mdn_idx = Some(i);
            self.emit(content, eol, &fields, out);
            return Ok(());
        };
        let keep = fields
            .get(idx)
            .and_then(|f| Mdn::parse(trimmed(f)).ok())
            .is_some_and(|m| self.wanted.contains(m.as_str()));
        if keep {
            self.emit(content, eol, &fields, out);
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), UpstreamError> {
        match self.mdn_idx {
            Some(_) => Ok(()),
            None => Err(UpstreamError::BadBody("the CSV export was empty".into())),
        }
    }
}

/// Keeps the header row and the rows whose `MDN` field is in `wanted`, streaming;
/// with `drop_mdn`, the MDN column (which must then be the last one) is removed.
pub fn filter_by_mdn(
    upstream: ByteStream,
    wanted: impl IntoIterator<Item = String>,
    drop_mdn: bool,
) -> ByteStream {
    transform_stream(
        upstream,
        MdnFilter::new(wanted.into_iter().collect(), drop_mdn),
    )
}

#[cfg(test)]
mod tests {
    use super::super::records::Records;
    use super::*;

    fn run(chunks: &[&[u8]], wanted: &[&str], drop: bool) -> Result<String, UpstreamError> {
        let mut f = Records::new(MdnFilter::new(
            wanted.iter().map(|s| s.to_string()).collect(),
            drop,
        ));
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&f.push(c)?);
        }
        out.extend_from_slice(&f.finish()?);
        Ok(String::from_utf8(out).unwrap())
    }

    const CSV: &[u8] = b"NICKNAME,NOTE,MDN\r\n\
\"Bus, 47\",\"multi\r\nline \"\"note\"\"\",521-267-1508\r\n\
Office,,304-228-6302\r\n\
Gym,x,555-000-1111\r\n";

    #[test]
    fn keeps_wanted_rows_and_drops_added_mdn_across_any_chunking() {
        let want = "NICKNAME,NOTE\r\n\"Bus, 47\",\"multi\r\nline \"\"note\"\"\"\r\nGym,x\r\n";
        for split in 0..CSV.len() {
            let (a, b) = CSV.split_at(split);
            let got = run(&[a, b], &["521-267-1508", "555-000-1111"], true).unwrap();
            assert_eq!(got, want, "split at {split}");
        }
    }

    #[test]
    fn keeps_mdn_when_requested_and_matches_undashed() {
        let csv = b"MDN,STATUS\n5212671508,active\n304-228-6302,suspended";
        let got = run(&[csv], &["521-267-1508"], false).unwrap();
        assert_eq!(got, "MDN,STATUS\n5212671508,active\n");
        let got = run(&[csv], &["304-228-6302"], false).unwrap();
        assert_eq!(got, "MDN,STATUS\n304-228-6302,suspended\n");
    }

    #[test]
    fn refuses_csv_without_mdn() {
        assert!(run(&[b"STATUS\nactive\n"], &["521-267-1508"], false).is_err());
        assert!(run(&[b""], &["521-267-1508"], false).is_err());
    }
}
