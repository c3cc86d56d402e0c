//! Anthropic Messages behind the OpenAI chat API: the chat request translated
//! ([`request`]), POSTed to `{base}/v1/messages` with `x-api-key` and `anthropic-version`,
//! the reply translated back ([`response`], or [`stream`] event by event); a bridged
//! Responses `input_tokens` is counted by `{base}/v1/messages/count_tokens`. Errors pass
//! untranslated to `respond`, which reads Anthropic's error shape.

pub mod body;
pub mod request;
pub mod response;
pub mod stream;

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};

use super::translate::whole::Reader;
use super::translate::{self, Events, Provider};
use super::url::Url;
use super::{Attempt, Reply, head};
use crate::error::Error;
use crate::parse::CallRequest;
use crate::provider::Context;
use crate::upstream::Outgoing;

/// The Messages API version every request names.
pub const API_VERSION: &str = "2023-06-01";
pub const EXCEPTION: &str = "AnthropicException";

/// OpenAI parameters LiteLLM maps for Anthropic (`get_supported_openai_params`).
pub const PROVIDER: Provider = Provider {
    name: "anthropic",
    supported: &[
        "max_completion_tokens",
        "max_tokens",
        "parallel_tool_calls",
        "reasoning_effort",
        "response_format",
        "service_tier",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
        "user",
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
    let (streaming, include_usage, held) = (chat.stream, chat.include_usage, chat.held);
    // A whole reply names the requested model.
    let requested = if streaming { String::new() } else { chat.model.clone() };
    // The charges for what the translation holds are kept until the reply is back.
    let (fields, members) = translate::chat_fields(cx, attempt, chat, &PROVIDER)?;
    let mut messages = cx.budget.charge_beside(held + members.bytes(), 0)?;
    let max_output = crate::prices::max_output_tokens(attempt.deployment, attempt.upstream_model);
    let purpose = request::Purpose::Send { max_output, stream: streaming };
    let outgoing = request::translate(fields, attempt.upstream_model, purpose, &mut messages)?;
    let key = attempt.endpoint.key.as_deref().unwrap_or_default();
    let mut auth =
        vec![(HeaderName::from_static("x-api-key"), key), (HeaderName::from_static("anthropic-version"), API_VERSION)];
    if let Some(beta) = outgoing.beta {
        auth.push((HeaderName::from_static("anthropic-beta"), beta));
    }
    let upstream = head::request(cx, attempt, url(attempt), streaming, client_headers, &auth, outgoing.body)?;
    // The usage chunk is written when the gateway wants it for metrics too; `respond` keeps
    // it from a client that did not ask.
    let usage = include_usage || attempt.stream_usage;
    let events = streaming.then(|| Events::Anthropic(stream::Events::new(translate::completion_id(), usage)));
    translate::exchange(cx, attempt, upstream, EXCEPTION, events, (Reader::Anthropic, requested)).await
}

/// Counts the chat call's input tokens with `{base}/v1/messages/count_tokens`: its
/// translation without what counting refuses (`max_tokens`, sampling), written once. The reply is
/// Anthropic's (`{"input_tokens": n}`), untranslated.
pub async fn count_tokens(
    cx: &Context,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let held = chat.held;
    let (fields, members) = translate::chat_fields(cx, attempt, chat, &PROVIDER)?;
    let mut messages = cx.budget.charge_beside(held + members.bytes(), 0)?;
    let outgoing = request::translate(fields, attempt.upstream_model, request::Purpose::Count, &mut messages)?;
    let key = attempt.endpoint.key.as_deref().unwrap_or_default();
    let mut auth =
        vec![(HeaderName::from_static("x-api-key"), key), (HeaderName::from_static("anthropic-version"), API_VERSION)];
    if let Some(beta) = outgoing.beta {
        auth.push((HeaderName::from_static("anthropic-beta"), beta));
    }
    let url = Url::new(&attempt.endpoint.base).path("/v1/messages/count_tokens");
    let upstream = head::request(cx, attempt, url, false, client_headers, &auth, outgoing.body)?;
    translate::send(cx, attempt, upstream, EXCEPTION).await
}

/// A `/v1/messages` call relayed as it is: the client's body (its members slices of it, not
/// copies) with the gateway's own fields out (Anthropic's `metadata` kept) and `model` set
/// to the deployment's, the deployment's
/// key, the client's `anthropic-version` and `anthropic-beta` kept. The reply, JSON or SSE,
/// goes back untranslated; `respond` sets `model` to the requested name.
pub async fn relay(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let mut fields = request.fields.clone();
    for field in super::openai::GATEWAY_FIELDS.iter().filter(|f| **f != "metadata") {
        fields.remove(field);
    }
    let model = serde_json::value::to_raw_value(attempt.upstream_model)
        .map_err(|e| super::openai::misconfigured(attempt, e.to_string()))?;
    fields.insert("model", model);
    let client = |name: &str| client_headers.get(name).and_then(|v| v.to_str().ok());
    let mut auth = vec![
        (HeaderName::from_static("x-api-key"), attempt.endpoint.key.as_deref().unwrap_or_default()),
        (HeaderName::from_static("anthropic-version"), client("anthropic-version").unwrap_or(API_VERSION)),
    ];
    if let Some(beta) = client("anthropic-beta") {
        auth.push((HeaderName::from_static("anthropic-beta"), beta));
    }
    let body = Outgoing::object(fields);
    let upstream = head::request(cx, attempt, url(attempt), request.stream, client_headers, &auth, body)?;
    translate::send(cx, attempt, upstream, EXCEPTION).await
}

/// `{base}/v1/messages`; the model travels in the body.
fn url(attempt: &Attempt<'_>) -> Url {
    Url::new(&attempt.endpoint.base).path("/v1/messages")
}
