//! Property tests: any single-byte change breaks every signature, and no header text panics.

use proptest::prelude::*;

use super::*;

/// One verifier per signing scheme and preset.
fn signers() -> Vec<Verifier> {
    let timestamped = HmacSpec {
        header: "X-Signature".to_owned(),
        algorithm: Algorithm::Sha512,
        encoding: Encoding::Base64,
        prefix: Some("v1=".to_owned()),
        timestamp_header: Some("X-Timestamp".to_owned()),
        tolerance: DEFAULT_TOLERANCE,
        signed: "{timestamp}.{body}".to_owned(),
        secrets: vec!["generic".to_owned()],
    };
    [
        VerifierSpec::StandardWebhooks {
            secrets: vec![whsec(b"prop-key")],
            tolerance: DEFAULT_TOLERANCE,
        },
        VerifierSpec::Hmac(HmacSpec::github(vec!["gh".to_owned()])),
        VerifierSpec::Hmac(HmacSpec::flow(vec!["fl".to_owned()])),
        VerifierSpec::Hmac(timestamped),
        VerifierSpec::Stripe {
            secrets: vec!["whsec_st".to_owned()],
            tolerance: DEFAULT_TOLERANCE,
        },
    ]
    .into_iter()
    .map(verifier)
    .collect()
}

proptest! {
    #[test]
    fn any_single_byte_flip_fails(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut tampered = body.clone();
        tampered[index.index(body.len())] ^= flip;
        for v in signers() {
            let headers = signed(&v, &body, NOW);
            prop_assert!(v.verify(&headers, &body, at(NOW)).is_ok());
            prop_assert_eq!(v.verify(&headers, &tampered, at(NOW)), Err(SignatureError::BadSignature));
        }
    }

    #[test]
    fn arbitrary_header_text_never_panics_or_passes(value in "[ -~]{0,300}") {
        let value = HeaderValue::from_str(&value).expect("printable ASCII");
        for v in signers() {
            let original = signed(&v, b"{}", NOW);
            for name in original.keys() {
                let mut headers = original.clone();
                headers.insert(name, value.clone());
                if headers != original {
                    prop_assert!(v.verify(&headers, b"{}", at(NOW)).is_err(), "{:?} {}: {:?}", v, name, value);
                }
            }
        }
        // Credentials have equivalent spellings ("bearer  tok"), so only "no panic" is universal.
        let bearer = verifier(VerifierSpec::Bearer { tokens: vec!["tok".to_owned()] });
        let basic = verifier(VerifierSpec::Basic { username: "u".to_owned(), passwords: vec!["p".to_owned()] });
        for v in [bearer, basic] {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value.clone());
            let _ = v.verify(&headers, b"{}", at(NOW));
        }
    }
}
