//! OpenAI chat request → Gemini `generateContent` request, pure: system messages to
//! `system_instruction`, roles to `user`/`model`, data-URI images to `inline_data`, tool
//! calls to `function_call` (with the thought signature their id carries) and tool
//! results to `function_response` (the function's name looked up from the call), tools to `function_declarations` (schemas through
//! `gemini::schema`), `tool_choice` to `toolConfig`, sampling and output parameters to
//! `generationConfig`. The result goes back to `gemini::forward`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::response::THOUGHT_SIGNATURE_SEPARATOR;
use super::schema;
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Member};
use crate::provider::list::{self, Turns};
use crate::provider::translate::{bad, call_arguments, data_uri, object, take, take_url};
use crate::upstream::{Builder, Outgoing};

/// Thinking budgets LiteLLM uses for `reasoning_effort`.
const THINKING_BUDGETS: &[(&str, u64)] = &[("low", 1024), ("medium", 2048), ("high", 4096)];
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
    let Some(messages) = fields.remove("messages").filter(|m| !m.is_null()) else {
        return Err(bad("messages", "must be a list of messages"));
    };
    let mut out = Builder::default();
    out.bytes(b"{");
    out.key("contents");
    let system = conversation(messages, &mut out, charge)?;
    let mut body = Map::new();
    if !system.is_empty() {
        body.insert("system_instruction".into(), object([("parts", Value::Array(system))]));
    }
    tools(&mut fields, &mut body)?;
    let mut config = generation(&mut fields)?;
    for key in ["model", "stream", "stream_options", "parallel_tool_calls"] {
        fields.remove(key);
    }
    let mut top = Vec::new();
    for (key, member) in fields.into_members() {
        if TOP_LEVEL.contains(&key.as_str()) {
            top.push((key, member));
        } else if !config.contains_key(&key) {
            // The client's parameters are valid JSON, so parsing them cannot fail.
            config.insert(key, member.into_value().unwrap_or_default());
        }
    }
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    for (key, value) in body {
        out.bytes(b",");
        out.key(&key);
        out.json(value);
    }
    for (key, member) in top {
        out.bytes(b",");
        out.key(&key);
        out.member(member);
    }
    out.bytes(b"}");
    Ok(out.build())
}

/// Writes the contents `messages` make into `out` (adjacent turns of a role merged) and
/// returns the system parts.
fn conversation(messages: Member, out: &mut Builder, charge: &mut Charge) -> Result<Vec<Value>, Error> {
    let mut system = Vec::new();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut contents = Turns::start("parts", out);
    list::each(
        messages,
        out,
        charge,
        || bad("messages", "must be a list of messages"),
        |mut message, out| {
            let content = message.get_mut("content").map_or(Value::Null, Value::take);
            let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
            let (role, parts) = match role {
                "system" | "developer" => {
                    system.extend(parts(content)?);
                    return Ok(());
                }
                "user" => ("user", parts(content)?),
                "assistant" => ("model", assistant(&message, content, &mut names)?),
                "tool" | "function" => ("user", vec![function_response(&message, content, &names)?]),
                other => return Err(bad("messages", format!("unknown role {other:?}"))),
            };
            contents.push(role, parts, out);
            Ok(())
        },
    )?;
    contents.finish(out);
    Ok(system)
}

/// A message's content as Gemini parts (none for an empty string).
fn parts(content: Value) -> Result<Vec<Value>, Error> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![object([("text", Value::String(text))])]),
        Value::Array(items) => items.into_iter().map(part).collect(),
        _ => Err(bad("messages", "content must be a string or a list of parts")),
    }
}

/// One content part; its text and data move into the Gemini part rather than being copied.
fn part(mut item: Value) -> Result<Value, Error> {
    let url = match item.get("type").and_then(Value::as_str) {
        Some("text") => return Ok(object([("text", item.get_mut("text").map(Value::take).unwrap_or_default())])),
        Some("image_url") => take_url(item.get_mut("image_url"), "url"),
        Some("file") => match item.get_mut("file").and_then(|f| f.get_mut("file_data")).map(Value::take) {
            Some(Value::String(data)) => Some(data),
            _ => None,
        },
        _ => return Ok(item),
    };
    let Some(Ok((mime_type, data))) = url.map(data_uri) else {
        return Err(bad("messages", "gemini/ deployments take images and files as base64 data: URIs"));
    };
    let inline = object([("mime_type", Value::String(mime_type)), ("data", Value::String(data))]);
    Ok(object([("inline_data", inline)]))
}

/// An assistant message: its text, then a `function_call` per tool call, remembering each
/// call's function name for the tool message that answers it.
fn assistant(message: &Value, content: Value, names: &mut HashMap<String, String>) -> Result<Vec<Value>, Error> {
    let mut out = parts(content)?;
    let calls = message.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for call in calls {
        let function = call.get("function").unwrap_or(&Value::Null);
        let name = function.get("name").and_then(Value::as_str).unwrap_or_default();
        let args = call_arguments(function)?;
        let id = call.get("id").and_then(Value::as_str);
        if let Some(id) = id {
            names.insert(id.to_owned(), name.to_owned());
        }
        let mut part = object([("function_call", object([("name", name.into()), ("args", args)]))]);
        let signature = id.and_then(|id| id.split_once(THOUGHT_SIGNATURE_SEPARATOR)).map(|(_, signature)| signature);
        let signature =
            signature.or_else(|| call.pointer("/provider_specific_fields/thought_signature").and_then(Value::as_str));
        if let Some(signature) = signature.filter(|s| !s.is_empty()) {
            part["thought_signature"] = json!(signature);
        }
        out.push(part);
    }
    Ok(out)
}

/// A tool message as a `function_response` naming the function its call named.
fn function_response(message: &Value, content: Value, names: &HashMap<String, String>) -> Result<Value, Error> {
    let id = message.get("tool_call_id").and_then(Value::as_str);
    let name =
        id.and_then(|id| names.get(id)).map(String::as_str).or_else(|| message.get("name").and_then(Value::as_str));
    let Some(name) = name else {
        return Err(bad("messages", "a tool message's tool_call_id names no earlier tool call"));
    };
    let content = match content {
        Value::Array(items) => {
            Value::String(items.iter().filter_map(|i| i.get("text").and_then(Value::as_str)).collect::<String>())
        }
        Value::Null => Value::String(String::new()),
        other => other,
    };
    let response = object([("name", name.into()), ("response", object([("content", content)]))]);
    Ok(object([("function_response", response)]))
}

/// `tools`, `web_search_options` and `tool_choice`.
fn tools(fields: &mut Fields, body: &mut Map<String, Value>) -> Result<(), Error> {
    let mut declarations = Vec::new();
    let mut native = Vec::new();
    if let Some(tools) = take(fields, "tools") {
        let Value::Array(tools) = tools else { return Err(bad("tools", "must be a list")) };
        for tool in tools {
            if tool.get("type").and_then(Value::as_str) != Some("function") {
                native.push(tool);
                continue;
            }
            let Some(function) = tool.get("function") else {
                return Err(bad("tools", "a function tool needs function"));
            };
            let mut declaration = json!({ "name": function.get("name").cloned().unwrap_or_default() });
            if let Some(description) = function.get("description") {
                declaration["description"] = description.clone();
            }
            if let Some(parameters) = function.get("parameters") {
                declaration["parameters"] = schema::convert(parameters.clone());
            }
            declarations.push(declaration);
        }
    }
    if take(fields, "web_search_options").is_some() {
        native.push(json!({ "googleSearch": {} }));
    }
    if !declarations.is_empty() {
        native.insert(0, object([("function_declarations", Value::Array(declarations))]));
    }
    if !native.is_empty() {
        body.insert("tools".into(), Value::Array(native));
    }
    let config = match take(fields, "tool_choice") {
        None => return Ok(()),
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => json!({ "mode": "AUTO" }),
            "required" => json!({ "mode": "ANY" }),
            "none" => json!({ "mode": "NONE" }),
            _ => return Err(bad("tool_choice", "must be auto, required, none or a function")),
        },
        Some(named) => {
            let name = named.get("function").and_then(|f| f.get("name")).and_then(Value::as_str);
            let Some(name) = name else { return Err(bad("tool_choice", "a named choice needs function.name")) };
            json!({ "mode": "ANY", "allowed_function_names": [name] })
        }
    };
    body.insert("toolConfig".into(), json!({ "functionCallingConfig": config }));
    Ok(())
}

/// `generationConfig` from the sampling and output parameters.
fn generation(fields: &mut Fields) -> Result<Map<String, Value>, Error> {
    let mut config = Map::new();
    for (from, to) in GENERATION {
        if let Some(value) = take(fields, from) {
            config.insert((*to).to_owned(), value);
        }
    }
    if let Some(stop) = take(fields, "stop") {
        config.insert("stop_sequences".into(), if stop.is_string() { json!([stop]) } else { stop });
    }
    let completion = take(fields, "max_completion_tokens");
    if let Some(max) = completion.or(take(fields, "max_tokens")) {
        config.insert("max_output_tokens".into(), max);
    }
    if let Some(effort) = take(fields, "reasoning_effort") {
        let budget = THINKING_BUDGETS.iter().find(|(name, _)| effort.as_str() == Some(name));
        let Some((_, budget)) = budget else { return Err(bad("reasoning_effort", "must be low, medium or high")) };
        config.insert("thinkingConfig".into(), json!({ "thinkingBudget": budget, "includeThoughts": true }));
    }
    if let Some(format) = take(fields, "response_format") {
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                config.insert("response_mime_type".into(), json!("application/json"));
            }
            Some("json_schema") => {
                let Some(found) = format.get("json_schema").and_then(|s| s.get("schema")) else {
                    return Err(bad("response_format", "json_schema needs json_schema.schema"));
                };
                config.insert("response_mime_type".into(), json!("application/json"));
                config.insert("response_schema".into(), schema::convert(found.clone()));
            }
            _ => return Err(bad("response_format", "must be of type text, json_object or json_schema")),
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
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
}
