//! Anthropic Messages request → OpenAI chat request, pure: `system` blocks → a system
//! message; text, image, `tool_use` and `tool_result` blocks → OpenAI messages with
//! `tool_calls` and `role: tool`; `tools` → function tools (`input_schema` as `parameters`);
//! `tool_choice`; `stop_sequences` → `stop`; `metadata.user_id` → `user`; sampling
//! parameters and `stream` as they are. The chat request goes on through the deployment's
//! own chat path (`provider::call`).

use serde_json::{Map, Value, json};

use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Mapped, Member};
use crate::provider::list::{self, Built};
use crate::provider::translate::object;
use crate::route::Api;

/// Anthropic fields that mean the same in OpenAI's chat API.
const SAME: &[&str] = &["max_tokens", "temperature", "top_p", "stream"];

/// A 400 naming `messages`.
fn bad(reason: impl Into<String>) -> Error {
    Error::BadParam { route: Api::Messages.route(), param: "messages", reason: reason.into() }
}

/// How the chat request carries the client's turns as chat messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Messages {
    /// Written out now, for a provider that sends the chat request as it is.
    Written,
    /// Mapped one turn at a time as the provider's own translation reads them
    /// (`parse::Mapped`), so no chat text is written only to be parsed again.
    Mapped,
}

/// Translates a Messages request's members, taking them apart: `messages` one turn at a
/// time, written into a built list (`charge` following what it holds) or mapped where it
/// is read; strings moved rather than copied, parameters that mean the same kept as the
/// client's text.
pub fn to_chat(mut request: Fields, charge: &mut Charge, how: Messages) -> Result<Fields, Error> {
    let mut chat = Fields::default();
    if let Some(model) = request.remove("model") {
        chat.insert_member("model", model);
    }
    let system = request
        .take("system")
        .map(|system| object([("role", "system".into()), ("content", Value::String(text_of(system)))]));
    let not_a_list = || bad("'messages' must be a list");
    let turns = request.remove("messages").ok_or_else(not_a_list)?;
    let messages = match (how, turns) {
        (Messages::Mapped, Member::Raw(raw)) => {
            if raw.first() != Some(&b'[') {
                return Err(not_a_list());
            }
            Member::Mapped(Mapped { head: system.into_iter().collect(), raw, map: turn_map })
        }
        (_, turns) => {
            let mut messages = Built::default();
            if let Some(system) = system {
                messages.push(system);
            }
            let mut mapped = Vec::new();
            list::each(turns, &mut messages, charge, not_a_list, |turn, out| {
                turn_messages(turn, &mut mapped)?;
                mapped.drain(..).for_each(|message| out.push(message));
                Ok(())
            })?;
            messages.finish()
        }
    };
    chat.insert_member("messages", messages);
    for key in SAME {
        if let Some(value) = request.remove(key).filter(|m| !m.is_null()) {
            chat.insert_member(key, value);
        }
    }
    let mut set = |key: &str, value: Value| chat.insert_member(key, Member::Tree(value));
    if let Some(stop) = request.take("stop_sequences").filter(|v| v.as_array().is_some_and(|a| !a.is_empty())) {
        set("stop", stop);
    }
    if let Some(user) = request.take("metadata").and_then(|mut m| m.get_mut("user_id").map(Value::take)) {
        if user.is_string() {
            set("user", user);
        }
    }
    if let Some(Value::Array(tools)) = request.take("tools").filter(|t| t.as_array().is_some_and(|t| !t.is_empty())) {
        set("tools", Value::Array(tools.iter().map(tool).collect()));
    }
    if let Some(choice) = request.take("tool_choice").filter(Value::is_object) {
        if let Some(mapped) = tool_choice(&choice) {
            set("tool_choice", mapped);
        }
        if choice.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            set("parallel_tool_calls", Value::Bool(false));
        }
    }
    Ok(chat)
}

/// The text of a string or of a list of blocks' `text`, joined.
fn text_of(content: Value) -> String {
    match content {
        Value::String(text) => text,
        Value::Array(blocks) => joined(blocks),
        _ => String::new(),
    }
}

/// The `text` of `parts`, joined: a lone text moves rather than being copied.
fn joined(parts: Vec<Value>) -> String {
    let mut texts = parts.into_iter().filter_map(|mut part| match part.get_mut("text").map(Value::take) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    });
    let first = texts.next().unwrap_or_default();
    texts.fold(first, |mut all, text| {
        all.push_str(&text);
        all
    })
}

/// [`turn_messages`] as a `parse::MapFn`: a turn keeps nothing back for the next.
fn turn_map(turn: Value, _kept: &mut Option<Value>, out: &mut Vec<Value>) -> Result<(), Error> {
    turn_messages(turn, out)
}

/// One Anthropic turn as OpenAI messages: tool results first (each its own `tool`
/// message), then the turn's other content.
fn turn_messages(turn: Value, out: &mut Vec<Value>) -> Result<(), Error> {
    let needs_role = || bad("each message needs a role");
    let Value::Object(mut turn) = turn else { return Err(needs_role()) };
    let role = turn.get("role").and_then(Value::as_str).ok_or_else(needs_role)?.to_owned();
    let content = turn.remove("content").unwrap_or(Value::Null);
    let Value::Array(blocks) = content else {
        out.push(object([("role", Value::String(role)), ("content", content)]));
        return Ok(());
    };
    let (mut parts, mut calls) = (Vec::new(), Vec::new());
    for block in blocks {
        let Value::Object(mut block) = block else { continue };
        let kind = field(&mut block, "type");
        match kind.as_str().unwrap_or_default() {
            "text" => parts.push(object([("type", "text".into()), ("text", field(&mut block, "text"))])),
            "image" => parts.extend(image(field(&mut block, "source"))),
            "tool_use" => {
                let arguments = block.remove("input").map_or_else(|| "{}".into(), |input| input.to_string());
                let function = object([("name", field(&mut block, "name")), ("arguments", Value::String(arguments))]);
                calls.push(object([
                    ("id", field(&mut block, "id")),
                    ("type", "function".into()),
                    ("function", function),
                ]));
            }
            "tool_result" => out.push(object([
                ("role", "tool".into()),
                ("tool_call_id", field(&mut block, "tool_use_id")),
                ("content", Value::String(text_of(field(&mut block, "content")))),
            ])),
            _ => {}
        }
    }
    if parts.is_empty() && calls.is_empty() {
        return Ok(());
    }
    let all_text = parts.iter().all(|p| p["type"] == "text");
    let content = if role == "assistant" || all_text { Value::String(joined(parts)) } else { Value::Array(parts) };
    let mut message = object([("role", Value::String(role)), ("content", content)]);
    if !calls.is_empty() {
        if message["content"] == "" {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(calls);
    }
    out.push(message);
    Ok(())
}

/// A block's member, taken out (null when absent).
fn field(block: &mut Map<String, Value>, key: &str) -> Value {
    block.remove(key).unwrap_or(Value::Null)
}

/// An image block's `source` as an `image_url` part: base64 data as a data URI (the data
/// moved, the prefix put in front of it), a URL as it is.
fn image(mut source: Value) -> Option<Value> {
    let url = match source.get("type").and_then(Value::as_str)? {
        "base64" => {
            let prefix = format!("data:{};base64,", source.get("media_type").and_then(Value::as_str)?);
            let Value::String(mut data) = source.get_mut("data")?.take() else { return None };
            data.insert_str(0, &prefix);
            data
        }
        "url" => {
            let Value::String(url) = source.get_mut("url")?.take() else { return None };
            url
        }
        _ => return None,
    };
    Some(object([("type", "image_url".into()), ("image_url", object([("url", Value::String(url))]))]))
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

    /// The chat request `text` (a Messages body) becomes, read back as a tree.
    fn chat(text: &str) -> Result<Value, Error> {
        chat_as(text, Messages::Written)
    }

    fn chat_as(text: &str, how: Messages) -> Result<Value, Error> {
        let fields = Fields::parse(&bytes::Bytes::from(text.to_owned())).unwrap_or_default();
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
        to_chat(fields, &mut charge, how).map(|chat| serde_json::from_slice(&chat.to_json()).unwrap_or_default())
    }

    /// The chat messages a translation walking `messages` is handed.
    fn walked(text: &str, how: Messages) -> Result<Vec<Value>, Error> {
        let fields = Fields::parse(&bytes::Bytes::from(text.to_owned())).unwrap_or_default();
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
        let mut chat = to_chat(fields, &mut charge, how)?;
        let messages = chat.remove("messages").unwrap_or(Member::Tree(Value::Null));
        let (mut seen, mut sink) = (Vec::new(), Built::default());
        list::each(
            messages,
            &mut sink,
            &mut charge,
            || bad("not a list"),
            |message, _| {
                seen.push(message);
                Ok(())
            },
        )?;
        Ok(seen)
    }

    #[test]
    fn mapped_turns_walk_as_the_written_messages_read() {
        let golden = include_str!("../../../tests/fixtures/messages/request.anthropic.json");
        let mapped = walked(golden, Messages::Mapped).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Some(&Value::Array(mapped.clone())), chat(golden).ok().as_ref().and_then(|c| c.get("messages")));
        assert_eq!(
            Some(&Value::Array(mapped)),
            chat_as(golden, Messages::Mapped).ok().as_ref().and_then(|c| c.get("messages"))
        );
        let not_a_list = chat_as(r#"{"model":"m","messages":{}}"#, Messages::Mapped).err();
        assert_eq!(
            not_a_list.map(|e| e.to_string()),
            chat(r#"{"model":"m","messages":{}}"#).err().map(|e| e.to_string())
        );
        let roleless = walked(r#"{"model":"m","messages":[{"content":"x"}]}"#, Messages::Mapped).err();
        assert_eq!(
            roleless.map(|e| e.to_string()),
            chat(r#"{"model":"m","messages":[{"content":"x"}]}"#).err().map(|e| e.to_string())
        );
    }

    #[test]
    fn tool_round_trip_request_matches_the_golden_chat_request() {
        let got = chat(include_str!("../../../tests/fixtures/messages/request.anthropic.json")).ok();
        let want = serde_json::from_str::<Value>(include_str!("../../../tests/fixtures/messages/request.openai.json"));
        assert_eq!(got, want.ok());
    }

    #[test]
    fn plain_text_and_choices_map() {
        let got = chat(
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"Hi"}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}"#,
        )
        .unwrap_or_default();
        assert_eq!(got["messages"], json!([{ "role": "user", "content": "Hi" }]));
        assert_eq!(got["tool_choice"], "required");
        assert_eq!(got["parallel_tool_calls"], false);
        assert!(chat(r#"{"model":"m","messages":{}}"#).is_err());
    }
}
