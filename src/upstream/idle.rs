//! An upstream byte stream that ends with a timeout when no chunk comes for a while, and stops
//! after its first error (a fused stream: nothing is read past a failure).

use std::time::Duration;

use futures::StreamExt;

use super::{ByteStream, UpstreamError};

/// Ends the stream with [`UpstreamError::Timeout`] when no chunk comes for `idle`; stops after an error.
pub fn with_idle_timeout(s: ByteStream, idle: Duration) -> ByteStream {
    Box::pin(futures::stream::unfold(Some(s), move |st| async move {
        let mut s = st?;
        match tokio::time::timeout(idle, s.next()).await {
            Ok(Some(Ok(b))) => Some((Ok(b), Some(s))),
            Ok(Some(Err(e))) => Some((Err(e), None)),
            Ok(None) => None,
            Err(_) => Some((Err(UpstreamError::Timeout(idle)), None)),
        }
    }))
}
