//! The formula-injection guard on an upstream CSV stream: fields a spreadsheet would evaluate are rewritten, the rest pass byte for byte.

use bytes::BytesMut;

use super::records::{RecordTransform, fields, line_end, transform_stream};
use super::{csv_cell, needs_guard};
use crate::upstream::{ByteStream, UpstreamError};

/// Guards every field of every record (see [`super::guard_formula`]).
#[derive(Debug, Default)]
pub struct Guard;

impl RecordTransform for Guard {
    fn record(&mut self, raw: &[u8], out: &mut BytesMut) -> Result<(), UpstreamError> {
        let (content, eol) = line_end(raw);
        for (n, f) in fields(content).into_iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b",");
            }
            match f.value {
                Some(v) if needs_guard(&v) => out.extend_from_slice(csv_cell(&v).as_bytes()),
                _ => out.extend_from_slice(&content[f.start..f.end]),
            }
        }
        out.extend_from_slice(eol);
        Ok(())
    }
}

/// Applies the guard to an upstream CSV stream, record by record as the chunks arrive.
pub fn guard_stream(upstream: ByteStream) -> ByteStream {
    transform_stream(upstream, Guard)
}

#[cfg(test)]
mod tests {
    use super::super::records::Records;

    fn run(chunks: &[&[u8]]) -> String {
        let mut g = Records::new(super::Guard);
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&g.push(c).unwrap());
        }
        out.extend_from_slice(&g.finish().unwrap());
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
    fn unquoted_and_lf_only_pass_unchanged() {
        let csv = b"A,B\n\"quoted\",1\n\nx,\n";
        assert_eq!(run(&[csv]), String::from_utf8_lossy(csv));
    }
}
