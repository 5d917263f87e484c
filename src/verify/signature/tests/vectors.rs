//! Cross-language vectors made by the official Python library
//! (`tests/data/standard-webhooks/make_vectors.py`).

use serde_json::Value;

use super::*;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/standard-webhooks/vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("vectors.json is checked in");
    let file: Value = serde_json::from_str(&text).expect("vectors.json is JSON");
    file["vectors"]
        .as_array()
        .expect("a `vectors` array")
        .clone()
}

fn field<'v>(vector: &'v Value, name: &str) -> &'v str {
    vector[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` is a string in {vector}"))
}

#[test]
fn python_vectors_verify_and_tampered_copies_fail() {
    let vectors = vectors();
    assert!(vectors.len() >= 5, "expected at least five vectors");
    for vector in &vectors {
        let name = field(vector, "name");
        let timestamp = vector["timestamp"].as_u64().expect("integer timestamp");
        let body = field(vector, "body").as_bytes();
        let v = verifier(VerifierSpec::StandardWebhooks {
            secrets: vec![field(vector, "secret").to_owned()],
            tolerance: DEFAULT_TOLERANCE,
        });
        let mut headers = HeaderMap::new();
        set(&mut headers, WEBHOOK_ID, field(vector, "msg_id"));
        set(&mut headers, WEBHOOK_TIMESTAMP, &timestamp.to_string());
        set(&mut headers, WEBHOOK_SIGNATURE, field(vector, "signature"));

        let expected = Ok(Authenticated {
            event_id: Some(field(vector, "msg_id").to_owned()),
        });
        assert_eq!(v.verify(&headers, body, at(timestamp)), expected, "{name}");

        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert_eq!(
            v.verify(&headers, &tampered, at(timestamp)),
            Err(SignatureError::BadSignature),
            "{name}"
        );

        // Our signer agrees with the library wherever the header holds one signature.
        let ours = to_map(v.sign(body, field(vector, "msg_id"), at(timestamp)));
        let theirs = field(vector, "signature");
        if !theirs.contains(' ') {
            assert_eq!(header(&ours, WEBHOOK_SIGNATURE), theirs, "{name}");
        } else {
            assert!(
                theirs
                    .split(' ')
                    .any(|s| s == header(&ours, WEBHOOK_SIGNATURE)),
                "{name}"
            );
        }
    }
}
