//! Responses input items → OpenAI chat messages, pure: `message` items (a developer
//! message as a system one) with their `input_text`, `input_image`, `input_file` and
//! `output_text` parts in chat's shape; consecutive `function_call` items (and the assistant
//! text before them) as one assistant message's `tool_calls`; `function_call_output` as a
//! `tool` message; `reasoning` items dropped, as one provider's thinking cannot be handed to
//! another. Items that need OpenAI's state or tools are refused. [`map`] is a
//! `parse::MapFn`: [`super::request`] writes the messages out with it, or hands it to the
//! provider's own translation to read the items through.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::request::bad;
use crate::error::Error;
use crate::provider::translate::object;

/// A chat message of `role` with `content`.
pub fn message(role: &str, content: Value) -> Value {
    object([("role", Value::String(role.to_owned())), ("content", content)])
}

/// A message item's or a tool output's content: a string or a list of parts.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Value>),
}

#[derive(Deserialize)]
struct MessageItem {
    role: String,
    content: Content,
}

#[derive(Deserialize)]
struct FunctionCall {
    call_id: String,
    name: String,
    arguments: String,
}

#[derive(Deserialize)]
struct FunctionCallOutput {
    call_id: String,
    output: Content,
}

/// One input item as the chat messages it becomes, pushed on `out` (a `parse::MapFn`). An
/// assistant message is kept back in `assistant`, for the `function_call` items after it to
/// join as its `tool_calls`; any other item pushes it first.
pub fn map(item: Value, assistant: &mut Option<Value>, out: &mut Vec<Value>) -> Result<(), Error> {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("message").to_owned();
    let typed = |e: serde_json::Error| bad("input", format!("a '{kind}' item: {e}"));
    match kind.as_str() {
        "message" => {
            let MessageItem { role, content } = serde_json::from_value(item).map_err(typed)?;
            out.extend(assistant.take());
            let role = match role.as_str() {
                "developer" => "system".to_owned(),
                "user" | "assistant" | "system" => role,
                _ => return Err(bad("input", format!("unknown message role '{role}'"))),
            };
            let content = match content {
                Content::Text(text) => Value::String(text),
                Content::Parts(parts) => parts_content(parts, role == "assistant")?,
            };
            if role == "assistant" {
                *assistant = Some(message(&role, content));
            } else {
                out.push(message(&role, content));
            }
        }
        "function_call" => {
            let FunctionCall { call_id, name, arguments } = serde_json::from_value(item).map_err(typed)?;
            let function = object([("name", Value::String(name)), ("arguments", Value::String(arguments))]);
            let call = object([("id", Value::String(call_id)), ("type", "function".into()), ("function", function)]);
            join(assistant, call);
        }
        "function_call_output" => {
            let FunctionCallOutput { call_id, output } = serde_json::from_value(item).map_err(typed)?;
            out.extend(assistant.take());
            let text = match output {
                Content::Text(text) => text,
                Content::Parts(parts) => joined(parts),
            };
            out.push(object([
                ("role", "tool".into()),
                ("tool_call_id", Value::String(call_id)),
                ("content", Value::String(text)),
            ]));
        }
        // The provider's reasoning cannot be handed back to another one: dropped.
        "reasoning" => {}
        "item_reference" => {
            return Err(bad("input", "an 'item_reference' needs stored responses; send the item itself"));
        }
        _ => return Err(bad("input", format!("'{kind}' items cannot be bridged to chat"))),
    }
    Ok(())
}

/// Adds `call` to the kept assistant message's `tool_calls` (one with no text when none is
/// kept); its empty text becomes `null`, as chat has it beside tool calls.
fn join(assistant: &mut Option<Value>, call: Value) {
    let mut message = match assistant.take() {
        Some(Value::Object(message)) => message,
        _ => Map::from_iter([("role".to_owned(), "assistant".into()), ("content".to_owned(), Value::Null)]),
    };
    if let Some(Value::Array(calls)) = message.get_mut("tool_calls") {
        calls.push(call);
    } else {
        if message.get("content").is_some_and(|c| c == "") {
            message.insert("content".into(), Value::Null);
        }
        message.insert("tool_calls".into(), Value::Array(vec![call]));
    }
    *assistant = Some(Value::Object(message));
}

/// The `text` of `parts` (`input_text`, `output_text`, `refusal`), joined; a lone text moves.
fn joined(parts: Vec<Value>) -> String {
    let mut texts = parts.into_iter().filter_map(|mut part| {
        let key = if part.get("type").and_then(Value::as_str) == Some("refusal") { "refusal" } else { "text" };
        match part.get_mut(key).map(Value::take) {
            Some(Value::String(text)) => Some(text),
            _ => None,
        }
    });
    let first = texts.next().unwrap_or_default();
    texts.fold(first, |mut all, text| {
        all.push_str(&text);
        all
    })
}

/// A message's parts as chat content: text joined into a string for an assistant or when
/// every part is text, else chat's parts (`text`, `image_url`, `file`).
fn parts_content(parts: Vec<Value>, assistant: bool) -> Result<Value, Error> {
    let is_text =
        |p: &Value| matches!(p.get("type").and_then(Value::as_str), Some("input_text" | "output_text" | "refusal"));
    if assistant || parts.iter().all(is_text) {
        return Ok(Value::String(joined(parts)));
    }
    parts.into_iter().map(part).collect::<Result<Vec<_>, _>>().map(Value::Array)
}

/// One content part in chat's shape.
fn part(part: Value) -> Result<Value, Error> {
    let Value::Object(mut part) = part else { return Err(bad("input", "each content part must be an object")) };
    let mut take = |key: &str| part.remove(key).filter(|v| !v.is_null());
    let kind = take("type").and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default();
    Ok(match kind.as_str() {
        "input_text" | "output_text" => object([("type", "text".into()), ("text", take("text").unwrap_or_default())]),
        "input_image" => {
            let Some(url) = take("image_url") else {
                return Err(bad("input", "an 'input_image' by file_id needs OpenAI's file store; send 'image_url'"));
            };
            let mut image = Map::new();
            image.insert("url".into(), url);
            if let Some(detail) = take("detail") {
                image.insert("detail".into(), detail);
            }
            object([("type", "image_url".into()), ("image_url", Value::Object(image))])
        }
        "input_file" => {
            let mut file = Map::new();
            for key in ["file_data", "file_id", "filename"] {
                if let Some(value) = take(key) {
                    file.insert(key.into(), value);
                }
            }
            if !file.contains_key("file_data") {
                return Err(bad("input", "an 'input_file' needs 'file_data' here (no file store)"));
            }
            object([("type", "file".into()), ("file", Value::Object(file))])
        }
        _ => return Err(bad("input", format!("'{kind}' content parts cannot be bridged to chat"))),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::list::Built;

    /// The input items read so far, written out into a built list as `request` does.
    #[derive(Default)]
    struct History {
        assistant: Option<Value>,
        mapped: Vec<Value>,
    }

    impl History {
        fn item(&mut self, item: Value, out: &mut Built) -> Result<(), Error> {
            map(item, &mut self.assistant, &mut self.mapped)?;
            self.mapped.drain(..).for_each(|message| out.push(message));
            Ok(())
        }

        fn flush(&mut self, out: &mut Built) {
            if let Some(assistant) = self.assistant.take() {
                out.push(assistant);
            }
        }
    }

    /// The chat messages `items` become, read back as trees.
    fn messages(items: Value) -> Result<Value, Error> {
        let mut history = History::default();
        let mut out = Built::default();
        let Value::Array(items) = items else { return Err(bad("input", "not a list")) };
        for item in items {
            history.item(item, &mut out)?;
        }
        history.flush(&mut out);
        Ok(out.finish().into_value().unwrap_or_default())
    }

    #[test]
    fn consecutive_calls_join_the_assistant_text_before_them() {
        let got = messages(json!([
            { "role": "developer", "content": "Be brief." },
            { "type": "message", "role": "assistant", "content": [{ "type": "output_text", "text": "Let me " }, { "type": "output_text", "text": "look." }] },
            { "type": "reasoning", "id": "rs_1", "summary": [] },
            { "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}" },
            { "type": "function_call", "call_id": "c2", "name": "g", "arguments": "{\"a\":1}" },
            { "type": "function_call_output", "call_id": "c1", "output": [{ "type": "input_text", "text": "one" }] },
            { "type": "function_call_output", "call_id": "c2", "output": "two" },
        ]));
        let call = |id: &str, name: &str, arguments: &str| json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } });
        let want = json!([
            { "role": "system", "content": "Be brief." },
            { "role": "assistant", "content": "Let me look.", "tool_calls": [call("c1", "f", "{}"), call("c2", "g", "{\"a\":1}")] },
            { "role": "tool", "tool_call_id": "c1", "content": "one" },
            { "role": "tool", "tool_call_id": "c2", "content": "two" },
        ]);
        assert_eq!(got.ok(), Some(want));
    }

    #[test]
    fn calls_without_text_have_null_content_and_parts_take_chat_shapes() {
        let got = messages(json!([
            { "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}" },
            { "role": "user", "content": [
                { "type": "input_text", "text": "What is this?" },
                { "type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low" },
                { "type": "input_file", "file_data": "data:application/pdf;base64,AA", "filename": "a.pdf" },
            ] },
        ]))
        .unwrap_or_default();
        assert_eq!(got[0]["content"], Value::Null, "{got}");
        assert_eq!(got[0]["tool_calls"][0]["id"], "c1");
        let parts = json!([
            { "type": "text", "text": "What is this?" },
            { "type": "image_url", "image_url": { "url": "data:image/png;base64,AA", "detail": "low" } },
            { "type": "file", "file": { "file_data": "data:application/pdf;base64,AA", "filename": "a.pdf" } },
        ]);
        assert_eq!(got[1], json!({ "role": "user", "content": parts }));
    }

    #[test]
    fn items_that_need_openai_are_400s_naming_input() {
        for item in [
            json!({ "role": "tool", "content": "x" }),
            json!({ "type": "function_call", "name": "f" }),
            json!({ "type": "item_reference", "id": "msg_1" }),
            json!({ "type": "web_search_call", "id": "ws_1" }),
            json!({ "role": "user", "content": [{ "type": "input_image", "file_id": "file_1" }] }),
            json!({ "role": "user", "content": [{ "type": "input_file", "file_id": "file_1" }] }),
            json!({ "role": "user", "content": [{ "type": "input_audio" }] }),
        ] {
            let e = messages(json!([item])).err();
            assert_eq!(e.as_ref().and_then(|e| e.param()), Some("input"), "{item}: {e:?}");
        }
    }
}
