//! CSV cells safe to open in a spreadsheet: RFC 4180 quoting, the formula-injection guard, and that guard applied to a CSV stream.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::upstream::{ByteStream, UpstreamError};

/// A streamed record longer than this is not CSV we can rewrite.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Would a spreadsheet evaluate this cell? It starts with `=`, `+`, `-`, `@`, TAB or CR and is
/// not a plain number. Plain numbers (`-12`, `+3.5`) are left alone so numeric columns keep
/// their values; `-1+1` or `-A1` is not a plain number and is guarded.
pub fn needs_guard(value: &str) -> bool {
    value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(value)
}

/// An optional sign, digits, and an optional fraction: `-12`, `+0.5`, `3.`.
fn is_plain_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The cell's value with a leading `'` when a spreadsheet would evaluate it.
pub fn guard_formula(value: &str) -> Cow<'_, str> {
    if needs_guard(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Quotes a cell per RFC 4180 and defuses formula injection (see [`guard_formula`]).
pub fn csv_cell(value: &str) -> String {
    let guarded = guard_formula(value);
    if guarded.contains(['"', ',', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded.into_owned()
    }
}

/// Applies [`csv_cell`]'s guard to every field of an upstream CSV stream, record by record as
/// the chunks arrive; fields that need no guard pass byte for byte. An error ends the stream
/// (so the response body aborts, as before).
pub fn guard_stream(upstream: ByteStream) -> ByteStream {
    Box::pin(futures::stream::unfold(
        (Some(upstream), CsvGuard::default()),
        |(st, mut g)| async move {
            let mut s = st?;
            loop {
                match s.next().await {
                    Some(Ok(chunk)) => match g.push(&chunk) {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Some((Ok(out), (Some(s), g))),
                        Err(e) => return Some((Err(e), (None, g))),
                    },
                    Some(Err(e)) => return Some((Err(e), (None, g))),
                    None => {
                        let out = g.finish();
                        return (!out.is_empty()).then_some((Ok(out), (None, g)));
                    }
                }
            }
        },
    ))
}

/// Incremental RFC 4180 record splitter that rewrites the fields a spreadsheet would evaluate.
#[derive(Debug, Default)]
pub struct CsvGuard {
    buf: BytesMut,
    /// Bytes of `buf` already scanned (all inside the current record).
    scanned: usize,
    in_quotes: bool,
}

impl CsvGuard {
    /// Feeds a chunk; returns the complete records, guarded.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, UpstreamError> {
        self.buf.extend_from_slice(chunk);
        let mut out = BytesMut::new();
        let mut start = 0;
        for i in self.scanned..self.buf.len() {
            match self.buf[i] {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    guard_record(&self.buf[start..=i], &mut out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        let _ = self.buf.split_to(start);
        self.scanned = self.buf.len();
        if self.buf.len() > MAX_RECORD_BYTES {
            return Err(UpstreamError::BadBody(
                "a CSV record is longer than 1 MiB".into(),
            ));
        }
        Ok(out.freeze())
    }

    /// The stream ended: a last record without a line end is guarded too.
    pub fn finish(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        if !self.buf.is_empty() {
            let rest = self.buf.split();
            guard_record(&rest, &mut out);
        }
        out.freeze()
    }
}

/// Guards one record (its line end, if any, included and kept).
fn guard_record(record: &[u8], out: &mut BytesMut) {
    let eol = if record.ends_with(b"\r\n") {
        2
    } else if record.ends_with(b"\n") {
        1
    } else {
        0
    };
    let (content, eol) = record.split_at(record.len() - eol);
    for (n, (s, e)) in split_fields(content).into_iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(b",");
        }
        let field = &content[s..e];
        match field_value(field) {
            Some(v) if needs_guard(&v) => out.extend_from_slice(csv_cell(&v).as_bytes()),
            _ => out.extend_from_slice(field),
        }
    }
    out.extend_from_slice(eol);
}

/// Spans of the fields of one record (without its line end), quotes included.
pub fn split_fields(content: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, b) in content.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                spans.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    spans.push((start, content.len()));
    spans
}

/// A field's exact value (quotes removed, `""` unescaped, nothing trimmed); `None` when not UTF-8.
fn field_value(field: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(field).ok()?;
    Some(
        match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => s.to_owned(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> String {
        let mut g = CsvGuard::default();
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&g.push(c).unwrap());
        }
        out.extend_from_slice(&g.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn guards_text_cells_and_keeps_numbers_across_any_chunking() {
        let csv = b"NICKNAME,NOTE,USAGE,MDN\r\n\"=HYPERLINK(\"\"x\"\")\",\"@a, b\",-12.5,521-267-1508\r\n\"=1+1\",\"-A1\",+3,x\r\nplain,\"multi\r\nline\",,\"\ttab\"";
        let want = "NICKNAME,NOTE,USAGE,MDN\r\n\"'=HYPERLINK(\"\"x\"\")\",\"'@a, b\",-12.5,521-267-1508\r\n'=1+1,'-A1,+3,x\r\nplain,\"multi\r\nline\",,'\ttab";
        for split in 0..csv.len() {
            let (a, b) = csv.split_at(split);
            assert_eq!(run(&[a, b]), want, "split at {split}");
        }
    }

    #[test]
    fn plain_numbers() {
        for n in ["-2", "+1", "-0.5", "3.", "12"] {
            assert!(!needs_guard(n), "{n}");
        }
        for f in ["-", "+", "-1+1", "-.5", "=1", "@x", "\t1", "\r1", "-2e3"] {
            assert!(needs_guard(f), "{f:?}");
        }
    }
}
