//! standard-webhooks and svix-* headers.

use super::*;

const BODY: &[u8] = br#"{"id":"evt_1","type":"order.accepted"}"#;

fn secret_a() -> String {
    whsec(b"0123456789abcdef0123456789abcdef")
}

fn secret_b() -> String {
    whsec(b"a different key of another length")
}

fn sw(secrets: Vec<String>) -> Verifier {
    verifier(VerifierSpec::StandardWebhooks {
        secrets,
        tolerance: DEFAULT_TOLERANCE,
    })
}

fn ok(id: &str) -> Result<Authenticated, SignatureError> {
    Ok(Authenticated {
        event_id: Some(id.to_owned()),
    })
}

#[test]
fn round_trip() {
    let v = sw(vec![secret_a()]);
    assert_eq!(v.scheme(), "standard-webhooks");
    let headers = signed(&v, BODY, NOW);
    assert_eq!(header(&headers, WEBHOOK_ID), "msg_1");
    assert_eq!(header(&headers, WEBHOOK_TIMESTAMP), NOW.to_string());
    assert!(header(&headers, WEBHOOK_SIGNATURE).starts_with("v1,"));
    assert_eq!(v.verify(&headers, BODY, at(NOW)), ok("msg_1"));
}

#[test]
fn matches_the_svix_reference_signature() {
    let v = sw(vec!["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned()]);
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    let headers = to_map(v.sign(body, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", at(1_649_367_553)));
    assert_eq!(
        header(&headers, WEBHOOK_SIGNATURE),
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    );
}

#[test]
fn wrong_key_fails() {
    let headers = signed(&sw(vec![secret_a()]), BODY, NOW);
    let other = sw(vec![secret_b()]);
    assert_eq!(
        other.verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn tampered_body_id_or_timestamp_fails() {
    let v = sw(vec![secret_a()]);
    let headers = signed(&v, BODY, NOW);
    let tampered = br#"{"id":"evt_1","type":"order.accepted "}"#;
    assert_eq!(
        v.verify(&headers, tampered, at(NOW)),
        Err(SignatureError::BadSignature)
    );

    let mut other_id = headers.clone();
    set(&mut other_id, WEBHOOK_ID, "msg_2");
    assert_eq!(
        v.verify(&other_id, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );

    let mut other_time = headers;
    set(&mut other_time, WEBHOOK_TIMESTAMP, &(NOW + 1).to_string());
    assert_eq!(
        v.verify(&other_time, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn tolerance_is_inclusive_and_checked_both_ways() {
    let v = sw(vec![secret_a()]);
    let check = |signed_at| v.verify(&signed(&v, BODY, signed_at), BODY, at(NOW));
    assert_eq!(check(NOW - 300), ok("msg_1"));
    assert_eq!(check(NOW - 301), Err(SignatureError::Expired));
    assert_eq!(check(NOW + 300), ok("msg_1"));
    assert_eq!(check(NOW + 301), Err(SignatureError::Future));
}

#[test]
fn configured_tolerance_is_used() {
    let v = verifier(VerifierSpec::StandardWebhooks {
        secrets: vec![secret_a()],
        tolerance: Duration::from_secs(10),
    });
    let check = |signed_at| v.verify(&signed(&v, BODY, signed_at), BODY, at(NOW));
    assert_eq!(check(NOW - 10), ok("msg_1"));
    assert_eq!(check(NOW - 11), Err(SignatureError::Expired));
    assert_eq!(check(NOW + 10), ok("msg_1"));
    assert_eq!(check(NOW + 11), Err(SignatureError::Future));
}

#[test]
fn sub_second_clock_does_not_shift_the_window() {
    let v = sw(vec![secret_a()]);
    let headers = signed(&v, BODY, NOW - 300);
    let now = at(NOW) + Duration::from_millis(999);
    assert_eq!(v.verify(&headers, BODY, now), ok("msg_1"));
}

#[test]
fn rotation_accepts_either_secret() {
    let both = sw(vec![secret_a(), secret_b()]);
    for secret in [secret_a(), secret_b()] {
        let headers = signed(&sw(vec![secret]), BODY, NOW);
        assert_eq!(both.verify(&headers, BODY, at(NOW)), ok("msg_1"));
    }
    // `sign` uses the first secret.
    let headers = signed(&both, BODY, NOW);
    assert_eq!(
        sw(vec![secret_a()]).verify(&headers, BODY, at(NOW)),
        ok("msg_1")
    );
    assert!(
        sw(vec![secret_b()])
            .verify(&headers, BODY, at(NOW))
            .is_err()
    );
}

#[test]
fn any_of_several_signatures_passes() {
    let v = sw(vec![secret_a()]);
    let mut headers = signed(&v, BODY, NOW);
    let good = header(&headers, WEBHOOK_SIGNATURE).to_owned();
    let wrong = header(&signed(&sw(vec![secret_b()]), BODY, NOW), WEBHOOK_SIGNATURE).to_owned();
    let forged_v1a = good.replacen("v1,", "v1a,", 1);
    set(
        &mut headers,
        WEBHOOK_SIGNATURE,
        &format!("{wrong} {forged_v1a} garbage  {good}"),
    );
    assert_eq!(v.verify(&headers, BODY, at(NOW)), ok("msg_1"));

    set(
        &mut headers,
        WEBHOOK_SIGNATURE,
        &format!("{wrong} {forged_v1a}"),
    );
    assert_eq!(
        v.verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn unpadded_signature_is_accepted() {
    let v = sw(vec![secret_a()]);
    let mut headers = signed(&v, BODY, NOW);
    let unpadded = header(&headers, WEBHOOK_SIGNATURE)
        .trim_end_matches('=')
        .to_owned();
    set(&mut headers, WEBHOOK_SIGNATURE, &unpadded);
    assert_eq!(v.verify(&headers, BODY, at(NOW)), ok("msg_1"));
}

/// Renames the signed webhook-* headers to their svix-* names.
fn as_svix(headers: &HeaderMap) -> HeaderMap {
    let mut svix = HeaderMap::new();
    set(&mut svix, SVIX_ID, header(headers, WEBHOOK_ID));
    set(
        &mut svix,
        SVIX_TIMESTAMP,
        header(headers, WEBHOOK_TIMESTAMP),
    );
    set(
        &mut svix,
        SVIX_SIGNATURE,
        header(headers, WEBHOOK_SIGNATURE),
    );
    svix
}

#[test]
fn svix_headers_are_accepted() {
    let v = sw(vec![secret_a()]);
    let svix = as_svix(&signed(&v, BODY, NOW));
    assert_eq!(v.verify(&svix, BODY, at(NOW)), ok("msg_1"));
    let mut bad = svix;
    set(&mut bad, SVIX_TIMESTAMP, "soon");
    assert_eq!(
        v.verify(&bad, BODY, at(NOW)),
        Err(SignatureError::BadTimestamp)
    );
}

#[test]
fn families_are_not_mixed() {
    let v = sw(vec![secret_a()]);
    let headers = signed(&v, BODY, NOW);
    let mut mixed = as_svix(&headers);
    set(
        &mut mixed,
        WEBHOOK_SIGNATURE,
        header(&headers, WEBHOOK_SIGNATURE),
    );
    assert_eq!(v.verify(&mixed, BODY, at(NOW)), Err(missing(WEBHOOK_ID)));
}

#[test]
fn each_missing_header_is_named() {
    let v = sw(vec![secret_a()]);
    let headers = signed(&v, BODY, NOW);
    for name in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
        let mut without = headers.clone();
        without.remove(name);
        assert_eq!(
            v.verify(&without, BODY, at(NOW)),
            Err(missing(name)),
            "{name}"
        );
    }
    let svix = as_svix(&headers);
    for name in [SVIX_ID, SVIX_TIMESTAMP] {
        let mut without = svix.clone();
        without.remove(name);
        assert_eq!(
            v.verify(&without, BODY, at(NOW)),
            Err(missing(name)),
            "{name}"
        );
    }
    assert_eq!(
        v.verify(&HeaderMap::new(), BODY, at(NOW)),
        Err(missing(WEBHOOK_ID))
    );
}

#[test]
fn blank_or_non_ascii_header_counts_as_missing() {
    let v = sw(vec![secret_a()]);
    let mut headers = signed(&v, BODY, NOW);
    set(&mut headers, WEBHOOK_ID, "  ");
    assert_eq!(v.verify(&headers, BODY, at(NOW)), Err(missing(WEBHOOK_ID)));
    let mut headers = signed(&v, BODY, NOW);
    let latin1 = HeaderValue::from_bytes(b"msg_\xe9").expect("obs-text is a valid value");
    headers.insert(WEBHOOK_ID, latin1);
    assert_eq!(v.verify(&headers, BODY, at(NOW)), Err(missing(WEBHOOK_ID)));
}

#[test]
fn malformed_timestamps_are_refused() {
    let v = sw(vec![secret_a()]);
    for text in [
        "abc",
        "-5",
        "+1764331200",
        "1764331200.5",
        "1e9",
        "0x10",
        "99999999999999999999999",
    ] {
        let mut headers = signed(&v, BODY, NOW);
        set(&mut headers, WEBHOOK_TIMESTAMP, text);
        assert_eq!(
            v.verify(&headers, BODY, at(NOW)),
            Err(SignatureError::BadTimestamp),
            "{text}"
        );
    }
}

#[test]
fn malformed_signatures_are_refused() {
    let v = sw(vec![secret_a()]);
    let headers = signed(&v, BODY, NOW);
    let good = header(&headers, WEBHOOK_SIGNATURE).to_owned();
    let truncated = &good[..20];
    let no_version = good.trim_start_matches("v1,").to_owned();
    let hex_mac = format!("v1,{}", "ab".repeat(32));
    let long = format!("v1,{}", "A".repeat(400));
    for value in [
        "garbage",
        "v1,",
        "v1,!!!not-base64!!!",
        "v1",
        ",",
        truncated,
        &no_version,
        &hex_mac,
        &long,
    ] {
        let mut headers = headers.clone();
        set(&mut headers, WEBHOOK_SIGNATURE, value);
        assert_eq!(
            v.verify(&headers, BODY, at(NOW)),
            Err(SignatureError::BadSignature),
            "{value}"
        );
    }
}

#[test]
fn secret_prefix_and_padding_are_optional() {
    let key = b"thirty-two bytes of key material";
    let padded = whsec(key);
    assert!(padded.ends_with('='));
    let headers = signed(&sw(vec![padded.clone()]), BODY, NOW);
    let bare = padded.trim_start_matches(SECRET_PREFIX).to_owned();
    let unpadded = padded.trim_end_matches('=').to_owned();
    for secret in [padded, bare, unpadded] {
        assert_eq!(
            sw(vec![secret]).verify(&headers, BODY, at(NOW)),
            ok("msg_1")
        );
    }
}

#[test]
fn empty_body_round_trips() {
    let v = sw(vec![secret_a()]);
    assert_eq!(v.verify(&signed(&v, b"", NOW), b"", at(NOW)), ok("msg_1"));
}

#[test]
fn an_id_no_header_can_carry_is_left_out() {
    let v = sw(vec![secret_a()]);
    let headers = to_map(v.sign(BODY, "bad\nid", at(NOW)));
    assert!(!headers.contains_key(WEBHOOK_ID));
    assert_eq!(v.verify(&headers, BODY, at(NOW)), Err(missing(WEBHOOK_ID)));
}

#[test]
fn clones_share_the_keys() {
    let v = sw(vec![secret_a()]);
    let clone = v.clone();
    assert_eq!(
        clone.verify(&signed(&v, BODY, NOW), BODY, at(NOW)),
        ok("msg_1")
    );
}
