//! A Responses create on a deployment whose provider does not speak the API (Anthropic,
//! Gemini, Vertex AI, the fake, OpenAI-compatible servers): the request becomes a chat
//! request (`request`) sent through the deployment's own chat path, its answer a Responses
//! object (`reply`) or Responses events (`stream`). With Redis configured the response is
//! stored with its conversation (`store`), and the operations on it answered from there;
//! without, they are a 400 that says how to do without. The reply goes on to `respond`.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

use super::super::translate::{self, Translated, whole};
use super::super::{Attempt, Reply, Source};
use super::{object, reply, request, store, stream};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{self, CallRequest, Fields, Member};
use crate::provider::Context;
use crate::route::{Api, Op};
use crate::state::conversations::Conversations;
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
        Some(Op::InputTokens) if attempt.deployment.protocol == Protocol::Anthropic => {
            return input_tokens(cx, attempt, request, headers).await;
        }
        Some(Op::InputTokens) => {
            let (route, model) = (Op::InputTokens.route(), request.model.clone());
            return Err(Error::UnsupportedApi { route, provider, model });
        }
        Some(op) => {
            return store::operation(cx.conversations.as_deref(), attempt, request, op).await;
        }
    }
    // What the translation holds is charged until the reply is back.
    let budget = &cx.budget;
    let members = budget.charge_beside(request.held, tree_bytes(&request.fields))?;
    let (fields, keep) = stored(cx, request, true).await?;
    let copy =
        budget.charge_beside(request.held + members.bytes(), keep.as_ref().map_or(0, |k| k.input.len() as u64))?;
    let mut input = budget.charge_beside(request.held + members.bytes() + copy.bytes(), 0)?;
    // The ids the client sees encode the deployment as a relayed response's do, so a
    // follow-up on it comes back here: a stream's events and a whole reply are written
    // with them (the stored copy without).
    let mut head = object::Head::new(object::id("resp"), request.model.clone(), translate::now(), &request.fields);
    head.store = keep.as_ref().is_some_and(|k| k.wanted);
    head.issued = super::prefix(attempt.deployment);
    let web_search = matches!(attempt.deployment.protocol, Protocol::Anthropic | Protocol::Gemini | Protocol::Vertex);
    let options = request::Options { provider, drop_params: cx.drop_params, web_search, input: carried(attempt) };
    let chat = chat_request(request, fields, &mut input, options)?;
    let reply = super::super::chat(cx, attempt, Cow::Owned(chat), headers).await?;
    if !reply.status.is_success() {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    let keep = keep.filter(|k| k.wanted).map(|k| store::Keep { store: k.store, input: k.input });
    if request.stream {
        let mut events = stream::Events::new(head);
        events.keep = keep;
        // A translating provider's chunks go to the Responses translator typed, in one body.
        let body = Source::Translated(Box::new(Translated::to_responses(body, events)));
        return Ok(Reply { status, headers, body, head_at });
    }
    // The reply is read once, whoever wrote it, and the response written from what it says.
    let exception = super::super::exception(attempt.deployment);
    let whole = whole::take(body, cx.max_upstream_bytes, attempt.deadline, exception).await?;
    let response = whole
        .read()
        .and_then(|completion| reply::to_response(&completion, &head, keep.is_some()))
        .map_err(|what| translate::untranslatable(exception, &what))?;
    if let (Some(keep), Some(stored)) = (keep, &response.stored) {
        keep.store.save(&head.id, stored, &keep.input).await;
    }
    let body = Source::Answered { body: Bytes::from(response.client), usage: response.usage };
    Ok(Reply { status, headers, body, head_at })
}

/// `POST /responses/input_tokens` on an Anthropic deployment: the request translated as a
/// create would be (the stored history before it, with Redis), counted by Anthropic, the
/// count in OpenAI's shape (`{"object": "response.input_tokens", "input_tokens": n}`).
async fn input_tokens(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    let budget = &cx.budget;
    let members = budget.charge_beside(request.held, tree_bytes(&request.fields))?;
    let (fields, _) = stored(cx, request, false).await?;
    let mut input = budget.charge_beside(request.held + members.bytes(), 0)?;
    let provider = attempt.deployment.provider;
    let options = request::Options { provider, drop_params: cx.drop_params, web_search: true, input: carried(attempt) };
    let chat = chat_request(request, fields, &mut input, options)?;
    let reply = super::super::anthropic::count_tokens(cx, attempt, Cow::Owned(chat), headers).await?;
    if !reply.status.is_success() {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    let exception = super::super::exception(attempt.deployment);
    let bytes = crate::framing::read(body, cx.max_upstream_bytes, attempt.deadline, exception).await?;
    let count = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| v["input_tokens"].as_u64());
    let count = count.ok_or_else(|| translate::untranslatable(exception, "no input_tokens in the count"))?;
    let body = serde_json::json!({ "object": "response.input_tokens", "input_tokens": count }).to_string();
    Ok(Reply { status, headers, body: Source::Full(Some(Bytes::from(body))), head_at })
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

/// The conversation a create continues and keeps, with Redis.
struct Stored {
    store: Arc<Conversations>,
    /// The input with the history before it, as stored.
    input: Bytes,
    /// The client lets it be stored (`store` not `false`).
    wanted: bool,
}

/// The request's members to translate: with Redis, the input after the history the
/// `previous_response_id` names (and what to store, when `creates` and the client lets
/// it), else the client's as they are.
async fn stored(cx: &Context, request: &CallRequest, creates: bool) -> Result<(Fields, Option<Stored>), Error> {
    let mut fields = request.fields.clone();
    let Some(conversations) = cx.conversations.as_ref() else { return Ok((fields, None)) };
    let wanted = creates && store::wanted(&fields);
    let shown = request.responses.as_deref().and_then(|p| p.previous_response_id.as_deref());
    let upstream = fields.text("previous_response_id");
    let previous = upstream.as_deref().zip(shown);
    if !wanted && previous.is_none() {
        return Ok((fields, None));
    }
    let input = store::expand(conversations, &mut fields, previous).await?;
    Ok((fields, Some(Stored { store: Arc::clone(conversations), input, wanted })))
}

/// How the chat request carries the input: a provider that translates the chat request
/// reads the items as chat messages where it walks them; one that sends it as it is gets
/// them written out.
fn carried(attempt: &Attempt<'_>) -> request::Input {
    match attempt.deployment.protocol {
        Protocol::Anthropic | Protocol::Gemini | Protocol::Vertex | Protocol::Bedrock => request::Input::Mapped,
        Protocol::OpenAi | Protocol::Azure | Protocol::Fake => request::Input::Written,
    }
}

/// The Responses request (its members, `fields`) as a chat request for the same model.
fn chat_request(
    request: &CallRequest,
    fields: Fields,
    charge: &mut Charge,
    options: request::Options,
) -> Result<CallRequest, Error> {
    Ok(CallRequest {
        api: Api::Chat,
        model: request.model.clone(),
        stream: request.stream,
        include_usage: false,
        fields: request::to_chat(fields, charge, options)?,
        held: request.held + charge.bytes(),
        responses: None,
    })
}
