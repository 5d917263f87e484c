//! Deliveries: listing with filters and pages, show, retry, cancel, delete and redrive.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{End, admin, assert_problem, ids};

#[tokio::test]
async fn the_list_filters_and_pages_newest_first() {
    let gw = admin();
    let order = Uuid::new_v4();
    let old = gw
        .delivery("photo", "acme", Uuid::new_v4(), 120, End::Dead)
        .await;
    let delivered = gw
        .delivery("print", "beta", order, 30, End::Delivered)
        .await;
    let dead = gw
        .delivery("photo", "beta", Uuid::new_v4(), 20, End::Dead)
        .await;
    let pending = gw.delivery("photo", "acme", order, 10, End::Pending).await;
    let all = gw.call("GET", "/admin/deliveries").await;
    let newest_first: Vec<String> = [pending, dead, delivered, old]
        .iter()
        .map(Uuid::to_string)
        .collect();
    assert_eq!(ids(&all), newest_first);
    let cases = [
        ("state=dead", vec![dead, old]),
        ("vendor=photo&tenant=acme", vec![pending, old]),
        (&format!("order_id={order}"), vec![pending, delivered]),
        ("state=pending&vendor=", vec![pending]),
    ];
    for (query, expected) in cases {
        let reply = gw.call("GET", &format!("/admin/deliveries?{query}")).await;
        let expected: Vec<String> = expected.iter().map(Uuid::to_string).collect();
        assert_eq!(ids(&reply), expected, "{query}");
    }
    let since = (Utc::now() - Duration::minutes(25)).to_rfc3339();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("since", &since)
        .finish();
    let recent = gw.call("GET", &format!("/admin/deliveries?{query}")).await;
    assert_eq!(ids(&recent), newest_first[..2]);
    let mut seen = Vec::new();
    let mut uri = "/admin/deliveries?limit=3".to_owned();
    loop {
        let page = gw.call("GET", &uri).await;
        assert!(ids(&page).len() <= 3);
        seen.extend(ids(&page));
        let Some(cursor) = page.body["next_cursor"].as_str() else {
            break;
        };
        let cursor: String = form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        uri = format!("/admin/deliveries?limit=3&cursor={cursor}");
    }
    assert_eq!(seen, newest_first);
}

#[tokio::test]
async fn bad_query_values_are_400_invalid_query() {
    let gw = admin();
    for query in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "state=lost",
        "since=yesterday",
        "since=2025-01-31",
        "order_id=42",
        "status=dead",
        "limit=5&limit=6",
    ] {
        let reply = gw.call("GET", &format!("/admin/deliveries?{query}")).await;
        assert_problem(&reply, 400, "invalid-query");
    }
    assert_eq!(
        gw.call("GET", "/admin/deliveries?limit=500").await.status,
        200
    );
    let id = Uuid::new_v4();
    let reply = gw
        .call("POST", &format!("/admin/deliveries/{id}/retry?force=maybe"))
        .await;
    assert_problem(&reply, 400, "invalid-query");
    let reply = gw
        .call("POST", "/admin/deliveries/redrive?since=soon")
        .await;
    assert_problem(&reply, 400, "invalid-query");
}

#[tokio::test]
async fn show_answers_the_delivery_or_404() {
    let gw = admin();
    let order = Uuid::new_v4();
    let id = gw.delivery("photo", "acme", order, 5, End::Dead).await;
    let reply = gw.call("GET", &format!("/admin/deliveries/{id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let delivery = &reply.body;
    assert_eq!(delivery["id"], id.to_string());
    assert_eq!(delivery["state"], "dead");
    assert_eq!(delivery["vendor"], "photo");
    assert_eq!(delivery["order_id"], order.to_string());
    assert_eq!(delivery["mode"], "queued");
    assert_eq!(delivery["flow_status"], 400);
    assert_eq!(delivery["attempts"][0]["status"], 400);
    let created = delivery["created_at"].as_str().expect("a time");
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    for missing in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let reply = gw
            .call("GET", &format!("/admin/deliveries/{missing}"))
            .await;
        assert_problem(&reply, 404, "not-found");
    }
}

#[tokio::test]
async fn retry_queues_a_dead_delivery_and_refuses_the_rest() {
    let gw = admin();
    let dead = gw
        .delivery("photo", "acme", Uuid::new_v4(), 5, End::Dead)
        .await;
    let pending = gw
        .delivery("photo", "acme", Uuid::new_v4(), 1, End::Pending)
        .await;
    let reply = gw
        .call("POST", &format!("/admin/deliveries/{dead}/retry"))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["id"], dead.to_string());
    assert_eq!(reply.body["state"], "pending");
    let again = gw
        .call("POST", &format!("/admin/deliveries/{pending}/retry"))
        .await;
    assert_problem(&again, 409, "not-dead");
    let missing = gw
        .call(
            "POST",
            &format!("/admin/deliveries/{}/retry", Uuid::new_v4()),
        )
        .await;
    assert_problem(&missing, 404, "not-found");
}

#[tokio::test]
async fn retrying_a_superseded_delivery_needs_force() {
    let gw = admin();
    let order = Uuid::new_v4();
    let old = gw.delivery("photo", "acme", order, 10, End::Dead).await;
    gw.delivery("photo", "acme", order, 5, End::Delivered).await;
    let reply = gw
        .call("POST", &format!("/admin/deliveries/{old}/retry"))
        .await;
    assert_problem(&reply, 409, "superseded");
    let reply = gw
        .call(
            "POST",
            &format!("/admin/deliveries/{old}/retry?force=false"),
        )
        .await;
    assert_problem(&reply, 409, "superseded");
    let forced = gw
        .call("POST", &format!("/admin/deliveries/{old}/retry?force=true"))
        .await;
    assert_eq!(forced.status, 202, "{}", forced.body);
    assert_eq!(forced.body["state"], "pending");
}

#[tokio::test]
async fn cancel_makes_an_open_delivery_dead() {
    let gw = admin();
    let id = gw
        .delivery("photo", "acme", Uuid::new_v4(), 1, End::Pending)
        .await;
    let reply = gw
        .call("POST", &format!("/admin/deliveries/{id}/cancel"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["state"], "dead");
    assert_eq!(reply.body["error"], "cancelled");
    let shown = gw.call("GET", &format!("/admin/deliveries/{id}")).await;
    assert_eq!(shown.body["state"], "dead");
    let delivered = gw
        .delivery("photo", "acme", Uuid::new_v4(), 1, End::Delivered)
        .await;
    let finished = gw
        .call("POST", &format!("/admin/deliveries/{delivered}/cancel"))
        .await;
    assert_eq!(
        finished.status, 200,
        "a finished delivery is answered as it is"
    );
    assert_eq!(finished.body["state"], "delivered");
    let missing = gw
        .call(
            "POST",
            &format!("/admin/deliveries/{}/cancel", Uuid::new_v4()),
        )
        .await;
    assert_problem(&missing, 404, "not-found");
}

#[tokio::test]
async fn delete_removes_finished_deliveries_only() {
    let gw = admin();
    let dead = gw
        .delivery("photo", "acme", Uuid::new_v4(), 9, End::Dead)
        .await;
    let delivered = gw
        .delivery("photo", "acme", Uuid::new_v4(), 8, End::Delivered)
        .await;
    let pending = gw
        .delivery("photo", "acme", Uuid::new_v4(), 1, End::Pending)
        .await;
    for id in [dead, delivered] {
        let reply = gw.call("DELETE", &format!("/admin/deliveries/{id}")).await;
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_eq!(reply.body, Value::Null);
        let gone = gw.call("GET", &format!("/admin/deliveries/{id}")).await;
        assert_problem(&gone, 404, "not-found");
    }
    let open = gw
        .call("DELETE", &format!("/admin/deliveries/{pending}"))
        .await;
    assert_problem(&open, 409, "not-finished");
    let missing = gw
        .call("DELETE", &format!("/admin/deliveries/{dead}"))
        .await;
    assert_problem(&missing, 404, "not-found");
}

#[tokio::test]
async fn redrive_retries_matching_dead_deliveries_and_counts_the_superseded() {
    let gw = admin();
    let superseded_order = Uuid::new_v4();
    let photo = gw
        .delivery("photo", "acme", Uuid::new_v4(), 30, End::Dead)
        .await;
    gw.delivery("photo", "acme", superseded_order, 20, End::Dead)
        .await;
    gw.delivery("photo", "acme", superseded_order, 10, End::Delivered)
        .await;
    gw.delivery("print", "beta", Uuid::new_v4(), 5, End::Dead)
        .await;
    let reply = gw
        .call("POST", "/admin/deliveries/redrive?vendor=photo")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"redriven": 1, "superseded": 1}));
    let shown = gw.call("GET", &format!("/admin/deliveries/{photo}")).await;
    assert_eq!(shown.body["state"], "pending");
    let rest = gw.call("POST", "/admin/deliveries/redrive").await;
    assert_eq!(rest.body, json!({"redriven": 1, "superseded": 1}));
    let none = gw
        .call("POST", "/admin/deliveries/redrive?tenant=nobody")
        .await;
    assert_eq!(none.body, json!({"redriven": 0, "superseded": 0}));
}
