//! The Gemini `generateContent` request members the chat translation
//! (`gemini::request`) writes after `contents`, typed: [`Head`] holds them and writes them
//! in the order the request always had (sorted): `generationConfig` (the settings the
//! translation maps, merged in key order with the client's own, which pass as its text),
//! `system_instruction` (typed parts, [`Block`], as turns take too), `toolConfig` and
//! `tools`. The client's top-level Gemini fields
//! follow; the body goes on to `upstream` as an `Outgoing`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::parse::Member;
use crate::provider::translate::block::{self, Long};
use crate::upstream::Builder;

/// The members the translation decides.
#[derive(Debug, Default)]
pub struct Head {
    pub generation: BTreeMap<String, Setting>,
    /// `system_instruction.parts`.
    pub system: Vec<Block>,
    pub tool_config: Option<FunctionCalling>,
    pub tools: Vec<Tool>,
}

/// A part of a turn or of `system_instruction`, its members in key order (the order the
/// tree it replaces wrote them).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Block {
    Text {
        text: Long,
    },
    Inline {
        inline_data: InlineData,
    },
    Call {
        function_call: FunctionCall,
        #[serde(skip_serializing_if = "Option::is_none")]
        thought_signature: Option<String>,
    },
    Response {
        function_response: FunctionResponse,
    },
    /// A part the client wrote in Gemini's shape (or text that is not a string), as it came.
    Other(Value),
}

/// `inline_data`: a `data:` URI's base64 data and its media type.
#[derive(Debug, Serialize)]
pub struct InlineData {
    pub data: Long,
    pub mime_type: String,
}

/// `function_call`: the call's arguments as an object.
#[derive(Debug, Serialize)]
pub struct FunctionCall {
    pub args: Value,
    pub name: String,
}

/// `function_response`, naming the function its call named.
#[derive(Debug, Serialize)]
pub struct FunctionResponse {
    pub name: String,
    pub response: Response,
}

#[derive(Debug, Serialize)]
pub struct Response {
    pub content: Reply,
}

/// A tool result's content: its text, or what the client gave when not text.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Text(Long),
    Other(Value),
}

impl block::Block for Block {
    fn each_long(&mut self, each: &mut impl FnMut(&mut Long)) {
        match self {
            Block::Text { text: long }
            | Block::Inline { inline_data: InlineData { data: long, .. } }
            | Block::Response {
                function_response: FunctionResponse { response: Response { content: Reply::Text(long) }, .. },
            } => each(long),
            Block::Call { .. } | Block::Response { .. } | Block::Other(_) => {}
        }
    }

    fn into_tree(self) -> Result<Value, Self> {
        if let Block::Other(tree) = self { Ok(tree) } else { Err(self) }
    }
}

/// One `generationConfig` member.
#[derive(Debug)]
pub enum Setting {
    /// A chat parameter mapped (the client's value, or one the translation wrote).
    Mapped(Value),
    Thinking(ThinkingConfig),
    /// A parameter of Gemini's own the client set, as it wrote it.
    Client(Member),
}

/// `thinkingConfig` for a `reasoning_effort` budget.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    pub include_thoughts: bool,
    pub thinking_budget: u64,
}

/// `toolConfig.functionCallingConfig`.
#[derive(Debug, Serialize)]
pub struct FunctionCalling {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<[String; 1]>,
    pub mode: &'static str,
}

/// One of `tools`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Tool {
    Functions {
        function_declarations: Vec<Declaration>,
    },
    Search(GoogleSearch),
    /// A tool already in Gemini's shape, as the client sent it.
    Other(Value),
}

/// `{"googleSearch":{}}`, for `web_search_options`.
#[derive(Debug, Serialize)]
pub struct GoogleSearch {
    #[serde(rename = "googleSearch")]
    pub google_search: Empty,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

/// An OpenAI function as a function declaration.
#[derive(Debug, Serialize)]
pub struct Declaration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Value>,
    pub name: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

impl Head {
    /// Sets a `generationConfig` member unless one of that name is set already.
    pub fn set(&mut self, key: &str, setting: Setting) {
        self.generation.entry(key.to_owned()).or_insert(setting);
    }

    /// Writes each member present as `,"key":value`, in key order.
    pub fn write(self, out: &mut Builder) {
        if !self.generation.is_empty() {
            out.bytes(b",");
            out.key("generationConfig");
            out.bytes(b"{");
            for (i, (key, setting)) in self.generation.into_iter().enumerate() {
                if i > 0 {
                    out.bytes(b",");
                }
                out.key(&key);
                match setting {
                    Setting::Mapped(value) => out.json(value),
                    Setting::Thinking(config) => out.value(&config),
                    Setting::Client(member) => out.member(member),
                }
            }
            out.bytes(b"}");
        }
        if !self.system.is_empty() {
            out.bytes(b",");
            out.key("system_instruction");
            out.bytes(b"{");
            out.key("parts");
            block::write_list(self.system, out);
            out.bytes(b"}");
        }
        if let Some(calling) = self.tool_config {
            out.bytes(b",");
            out.key("toolConfig");
            out.bytes(b"{");
            out.key("functionCallingConfig");
            out.value(&calling);
            out.bytes(b"}");
        }
        if !self.tools.is_empty() {
            out.bytes(b",");
            out.key("tools");
            out.value(&self.tools);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    #[test]
    fn members_are_written_sorted_and_client_settings_as_their_text() {
        let mut head = Head { system: vec![Block::Other(json!({ "text": "s" }))], ..Head::default() };
        head.set("top_k", Setting::Client(Member::Raw(Bytes::from_static(br#"{ "odd" : [1, 2] }"#))));
        head.set("candidate_count", Setting::Mapped(json!(2)));
        head.set("thinkingConfig", Setting::Thinking(ThinkingConfig { include_thoughts: true, thinking_budget: 9 }));
        head.set("top_k", Setting::Mapped(json!("not this one")));
        head.tool_config = Some(FunctionCalling { allowed_function_names: Some(["f".into()]), mode: "ANY" });
        let declaration = Declaration { description: None, name: json!("f"), parameters: Some(json!({})) };
        head.tools = vec![
            Tool::Functions { function_declarations: vec![declaration] },
            Tool::Other(json!({ "codeExecution": {} })),
            Tool::Search(GoogleSearch { google_search: Empty {} }),
        ];
        let mut out = Builder::default();
        head.write(&mut out);
        let written = String::from_utf8(out.into_vec()).unwrap_or_default();
        assert_eq!(
            written,
            concat!(
                r#","generationConfig":{"candidate_count":2,"thinkingConfig":{"includeThoughts":true,"thinkingBudget":9},"#,
                r#""top_k":{ "odd" : [1, 2] }},"system_instruction":{"parts":[{"text":"s"}]},"#,
                r#""toolConfig":{"functionCallingConfig":{"allowed_function_names":["f"],"mode":"ANY"}},"#,
                r#""tools":[{"function_declarations":[{"name":"f","parameters":{}}]},{"codeExecution":{}},{"googleSearch":{}}]"#,
            )
        );
    }
}
