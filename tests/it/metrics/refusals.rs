//! A webhook refused after it was mapped still names, on its outcome line, what the pipeline had
//! learned by then: its order once mapped, its tenant once resolved; never a delivery it did not
//! become.

use serde_json::{Value, json};

use super::logs::Logged;
use crate::support::fixtures::{BEARER_TOKEN, canonical, canonical_body};
use crate::support::flow::FlowSim;
use crate::support::sign::{bearer, sign};

#[tokio::test]
async fn a_refused_webhook_names_the_order_and_tenant_known_before_its_refusal() {
    let sim = FlowSim::start().await;
    let access_token = sim.access_token().await;
    let gw = Logged::start(&sim, &access_token, "json").await;

    // Mapped, but setting nothing to deliver: refused once its order is known.
    let empty_order = uuid::Uuid::new_v4().to_string();
    let empty = json!({ "order": empty_order }).to_string();
    let headers = sign(&bearer(BEARER_TOKEN), empty.as_bytes());
    let reply = gw.post("mapped", &empty, headers, "refused-1").await;
    assert_eq!(reply.status, 422, "{reply:?}");

    // A FlowToken Flow does not know: refused once the tenant that asked Flow is resolved.
    let token_order = uuid::Uuid::new_v4().to_string();
    let forged = canonical_body(
        &token_order,
        json!({"state": "InProcess", "flowToken": "forged-token"}),
    );
    let headers = sign(&canonical(), forged.as_bytes());
    let reply = gw.post("canonical", &forged, headers, "refused-2").await;
    assert_eq!(reply.status, 401, "{reply:?}");

    let outcome = async |id: &str| -> Value {
        let line = gw
            .until_line(id, |line| {
                line.contains("webhook answered") && line.contains(&format!("\"{id}\""))
            })
            .await;
        serde_json::from_str(&line).expect("a JSON line")
    };
    let mapped = outcome("refused-1").await;
    assert_eq!(mapped["code"], "mapping-failed", "{mapped}");
    assert_eq!(mapped["order_id"], empty_order.as_str(), "{mapped}");
    assert!(mapped["tenant"].is_null(), "{mapped}");
    assert!(mapped["delivery_id"].is_null(), "{mapped}");

    let tokened = outcome("refused-2").await;
    assert_eq!(tokened["code"], "flow-token-invalid", "{tokened}");
    assert_eq!(tokened["order_id"], token_order.as_str(), "{tokened}");
    assert_eq!(tokened["tenant"], "sim", "{tokened}");
    assert!(tokened["delivery_id"].is_null(), "{tokened}");
}
