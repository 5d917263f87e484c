//! bearer and basic.

use super::*;

fn bearer(tokens: &[&str]) -> Verifier {
    verifier(VerifierSpec::Bearer {
        tokens: tokens.iter().map(ToString::to_string).collect(),
    })
}

fn basic(username: &str, passwords: &[&str]) -> Verifier {
    verifier(VerifierSpec::Basic {
        username: username.to_owned(),
        passwords: passwords.iter().map(ToString::to_string).collect(),
    })
}

fn with_authorization(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    set(&mut headers, AUTHORIZATION, value);
    headers
}

fn basic_header(credentials: &str) -> HeaderMap {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    with_authorization(&format!("Basic {encoded}"))
}

const NONE: Result<Authenticated, SignatureError> = Ok(Authenticated { event_id: None });
const BAD: Result<Authenticated, SignatureError> = Err(SignatureError::BadCredentials);

#[test]
fn bearer_round_trip_marks_the_header_sensitive() {
    let v = bearer(&["tok_123"]);
    assert_eq!(v.scheme(), "bearer");
    let pairs = v.sign(b"{}", "ignored", at(NOW));
    assert_eq!(pairs.len(), 1);
    assert!(pairs[0].1.is_sensitive());
    assert_eq!(pairs[0].1, "Bearer tok_123");
    assert_eq!(v.verify(&to_map(pairs), b"{}", at(NOW)), NONE);
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    let v = bearer(&["tok_123"]);
    for value in ["bearer tok_123", "BEARER tok_123", "Bearer   tok_123 "] {
        assert_eq!(
            v.verify(&with_authorization(value), b"", at(NOW)),
            NONE,
            "{value}"
        );
    }
}

#[test]
fn bearer_wrong_or_different_length_tokens_fail() {
    let v = bearer(&["tok_123"]);
    for value in [
        "Bearer tok_124",
        "Bearer tok_12",
        "Bearer tok_1234",
        "Bearer t",
        "Bearer TOK_123",
    ] {
        assert_eq!(
            v.verify(&with_authorization(value), b"", at(NOW)),
            BAD,
            "{value}"
        );
    }
    let long = format!("Bearer {}", "x".repeat(4096));
    assert_eq!(v.verify(&with_authorization(&long), b"", at(NOW)), BAD);
}

#[test]
fn bearer_malformed_authorization_fails() {
    let v = bearer(&["tok_123"]);
    for value in [
        "Bearer",
        "Bearer ",
        "Bearertok_123",
        "Token tok_123",
        "tok_123",
        "Basic dG9rXzEyMw==",
    ] {
        assert_eq!(
            v.verify(&with_authorization(value), b"", at(NOW)),
            BAD,
            "{value}"
        );
    }
    assert_eq!(
        v.verify(&HeaderMap::new(), b"", at(NOW)),
        Err(missing(AUTHORIZATION))
    );
}

#[test]
fn bearer_accepts_every_configured_token() {
    let v = bearer(&["first", "second-and-longer"]);
    for token in ["first", "second-and-longer"] {
        assert_eq!(
            v.verify(
                &with_authorization(&format!("Bearer {token}")),
                b"",
                at(NOW)
            ),
            NONE
        );
    }
    // `sign` uses the first.
    assert_eq!(v.sign(b"", "", at(NOW))[0].1, "Bearer first");
}

#[test]
fn basic_round_trip() {
    let v = basic("vendor", &["pa55word"]);
    assert_eq!(v.scheme(), "basic");
    let pairs = v.sign(b"{}", "ignored", at(NOW));
    assert!(pairs[0].1.is_sensitive());
    assert_eq!(pairs[0].1, "Basic dmVuZG9yOnBhNTV3b3Jk");
    assert_eq!(v.verify(&to_map(pairs), b"{}", at(NOW)), NONE);
}

#[test]
fn basic_right_and_wrong_credentials() {
    let v = basic("vendor", &["old-password", "new"]);
    assert_eq!(
        v.verify(&basic_header("vendor:old-password"), b"", at(NOW)),
        NONE
    );
    assert_eq!(v.verify(&basic_header("vendor:new"), b"", at(NOW)), NONE);
    for credentials in [
        "vendor:wrong",
        "vendor:ne",
        "vendor:newer",
        "Vendor:new",
        "other:new",
        "vendor",
        ":new",
        "vendor:",
    ] {
        assert_eq!(
            v.verify(&basic_header(credentials), b"", at(NOW)),
            BAD,
            "{credentials}"
        );
    }
}

#[test]
fn basic_password_may_contain_colons() {
    let v = basic("vendor", &["a:b:c"]);
    assert_eq!(v.verify(&basic_header("vendor:a:b:c"), b"", at(NOW)), NONE);
    assert_eq!(v.verify(&basic_header("vendor:a:b"), b"", at(NOW)), BAD);
}

#[test]
fn basic_malformed_authorization_fails() {
    let v = basic("vendor", &["pw"]);
    for value in [
        "Basic",
        "Basic !!!!",
        "Basic dmVuZG9yOnB3===",
        "Bearer dmVuZG9yOnB3",
        "dmVuZG9yOnB3",
    ] {
        assert_eq!(
            v.verify(&with_authorization(value), b"", at(NOW)),
            BAD,
            "{value}"
        );
    }
    assert_eq!(
        v.verify(&with_authorization("basic dmVuZG9yOnB3"), b"", at(NOW)),
        NONE
    );
    assert_eq!(
        v.verify(&HeaderMap::new(), b"", at(NOW)),
        Err(missing(AUTHORIZATION))
    );
}
