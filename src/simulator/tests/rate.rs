//! Flow's rate bucket seen through the router; the arithmetic is in `bucket.rs`'s own tests.

use futures_util::future::join_all;

use super::*;

const GUID: &str = "c0ffee00-1234-4abc-8def-0123456789ab";
const DELAY_HEADER: &str = "x-ratelimit-delayed-by-milliseconds";

/// Sends `count` updatestate calls at the same (paused) instant.
async fn burst(router: &Router, token: &str, count: usize) -> Vec<Answer> {
    let body = json!({ "State": "InProcess" }).to_string();
    let calls = (0..count).map(|_| {
        send(
            router,
            api(Method::POST, &updatestate_path(GUID), Some(token), &body),
        )
    });
    join_all(calls).await
}

#[tokio::test(start_paused = true)]
async fn a_burst_past_the_bucket_is_delayed_then_refused_without_state_change() {
    let router = router();
    // The token request costs 25 of the client's 3000: 119 calls fit, the rest are refused.
    let token = access_token(&router).await;
    let answers = burst(&router, &token, 130).await;

    let refused: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(refused.len(), 11);
    assert!(refused.iter().all(|a| a.header("retry-after") == Some("1")));
    let served = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(served, 119);

    // Below 750 tokens each call waits for the bucket to refill to 750: 25 ms more per call.
    let mut delays: Vec<u64> = answers
        .iter()
        .filter_map(|a| a.header(DELAY_HEADER)?.parse().ok())
        .collect();
    delays.sort_unstable();
    let expected: Vec<u64> = (1..=30).map(|n| n * 25).collect();
    assert_eq!(delays, expected);

    let order = sim_get(&router, &format!("/sim/orders/{GUID}")).await;
    let history = order.body["OrderStatuses"].as_array().map_or(0, Vec::len);
    assert_eq!(history, 119, "a 429 changes nothing");
}

#[tokio::test(start_paused = true)]
async fn a_sequential_client_is_slowed_but_never_refused() {
    let router = router();
    let token = access_token(&router).await;
    let start = tokio::time::Instant::now();
    let mut delayed = 0;
    for _ in 0..200 {
        let answer = update_state(&router, &token, GUID, json!({ "State": 2 })).await;
        assert_eq!(answer.status, StatusCode::OK);
        delayed += usize::from(answer.header(DELAY_HEADER).is_some());
    }
    // The bucket refills while each delayed call waits, settling at 750: 40 calls/s.
    assert!(delayed > 100, "{delayed}");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn buckets_are_per_client_and_401s_are_free() {
    let router = router();
    let strangers = (0..130).map(|_| send(&router, form_request(&token_form("other", "x"))));
    let answers = join_all(strangers).await;
    assert!(
        answers
            .iter()
            .any(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
    );

    let unauthenticated = burst(&router, "no-such-token", 200).await;
    assert!(
        unauthenticated
            .iter()
            .all(|a| a.status == StatusCode::UNAUTHORIZED)
    );

    let answer = send(&router, form_request(&token_form(CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(DELAY_HEADER),
        None,
        "our bucket is still full"
    );
}
