//! Injected faults for tests and benchmarks: latency, error statuses, rate limiting, broken bodies.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::api::ApiErr;

/// What a fault does to a matching `/sentinel/api/` request.
///
/// As JSON (serde): `{"status": 500}`, `{"latency": 250}` (milliseconds),
/// `{"rate_limited": {"retry_after": 30}}`, `"malformed_json"`, `"no_devices_found"`,
/// `{"cut_csv_after_rows": 10}`, `"cut_answer"`,
/// `{"one_in": {"every": 30, "phase": 10, "then": {"status": 500}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Sleep this long before answering normally.
    Latency(#[serde(with = "millis")] Duration),
    /// Answer this status with the API's JSON error body.
    Status(u16),
    /// 429 with `Retry-After`.
    RateLimited { retry_after: u64 },
    /// 200 with a truncated JSON body.
    MalformedJson,
    /// The "NO DEVICES FOUND" 404 quirk.
    NoDevicesFound,
    /// A CSV export whose stream breaks off after this many rows.
    CutCsvAfterRows(usize),
    /// Answered normally (a write is applied), but the connection is cut half-way through the
    /// answer's body.
    CutAnswer,
    /// `then`, on one matching request in every `every` (the `every - phase`-th, and so on);
    /// several of these with different phases fault distinct requests.
    OneIn {
        every: u32,
        #[serde(default)]
        phase: u32,
        then: Box<FaultKind>,
        /// Matching requests seen so far.
        #[serde(default)]
        seen: u32,
    },
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// A fault and which requests it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    /// Only requests whose path contains this.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only this method (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// How many requests it applies to; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Fault {
    /// A fault on every API request until cleared.
    pub fn always(kind: FaultKind) -> Self {
        Self {
            kind,
            path_contains: None,
            method: None,
            times: None,
        }
    }

    fn matches(&self, method: &str, path: &str, query: Option<&str>) -> bool {
        if matches!(self.kind, FaultKind::CutCsvAfterRows(_))
            && !query.is_some_and(|q| q.contains("export=CSV"))
        {
            return false;
        }
        self.path_contains
            .as_deref()
            .is_none_or(|p| path.contains(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// What the faults decided for one request.
#[derive(Debug, Default)]
pub struct Decision {
    pub delay: Duration,
    pub respond: Option<FaultKind>,
    pub cut_csv: Option<usize>,
    pub cut_answer: bool,
}

/// Applies the faults to a request, using up their `times`: every matching latency adds up,
/// the first other matching fault decides the answer.
pub fn decide(faults: &mut Vec<Fault>, method: &str, path: &str, query: Option<&str>) -> Decision {
    let mut d = Decision::default();
    for f in faults.iter_mut() {
        if !f.matches(method, path, query) {
            continue;
        }
        let kind = match &mut f.kind {
            FaultKind::OneIn {
                every,
                phase,
                then,
                seen,
            } => {
                *seen = seen.wrapping_add(1);
                if (*seen).wrapping_add(*phase) % (*every).max(1) != 0 {
                    continue;
                }
                (**then).clone()
            }
            k => k.clone(),
        };
        let free = d.respond.is_none() && d.cut_csv.is_none() && !d.cut_answer;
        let used = match kind {
            FaultKind::Latency(t) => {
                d.delay += t;
                true
            }
            FaultKind::CutCsvAfterRows(n) if free => {
                d.cut_csv = Some(n);
                true
            }
            FaultKind::CutAnswer if free => {
                d.cut_answer = true;
                true
            }
            k if free => {
                d.respond = Some(k);
                true
            }
            _ => false,
        };
        if used {
            if let Some(t) = f.times.as_mut() {
                *t = t.saturating_sub(1);
            }
        }
    }
    faults.retain(|f| f.times != Some(0));
    d
}

/// The answer a responding fault gives.
pub fn response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (error, message) = match status.as_u16() {
                400 => ("bad_request", "The request is not valid."),
                401 => (
                    "unauthorized",
                    "The access token is missing or has expired.",
                ),
                403 => (
                    "forbidden",
                    "This operation is not allowed for your scopes.",
                ),
                404 => ("not_found", "The device group or device was not found."),
                409 => (
                    "conflict",
                    "Another change to these devices is in progress.",
                ),
                422 => ("unprocessable_entity", "The change cannot be applied."),
                429 => ("rate_limited", "Too many requests; retry later."),
                502 => ("bad_gateway", "Sentinel could not reach a carrier system."),
                503 => (
                    "service_unavailable",
                    "Sentinel is temporarily unavailable.",
                ),
                504 => (
                    "gateway_timeout",
                    "A carrier system did not answer in time.",
                ),
                s if s >= 500 => ("internal_error", "An unexpected error occurred."),
                _ => ("error", "The request failed."),
            };
            ApiErr::new(status, error, message).into_response()
        }
        FaultKind::RateLimited { retry_after } => {
            let mut resp = ApiErr::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Too many requests; retry in {retry_after} seconds."),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        FaultKind::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"totalCount\": 499, \"devices\": [{\"key\": \"5212671508\", \"mdn\": \"521-2",
        )
            .into_response(),
        FaultKind::NoDevicesFound => ApiErr::no_devices().into_response(),
        FaultKind::OneIn { then, .. } => response(then),
        // Not a responding fault; answered normally.
        FaultKind::Latency(_) | FaultKind::CutCsvAfterRows(_) | FaultKind::CutAnswer => {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_shapes() {
        let f: Fault =
            serde_json::from_str(r#"{"kind":{"status":500},"path_contains":"/totals","times":1}"#)
                .unwrap();
        assert_eq!(f.kind, FaultKind::Status(500));
        let f: Fault = serde_json::from_str(r#"{"kind":{"latency":250}}"#).unwrap();
        assert_eq!(f.kind, FaultKind::Latency(Duration::from_millis(250)));
        let f: Fault = serde_json::from_str(r#"{"kind":"malformed_json"}"#).unwrap();
        assert_eq!(f.kind, FaultKind::MalformedJson);
        let f: Fault =
            serde_json::from_str(r#"{"kind":{"rate_limited":{"retry_after":3}}}"#).unwrap();
        assert_eq!(f.kind, FaultKind::RateLimited { retry_after: 3 });
    }

    #[test]
    fn one_in_faults_distinct_requests_by_phase() {
        let one_in = |phase, then| Fault {
            kind: FaultKind::OneIn {
                every: 3,
                phase,
                then: Box::new(then),
                seen: 0,
            },
            ..Fault::always(FaultKind::Status(500))
        };
        let mut fs = vec![
            one_in(0, FaultKind::Status(500)),
            one_in(1, FaultKind::CutAnswer),
        ];
        let got: Vec<(Option<FaultKind>, bool)> = (0..6)
            .map(|_| {
                let d = decide(&mut fs, "PUT", "/x/devices/A/note", None);
                (d.respond, d.cut_answer)
            })
            .collect();
        let none = (None, false);
        let cut = (None, true);
        let err = (Some(FaultKind::Status(500)), false);
        assert_eq!(
            got,
            vec![none.clone(), cut.clone(), err.clone(), none, cut, err]
        );
        let f: Fault = serde_json::from_str(
            r#"{"kind":{"one_in":{"every":30,"phase":10,"then":"cut_answer"}},"method":"PUT"}"#,
        )
        .unwrap();
        assert!(matches!(
            f.kind,
            FaultKind::OneIn {
                every: 30,
                phase: 10,
                ..
            }
        ));
    }

    #[test]
    fn times_run_out() {
        let mut fs = vec![Fault {
            times: Some(1),
            path_contains: Some("/totals".into()),
            ..Fault::always(FaultKind::Status(500))
        }];
        assert!(
            decide(&mut fs, "GET", "/x/devices/A", None)
                .respond
                .is_none()
        );
        assert!(
            decide(&mut fs, "GET", "/x/devices/A/totals", None)
                .respond
                .is_some()
        );
        assert!(fs.is_empty());
    }
}
