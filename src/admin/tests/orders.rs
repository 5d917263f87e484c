//! The order view: binding, last-sent values and deliveries in one answer.

use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use super::{End, admin, assert_problem, ids};
use crate::order::{Binding, Broker, LastSent, OrderBook};

#[tokio::test]
async fn the_order_view_has_binding_last_sent_and_deliveries() {
    let gw = admin();
    let order = Uuid::new_v4();
    let binding = Binding {
        tenant: "acme".to_owned(),
        vendor: "photo".to_owned(),
        case_id: Some(77),
        broker: Broker {
            full_name: Some("Kari Nordmann".to_owned()),
            ..Broker::default()
        },
        token_hash: [9; 32],
        bound_at: Utc::now(),
    };
    gw.store.bind(order, binding).await.expect("bind");
    let sent = LastSent {
        title: Some("Photos".to_owned()),
        state: Some("InProcess".to_owned()),
        ..LastSent::default()
    };
    gw.store.record_sent(order, sent).await.expect("record");
    let first = gw
        .delivery("photo", "acme", order, 10, End::Delivered)
        .await;
    let second = gw.delivery("photo", "acme", order, 5, End::Pending).await;
    let reply = gw.call("GET", &format!("/admin/orders/{order}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let view = &reply.body;
    assert_eq!(view["order_id"], order.to_string());
    assert_eq!(view["binding"]["tenant"], "acme");
    assert_eq!(view["binding"]["case_id"], 77);
    assert_eq!(view["binding"]["broker"]["full_name"], "Kari Nordmann");
    assert!(view["binding"].get("token_hash").is_none(), "{view}");
    assert_eq!(view["last_sent"]["title"], "Photos");
    assert_eq!(ids(&reply), [second.to_string(), first.to_string()]);
    let unbound = Uuid::new_v4();
    gw.delivery("photo", "acme", unbound, 1, End::Pending).await;
    let reply = gw.call("GET", &format!("/admin/orders/{unbound}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["binding"], Value::Null);
    for missing in [Uuid::new_v4().to_string(), "12".to_owned()] {
        let reply = gw.call("GET", &format!("/admin/orders/{missing}")).await;
        assert_problem(&reply, 404, "not-found");
    }
}
