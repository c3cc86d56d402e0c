//! The chat conversation read once into neutral turns, for every translating provider:
//! each message of `messages` (handed over one at a time by `list::elements`, as its text
//! where the list is the client's, never the whole list as a tree) is read into a typed
//! `message::Message` whose strings borrow from that text, and becomes a turn (system,
//! user, assistant with its [`ToolCall`]s, [`ToolResult`]) whose content is typed
//! [`Content`] (text, image, file, or a part passed as it came); [`write`] hands each to
//! the provider's [`Render`] (`anthropic::request`, `gemini::request`, `bedrock::request`),
//! whose typed blocks own what they keep of the turn's strings, and writes the rendered
//! turns (consecutive ones of a role merged) into the upstream body (`translate::block`).
//! Roles, system extraction, tool-call arguments and the function name a tool result
//! answers are decided here, once.

use std::borrow::Cow;
use std::collections::HashMap;

use super::bad;
use super::block::{self, Block};
pub use super::message::{Content, Given, Part, Passed, Said, ToolCall, ToolResult};
use super::message::{Json, Message};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Member};
use crate::provider::list::{self, Element, Turns};
use crate::upstream::Builder;

/// What a provider does with each turn: it renders parts, tool calls and tool results as
/// its own typed blocks; [`write`] decides which turn they go in.
pub trait Render {
    /// The role of the model's turns (`assistant`, Gemini's `model`).
    const ASSISTANT: &'static str;

    /// One of the provider's content blocks (Gemini's parts), serialised as it is written.
    type Block: Block;

    /// A user or assistant message's content as the provider's blocks.
    fn parts(&mut self, content: Vec<Content<'_>>) -> Result<Vec<Self::Block>, Error>;

    /// A system or developer message's content as the provider's system blocks.
    fn system(&mut self, content: Vec<Content<'_>>) -> Result<Vec<Self::Block>, Error> {
        self.parts(content)
    }

    fn tool_call(&mut self, call: ToolCall<'_>) -> Result<Self::Block, Error>;

    fn tool_result(&mut self, result: ToolResult<'_>) -> Result<Self::Block, Error>;
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
    list::elements(messages, out, charge, not_a_list, |element, out| {
        let turn = match element {
            Element::Raw(raw) => turn(raw, render, &mut system, &mut names)?,
            Element::Tree(tree) => turn(tree, render, &mut system, &mut names)?,
        };
        if let Some((role, blocks)) = turn {
            turns.push(role, blocks, out, block::write);
        }
        Ok(())
    })?;
    turns.finish(out);
    Ok(system)
}

/// A turn's role and its rendered blocks.
type Rendered<R> = (&'static str, Vec<<R as Render>::Block>);

/// One message rendered: its role's turn and blocks, or `None` for a system message (its
/// blocks added to `system`).
fn turn<'a, P: Json<'a>, R: Render>(
    message: P,
    render: &mut R,
    system: &mut Vec<R::Block>,
    names: &mut HashMap<String, String>,
) -> Result<Option<Rendered<R>>, Error> {
    let mut message = Message::read(message)?;
    let role = std::mem::take(&mut message.role);
    match role.as_str() {
        "system" | "developer" => {
            system.extend(render.system(message.content()?.into_parts()?)?);
            Ok(None)
        }
        "user" => Ok(Some(("user", render.parts(message.content()?.into_parts()?)?))),
        "assistant" => Ok(Some((R::ASSISTANT, assistant(render, message, names)?))),
        "tool" | "function" => Ok(Some(("user", vec![render.tool_result(message.tool_result(names)?)?]))),
        other => Err(bad("messages", format!("unknown role {other:?}"))),
    }
}

/// An assistant message: its content, then each tool call, remembering the function each
/// call's id names.
fn assistant<'a, P: Json<'a>, R: Render>(
    render: &mut R,
    mut message: Message<'a, P>,
    names: &mut HashMap<String, String>,
) -> Result<Vec<R::Block>, Error> {
    let mut blocks = render.parts(message.content()?.into_parts()?)?;
    for call in message.tool_calls()? {
        if let Some(id) = call.id.as_str() {
            names.insert(id.to_owned(), call.name().to_owned());
        }
        blocks.push(render.tool_call(call)?);
    }
    Ok(blocks)
}

/// `data:image/png;base64,AAAA` → (`image/png`, `AAAA`), the data moved out of the URI
/// when it is owned rather than copied; any other URL comes back as it is.
pub fn data_uri(url: Cow<'_, str>) -> Result<(String, String), Cow<'_, str>> {
    let Some((head, data)) = url.strip_prefix("data:").and_then(|rest| rest.split_once(',')) else { return Err(url) };
    let Some(media_type) = head.strip_suffix(";base64") else { return Err(url) };
    let (media_type, start) = (media_type.to_owned(), url.len() - data.len());
    let data = match url {
        Cow::Borrowed(url) => url[start..].to_owned(),
        Cow::Owned(mut url) => {
            url.drain(..start);
            url
        }
    };
    Ok((media_type, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_split_into_media_type_and_data() {
        let uri = |text: &'static str| data_uri(Cow::Borrowed(text));
        assert_eq!(uri("data:image/png;base64,AAAA"), Ok(("image/png".into(), "AAAA".into())));
        assert_eq!(data_uri(Cow::Owned("data:a/b;base64,QQ".into())), Ok(("a/b".into(), "QQ".into())));
        assert_eq!(uri("https://x"), Err(Cow::Borrowed("https://x")));
    }
}
