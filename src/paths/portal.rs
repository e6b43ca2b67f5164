//! The portal's card URLs: the card, its SmartSpot form, and "Saved" with its undo after a change.

use std::fmt;

use super::{Href, change, seg, smartspot};
use crate::domain::CorpId;

/// `GET /portal/{corpId}/{mdn}`: one line's card in the portal.
pub fn portal_card(corp: &CorpId, mdn: impl fmt::Display) -> Href {
    Href(format!("/portal/{}/{}", seg(corp.as_str()), seg(mdn)))
}

/// `GET /devices/{corpId}/smartspot/{imei}?via=portal`: SmartSpot settings opened from the portal.
pub fn smartspot_via_portal(corp: &CorpId, imei: impl fmt::Display) -> Href {
    Href::with_query(smartspot(corp, imei).0, [("via", "portal")])
}

/// `GET /portal/{corpId}/{mdn}?saved={id}`: the card, after change set `id` made from it.
pub fn portal_card_saved(corp: &CorpId, mdn: impl fmt::Display, id: impl fmt::Display) -> Href {
    Href::with_query(portal_card(corp, mdn).0, [("saved", id.to_string())])
}

/// `POST /changes/{id}/revert` from the portal's card: the undo (it leads back to the card).
pub fn portal_undo(id: impl fmt::Display) -> Href {
    Href(format!("{}/revert", change(id)))
}
