//! Construction errors, redacted Debug output and error labels.

use super::*;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

fn error(spec: VerifierSpec) -> SpecError {
    match Verifier::new(spec) {
        Ok(v) => panic!("expected a SpecError, built {v:?}"),
        Err(e) => e,
    }
}

fn sw(secrets: &[&str]) -> VerifierSpec {
    VerifierSpec::StandardWebhooks {
        secrets: strings(secrets),
        tolerance: DEFAULT_TOLERANCE,
    }
}

fn hmac_with(edit: impl FnOnce(&mut HmacSpec)) -> VerifierSpec {
    let mut spec = HmacSpec::flow(strings(&["k"]));
    edit(&mut spec);
    VerifierSpec::Hmac(spec)
}

#[test]
fn every_scheme_needs_a_secret() {
    assert_eq!(error(sw(&[])), SpecError::NoSecrets { what: "secret" });
    assert_eq!(
        error(VerifierSpec::Hmac(HmacSpec::github(vec![]))),
        SpecError::NoSecrets { what: "secret" }
    );
    let stripe = VerifierSpec::Stripe {
        secrets: vec![],
        tolerance: DEFAULT_TOLERANCE,
    };
    assert_eq!(error(stripe), SpecError::NoSecrets { what: "secret" });
    assert_eq!(
        error(VerifierSpec::Bearer { tokens: vec![] }),
        SpecError::NoSecrets { what: "token" }
    );
    let basic = VerifierSpec::Basic {
        username: "u".into(),
        passwords: vec![],
    };
    assert_eq!(error(basic), SpecError::NoSecrets { what: "password" });
}

#[test]
fn empty_entries_are_named_by_position() {
    let good = whsec(b"key");
    assert_eq!(
        error(sw(&[&good, ""])),
        SpecError::EmptySecret {
            what: "secret",
            position: 2
        }
    );
    assert_eq!(
        error(sw(&["whsec_"])),
        SpecError::EmptySecret {
            what: "secret",
            position: 1
        }
    );
    assert_eq!(
        error(VerifierSpec::Bearer {
            tokens: strings(&["a", "b", ""])
        }),
        SpecError::EmptySecret {
            what: "token",
            position: 3
        }
    );
    let basic = VerifierSpec::Basic {
        username: "u".into(),
        passwords: strings(&[""]),
    };
    assert_eq!(
        error(basic),
        SpecError::EmptySecret {
            what: "password",
            position: 1
        }
    );
}

#[test]
fn undecodable_standard_webhooks_secret_is_named_not_shown() {
    let good = whsec(b"key");
    for bad in [
        "whsec_not*base64",
        "whsec_a",
        "whsec_QUJD=",
        "plain text secret",
    ] {
        let e = error(sw(&[&good, bad]));
        assert_eq!(e, SpecError::SecretNotBase64 { position: 2 }, "{bad}");
        assert!(!e.to_string().contains(bad));
        assert!(e.to_string().contains("#2"));
    }
}

#[test]
fn template_needs_exactly_one_body() {
    for (template, count) in [("{timestamp}", 0), ("body", 0), ("{body}{body}", 2)] {
        let spec = hmac_with(|s| s.signed = template.to_owned());
        let e = error(spec);
        // `{timestamp}` without a header is also wrong; the body count is checked first.
        assert_eq!(e, SpecError::BodyPlaceholder { count }, "{template}");
    }
}

#[test]
fn template_placeholders_must_be_known() {
    let spec = hmac_with(|s| s.signed = "{id}.{body}".to_owned());
    assert_eq!(
        error(spec),
        SpecError::UnknownPlaceholder { name: "id".into() }
    );
    let spec = hmac_with(|s| s.signed = "{Body}".to_owned());
    assert_eq!(
        error(spec),
        SpecError::UnknownPlaceholder {
            name: "Body".into()
        }
    );
}

#[test]
fn timestamp_placeholder_and_header_go_together() {
    let spec = hmac_with(|s| s.signed = "{timestamp}.{body}".to_owned());
    assert_eq!(error(spec), SpecError::TimestampWithoutHeader);
    let spec = hmac_with(|s| s.timestamp_header = Some("X-Timestamp".into()));
    assert_eq!(error(spec), SpecError::TimestampNotSigned);
}

#[test]
fn header_names_must_be_valid() {
    for name in ["", "X Signature", "x-sig\n", "x:sig"] {
        let spec = hmac_with(|s| s.header = name.to_owned());
        assert_eq!(
            error(spec),
            SpecError::InvalidHeaderName { name: name.into() },
            "{name:?}"
        );
    }
    let spec = hmac_with(|s| {
        s.timestamp_header = Some("bad header".into());
        s.signed = "{timestamp}.{body}".into();
    });
    assert_eq!(
        error(spec),
        SpecError::InvalidHeaderName {
            name: "bad header".into()
        }
    );
}

#[test]
fn header_names_are_case_insensitive() {
    let spec = hmac_with(|s| s.header = "X-Custom-SIGNATURE".to_owned());
    let v = verifier(spec);
    let headers = signed(&v, b"{}", NOW);
    assert!(headers.contains_key("x-custom-signature"));
    assert!(v.verify(&headers, b"{}", at(NOW)).is_ok());
}

#[test]
fn tokens_must_be_sendable() {
    for token in ["bad\ntoken", " padded", "padded "] {
        let spec = VerifierSpec::Bearer {
            tokens: strings(&["ok", token]),
        };
        assert_eq!(
            error(spec),
            SpecError::TokenNotHeaderSafe { position: 2 },
            "{token:?}"
        );
    }
}

#[test]
fn basic_username_is_checked() {
    let spec = VerifierSpec::Basic {
        username: String::new(),
        passwords: strings(&["pw"]),
    };
    assert_eq!(error(spec), SpecError::EmptyUsername);
    let spec = VerifierSpec::Basic {
        username: "a:b".into(),
        passwords: strings(&["pw"]),
    };
    assert_eq!(error(spec), SpecError::UsernameHasColon);
}

#[test]
fn debug_never_prints_secrets() {
    let secret = whsec(b"super-secret-key-material");
    let specs = [
        sw(&[&secret]),
        VerifierSpec::Hmac(HmacSpec::github(strings(&["hunter2-github"]))),
        VerifierSpec::Stripe {
            secrets: strings(&["whsec_stripe_hunter2"]),
            tolerance: DEFAULT_TOLERANCE,
        },
        VerifierSpec::Bearer {
            tokens: strings(&["tok_hunter2"]),
        },
        VerifierSpec::Basic {
            username: "vendor".into(),
            passwords: strings(&["pw_hunter2"]),
        },
    ];
    for spec in specs {
        let spec_debug = format!("{spec:?}");
        let verifier_debug = format!("{:?}", verifier(spec.clone()));
        for text in [&spec_debug, &verifier_debug] {
            assert!(
                !text.contains("hunter2") && !text.contains(&secret[6..]),
                "{text}"
            );
            assert!(text.contains("<1 redacted>"), "{text}");
        }
    }
    let v = verifier(VerifierSpec::Bearer {
        tokens: strings(&["a1", "b2"]),
    });
    assert_eq!(
        format!("{v:?}"),
        r#"Verifier { scheme: "bearer", secrets: <2 redacted> }"#
    );
}

#[test]
fn reasons_are_the_metric_labels() {
    let cases = [
        (missing("webhook-id"), "missing_header"),
        (SignatureError::BadTimestamp, "bad_timestamp"),
        (SignatureError::Expired, "expired"),
        (SignatureError::Future, "future"),
        (SignatureError::BadSignature, "bad_signature"),
        (SignatureError::BadCredentials, "bad_credentials"),
    ];
    for (error, reason) in cases {
        assert_eq!(error.reason().as_str(), reason);
        assert!(!error.to_string().is_empty());
    }
    assert_eq!(
        missing("webhook-id").to_string(),
        "missing or unreadable header `webhook-id`"
    );
}

#[test]
fn presets_are_as_documented() {
    let github = HmacSpec::github(strings(&["s"]));
    assert_eq!(github.header, "x-hub-signature-256");
    assert_eq!(github.prefix.as_deref(), Some("sha256="));
    assert_eq!(
        (github.algorithm, github.encoding),
        (Algorithm::Sha256, Encoding::Hex)
    );
    assert_eq!(github.signed, "{body}");
    assert_eq!(github.timestamp_header, None);
    let flow = HmacSpec::flow(strings(&["s"]));
    assert_eq!(flow.header, "x-flow-signature");
    assert_eq!(flow.prefix, None);
    assert_eq!(
        (flow.algorithm, flow.encoding),
        (Algorithm::Sha256, Encoding::Hex)
    );
}
