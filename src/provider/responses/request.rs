//! OpenAI Responses request → OpenAI chat request, pure: `instructions` → a system message;
//! `input` (a string, or items: messages with text, image and file parts, `function_call`s
//! grouped into one assistant message's `tool_calls`, `function_call_output`s as `tool`
//! messages, `reasoning` items dropped) → `messages`; function `tools` and `tool_choice`
//! from their flat shape to chat's nested one; `max_output_tokens`, `text.format`,
//! `reasoning.effort` and `safety_identifier` to their chat names. What needs stored state
//! (`previous_response_id`, `conversation`, `background`) is refused (with Redis, `store`
//! has put the history in `input` and taken `previous_response_id` out); a `web_search` tool
//! becomes `web_search_options` where the provider has a search, other hosted tools are
//! refused unless `drop_params`. The chat request goes on through the deployment's own
//! chat path: `input` written out as chat text for a provider that sends it as it is, else
//! mapped item by item where the provider's translation reads it (`parse::Mapped`).

use bytes::Bytes;
use serde_json::{Map, Value};

use super::input::{self, message};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Mapped, Member};
use crate::provider::list::{self, Built};
use crate::provider::translate::object;
use crate::route::Api;

/// Responses fields that mean the same in chat, passed as the client's text.
const SAME: &[&str] = &["model", "temperature", "top_p", "parallel_tool_calls", "stream", "service_tier"];

/// Responses fields with no chat counterpart that change nothing a bridged call returns:
/// storage and caching hints, what to include of stored reasoning, truncation. Dropped.
const DROPPED: &[&str] = &[
    "store",
    "include",
    "truncation",
    "metadata",
    "prompt_cache_key",
    "prompt_cache_retention",
    "stream_options",
    "max_tool_calls",
];

/// Fields that need the conversation stored, refused on a bridged deployment.
const STATEFUL: &[&str] = &["previous_response_id", "conversation"];

/// A 400 naming a Responses parameter.
pub fn bad(param: &'static str, reason: impl Into<String>) -> Error {
    Error::BadParam { route: Api::Responses.route(), param, reason: reason.into() }
}

/// What the translation needs to know of the deployment.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The deployment's provider, named in errors.
    pub provider: &'static str,
    /// Drop hosted tools rather than refuse them.
    pub drop_params: bool,
    /// The provider's chat translation has a web search (`web_search_options`).
    pub web_search: bool,
    /// How the chat request carries the input.
    pub input: Input,
}

/// How the chat request carries the input items as chat messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Written out now, for a provider that sends the chat request as it is.
    Written,
    /// Mapped one item at a time as the provider's own translation reads them
    /// (`parse::Mapped`), so no chat text is written only to be parsed again.
    Mapped,
}

/// Translates a Responses request's members, taking them apart: `input` one item at a time,
/// into a built list (`charge` following what it holds) or mapped where it is read
/// (`options.input`), strings moved rather than copied.
/// Members it does not know pass through for the provider's translation to judge.
pub fn to_chat(mut request: Fields, charge: &mut Charge, options: Options) -> Result<Fields, Error> {
    let provider = options.provider;
    for param in STATEFUL {
        if request.is_set(param) {
            return Err(Error::NotStored { param, provider });
        }
    }
    if request.take("background").is_some_and(|b| b == Value::Bool(true)) {
        return Err(Error::NotStored { param: "background", provider });
    }
    if request.is_set("prompt") {
        return Err(bad("prompt", "stored prompt templates need OpenAI; send 'instructions' and 'input' instead"));
    }
    let mut chat = Fields::default();
    for key in SAME {
        if let Some(value) = request.remove(key).filter(|m| !m.is_null()) {
            chat.insert_member(key, value);
        }
    }
    chat.insert_member("messages", messages(&mut request, charge, options.input)?);
    parameters(&mut request, &mut chat)?;
    tools(&mut request, &mut chat, options)?;
    for key in DROPPED {
        request.remove(key);
    }
    for (key, member) in request.into_members() {
        chat.insert_member(&key, member);
    }
    Ok(chat)
}

/// `instructions` and `input` as chat messages carried `how`: mapped where the provider's
/// translation reads them (the instructions and a string input written ahead of the items),
/// or written out into a built list one item at a time (`charge` following what it holds).
/// Instructions given as items are written out, as their last may be kept back for the
/// input's first `function_call`s to join.
fn messages(request: &mut Fields, charge: &mut Charge, mut how: Input) -> Result<Member, Error> {
    let not_a_list = || bad("input", "must be a string or a list of input items");
    let (mut head, mut kept) = (Vec::new(), None);
    if let Some(instructions) = request.remove("instructions").filter(|m| !m.is_null()) {
        match instructions.into_value() {
            Ok(Value::String(text)) => head.push(message("system", Value::String(text))),
            Ok(Value::Array(items)) => {
                how = Input::Written;
                for item in items {
                    input::map(item, &mut kept, &mut head)?;
                }
            }
            _ => return Err(bad("instructions", "must be a string or a list of input items")),
        }
    }
    // A string input is a user message after the instructions; no items follow.
    let input = match request.remove("input") {
        None => return Err(Error::MissingParam { route: Api::Responses.route(), param: "input" }),
        Some(Member::Raw(raw)) if raw.first() == Some(&b'"') => {
            let text: String = serde_json::from_slice(&raw).map_err(|e| bad("input", e.to_string()))?;
            head.extend(kept.take());
            head.push(message("user", Value::String(text)));
            None
        }
        Some(input) => Some(input),
    };
    match (how, input) {
        (Input::Mapped, None) => Ok(Member::Mapped(Mapped { head, raw: Bytes::from_static(b"[]"), map: input::map })),
        (Input::Mapped, Some(Member::Raw(raw))) if raw.first() == Some(&b'[') => {
            Ok(Member::Mapped(Mapped { head, raw, map: input::map }))
        }
        (Input::Mapped, Some(Member::Raw(_))) => Err(not_a_list()),
        (_, input) => {
            let mut messages = Built::default();
            for message in head {
                messages.push(message);
            }
            if let Some(input) = input {
                let mut mapped = Vec::new();
                list::each(input, &mut messages, charge, not_a_list, |item, out| {
                    input::map(item, &mut kept, &mut mapped)?;
                    mapped.drain(..).for_each(|message| out.push(message));
                    Ok(())
                })?;
            }
            if let Some(assistant) = kept {
                messages.push(assistant);
            }
            Ok(messages.finish())
        }
    }
}

/// The sampling, output and tool parameters under their chat names.
fn parameters(request: &mut Fields, chat: &mut Fields) -> Result<(), Error> {
    let mut set = |key: &str, value: Value| chat.insert_member(key, Member::Tree(value));
    if let Some(max) = request.take("max_output_tokens") {
        set("max_tokens", max);
    }
    if let Some(user) = request.take("user").or_else(|| request.take("safety_identifier")) {
        set("user", user);
    }
    request.remove("safety_identifier");
    if let Some(top) = request.take("top_logprobs") {
        set("logprobs", Value::Bool(true));
        set("top_logprobs", top);
    }
    if let Some(mut reasoning) = request.take("reasoning") {
        if let Some(effort) = reasoning.get_mut("effort").map(Value::take).filter(|e| !e.is_null()) {
            set("reasoning_effort", effort);
        }
    }
    if let Some(mut text) = request.take("text") {
        if let Some(format) = text.get_mut("format").map(Value::take).filter(|f| !f.is_null()) {
            if let Some(format) = response_format(format)? {
                set("response_format", format);
            }
        }
        if let Some(verbosity) = text.get_mut("verbosity").map(Value::take).filter(|v| !v.is_null()) {
            set("verbosity", verbosity);
        }
    }
    Ok(())
}

/// Function `tools` and `tool_choice` in chat's shape; a web search tool as
/// `web_search_options` where the provider has one; other hosted tools refused, or dropped
/// with `drop_params`.
fn tools(request: &mut Fields, chat: &mut Fields, options: Options) -> Result<(), Error> {
    let mut hosted = Vec::new();
    if let Some(tools) = request.take("tools") {
        let Value::Array(tools) = tools else { return Err(bad("tools", "must be a list")) };
        let mut functions = Vec::new();
        for tool in tools {
            match function_tool(tool) {
                Tool::Function(function) => functions.push(function),
                Tool::Hosted(kind, tool) if options.web_search && kind.starts_with("web_search") => {
                    chat.insert_member("web_search_options", Member::Tree(web_search_options(tool)));
                }
                Tool::Hosted(kind, _) => hosted.push(kind),
            }
        }
        if !functions.is_empty() {
            chat.insert_member("tools", Member::Tree(Value::Array(functions)));
        }
    }
    if let Some(choice) = request.take("tool_choice") {
        if let Some(choice) = tool_choice(choice, options, &mut hosted)? {
            chat.insert_member("tool_choice", Member::Tree(choice));
        }
    }
    if !hosted.is_empty() && !options.drop_params {
        hosted.sort_unstable();
        hosted.dedup();
        let names = hosted.iter().map(|h| format!("'{h}'")).collect::<Vec<_>>().join(", ");
        let provider = options.provider;
        return Err(bad(
            "tools",
            format!(
                "hosted tools [{names}] run on OpenAI's servers and {provider}/ deployments have none; remove them, or set litellm_settings.drop_params: true to drop them"
            ),
        ));
    }
    Ok(())
}

/// A Responses `web_search` tool's options in chat's `web_search_options` shape.
fn web_search_options(mut tool: Map<String, Value>) -> Value {
    let mut options = Map::new();
    if let Some(size) = tool.remove("search_context_size") {
        options.insert("search_context_size".into(), size);
    }
    if let Some(Value::Object(mut location)) = tool.remove("user_location") {
        location.remove("type");
        options.insert(
            "user_location".into(),
            object([("type", "approximate".into()), ("approximate", Value::Object(location))]),
        );
    }
    Value::Object(options)
}

/// `text.format` as `response_format`: `json_schema`'s flat members nested under
/// `json_schema`, `json_object` as it is, `text` left out.
fn response_format(format: Value) -> Result<Option<Value>, Error> {
    let Value::Object(mut format) = format else { return Err(bad("text", "'format' must be an object")) };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(object([("type", "json_object".into())]))),
        Some("json_schema") => {
            format.remove("type");
            Ok(Some(object([("type", "json_schema".into()), ("json_schema", Value::Object(format))])))
        }
        _ => Err(bad("text", "'format.type' must be text, json_object or json_schema")),
    }
}

/// A Responses tool: a function, or one OpenAI hosts (by its type).
enum Tool {
    Function(Value),
    Hosted(String, Map<String, Value>),
}

/// A `function` tool in chat's shape, or a hosted one.
fn function_tool(tool: Value) -> Tool {
    let Value::Object(mut tool) = tool else { return Tool::Hosted(String::new(), Map::new()) };
    let kind = tool.remove("type").and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default();
    if kind != "function" {
        return Tool::Hosted(kind, tool);
    }
    Tool::Function(object([("type", "function".into()), ("function", Value::Object(tool))]))
}

/// `tool_choice` in chat's shape: the modes as they are, a named function nested; a hosted
/// tool's type goes to `hosted`.
fn tool_choice(choice: Value, options: Options, hosted: &mut Vec<String>) -> Result<Option<Value>, Error> {
    let Value::Object(mut choice) = choice else { return Ok(Some(choice)) };
    let kind = choice.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    match kind.as_str() {
        "function" => {
            let name = choice.remove("name").ok_or_else(|| bad("tool_choice", "a function choice needs 'name'"))?;
            Ok(Some(object([("type", "function".into()), ("function", object([("name", name)]))])))
        }
        // Chat has no list of allowed tools: the mode is what it can honour.
        "allowed_tools" => Ok(choice.remove("mode")),
        // The provider's search is offered; chat cannot force it.
        _ if options.web_search && kind.starts_with("web_search") => Ok(None),
        _ => {
            hosted.push(kind);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The chat request `body` (a Responses body) becomes, read back as a tree.
    fn chat_with(body: &Value, drop_params: bool) -> Result<Value, Error> {
        let fields = Fields::parse(&bytes::Bytes::from(body.to_string())).unwrap_or_default();
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
        to_chat(
            fields,
            &mut charge,
            Options { provider: "anthropic", drop_params, web_search: false, input: Input::Written },
        )
        .map(|chat| serde_json::from_slice(&chat.to_json()).unwrap_or_default())
    }

    fn chat(body: &Value) -> Result<Value, Error> {
        chat_with(body, false)
    }

    #[test]
    fn a_string_input_with_instructions_is_a_system_and_a_user_message() {
        let got = chat(&json!({
            "model": "m", "instructions": "Be brief.", "input": "Hi", "max_output_tokens": 50,
            "temperature": 0.2, "store": false, "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "k", "reasoning": { "effort": "low", "summary": "auto" }, "top_k": 3,
            "safety_identifier": "u1", "stream": true,
        }));
        let want = json!({
            "model": "m", "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "Hi" }],
            "max_tokens": 50, "temperature": 0.2, "reasoning_effort": "low", "top_k": 3, "user": "u1", "stream": true,
        });
        assert_eq!(got.ok(), Some(want));
    }

    #[test]
    fn tool_round_trip_history_matches_the_golden_chat_request() {
        let request = include_str!("../../../tests/fixtures/responses/request.responses.json");
        let got = chat(&serde_json::from_str(request).unwrap_or_default()).ok();
        let want = serde_json::from_str::<Value>(include_str!("../../../tests/fixtures/responses/request.chat.json"));
        assert_eq!(got, want.ok());
    }

    #[test]
    fn state_and_hosted_tools_are_refused_unless_dropped() {
        let e = chat(&json!({ "model": "m", "input": "x", "previous_response_id": "resp_1" })).err();
        assert!(matches!(e, Some(Error::NotStored { param: "previous_response_id", provider: "anthropic" })), "{e:?}");
        let e = chat(&json!({ "model": "m", "input": "x", "background": true })).err();
        assert!(matches!(e, Some(Error::NotStored { param: "background", .. })), "{e:?}");
        let hosted = json!({ "model": "m", "input": "x", "tools": [{ "type": "web_search" }, { "type": "file_search", "vector_store_ids": [] }] });
        let e = chat(&hosted).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("['file_search', 'web_search']") && e.contains("drop_params"), "{e}");
        let dropped = chat_with(&hosted, true).unwrap_or_default();
        assert!(dropped.get("tools").is_none(), "{dropped}");
        let e = chat(&json!({ "model": "m", "input": [{ "type": "item_reference", "id": "msg_1" }] })).err();
        assert_eq!(e.and_then(|e| e.param().map(str::to_owned)).as_deref(), Some("input"));
        assert!(matches!(chat(&json!({ "model": "m" })), Err(Error::MissingParam { param: "input", .. })));
    }

    #[test]
    fn web_search_is_the_providers_own_where_it_has_one() {
        let body = json!({ "model": "m", "input": "News?", "tool_choice": { "type": "web_search_preview" },
            "tools": [{ "type": "web_search_preview", "search_context_size": "low",
                "user_location": { "type": "approximate", "city": "Paris", "country": "FR" } }] });
        let fields = Fields::parse(&bytes::Bytes::from(body.to_string())).unwrap_or_default();
        let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap_or_else(|e| panic!("{e}"));
        let options = Options { provider: "anthropic", drop_params: false, web_search: true, input: Input::Written };
        let got = to_chat(fields, &mut charge, options).map(|chat| chat.value("web_search_options")).ok().flatten();
        let location = json!({ "type": "approximate", "approximate": { "city": "Paris", "country": "FR" } });
        assert_eq!(got, Some(json!({ "search_context_size": "low", "user_location": location })));
        assert!(chat(&body).is_err(), "refused where the provider has no search");
    }

    #[test]
    fn choices_and_formats_take_chat_shapes() {
        let got = chat(&json!({
            "model": "m", "input": "x", "tool_choice": { "type": "function", "name": "f" },
            "text": { "format": { "type": "json_schema", "name": "out", "schema": { "type": "object" }, "strict": true } },
        }))
        .unwrap_or_default();
        assert_eq!(got["tool_choice"], json!({ "type": "function", "function": { "name": "f" } }));
        assert_eq!(
            got["response_format"],
            json!({ "type": "json_schema", "json_schema": { "name": "out", "schema": { "type": "object" }, "strict": true } })
        );
        let got = chat(
            &json!({ "model": "m", "input": "x", "tool_choice": "required", "text": { "format": { "type": "text" } } }),
        )
        .unwrap_or_default();
        assert_eq!(got["tool_choice"], "required");
        assert!(got.get("response_format").is_none());
    }
}

#[cfg(test)]
#[path = "request_mapped_tests.rs"]
mod mapped_tests;
