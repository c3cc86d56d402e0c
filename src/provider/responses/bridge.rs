//! A Responses create on a deployment whose provider does not speak the API (Anthropic,
//! Gemini, Vertex AI, the fake, OpenAI-compatible servers): the request becomes a chat
//! request (`request`) sent through the deployment's own chat path, its answer a Responses
//! object (`reply`) or Responses events (`stream`). Nothing is stored, so the operations on
//! a stored response are a 400 that says how to do without. The reply goes on to `respond`.

use std::borrow::Cow;

use bytes::Bytes;
use http::HeaderMap;

use super::super::translate::{self, Events, Translated};
use super::super::{Attempt, Reply, Source};
use super::{object, reply, request, stream};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{self, CallRequest, Fields, Member};
use crate::provider::Context;
use crate::route::{Api, Op};
use crate::table::Protocol;

/// Serves a Responses call on the attempt's deployment through its chat path.
pub async fn call(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    let provider = attempt.deployment.provider;
    match request.op() {
        None | Some(Op::Create) => {}
        Some(Op::InputTokens) => {
            let (route, model) = (Op::InputTokens.route(), request.model.clone());
            return Err(Error::UnsupportedApi { route, provider, model });
        }
        Some(_) => return Err(Error::NotStored { param: "response_id", provider }),
    }
    // What the translation holds is charged until the reply is back.
    let budget = &cx.budget;
    let members = budget.charge_beside(request.held, tree_bytes(&request.fields))?;
    let mut input = budget.charge_beside(request.held + members.bytes(), 0)?;
    // `respond` encodes the deployment into the id as for a relayed response, so a
    // follow-up on it comes back here to be refused.
    let head = object::Head::new(object::id("resp"), request.model.clone(), translate::now(), &request.fields);
    let web_search = matches!(attempt.deployment.protocol, Protocol::Anthropic | Protocol::Gemini | Protocol::Vertex);
    let options = request::Options { provider, drop_params: cx.drop_params, web_search };
    let chat = chat_request(request, &mut input, options)?;
    let reply = super::super::chat(cx, attempt, Cow::Owned(chat), headers).await?;
    if !reply.status.is_success() {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    if request.stream {
        let events = Events::Responses(Box::new(stream::Events::new(head)));
        let body = Source::Translated(Box::new(Translated::new(body, events)));
        return Ok(Reply { status, headers, body, head_at });
    }
    let exception = super::super::exception(attempt.deployment);
    let bytes = crate::respond::read(body, cx.max_upstream_bytes, attempt.deadline, exception).await?;
    let response = reply::to_response(&bytes, &head).map_err(|what| translate::untranslatable(exception, &what))?;
    Ok(Reply { status, headers, body: Source::Full(Some(Bytes::from(response))), head_at })
}

/// The most memory the members but `input` take as trees (`input` is charged item by item
/// as it is translated).
fn tree_bytes(fields: &Fields) -> u64 {
    fields
        .members()
        .map(|(key, member)| match member {
            Member::Raw(raw) if key != "input" => parse::scan(raw).tree_bytes(raw.len()),
            _ => 0,
        })
        .sum()
}

/// The Responses request as a chat request for the same model.
fn chat_request(request: &CallRequest, charge: &mut Charge, options: request::Options) -> Result<CallRequest, Error> {
    Ok(CallRequest {
        api: Api::Chat,
        model: request.model.clone(),
        stream: request.stream,
        include_usage: false,
        fields: request::to_chat(request.fields.clone(), charge, options)?,
        held: request.held + charge.bytes(),
        responses: None,
    })
}
