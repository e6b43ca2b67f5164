//! Streamed response bodies, fused: the compression layer polls a body again after its end,
//! which an `unfold` stream answers with a panic.

use axum::BoxError;
use axum::body::{Body, Bytes};
use futures::{Stream, StreamExt};

/// The body of every streamed download (CSV exports, audit, change lines, overview figures).
pub fn body<S, T, E>(stream: S) -> Body
where
    S: Stream<Item = Result<T, E>> + Send + 'static,
    T: Into<Bytes> + 'static,
    E: Into<BoxError> + 'static,
{
    Body::from_stream(stream.fuse())
}
