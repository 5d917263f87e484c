use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn calls(title: &str, state: &str) -> Vec<Value> {
    vec![
        json!({"operation": "patch", "body": {"Title": title, "Metadata": [{"Key": "Rooms", "Value": "4"}]}}),
        json!({"operation": "updatestate", "body": {"State": state, "Status": state}}),
    ]
}

fn accepted(calls: Vec<Value>) -> Verdict {
    Verdict::passed(&calls)
}

fn refused(code: &str) -> Verdict {
    Verdict::from_json(
        &json!({"outcome": "rejected", "code": code, "detail": "No.",
        "errors": [{"pointer": "/type", "message": "is not one of the allowed values"}]}),
    )
}

fn compared(id: &str, vendor: &str, running: Verdict, candidate: Verdict) -> Comparison {
    Comparison {
        id: id.to_owned(),
        vendor: vendor.to_owned(),
        event_id: json!(format!("ev-{id}")),
        order_id: Value::Null,
        running,
        candidate: Ok(candidate),
    }
}

#[test]
fn a_changed_call_body_is_a_unified_diff_per_operation() {
    let diff = call_diff(
        &calls("Shoot", "Completed"),
        &calls("Photo shoot", "Completed"),
    );
    let expected = [
        "--- running patch",
        "+++ candidate patch",
        "@@ -5,5 +5,5 @@",
        "       \"Value\": \"4\"",
        "     }",
        "   ],",
        "-  \"Title\": \"Shoot\"",
        "+  \"Title\": \"Photo shoot\"",
        " }",
    ];
    assert_eq!(diff, expected, "{}", diff.join("\n"));
}

#[test]
fn an_unchanged_webhook_has_no_diff_and_a_missing_call_is_named() {
    assert!(call_diff(&calls("Shoot", "Completed"), &calls("Shoot", "Completed")).is_empty());
    let only_state = &calls("Shoot", "Completed")[1..];
    let diff = call_diff(&calls("Shoot", "Completed"), only_state);
    assert_eq!(diff[0], "--- running patch");
    assert_eq!(diff[1], "+++ candidate patch (no such call)");
    assert!(diff[2].starts_with("@@ -1,"), "{diff:?}");
    assert!(
        diff[3..].iter().all(|line| line.starts_with('-')),
        "{diff:?}"
    );
}

#[test]
fn webhooks_are_grouped_per_vendor_and_counted() {
    let photo_missing = Verdict::vendor_missing("photo");
    let compared = vec![
        compared(
            "a",
            "canonical",
            accepted(calls("A", "Completed")),
            accepted(calls("B", "Completed")),
        ),
        compared(
            "b",
            "canonical",
            accepted(calls("A", "Completed")),
            accepted(calls("A", "Completed")),
        ),
        compared(
            "c",
            "canonical",
            accepted(calls("A", "Completed")),
            refused("schema-violation"),
        ),
        compared(
            "d",
            "canonical",
            refused("mapping-failed"),
            accepted(calls("A", "Completed")),
        ),
        compared(
            "e",
            "photo",
            accepted(calls("A", "InProcess")),
            photo_missing.clone(),
        ),
        compared("f", "photo", refused("schema-violation"), photo_missing),
        Comparison {
            candidate: Err("its body is not kept".to_owned()),
            ..compared(
                "g",
                "canonical",
                refused("schema-violation"),
                refused("schema-violation"),
            )
        },
    ];
    let report = CandidateReport::new(Path::new("next.toml"), ReplaySource::Accepted, &compared);
    let json = report.to_json();
    let vendors = json["vendors"].as_array().expect("vendors");
    assert_eq!(vendors.len(), 2);
    let canonical = &vendors[0];
    assert_eq!(canonical["vendor"], "canonical");
    assert_eq!(canonical["in_candidate"], true);
    assert_eq!(canonical["replayed"], 4);
    assert_eq!(canonical["passing"], json!({"running": 3, "candidate": 3}));
    assert_eq!(canonical["now_passing"][0]["id"], "d");
    assert_eq!(canonical["now_refused"][0]["id"], "c");
    assert_eq!(canonical["now_refused"][0]["code"], "schema-violation");
    assert_eq!(canonical["now_refused"][0]["errors"][0]["pointer"], "/type");
    assert_eq!(canonical["changed"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        canonical["changed"][0]["candidate"][0]["body"]["Title"],
        "B"
    );
    assert_eq!(
        canonical["not_replayed"],
        json!([{"id": "g", "why": "its body is not kept"}])
    );
    let photo = &vendors[1];
    assert_eq!(photo["in_candidate"], false);
    assert_eq!(photo["passing"], json!({"running": 1, "candidate": 0}));
    assert_eq!(photo["now_refused"][0]["code"], "unknown-vendor");

    let text = report.to_text();
    assert!(
        text.starts_with("candidate next.toml (not running)"),
        "{text}"
    );
    assert!(
        text.contains("\n  - FlowTokens are not checked against Flow"),
        "{text}"
    );
    assert!(
        text.contains("vendor canonical: 4 replayed; passing: 3 running, 3 candidate; now passing: 1, now refused: 1, calls changed: 1"),
        "{text}"
    );
    assert!(text.contains("    c  event ev-c  order -\n      schema-violation: No.\n        /type: is not one of the allowed values"), "{text}");
    assert!(
        text.contains("      -  \"Title\": \"A\"\n      +  \"Title\": \"B\""),
        "{text}"
    );
    assert!(
        text.contains(
            "  not in the candidate: every webhook of `photo` is refused (unknown-vendor)"
        ),
        "{text}"
    );
    assert!(
        text.contains("  not replayed:\n    g  its body is not kept"),
        "{text}"
    );
}

#[test]
fn duplicates_and_conflicts_are_dedup_answers() {
    let duplicate = Verdict::from_json(&json!({"outcome": "duplicate", "calls": []}));
    assert!(duplicate.is_dedup_answer());
    assert!(duplicate.passes());
    assert!(refused("duplicate-conflict").is_dedup_answer());
    assert!(!refused("schema-violation").is_dedup_answer());
    assert!(!accepted(calls("A", "Completed")).is_dedup_answer());
}
