//! The one streaming CSV record splitter (`csv-core`, bounded memory) and the chunk transform built on it.
//!
//! Records are passed on as their raw bytes (line end included), so whatever a transform does
//! not rewrite reaches the browser byte for byte.

use bytes::{Bytes, BytesMut};
use csv_core::{ReadFieldResult, Reader, ReaderBuilder, Terminator};
use futures::StreamExt;

use crate::upstream::{ByteStream, UpstreamError};

/// A record longer than this means the upstream stream is not CSV we can rewrite.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Only `\n` ends a record (a `\r` before it stays part of the raw line end), as in RFC 4180
/// files and in the quirkier LF-only ones alike.
fn reader() -> Reader {
    ReaderBuilder::new()
        .terminator(Terminator::Any(b'\n'))
        .build()
}

/// What a transform does with each complete record of a CSV stream.
pub trait RecordTransform: Send + 'static {
    /// One record, its line end (if any) included; appends what to keep to `out`.
    fn record(&mut self, raw: &[u8], out: &mut BytesMut) -> Result<(), UpstreamError>;

    /// The stream ended (after its last record): a last chance to refuse it.
    fn end(&mut self) -> Result<(), UpstreamError> {
        Ok(())
    }
}

/// Cuts a byte stream into records as chunks arrive; holds at most one partial record.
pub struct Splitter {
    reader: Reader,
    buf: BytesMut,
    /// Bytes of `buf` the reader has consumed (all inside the current, partial record).
    scanned: usize,
    /// Decoded field bytes; not needed here, so one small buffer is reused.
    scratch: Vec<u8>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self {
            reader: reader(),
            buf: BytesMut::new(),
            scanned: 0,
            scratch: vec![0; 4096],
        }
    }
}

impl Splitter {
    /// Feeds a chunk; calls `each` with every record it completes.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<(), UpstreamError>,
    ) -> Result<(), UpstreamError> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut pos = start + self.scanned;
        loop {
            if pos == start {
                match self.buf.get(pos) {
                    None => break,
                    // csv-core skips blank lines; they are passed on as they came.
                    Some(b'\n') => {
                        each(&self.buf[start..=pos])?;
                        pos += 1;
                        start = pos;
                        continue;
                    }
                    Some(_) => {}
                }
            }
            if pos == self.buf.len() {
                // Wait for more: an empty input would tell the reader the stream has ended.
                break;
            }
            let (res, nin, _) = self.reader.read_field(&self.buf[pos..], &mut self.scratch);
            pos += nin;
            match res {
                ReadFieldResult::InputEmpty | ReadFieldResult::End => break,
                ReadFieldResult::OutputFull | ReadFieldResult::Field { record_end: false } => {}
                ReadFieldResult::Field { record_end: true } => {
                    each(&self.buf[start..pos])?;
                    start = pos;
                }
            }
        }
        let _ = self.buf.split_to(start);
        self.scanned = pos - start;
        if self.buf.len() > MAX_RECORD_BYTES {
            return Err(UpstreamError::BadBody(
                "a CSV record is longer than 1 MiB".into(),
            ));
        }
        Ok(())
    }

    /// The stream ended: the last record, when it had no line end.
    pub fn finish(&mut self) -> Option<Bytes> {
        self.reader.reset();
        self.scanned = 0;
        (!self.buf.is_empty()).then(|| self.buf.split().freeze())
    }
}

/// A record (line end included) split into its content and its line end (`\r\n`, `\n` or none).
pub fn line_end(record: &[u8]) -> (&[u8], &[u8]) {
    let n = if record.ends_with(b"\r\n") {
        2
    } else if record.ends_with(b"\n") {
        1
    } else {
        0
    };
    record.split_at(record.len() - n)
}

/// One field of a record: where it is in the raw content (quotes included), and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub start: usize,
    pub end: usize,
    /// Quotes removed and `""` unescaped; `None` when not UTF-8.
    pub value: Option<String>,
}

/// Splits one record's content (without its line end) into fields.
pub fn fields(content: &[u8]) -> Vec<Field> {
    // Building a reader builds its state machine: once per thread, reset per record (this runs
    // for every record of a 100,000-line export).
    thread_local! {
        static READER: std::cell::RefCell<Reader> = std::cell::RefCell::new(reader());
    }
    READER.with(|r| {
        let mut rdr = r.borrow_mut();
        rdr.reset();
        fields_with(&mut rdr, content)
    })
}

fn fields_with(rdr: &mut Reader, content: &[u8]) -> Vec<Field> {
    let mut out = Vec::new();
    let mut scratch = [0u8; 1024];
    let mut value = Vec::new();
    let (mut pos, mut start) = (0, 0);
    loop {
        // An empty rest tells the reader the record is over.
        let (res, nin, nout) = rdr.read_field(&content[pos..], &mut scratch);
        value.extend_from_slice(&scratch[..nout]);
        pos += nin;
        match res {
            ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
            ReadFieldResult::Field { record_end } => {
                // Not the last field: the reader consumed the delimiter after it.
                let end = if record_end { pos } else { pos - 1 };
                out.push(Field {
                    start,
                    end,
                    value: String::from_utf8(std::mem::take(&mut value)).ok(),
                });
                start = pos;
                if record_end {
                    break;
                }
            }
            ReadFieldResult::End => break,
        }
    }
    out
}

/// A transform's state over a stream: the splitter and what it feeds.
pub struct Records<T> {
    splitter: Splitter,
    transform: T,
}

impl<T: RecordTransform> Records<T> {
    pub fn new(transform: T) -> Self {
        Self {
            splitter: Splitter::default(),
            transform,
        }
    }

    /// Feeds a chunk; returns what the transform kept of the records it completes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, UpstreamError> {
        let mut out = BytesMut::new();
        let transform = &mut self.transform;
        self.splitter
            .push(chunk, |rec| transform.record(rec, &mut out))?;
        Ok(out.freeze())
    }

    /// The stream ended: the last record (if it had no line end), then the transform's verdict.
    pub fn finish(&mut self) -> Result<Bytes, UpstreamError> {
        let mut out = BytesMut::new();
        if let Some(rest) = self.splitter.finish() {
            self.transform.record(&rest, &mut out)?;
        }
        self.transform.end()?;
        Ok(out.freeze())
    }
}

/// Applies `transform` to `upstream` record by record as chunks arrive. An error (upstream's
/// or the transform's) ends the stream, so the response body aborts; a partial record is
/// dropped then: nothing that looks complete follows an error.
pub fn transform_stream<T: RecordTransform>(upstream: ByteStream, transform: T) -> ByteStream {
    Box::pin(futures::stream::unfold(
        (Some(upstream), Records::new(transform)),
        |(st, mut r)| async move {
            let mut s = st?;
            loop {
                match s.next().await {
                    Some(Ok(chunk)) => match r.push(&chunk) {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Some((Ok(out), (Some(s), r))),
                        Err(e) => return Some((Err(e), (None, r))),
                    },
                    Some(Err(e)) => return Some((Err(e), (None, r))),
                    None => {
                        return match r.finish() {
                            Ok(out) if out.is_empty() => None,
                            Ok(out) => Some((Ok(out), (None, r))),
                            Err(e) => Some((Err(e), (None, r))),
                        };
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = Splitter::default();
        let mut recs = Vec::new();
        for c in chunks {
            s.push(c, |r| {
                recs.push(r.to_vec());
                Ok(())
            })
            .unwrap();
        }
        recs.extend(s.finish().map(|b| b.to_vec()));
        recs
    }

    #[test]
    fn records_keep_their_bytes_across_any_chunking() {
        let csv: &[u8] = b"A,B\r\n\"x,\r\ny\",\"q\"\"\"\n\nlast,\"\"";
        let want: Vec<&[u8]> = vec![b"A,B\r\n", b"\"x,\r\ny\",\"q\"\"\"\n", b"\n", b"last,\"\""];
        for at in 0..=csv.len() {
            let (a, b) = csv.split_at(at);
            assert_eq!(split(&[a, b]), want, "split at {at}");
        }
        let bytes: Vec<&[u8]> = csv.chunks(1).collect();
        assert_eq!(split(&bytes), want);
    }

    #[test]
    fn fields_have_spans_and_values() {
        let content = b"\"a,b\",,plain,\"q\"\"x\"";
        let f = fields(content);
        let spans: Vec<(usize, usize)> = f.iter().map(|f| (f.start, f.end)).collect();
        assert_eq!(spans, vec![(0, 5), (6, 6), (7, 12), (13, 19)]);
        let values: Vec<&str> = f.iter().map(|f| f.value.as_deref().unwrap()).collect();
        assert_eq!(values, vec!["a,b", "", "plain", "q\"x"]);
        assert_eq!(fields(b"a,").len(), 2);
        assert!(fields(b"").is_empty());
    }

    #[test]
    fn refuses_a_record_without_end() {
        let mut s = Splitter::default();
        // An opening quote never closed: the record never ends.
        s.push(b"\"", |_| Ok(())).unwrap();
        let chunk = vec![b'x'; MAX_RECORD_BYTES];
        assert!(s.push(&chunk, |_| Ok(())).is_err());
    }
}
