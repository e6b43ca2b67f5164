//! htmx through `axum-htmx`: which requests want a fragment, and the HX-* answers the console sends.
//!
//! Handlers take [`WantsFragment`] (or `axum_htmx::HxRequest`); middleware that renders errors
//! or sends to sign-in takes [`HtmxContext`]. No other module names an htmx header.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponseParts, Response, ResponseParts};
use axum_htmx::{
    HX_REDIRECT, HxCurrentUrl, HxHistoryRestoreRequest, HxPushUrl, HxRedirect, HxRequest, HxReswap,
    HxRetarget, SwapOption,
};

use crate::paths::Href;

/// An htmx request that wants a fragment; a history restore (after a cache miss) needs the page.
#[derive(Debug, Clone, Copy)]
pub struct WantsFragment(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for WantsFragment {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let HxRequest(htmx) = HxRequest::from_request_parts(parts, state).await?;
        let HxHistoryRestoreRequest(restore) =
            HxHistoryRestoreRequest::from_request_parts(parts, state).await?;
        Ok(Self(htmx && !restore))
    }
}

/// What error rendering and sign-in need to know: is this htmx, and which page the user sees.
#[derive(Debug, Clone, Default)]
pub struct HtmxContext {
    pub htmx: bool,
    /// `HX-Current-URL`: the page the fragment is for.
    pub current_url: Option<Uri>,
}

impl<S: Send + Sync> FromRequestParts<S> for HtmxContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let HxRequest(htmx) = HxRequest::from_request_parts(parts, state).await?;
        let HxCurrentUrl(current_url) = HxCurrentUrl::from_request_parts(parts, state).await?;
        Ok(Self { htmx, current_url })
    }
}

impl HtmxContext {
    /// The local path and query to come back to after sign-in: for htmx the page the user
    /// sees, not the fragment being fetched.
    pub fn return_target(&self, uri: &Uri) -> String {
        let current = self
            .current_url
            .as_ref()
            .filter(|_| self.htmx)
            .and_then(|u| u.path_and_query());
        current
            .or(uri.path_and_query())
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".into())
    }
}

/// `Vary: HX-Request`, for responses that differ for htmx, so no cache mixes a fragment and a page.
#[derive(Debug, Clone, Copy)]
pub struct VaryHx;

impl IntoResponseParts for VaryHx {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        // Spelled as htmx documents it (axum-htmx's own responder writes it lower-case).
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("HX-Request"));
        Ok(res)
    }
}

/// The address the browser's bar shows after a swap (instead of the request's own).
pub fn push_url(to: &Href) -> HxPushUrl {
    HxPushUrl(to.to_string())
}

/// Sends htmx to `to` with a full page load (a 3xx would be followed inside the fragment swap).
pub fn redirect(to: &Href) -> HxRedirect {
    HxRedirect(to.as_str().to_owned())
}

/// Errors go to the page's message area, not into the table being refreshed.
pub fn to_flash() -> (HxRetarget, HxReswap) {
    (HxRetarget("#flash".into()), HxReswap(SwapOption::InnerHtml))
}

/// Where this response sends htmx with a full page load, if anywhere.
pub fn redirect_target(resp: &Response) -> Option<&str> {
    resp.headers()
        .get(HX_REDIRECT)
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_target_prefers_the_page_for_htmx() {
        let uri: Uri = "/devices/G/totals?searchValue=x".parse().unwrap();
        let cx = HtmxContext {
            htmx: true,
            current_url: Some("http://console.test/devices/G?offset=25".parse().unwrap()),
        };
        assert_eq!(cx.return_target(&uri), "/devices/G?offset=25");
        let plain = HtmxContext {
            htmx: false,
            ..cx.clone()
        };
        assert_eq!(plain.return_target(&uri), "/devices/G/totals?searchValue=x");
        assert_eq!(HtmxContext::default().return_target(&uri), uri.to_string());
    }
}
