//! `tools` read once for the providers that send a function's `parameters` as they are
//! (`anthropic::request`'s `input_schema`, `bedrock::request`'s `inputSchema.json`): each
//! element's members as trees but for `function.parameters`, which stays the client's text
//! ([`Schema::Client`]), so its bytes and key order reach the provider as sent. Gemini
//! converts its schemas (`gemini::schema`) and reads `params::tools`.

use std::fmt;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::bad;
use crate::error::Error;
use crate::parse::{Fields, Member};

/// A function's input schema: the client's text, or one the translation wrote.
#[derive(Debug)]
pub enum Schema {
    Client(Box<RawValue>),
    Tree(Value),
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        match self {
            Schema::Client(raw) => raw.serialize(out),
            Schema::Tree(tree) => tree.serialize(out),
        }
    }
}

/// One of `tools`: an object's members (`function` typed), or another value as it came.
#[derive(Debug)]
pub enum Listed {
    Object { members: Map<String, Value>, function: Option<Function> },
    Other(Value),
}

/// A tool's `function`: `name` and `description` as trees (`None` when absent), the
/// `parameters` as the client's text, its other members kept; a `function` that is not an
/// object reads as empty, and is kept as it came.
#[derive(Debug, Default)]
pub struct Function {
    pub name: Option<Value>,
    pub description: Option<Value>,
    pub parameters: Option<Box<RawValue>>,
    rest: Map<String, Value>,
    not_an_object: Option<Value>,
}

impl Function {
    /// `parameters`, else the empty object schema.
    pub fn schema(&mut self) -> Schema {
        match self.parameters.take() {
            Some(raw) => Schema::Client(raw),
            None => Schema::Tree(json!({ "type": "object", "properties": {} })),
        }
    }
}

impl Listed {
    /// Whether it is an OpenAI function tool (`"type":"function"`).
    pub fn is_function(&self) -> bool {
        matches!(self, Listed::Object { members, .. } if members.get("type").and_then(Value::as_str) == Some("function"))
    }

    /// The tool as the tree it came as (for a tool passed to the provider as it is).
    pub fn into_tree(self) -> Value {
        let (mut members, function) = match self {
            Listed::Object { members, function } => (members, function),
            Listed::Other(tree) => return tree,
        };
        if let Some(function) = function {
            members.insert("function".into(), function.into_tree());
        }
        Value::Object(members)
    }
}

impl Function {
    fn into_tree(self) -> Value {
        if let Some(tree) = self.not_an_object {
            return tree;
        }
        let mut members = self.rest;
        let parameters = self.parameters.map(|raw| serde_json::from_str(raw.get()).unwrap_or_default());
        let known = [("name", self.name), ("description", self.description), ("parameters", parameters)];
        members.extend(known.into_iter().filter_map(|(key, value)| Some((key.to_owned(), value?))));
        Value::Object(members)
    }
}

/// `tools` taken out (empty when absent or null), each element read once; a 400 when not a
/// list of JSON.
pub fn take(fields: &mut Fields) -> Result<Vec<Listed>, Error> {
    let not_a_list = |_| bad("tools", "must be a list");
    match fields.remove("tools") {
        None => Ok(Vec::new()),
        Some(member) if member.is_null() => Ok(Vec::new()),
        Some(Member::Raw(raw)) => serde_json::from_slice(&raw).map_err(not_a_list),
        Some(built) => serde_json::from_value(built.into_value().map_err(not_a_list)?).map_err(not_a_list),
    }
}

/// Reads what a [`Listed`] element is: an object member by member, anything else a tree.
struct ListedVisitor;

impl<'de> Visitor<'de> for ListedVisitor {
    type Value = Listed;

    fn expecting(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("a tool")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listed, A::Error> {
        let (mut members, mut function) = (Map::new(), None);
        // A repeated key keeps its last value, as a tree does.
        while let Some(key) = map.next_key::<String>()? {
            if key == "function" {
                function = Some(map.next_value::<Function>()?);
            } else {
                members.insert(key, map.next_value()?);
            }
        }
        Ok(Listed::Object { members, function })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Listed, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Listed::Other)
    }
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Listed, E> {
        Ok(Listed::Other(Value::from(text)))
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Listed, E> {
        Ok(Listed::Other(Value::from(b)))
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Listed, E> {
        Ok(Listed::Other(Value::from(n)))
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Listed, E> {
        Ok(Listed::Other(Value::from(n)))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Listed, E> {
        Ok(Listed::Other(Value::from(n)))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Listed, E> {
        Ok(Listed::Other(Value::Null))
    }
}

impl<'de> Deserialize<'de> for Listed {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(ListedVisitor)
    }
}

/// Reads a [`Function`] member by member.
struct FunctionVisitor;

impl<'de> Visitor<'de> for FunctionVisitor {
    type Value = Function;

    fn expecting(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("a function")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Function, A::Error> {
        let mut function = Function::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => function.name = Some(map.next_value()?),
                "description" => function.description = Some(map.next_value()?),
                "parameters" => function.parameters = Some(map.next_value()?),
                _ => {
                    function.rest.insert(key, map.next_value()?);
                }
            }
        }
        Ok(function)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Function, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(kept)
    }
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Function, E> {
        Ok(kept(Value::from(text)))
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Function, E> {
        Ok(kept(Value::from(b)))
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Function, E> {
        Ok(kept(Value::from(n)))
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Function, E> {
        Ok(kept(Value::from(n)))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Function, E> {
        Ok(kept(Value::from(n)))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Function, E> {
        Ok(kept(Value::Null))
    }
}

/// A `function` that is not an object: empty, kept as it came.
fn kept(tree: Value) -> Function {
    Function { not_an_object: Some(tree), ..Function::default() }
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(FunctionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(body: &str) -> Result<Vec<Listed>, Error> {
        take(&mut Fields::parse(&bytes::Bytes::from(body.to_owned())).unwrap())
    }

    #[test]
    fn parameters_stay_the_clients_text_and_the_rest_reads_as_trees() {
        let mut tools = taken(
            r#"{"tools":[{"type":"function","cache_control":{"type":"ephemeral"},
                "function":{"name":"f","description":null,"parameters":{ "z" : 1, "a" : [true] },"strict":true}},
                {"type":"web_search"},"odd",{"function":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(tools.len(), 4);
        assert!(tools[0].is_function() && !tools[1].is_function());
        let Listed::Object { members, function: Some(function) } = &mut tools[0] else { panic!("{tools:?}") };
        assert_eq!(members.get("cache_control"), Some(&json!({ "type": "ephemeral" })));
        assert_eq!((function.name.clone(), function.description.clone()), (Some(json!("f")), Some(Value::Null)));
        assert_eq!(serde_json::to_string(&function.schema()).unwrap(), r#"{ "z" : 1, "a" : [true] }"#, "as sent");
        assert_eq!(serde_json::to_string(&function.schema()).unwrap(), r#"{"properties":{},"type":"object"}"#);
        assert!(matches!(&tools[2], Listed::Other(Value::String(s)) if s == "odd"));
        assert!(matches!(&tools[3], Listed::Object { function: Some(Function { name: None, .. }), .. }));
        let tree = tools.swap_remove(3).into_tree();
        assert_eq!(tree, json!({ "function": "x" }), "a tool passed as it is reads back as it came");
        assert!(taken(r#"{"tools":null}"#).unwrap().is_empty());
        assert!(taken(r#"{"tools":{}}"#).is_err());
    }
}
