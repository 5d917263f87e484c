//! The Flow path end to end (DESIGN sections 1, 5–8 and 12): real gateways on loopback against
//! simulated Flows, asserting what Flow received, what the vendor was answered, and what the
//! order in Flow looks like afterwards.

mod delivery;
mod launch;
mod routing;
mod sync_answers;
mod tokens;

use serde_json::Value;

use crate::support::Gateway;
pub use crate::support::fixtures::canonical_body;
use crate::support::fixtures::{canonical, photo};

/// Posts `members` for `order` as the canonical vendor `vendor`.
pub async fn post_canonical(
    gw: &Gateway,
    vendor: &str,
    order: &str,
    members: Value,
) -> crate::support::Reply {
    gw.webhook(vendor, canonical_body(order, members))
        .signed(&canonical())
        .send()
        .await
}

/// Posts a photo event (the mapped vendor's own shape).
pub async fn post_photo(gw: &Gateway, event: Value) -> crate::support::Reply {
    gw.webhook("photo", event.to_string())
        .signed(&photo())
        .send()
        .await
}

/// The request body Flow received in `call`.
pub fn body_of(call: &Value) -> &Value {
    &call["body"]
}

/// The state history of a simulated order: `(OrderStateType, Status)` pairs.
pub fn history(order: &Value) -> Vec<(String, String)> {
    order["OrderStatuses"]
        .as_array()
        .expect("OrderStatuses")
        .iter()
        .map(|s| {
            (
                s["OrderStateType"].as_str().unwrap_or_default().to_owned(),
                s["Status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
