use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::pointer::Pointer;
use super::text::{ELLIPSIS, cut};
use super::*;

const ORDER: &str = "5f1c7f9e-3b0a-4c47-9a51-0f3a2b6c7d8e";

/// The `[vendors.example-photo.map]` of DESIGN section 3.
const PHOTO_MAP: &str = r#"
event_id = "/id"
order_id = "/data/orderId"
flow_url = "/data/flowUrl"
tenant_id = "/data/tenantId"
flow_token = "/data/flowToken"
state = { from = "/type", values = { "order.accepted" = "InProcess", "order.delivered" = "Completed" } }
status = "/data/message"
title = "/data/product"
action_text = { value = "Open in Example Photo" }
metadata = { "Photographer" = "/data/photographer", "Shoot date" = "/data/shootDate" }
"#;

fn mapper(map: &str, max_field_chars: usize) -> Mapper {
    let map: MapConfig = toml::from_str(map).expect("a map");
    Mapper::from_map(&map, max_field_chars)
}

fn photo() -> Mapper {
    mapper(PHOTO_MAP, 255)
}

/// A mapper of just `order_id` and the extra lines given.
fn with(lines: &str) -> Mapper {
    mapper(&format!("order_id = \"/orderId\"\n{lines}"), 255)
}

fn photo_payload() -> Value {
    json!({
        "id": "evt_1",
        "type": "order.accepted",
        "data": {
            "orderId": ORDER,
            "flowUrl": "https://flow.example/api",
            "tenantId": 14,
            "flowToken": "tok",
            "message": "Shoot booked",
            "product": "Photos, 12 pictures",
            "photographer": "Ada",
            "shootDate": "2025-03-01"
        }
    })
}

fn failure(mapper: &Mapper, document: Value) -> MappingError {
    mapper.map(&document).expect_err("a mapping error")
}

fn lines(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(pairs.iter().map(|&(k, v)| (k.into(), v.into())).collect())
}

#[test]
fn the_design_example_maps_every_field() {
    let mapped = photo().map(&photo_payload()).unwrap();
    let expected = Mapped {
        event_id: Some("evt_1".into()),
        order_id: Uuid::parse_str(ORDER).unwrap(),
        flow_url: Some("https://flow.example/api".into()),
        tenant_id: Some(14),
        flow_token: Some("tok".into()),
        update: OrderUpdate {
            state: Some("InProcess".into()),
            status: Some("Shoot booked".into()),
            title: Some("Photos, 12 pictures".into()),
            action_text: Some("Open in Example Photo".into()),
            metadata: lines(&[("Photographer", "Ada"), ("Shoot date", "2025-03-01")]),
        },
        truncated: vec![],
    };
    assert_eq!(mapped, expected);
    assert_eq!(photo().state_default(), None);
}

#[test]
fn pointers_finding_nothing_or_null_leave_fields_absent() {
    let document = json!({ "type": null, "data": { "orderId": ORDER, "message": null } });
    let mapped = photo().map(&document).unwrap();
    let expected = Mapped {
        event_id: None,
        order_id: Uuid::parse_str(ORDER).unwrap(),
        flow_url: None,
        tenant_id: None,
        flow_token: None,
        update: OrderUpdate {
            action_text: Some("Open in Example Photo".into()),
            ..OrderUpdate::default()
        },
        truncated: vec![],
    };
    assert_eq!(mapped, expected);
}

#[test]
fn value_tables_use_the_default_only_for_values_not_in_the_table() {
    let table = r#"state = { from = "/kind", values = { "1" = "InProcess", "done" = "Completed" }, default = "Error" }"#;
    let mapper = with(table);
    let state = |kind: Value| {
        mapper
            .map(&json!({ "orderId": ORDER, "kind": kind }))
            .unwrap()
            .update
            .state
    };
    assert_eq!(state(json!(1)).as_deref(), Some("InProcess"));
    assert_eq!(state(json!("done")).as_deref(), Some("Completed"));
    assert_eq!(state(json!("other")).as_deref(), Some("Error"));
    assert_eq!(state(Value::Null), None);
    assert_eq!(mapper.state_default(), Some("Error"));
}

#[test]
fn a_value_missing_from_a_table_without_default_is_an_error() {
    let error = failure(
        &photo(),
        json!({ "type": "order.unknown", "data": { "orderId": ORDER } }),
    );
    assert_eq!(error.field, "state");
    assert_eq!(
        error.reason,
        "`order.unknown` at `/type` is not in the value table and there is no default"
    );
}

#[test]
fn a_missing_order_id_names_the_map_key() {
    for document in [json!({}), json!({ "data": { "orderId": null } })] {
        let error = failure(&photo(), document);
        assert_eq!(error.field, "order_id");
        assert_eq!(error.reason, "no value at `/data/orderId`");
    }
}

#[test]
fn an_order_id_must_be_a_guid() {
    for bad in [
        json!("not-a-guid"),
        json!(42),
        json!(format!("urn:uuid:{ORDER}")),
    ] {
        let error = failure(&with(""), json!({ "orderId": bad }));
        assert_eq!(error.field, "order_id");
        assert!(
            error.reason.ends_with("at `/orderId` is not a GUID"),
            "{}",
            error.reason
        );
    }
}

#[test]
fn guids_are_normalised_from_every_form_core_writes() {
    let simple = ORDER.replace('-', "");
    for form in [
        ORDER.to_owned(),
        ORDER.to_uppercase(),
        format!("{{{ORDER}}}"),
        format!("{{{}}}", ORDER.to_uppercase()),
        simple.clone(),
        simple.to_uppercase(),
    ] {
        let mapped = with("").map(&json!({ "orderId": form })).unwrap();
        assert_eq!(mapped.order_id.to_string(), ORDER, "{form}");
    }
}

#[test]
fn numbers_and_booleans_become_strings() {
    let mapper = with("event_id = \"/n\"\ntitle = \"/i\"\nstatus = \"/f\"\naction_text = \"/b\"");
    let document = json!({ "orderId": ORDER, "n": 7, "i": 42, "f": 1.5, "b": true });
    let mapped = mapper.map(&document).unwrap();
    assert_eq!(mapped.event_id.as_deref(), Some("7"));
    assert_eq!(mapped.update.title.as_deref(), Some("42"));
    assert_eq!(mapped.update.status.as_deref(), Some("1.5"));
    assert_eq!(mapped.update.action_text.as_deref(), Some("true"));
}

#[test]
fn an_object_or_array_where_a_string_is_wanted_is_an_error() {
    let mut document = photo_payload();
    document["data"]["product"] = json!({ "name": "Photos" });
    let error = failure(&photo(), document.clone());
    assert_eq!(error.field, "title");
    assert_eq!(
        error.reason,
        "`/data/product` holds an object, not a string, number or boolean"
    );
    document["data"]["product"] = json!("Photos");
    document["data"]["photographer"] = json!(["Ada"]);
    let error = failure(&photo(), document);
    assert_eq!(error.field, "metadata.Photographer");
    assert!(error.reason.contains("holds an array"), "{}", error.reason);
}

#[test]
fn tenant_ids_are_whole_numbers_or_digits() {
    let mapper = with("tenant_id = \"/t\"");
    let tenant = |t: Value| mapper.map(&json!({ "orderId": ORDER, "t": t }));
    assert_eq!(tenant(json!(14)).unwrap().tenant_id, Some(14));
    assert_eq!(tenant(json!("0014")).unwrap().tenant_id, Some(14));
    assert_eq!(tenant(json!(0)).unwrap().tenant_id, Some(0));
    let too_big = "99999999999999999999";
    for bad in [
        json!("abc"),
        json!(-3),
        json!(1.5),
        json!(""),
        json!("+4"),
        json!(true),
        json!(too_big),
    ] {
        let error = tenant(bad.clone()).expect_err("not a tenant id");
        assert_eq!(error.field, "tenant_id", "{bad}");
        assert!(
            error.reason.contains("is not a tenant id"),
            "{}",
            error.reason
        );
    }
}

#[test]
fn a_state_from_a_pointer_must_be_settable() {
    let mapper = with("state = \"/s\"");
    let state = |s: &str| mapper.map(&json!({ "orderId": ORDER, "s": s }));
    assert_eq!(
        state("Completed").unwrap().update.state.as_deref(),
        Some("Completed")
    );
    let error = state("completed").unwrap_err();
    assert_eq!(error.field, "state");
    assert_eq!(
        error.reason,
        "`completed` at `/s` is not a state a vendor may set \
         (one of InProcess, Error, MissingInfo, Completed, Cancelled, Created, Activated)"
    );
    let long = "x".repeat(500);
    let error = state(&long).unwrap_err();
    assert!(
        error
            .reason
            .starts_with(&format!("`{}…` at `/s`", "x".repeat(49))),
        "{}",
        error.reason
    );
}

#[test]
fn metadata_keeps_the_configured_order_and_skips_lines_without_value() {
    let mapper =
        with("metadata = { \"Z last\" = \"/z\", \"A first\" = \"/a\", \"Middle\" = \"/m\" }");
    let document = json!({ "orderId": ORDER, "z": "26", "a": 1, "m": null });
    let mapped = mapper.map(&document).unwrap();
    assert_eq!(
        mapped.update.metadata,
        lines(&[("Z last", "26"), ("A first", "1")])
    );
    let mapped = mapper.map(&json!({ "orderId": ORDER, "m": null })).unwrap();
    assert_eq!(mapped.update.metadata, None);
}

#[test]
fn an_empty_flow_token_is_absent() {
    let mut document = photo_payload();
    document["data"]["flowToken"] = json!("");
    assert_eq!(photo().map(&document).unwrap().flow_token, None);
}

#[test]
fn strings_are_cut_to_the_limit_in_scalar_values() {
    let mapper = mapper(
        "order_id = \"/o\"\nstatus = \"/s\"\ntitle = \"/t\"\naction_text = \"/a\"\n\
         flow_url = \"/u\"\nevent_id = \"/e\"\nmetadata = { \"Kéy\" = \"/m\", \"Long key\" = \"/m\" }",
        5,
    );
    let document = json!({
        "o": ORDER, "s": "ééééé", "t": "abcdef", "a": "éééééé", "m": "12345678",
        "u": "https://long.example", "e": "event-123456",
    });
    let mapped = mapper.map(&document).unwrap();
    assert_eq!(mapped.update.status.as_deref(), Some("ééééé"));
    assert_eq!(mapped.update.title.as_deref(), Some("abcd…"));
    assert_eq!(mapped.update.action_text.as_deref(), Some("éééé…"));
    assert_eq!(
        mapped.update.metadata,
        lines(&[("Kéy", "1234…"), ("Long…", "1234…")])
    );
    assert_eq!(mapped.truncated, ["title", "action_text", "metadata"]);
    assert_eq!(mapped.flow_url.as_deref(), Some("https://long.example"));
    assert_eq!(mapped.event_id.as_deref(), Some("event-123456"));
    let short = json!({ "o": ORDER, "s": "12345", "m": "é" });
    assert_eq!(mapper.map(&short).unwrap().truncated, ["metadata"]);
}

#[test]
fn the_canonical_envelope_maps_with_list_metadata() {
    let document = json!({
        "id": "evt_9", "orderId": format!("{{{}}}", ORDER.to_uppercase()),
        "flowUrl": "https://flow.example", "tenantId": "14", "flowToken": "tok",
        "state": "Completed", "status": "Done", "title": "Photos", "actionText": "Open",
        "metadata": [{ "key": "Z", "value": "1" }, { "key": "A", "value": "2" }],
    });
    let expected = Mapped {
        event_id: Some("evt_9".into()),
        order_id: Uuid::parse_str(ORDER).unwrap(),
        flow_url: Some("https://flow.example".into()),
        tenant_id: Some(14),
        flow_token: Some("tok".into()),
        update: OrderUpdate {
            state: Some("Completed".into()),
            status: Some("Done".into()),
            title: Some("Photos".into()),
            action_text: Some("Open".into()),
            metadata: lines(&[("Z", "1"), ("A", "2")]),
        },
        truncated: vec![],
    };
    assert_eq!(Mapper::canonical(255).map(&document).unwrap(), expected);
    assert_eq!(Mapper::canonical(255).state_default(), None);
}

#[test]
fn the_canonical_envelope_maps_object_metadata_and_cuts_it() {
    // Keys written in alphabetical order: serde_json (without `preserve_order`) iterates so.
    let document = json!({ "orderId": ORDER, "metadata": { "Alpha": "1", "Beta": "long value" } });
    let mapped = Mapper::canonical(5).map(&document).unwrap();
    assert_eq!(
        mapped.update.metadata,
        lines(&[("Alpha", "1"), ("Beta", "long…")])
    );
    assert_eq!(mapped.truncated, ["metadata"]);
    let empty = json!({ "orderId": ORDER, "metadata": [] });
    assert_eq!(
        Mapper::canonical(5).map(&empty).unwrap().update.metadata,
        None
    );
}

#[test]
fn canonical_errors_name_the_envelope_member() {
    let canonical = Mapper::canonical(255);
    let cases = [
        (json!({ "title": "x" }), "orderId"),
        (json!({ "orderId": "nope" }), "orderId"),
        (json!({ "orderId": ORDER, "tenantId": "x1" }), "tenantId"),
        (json!({ "orderId": ORDER, "state": "Done" }), "state"),
        (json!({ "orderId": ORDER, "actionText": [1] }), "actionText"),
        (
            json!({ "orderId": ORDER, "metadata": [{ "value": "v" }] }),
            "metadata",
        ),
        (json!({ "orderId": ORDER, "metadata": "text" }), "metadata"),
    ];
    for (document, field) in cases {
        assert_eq!(failure(&canonical, document).field, field);
    }
}

#[test]
fn pointers_find_what_serde_json_finds() {
    let document = json!({ "a/b": { "~c": 1 }, "items": [10, 20], "": { "": 3 } });
    for text in [
        "",
        "/a~1b/~0c",
        "/items/1",
        "/items/01",
        "/items/+1",
        "/items/9",
        "/",
        "//",
        "x",
    ] {
        assert_eq!(
            Pointer::new(text).find(&document),
            document.pointer(text),
            "{text:?}"
        );
    }
}

#[test]
fn errors_render_field_then_reason() {
    let error = MappingError::new("order_id", "no value at `/x`".to_owned());
    assert_eq!(error.to_string(), "order_id: no value at `/x`");
}

proptest! {
    /// Never longer than the limit; a string within it comes back as it was.
    #[test]
    fn cutting_keeps_within_the_limit(text in "\\PC{0,40}", max in 1usize..30) {
        let count = text.chars().count();
        match cut(&text, max) {
            None => prop_assert!(count <= max),
            Some(short) => {
                prop_assert!(count > max);
                prop_assert_eq!(short.chars().count(), max);
                prop_assert!(short.ends_with(ELLIPSIS));
                prop_assert!(text.starts_with(&short[..short.len() - ELLIPSIS.len_utf8()]));
            }
        }
    }
}
