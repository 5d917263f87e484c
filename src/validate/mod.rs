//! JSON Schema validation: every vendor's schemas compiled once at start-up (a broken schema
//! stops start-up naming its file), then each payload checked with every violation reported.
//! `body.rs` holds what a body must be before that: declared JSON, within its caps, parseable.
//! A payload that passes is also compared with a vendor's shadow schema and with what its schema
//! declares (`declared.rs`), and `drift.rs` remembers the undeclared pointers seen.

mod body;
mod declared;
mod drift;

pub use body::{
    BodyError, MediaTypeError, ParseError, is_json_media_type, nesting_depth, parse_json,
};
pub use declared::{DeclaredFields, MAX_UNDECLARED};
pub use drift::{Drift, DriftPointer, MAX_POINTERS};

use std::path::Path;
use std::sync::{Arc, LazyLock};

use jsonschema::Validator;
use serde_json::Value;

/// The canonical envelope, built into the binary so a canonical vendor works from any directory.
pub const CANONICAL_SCHEMA: &str = include_str!("../../schemas/flow-order-update.schema.json");
const CANONICAL_NAME: &str = "schemas/flow-order-update.schema.json";

/// At most this many violations are listed; a document that breaks more is broken enough.
const MAX_VIOLATIONS: usize = 100;
/// Violation messages quote the offending value; a long one is cut.
const MAX_MESSAGE_CHARS: usize = 300;

/// One broken rule: where in the posted payload, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
}

/// 422 `schema-violation`: every rule the payload breaks.
#[derive(Debug, thiserror::Error)]
#[error("The payload breaks {} rule(s) of its schema.", .0.len())]
pub struct SchemaViolations(pub Vec<Violation>);

/// A vendor's schemas in the order they apply: its own (if any), then the canonical envelope
/// when the vendor has no map; and beside them, what only observes: its shadow schema and what
/// its schema declares.
pub struct VendorSchemas {
    validators: Vec<Arc<Validator>>,
    shadow: Option<Arc<Validator>>,
    declared: Option<Arc<DeclaredFields>>,
}

impl VendorSchemas {
    pub fn new(vendor_schema: Option<Arc<Validator>>, canonical: Option<Arc<Validator>>) -> Self {
        Self {
            validators: vendor_schema.into_iter().chain(canonical).collect(),
            shadow: None,
            declared: None,
        }
    }

    /// With a shadow schema, which every payload the live ones accept is checked against too.
    pub fn with_shadow(mut self, shadow: Option<Arc<Validator>>) -> Self {
        self.shadow = shadow;
        self
    }

    /// With what the payload's schema declares, to find the properties it does not.
    pub fn with_declared(mut self, declared: Option<Arc<DeclaredFields>>) -> Self {
        self.declared = declared;
        self
    }

    /// Every violation of the first schema the document breaks; empty when it is valid.
    pub fn violations(&self, document: &Value) -> Vec<Violation> {
        for validator in &self.validators {
            if !validator.is_valid(document) {
                return violations_of(validator, document, |e| e.to_string());
            }
        }
        Vec::new()
    }

    /// Whether there is a shadow schema to compare with.
    pub fn has_shadow(&self) -> bool {
        self.shadow.is_some()
    }

    /// Every violation of the shadow schema (for a document the live ones accepted), its
    /// message without the payload's values (it is only logged); empty when it passes or there
    /// is no shadow schema.
    pub fn shadow_violations(&self, document: &Value) -> Vec<Violation> {
        match &self.shadow {
            Some(shadow) if !shadow.is_valid(document) => {
                violations_of(shadow, document, |e| e.masked().to_string())
            }
            _ => Vec::new(),
        }
    }

    /// The pointers of the properties in `document` its schema does not declare
    /// ([`DeclaredFields::undeclared`]).
    pub fn undeclared(&self, document: &Value) -> Vec<String> {
        self.declared
            .as_ref()
            .map(|declared| declared.undeclared(document))
            .unwrap_or_default()
    }

    /// Every violation in `document`, as an error (also what `flowgate map` validates with).
    pub fn check(&self, document: &Value) -> Result<(), SchemaViolations> {
        let violations = self.violations(document);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(SchemaViolations(violations))
        }
    }
}

fn violations_of(
    validator: &Validator,
    document: &Value,
    message: impl Fn(&jsonschema::ValidationError<'_>) -> String,
) -> Vec<Violation> {
    validator
        .iter_errors(document)
        .take(MAX_VIOLATIONS)
        .map(|error| Violation {
            pointer: error.instance_path().to_string(),
            message: truncate(message(&error)),
        })
        .collect()
}

fn truncate(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// Compiles the built-in canonical schema.
pub fn compile_canonical() -> Result<Validator, String> {
    let schema =
        serde_json::from_str(CANONICAL_SCHEMA).map_err(|e| format!("{CANONICAL_NAME}: {e}"))?;
    compile(&schema).map_err(|e| format!("{CANONICAL_NAME}: {e}"))
}

/// What the canonical envelope declares, read once.
pub fn canonical_declared() -> Arc<DeclaredFields> {
    static DECLARED: LazyLock<Arc<DeclaredFields>> = LazyLock::new(|| {
        let schema = serde_json::from_str(CANONICAL_SCHEMA).unwrap_or(Value::Bool(true));
        Arc::new(DeclaredFields::from_schema(&schema))
    });
    DECLARED.clone()
}

/// Reads and compiles a schema file; the error names the file. The schema document comes back
/// too, for the mapping checks.
pub fn compile_file(path: &Path) -> Result<(Value, Validator), String> {
    let named = |e: String| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let schema: Value =
        serde_json::from_str(&text).map_err(|e| named(format!("not valid JSON: {e}")))?;
    let validator = compile(&schema).map_err(named)?;
    Ok((schema, validator))
}

fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| format!("not a valid JSON Schema: {e}"))
}

/// Whether `pointer` can find a value in some document `schema` accepts. Only what the schema
/// declares can rule a pointer out: a step into an object whose `properties` are listed (with no
/// `additionalProperties` or `patternProperties` to let others in), or into a non-array.
pub fn reachable(schema: &Value, pointer: &str) -> bool {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    reachable_from(schema, schema, &tokens, 0)
}

/// Deep enough for any real schema; a `$ref` cycle stops here rather than looping.
const MAX_SCHEMA_DEPTH: usize = 64;

fn reachable_from(root: &Value, node: &Value, tokens: &[String], depth: usize) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return true;
    };
    let Value::Object(node) = node else {
        return node != &Value::Bool(false);
    };
    if depth > MAX_SCHEMA_DEPTH {
        return true;
    }
    if let Some(Value::String(reference)) = node.get("$ref") {
        let target = reference.strip_prefix('#').and_then(|p| root.pointer(p));
        return target.is_none_or(|target| reachable_from(root, target, tokens, depth + 1));
    }
    let branches = ["allOf", "anyOf", "oneOf"]
        .iter()
        .filter_map(|k| node.get(*k)?.as_array());
    let mut branches = branches.flatten().peekable();
    if branches.peek().is_some() && !branches.any(|b| reachable_from(root, b, tokens, depth + 1)) {
        return false;
    }
    if let Some(next) = node.get("properties").and_then(|p| p.get(token.as_str())) {
        return reachable_from(root, next, rest, depth + 1);
    }
    let is_index = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if let Some(items) = node.get("items").filter(|_| is_index) {
        return reachable_from(root, items, rest, depth + 1);
    }
    let declares_properties = node.contains_key("properties");
    let others_allowed = node.contains_key("patternProperties")
        || node
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false));
    let only_arrays = node.get("type").is_some_and(|t| t == "array") && !is_index;
    let closed_object = declares_properties && !others_allowed;
    !closed_object && !only_arrays
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical() -> VendorSchemas {
        VendorSchemas::new(
            None,
            Some(Arc::new(
                compile_canonical().expect("canonical schema compiles"),
            )),
        )
    }

    #[test]
    fn canonical_envelope_accepts_a_full_update() {
        let update = json!({
            "id": "evt-1", "orderId": "9F0C8F0E-3C1B-4D59-A7B5-2B0B6C1D2E3F",
            "flowUrl": "https://em1.webtopsolutions.com/flow", "tenantId": "14",
            "flowToken": "tok", "state": "Completed", "status": "Delivered",
            "title": "Photos", "actionText": "Open", "metadata": [{"key": "Photographer", "value": "Ann"}]
        });
        assert_eq!(canonical().violations(&update), vec![]);
        let object_metadata =
            json!({"orderId": "9f0c8f0e3c1b4d59a7b52b0b6c1d2e3f", "metadata": {"a": "b"}});
        assert_eq!(canonical().violations(&object_metadata), vec![]);
    }

    #[test]
    fn canonical_envelope_lists_every_violation_with_its_pointer() {
        let update = json!({"orderId": "not-a-guid", "state": "CreatedNotSent", "colour": "red"});
        let pointers: Vec<String> = canonical()
            .violations(&update)
            .into_iter()
            .map(|v| v.pointer)
            .collect();
        assert!(pointers.contains(&"/orderId".to_owned()), "{pointers:?}");
        assert!(pointers.contains(&"/state".to_owned()), "{pointers:?}");
        assert!(
            pointers.contains(&String::new()),
            "additionalProperties is reported at the root: {pointers:?}"
        );
    }

    #[test]
    fn canonical_envelope_needs_something_to_say() {
        let violations =
            canonical().violations(&json!({"orderId": "9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f"}));
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].pointer, "");
    }

    #[test]
    fn unknown_and_unset_states_are_rejected() {
        for state in ["Unknown", "CreatedNotSent", "completed"] {
            let update = json!({"orderId": "9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f", "state": state});
            assert_eq!(
                canonical().violations(&update)[0].pointer,
                "/state",
                "{state}"
            );
        }
    }

    #[test]
    fn broken_schemas_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("broken.schema.json");
        std::fs::write(&path, r#"{"type": "no-such-type"}"#).expect("write");
        let error = compile_file(&path).err().unwrap_or_default();
        assert!(error.contains("broken.schema.json"), "{error}");
        std::fs::write(&path, "{not json").expect("write");
        assert!(
            compile_file(&path)
                .err()
                .unwrap_or_default()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn pointers_are_reachable_only_where_the_schema_allows() {
        let schema = json!({
            "type": "object",
            "properties": {
                "data": {"$ref": "#/$defs/data"},
                "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {}}}},
                "open": {"type": "object"},
                "either": {"anyOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]}
            },
            "$defs": {"data": {"type": "object", "properties": {"orderId": {}}, "additionalProperties": false}}
        });
        for pointer in [
            "",
            "/data/orderId",
            "/items/0/sku",
            "/open/anything/deeper",
            "/either/b",
        ] {
            assert!(reachable(&schema, pointer), "{pointer} is reachable");
        }
        for pointer in [
            "/nope",
            "/data/orderid",
            "/items/first",
            "/items/0/colour",
            "/either/c",
        ] {
            assert!(!reachable(&schema, pointer), "{pointer} is not reachable");
        }
    }

    #[test]
    fn the_example_vendor_schema_reaches_every_mapped_field() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/vendors/example-photo.schema.json"
        );
        let (schema, _) = compile_file(Path::new(path)).expect("compiles");
        for pointer in [
            "/id",
            "/type",
            "/data/orderId",
            "/data/flowToken",
            "/data/shootDate",
        ] {
            assert!(reachable(&schema, pointer), "{pointer}");
        }
    }
}
