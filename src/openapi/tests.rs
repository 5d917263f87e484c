use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::*;

fn repository_config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    Config::load_with_env(&path, []).expect("the repository's config.toml loads")
}

fn config(vendors: &str) -> Config {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[tenants.t]\nbase_url = \"https://t.example/flow\"\ntenant_id = 1\n\
         auth = {{ kind = \"bearer\", token_env = \"FLOWGATE_UNIT_UNSET\" }}\n{vendors}"
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    Config::load_with_env(&path, []).expect("loads")
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.insert(target.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[test]
fn every_reference_names_a_component() {
    let config = repository_config();
    let documents = [
        document(&config).expect("the document"),
        vendor_document(&config, "example-photo").expect("a vendor's"),
        vendor_document(&config, "demo").expect("a vendor's"),
    ];
    for document in documents {
        let mut found = BTreeSet::new();
        references(&document, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.trim_start_matches('#');
            assert!(document.pointer(pointer).is_some(), "{target} is missing");
        }
    }
}

#[test]
fn each_problem_answer_lists_the_codes_of_its_status() {
    let answers = problem_answers(Code::ALL);
    for (status, answer) in answers {
        let codes = &answer["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]
            ["code"]["enum"];
        for code in codes.as_array().expect("codes") {
            let code = Code::ALL
                .iter()
                .find(|c| c.as_str() == code)
                .expect("a code");
            assert_eq!(code.status().as_u16().to_string(), status);
        }
    }
    let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), Code::ALL.len(), "no code listed twice");
}

#[test]
fn a_custom_hmac_vendor_shows_its_own_headers() {
    let config = config(
        "[vendors.shop]\nverify = { scheme = \"hmac\", header = \"X-Shop-Mac\", encoding = \"base64\", \
         prefix = \"mac=\", timestamp_header = \"X-Shop-Time\", signed = \"{timestamp}.{body}\", \
         secrets = [\"shop-unit-secret\"] }\ntenant = \"t\"\n",
    );
    let document = vendor_document(&config, "shop").expect("the document");
    let text = document.to_string();
    assert!(!text.contains("shop-unit-secret"));
    let parameters = &document["paths"]["/webhooks/shop"]["post"]["parameters"];
    assert_eq!(parameters[0]["name"], "X-Shop-Mac");
    let description = parameters[0]["description"]
        .as_str()
        .expect("a description");
    assert!(
        description.contains("`mac=`") && description.contains("base64"),
        "{description}"
    );
    assert_eq!(parameters[1]["name"], "X-Shop-Time");
    assert!(matches!(
        vendor_document(&config, "nobody"),
        Err(OpenApiError::UnknownVendor(_))
    ));
}
