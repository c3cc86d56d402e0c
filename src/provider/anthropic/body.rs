//! The Anthropic Messages request members the chat translation (`anthropic::request`)
//! writes after `messages`, typed: [`Head`] holds them and writes them in the order the
//! request always had (sorted), each small one from its struct, the system blocks as the
//! typed [`Block`]s messages take too (long strings in them written while they are sent). The client's other members
//! follow as its own text; the body goes on to `upstream` as an `Outgoing`.

use serde::Serialize;
use serde_json::Value;

use crate::provider::translate::block::{self, Long};
use crate::provider::translate::tools::Schema;
use crate::upstream::Builder;

/// The members the translation decides.
#[derive(Debug, Default)]
pub struct Head<'a> {
    /// The client's limit as it wrote it, else the default the translation chose.
    pub max_tokens: Option<Value>,
    pub metadata: Option<Metadata>,
    pub model: &'a str,
    pub output_format: Option<OutputFormat>,
    pub stop_sequences: Option<Value>,
    pub stream: bool,
    pub system: Vec<Block>,
    pub thinking: Option<Thinking>,
    pub tool_choice: Option<ToolChoice>,
    pub tools: Vec<Tool>,
}

/// A content block of a message, a tool result or `system`, its members in key order (the
/// order the tree it replaces wrote them).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Block {
    Text {
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
        text: Long,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// An `image` or a `document` (a `file` part).
    Media {
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
        source: Source,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    ToolUse {
        id: Value,
        input: Value,
        name: Value,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    ToolResult {
        content: ResultContent,
        tool_use_id: Value,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// A block the client wrote in Anthropic's shape (or a text part with members of its
    /// own), as it came.
    Other(Value),
}

/// An image's or document's `source`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Source {
    Base64 {
        data: Long,
        media_type: String,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Url {
        #[serde(rename = "type")]
        kind: &'static str,
        url: Long,
    },
}

/// A `tool_result`'s `content`: blocks, text, or what the client gave otherwise.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ResultContent {
    Blocks(Vec<Block>),
    Text(Long),
    Other(Value),
}

impl block::Block for Block {
    fn each_long(&mut self, each: &mut impl FnMut(&mut Long)) {
        match self {
            Block::Text { text: long, .. }
            | Block::Media { source: Source::Base64 { data: long, .. } | Source::Url { url: long, .. }, .. }
            | Block::ToolResult { content: ResultContent::Text(long), .. } => each(long),
            Block::ToolResult { content: ResultContent::Blocks(blocks), .. } => {
                for inner in blocks {
                    block::Block::each_long(inner, each);
                }
            }
            Block::ToolUse { .. } | Block::ToolResult { .. } | Block::Other(_) => {}
        }
    }

    fn into_tree(self) -> Result<Value, Self> {
        if let Block::Other(tree) = self { Ok(tree) } else { Err(self) }
    }
}

/// `metadata`: the chat request's `user`.
#[derive(Debug, Serialize)]
pub struct Metadata {
    pub user_id: Value,
}

/// `output_format` for a JSON schema.
#[derive(Debug, Serialize)]
pub struct OutputFormat {
    pub schema: Value,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `thinking`: a budget `reasoning_effort` asked for, or the client's own as it came.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Thinking {
    Enabled {
        budget_tokens: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Client(Value),
}

impl Thinking {
    pub fn budget(budget_tokens: u64) -> Self {
        Thinking::Enabled { budget_tokens, kind: "enabled" }
    }

    /// Its `budget_tokens`, 0 when it names none.
    pub fn budget_tokens(&self) -> u64 {
        match self {
            Thinking::Enabled { budget_tokens, .. } => *budget_tokens,
            Thinking::Client(value) => value.get("budget_tokens").and_then(Value::as_u64).unwrap_or(0),
        }
    }
}

/// `tool_choice`: `auto`, `any`, `none` or `tool` (with its `name`).
#[derive(Debug, Serialize)]
pub struct ToolChoice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl ToolChoice {
    pub fn of(kind: &'static str) -> Self {
        ToolChoice { disable_parallel_tool_use: None, name: None, kind }
    }
}

/// One of `tools`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Tool {
    /// An OpenAI function tool as a custom tool.
    Custom {
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<Value>,
        input_schema: Schema,
        name: Value,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `web_search_options` as Anthropic's server tool.
    WebSearch {
        name: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_location: Option<Value>,
    },
    /// A tool already in Anthropic's shape, as the client sent it.
    Other(Value),
}

impl Head<'_> {
    /// Whether the head writes `key` (so the client's member of that name does not go).
    pub fn has(&self, key: &str) -> bool {
        match key {
            "max_tokens" => self.max_tokens.is_some(),
            "metadata" => self.metadata.is_some(),
            "model" => true,
            "output_format" => self.output_format.is_some(),
            "stop_sequences" => self.stop_sequences.is_some(),
            "stream" => self.stream,
            "system" => !self.system.is_empty(),
            "thinking" => self.thinking.is_some(),
            "tool_choice" => self.tool_choice.is_some(),
            "tools" => !self.tools.is_empty(),
            _ => false,
        }
    }

    /// Writes each member present that `keep` keeps as `,"key":value`, in key order.
    pub fn write(self, out: &mut Builder, keep: impl Fn(&str) -> bool) {
        let key = |out: &mut Builder, key: &str| {
            let kept = keep(key);
            if kept {
                out.bytes(b",");
                out.key(key);
            }
            kept
        };
        if let Some(max_tokens) = self.max_tokens.filter(|_| key(out, "max_tokens")) {
            out.json(max_tokens);
        }
        if let Some(metadata) = self.metadata.filter(|_| key(out, "metadata")) {
            out.value(&metadata);
        }
        if key(out, "model") {
            out.value(&self.model);
        }
        if let Some(format) = self.output_format.filter(|_| key(out, "output_format")) {
            out.value(&format);
        }
        if let Some(stop) = self.stop_sequences.filter(|_| key(out, "stop_sequences")) {
            out.json(stop);
        }
        if self.stream && key(out, "stream") {
            out.bytes(b"true");
        }
        if !self.system.is_empty() && key(out, "system") {
            block::write_list(self.system, out);
        }
        if let Some(thinking) = self.thinking.filter(|_| key(out, "thinking")) {
            out.value(&thinking);
        }
        if let Some(choice) = self.tool_choice.filter(|_| key(out, "tool_choice")) {
            out.value(&choice);
        }
        if !self.tools.is_empty() && key(out, "tools") {
            out.value(&self.tools);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn written(head: Head<'_>, keep: impl Fn(&str) -> bool) -> String {
        let mut out = Builder::default();
        head.write(&mut out, keep);
        String::from_utf8(out.into_vec()).unwrap_or_default()
    }

    #[test]
    fn members_are_written_sorted_as_the_tree_wrote_them() {
        let head = Head {
            max_tokens: Some(json!(9)),
            metadata: Some(Metadata { user_id: json!("u") }),
            model: "m",
            output_format: Some(OutputFormat { schema: json!({ "type": "object" }), kind: "json_schema" }),
            stream: true,
            thinking: Some(Thinking::budget(1024)),
            tool_choice: Some(ToolChoice { disable_parallel_tool_use: Some(true), ..ToolChoice::of("any") }),
            tools: vec![Tool::WebSearch { name: "web_search", kind: "web_search_20250305", user_location: None }],
            ..Head::default()
        };
        let want = json!({
            "max_tokens": 9, "metadata": { "user_id": "u" }, "model": "m",
            "output_format": { "type": "json_schema", "schema": { "type": "object" } }, "stream": true,
            "thinking": { "type": "enabled", "budget_tokens": 1024 },
            "tool_choice": { "type": "any", "disable_parallel_tool_use": true },
            "tools": [{ "type": "web_search_20250305", "name": "web_search" }],
        });
        let tree = serde_json::to_string(&want).unwrap_or_default();
        assert_eq!(format!("{{{}}}", &written(head, |_| true)[1..]), tree, "the same bytes as the sorted tree");
        let head = Head { model: "m", system: vec![Block::Other(json!({ "text": "s" }))], ..Head::default() };
        assert!(head.has("system") && head.has("model") && !head.has("tools") && !head.has("top_k"));
        assert_eq!(written(head, |key| key == "system"), r#","system":[{"text":"s"}]"#);
    }
}
