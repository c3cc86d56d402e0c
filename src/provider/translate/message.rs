//! A chat message as the conversation (`translate::conversation`) reads it, typed: each
//! element `list::elements` hands over (its text, whose strings the typed message borrows,
//! or a tree the gateway built, whose strings it moves) read once into its role, its
//! [`Said`] content (text or typed [`Content`] parts), its [`ToolCall`]s and the ids a tool
//! message names. What the translation does not read (an unknown part, `cache_control`, a
//! text part with members of its own) stays [`Passed`], as it came. Every member is read
//! as leniently as the walk of a JSON tree it replaces (the members read are
//! `message_wire`'s): a member of another type reads as absent. `conversation::write`
//! hands the typed turns on to each provider's `Render`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;

use super::bad;
use super::lenient::Str;
use super::message_wire::{CallWire, Head, PartKind, PartWire, TextMember};
use crate::error::Error;

/// What a JSON value is, at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Str,
    List,
    Object,
    Other,
}

/// A JSON value as the translation holds it: text (borrowed from the client's body) or a
/// tree the gateway built.
pub trait Json<'a>: Deserialize<'a> + Sized {
    fn kind(&self) -> Kind;
    /// `T` read from the value, its strings borrowed from text, moved out of a tree.
    fn read<T: Deserialize<'a>>(self) -> Result<T, Error>;
    /// `T` read from the value, which stays as it is.
    fn peek<T: DeserializeOwned>(&self) -> Result<T, Error>;
    /// The value and one more of it (text is only referred to twice).
    fn twice(self) -> (Self, Self);
    fn passed(self) -> Passed<'a>;
}

fn unreadable(e: &serde_json::Error) -> Error {
    Error::BadJson(e.to_string())
}

impl<'a> Json<'a> for &'a RawValue {
    fn kind(&self) -> Kind {
        match self.get().trim_start().as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b'"') => Kind::Str,
            Some(b'[') => Kind::List,
            Some(b'{') => Kind::Object,
            _ => Kind::Other,
        }
    }
    fn read<T: Deserialize<'a>>(self) -> Result<T, Error> {
        serde_json::from_str(self.get()).map_err(|e| unreadable(&e))
    }
    fn peek<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.get()).map_err(|e| unreadable(&e))
    }
    fn twice(self) -> (Self, Self) {
        (self, self)
    }
    fn passed(self) -> Passed<'a> {
        Passed::Raw(self)
    }
}

impl<'a> Json<'a> for Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::String(_) => Kind::Str,
            Value::Array(_) => Kind::List,
            Value::Object(_) => Kind::Object,
            Value::Bool(_) | Value::Number(_) => Kind::Other,
        }
    }
    fn read<T: Deserialize<'a>>(self) -> Result<T, Error> {
        T::deserialize(self).map_err(|e| unreadable(&e))
    }
    fn peek<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(self).map_err(|e| unreadable(&e))
    }
    fn twice(self) -> (Self, Self) {
        (self.clone(), self)
    }
    fn passed(self) -> Passed<'a> {
        Passed::Tree(self)
    }
}

/// A value the translation passes on without reading it: the client's text, or the tree.
#[derive(Debug)]
pub enum Passed<'a> {
    Raw(&'a RawValue),
    Tree(Value),
}

impl Passed<'_> {
    /// The value as a tree, for a block that carries one.
    pub fn into_value(self) -> Result<Value, Error> {
        match self {
            Passed::Raw(raw) => raw.read(),
            Passed::Tree(value) => Ok(value),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Passed::Raw(raw) => raw.kind(),
            Passed::Tree(value) => value.kind(),
        }
    }

    /// Its `text` member when that is a string.
    pub fn text(&self) -> Option<String> {
        match self {
            Passed::Raw(raw) => raw.peek::<TextMember>().ok()?.0,
            Passed::Tree(value) => value.get("text").and_then(Value::as_str).map(str::to_owned),
        }
    }
}

/// A member the translation reads as a string and otherwise passes on as it came.
#[derive(Debug, Default)]
pub enum Given<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other(Passed<'a>),
}

impl<'a> Given<'a> {
    fn of<P: Json<'a>>(value: Option<P>) -> Result<Self, Error> {
        match value {
            None => Ok(Given::Absent),
            Some(value) if value.kind() == Kind::Str => Ok(Given::Str(value.read::<Str<'a>>()?.0.unwrap_or_default())),
            Some(value) => Ok(Given::Other(value.passed())),
        }
    }

    /// The string, `None` when absent or not a string.
    pub fn as_str(&self) -> Option<&str> {
        if let Given::Str(text) = self { Some(text) } else { None }
    }

    /// The member as a tree (null when absent), for a block that carries one.
    pub fn into_value(self) -> Result<Value, Error> {
        match self {
            Given::Absent => Ok(Value::Null),
            Given::Str(text) => Ok(Value::String(text.into_owned())),
            Given::Other(passed) => passed.into_value(),
        }
    }
}

/// One content part, typed where the translations read it.
#[derive(Debug)]
pub enum Part<'a> {
    /// `{"type":"text","text":"…"}` (or a message's string content), nothing else in it.
    Text { text: Cow<'a, str> },
    /// A text part with members of its own, or whose text is not a string: its `text` and
    /// the whole part as it came.
    Odd { text: Given<'a>, part: Passed<'a> },
    /// `image_url`: its URL (`image_url.url`, or `image_url` itself), `None` when not a string.
    Image { url: Option<Cow<'a, str>> },
    /// `file`: its `file.file_data`, `None` when not a string.
    File { data: Option<Cow<'a, str>> },
    /// Any other part (a provider's own block), as it came, `cache_control` and all.
    Other(Passed<'a>),
}

/// A part and its `cache_control` (`null` when the client set it to null).
#[derive(Debug)]
pub struct Content<'a> {
    pub part: Part<'a>,
    pub cache_control: Option<Passed<'a>>,
}

impl<'a> Content<'a> {
    /// One element of a `content` list.
    fn read<P: Json<'a>>(part: P) -> Result<Self, Error> {
        let other = |part: P| Ok(Content { part: Part::Other(part.passed()), cache_control: None });
        if part.kind() != Kind::Object {
            return other(part);
        }
        let head: Head = part.peek()?;
        let (part, whole) = match head.kind {
            PartKind::Other => return other(part),
            PartKind::Text if !head.plain() => {
                let (part, whole) = part.twice();
                (part, Some(whole))
            }
            _ => (part, None),
        };
        let wire: PartWire<'a, P> = part.read()?;
        let cache_control = wire.cache_control.map(Json::passed);
        let part = match (head.kind, whole) {
            (PartKind::Image, _) => Part::Image { url: wire.image_url.0 },
            (PartKind::File, _) => Part::File { data: wire.file.file_data.0 },
            (_, Some(whole)) => Part::Odd { text: Given::of(wire.text)?, part: whole.passed() },
            // A plain part's text is a string (`Head::plain`).
            (_, None) => match Given::of(wire.text)? {
                Given::Str(text) => Part::Text { text },
                _ => Part::Text { text: Cow::Borrowed("") },
            },
        };
        Ok(Content { part, cache_control })
    }
}

/// A message's `content` as it came: absent or null, a string, a list of parts, or what
/// else the client sent (each provider shapes a tool result its own way).
#[derive(Debug)]
pub enum Said<'a> {
    None,
    Text(Cow<'a, str>),
    Parts(Vec<Content<'a>>),
    Other(Passed<'a>),
}

impl<'a> Said<'a> {
    fn read<P: Json<'a>>(content: Option<P>) -> Result<Self, Error> {
        let Some(content) = content else { return Ok(Said::None) };
        Ok(match content.kind() {
            Kind::Null => Said::None,
            Kind::Str => Said::Text(content.read::<Str<'a>>()?.0.unwrap_or_default()),
            Kind::List => {
                Said::Parts(content.read::<Vec<P>>()?.into_iter().map(Content::read).collect::<Result<_, _>>()?)
            }
            Kind::Object | Kind::Other => Said::Other(content.passed()),
        })
    }

    /// The parts of a user, assistant or system message: none for null or an empty
    /// string, one text part for a string, each part of a list; a 400 for anything else.
    pub fn into_parts(self) -> Result<Vec<Content<'a>>, Error> {
        match self {
            Said::None => Ok(Vec::new()),
            Said::Text(text) if text.is_empty() => Ok(Vec::new()),
            Said::Text(text) => Ok(vec![Content { part: Part::Text { text }, cache_control: None }]),
            Said::Parts(parts) => Ok(parts),
            Said::Other(_) => Err(bad("messages", "content must be a string or a list of parts")),
        }
    }
}

/// An assistant's tool call: `id` and `function.name` as they came, the arguments parsed.
#[derive(Debug)]
pub struct ToolCall<'a> {
    pub id: Given<'a>,
    pub name: Given<'a>,
    /// `function.arguments` as a JSON object (`{}` when empty).
    pub arguments: Value,
    /// `provider_specific_fields.thought_signature` (Gemini's, replayed).
    pub thought_signature: Option<Cow<'a, str>>,
}

impl<'a> ToolCall<'a> {
    /// An assistant message's `tool_calls` (none when not a list); a 400 when a call's
    /// arguments are not JSON.
    fn read_all<P: Json<'a>>(calls: Option<P>) -> Result<Vec<Self>, Error> {
        let Some(calls) = calls.filter(|calls| calls.kind() == Kind::List) else { return Ok(Vec::new()) };
        let calls: Vec<CallWire<'a, P>> = calls.read()?;
        calls
            .into_iter()
            .map(|call| {
                Ok(ToolCall {
                    arguments: call_arguments(call.function.arguments.0.as_deref().unwrap_or_default())?,
                    id: Given::of(call.id)?,
                    name: Given::of(call.function.name)?,
                    thought_signature: call.fields.thought_signature.0,
                })
            })
            .collect()
    }

    /// The function's name, empty when not a string.
    pub fn name(&self) -> &str {
        self.name.as_str().unwrap_or_default()
    }
}

/// An assistant tool call's `function.arguments` as the JSON object providers take: `{}`
/// when empty, a 400 when not JSON.
pub fn call_arguments(arguments: &str) -> Result<Value, Error> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(arguments).map_err(|e| bad("messages", format!("tool call arguments are not JSON: {e}")))
}

/// A `tool` (or `function`) message.
#[derive(Debug)]
pub struct ToolResult<'a> {
    /// `tool_call_id`, else `name`, as they came (absent when neither is there).
    pub id: Given<'a>,
    /// The function the call it answers named (`name` when no earlier call has its id).
    pub function: Option<String>,
    pub content: Said<'a>,
}

/// A chat message's members the translation reads, each as it came; any other is skipped.
pub struct Message<'a, P> {
    pub role: Str<'a>,
    pub(super) content: Option<P>,
    pub(super) tool_calls: Option<P>,
    pub(super) tool_call_id: Option<P>,
    pub(super) name: Option<P>,
}

impl<'a, P: Json<'a>> Message<'a, P> {
    /// One element of `messages`; anything but an object reads as a message of no role.
    pub fn read(message: P) -> Result<Self, Error> {
        message.read()
    }

    /// The message's content.
    pub fn content(&mut self) -> Result<Said<'a>, Error> {
        Said::read(self.content.take())
    }

    /// An assistant message's tool calls.
    pub fn tool_calls(&mut self) -> Result<Vec<ToolCall<'a>>, Error> {
        ToolCall::read_all(self.tool_calls.take())
    }

    /// A tool message's answer, naming the function of the call it answers (`names`: the
    /// function each earlier call's id named).
    pub fn tool_result(mut self, names: &HashMap<String, String>) -> Result<ToolResult<'a>, Error> {
        let content = self.content()?;
        let (call_id, name) = (Given::of(self.tool_call_id)?, Given::of(self.name)?);
        let function = call_id.as_str().and_then(|id| names.get(id)).cloned();
        let function = function.or_else(|| name.as_str().map(str::to_owned));
        let id = if matches!(call_id, Given::Absent) { name } else { call_id };
        Ok(ToolResult { id, function, content })
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
