//! Flow's answers as callers read them, the operation names, and TLS being wired in.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::upstream::{self, Upstream};
use super::*;
use crate::flow::{FlowError, FlowRequest, FlowResponse, Operation};

fn answer_with_retry_after(value: Option<&str>) -> FlowResponse {
    let mut headers = HeaderMap::new();
    if let Some(value) = value {
        let value = HeaderValue::from_str(value).expect("a header value");
        headers.insert(http::header::RETRY_AFTER, value);
    }
    FlowResponse {
        status: StatusCode::TOO_MANY_REQUESTS,
        headers,
        body: Bytes::new(),
        elapsed: Duration::ZERO,
    }
}

#[test]
fn retry_after_is_read_as_seconds_or_an_http_date() {
    let wait = |value| answer_with_retry_after(value).retry_after();
    assert_eq!(wait(Some("120")), Some(Duration::from_secs(120)));
    assert_eq!(wait(Some(" 0 ")), Some(Duration::ZERO));
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let date = in_an_hour.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let from_date = wait(Some(&date)).expect("a date is a wait");
    assert!(from_date > Duration::from_secs(3590) && from_date <= Duration::from_secs(3600));
    assert_eq!(
        wait(Some("Sun, 06 Nov 1994 08:49:37 GMT")),
        Some(Duration::ZERO)
    );
    assert_eq!(wait(Some("soon")), None);
    assert_eq!(wait(Some("-5")), None);
    assert_eq!(wait(None), None);
}

#[test]
fn operations_are_named_as_metrics_name_them() {
    let names = [
        Operation::AuthToken,
        Operation::VerifyToken,
        Operation::Patch,
        Operation::UpdateState,
    ]
    .map(Operation::as_str);
    assert_eq!(
        names,
        ["auth_token", "verify_token", "patch", "updatestate"]
    );
}

#[tokio::test]
async fn https_is_spoken_to_an_https_base_url() {
    // A plain-HTTP server behind an https URL: the TLS handshake is what fails.
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let base = flow.base.replacen("http://", "https://", 1);
    let tenant = flow_of(bearer_tenant(&base, "configured-token"));
    let request = FlowRequest::verify_token("t");
    let answer = tenant.call(&client(), &request, in_secs(5)).await;
    assert!(matches!(answer, Err(FlowError::Connect(_))), "{answer:?}");
    assert!(flow.calls().is_empty(), "nothing was read as HTTP");
}
