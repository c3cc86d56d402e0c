//! OpenAI chat request → Bedrock Converse request, pure, as LiteLLM's
//! `AmazonConverseConfig` does it: system and developer messages to `system`, content parts
//! to content blocks (data-URI images and documents as bytes; a URL is refused, the gateway
//! fetches nothing), tool calls and results to `toolUse` and `toolResult` (adjacent turns of
//! a role merged, so a run of tool results is one user turn), `tools`/`tool_choice` to
//! `toolConfig`, `max_tokens`/`temperature`/`top_p`/`stop` to `inferenceConfig`, thinking,
//! `top_k` and the model's own fields to `additionalModelRequestFields`, and a
//! `response_format` schema to a forced tool. The body goes back to `bedrock::forward`.

use serde_json::{Map, Value, json};

use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Member};
use crate::provider::anthropic::request::DEFAULT_MAX_TOKENS;
use crate::provider::list::{self, Turns};
use crate::provider::translate::{bad, call_arguments, data_uri, object, take, take_url};
use crate::upstream::{self, Builder};

/// The tool `response_format` becomes when its schema names none (LiteLLM's name).
pub const JSON_TOOL: &str = "json_tool_call";
/// Thinking budgets LiteLLM uses for `reasoning_effort` (as for Anthropic).
const THINKING_BUDGETS: &[(&str, u64)] = &[("low", 1024), ("medium", 2048), ("high", 4096)];
/// Top-level Converse members a request may set itself.
const CONFIG_BLOCKS: &[&str] = &["guardrailConfig", "performanceConfig", "promptVariables", "requestMetadata"];

/// The Converse body and whether the reply's one tool call is the JSON answer.
#[derive(Debug)]
pub struct Outgoing {
    pub body: upstream::Outgoing,
    pub json_mode: bool,
}

/// Translates the chat `fields` for `model` (its family decides where `top_k` goes);
/// `drop_params` drops what Bedrock cannot take instead of refusing it.
pub fn translate(mut fields: Fields, model: &str, drop_params: bool, charge: &mut Charge) -> Result<Outgoing, Error> {
    let Some(messages) = fields.remove("messages").filter(|m| !m.is_null()) else {
        return Err(bad("messages", "must be a list of messages"));
    };
    let mut out = Builder::default();
    out.bytes(b"{");
    out.key("messages");
    let system = conversation(messages, &mut out, charge)?;
    for key in ["stream", "stream_options"] {
        fields.remove(key);
    }
    let mut body = Map::new();
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut additional = Map::new();
    let mut inference = inference_config(&mut fields);
    thinking(&mut fields, &mut additional)?;
    if let Some(top_k) = take(&mut fields, "top_k") {
        top_k_for(model, top_k, &mut additional);
    }
    let mut tools = tool_list(&mut fields)?;
    let mut choice = tool_choice(&mut fields, drop_params)?;
    let json_mode = response_format(&mut fields, &mut tools, &mut choice, additional.contains_key("thinking"))?;
    let budget = additional.get("thinking").and_then(|t| t.get("budget_tokens")).and_then(Value::as_u64);
    if let (Some(budget), None) = (budget, inference.get("maxTokens")) {
        inference.insert("maxTokens".into(), json!(DEFAULT_MAX_TOKENS + budget));
    }
    if !tools.is_empty() {
        let mut config = object([("tools", Value::Array(tools))]);
        if let (Some(choice), Some(map)) = (choice, config.as_object_mut()) {
            map.insert("toolChoice".into(), choice);
        }
        body.insert("toolConfig".into(), config);
    }
    for key in CONFIG_BLOCKS {
        if let Some(value) = take(&mut fields, key) {
            body.insert((*key).to_owned(), value);
        }
    }
    // Every other field is the model's own (`top_k` of other families, ...).
    for (key, member) in fields.into_members() {
        additional.insert(key.clone(), member_value(member)?);
    }
    body.insert("inferenceConfig".into(), Value::Object(inference));
    if !additional.is_empty() {
        body.insert("additionalModelRequestFields".into(), Value::Object(additional));
    }
    for (key, value) in &mut body {
        out.bytes(b",");
        out.key(key);
        out.json(value.take());
    }
    out.bytes(b"}");
    Ok(Outgoing { body: out.build(), json_mode })
}

fn member_value(member: Member) -> Result<Value, Error> {
    match member {
        Member::Tree(value) => Ok(value),
        Member::Raw(raw) => serde_json::from_slice(&raw).map_err(|e| Error::BadJson(e.to_string())),
        Member::List(_) => Err(bad("messages", "a list field cannot be passed to Bedrock")),
    }
}

/// `maxTokens`, `temperature`, `topP`, `stopSequences`.
fn inference_config(fields: &mut Fields) -> Map<String, Value> {
    let mut config = Map::new();
    let completion = take(fields, "max_completion_tokens");
    if let Some(max) = completion.or_else(|| take(fields, "max_tokens")) {
        config.insert("maxTokens".into(), max);
    }
    fields.remove("max_tokens");
    if let Some(temperature) = take(fields, "temperature") {
        config.insert("temperature".into(), temperature);
    }
    if let Some(top_p) = take(fields, "top_p") {
        config.insert("topP".into(), top_p);
    }
    match take(fields, "stop") {
        Some(Value::String(stop)) if stop.is_empty() => {}
        Some(Value::String(stop)) => {
            config.insert("stopSequences".into(), json!([stop]));
        }
        Some(stop) => {
            config.insert("stopSequences".into(), stop);
        }
        None => {}
    }
    config
}

/// `thinking` as given, else `reasoning_effort` as Anthropic's thinking budget.
fn thinking(fields: &mut Fields, additional: &mut Map<String, Value>) -> Result<(), Error> {
    let effort = take(fields, "reasoning_effort");
    if let Some(thinking) = take(fields, "thinking") {
        additional.insert("thinking".into(), thinking);
        return Ok(());
    }
    if let Some(effort) = effort {
        let budget = THINKING_BUDGETS.iter().find(|(name, _)| effort.as_str() == Some(name));
        let Some((_, budget)) = budget else { return Err(bad("reasoning_effort", "must be low, medium or high")) };
        additional.insert("thinking".into(), json!({ "type": "enabled", "budget_tokens": budget }));
    }
    Ok(())
}

/// `top_k`: Anthropic models take it as `top_k`, Nova as `inferenceConfig.topK` (both in
/// `additionalModelRequestFields`); other families get it as the client wrote it.
fn top_k_for(model: &str, top_k: Value, additional: &mut Map<String, Value>) {
    let base = base_model(model);
    if base.starts_with("amazon.nova") {
        additional.insert("inferenceConfig".into(), json!({ "topK": top_k }));
    } else {
        additional.insert("top_k".into(), top_k);
    }
}

/// The model id without its ARN and cross-region prefix (`us.anthropic.…` → `anthropic.…`).
pub fn base_model(model: &str) -> &str {
    const REGIONS: &[&str] = &["us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca."];
    let model = model.rsplit('/').next().unwrap_or(model);
    REGIONS.iter().find_map(|r| model.strip_prefix(r)).unwrap_or(model)
}

/// Writes the turns of `messages` into `out` and returns the system blocks.
fn conversation(messages: Member, out: &mut Builder, charge: &mut Charge) -> Result<Vec<Value>, Error> {
    let mut system = Vec::new();
    let mut turns = Turns::start("content", out);
    let mut documents = 0usize;
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
                    system.extend(
                        blocks(content, &mut documents)?
                            .into_iter()
                            .filter(|b| b.get("text").is_some() || b.get("cachePoint").is_some()),
                    );
                    return Ok(());
                }
                "user" => ("user", blocks(content, &mut documents)?),
                "assistant" => ("assistant", assistant(&message, content, &mut documents)?),
                "tool" | "function" => ("user", vec![tool_result(&message, content, &mut documents)?]),
                other => return Err(bad("messages", format!("unknown role {other:?}"))),
            };
            turns.push(role, blocks, out);
            Ok(())
        },
    )?;
    turns.finish(out);
    Ok(system)
}

/// A message's content as Converse blocks (a string is one text block, none when empty);
/// a part with `cache_control` is followed by a cache point.
fn blocks(content: Value, documents: &mut usize) -> Result<Vec<Value>, Error> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![object([("text", Value::String(text))])]),
        Value::Array(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for part in parts {
                let cache = part.get("cache_control").is_some();
                if let Some(block) = self::part(part, documents)? {
                    out.push(block);
                }
                if cache {
                    out.push(json!({ "cachePoint": { "type": "default" } }));
                }
            }
            Ok(out)
        }
        _ => Err(bad("messages", "content must be a string or a list of parts")),
    }
}

/// One OpenAI content part as a Converse block; empty text is left out.
fn part(mut part: Value, documents: &mut usize) -> Result<Option<Value>, Error> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => match part.get_mut("text").map(Value::take) {
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(text @ Value::String(_)) => Ok(Some(object([("text", text)]))),
            _ => Err(bad("messages", "a text part needs text")),
        },
        Some("image_url") => {
            let Some(url) = take_url(part.get_mut("image_url"), "url") else {
                return Err(bad("messages", "image_url needs a url"));
            };
            let (media_type, data) = media(url)?;
            let format = media_type.strip_prefix("image/").unwrap_or(&media_type);
            let format = if format == "jpg" { "jpeg" } else { format };
            Ok(Some(json!({ "image": { "format": format, "source": { "bytes": data } } })))
        }
        Some("file") => {
            let data = part.get_mut("file").and_then(|f| f.get_mut("file_data")).map(Value::take);
            let Some(Value::String(data)) = data else { return Err(bad("messages", "file parts need file_data")) };
            let (media_type, data) = media(data)?;
            let format = document_format(&media_type);
            *documents += 1;
            let name = format!("document-{documents}");
            Ok(Some(json!({ "document": { "format": format, "name": name, "source": { "bytes": data } } })))
        }
        _ => Err(bad("messages", "bedrock/ deployments take text, image_url and file content parts")),
    }
}

/// A `data:` URI's media type and base64 data; a URL is refused (the gateway does not fetch).
fn media(url: String) -> Result<(String, String), Error> {
    data_uri(url).map_err(|url| {
        let shown: String = url.chars().take(80).collect();
        bad(
            "messages",
            format!(
                "bedrock/ deployments take images and files as base64 data: URIs; the gateway does not fetch URLs ({shown})"
            ),
        )
    })
}

/// Converse's document format for a media type (`application/pdf` → `pdf`).
fn document_format(media_type: &str) -> &str {
    match media_type {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/markdown" => "md",
        "text/plain" => "txt",
        other => other.rsplit('/').next().unwrap_or(other),
    }
}

/// An assistant message: its text, then a `toolUse` block per tool call.
fn assistant(message: &Value, content: Value, documents: &mut usize) -> Result<Vec<Value>, Error> {
    let mut out = blocks(content, documents)?;
    let calls = message.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for call in calls {
        let function = call.get("function").unwrap_or(&Value::Null);
        let input = call_arguments(function)?;
        out.push(json!({ "toolUse": {
            "toolUseId": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.get("name").cloned().unwrap_or(Value::Null),
            "input": input,
        }}));
    }
    Ok(out)
}

/// A `tool` message as a `toolResult` block.
fn tool_result(message: &Value, content: Value, documents: &mut usize) -> Result<Value, Error> {
    let content = match content {
        Value::String(text) => vec![object([("text", Value::String(text))])],
        Value::Null => vec![json!({ "text": "" })],
        other => blocks(other, documents)?.into_iter().filter(|b| b.get("cachePoint").is_none()).collect(),
    };
    let id = message.get("tool_call_id").or_else(|| message.get("name")).cloned().unwrap_or(Value::Null);
    Ok(json!({ "toolResult": { "toolUseId": id, "content": content } }))
}

/// `tools` as `toolSpec`s.
fn tool_list(fields: &mut Fields) -> Result<Vec<Value>, Error> {
    let Some(tools) = take(fields, "tools") else { return Ok(Vec::new()) };
    let Value::Array(tools) = tools else { return Err(bad("tools", "must be a list")) };
    tools
        .into_iter()
        .map(|tool| {
            let Some(function) = tool.get("function") else {
                return Err(bad("tools", "bedrock/ takes function tools"));
            };
            let Some(name) = function.get("name") else { return Err(bad("tools", "a function needs a name")) };
            let schema =
                function.get("parameters").cloned().unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
            Ok(spec(name.clone(), function.get("description").cloned(), schema))
        })
        .collect()
}

fn spec(name: Value, description: Option<Value>, schema: Value) -> Value {
    let mut spec = object([("name", name), ("inputSchema", object([("json", schema)]))]);
    if let (Some(description), Some(map)) = (description, spec.as_object_mut()) {
        map.insert("description".into(), description);
    }
    json!({ "toolSpec": spec })
}

/// `tool_choice`: `auto`, `required` (`any`) or a named function (`tool`); Bedrock has no
/// `none`, which is refused (dropped with `drop_params`), as LiteLLM does.
fn tool_choice(fields: &mut Fields, drop_params: bool) -> Result<Option<Value>, Error> {
    match take(fields, "tool_choice") {
        None => Ok(None),
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Ok(Some(json!({ "auto": {} }))),
            "required" => Ok(Some(json!({ "any": {} }))),
            "none" if drop_params => Ok(None),
            "none" => {
                Err(bad("tool_choice", "Bedrock has no tool_choice none; leave the tools out, or set drop_params"))
            }
            _ => Err(bad("tool_choice", "must be auto, required or a function")),
        },
        Some(named) => {
            let name = named.get("function").and_then(|f| f.get("name")).and_then(Value::as_str);
            let Some(name) = name else { return Err(bad("tool_choice", "a named choice needs function.name")) };
            Ok(Some(json!({ "tool": { "name": name } })))
        }
    }
}

/// `response_format`: `json_schema` and `json_object` become one more tool, forced unless
/// thinking is on (Bedrock refuses a forced tool with thinking); `text` needs nothing.
fn response_format(
    fields: &mut Fields,
    tools: &mut Vec<Value>,
    choice: &mut Option<Value>,
    thinking: bool,
) -> Result<bool, Error> {
    let Some(format) = take(fields, "response_format") else { return Ok(false) };
    let (name, schema, description) = match format.get("type").and_then(Value::as_str) {
        Some("text") => return Ok(false),
        Some("json_schema") => {
            let inner = format.get("json_schema").unwrap_or(&Value::Null);
            let schema = inner.get("schema").cloned();
            let name = inner.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or(JSON_TOOL);
            (name.to_owned(), schema, inner.get("description").cloned())
        }
        Some("json_object") => (JSON_TOOL.to_owned(), None, None),
        _ => return Err(bad("response_format", "must be text, json_object or json_schema")),
    };
    let schema = schema.unwrap_or_else(|| json!({ "type": "object", "additionalProperties": true, "properties": {} }));
    tools.push(spec(Value::String(name.clone()), description, schema));
    if !thinking {
        *choice = Some(json!({ "tool": { "name": name } }));
    }
    Ok(true)
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
