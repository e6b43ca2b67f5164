//! A change confirmed after its session ended: which POSTs can be kept for after sign-in, and
//! where the kept change is opened again.

use super::Href;

/// `GET /changes/resume`: the preview of a change kept while its author signed in again.
pub fn resume_change() -> Href {
    Href("/changes/resume".into())
}

/// `(corpId, action)` of `POST /devices/{corpId}/actions/{action}` (the action pipeline).
pub fn action_post(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/devices/")?;
    let (corp, rest) = rest.split_once('/')?;
    let action = rest.strip_prefix("actions/")?;
    let ok = |s: &str| !s.is_empty() && !s.contains('/');
    (ok(corp) && ok(action)).then_some((corp, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_action_pipeline_is_an_action_post() {
        assert_eq!(
            action_post("/devices/G-1/actions/status"),
            Some(("G-1", "status"))
        );
        assert_eq!(action_post("/devices/G-1/actions/status/form"), None);
        assert_eq!(action_post("/devices/G-1/import"), None);
        assert_eq!(action_post("/devices//actions/status"), None);
        assert_eq!(action_post("/changes/x/revert"), None);
    }
}
