//! The requests the generator lays out and the responses it reads (`cargo test --example loadgen`).

use super::*;
use crate::response::parse;

const BODY: &str = r#"{"id":"evt-000001-0123456789ab","orderId":"6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f","state":"InProcess","metadata":[{"key":"Gallery","value":"https://photo.example/galleries/6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"}]}"#;

fn plan(fresh_orders: bool) -> Plan {
    let line = serde_json::to_string(&("sha256=0", BODY)).expect("a line");
    Plan {
        address: SocketAddr::from(([127, 0, 0, 1], 9)),
        head: b"POST /webhooks/queued HTTP/1.1\r\nX-Hub-Signature-256: sha256=".to_vec(),
        templates: vec![template(&line).expect("a template")],
        mac: Hmac::new_from_slice(b"bench-secret").expect("a key"),
        forge: false,
        fresh_orders,
        base: 1_000,
        connections: 1,
        deadline: Instant::now(),
        timeout: Duration::from_secs(1),
    }
}

/// The body and the signature header's hex of a laid-out request.
fn split(request: &[u8]) -> (String, String) {
    let text = String::from_utf8(request.to_vec()).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let signature = head.split("sha256=").nth(1).expect("a signature");
    let length: usize = head
        .rsplit("Content-Length: ")
        .next()
        .expect("a length")
        .parse()
        .expect("digits");
    assert_eq!(length, body.len());
    (body.to_owned(), signature[..64].to_owned())
}

#[test]
fn each_request_has_a_fresh_id_and_its_own_valid_signature() {
    let plan = plan(false);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    request(&plan, 0, &mut first);
    request(&plan, 1, &mut second);
    let ((body, signature), (other, _)) = (split(&first), split(&second));
    assert!(
        body.starts_with(r#"{"id":"evt-00000000000000001000","orderId":"6f1c2d3e-"#),
        "{body}"
    );
    assert!(
        other.starts_with(r#"{"id":"evt-00000000000000001001","#),
        "{other}"
    );
    let mut mac = plan.mac.clone();
    mac.update(body.as_bytes());
    assert_eq!(signature, hex::encode(mac.finalize().into_bytes()));
    assert_eq!(body.matches("0a1b2c3d4e5f").count(), 2, "the order is kept");
}

#[test]
fn a_fresh_order_rewrites_every_mention_of_the_order_id() {
    let mut out = Vec::new();
    request(&plan(true), 0x2a, &mut out);
    let (body, _) = split(&out);
    assert_eq!(
        body.matches("6f1c2d3e-4b5a-4c6d-8e7f-000000000412").count(),
        2,
        "{body}"
    );
    serde_json::from_str::<serde_json::Value>(&body).expect("still JSON");
}

#[test]
fn responses_are_read_by_their_length_or_their_chunks() {
    let sized = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1";
    let (length, answer) = parse(sized).expect("valid").expect("complete");
    assert_eq!(
        (length, answer.status, answer.close),
        (sized.len() - 8, 202, false)
    );
    assert!(
        parse(&sized[..sized.len() - 9]).expect("valid").is_none(),
        "a body still to come"
    );
    let chunked = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let (length, answer) = parse(chunked).expect("valid").expect("complete");
    assert_eq!(
        (length, answer.status, answer.close),
        (chunked.len(), 401, true)
    );
    assert!(
        parse(&chunked[..chunked.len() - 2])
            .expect("valid")
            .is_none()
    );
    assert!(parse(b"SSH-2.0\r\n\r\n").is_err());
}
