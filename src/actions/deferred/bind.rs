//! Binding a waiting change to what its approver's preview showed: a select-all request resolved
//! to the lines it matches then, and the digest of the stored plan the confirmation carries back.

use super::*;
use crate::policy::Operation;
use crate::upstream::ListParams;
use crate::upstream::wire::Device;

/// What an approval's confirmation must carry: a digest of the stored plan its preview showed,
/// so that an approval applies exactly that (and nothing edited or re-bound since).
pub fn plan_digest(stored: &serde_json::Value) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(stored.to_string().as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Binds a waiting select-all to the lines it matches now, read with the approver's token,
/// and stores that plan: the preview shows these lines, and approving applies exactly them.
/// Lines that match only later are never touched. Returns the plan and its digest.
pub async fn bind(
    state: &AppState,
    user: &Caller,
    set: &ChangeSet,
    plan: Plan,
) -> Result<(Plan, String), ChangeError> {
    let b = match (&plan.target, &plan.bound_from) {
        (Target::Bulk(b), _) | (_, Some(b)) => b.clone(),
        _ => {
            let digest = set.life.plan.as_ref().map(plan_digest).unwrap_or_default();
            return Ok((plan, digest));
        }
    };
    let corp = CorpId::parse(&set.corp_id)?;
    let devices = matching_lines(state, &user.principal, &user.token, &corp, &b).await?;
    let mdns: Vec<Mdn> = devices
        .iter()
        .filter_map(|d| Mdn::parse(&d.mdn).ok())
        .collect();
    let bound = Plan {
        target: Target::Lines(mdns),
        bound_from: Some(b),
        ..plan
    };
    let json = serde_json::to_value(&bound).map_err(|e| ChangeError::Internal(e.into()))?;
    if !state.db.change_rebind(set.id, &json).await? {
        return Err(ChangeError::Invalid(
            "This change is no longer waiting for approval.".into(),
        ));
    }
    Ok((bound, plan_digest(&json)))
}

/// Lines per list page read when a select-all request is bound.
const LIST_PAGE: u32 = 500;

fn page(offset: u64, search: Option<String>, labels: Vec<i64>) -> ListParams {
    crate::actions::befores::sorted(offset, LIST_PAGE, search, labels)
}

/// The lines a waiting select-all covers when it is released, read page by page through the
/// upstream's own selection (or the plain list with the same filter when the role may not use it).
async fn matching_lines(
    state: &AppState,
    user: &Principal,
    token: &SecretString,
    corp: &CorpId,
    b: &BulkSelection,
) -> Result<Vec<Device>, ChangeError> {
    let excluded: Vec<Mdn> = b.excluded_mdns.clone().unwrap_or_default();
    let customized = user.can(Operation::CustomizedList, corp);
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
        let list = if customized {
            state
                .upstream
                .customized_list(token, corp, &page(offset, None, vec![]), b)
                .await?
        } else {
            let p = page(
                offset,
                b.search_value.clone(),
                b.label_ids.clone().unwrap_or_default(),
            );
            state.upstream.list_devices(token, corp, &p).await?
        };
        let last = list.devices.len() < LIST_PAGE as usize;
        out.extend(
            list.devices
                .into_iter()
                .filter(|d| Mdn::parse(&d.mdn).map_or(true, |m| !excluded.contains(&m))),
        );
        if last || out.len() > crate::actions::MAX_LIST * 4 {
            return Ok(out);
        }
        offset += u64::from(LIST_PAGE);
    }
}
