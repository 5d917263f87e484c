//! What a webhook's body must be before its schema is checked: declared JSON, within the size
//! cap and the memory budget, and JSON no deeper than `limits.max_json_depth`. Each refusal is
//! an error here; `problem` says how it is answered.

use std::time::Duration;

use serde_json::Value;

/// How long a caller turned away for lack of buffer space is asked to wait.
const RETRY_AFTER_FULL: Duration = Duration::from_secs(1);

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("The body is larger than {0} bytes.")]
    TooLarge(u64),
    #[error("Too many request bodies are being processed; retry shortly.")]
    BuffersFull,
    #[error("The body could not be read.")]
    Unreadable,
}

impl BodyError {
    pub fn retry_after(&self) -> Option<Duration> {
        matches!(self, BodyError::BuffersFull).then_some(RETRY_AFTER_FULL)
    }
}

/// Why a body is not declared JSON.
#[derive(Debug, thiserror::Error)]
pub enum MediaTypeError {
    #[error("Content-Type is missing; send application/json.")]
    Missing,
    #[error("Content-Type `{0}` is not JSON; send application/json.")]
    NotJson(String),
}

/// `application/json` or `application/<x>+json`, any parameters.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => {
            subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len())
        }
        _ => false,
    }
}

/// Why a body is not acceptable JSON.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("The body nests deeper than {0} levels.")]
    TooDeep(usize),
    #[error("The body is not valid JSON: {0}.")]
    Invalid(String),
}

/// The body as JSON no deeper than `max_depth`, or why the gateway refuses it (also what
/// `flowgate map` parses with).
pub fn parse_json(body: &[u8], max_depth: usize) -> Result<Value, ParseError> {
    // Counted before parsing, so a hostile body costs one linear scan and no allocation.
    if nesting_depth(body) > max_depth {
        return Err(ParseError::TooDeep(max_depth));
    }
    serde_json::from_slice(body).map_err(|e| ParseError::Invalid(e.to_string()))
}

/// The deepest nesting of arrays and objects in `bytes`, ignoring brackets inside strings.
pub fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/cloudevents+json",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/json",
            "application/xml",
            "application/+json",
            "application/jsonx",
            "",
            "json",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"{"a": [1, {"b": "[[[{{{"}]}"#), 3);
        assert_eq!(nesting_depth(br#"{"a": "\"[[["}"#), 1);
        assert_eq!(nesting_depth(b"42"), 0);
        assert_eq!(nesting_depth(&[b'['; 100]), 100);
    }

    proptest! {
        #[test]
        fn depth_matches_the_parsed_document(value in json_value()) {
            let text = serde_json::to_vec(&value).expect("serialises");
            prop_assert_eq!(nesting_depth(&text), depth_of(&value));
        }
    }

    fn depth_of(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[\\[\\]{}\"\\\\a-z]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\\[{\"]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
