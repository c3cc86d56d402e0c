//! Google AI Studio (`gemini/`) behind the OpenAI chat API: the chat request translated
//! ([`request`]), POSTed to `{base}/models/{model}:generateContent` (or
//! `:streamGenerateContent?alt=sse`) with `x-goog-api-key`, the reply translated back
//! ([`response`], or [`stream`] event by event). Errors pass untranslated to `respond`,
//! which reads Gemini's `{"error": {"message"}}`. `vertex` sends the same body through
//! [`prepare`] and [`exchange`] with its own URL base and token.

pub mod body;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};

use super::translate::whole::Reader;
use super::translate::{self, Events, Provider};
use super::url::{Refused, Room, Url};
use super::{Attempt, Reply, head};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::CallRequest;
use crate::provider::Context;
use crate::upstream::Outgoing;

pub const EXCEPTION: &str = "GeminiException";
/// The URL segment a Gemini model fills (`vertex` shares it).
pub const MODEL_ROOM: Room = Room::BeforeMethod;

/// OpenAI parameters the translation maps for Gemini.
pub const PROVIDER: Provider = Provider {
    name: "gemini",
    supported: &[
        "frequency_penalty",
        "max_completion_tokens",
        "max_tokens",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
        "web_search_options",
    ],
};

/// Translates the chat call, sends it, and returns the reply (translated when 2xx).
pub async fn forward(
    cx: &Context,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let prepared = prepare(cx, attempt, chat, &PROVIDER)?;
    let key = attempt.endpoint.key.as_deref().unwrap_or_default();
    let auth = [(HeaderName::from_static("x-goog-api-key"), key)];
    exchange(cx, attempt, client_headers, prepared, &auth, EXCEPTION).await
}

/// A translated call ready to send: `generateContent` (or the SSE stream) under the
/// endpoint's base, the body, and what the reply needs of the request. `vertex` sends the
/// same with its own credentials.
pub struct Prepared {
    pub url: Url,
    pub body: Outgoing,
    pub stream: bool,
    pub include_usage: bool,
    /// The requested name, a whole reply's `model`.
    pub model: String,
    /// The memory budget's charges for the translation (its other members' trees, its
    /// messages), held until the reply is back.
    pub charges: (Charge, Charge),
}

/// Checks and translates the chat call for `provider` (`gemini` or `vertex_ai`).
pub fn prepare(
    cx: &Context,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    provider: &Provider,
) -> Result<Prepared, Error> {
    let request = &*chat;
    let (stream, include_usage, held) = (request.stream, request.include_usage, request.held);
    let url = url(&attempt.endpoint.base, attempt.upstream_model, request.stream)
        .map_err(|why| super::unsendable(attempt.deployment, &request.model, why))?;
    let model = if stream { String::new() } else { request.model.clone() };
    let (fields, members) = translate::chat_fields(cx, attempt, chat, provider)?;
    let mut messages = cx.budget.charge_beside(held + members.bytes(), 0)?;
    let body = request::translate(fields, &mut messages)?;
    Ok(Prepared { url, body, stream, include_usage, model, charges: (members, messages) })
}

/// `{base}/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse`; the model is
/// one percent-encoded segment that cannot hold the `:` before the method.
pub fn url(base: &str, model: &str, stream: bool) -> Result<Url, Refused> {
    let url = Url::new(base).path("/models/").segment(model, MODEL_ROOM)?;
    Ok(if stream { url.path(":streamGenerateContent").query("alt", "sse") } else { url.path(":generateContent") })
}

/// Sends a prepared call with `auth` and returns the reply (translated when 2xx).
pub async fn exchange(
    cx: &Context,
    attempt: &Attempt<'_>,
    client_headers: &HeaderMap,
    prepared: Prepared,
    auth: &[(HeaderName, &str)],
    exception: &'static str,
) -> Result<Reply, Error> {
    let Prepared { url, body, stream: streaming, include_usage, model, charges: _charges } = prepared;
    let upstream = head::request(cx, attempt, url, streaming, client_headers, auth, body)?;
    // The usage chunk is written when the gateway wants it for metrics too; `respond` keeps
    // it from a client that did not ask.
    let usage = include_usage || attempt.stream_usage;
    let events = streaming.then(|| Events::Gemini(stream::Events::new(translate::completion_id(), usage)));
    translate::exchange(cx, attempt, upstream, exception, events, (Reader::Gemini, model)).await
}
