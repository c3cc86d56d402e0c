//! Anthropic Messages request → OpenAI chat request, pure: `system` blocks → a system
//! message; text, image, `tool_use` and `tool_result` blocks → OpenAI messages with
//! `tool_calls` and `role: tool`; `tools` → function tools (`input_schema` as `parameters`);
//! `tool_choice`; `stop_sequences` → `stop`; `metadata.user_id` → `user`; sampling
//! parameters and `stream` as they are. The chat request goes on through the deployment's
//! own chat path (`provider::call`).

use serde_json::{Map, Value, json};

/// Anthropic fields that mean the same in OpenAI's chat API.
const SAME: &[&str] = &["max_tokens", "temperature", "top_p", "stream"];

/// Translates a Messages request body (a JSON object); `Err` names what is wrong.
pub fn to_chat(request: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut chat = Map::new();
    if let Some(model) = request.get("model") {
        chat.insert("model".into(), model.clone());
    }
    let mut messages = Vec::new();
    if let Some(system) = request.get("system").filter(|v| !v.is_null()) {
        messages.push(json!({ "role": "system", "content": text_of(system) }));
    }
    let Some(turns) = request.get("messages").and_then(Value::as_array) else {
        return Err("'messages' must be a list".into());
    };
    for turn in turns {
        turn_messages(turn, &mut messages)?;
    }
    chat.insert("messages".into(), Value::Array(messages));
    for key in SAME {
        if let Some(value) = request.get(*key).filter(|v| !v.is_null()) {
            chat.insert((*key).to_owned(), value.clone());
        }
    }
    if let Some(stop) = request.get("stop_sequences").filter(|v| v.as_array().is_some_and(|a| !a.is_empty())) {
        chat.insert("stop".into(), stop.clone());
    }
    if let Some(user) = request.get("metadata").and_then(|m| m.get("user_id")).filter(|v| v.is_string()) {
        chat.insert("user".into(), user.clone());
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty()) {
        chat.insert("tools".into(), Value::Array(tools.iter().map(tool).collect()));
    }
    if let Some(choice) = request.get("tool_choice").filter(|v| v.is_object()) {
        if let Some(mapped) = tool_choice(choice) {
            chat.insert("tool_choice".into(), mapped);
        }
        if choice.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            chat.insert("parallel_tool_calls".into(), Value::Bool(false));
        }
    }
    Ok(chat)
}

/// The text of a string or of a list of blocks' `text`, joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

/// One Anthropic turn as OpenAI messages: tool results first (each its own `tool`
/// message), then the turn's other content.
fn turn_messages(turn: &Value, out: &mut Vec<Value>) -> Result<(), String> {
    let role = turn.get("role").and_then(Value::as_str).ok_or("each message needs a role")?;
    let content = turn.get("content").unwrap_or(&Value::Null);
    let Some(blocks) = content.as_array() else {
        out.push(json!({ "role": role, "content": content }));
        return Ok(());
    };
    let (mut parts, mut calls) = (Vec::new(), Vec::new());
    for block in blocks {
        let field = |key: &str| block.get(key).cloned().unwrap_or(Value::Null);
        match block.get("type").and_then(Value::as_str).unwrap_or_default() {
            "text" => parts.push(json!({ "type": "text", "text": field("text") })),
            "image" => parts.extend(image(block)),
            "tool_use" => calls.push(json!({
                "id": field("id"), "type": "function",
                "function": { "name": field("name"), "arguments": block.get("input").map_or_else(|| "{}".into(), Value::to_string) },
            })),
            "tool_result" => out.push(json!({
                "role": "tool", "tool_call_id": field("tool_use_id"),
                "content": text_of(block.get("content").unwrap_or(&Value::Null)),
            })),
            _ => {}
        }
    }
    if parts.is_empty() && calls.is_empty() {
        return Ok(());
    }
    let all_text = parts.iter().all(|p| p["type"] == "text");
    let content = if role == "assistant" || all_text {
        Value::String(parts.iter().filter_map(|p| p["text"].as_str()).collect())
    } else {
        Value::Array(parts)
    };
    let mut message = json!({ "role": role, "content": content });
    if !calls.is_empty() {
        if message["content"] == "" {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(calls);
    }
    out.push(message);
    Ok(())
}

/// An image block as an `image_url` part: base64 data as a data URI, a URL as it is.
fn image(block: &Value) -> Option<Value> {
    let source = block.get("source")?;
    let url = match source.get("type").and_then(Value::as_str)? {
        "base64" => format!(
            "data:{};base64,{}",
            source.get("media_type").and_then(Value::as_str)?,
            source.get("data").and_then(Value::as_str)?
        ),
        "url" => source.get("url").and_then(Value::as_str)?.to_owned(),
        _ => return None,
    };
    Some(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// An Anthropic tool as an OpenAI function tool.
fn tool(tool: &Value) -> Value {
    let mut function = json!({ "name": tool.get("name").cloned().unwrap_or(Value::Null) });
    if let Some(description) = tool.get("description").filter(|v| v.is_string()) {
        function["description"] = description.clone();
    }
    function["parameters"] = tool.get("input_schema").cloned().unwrap_or_else(|| json!({ "type": "object" }));
    json!({ "type": "function", "function": function })
}

/// `auto` → `"auto"`, `any` → `"required"`, `none` → `"none"`, `tool` → the named function.
fn tool_choice(choice: &Value) -> Option<Value> {
    Some(match choice.get("type").and_then(Value::as_str)? {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => json!({ "type": "function", "function": { "name": choice.get("name")? } }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap_or_default()
    }

    #[test]
    fn tool_round_trip_request_matches_the_golden_chat_request() {
        let got = to_chat(&object(include_str!("../../../tests/fixtures/messages/request.anthropic.json")));
        let want = object(include_str!("../../../tests/fixtures/messages/request.openai.json"));
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn plain_text_and_choices_map() {
        let got = to_chat(&object(
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"Hi"}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}"#,
        ))
        .unwrap_or_default();
        assert_eq!(got["messages"], json!([{ "role": "user", "content": "Hi" }]));
        assert_eq!(got["tool_choice"], "required");
        assert_eq!(got["parallel_tool_calls"], false);
        assert!(to_chat(&object(r#"{"model":"m","messages":{}}"#)).is_err());
    }
}
