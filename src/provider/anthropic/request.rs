//! OpenAI chat request → Anthropic Messages request, pure: system messages to `system`
//! blocks, content parts to content blocks, tool calls and results to `tool_use` and
//! `tool_result` (adjacent same-role turns merged), tools and `tool_choice`, stop
//! sequences, `max_tokens` (default: the model's maximum output, else [`DEFAULT_MAX_TOKENS`])
//! and `response_format` to
//! `output_format`. The result goes back to `anthropic::forward`.

use serde_json::{Map, Value, json};

use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Member};
use crate::provider::list::{self, Turns};
use crate::provider::translate::{bad, call_arguments, data_uri, object, take, take_url};
use crate::upstream::{self, Builder};

/// `max_tokens` when the client sets none and neither the deployment's `model_info` nor the
/// price table knows the model's maximum output (plus the thinking budget when thinking is
/// on). Anthropic requires one; LiteLLM 1.110 takes the model's maximum from its cost map,
/// else 128000, which Anthropic refuses for smaller models, so this is LiteLLM's old 4096.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The beta `output_format` (structured outputs) needs.
pub const STRUCTURED_OUTPUTS_BETA: &str = "structured-outputs-2025-11-13";
/// Thinking budgets LiteLLM uses for `reasoning_effort`.
const THINKING_BUDGETS: &[(&str, u64)] = &[("low", 1024), ("medium", 2048), ("high", 4096)];

/// The Messages request and the beta header it needs, if any.
#[derive(Debug)]
pub struct Outgoing {
    pub body: upstream::Outgoing,
    pub beta: Option<&'static str>,
}

/// Translates the chat `fields` for `model`, whose maximum output is `max_output` when the
/// deployment or the price table knows it: `messages` one message at a time, written
/// straight into the body (`charge` following what it holds); parameters Anthropic takes as
/// they are stay the client's text.
pub fn translate(
    mut fields: Fields,
    model: &str,
    max_output: Option<u64>,
    stream: bool,
    charge: &mut Charge,
) -> Result<Outgoing, Error> {
    let Some(messages) = fields.remove("messages").filter(|m| !m.is_null()) else {
        return Err(bad("messages", "must be a list of messages"));
    };
    let mut out = Builder::default();
    out.bytes(b"{");
    out.key("messages");
    let system = conversation(messages, &mut out, charge)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let completion = take(&mut fields, "max_completion_tokens");
    let max_tokens = take(&mut fields, "max_tokens");
    let asked_max = completion.or(max_tokens);
    fields.remove("stream");
    fields.remove("stream_options");
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    if let Some(stop) = take(&mut fields, "stop") {
        let stop = if stop.is_string() { json!([stop]) } else { stop };
        body.insert("stop_sequences".into(), stop);
    }
    if let Some(user) = take(&mut fields, "user") {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    tools(&mut fields, &mut body)?;
    if let Some(effort) = take(&mut fields, "reasoning_effort") {
        let budget = THINKING_BUDGETS.iter().find(|(name, _)| effort.as_str() == Some(name));
        let Some((_, budget)) = budget else { return Err(bad("reasoning_effort", "must be low, medium or high")) };
        body.insert("thinking".into(), json!({ "type": "enabled", "budget_tokens": budget }));
    }
    let beta = response_format(&mut fields, &mut body)?;
    if let Some(thinking) = take(&mut fields, "thinking").filter(|_| !body.contains_key("thinking")) {
        body.insert("thinking".into(), thinking);
    }
    // Anthropic wants max_tokens above the thinking budget: a default leaves room for both.
    let budget = body.get("thinking").and_then(|t| t.get("budget_tokens")).and_then(Value::as_u64).unwrap_or(0);
    let default = max_output.filter(|max| *max > budget).unwrap_or(DEFAULT_MAX_TOKENS + budget);
    body.insert("max_tokens".into(), asked_max.unwrap_or_else(|| json!(default)));
    for (key, value) in &mut body {
        out.bytes(b",");
        out.key(key);
        out.json(value.take());
    }
    // temperature, top_p, service_tier and the provider's own parameters (top_k, ...) pass
    // through as the client wrote them.
    for (key, member) in fields.into_members().filter(|(key, _)| !body.contains_key(key)) {
        out.bytes(b",");
        out.key(&key);
        out.member(member);
    }
    out.bytes(b"}");
    Ok(Outgoing { body: out.build(), beta })
}

/// Writes the turns `messages` make into `out` (adjacent ones of a role merged, as
/// Anthropic wants them alternating) and returns the system blocks.
fn conversation(messages: Member, out: &mut Builder, charge: &mut Charge) -> Result<Vec<Value>, Error> {
    let mut system = Vec::new();
    let mut turns = Turns::start("content", out);
    list::each(
        messages,
        out,
        charge,
        || bad("messages", "must be a list of messages"),
        |mut message, out| {
            let content = message.get_mut("content").map_or(Value::Null, Value::take);
            let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
            let (role, blocks) = match role {
                "system" | "developer" => {
                    system.extend(blocks(content)?);
                    return Ok(());
                }
                "user" => ("user", blocks(content)?),
                "assistant" => ("assistant", assistant(&message, content)?),
                "tool" | "function" => ("user", vec![tool_result(&message, content)?]),
                other => return Err(bad("messages", format!("unknown role {other:?}"))),
            };
            turns.push(role, blocks, out);
            Ok(())
        },
    )?;
    turns.finish(out);
    Ok(system)
}

/// A message's content as Anthropic blocks: a string is one text block (none when empty).
fn blocks(content: Value) -> Result<Vec<Value>, Error> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![object([("type", "text".into()), ("text", Value::String(text))])]),
        Value::Array(parts) => parts.into_iter().map(part).collect(),
        _ => Err(bad("messages", "content must be a string or a list of parts")),
    }
}

/// One OpenAI content part as an Anthropic block; parts already in Anthropic's shape pass.
fn part(part: Value) -> Result<Value, Error> {
    let Value::Object(mut part) = part else { return Err(bad("messages", "a content part must be an object")) };
    let cache_control = part.remove("cache_control");
    let mut block = match part.get("type").and_then(Value::as_str) {
        Some("image_url") => {
            let Some(url) = take_url(part.get_mut("image_url"), "url") else {
                return Err(bad("messages", "image_url needs a url"));
            };
            object([("type", "image".into()), ("source", source(url))])
        }
        Some("file") => {
            let data = part.get_mut("file").and_then(|f| f.get_mut("file_data")).map(Value::take);
            let Some(Value::String(data)) = data else { return Err(bad("messages", "file parts need file_data")) };
            object([("type", "document".into()), ("source", source(data))])
        }
        _ => Value::Object(part),
    };
    if let (Some(cache_control), Some(map)) = (cache_control, block.as_object_mut()) {
        map.insert("cache_control".into(), cache_control);
    }
    Ok(block)
}

/// A `data:` URI as a base64 source, any other URL as a URL source.
fn source(url: String) -> Value {
    match data_uri(url) {
        Ok((media_type, data)) => object([
            ("type", "base64".into()),
            ("media_type", Value::String(media_type)),
            ("data", Value::String(data)),
        ]),
        Err(url) => object([("type", "url".into()), ("url", Value::String(url))]),
    }
}

/// An assistant message: its text, then a `tool_use` block per tool call.
fn assistant(message: &Value, content: Value) -> Result<Vec<Value>, Error> {
    let mut out = blocks(content)?;
    let calls = message.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for call in calls {
        let function = call.get("function").unwrap_or(&Value::Null);
        let input = call_arguments(function)?;
        out.push(json!({
            "type": "tool_use", "id": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.get("name").cloned().unwrap_or(Value::Null), "input": input,
        }));
    }
    Ok(out)
}

/// A `tool` message as a `tool_result` block; text stays a string as LiteLLM sends it.
fn tool_result(message: &Value, content: Value) -> Result<Value, Error> {
    let content = match content {
        Value::Array(_) => Value::Array(blocks(content)?),
        Value::Null => Value::String(String::new()),
        other => other,
    };
    let id = message.get("tool_call_id").or_else(|| message.get("name")).cloned().unwrap_or(Value::Null);
    Ok(object([("type", "tool_result".into()), ("tool_use_id", id), ("content", content)]))
}

/// `tools`, `tool_choice`, `parallel_tool_calls` and `web_search_options`.
fn tools(fields: &mut Fields, body: &mut Map<String, Value>) -> Result<(), Error> {
    let mut list = Vec::new();
    if let Some(tools) = take(fields, "tools") {
        let Value::Array(tools) = tools else { return Err(bad("tools", "must be a list")) };
        for tool in tools {
            list.push(tool_definition(tool)?);
        }
    }
    if let Some(search) = take(fields, "web_search_options") {
        let mut tool = json!({ "type": "web_search_20250305", "name": "web_search" });
        if let Some(location) = search.get("user_location").and_then(|l| l.get("approximate")) {
            let mut location = location.clone();
            if let Some(map) = location.as_object_mut() {
                map.insert("type".into(), json!("approximate"));
            }
            tool["user_location"] = location;
        }
        list.push(tool);
    }
    if !list.is_empty() {
        body.insert("tools".into(), Value::Array(list));
    }
    let mut choice = match take(fields, "tool_choice") {
        None => None,
        Some(Value::String(mode)) => Some(match mode.as_str() {
            "auto" => json!({ "type": "auto" }),
            "required" => json!({ "type": "any" }),
            "none" => json!({ "type": "none" }),
            _ => return Err(bad("tool_choice", "must be auto, required, none or a function")),
        }),
        Some(named) => {
            let name = named.get("function").and_then(|f| f.get("name")).and_then(Value::as_str);
            let Some(name) = name else { return Err(bad("tool_choice", "a named choice needs function.name")) };
            Some(json!({ "type": "tool", "name": name }))
        }
    };
    if take(fields, "parallel_tool_calls") == Some(Value::Bool(false)) {
        let choice = choice.get_or_insert_with(|| json!({ "type": "auto" }));
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
    }
    Ok(())
}

/// An OpenAI function tool as an Anthropic custom tool; other tools pass as they are.
fn tool_definition(tool: Value) -> Result<Value, Error> {
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return Ok(tool);
    }
    let Some(function) = tool.get("function") else { return Err(bad("tools", "a function tool needs function")) };
    let Some(name) = function.get("name") else { return Err(bad("tools", "a function needs a name")) };
    let schema = function.get("parameters").cloned().unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
    let mut out = object([("name", name.clone()), ("input_schema", schema), ("type", "custom".into())]);
    if let Some(description) = function.get("description") {
        out["description"] = description.clone();
    }
    if let Some(cache_control) = tool.get("cache_control") {
        out["cache_control"] = cache_control.clone();
    }
    Ok(out)
}

/// `response_format`: a JSON schema becomes `output_format` (with its beta header); `text`
/// needs nothing; `json_object` has no Anthropic equivalent.
fn response_format(fields: &mut Fields, body: &mut Map<String, Value>) -> Result<Option<&'static str>, Error> {
    let Some(format) = take(fields, "response_format") else { return Ok(None) };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_schema") => {
            let schema = format.get("json_schema").and_then(|s| s.get("schema"));
            let Some(mut schema) = schema.cloned() else {
                return Err(bad("response_format", "json_schema needs json_schema.schema"));
            };
            if let Some(map) = schema.as_object_mut() {
                map.entry("additionalProperties").or_insert(Value::Bool(false));
            }
            body.insert("output_format".into(), json!({ "type": "json_schema", "schema": schema }));
            Ok(Some(STRUCTURED_OUTPUTS_BETA))
        }
        _ => Err(bad("response_format", "anthropic/ deployments take type text or json_schema")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The translated body, read back as a tree.
    struct Got {
        body: Value,
        beta: Option<&'static str>,
    }

    fn translated(request: &str) -> Result<Got, Error> {
        let fields = Fields::parse(&bytes::Bytes::from(request.to_owned())).unwrap_or_else(|e| panic!("{e}"));
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
        let out = translate(fields, "claude-sonnet-4-5", None, false, &mut charge)?;
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
        let known =
            translate(fields, "claude-sonnet-4-5", Some(64_000), false, &mut charge).unwrap_or_else(|e| panic!("{e}"));
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
}
