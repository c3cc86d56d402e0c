//! JSON Schema → the OpenAPI-subset schema Gemini's function `parameters` and
//! `response_schema` take, pure: local `$ref`s inlined from `$defs` / `definitions` (within
//! a budget, so recursive or exploding definitions stay bounded), a `null` member of
//! `anyOf` or of a `type` list turned into `nullable`, and keywords Gemini refuses removed
//! (property names are kept, even ones spelled like a keyword). Used by `gemini::request`.

use serde_json::{Map, Value, json};

/// Keywords Gemini's schemas refuse; definitions go once their references are inlined.
const REFUSED: &[&str] = &["$schema", "$id", "$defs", "definitions", "additionalProperties", "strict"];
/// Most `$ref`s inlined in one schema; later ones become plain objects.
const MAX_REF_EXPANSIONS: usize = 256;

/// The schema Gemini takes for `schema`.
pub fn convert(schema: Value) -> Value {
    let defs = ["$defs", "definitions"]
        .iter()
        .find_map(|key| schema.get(*key).and_then(Value::as_object).cloned())
        .unwrap_or_default();
    let mut budget = MAX_REF_EXPANSIONS;
    clean(schema, &defs, &mut budget)
}

fn clean(value: Value, defs: &Map<String, Value>, budget: &mut usize) -> Value {
    let Value::Object(mut map) = value else { return value };
    if let Some(Value::String(reference)) = map.remove("$ref") {
        let name = reference.strip_prefix("#/$defs/").or_else(|| reference.strip_prefix("#/definitions/"));
        match name.and_then(|n| defs.get(n)) {
            Some(Value::Object(found)) if *budget > 0 => {
                *budget -= 1;
                let mut resolved = found.clone();
                // Keywords beside the `$ref` (a description) win over the definition's.
                resolved.extend(map);
                return clean(Value::Object(resolved), defs, budget);
            }
            _ => {
                map.entry("type").or_insert_with(|| json!("object"));
            }
        }
    }
    for key in REFUSED {
        map.remove(*key);
    }
    for (key, child) in &mut map {
        match (key.as_str(), child) {
            ("properties", Value::Object(named)) => {
                for schema in named.values_mut() {
                    *schema = clean(std::mem::take(schema), defs, budget);
                }
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(list)) => {
                for item in list.iter_mut() {
                    *item = clean(std::mem::take(item), defs, budget);
                }
            }
            ("items" | "not", child @ Value::Object(_)) => *child = clean(std::mem::take(child), defs, budget),
            _ => {}
        }
    }
    nullable_type(&mut map);
    nullable_any_of(&mut map);
    Value::Object(map)
}

/// `"type": ["string", "null"]` → `"type": "string", "nullable": true`.
fn nullable_type(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else { return };
    let kept: Vec<Value> = types.iter().filter(|t| t.as_str() != Some("null")).cloned().collect();
    if kept.len() < types.len() {
        map.insert("nullable".into(), Value::Bool(true));
    }
    if let [one] = kept.as_slice() {
        map.insert("type".into(), one.clone());
    } else {
        map.remove("type");
        map.insert("anyOf".into(), kept.into_iter().map(|t| json!({ "type": t })).collect());
    }
}

/// `anyOf: [X, {"type": "null"}]` → X with `nullable: true`.
fn nullable_any_of(map: &mut Map<String, Value>) {
    let Some(Value::Array(members)) = map.remove("anyOf") else { return };
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    let nullable = members.iter().any(is_null);
    let mut kept: Vec<Value> = members.into_iter().filter(|v| !is_null(v)).collect();
    if nullable {
        map.insert("nullable".into(), Value::Bool(true));
    }
    match kept.pop() {
        Some(Value::Object(only)) if kept.is_empty() && !map.contains_key("type") => {
            for (key, value) in only {
                map.entry(key).or_insert(value);
            }
        }
        Some(last) => {
            kept.push(last);
            map.insert("anyOf".into(), Value::Array(kept));
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pydantic_style_definitions_and_optionals_are_inlined() {
        let schema = json!({
            "$defs": { "City": { "type": "object", "properties": { "name": { "type": "string" } }, "additionalProperties": false } },
            "type": "object", "additionalProperties": false,
            "properties": {
                "home": { "$ref": "#/$defs/City", "description": "where" },
                "visited": { "type": "array", "items": { "$ref": "#/$defs/City" } },
                "note": { "anyOf": [{ "type": "string" }, { "type": "null" }], "default": null },
                "age": { "type": ["integer", "null"] },
                "additionalProperties": { "type": "string" },
            },
        });
        let city = json!({ "type": "object", "properties": { "name": { "type": "string" } } });
        let mut home = city.clone();
        home["description"] = json!("where");
        assert_eq!(
            convert(schema),
            json!({
                "type": "object",
                "properties": {
                    "home": home,
                    "visited": { "type": "array", "items": city },
                    "note": { "type": "string", "nullable": true, "default": null },
                    "age": { "type": "integer", "nullable": true },
                    "additionalProperties": { "type": "string" },
                },
            })
        );
    }

    #[test]
    fn recursive_definitions_stay_bounded() {
        let schema = json!({
            "$defs": { "Node": { "type": "object", "properties": { "next": { "$ref": "#/$defs/Node" } } } },
            "$ref": "#/$defs/Node",
        });
        let text = convert(schema).to_string();
        assert!(text.len() < 64 * 1024, "{} bytes", text.len());
        assert!(!text.contains("$ref"), "an unresolved reference becomes a plain object");
    }

    #[test]
    fn unions_of_several_types_stay_unions() {
        let got = convert(json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }, { "type": "null" }] }));
        assert_eq!(got, json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }], "nullable": true }));
    }
}
