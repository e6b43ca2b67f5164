//! Query parameters: decoding, required values, whole numbers and the list operations' paging and sort.

use std::collections::HashMap;

use super::ApiErr;
use crate::simulator::validate::{SortDir, SortField};

pub(super) fn params(q: Option<&str>) -> Result<HashMap<String, String>, ApiErr> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.unwrap_or(""))
        .map_err(|_| ApiErr::bad_request("The query string is not valid URL encoding."))?;
    let mut map = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_insert(v);
    }
    Ok(map)
}

pub(super) fn required<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiErr> {
    p.get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiErr::bad_request(format!("Query parameter {name} is required.")))
}

pub(super) fn number(p: &HashMap<String, String>, name: &str) -> Result<u64, ApiErr> {
    let raw = required(p, name)?;
    raw.parse::<u64>()
        .ok()
        .or_else(|| {
            // `type: number`: a whole float such as 25.0 is accepted too.
            raw.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        })
        .ok_or_else(|| {
            ApiErr::bad_request(format!(
                "Query parameter {name} must be a whole number ≥ 0, not “{raw}”."
            ))
        })
}

pub(super) struct ListParams {
    pub(super) offset: u64,
    pub(super) limit: u64,
    pub(super) sort: SortField,
    pub(super) dir: SortDir,
    pub(super) csv: bool,
}

pub(super) fn list_params(p: &HashMap<String, String>) -> Result<ListParams, ApiErr> {
    let offset = number(p, "offset")?;
    let limit = number(p, "limit")?;
    let sort = SortField::parse(required(p, "sort")?)
        .map_err(|e| ApiErr::bad_request(format!("sort: {e}")))?;
    let dir = SortDir::parse(required(p, "sortDir")?)
        .map_err(|e| ApiErr::bad_request(format!("sortDir: {e}")))?;
    let csv = match p.get("export").map(|s| s.trim()) {
        None | Some("") => false,
        Some("CSV") => true,
        Some(other) => {
            return Err(ApiErr::bad_request(format!(
                "export “{other}” is not accepted; only CSV is."
            )));
        }
    };
    Ok(ListParams {
        offset,
        limit,
        sort,
        dir,
        csv,
    })
}
