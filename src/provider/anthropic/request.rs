//! OpenAI chat request → Anthropic Messages request, pure: system messages to `system`
//! blocks, content parts to typed content blocks (`anthropic::body::Block`), tool calls and results to `tool_use` and
//! `tool_result` (adjacent same-role turns merged), tools and `tool_choice`, stop
//! sequences, `max_tokens` (default: the model's maximum output, else [`DEFAULT_MAX_TOKENS`])
//! and `response_format` to
//! `output_format`. The result goes back to `anthropic::forward`.

use std::borrow::Cow;

use serde_json::Value;

use super::body::{Block, Head, Metadata, OutputFormat, ResultContent, Source, Thinking, Tool, ToolChoice as Choice};

use crate::budget::Charge;
use crate::error::Error;
use crate::parse::Fields;
use crate::provider::translate::bad;
use crate::provider::translate::block::Long;
use crate::provider::translate::conversation::{
    self, Content, Part, Passed, Render, Said, ToolCall, ToolResult, data_uri,
};
use crate::provider::translate::message::Kind;
use crate::provider::translate::params::{self, ResponseFormat, Stop, ToolChoice, take};
use crate::provider::translate::tools::{self, Listed};
use crate::upstream::{self, Builder};

/// `max_tokens` when the client sets none and neither the deployment's `model_info` nor the
/// price table knows the model's maximum output (plus the thinking budget when thinking is
/// on). Anthropic requires one; LiteLLM 1.110 takes the model's maximum from its cost map,
/// else 128000, which Anthropic refuses for smaller models, so this is LiteLLM's old 4096.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The beta `output_format` (structured outputs) needs.
pub const STRUCTURED_OUTPUTS_BETA: &str = "structured-outputs-2025-11-13";

/// The Messages request and the beta header it needs, if any.
#[derive(Debug)]
pub struct Outgoing {
    pub body: upstream::Outgoing,
    pub beta: Option<&'static str>,
}

/// The members of a Messages body Anthropic's token counting takes (it refuses the others).
const COUNTED: &[&str] = &["messages", "model", "system", "thinking", "tool_choice", "tools"];

/// What the translated body is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A `/v1/messages` call for a model whose maximum output is `max_output` when the
    /// deployment or the price table knows it.
    Send { max_output: Option<u64>, stream: bool },
    /// `/v1/messages/count_tokens`: only the members counting takes ([`COUNTED`]).
    Count,
}

impl Purpose {
    /// Whether the body written for this purpose carries `key`.
    fn writes(self, key: &str) -> bool {
        self != Purpose::Count || COUNTED.contains(&key)
    }
}

/// Translates the chat `fields` for `model` and `purpose`: `messages` one message at a
/// time, written straight into the body (`charge` following what it holds); parameters
/// Anthropic takes as they are stay the client's text.
pub fn translate(mut fields: Fields, model: &str, purpose: Purpose, charge: &mut Charge) -> Result<Outgoing, Error> {
    let (max_output, stream) = match purpose {
        Purpose::Send { max_output, stream } => (max_output, stream),
        Purpose::Count => (None, false),
    };
    let messages = conversation::take_messages(&mut fields)?;
    let mut out = Builder::default();
    out.bytes(b"{");
    out.key("messages");
    let system = conversation::write(messages, "content", &mut Blocks, &mut out, charge)?;
    let mut head = Head { model, stream, system, ..Head::default() };
    let asked_max = params::max_tokens(&mut fields);
    fields.remove("stream");
    fields.remove("stream_options");
    head.stop_sequences = Stop::take(&mut fields).map(Stop::into_list);
    head.metadata = take(&mut fields, "user").map(|user_id| Metadata { user_id });
    tools(&mut fields, &mut head)?;
    head.thinking = params::thinking_budget(&mut fields)?.map(Thinking::budget);
    let beta = response_format(&mut fields, &mut head)?;
    if let Some(thinking) = take(&mut fields, "thinking").filter(|_| head.thinking.is_none()) {
        head.thinking = Some(Thinking::Client(thinking));
    }
    // Anthropic wants max_tokens above the thinking budget: a default leaves room for both.
    let budget = head.thinking.as_ref().map_or(0, Thinking::budget_tokens);
    let default = max_output.filter(|max| *max > budget).unwrap_or(DEFAULT_MAX_TOKENS + budget);
    head.max_tokens = Some(asked_max.unwrap_or_else(|| Value::from(default)));
    let passed: Vec<_> = fields.into_members().filter(|(key, _)| !head.has(key) && purpose.writes(key)).collect();
    head.write(&mut out, |key| purpose.writes(key));
    // temperature, top_p, service_tier and the provider's own parameters (top_k, ...) pass
    // through as the client wrote them.
    for (key, member) in passed {
        out.bytes(b",");
        out.key(&key);
        out.member(member);
    }
    out.bytes(b"}");
    Ok(Outgoing { body: out.build(), beta })
}

/// Anthropic's blocks for the neutral conversation (`translate::conversation`).
struct Blocks;

impl Render for Blocks {
    const ASSISTANT: &'static str = "assistant";
    type Block = Block;

    /// A message's content as Anthropic blocks; parts already in Anthropic's shape pass.
    fn parts(&mut self, content: Vec<Content<'_>>) -> Result<Vec<Block>, Error> {
        content.into_iter().map(block).collect()
    }

    fn tool_call(&mut self, call: ToolCall<'_>) -> Result<Block, Error> {
        Ok(Block::ToolUse {
            id: call.id.into_value()?,
            input: call.arguments,
            name: call.name.into_value()?,
            kind: "tool_use",
        })
    }

    /// A `tool` message as a `tool_result` block; text stays a string as LiteLLM sends it.
    fn tool_result(&mut self, result: ToolResult<'_>) -> Result<Block, Error> {
        let content = match result.content {
            Said::Parts(parts) => ResultContent::Blocks(self.parts(parts)?),
            Said::None => ResultContent::Text(Long::default()),
            Said::Text(text) => ResultContent::Text(Long::from(text.into_owned())),
            Said::Other(other) => ResultContent::Other(other.into_value()?),
        };
        Ok(Block::ToolResult { content, tool_use_id: result.id.into_value()?, kind: "tool_result" })
    }
}

/// One content part as an Anthropic block, its `cache_control` kept.
fn block(content: Content<'_>) -> Result<Block, Error> {
    let cache_control = content.cache_control.map(Passed::into_value).transpose()?;
    match content.part {
        Part::Text { text } => Ok(Block::Text { cache_control, text: Long::from(text.into_owned()), kind: "text" }),
        // A text part with members of its own, or no string text, goes as it came.
        Part::Odd { part, .. } => Ok(Block::Other(part.into_value()?)),
        Part::Image { url: Some(url) } => Ok(Block::Media { cache_control, source: source(url), kind: "image" }),
        Part::Image { url: None } => Err(bad("messages", "image_url needs a url")),
        Part::File { data: Some(data) } => Ok(Block::Media { cache_control, source: source(data), kind: "document" }),
        Part::File { data: None } => Err(bad("messages", "file parts need file_data")),
        Part::Other(part) if part.kind() == Kind::Object => Ok(Block::Other(part.into_value()?)),
        Part::Other(_) => Err(bad("messages", "a content part must be an object")),
    }
}

/// A `data:` URI as a base64 source, any other URL as a URL source.
fn source(url: Cow<'_, str>) -> Source {
    match data_uri(url) {
        Ok((media_type, data)) => Source::Base64 { data: Long::from(data), media_type, kind: "base64" },
        Err(url) => Source::Url { kind: "url", url: Long::from(url.into_owned()) },
    }
}

/// `tools`, `tool_choice`, `parallel_tool_calls` and `web_search_options`.
fn tools(fields: &mut Fields, head: &mut Head<'_>) -> Result<(), Error> {
    let mut list = tools::take(fields)?.into_iter().map(tool_definition).collect::<Result<Vec<_>, _>>()?;
    if let Some(search) = take(fields, "web_search_options") {
        let location = search.get("user_location").and_then(|l| l.get("approximate")).map(|location| {
            let mut location = location.clone();
            if let Some(map) = location.as_object_mut() {
                map.insert("type".into(), Value::from("approximate"));
            }
            location
        });
        list.push(Tool::WebSearch { name: "web_search", kind: "web_search_20250305", user_location: location });
    }
    head.tools = list;
    let choice = ToolChoice::take(fields, "must be auto, required, none or a function")?;
    let mut choice = choice.map(|choice| match choice {
        ToolChoice::Auto => Choice::of("auto"),
        ToolChoice::Required => Choice::of("any"),
        ToolChoice::None => Choice::of("none"),
        ToolChoice::Function(name) => Choice { name: Some(name), ..Choice::of("tool") },
    });
    if take(fields, "parallel_tool_calls") == Some(Value::Bool(false)) {
        choice.get_or_insert_with(|| Choice::of("auto")).disable_parallel_tool_use = Some(true);
    }
    head.tool_choice = choice;
    Ok(())
}

/// An OpenAI function tool as an Anthropic custom tool, its `parameters` the client's text;
/// other tools pass as they are.
fn tool_definition(tool: Listed) -> Result<Tool, Error> {
    if !tool.is_function() {
        return Ok(Tool::Other(tool.into_tree()));
    }
    let Listed::Object { mut members, function: Some(mut function) } = tool else {
        return Err(bad("tools", "a function tool needs function"));
    };
    let Some(name) = function.name.take() else { return Err(bad("tools", "a function needs a name")) };
    Ok(Tool::Custom {
        cache_control: members.remove("cache_control"),
        description: function.description.take(),
        input_schema: function.schema(),
        name,
        kind: "custom",
    })
}

/// `response_format`: a JSON schema becomes `output_format` (with its beta header); `text`
/// needs nothing; `json_object` has no Anthropic equivalent.
fn response_format(fields: &mut Fields, head: &mut Head<'_>) -> Result<Option<&'static str>, Error> {
    let Some(format) = ResponseFormat::take(fields) else { return Ok(None) };
    match format {
        ResponseFormat::Text => Ok(None),
        ResponseFormat::JsonSchema { schema, .. } => {
            let Some(mut schema) = schema else {
                return Err(bad("response_format", "json_schema needs json_schema.schema"));
            };
            if let Some(map) = schema.as_object_mut() {
                map.entry("additionalProperties").or_insert(Value::Bool(false));
            }
            head.output_format = Some(OutputFormat { schema, kind: "json_schema" });
            Ok(Some(STRUCTURED_OUTPUTS_BETA))
        }
        _ => Err(bad("response_format", "anthropic/ deployments take type text or json_schema")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SEND: Purpose = Purpose::Send { max_output: None, stream: false };

    /// The translated body, read back as a tree.
    struct Got {
        body: Value,
        beta: Option<&'static str>,
    }

    fn translated(request: &str) -> Result<Got, Error> {
        let fields = Fields::parse(&bytes::Bytes::from(request.to_owned())).unwrap_or_else(|e| panic!("{e}"));
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
        let out = translate(fields, "claude-sonnet-4-5", SEND, &mut charge)?;
        let body = serde_json::from_slice(&out.body.into_vec()).unwrap_or_else(|e| panic!("{e}"));
        Ok(Got { body, beta: out.beta })
    }

    fn golden(request: &str) -> Got {
        translated(request).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn chat_with_tools_matches_the_golden_messages_request() {
        let got = golden(include_str!("../../../tests/fixtures/translate/anthropic/request.openai.json"));
        let want: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/translate/anthropic/request.anthropic.json"))
                .unwrap_or_default();
        assert_eq!(got.body, want);
        assert_eq!(got.beta, None);
    }

    #[test]
    fn json_schema_becomes_output_format_with_its_beta() {
        let got = golden(
            r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":10,
                "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"string"}}}}}}"#,
        );
        assert_eq!(got.beta, Some(STRUCTURED_OUTPUTS_BETA));
        assert_eq!(
            got.body["output_format"],
            json!({ "type": "json_schema", "schema": { "type": "object", "properties": { "a": { "type": "string" } }, "additionalProperties": false } })
        );
        assert_eq!(got.body["max_tokens"], 10);
    }

    #[test]
    fn defaults_and_simple_mappings() {
        let got = golden(
            r#"{"messages":[{"role":"user","content":"hi"}],"stop":"END","user":"u1","parallel_tool_calls":false,
                "tool_choice":"required","reasoning_effort":"low","top_k":5}"#,
        );
        assert_eq!(got.body["max_tokens"], DEFAULT_MAX_TOKENS + 1024, "room for the thinking budget");
        let fields = Fields::parse(&bytes::Bytes::from(r#"{"messages":[],"reasoning_effort":"low"}"#))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap_or_else(|e| panic!("{e}"));
        let known = translate(
            fields,
            "claude-sonnet-4-5",
            Purpose::Send { max_output: Some(64_000), stream: false },
            &mut charge,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let known: Value = serde_json::from_slice(&known.body.into_vec()).unwrap_or_default();
        assert_eq!(known["max_tokens"], 64_000, "the model's maximum output, which holds the budget");
        assert_eq!(got.body["stop_sequences"], json!(["END"]));
        assert_eq!(got.body["metadata"], json!({ "user_id": "u1" }));
        assert_eq!(got.body["tool_choice"], json!({ "type": "any", "disable_parallel_tool_use": true }));
        assert_eq!(got.body["thinking"], json!({ "type": "enabled", "budget_tokens": 1024 }));
        assert_eq!(got.body["top_k"], 5, "the provider's own parameters pass through");
    }

    #[test]
    fn bad_input_is_a_named_400() {
        let e = translated(&json!({ "messages": "hi" }).to_string()).err();
        assert_eq!(e.and_then(|e| e.param().map(str::to_owned)).as_deref(), Some("messages"));
        let e = translated(&json!({ "messages": [], "response_format": { "type": "json_object" } }).to_string()).err();
        assert_eq!(e.and_then(|e| e.param().map(str::to_owned)).as_deref(), Some("response_format"));
    }

    #[test]
    fn a_count_carries_only_what_counting_takes_in_the_order_it_is_sent() {
        let request = r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],
            "max_tokens":10,"temperature":0.5,"stop":"END","user":"u","top_k":3,"reasoning_effort":"low",
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto"}"#;
        let fields = Fields::parse(&bytes::Bytes::from(request)).unwrap_or_else(|e| panic!("{e}"));
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap_or_else(|e| panic!("{e}"));
        let out = translate(fields, "claude-sonnet-4-5", Purpose::Count, &mut charge).unwrap_or_else(|e| panic!("{e}"));
        let sent = String::from_utf8(out.body.into_vec()).unwrap_or_default();
        let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&sent)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["messages", "model", "system", "thinking", "tool_choice", "tools"], "{sent}");
        assert!(
            sent.starts_with(r#"{"messages":[{"content":[{"text":"hi","type":"text"}],"role":"user"}],"model":"#),
            "{sent}"
        );
    }

    /// The exact bytes of a request with system blocks, text, images, a document, two tool
    /// calls, their results and cache controls, pinned before the blocks were typed.
    #[test]
    fn a_full_request_body_is_pinned_byte_for_byte() {
        let request = json!({
            "messages": [
                { "role": "system", "content": [{ "type": "text", "text": "Sys", "cache_control": { "type": "ephemeral" } }] },
                { "role": "developer", "content": "Dev" },
                { "role": "user", "content": [
                    { "type": "text", "text": "Look", "x": 1 },
                    { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBO" }, "cache_control": { "type": "ephemeral" } },
                    { "type": "image_url", "image_url": "https://x/y.png" },
                    { "type": "file", "file": { "file_data": "data:application/pdf;base64,JVBE" } },
                    { "type": "document", "source": { "type": "text", "data": "d", "media_type": "text/plain" } },
                ]},
                { "role": "assistant", "content": "ok", "tool_calls": [
                    { "id": "t1", "type": "function", "function": { "name": "w", "arguments": "{\"z\":1,\"a\":[true]}" } },
                    { "id": "t2", "type": "function", "function": { "name": "w", "arguments": "" } },
                ]},
                { "role": "tool", "tool_call_id": "t1", "content": [{ "type": "text", "text": "done" }] },
                { "role": "tool", "tool_call_id": "t2", "content": "rain" },
                { "role": "tool", "tool_call_id": "t3", "content": null },
            ],
            "tools": [{ "type": "function", "cache_control": { "type": "ephemeral" }, "function": { "name": "w", "description": "d",
                "parameters": { "type": "object", "properties": { "z": { "type": "integer" } } } } }],
            "tool_choice": { "type": "function", "function": { "name": "w" } },
            "temperature": 1, "stop": ["A", "B"], "top_k": 3, "stream": true,
        });
        let fields = Fields::parse(&bytes::Bytes::from(request.to_string())).unwrap();
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap();
        let purpose = Purpose::Send { max_output: None, stream: true };
        let out = translate(fields, "claude-sonnet-4-5", purpose, &mut charge).unwrap();
        let body = String::from_utf8(out.body.into_vec()).unwrap();
        let want = concat!(
            r#"{"messages":[{"content":[{"text":"Look","type":"text","x":1},{"cache_control":{"type":"ephemeral"},"#,
            r#""source":{"data":"iVBO","media_type":"image/png","type":"base64"},"type":"image"},"#,
            r#"{"source":{"type":"url","url":"https://x/y.png"},"type":"image"},{"source":{"data":"JVBE","#,
            r#""media_type":"application/pdf","type":"base64"},"type":"document"},{"source":{"data":"d","#,
            r#""media_type":"text/plain","type":"text"},"type":"document"}],"role":"user"},"#,
            r#"{"content":[{"text":"ok","type":"text"},{"id":"t1","input":{"a":[true],"z":1},"name":"w","#,
            r#""type":"tool_use"},{"id":"t2","input":{},"name":"w","type":"tool_use"}],"role":"assistant"},"#,
            r#"{"content":[{"content":[{"text":"done","type":"text"}],"tool_use_id":"t1","type":"tool_result"},"#,
            r#"{"content":"rain","tool_use_id":"t2","type":"tool_result"},{"content":"","tool_use_id":"t3","#,
            r#""type":"tool_result"}],"role":"user"}],"max_tokens":4096,"model":"claude-sonnet-4-5","#,
            r#""stop_sequences":["A","B"],"stream":true,"system":[{"cache_control":{"type":"ephemeral"},"#,
            r#""text":"Sys","type":"text"},{"text":"Dev","type":"text"}],"tool_choice":{"name":"w","type":"tool"},"#,
            r#""tools":[{"cache_control":{"type":"ephemeral"},"description":"d","#,
            r#""input_schema":{"properties":{"z":{"type":"integer"}},"type":"object"},"name":"w","type":"custom"}],"#,
            r#""temperature":1,"top_k":3}"#,
        );
        assert_eq!(body, want);
        // Strings past `block::LONG` move into the body rather than being copied: the same bytes.
        let long = "L".repeat(3 * crate::provider::translate::block::LONG);
        let long_request = request.to_string().replace("Look", &long).replace("iVBO", &long);
        let fields = Fields::parse(&bytes::Bytes::from(long_request)).unwrap();
        let out = translate(fields, "claude-sonnet-4-5", purpose, &mut charge).unwrap();
        let body = String::from_utf8(out.body.into_vec()).unwrap();
        assert_eq!(body, want.replace("Look", &long).replace("iVBO", &long));
    }
}
