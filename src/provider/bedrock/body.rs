//! The Converse request members the chat translation (`bedrock::request`) writes after
//! `messages`, typed: [`Head`] holds them and writes them in the order the request always
//! had (sorted), `inferenceConfig`, `toolConfig` and the typed content [`Block`]s (of
//! `system` here, of the turns in `bedrock::request`) from their structs, the client's own
//! JSON (schemas, config blocks, the model's fields) as it came. The body goes on to
//! `bedrock::forward` as an `Outgoing`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::provider::translate::block::{self, Long};
use crate::provider::translate::tools::Schema;
use crate::upstream::Builder;

/// The members after `messages`.
#[derive(Debug, Default)]
pub struct Head {
    /// `additionalModelRequestFields`: thinking, `top_k` and the model's own fields.
    pub additional: Map<String, Value>,
    /// `guardrailConfig`, `performanceConfig`, `promptVariables`, `requestMetadata` as the
    /// client gave them, in that (sorted) order.
    pub config: Vec<(&'static str, Value)>,
    pub inference: Inference,
    /// Text and cache-point blocks.
    pub system: Vec<Block>,
    pub tool_config: Option<ToolConfig>,
}

/// A content block of a message, a tool result or `system`: `{"<kind>":{…}}`, members in
/// key order (the order the tree it replaces wrote them).
#[derive(Debug, Serialize)]
pub enum Block {
    #[serde(rename = "text")]
    Text(Long),
    #[serde(rename = "image")]
    Image(Image),
    #[serde(rename = "document")]
    Document(Document),
    #[serde(rename = "cachePoint")]
    CachePoint(CachePoint),
    #[serde(rename = "toolUse")]
    ToolUse(ToolUse),
    #[serde(rename = "toolResult")]
    ToolResult(ToolResult),
}

#[derive(Debug, Serialize)]
pub struct Image {
    pub format: String,
    pub source: Source,
}

/// A `file` part, named `document-<n>` in the order the request holds them.
#[derive(Debug, Serialize)]
pub struct Document {
    pub format: String,
    pub name: String,
    pub source: Source,
}

/// An image's or document's base64 data.
#[derive(Debug, Serialize)]
pub struct Source {
    pub bytes: Long,
}

#[derive(Debug, Serialize)]
pub struct CachePoint {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ToolUse {
    pub input: Value,
    pub name: Value,
    #[serde(rename = "toolUseId")]
    pub tool_use_id: Value,
}

#[derive(Debug, Serialize)]
pub struct ToolResult {
    pub content: Vec<Block>,
    #[serde(rename = "toolUseId")]
    pub tool_use_id: Value,
}

impl block::Block for Block {
    fn each_long(&mut self, each: &mut impl FnMut(&mut Long)) {
        match self {
            Block::Text(text) => each(text),
            Block::Image(Image { source, .. }) | Block::Document(Document { source, .. }) => each(&mut source.bytes),
            Block::ToolResult(result) => {
                for inner in &mut result.content {
                    block::Block::each_long(inner, each);
                }
            }
            Block::CachePoint(_) | Block::ToolUse(_) => {}
        }
    }
}

/// `inferenceConfig`, always sent (empty when nothing is set).
#[derive(Debug, Default, Serialize)]
pub struct Inference {
    #[serde(rename = "maxTokens", skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<Value>,
    #[serde(rename = "stopSequences", skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Value>,
    #[serde(rename = "topP", skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Value>,
}

/// `toolConfig`.
#[derive(Debug, Serialize)]
pub struct ToolConfig {
    #[serde(rename = "toolChoice", skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    pub tools: Vec<Tool>,
}

/// An empty object, `{}`.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// `toolChoice`: `{"auto":{}}`, `{"any":{}}` or `{"tool":{"name":…}}`.
#[derive(Debug, Serialize)]
pub enum ToolChoice {
    #[serde(rename = "auto")]
    Auto(Empty),
    #[serde(rename = "any")]
    Any(Empty),
    #[serde(rename = "tool")]
    Tool { name: String },
}

/// One of `tools`: `{"toolSpec":{…}}`.
#[derive(Debug, Serialize)]
pub struct Tool {
    #[serde(rename = "toolSpec")]
    pub spec: ToolSpec,
}

#[derive(Debug, Serialize)]
pub struct ToolSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Value>,
    #[serde(rename = "inputSchema")]
    pub input_schema: InputSchema,
    pub name: Value,
}

/// `inputSchema`: the function's parameters as the client wrote them (its text), or the
/// schema a `response_format` gave.
#[derive(Debug, Serialize)]
pub struct InputSchema {
    pub json: Schema,
}

impl Tool {
    pub fn new(name: Value, description: Option<Value>, schema: Schema) -> Self {
        Tool { spec: ToolSpec { description, input_schema: InputSchema { json: schema }, name } }
    }
}

impl Head {
    /// Writes each member present as `,"key":value`, in key order.
    pub fn write(self, out: &mut Builder) {
        let member = |out: &mut Builder, key: &str| {
            out.bytes(b",");
            out.key(key);
        };
        if !self.additional.is_empty() {
            member(out, "additionalModelRequestFields");
            out.json(Value::Object(self.additional));
        }
        let (before, after): (Vec<_>, Vec<_>) = self.config.into_iter().partition(|(key, _)| *key < "inferenceConfig");
        for (key, value) in before {
            member(out, key);
            out.json(value);
        }
        member(out, "inferenceConfig");
        out.value(&self.inference);
        for (key, value) in after {
            member(out, key);
            out.json(value);
        }
        if !self.system.is_empty() {
            member(out, "system");
            block::write_list(self.system, out);
        }
        if let Some(config) = self.tool_config {
            member(out, "toolConfig");
            out.value(&config);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_are_written_sorted_as_the_tree_wrote_them() {
        let head = Head {
            additional: Map::from_iter([("top_k".to_owned(), json!(3))]),
            config: vec![("guardrailConfig", json!({ "g": 1 })), ("requestMetadata", json!({ "k": "v" }))],
            inference: Inference { max_tokens: Some(json!(9)), top_p: Some(json!(0.5)), ..Inference::default() },
            system: vec![Block::Text(Long::from("s".to_owned()))],
            tool_config: Some(ToolConfig {
                tool_choice: Some(ToolChoice::Any(Empty {})),
                tools: vec![Tool::new(json!("f"), None, Schema::Tree(json!({ "type": "object" })))],
            }),
        };
        let want = json!({
            "additionalModelRequestFields": { "top_k": 3 }, "guardrailConfig": { "g": 1 },
            "inferenceConfig": { "maxTokens": 9, "topP": 0.5 }, "requestMetadata": { "k": "v" },
            "system": [{ "text": "s" }],
            "toolConfig": { "toolChoice": { "any": {} },
                "tools": [{ "toolSpec": { "name": "f", "inputSchema": { "json": { "type": "object" } } } }] },
        });
        let mut out = Builder::default();
        head.write(&mut out);
        let written = String::from_utf8(out.into_vec()).unwrap();
        assert_eq!(format!("{{{}}}", &written[1..]), serde_json::to_string(&want).unwrap());
        let mut out = Builder::default();
        Head::default().write(&mut out);
        assert_eq!(out.into_vec(), br#","inferenceConfig":{}"#);
        let tool = serde_json::to_string(&ToolChoice::Tool { name: "w".into() }).unwrap();
        assert_eq!(tool, r#"{"tool":{"name":"w"}}"#);
    }
}
