//! The bodies of one delivery's calls, built when they are sent (contract section 8): PATCH
//! sends Title, ActionText and Metadata merged over what Flow last accepted for the order;
//! updatestate falls back to the order's last state, then the map's default. A queued status
//! without a state is refused before its commit unless a state will be there ([`state_known`]).

use crate::flow::model::{MetadataEntry, PatchRequest, UpdateStateRequest};
use crate::order::{LastSent, OrderBook, OrderUpdate, StoreError};
use crate::queue::{DeliveryAdmin, DeliveryContent};

/// A status arrived without a state, and no state is known for the order.
#[derive(Debug, thiserror::Error)]
#[error(
    "state: the webhook sets a status but no state, and no state was sent for this order before (a map's state.default would supply one)"
)]
pub struct NoState;

/// The updatestate body, or `None` when the update sets neither state nor status.
pub fn update_state(
    update: &OrderUpdate,
    last: &LastSent,
    state_default: Option<&str>,
) -> Result<Option<UpdateStateRequest>, NoState> {
    if !update.updates_state() {
        return Ok(None);
    }
    let state = update
        .state
        .as_deref()
        .or(last.state.as_deref())
        .or(state_default)
        .ok_or(NoState)?
        .to_owned();
    // A state without a status is reported to the broker by its name.
    let status = update.status.clone().unwrap_or_else(|| state.clone());
    Ok(Some(UpdateStateRequest { status, state }))
}

/// Whether a status without a state will have a state to go with it when it is sent: the map's
/// default, the order's last state sent, or a state in a delivery still queued for the order
/// (every open updatestate carries or inherits one). A sync delivery finds out as it is sent.
pub async fn state_known(
    delivery: &DeliveryContent,
    book: &dyn OrderBook,
    deliveries: &dyn DeliveryAdmin,
) -> Result<bool, StoreError> {
    let update = &delivery.update;
    if update.state.is_some() || update.status.is_none() || delivery.state_default.is_some() {
        return Ok(true);
    }
    if book.last_sent(delivery.order_id).await?.state.is_some() {
        return Ok(true);
    }
    let queued = deliveries.order_deliveries(delivery.order_id).await?;
    Ok(queued
        .iter()
        .any(|d| d.state.is_open() && d.operations.contains(&"updatestate")))
}

/// The PATCH body, or `None` when the update sets none of title, action text, metadata.
pub fn patch(update: &OrderUpdate, last: &LastSent) -> Option<PatchRequest> {
    if !update.patches() {
        return None;
    }
    let merged = merge_metadata(
        &last.metadata,
        update.metadata.as_deref().unwrap_or_default(),
    );
    Some(PatchRequest {
        title: update.title.clone().or_else(|| last.title.clone()),
        action_text: update
            .action_text
            .clone()
            .or_else(|| last.action_text.clone()),
        metadata: merged
            .into_iter()
            .map(|(key, value)| MetadataEntry { key, value })
            .collect(),
    })
}

/// What Flow holds after it accepted `body`.
pub fn after_patch(last: &LastSent, body: &PatchRequest) -> LastSent {
    LastSent {
        title: body.title.clone(),
        action_text: body.action_text.clone(),
        metadata: body
            .metadata
            .iter()
            .map(|entry| (entry.key.clone(), entry.value.clone()))
            .collect(),
        state: last.state.clone(),
    }
}

/// Merged by key: a known key keeps its place and takes the new value, new keys follow.
fn merge_metadata(old: &[(String, String)], new: &[(String, String)]) -> Vec<(String, String)> {
    let mut merged = old.to_vec();
    for (key, value) in new {
        match merged.iter_mut().find(|(k, _)| k == key) {
            Some(line) => line.1 = value.clone(),
            None => merged.push((key.clone(), value.clone())),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn patch_merges_over_what_flow_last_accepted() {
        let last = LastSent {
            title: Some("Photos".into()),
            action_text: Some("Open".into()),
            metadata: pairs(&[("Photographer", "Kari"), ("Shoot date", "2026-12-01")]),
            state: Some("InProcess".into()),
        };
        let update = OrderUpdate {
            metadata: Some(pairs(&[
                ("Shoot date", "2026-12-02"),
                ("Link", "https://x"),
            ])),
            ..OrderUpdate::default()
        };
        let body = patch(&update, &last).expect("a patch");
        assert_eq!(body.title.as_deref(), Some("Photos"));
        assert_eq!(body.action_text.as_deref(), Some("Open"));
        let lines: Vec<(&str, &str)> = body
            .metadata
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("Photographer", "Kari"),
                ("Shoot date", "2026-12-02"),
                ("Link", "https://x")
            ]
        );
        let after = after_patch(&last, &body);
        assert_eq!(after.metadata.len(), 3);
        assert_eq!(after.state.as_deref(), Some("InProcess"));
    }

    #[test]
    fn a_field_never_accepted_goes_as_null() {
        let update = OrderUpdate {
            title: Some("Print".into()),
            ..OrderUpdate::default()
        };
        let body = patch(&update, &LastSent::default()).expect("a patch");
        assert_eq!(body.action_text, None);
        assert!(body.metadata.is_empty());
        assert!(patch(&OrderUpdate::default(), &LastSent::default()).is_none());
    }

    #[test]
    fn a_status_alone_resends_the_last_state_then_the_default() {
        let update = OrderUpdate {
            status: Some("Shoot moved".into()),
            ..OrderUpdate::default()
        };
        let last = LastSent {
            state: Some("InProcess".into()),
            ..LastSent::default()
        };
        let body = update_state(&update, &last, Some("Completed"))
            .expect("a state")
            .expect("a call");
        assert_eq!(
            (body.state.as_str(), body.status.as_str()),
            ("InProcess", "Shoot moved")
        );
        let body = update_state(&update, &LastSent::default(), Some("Completed"))
            .expect("the default")
            .expect("a call");
        assert_eq!(body.state, "Completed");
        assert!(update_state(&update, &LastSent::default(), None).is_err());
    }

    #[test]
    fn a_state_alone_sends_its_name_as_status() {
        let update = OrderUpdate {
            state: Some("Completed".into()),
            ..OrderUpdate::default()
        };
        let body = update_state(&update, &LastSent::default(), None)
            .expect("a state")
            .expect("a call");
        assert_eq!(
            (body.state.as_str(), body.status.as_str()),
            ("Completed", "Completed")
        );
        assert!(
            update_state(&OrderUpdate::default(), &LastSent::default(), None)
                .expect("nothing to do")
                .is_none()
        );
    }
}
