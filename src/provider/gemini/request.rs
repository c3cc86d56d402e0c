//! OpenAI chat request → Gemini `generateContent` request, pure: system messages to
//! `system_instruction`, roles to `user`/`model`, content to typed parts
//! (`gemini::body::Block`), data-URI images to `inline_data`, tool
//! calls to `function_call` (with the thought signature their id carries) and tool
//! results to `function_response` (the function's name looked up from the call), tools to `function_declarations` (schemas through
//! `gemini::schema`), `tool_choice` to `toolConfig`, sampling and output parameters to
//! `generationConfig`. The result goes back to `gemini::forward`.

use std::borrow::Cow;

use serde_json::Value;

use super::body::{
    Block, Declaration, Empty, FunctionCall, FunctionCalling, FunctionResponse, GoogleSearch, Head, InlineData, Reply,
    Response, Setting, ThinkingConfig, Tool,
};
use super::response::THOUGHT_SIGNATURE_SEPARATOR;
use super::schema;
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::Fields;
use crate::provider::translate::block::Long;
use crate::provider::translate::conversation::{
    self, Content, Given, Part, Render, Said, ToolCall, ToolResult, data_uri,
};
use crate::provider::translate::params::{self, Function, ResponseFormat, Stop, ToolChoice, is_function, take};
use crate::provider::translate::{bad, object};
use crate::upstream::{Builder, Outgoing};

/// Gemini request fields that stand at the top level; any other unknown field is taken
/// as a `generationConfig` one (`top_k`, `thinking_config`, ...).
const TOP_LEVEL: &[&str] = &["cached_content", "cachedContent", "labels", "safety_settings", "safetySettings"];
/// OpenAI parameters → `generationConfig` keys that need no other change.
const GENERATION: &[(&str, &str)] = &[
    ("frequency_penalty", "frequency_penalty"),
    ("n", "candidate_count"),
    ("presence_penalty", "presence_penalty"),
    ("seed", "seed"),
    ("temperature", "temperature"),
    ("top_p", "top_p"),
];

/// Translates the chat `fields`: `messages` one message at a time, written straight into
/// the body (`charge` following what it holds); Gemini's own top-level fields stay the
/// client's text.
pub fn translate(mut fields: Fields, charge: &mut Charge) -> Result<Outgoing, Error> {
    let messages = conversation::take_messages(&mut fields)?;
    let mut out = Builder::default();
    out.bytes(b"{");
    out.key("contents");
    let system = conversation::write(messages, "parts", &mut Parts, &mut out, charge)?;
    let mut head = Head { system, ..Head::default() };
    tools(&mut fields, &mut head)?;
    generation(&mut fields, &mut head)?;
    for key in ["model", "stream", "stream_options", "parallel_tool_calls"] {
        fields.remove(key);
    }
    let mut top = Vec::new();
    for (key, member) in fields.into_members() {
        if TOP_LEVEL.contains(&&*key) {
            top.push((key, member));
        } else {
            // Any other parameter is a generationConfig one, passed as the client wrote it.
            head.set(&key, Setting::Client(member));
        }
    }
    head.write(&mut out);
    for (key, member) in top {
        out.bytes(b",");
        out.key(&key);
        out.member(member);
    }
    out.bytes(b"}");
    Ok(out.build())
}

/// Gemini's parts for the neutral conversation (`translate::conversation`).
struct Parts;

impl Render for Parts {
    const ASSISTANT: &'static str = "model";
    type Block = Block;

    /// A message's content as Gemini parts; its text and data move into them.
    fn parts(&mut self, content: Vec<Content<'_>>) -> Result<Vec<Block>, Error> {
        content.into_iter().map(|content| part(content.part)).collect()
    }

    /// A `function_call`, with the thought signature its id (or the call) carries.
    fn tool_call(&mut self, call: ToolCall<'_>) -> Result<Block, Error> {
        let id = call.id.as_str();
        let signature = id.and_then(|id| id.split_once(THOUGHT_SIGNATURE_SEPARATOR)).map(|(_, signature)| signature);
        let signature = signature.or(call.thought_signature.as_deref()).filter(|s| !s.is_empty()).map(str::to_owned);
        let name = call.name().to_owned();
        let function_call = FunctionCall { args: call.arguments, name };
        Ok(Block::Call { function_call, thought_signature: signature })
    }

    /// A tool message as a `function_response` naming the function its call named.
    fn tool_result(&mut self, result: ToolResult<'_>) -> Result<Block, Error> {
        let Some(name) = result.function else {
            return Err(bad("messages", "a tool message's tool_call_id names no earlier tool call"));
        };
        let content = match result.content {
            Said::Parts(parts) => {
                Reply::Text(Long::from(parts.iter().filter_map(|c| text_of(&c.part)).collect::<String>()))
            }
            Said::None => Reply::Text(Long::default()),
            Said::Text(text) => Reply::Text(Long::from(text.into_owned())),
            Said::Other(other) => Reply::Other(other.into_value()?),
        };
        Ok(Block::Response { function_response: FunctionResponse { name, response: Response { content } } })
    }
}

/// A tool result part's `text`, when a string.
fn text_of<'p>(part: &'p Part<'_>) -> Option<Cow<'p, str>> {
    match part {
        Part::Text { text } | Part::Odd { text: Given::Str(text), .. } => Some(Cow::Borrowed(text)),
        Part::Other(other) => other.text().map(Cow::Owned),
        Part::Odd { .. } | Part::Image { .. } | Part::File { .. } => None,
    }
}

/// One content part; images and files must be base64 `data:` URIs.
fn part(part: Part<'_>) -> Result<Block, Error> {
    let url = match part {
        Part::Text { text } | Part::Odd { text: Given::Str(text), .. } => {
            return Ok(Block::Text { text: Long::from(text.into_owned()) });
        }
        Part::Odd { text, .. } => return Ok(Block::Other(object([("text", text.into_value()?)]))),
        Part::Image { url } => url,
        Part::File { data } => data,
        Part::Other(item) => return Ok(Block::Other(item.into_value()?)),
    };
    let Some(Ok((mime_type, data))) = url.map(data_uri) else {
        return Err(bad("messages", "gemini/ deployments take images and files as base64 data: URIs"));
    };
    Ok(Block::Inline { inline_data: InlineData { data: Long::from(data), mime_type } })
}

/// `tools`, `web_search_options` and `tool_choice`.
fn tools(fields: &mut Fields, head: &mut Head) -> Result<(), Error> {
    let mut declarations = Vec::new();
    for tool in params::tools(fields)? {
        if !is_function(&tool) {
            head.tools.push(Tool::Other(tool));
            continue;
        }
        let Some(function) = Function::of(&tool) else { return Err(bad("tools", "a function tool needs function")) };
        declarations.push(Declaration {
            description: function.description.cloned(),
            name: function.name.cloned().unwrap_or_default(),
            parameters: function.parameters.map(|parameters| schema::convert(parameters.clone())),
        });
    }
    if take(fields, "web_search_options").is_some() {
        head.tools.push(Tool::Search(GoogleSearch { google_search: Empty {} }));
    }
    if !declarations.is_empty() {
        head.tools.insert(0, Tool::Functions { function_declarations: declarations });
    }
    let mode = |mode| FunctionCalling { allowed_function_names: None, mode };
    head.tool_config = match ToolChoice::take(fields, "must be auto, required, none or a function")? {
        None => None,
        Some(ToolChoice::Auto) => Some(mode("AUTO")),
        Some(ToolChoice::Required) => Some(mode("ANY")),
        Some(ToolChoice::None) => Some(mode("NONE")),
        Some(ToolChoice::Function(name)) => Some(FunctionCalling { allowed_function_names: Some([name]), mode: "ANY" }),
    };
    Ok(())
}

/// `generationConfig` from the sampling and output parameters.
fn generation(fields: &mut Fields, head: &mut Head) -> Result<(), Error> {
    for (from, to) in GENERATION {
        if let Some(value) = take(fields, from) {
            head.set(to, Setting::Mapped(value));
        }
    }
    if let Some(stop) = Stop::take(fields) {
        head.set("stop_sequences", Setting::Mapped(stop.into_list()));
    }
    if let Some(max) = params::max_tokens(fields) {
        head.set("max_output_tokens", Setting::Mapped(max));
    }
    if let Some(budget) = params::thinking_budget(fields)? {
        let config = ThinkingConfig { include_thoughts: true, thinking_budget: budget };
        head.set("thinkingConfig", Setting::Thinking(config));
    }
    let json = || Setting::Mapped(Value::from("application/json"));
    match ResponseFormat::take(fields) {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => head.set("response_mime_type", json()),
        Some(ResponseFormat::JsonSchema { schema: Some(found), .. }) => {
            head.set("response_mime_type", json());
            head.set("response_schema", Setting::Mapped(schema::convert(found)));
        }
        Some(ResponseFormat::JsonSchema { schema: None, .. }) => {
            return Err(bad("response_format", "json_schema needs json_schema.schema"));
        }
        Some(ResponseFormat::Other) => {
            return Err(bad("response_format", "must be of type text, json_object or json_schema"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `v` as a client's body holds it: raw members.
    fn fields(v: &Value) -> Fields {
        Fields::parse(&bytes::Bytes::from(v.to_string())).unwrap_or_default()
    }

    /// The translated body, read back as a tree.
    fn translate(fields: Fields) -> Result<Value, Error> {
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
        super::translate(fields, &mut charge).map(|out| serde_json::from_slice(&out.into_vec()).unwrap_or_default())
    }

    #[test]
    fn chat_with_tools_matches_the_golden_generate_content_request() {
        let request: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/translate/gemini/request.openai.json"))
                .unwrap_or_default();
        let want: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/translate/gemini/request.gemini.json"))
                .unwrap_or_default();
        assert_eq!(translate(fields(&request)).unwrap_or_else(|e| panic!("{e}")), want);
    }

    #[test]
    fn generation_config_and_json_modes() {
        let got = translate(fields(&json!({
            "messages": [{ "role": "user", "content": "hi" }], "n": 2, "stop": "END", "max_tokens": 9, "top_k": 3,
            "response_format": { "type": "json_object" }, "safety_settings": [],
        })))
        .unwrap_or_default();
        assert_eq!(
            got["generationConfig"],
            json!({ "candidate_count": 2, "stop_sequences": ["END"], "max_output_tokens": 9, "top_k": 3, "response_mime_type": "application/json" })
        );
        assert_eq!(got["safety_settings"], json!([]), "Gemini's own top-level fields stay there");
        let got = translate(fields(&json!({
            "messages": [{ "role": "user", "content": "hi" }],
            "response_format": { "type": "json_schema", "json_schema": { "name": "x", "schema": {
                "type": "object", "additionalProperties": false,
                "properties": { "additionalProperties": { "type": "string" } } } } },
        })))
        .unwrap_or_default();
        assert_eq!(
            got["generationConfig"]["response_schema"],
            json!({ "type": "object", "properties": { "additionalProperties": { "type": "string" } } })
        );
    }

    #[test]
    fn a_replayed_call_gets_back_the_thought_signature_its_id_carries() {
        let call = |id: &str| json!({ "id": id, "type": "function", "function": { "name": "f", "arguments": "{}" } });
        let got = translate(fields(&json!({ "messages": [
            { "role": "user", "content": "go" },
            { "role": "assistant", "content": null, "tool_calls": [call("call_a__thought__c2lnbg=="), call("call_b")] },
            { "role": "tool", "tool_call_id": "call_a__thought__c2lnbg==", "content": "1" },
            { "role": "tool", "tool_call_id": "call_b", "content": "2" },
        ] })))
        .unwrap_or_else(|e| panic!("{e}"));
        let parts = &got["contents"][1]["parts"];
        assert_eq!(parts[0]["thought_signature"], "c2lnbg==");
        assert!(parts[1].get("thought_signature").is_none(), "{parts}");
        assert_eq!(got["contents"][2]["parts"][0]["function_response"]["name"], "f");
    }

    #[test]
    fn tool_choice_modes_and_unknown_tool_results() {
        for (choice, want) in [
            (json!("auto"), json!({ "mode": "AUTO" })),
            (json!("required"), json!({ "mode": "ANY" })),
            (json!("none"), json!({ "mode": "NONE" })),
        ] {
            let got = translate(fields(&json!({ "messages": [], "tool_choice": choice }))).unwrap_or_default();
            assert_eq!(got["toolConfig"]["functionCallingConfig"], want);
        }
        let orphan = json!({ "messages": [{ "role": "tool", "tool_call_id": "nope", "content": "x" }] });
        assert!(translate(fields(&orphan)).is_err());
        let remote = json!({ "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "https://x/y.png" } }] }] });
        assert!(translate(fields(&remote)).is_err());
    }

    /// The exact bytes of a request with system blocks, text, an image, a document, two tool
    /// calls (one carrying a thought signature), their results and a cache control, pinned
    /// before the parts were typed.
    #[test]
    fn a_full_request_body_is_pinned_byte_for_byte() {
        let request = json!({
            "messages": [
                { "role": "system", "content": [{ "type": "text", "text": "Sys", "cache_control": { "type": "ephemeral" } }] },
                { "role": "user", "content": [
                    { "type": "text", "text": "Look", "x": 1 },
                    { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBO" }, "cache_control": { "type": "ephemeral" } },
                    { "type": "file", "file": { "file_data": "data:application/pdf;base64,JVBE" } },
                    { "inline_data": { "mime_type": "text/plain", "data": "eA==" } },
                ]},
                { "role": "assistant", "content": "ok", "tool_calls": [
                    { "id": "call_a__thought__c2ln", "type": "function", "function": { "name": "w", "arguments": "{\"z\":1,\"a\":[true]}" } },
                    { "id": "t2", "type": "function", "function": { "name": "v", "arguments": "" },
                      "provider_specific_fields": { "thought_signature": "b3du" } },
                ]},
                { "role": "tool", "tool_call_id": "call_a__thought__c2ln", "content": [{ "type": "text", "text": "do" }, { "type": "text", "text": "ne" }] },
                { "role": "tool", "tool_call_id": "t2", "content": "rain" },
            ],
            "tools": [{ "type": "function", "function": { "name": "w", "description": "d",
                "parameters": { "type": "object", "properties": { "z": { "type": "integer" } } } } }],
            "tool_choice": "required", "temperature": 1, "stop": ["A", "B"], "top_k": 3, "safetySettings": [],
        });
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap();
        let out = super::translate(fields(&request), &mut charge).unwrap();
        let body = String::from_utf8(out.into_vec()).unwrap();
        let want = concat!(
            r#"{"contents":[{"parts":[{"text":"Look"},{"inline_data":{"data":"iVBO","mime_type":"image/png"}},"#,
            r#"{"inline_data":{"data":"JVBE","mime_type":"application/pdf"}},{"inline_data":{"data":"eA==","#,
            r#""mime_type":"text/plain"}}],"role":"user"},{"parts":[{"text":"ok"},"#,
            r#"{"function_call":{"args":{"a":[true],"z":1},"name":"w"},"thought_signature":"c2ln"},"#,
            r#"{"function_call":{"args":{},"name":"v"},"thought_signature":"b3du"}],"role":"model"},"#,
            r#"{"parts":[{"function_response":{"name":"w","response":{"content":"done"}}},"#,
            r#"{"function_response":{"name":"v","response":{"content":"rain"}}}],"role":"user"}],"#,
            r#""generationConfig":{"stop_sequences":["A","B"],"temperature":1,"top_k":3},"#,
            r#""system_instruction":{"parts":[{"text":"Sys"}]},"#,
            r#""toolConfig":{"functionCallingConfig":{"mode":"ANY"}},"#,
            r#""tools":[{"function_declarations":[{"description":"d","name":"w","#,
            r#""parameters":{"properties":{"z":{"type":"integer"}},"type":"object"}}]}],"safetySettings":[]}"#,
        );
        assert_eq!(body, want);
        // Strings past `block::LONG` move into the body rather than being copied: the same bytes.
        let long = "L".repeat(3 * crate::provider::translate::block::LONG);
        let long_request = request.to_string().replace("Look", &long).replace("iVBO", &long);
        let out = super::translate(Fields::parse(&bytes::Bytes::from(long_request)).unwrap(), &mut charge).unwrap();
        let body = String::from_utf8(out.into_vec()).unwrap();
        assert_eq!(body, want.replace("Look", &long).replace("iVBO", &long));
    }
}
