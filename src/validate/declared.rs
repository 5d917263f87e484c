//! What a schema declares, per place in a payload: the property names it lists for each object
//! and the shape of each array's items, read once from the schema document when a vendor is
//! built, so finding a payload's undeclared properties (drift) is one walk of the payload with
//! no schema in sight. What cannot be resolved simply declares everything: drift is never
//! reported falsely, only missed.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Deep enough for any real schema; deeper parts declare everything.
const MAX_SCHEMA_DEPTH: usize = 64;
/// At most this many undeclared pointers are taken from one payload.
pub const MAX_UNDECLARED: usize = 100;
/// A longer pointer is cut (an undeclared name is the vendor's to choose).
const MAX_POINTER_CHARS: usize = 300;

/// Keywords that say which names or items a place may hold. A combinator branch without any of
/// them (one that only adds `required`, say) declares nothing, so it is safe to pass over.
const STRUCTURAL: [&str; 14] = [
    "properties",
    "additionalProperties",
    "patternProperties",
    "unevaluatedProperties",
    "items",
    "prefixItems",
    "additionalItems",
    "$ref",
    "$dynamicRef",
    "allOf",
    "anyOf",
    "oneOf",
    "if",
    "dependentSchemas",
];
/// Keywords whose effect on names is not followed: a place using them declares everything.
const UNFOLLOWED: [&str; 6] = [
    "patternProperties",
    "unevaluatedProperties",
    "$dynamicRef",
    "if",
    "dependentSchemas",
    "dependencies",
];

type NodeId = usize;
/// The node that declares everything: nothing below it is walked.
const OPEN: NodeId = 0;

/// The property names a schema declares, as a graph of places (a `$ref` is one node however
/// often it is used, so recursive schemas stay finite).
#[derive(Debug)]
pub struct DeclaredFields {
    nodes: Vec<Node>,
    root: NodeId,
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// The names it lists, and what each one's value declares.
    properties: HashMap<String, NodeId>,
    /// What a name it does not list is.
    others: Others,
    /// Array items by position (`prefixItems`), then the rest (`items`).
    prefix: Vec<NodeId>,
    items: Option<NodeId>,
}

#[derive(Debug, Default, Clone, Copy)]
enum Others {
    /// Allowed but not declared: drift.
    Undeclared,
    /// Declared by a schema for every other name (`additionalProperties: {…}`).
    Follow(NodeId),
    /// Not looked at: no `properties` listed, or refused by the live schema anyway.
    #[default]
    Unchecked,
}

impl DeclaredFields {
    /// Reads what `schema` declares.
    pub fn from_schema(schema: &Value) -> DeclaredFields {
        let mut builder = Builder {
            root: schema,
            nodes: vec![Node::default()],
            refs: HashMap::new(),
        };
        let root = builder.node(schema, 0);
        DeclaredFields {
            nodes: builder.nodes,
            root,
        }
    }

    /// The pointers of the properties in `document` its schema does not declare, array
    /// indexes written `*`, each once, at most [`MAX_UNDECLARED`]; below an undeclared
    /// property nothing more is reported.
    pub fn undeclared(&self, document: &Value) -> Vec<String> {
        let mut found = Vec::new();
        if self.root != OPEN {
            self.walk(document, self.root, &mut String::new(), &mut found);
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    fn walk(&self, value: &Value, id: NodeId, pointer: &mut String, found: &mut Vec<String>) {
        let node = &self.nodes[id];
        match value {
            Value::Object(object) => {
                for (name, value) in object {
                    let next = match node.properties.get(name) {
                        Some(next) => *next,
                        None => match node.others {
                            Others::Follow(next) => next,
                            Others::Unchecked => OPEN,
                            Others::Undeclared => {
                                if found.len() < MAX_UNDECLARED {
                                    found.push(cut(format!("{pointer}/{}", escape(name))));
                                }
                                OPEN
                            }
                        },
                    };
                    if next != OPEN && found.len() < MAX_UNDECLARED {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&escape(name));
                        self.walk(value, next, pointer, found);
                        pointer.truncate(len);
                    }
                }
            }
            Value::Array(items) => {
                for (index, value) in items.iter().enumerate() {
                    let next = node.prefix.get(index).copied().or(node.items);
                    if let Some(next) = next.filter(|n| *n != OPEN) {
                        let len = pointer.len();
                        pointer.push_str("/*");
                        self.walk(value, next, pointer, found);
                        pointer.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }
}

fn escape(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains(['~', '/']) {
        name.replace('~', "~0").replace('/', "~1").into()
    } else {
        name.into()
    }
}

fn cut(mut pointer: String) -> String {
    if let Some((at, _)) = pointer.char_indices().nth(MAX_POINTER_CHARS) {
        pointer.truncate(at);
        pointer.push('…');
    }
    pointer
}

struct Builder<'a> {
    root: &'a Value,
    nodes: Vec<Node>,
    /// The node of each `$ref` target already read (or being read).
    refs: HashMap<&'a str, NodeId>,
}

impl<'a> Builder<'a> {
    fn node(&mut self, schema: &'a Value, depth: usize) -> NodeId {
        let Value::Object(schema) = schema else {
            return OPEN;
        };
        if depth > MAX_SCHEMA_DEPTH || UNFOLLOWED.iter().any(|k| schema.contains_key(*k)) {
            return OPEN;
        }
        let combined = ["allOf", "anyOf", "oneOf"]
            .iter()
            .filter_map(|k| schema.get(*k)?.as_array())
            .flatten();
        if combined.clone().any(is_structural) {
            return OPEN;
        }
        if let Some(reference) = schema.get("$ref") {
            return self.reference(reference, schema, depth);
        }
        let id = self.push();
        let mut node = Node::default();
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, value) in properties {
                let child = self.node(value, depth + 1);
                node.properties.insert(name.clone(), child);
            }
        }
        node.others = match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => Others::Unchecked,
            Some(other @ Value::Object(rules)) if !rules.is_empty() => {
                Others::Follow(self.node(other, depth + 1))
            }
            _ if schema.contains_key("properties") => Others::Undeclared,
            _ => Others::Unchecked,
        };
        self.items(schema, &mut node, depth);
        self.nodes[id] = node;
        id
    }

    /// `items` (a schema, or a draft-7 tuple with `additionalItems`) and `prefixItems`.
    fn items(&mut self, schema: &'a Map<String, Value>, node: &mut Node, depth: usize) {
        let tuple = match (schema.get("prefixItems"), schema.get("items")) {
            (Some(Value::Array(prefix)), _) => Some(prefix),
            (None, Some(Value::Array(tuple))) => Some(tuple),
            _ => None,
        };
        for item in tuple.into_iter().flatten() {
            let child = self.node(item, depth + 1);
            node.prefix.push(child);
        }
        let rest = match schema.get("items") {
            Some(Value::Array(_)) => schema.get("additionalItems"),
            rest => rest,
        };
        node.items = rest.map(|rest| self.node(rest, depth + 1));
    }

    /// A local `$ref` alone (beside annotations) is followed; anything else declares everything.
    fn reference(
        &mut self,
        reference: &'a Value,
        schema: &Map<String, Value>,
        depth: usize,
    ) -> NodeId {
        let beside = schema
            .keys()
            .any(|k| k != "$ref" && STRUCTURAL.contains(&k.as_str()));
        let Some(path) = reference.as_str().and_then(|r| r.strip_prefix('#')) else {
            return OPEN;
        };
        if beside {
            return OPEN;
        }
        if let Some(id) = self.refs.get(path) {
            return *id;
        }
        let Some(target) = self.root.pointer(path) else {
            return OPEN;
        };
        // Reserved before it is read, so a cycle back to it ends here.
        let id = self.push();
        self.refs.insert(path, id);
        let built = self.node(target, depth + 1);
        // Nodes point at each other by id, so a copy declares what the original does.
        self.nodes[id] = self.nodes[built].clone();
        id
    }

    fn push(&mut self) -> NodeId {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }
}

fn is_structural(branch: &Value) -> bool {
    match branch {
        Value::Object(branch) => STRUCTURAL.iter().any(|k| branch.contains_key(*k)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn undeclared(schema: Value, document: Value) -> Vec<String> {
        DeclaredFields::from_schema(&schema).undeclared(&document)
    }

    #[test]
    fn nested_objects_report_each_undeclared_property_once_at_its_top() {
        let schema = json!({
            "type": "object",
            "properties": {"id": {}, "data": {"type": "object", "properties": {"orderId": {}}}}
        });
        let document = json!({
            "id": "e1", "extra": {"deep": 1},
            "data": {"orderId": "o", "colour": "red", "size": {"w": 1}}
        });
        assert_eq!(
            undeclared(schema, document),
            ["/data/colour", "/data/size", "/extra"]
        );
    }

    #[test]
    fn array_indexes_are_stars() {
        let schema = json!({
            "properties": {"data": {"properties": {"items": {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {}}}
            }}}}
        });
        let document = json!({"data": {"items": [
            {"sku": "a", "colour": "red"}, {"sku": "b", "colour": "blue"}, {"sku": "c"}
        ]}});
        assert_eq!(undeclared(schema, document), ["/data/items/*/colour"]);
        let tuple = json!({
            "properties": {"pair": {"prefixItems": [{"properties": {"a": {}}}], "items": false}}
        });
        let document = json!({"pair": [{"a": 1, "b": 2}, {"c": 3}]});
        assert_eq!(undeclared(tuple, document), ["/pair/*/b"]);
    }

    #[test]
    fn a_closed_object_reports_nothing_but_its_declared_children_are_walked() {
        let schema = json!({
            "properties": {"data": {"properties": {"inner": {"properties": {"a": {}}}}}},
            "additionalProperties": false
        });
        let document = json!({"refused": 1, "data": {"inner": {"a": 1, "b": 2}}});
        assert_eq!(undeclared(schema, document), ["/data/inner/b"]);
    }

    #[test]
    fn an_object_without_listed_properties_or_with_a_schema_for_others_declares_them() {
        let schema = json!({"properties": {
            "open": {"type": "object"},
            "labels": {"additionalProperties": {"properties": {"text": {}}}}
        }});
        let document = json!({
            "open": {"anything": 1},
            "labels": {"en": {"text": "a"}, "de": {"text": "b", "tone": "dry"}}
        });
        assert_eq!(undeclared(schema, document), ["/labels/de/tone"]);
    }

    #[test]
    fn local_refs_are_followed_even_when_recursive() {
        let schema = json!({
            "properties": {"data": {"$ref": "#/$defs/data"}, "tree": {"$ref": "#/definitions/node"}},
            "$defs": {"data": {"properties": {"orderId": {}}}},
            "definitions": {"node": {"properties": {"name": {}, "children": {
                "type": "array", "items": {"$ref": "#/definitions/node"}
            }}}}
        });
        let document = json!({
            "data": {"orderId": "o", "colour": "red"},
            "tree": {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "age": 3}]}]}
        });
        assert_eq!(
            undeclared(schema, document),
            ["/data/colour", "/tree/children/*/children/*/age"]
        );
    }

    #[test]
    fn what_is_not_followed_declares_everything() {
        let schema = json!({"properties": {
            "patterned": {"properties": {"a": {}}, "patternProperties": {"^x-": {}}},
            "either": {"anyOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]},
            "remote": {"$ref": "https://example.com/schema.json"},
            "conditional": {"properties": {"a": {}}, "if": {"required": ["a"]}, "then": {}}
        }});
        let document = json!({
            "patterned": {"a": 1, "x-b": 2, "c": 3},
            "either": {"a": 1, "c": 3},
            "remote": {"c": 3},
            "conditional": {"a": 1, "c": 3}
        });
        assert_eq!(undeclared(schema, document), Vec::<String>::new());
    }

    #[test]
    fn combinators_that_only_require_are_passed_over() {
        let schema = json!({
            "properties": {"a": {}, "b": {}},
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}]
        });
        assert_eq!(undeclared(schema, json!({"a": 1, "c": 2})), ["/c"]);
    }

    #[test]
    fn names_are_escaped_and_one_payload_reports_at_most_its_cap() {
        let schema = json!({"properties": {"a": {}}});
        assert_eq!(
            undeclared(schema.clone(), json!({"x/y~z": 1})),
            ["/x~1y~0z"]
        );
        let many: Map<String, Value> = (0..500).map(|i| (format!("f{i:03}"), json!(i))).collect();
        assert_eq!(
            undeclared(schema, Value::Object(many)).len(),
            MAX_UNDECLARED
        );
    }

    #[test]
    fn the_canonical_envelope_is_closed_so_reports_nothing() {
        let schema: Value = serde_json::from_str(crate::validate::CANONICAL_SCHEMA).expect("json");
        let document = json!({"orderId": "x", "state": "Completed", "colour": "red",
            "metadata": [{"key": "a", "value": "b", "extra": 1}]});
        assert_eq!(undeclared(schema, document), Vec::<String>::new());
    }
}
