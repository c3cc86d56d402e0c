//! `/v1/messages`, Anthropic's Messages API, served by any deployment: relayed as it is to
//! `anthropic/` ones (and, through InvokeModel, to Bedrock's Anthropic models); for the others translated into a chat request ([`request`]) sent
//! through the deployment's own chat path, the reply translated back ([`response`], from
//! the completion it is read into once, handed on as the client's with its usage, or
//! [`stream`] chunk by chunk). Replies go on to
//! `respond`, which relays Anthropic's format.

pub mod request;
pub mod response;
pub mod stream;

use std::borrow::Cow;

use bytes::Bytes;
use http::HeaderMap;

use super::translate::{self, Translated, whole};
use super::{Attempt, Reply, Source, anthropic, bedrock};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::CallRequest;
use crate::provider::Context;
use crate::route::Api;
use crate::table::Protocol;

/// Serves a Messages call on the attempt's deployment.
pub async fn call(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    if attempt.deployment.protocol == Protocol::Anthropic {
        return anthropic::relay(cx, attempt, request, headers).await;
    }
    if attempt.deployment.protocol == Protocol::Bedrock && bedrock::invoke::serves(attempt.upstream_model) {
        return bedrock::invoke::relay(cx, attempt, request, headers).await;
    }
    // What the translation holds is charged until the reply is back.
    let budget = &cx.budget;
    let members = budget.charge_beside(request.held, translate::translation_bytes(&request.fields))?;
    let mut messages = budget.charge_beside(request.held + members.bytes(), 0)?;
    // A provider that translates the chat request reads the client's turns as chat
    // messages where it walks them; one that sends it as it is gets them written out.
    let how = match attempt.deployment.protocol {
        Protocol::Gemini | Protocol::Vertex | Protocol::Bedrock | Protocol::Anthropic => request::Messages::Mapped,
        Protocol::OpenAi | Protocol::Azure | Protocol::Fake => request::Messages::Written,
    };
    let chat = chat_request(request, &mut messages, how)?;
    let reply = super::chat(cx, attempt, Cow::Owned(chat), headers).await?;
    if !reply.status.is_success() {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    if request.stream {
        let events = stream::Events::new(response::message_id(), request.model.clone());
        let body = Source::Translated(Box::new(Translated::to_messages(body, events)));
        return Ok(Reply { status, headers, body, head_at });
    }
    // The reply is read once, whoever wrote it, and the message written from what it says.
    let exception = super::exception(attempt.deployment);
    let whole = whole::take(body, cx.max_upstream_bytes, attempt.deadline, exception).await?;
    let (message, usage) = whole
        .read()
        .and_then(|completion| response::to_message(&completion, &response::message_id(), &request.model))
        .map_err(|what| translate::untranslatable(exception, &what))?;
    let body = Source::Answered { body: Bytes::from(message), usage: Some(usage) };
    Ok(Reply { status, headers, body, head_at })
}

/// The Messages request as a chat request for the same model (its members copied as
/// handles on the client's body, then taken apart), its turns carried `how`.
fn chat_request(request: &CallRequest, charge: &mut Charge, how: request::Messages) -> Result<CallRequest, Error> {
    Ok(CallRequest {
        api: Api::Chat,
        model: request.model.clone(),
        stream: request.stream,
        include_usage: false,
        fields: request::to_chat(request.fields.clone(), charge, how)?,
        held: request.held + charge.bytes(),
        responses: None,
    })
}
