//! The Sentinel devices API client: one typed function per operation, the user's bearer token on each.

pub mod cache;
mod error;
mod idle;
mod label;
pub use error::{Described, UpstreamError};
pub use idle::with_idle_timeout;
pub mod vocabulary;
pub mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::domain::{Column, CorpId, Imei, ListQuery, Mdn, SortDir, SortField};
use wire::*;

/// The query of `list_devices` / `customized_list` as sent upstream.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub offset: u64,
    pub limit: u32,
    pub sort: SortField,
    pub sort_dir: SortDir,
    pub search_value: Option<String>,
    pub label_ids: Vec<i64>,
}

impl From<&ListQuery> for ListParams {
    fn from(q: &ListQuery) -> Self {
        Self {
            offset: q.offset,
            limit: q.limit.get(),
            sort: q.sort,
            sort_dir: q.sort_dir,
            search_value: (!q.search.is_empty()).then(|| q.search.as_str().to_owned()),
            label_ids: q.labels.ids().to_vec(),
        }
    }
}

impl ListParams {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("offset", self.offset.to_string()),
            ("limit", self.limit.to_string()),
            ("sort", self.sort.as_str().to_owned()),
            ("sortDir", self.sort_dir.as_str().to_owned()),
        ];
        if let Some(s) = &self.search_value {
            p.push(("searchValue", s.clone()));
        }
        if !self.label_ids.is_empty() {
            p.push((
                "labelIds",
                self.label_ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ));
        }
        p
    }
}

/// A streamed CSV body.
pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

/// The upstream client. Cheap to clone (a pooled `reqwest::Client` inside).
#[derive(Clone, Debug)]
pub struct SentinelClient {
    http: reqwest::Client,
    /// Base URL ending in `/` (…`/sentinel/api/`).
    base: Url,
    timeout: Duration,
    /// Where each call is counted (see [`crate::metrics`]).
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Each device group's statuses (see [`vocabulary`]).
    statuses: vocabulary::StatusCache,
}

const NO_DEVICES_FOUND: &str = "NO DEVICES FOUND";

impl SentinelClient {
    /// A client for `base` (e.g. `https://…/sentinel-proxy/sentinel/api`).
    pub fn new(base: &Url, timeout: Duration) -> Result<Self, reqwest::Error> {
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .user_agent(concat!("sentinel-console/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            timeout,
            metrics: None,
            statuses: vocabulary::status_cache(),
        })
    }

    /// Counts every call (by operation and status, with its latency) in `metrics`.
    pub fn with_metrics(self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        let metrics = Some(metrics);
        Self { metrics, ..self }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, corp: &CorpId, tail: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty();
            segs.extend(["v1.0", "devices", corp.as_str()]);
            segs.extend(tail);
        }
        url
    }

    fn request(&self, method: Method, url: Url, token: &SecretString) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(token.expose_secret())
            .timeout(self.timeout)
    }

    /// The one place requests are sent; `op`: the Sentinel operation (the metrics label).
    async fn send(&self, op: &'static str, rb: RequestBuilder) -> Result<Response, UpstreamError> {
        let start = Instant::now();
        let sent = rb.send().await.map_err(|e| self.map_transport(e));
        if let Some(m) = &self.metrics {
            m.upstream(op, label::of(&sent), start.elapsed());
        }
        let resp = sent?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(Self::error_from(resp).await)
    }

    fn map_transport(&self, e: reqwest::Error) -> UpstreamError {
        if e.is_timeout() {
            UpstreamError::Timeout(self.timeout)
        } else if e.is_decode() || e.is_body() {
            UpstreamError::BadBody(e.to_string())
        } else {
            // Don't leak the URL's query (it may carry a search) into messages shown to users.
            UpstreamError::Connect(e.without_url().to_string())
        }
    }

    async fn error_from(resp: reqwest::Response) -> UpstreamError {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) => (Some(e.error), e.message),
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let text = text.trim();
                let msg = if text.is_empty() || text.len() > 300 || text.starts_with('<') {
                    status
                        .canonical_reason()
                        .unwrap_or("Unexpected answer")
                        .to_owned()
                } else {
                    text.to_owned()
                };
                (None, msg)
            }
        };
        UpstreamError::Status {
            status,
            code,
            message,
            retry_after,
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        rb: RequestBuilder,
    ) -> Result<T, UpstreamError> {
        let resp = self.send(op, rb).await?;
        let body = resp.bytes().await.map_err(|e| self.map_transport(e))?;
        serde_json::from_slice(&body).map_err(|e| UpstreamError::BadBody(e.to_string()))
    }

    async fn write<B: Serialize + ?Sized>(
        &self,
        method: Method,
        corp: &CorpId,
        tail: &[&str],
        token: &SecretString,
        body: &B,
    ) -> Result<WriteResult, UpstreamError> {
        let rb = self.request(method, self.url(corp, tail), token).json(body);
        self.json(crate::metrics::write_operation(tail), rb).await
    }

    /// Maps the `NO DEVICES FOUND` quirk to an empty result.
    fn empty_if_no_devices<T: Default>(r: Result<T, UpstreamError>) -> Result<T, UpstreamError> {
        match r {
            Err(UpstreamError::Status { message, .. })
                if message.to_ascii_uppercase().contains(NO_DEVICES_FOUND) =>
            {
                Ok(T::default())
            }
            other => other,
        }
    }

    // ---- reads -------------------------------------------------------------

    /// `GET /v1.0/devices/{corpId}` (list_devices)
    pub async fn list_devices(
        &self,
        token: &SecretString,
        corp: &CorpId,
        p: &ListParams,
    ) -> Result<DeviceList, UpstreamError> {
        let rb = self
            .request(Method::GET, self.url(corp, &[]), token)
            .query(&p.pairs());
        Self::empty_if_no_devices(self.json("list_devices", rb).await)
    }

    /// `GET /v1.0/devices/{corpId}?export=CSV&columns=…` (list_devices as CSV), streamed.
    pub async fn export_devices_csv(
        &self,
        token: &SecretString,
        corp: &CorpId,
        p: &ListParams,
        columns: &[Column],
    ) -> Result<ByteStream, UpstreamError> {
        let mut pairs = p.pairs();
        pairs.push(("columns", join_columns(columns)));
        pairs.push(("export", "CSV".into()));
        // The export may take long: no overall timeout, but a read must not stall forever.
        let rb = self
            .http
            .get(self.url(corp, &[]))
            .bearer_auth(token.expose_secret())
            .query(&pairs);
        self.stream("list_devices_csv", rb).await
    }

    /// `POST /v1.0/devices/{corpId}/customizedList` (customized_list)
    pub async fn customized_list(
        &self,
        token: &SecretString,
        corp: &CorpId,
        p: &ListParams,
        selection: &BulkSelection,
    ) -> Result<DeviceList, UpstreamError> {
        let pairs: Vec<_> = p
            .pairs()
            .into_iter()
            .filter(|(k, _)| !matches!(*k, "searchValue" | "labelIds"))
            .collect();
        let rb = self
            .request(Method::POST, self.url(corp, &["customizedList"]), token)
            .query(&pairs)
            .json(&CustomizedListRequest {
                bulk_selection: selection.clone(),
            });
        Self::empty_if_no_devices(self.json("customized_list", rb).await)
    }

    /// `POST /v1.0/devices/{corpId}/customizedList?export=CSV` (customized_list as CSV), streamed.
    /// Columns are sent by their `customizedList` names; those it lacks
    /// ([`wire::customized_list_column`] = `None`) are left out: callers refuse them first.
    pub async fn customized_list_csv(
        &self,
        token: &SecretString,
        corp: &CorpId,
        p: &ListParams,
        columns: &[Column],
        selection: &BulkSelection,
    ) -> Result<ByteStream, UpstreamError> {
        let mut pairs: Vec<_> = p
            .pairs()
            .into_iter()
            .filter(|(k, _)| !matches!(*k, "searchValue" | "labelIds"))
            .collect();
        let names: Vec<&str> = columns
            .iter()
            .filter_map(|c| customized_list_column(*c))
            .collect();
        pairs.push(("columns", names.join(",")));
        pairs.push(("export", "CSV".into()));
        let rb = self
            .http
            .post(self.url(corp, &["customizedList"]))
            .bearer_auth(token.expose_secret())
            .query(&pairs)
            .json(&CustomizedListRequest {
                bulk_selection: selection.clone(),
            });
        self.stream("customized_list_csv", rb).await
    }

    async fn stream(
        &self,
        op: &'static str,
        rb: RequestBuilder,
    ) -> Result<ByteStream, UpstreamError> {
        use futures::TryStreamExt;
        let resp = self.send(op, rb).await?;
        let timeout = self.timeout;
        Ok(Box::pin(resp.bytes_stream().map_err(move |e| {
            if e.is_timeout() {
                UpstreamError::Timeout(timeout)
            } else {
                UpstreamError::BadBody(e.without_url().to_string())
            }
        })))
    }

    /// `GET /v1.0/devices/{corpId}/totals` (device_totals)
    pub async fn device_totals(
        &self,
        token: &SecretString,
        corp: &CorpId,
        search: Option<&str>,
    ) -> Result<Totals, UpstreamError> {
        let mut rb = self.request(Method::GET, self.url(corp, &["totals"]), token);
        if let Some(s) = search.filter(|s| !s.is_empty()) {
            rb = rb.query(&[("searchValue", s)]);
        }
        Self::empty_if_no_devices(self.json("device_totals", rb).await)
    }

    /// `GET /v1.0/devices/{corpId}/imei/{imei}` (get_devices_by_imei)
    pub async fn get_devices_by_imei(
        &self,
        token: &SecretString,
        corp: &CorpId,
        imei: &Imei,
    ) -> Result<Vec<Device>, UpstreamError> {
        let rb = self.request(Method::GET, self.url(corp, &["imei", imei.as_str()]), token);
        Self::empty_if_no_devices(self.json("get_devices_by_imei", rb).await)
    }

    /// `GET /v1.0/devices/{corpId}/{mdn}/health` (device_health)
    pub async fn device_health(
        &self,
        token: &SecretString,
        corp: &CorpId,
        mdn: &Mdn,
    ) -> Result<Health, UpstreamError> {
        let rb = self.request(
            Method::GET,
            self.url(corp, &[mdn.as_str(), "health"]),
            token,
        );
        self.json("device_health", rb).await
    }

    /// `GET /v1.0/devices/{corpId}/smartspot-settings/{imei}` (get_smartspot_settings)
    pub async fn get_smartspot_settings(
        &self,
        token: &SecretString,
        corp: &CorpId,
        imei: &Imei,
    ) -> Result<SmartSpotSettings, UpstreamError> {
        let rb = self.request(
            Method::GET,
            self.url(corp, &["smartspot-settings", imei.as_str()]),
            token,
        );
        self.json("get_smartspot_settings", rb).await
    }

    /// `GET /v1.0/devices/{corpId}/status` (get_possible_statuses)
    pub async fn get_possible_statuses(
        &self,
        token: &SecretString,
        corp: &CorpId,
    ) -> Result<Vec<String>, UpstreamError> {
        let rb = self.request(Method::GET, self.url(corp, &["status"]), token);
        self.json("get_possible_statuses", rb).await
    }

    // ---- writes ------------------------------------------------------------

    /// `PUT /v1.0/devices/{corpId}/status` (update_status)
    pub async fn update_status(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &StatusChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["status"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/nickname` (update_nickname)
    pub async fn update_nickname(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &NicknameChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["nickname"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/note` (update_note)
    pub async fn update_note(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &NoteChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["note"], token, body).await
    }

    /// `PUT /v1.0/devices/{corpId}/filterGroup` (update_filter_group)
    pub async fn update_filter_group(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &FilterGroupChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["filterGroup"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/deviceGroup` (update_device_group)
    pub async fn update_device_group(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &DeviceGroupChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["deviceGroup"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/dataLimits` (update_data_limits)
    pub async fn update_data_limits(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &DataLimitsChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["dataLimits"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/summerUsage` (update_summer_usage)
    pub async fn update_summer_usage(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &SummerUsageChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["summerUsage"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/mdnCustomField` (update_mdn_custom_field)
    pub async fn update_mdn_custom_field(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &MdnCustomFieldChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["mdnCustomField"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/imei` (update_imei)
    pub async fn update_imei(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &ImeiChange,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["imei"], token, body).await
    }

    /// `DELETE /v1.0/devices/{corpId}/bulkDeleteLabels` (bulk_delete_labels)
    pub async fn bulk_delete_labels(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &BulkDeleteLabels,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::DELETE, corp, &["bulkDeleteLabels"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/smartspot-settings` (update_smartspot_settings)
    pub async fn update_smartspot_settings(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &SmartSpotSettings,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(Method::PUT, corp, &["smartspot-settings"], token, body)
            .await
    }

    /// `PUT /v1.0/devices/{corpId}/smartspot-settings-multi` (update_smartspot_settings_multi)
    pub async fn update_smartspot_settings_multi(
        &self,
        token: &SecretString,
        corp: &CorpId,
        body: &SmartSpotSettingsMultiRequest,
    ) -> Result<WriteResult, UpstreamError> {
        self.write(
            Method::PUT,
            corp,
            &["smartspot-settings-multi"],
            token,
            body,
        )
        .await
    }

    // ---- the vendor's own sign-in -----------------------------------------

    /// `POST /v1.0/auth/token` with username and password (CONTRACT §1).
    pub async fn password_token(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<PasswordTokenResponse, UpstreamError> {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty();
            segs.extend(["v1.0", "auth", "token"]);
        }
        let body = PasswordTokenRequest {
            username: username.to_owned(),
            password: password.expose_secret().to_owned(),
        };
        let rb = self.http.post(url).timeout(self.timeout).json(&body);
        self.json("auth_token", rb).await
    }
}

fn join_columns(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
