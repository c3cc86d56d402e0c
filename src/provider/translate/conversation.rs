//! The chat conversation read once into neutral turns, for every translating provider:
//! each message of `messages` (read one at a time by `list::each`, never the whole list as
//! a tree) becomes a [`Turn`] (system, user, assistant with its tool calls, tool result)
//! whose content is typed [`Content`] (text, image, file, or a part passed as it came);
//! [`write`] walks them, hands each to the provider's [`Render`] (`anthropic::request`,
//! `gemini::request`, `bedrock::request`), whose typed blocks take the turn's strings
//! rather than copies, and writes the rendered turns (consecutive ones of a role merged)
//! into the upstream body (`translate::block`). Roles, system extraction, tool-call arguments
//! and the function name a tool result answers are decided here, once.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::bad;
use super::block::{self, Block};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Member};
use crate::provider::list::{self, Turns};
use crate::upstream::Builder;

/// One content part, typed where the translations read it; strings are moved out of the
/// client's message, not copied.
#[derive(Debug)]
pub enum Part {
    /// `{"type":"text","text":…}` (or a message's string content): `text` as it came (any
    /// JSON, `None` when absent), the part's other members kept.
    Text { text: Option<Value>, rest: Map<String, Value> },
    /// `image_url`: its URL (`image_url.url`, or `image_url` itself), `None` when not a string.
    Image { url: Option<String> },
    /// `file`: its `file.file_data`, `None` when not a string.
    File { data: Option<String> },
    /// Any other part (a provider's own block), untouched, `cache_control` and all.
    Other(Value),
}

/// A part and its `cache_control` (`Some(null)` when the client set it to null).
#[derive(Debug)]
pub struct Content {
    pub part: Part,
    pub cache_control: Option<Value>,
}

impl Content {
    /// A message's `content`: nothing for null or an empty string, one text part for a
    /// string, each part of a list; a 400 for anything else.
    pub fn read(content: Value) -> Result<Vec<Content>, Error> {
        match content {
            Value::Null => Ok(Vec::new()),
            Value::String(text) if text.is_empty() => Ok(Vec::new()),
            Value::String(text) => {
                let part = Part::Text { text: Some(Value::String(text)), rest: Map::new() };
                Ok(vec![Content { part, cache_control: None }])
            }
            Value::Array(parts) => Ok(parts.into_iter().map(Content::part).collect()),
            _ => Err(bad("messages", "content must be a string or a list of parts")),
        }
    }

    fn part(value: Value) -> Content {
        let Value::Object(mut map) = value else { return Content { part: Part::Other(value), cache_control: None } };
        let kind = map.get("type").and_then(Value::as_str);
        let part = match kind {
            Some("text") => {
                map.remove("type");
                let cache_control = map.remove("cache_control");
                let text = map.remove("text");
                return Content { part: Part::Text { text, rest: map }, cache_control };
            }
            Some("image_url") => Part::Image { url: take_url(map.get_mut("image_url"), "url") },
            Some("file") => match map.get_mut("file").and_then(|f| f.get_mut("file_data")).map(Value::take) {
                Some(Value::String(data)) => Part::File { data: Some(data) },
                _ => Part::File { data: None },
            },
            _ => return Content { part: Part::Other(Value::Object(map)), cache_control: None },
        };
        Content { part, cache_control: map.remove("cache_control") }
    }
}

/// An assistant's tool call: `id` and `function.name` as they came, the arguments parsed.
#[derive(Debug)]
pub struct ToolCall {
    pub id: Value,
    pub name: Value,
    /// `function.arguments` as a JSON object (`{}` when empty).
    pub arguments: Value,
    /// `provider_specific_fields.thought_signature` (Gemini's, replayed).
    pub thought_signature: Option<String>,
}

impl ToolCall {
    /// One of an assistant message's `tool_calls`; a 400 when its arguments are not JSON.
    fn read(mut call: Value) -> Result<ToolCall, Error> {
        let mut function = call.get_mut("function").map(Value::take).unwrap_or_default();
        let arguments = call_arguments(&function)?;
        let signature = call.pointer("/provider_specific_fields/thought_signature").and_then(Value::as_str);
        Ok(ToolCall {
            thought_signature: signature.map(str::to_owned),
            id: call.get_mut("id").map(Value::take).unwrap_or_default(),
            name: function.get_mut("name").map(Value::take).unwrap_or_default(),
            arguments,
        })
    }

    /// The function's name, empty when not a string.
    pub fn name(&self) -> &str {
        self.name.as_str().unwrap_or_default()
    }
}

/// A `tool` (or `function`) message.
#[derive(Debug)]
pub struct ToolResult {
    /// `tool_call_id`, else `name`, as they came (null when neither is there).
    pub id: Value,
    /// The function the call it answers named (`name` when no earlier call has its id).
    pub function: Option<String>,
    /// `content` as it came: each provider shapes a tool result its own way.
    pub content: Value,
}

/// What a provider does with each turn: it renders parts, tool calls and tool results as
/// its own typed blocks; [`write`] decides which turn they go in.
pub trait Render {
    /// The role of the model's turns (`assistant`, Gemini's `model`).
    const ASSISTANT: &'static str;

    /// One of the provider's content blocks (Gemini's parts), serialised as it is written.
    type Block: Block;

    /// A user or assistant message's content as the provider's blocks.
    fn parts(&mut self, content: Vec<Content>) -> Result<Vec<Self::Block>, Error>;

    /// A system or developer message's content as the provider's system blocks.
    fn system(&mut self, content: Vec<Content>) -> Result<Vec<Self::Block>, Error> {
        self.parts(content)
    }

    fn tool_call(&mut self, call: ToolCall) -> Result<Self::Block, Error>;

    fn tool_result(&mut self, result: ToolResult) -> Result<Self::Block, Error>;
}

/// Takes `messages` out of `fields`: a 400 when absent or null.
pub fn take_messages(fields: &mut Fields) -> Result<Member, Error> {
    fields.remove("messages").filter(|m| !m.is_null()).ok_or_else(not_a_list)
}

fn not_a_list() -> Error {
    bad("messages", "must be a list of messages")
}

/// Writes the turns `messages` make into `out` as a list of `{"<parts_key>":[…],"role":…}`
/// (adjacent turns of a role merged, tool results in the user's turn), rendered by
/// `render` (each block written by `block::write`), and returns the system blocks; `charge` follows what the translation holds.
pub fn write<R: Render>(
    messages: Member,
    parts_key: &'static str,
    render: &mut R,
    out: &mut Builder,
    charge: &mut Charge,
) -> Result<Vec<R::Block>, Error> {
    let mut system = Vec::new();
    // The function each tool call's id names, for the tool message that answers it.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut turns = Turns::start(parts_key, out);
    list::each(messages, out, charge, not_a_list, |mut message, out| {
        let content = message.get_mut("content").map_or(Value::Null, Value::take);
        let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.extend(render.system(Content::read(content)?)?);
                return Ok(());
            }
            "user" => ("user", render.parts(Content::read(content)?)?),
            "assistant" => (R::ASSISTANT, assistant(render, &mut message, content, &mut names)?),
            "tool" | "function" => ("user", vec![render.tool_result(tool_result(&message, content, &names))?]),
            other => return Err(bad("messages", format!("unknown role {other:?}"))),
        };
        turns.push(role, blocks, out, block::write);
        Ok(())
    })?;
    turns.finish(out);
    Ok(system)
}

/// An assistant message: its content, then each tool call, remembering the function each
/// call's id names.
fn assistant<R: Render>(
    render: &mut R,
    message: &mut Value,
    content: Value,
    names: &mut HashMap<String, String>,
) -> Result<Vec<R::Block>, Error> {
    let mut blocks = render.parts(Content::read(content)?)?;
    let calls = match message.get_mut("tool_calls").map(Value::take) {
        Some(Value::Array(calls)) => calls,
        _ => Vec::new(),
    };
    for call in calls {
        let call = ToolCall::read(call)?;
        if let Some(id) = call.id.as_str() {
            names.insert(id.to_owned(), call.name().to_owned());
        }
        blocks.push(render.tool_call(call)?);
    }
    Ok(blocks)
}

fn tool_result(message: &Value, content: Value, names: &HashMap<String, String>) -> ToolResult {
    let call_id = message.get("tool_call_id");
    let name = message.get("name");
    let function = call_id.and_then(Value::as_str).and_then(|id| names.get(id)).cloned();
    let function = function.or_else(|| name.and_then(Value::as_str).map(str::to_owned));
    ToolResult { id: call_id.or(name).cloned().unwrap_or_default(), function, content }
}

/// An assistant tool call's `function.arguments` as the JSON object providers take: `{}`
/// when empty, a 400 when not JSON.
pub fn call_arguments(function: &Value) -> Result<Value, Error> {
    let arguments = function.get("arguments").and_then(Value::as_str).unwrap_or_default();
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments).map_err(|e| bad("messages", format!("tool call arguments are not JSON: {e}")))
}

/// `data:image/png;base64,AAAA` → (`image/png`, `AAAA`), the data moved out of the URI
/// rather than copied; any other URL comes back as it is.
pub fn data_uri(mut url: String) -> Result<(String, String), String> {
    let Some((head, data)) = url.strip_prefix("data:").and_then(|rest| rest.split_once(',')) else { return Err(url) };
    let Some(media_type) = head.strip_suffix(";base64") else { return Err(url) };
    let (media_type, start) = (media_type.to_owned(), url.len() - data.len());
    url.drain(..start);
    Ok((media_type, url))
}

/// A URL a content part holds: `holder[key]` when present, else `holder` itself, taken out
/// of the part; `None` when it is not a string.
fn take_url(holder: Option<&mut Value>, key: &str) -> Option<String> {
    let holder = holder?;
    let url = if holder.get(key).is_some() { holder.get_mut(key)? } else { holder };
    if let Value::String(url) = url.take() { Some(url) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_parts_are_typed_and_keep_what_they_do_not_read() {
        let parts = Content::read(json!([
            { "type": "text", "text": "hi", "cache_control": { "type": "ephemeral" }, "x": 1 },
            { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } },
            { "type": "image_url", "image_url": "https://x/y.png" },
            { "type": "file", "file": { "file_data": "data:application/pdf;base64,QQ==" } },
            { "type": "document", "source": {}, "cache_control": null },
            7,
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let Part::Text { text, rest } = &parts[0].part else { panic!("{parts:?}") };
        assert_eq!((text.as_ref(), rest.get("x")), (Some(&json!("hi")), Some(&json!(1))));
        assert_eq!(parts[0].cache_control, Some(json!({ "type": "ephemeral" })));
        assert!(matches!(&parts[1].part, Part::Image { url: Some(url) } if url.starts_with("data:image/png")));
        assert!(matches!(&parts[2].part, Part::Image { url: Some(url) } if url == "https://x/y.png"));
        assert!(matches!(&parts[3].part, Part::File { data: Some(_) }));
        assert!(matches!(&parts[4].part, Part::Other(v) if v.get("cache_control") == Some(&Value::Null)));
        assert!(matches!(&parts[5].part, Part::Other(v) if *v == json!(7)));
        assert!(Content::read(json!("")).is_ok_and(|c| c.is_empty()));
        assert!(Content::read(json!({ "a": 1 })).is_err());
    }

    #[test]
    fn data_uris_split_into_media_type_and_data() {
        assert_eq!(data_uri("data:image/png;base64,AAAA".into()), Ok(("image/png".into(), "AAAA".into())));
        assert_eq!(data_uri("https://x".into()), Err("https://x".into()));
    }

    #[test]
    fn a_tool_result_names_the_function_of_the_call_it_answers() {
        let names = HashMap::from([("c1".to_owned(), "f".to_owned())]);
        let got = tool_result(&json!({ "tool_call_id": "c1" }), json!("x"), &names);
        assert_eq!((got.id, got.function.as_deref()), (json!("c1"), Some("f")));
        let got = tool_result(&json!({ "tool_call_id": "c9", "name": "g" }), Value::Null, &names);
        assert_eq!((got.id, got.function.as_deref()), (json!("c9"), Some("g")));
        let call = ToolCall::read(json!({ "id": "c", "function": { "name": "f", "arguments": " " } }));
        assert_eq!(call.map(|c| c.arguments).ok(), Some(json!({})));
        assert!(ToolCall::read(json!({ "function": { "arguments": "{" } })).is_err());
    }
}
