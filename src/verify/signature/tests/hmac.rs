//! The generic hmac scheme, its github and flow presets, and stripe.

use super::*;

const BODY: &[u8] = br#"{"orderId":"A-1","state":"InProcess"}"#;

fn github(secrets: &[&str]) -> Verifier {
    verifier(VerifierSpec::Hmac(HmacSpec::github(
        secrets.iter().map(ToString::to_string).collect(),
    )))
}

fn flow(secret: &str) -> Verifier {
    verifier(VerifierSpec::Hmac(HmacSpec::flow(vec![secret.to_owned()])))
}

fn stripe(secrets: &[&str]) -> Verifier {
    let secrets = secrets.iter().map(ToString::to_string).collect();
    verifier(VerifierSpec::Stripe {
        secrets,
        tolerance: DEFAULT_TOLERANCE,
    })
}

/// `X-Signature: <base64 HMAC-SHA512>` over `v0:{timestamp}:{body}`, timestamp in `X-Timestamp`.
fn timestamped(secret: &str) -> HmacSpec {
    HmacSpec {
        header: "X-Signature".to_owned(),
        algorithm: Algorithm::Sha512,
        encoding: Encoding::Base64,
        prefix: None,
        timestamp_header: Some("X-Timestamp".to_owned()),
        tolerance: Duration::from_secs(60),
        signed: "v0:{timestamp}:{body}".to_owned(),
        secrets: vec![secret.to_owned()],
    }
}

const NONE: Result<Authenticated, SignatureError> = Ok(Authenticated { event_id: None });

// === github and flow presets ===

#[test]
fn github_matches_githubs_documented_example() {
    let v = github(&["It's a Secret to Everybody"]);
    let headers = signed(&v, b"Hello, World!", NOW);
    assert_eq!(
        header(&headers, GITHUB_SIGNATURE),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    assert_eq!(headers.len(), 1);
    assert_eq!(v.scheme(), "hmac");
    assert_eq!(v.verify(&headers, b"Hello, World!", at(NOW)), NONE);
}

#[test]
fn github_ignores_the_clock() {
    let v = github(&["s3cret"]);
    let headers = signed(&v, BODY, NOW);
    assert_eq!(v.verify(&headers, BODY, at(NOW + 86_400 * 365)), NONE);
}

#[test]
fn github_wrong_key_and_tampered_body_fail() {
    let headers = signed(&github(&["s3cret"]), BODY, NOW);
    assert_eq!(
        github(&["other"]).verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
    let tampered = br#"{"orderId":"A-2","state":"InProcess"}"#;
    assert_eq!(
        github(&["s3cret"]).verify(&headers, tampered, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn github_prefix_is_required_and_exact() {
    let v = github(&["s3cret"]);
    let headers = signed(&v, BODY, NOW);
    let hex = header(&headers, GITHUB_SIGNATURE)
        .trim_start_matches(GITHUB_PREFIX)
        .to_owned();
    for value in [
        hex.clone(),
        format!("sha1={hex}"),
        format!("sha512={hex}"),
        format!("sha256:{hex}"),
    ] {
        let mut headers = headers.clone();
        set(&mut headers, GITHUB_SIGNATURE, &value);
        assert_eq!(
            v.verify(&headers, BODY, at(NOW)),
            Err(SignatureError::BadSignature),
            "{value}"
        );
    }
}

#[test]
fn hex_is_read_in_either_case() {
    let v = github(&["s3cret"]);
    let mut headers = signed(&v, BODY, NOW);
    let upper = header(&headers, GITHUB_SIGNATURE)
        .replace(GITHUB_PREFIX, "")
        .to_uppercase();
    set(
        &mut headers,
        GITHUB_SIGNATURE,
        &format!("{GITHUB_PREFIX}{upper}"),
    );
    assert_eq!(v.verify(&headers, BODY, at(NOW)), NONE);
}

#[test]
fn github_rotation_accepts_either_secret() {
    let both = github(&["old", "new"]);
    for secret in ["old", "new"] {
        assert_eq!(
            both.verify(&signed(&github(&[secret]), BODY, NOW), BODY, at(NOW)),
            NONE
        );
    }
}

#[test]
fn malformed_hmac_headers_fail() {
    let v = github(&["s3cret"]);
    let long = format!("sha256={}", "ab".repeat(65));
    for value in [
        "sha256=",
        "sha256=zz",
        "sha256=abc",
        "sha256=not hex at all",
        long.as_str(),
    ] {
        let mut headers = HeaderMap::new();
        set(&mut headers, GITHUB_SIGNATURE, value);
        assert_eq!(
            v.verify(&headers, BODY, at(NOW)),
            Err(SignatureError::BadSignature),
            "{value}"
        );
    }
    assert_eq!(
        v.verify(&HeaderMap::new(), BODY, at(NOW)),
        Err(missing(GITHUB_SIGNATURE))
    );
}

#[test]
fn flow_is_bare_lowercase_hex() {
    let v = flow("flow-secret");
    let headers = signed(&v, BODY, NOW);
    let value = header(&headers, FLOW_SIGNATURE);
    assert_eq!(value.len(), 64);
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(v.verify(&headers, BODY, at(NOW)), NONE);

    let mut prefixed = HeaderMap::new();
    set(
        &mut prefixed,
        FLOW_SIGNATURE,
        &format!("{GITHUB_PREFIX}{value}"),
    );
    assert_eq!(
        v.verify(&prefixed, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
    assert_eq!(
        flow("other").verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

// === generic: sha512, base64, timestamp template ===

#[test]
fn timestamped_sha512_base64_matches_an_independent_mac() {
    let v = verifier(VerifierSpec::Hmac(timestamped("shopify-ish-secret")));
    let headers = signed(&v, br#"{"a":1}"#, NOW);
    assert_eq!(header(&headers, "x-timestamp"), NOW.to_string());
    // Python: base64(hmac.new(key, b"v0:1764331200:" + body, sha512).digest())
    assert_eq!(
        header(&headers, "x-signature"),
        "jfD3CD5gtLmYXUnZcg6lT3KdbEXUjFoBUDe7FdbUvkOiKCSeSoKVz9M42z4CHwS/8esGngmUsMRylq+myFJ0Cg=="
    );
    assert_eq!(v.verify(&headers, br#"{"a":1}"#, at(NOW)), NONE);
}

#[test]
fn timestamp_header_is_required_checked_and_signed() {
    let v = verifier(VerifierSpec::Hmac(timestamped("k")));
    let headers = signed(&v, BODY, NOW);

    let mut without = headers.clone();
    without.remove("x-timestamp");
    assert_eq!(
        v.verify(&without, BODY, at(NOW)),
        Err(missing("x-timestamp"))
    );

    let mut moved = headers.clone();
    set(&mut moved, "x-timestamp", &(NOW + 1).to_string());
    assert_eq!(
        v.verify(&moved, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );

    let mut garbage = headers;
    set(&mut garbage, "x-timestamp", "yesterday");
    assert_eq!(
        v.verify(&garbage, BODY, at(NOW)),
        Err(SignatureError::BadTimestamp)
    );
}

#[test]
fn timestamp_tolerance_both_ways() {
    let v = verifier(VerifierSpec::Hmac(timestamped("k")));
    let check = |signed_at| v.verify(&signed(&v, BODY, signed_at), BODY, at(NOW));
    assert_eq!(check(NOW - 60), NONE);
    assert_eq!(check(NOW - 61), Err(SignatureError::Expired));
    assert_eq!(check(NOW + 60), NONE);
    assert_eq!(check(NOW + 61), Err(SignatureError::Future));
}

#[test]
fn base64_mac_may_omit_padding() {
    let v = verifier(VerifierSpec::Hmac(timestamped("k")));
    let mut headers = signed(&v, BODY, NOW);
    let unpadded = header(&headers, "x-signature")
        .trim_end_matches('=')
        .to_owned();
    set(&mut headers, "x-signature", &unpadded);
    assert_eq!(v.verify(&headers, BODY, at(NOW)), NONE);
}

#[test]
fn generic_wrong_key_and_tampered_body_fail() {
    let headers = signed(&verifier(VerifierSpec::Hmac(timestamped("k"))), BODY, NOW);
    let other = verifier(VerifierSpec::Hmac(timestamped("k2")));
    assert_eq!(
        other.verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
    let v = verifier(VerifierSpec::Hmac(timestamped("k")));
    assert_eq!(
        v.verify(&headers, b"{}", at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn template_literals_around_the_body_are_signed() {
    let mut spec = HmacSpec::flow(vec!["k".to_owned()]);
    spec.signed = "pre|{body}|post".to_owned();
    let v = verifier(VerifierSpec::Hmac(spec));
    let headers = signed(&v, BODY, NOW);
    assert_eq!(v.verify(&headers, BODY, at(NOW)), NONE);
    // Over the body alone, the same key gives a different MAC.
    assert_eq!(
        flow("k").verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

// === stripe ===

#[test]
fn stripe_keys_with_the_secret_as_written() {
    let v = stripe(&["whsec_test_secret_0123456789"]);
    let body = br#"{"id":"evt_1","object":"event"}"#;
    let headers = signed(&v, body, NOW);
    // Python: hmac.new(b"whsec_test_secret_0123456789", b"1764331200." + body, sha256).hexdigest()
    assert_eq!(
        header(&headers, STRIPE_SIGNATURE),
        "t=1764331200,v1=cc8ee6ea0bb85b87aea2751fa605987cdf272be2264e1016e799b4459c771d54"
    );
    assert_eq!(v.scheme(), "hmac");
    assert_eq!(v.verify(&headers, body, at(NOW)), NONE);
}

#[test]
fn stripe_wrong_key_tampered_body_and_tolerance() {
    let v = stripe(&["whsec_a"]);
    let headers = signed(&v, BODY, NOW);
    assert_eq!(
        stripe(&["whsec_b"]).verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
    assert_eq!(
        v.verify(&headers, b"{}", at(NOW)),
        Err(SignatureError::BadSignature)
    );
    let check = |signed_at| v.verify(&signed(&v, BODY, signed_at), BODY, at(NOW));
    assert_eq!(check(NOW - 300), NONE);
    assert_eq!(check(NOW - 301), Err(SignatureError::Expired));
    assert_eq!(check(NOW + 300), NONE);
    assert_eq!(check(NOW + 301), Err(SignatureError::Future));
}

/// The `v1=` value `secret` would send for `BODY` at `NOW`.
fn stripe_v1(secret: &str) -> String {
    let headers = signed(&stripe(&[secret]), BODY, NOW);
    header(&headers, STRIPE_SIGNATURE)
        .split_once(",v1=")
        .expect("v1 present")
        .1
        .to_owned()
}

#[test]
fn stripe_accepts_any_of_several_v1_and_ignores_v0() {
    let v = stripe(&["whsec_new"]);
    let (good, old) = (stripe_v1("whsec_new"), stripe_v1("whsec_old"));
    let mut headers = HeaderMap::new();
    set(
        &mut headers,
        STRIPE_SIGNATURE,
        &format!("t={NOW},v1={old},v1={good},v0={old}"),
    );
    assert_eq!(v.verify(&headers, BODY, at(NOW)), NONE);

    set(
        &mut headers,
        STRIPE_SIGNATURE,
        &format!("t={NOW},v1={old},v0={good}"),
    );
    assert_eq!(
        v.verify(&headers, BODY, at(NOW)),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn stripe_rotation_accepts_either_secret() {
    let both = stripe(&["whsec_old", "whsec_new"]);
    for secret in ["whsec_old", "whsec_new"] {
        assert_eq!(
            both.verify(&signed(&stripe(&[secret]), BODY, NOW), BODY, at(NOW)),
            NONE
        );
    }
}

#[test]
fn stripe_malformed_headers() {
    let v = stripe(&["whsec_a"]);
    let good = stripe_v1("whsec_a");
    let cases = [
        (format!("v1={good}"), SignatureError::BadTimestamp),
        (format!("t=,v1={good}"), SignatureError::BadTimestamp),
        (format!("t=now,v1={good}"), SignatureError::BadTimestamp),
        (
            format!("t={NOW},t={NOW},v1={good}"),
            SignatureError::BadTimestamp,
        ),
        (format!("t={NOW}"), SignatureError::BadSignature),
        (format!("t={NOW},v1="), SignatureError::BadSignature),
        (format!("t={NOW},v1=xyz"), SignatureError::BadSignature),
        (
            format!("t={NOW},v1={}", &good[..40]),
            SignatureError::BadSignature,
        ),
        ("garbage".to_owned(), SignatureError::BadTimestamp),
    ];
    for (value, expected) in cases {
        let mut headers = HeaderMap::new();
        set(&mut headers, STRIPE_SIGNATURE, &value);
        assert_eq!(v.verify(&headers, BODY, at(NOW)), Err(expected), "{value}");
    }
    assert_eq!(
        v.verify(&HeaderMap::new(), BODY, at(NOW)),
        Err(missing(STRIPE_SIGNATURE))
    );
}
