//! What the translating providers (`anthropic`, `gemini`) share: the client's chat request
//! as JSON with the gateway's fields out, the deployment's defaults in and unsupported
//! parameters refused (or dropped), the exchange with the provider (its head built by
//! `head`), the bounded read of a 2xx body, and the SSE body that turns a provider's events
//! into OpenAI chunks. Replies go on to `respond`, streams through `respond::sse::Relay`.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use http::{Request, StatusCode};
use http_body::{Body as _, Frame};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::bedrock::eventstream::{Decoded, Decoder};
use super::openai::{GATEWAY_FIELDS, misconfigured};
use super::{Attempt, Reply, Source, anthropic, bedrock, gemini, messages, responses};
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{self, CallRequest, Fields, Member};
use crate::provider::Context as ProviderContext;
use crate::respond::sse::{DONE, Parsed, Parser, error_event};
use crate::route::Api;
use crate::upstream::Outgoing;

/// The OpenAI chat parameters LiteLLM checks against a provider's supported list; any other
/// field is the provider's own and passes through.
const OPENAI_PARAMS: &[&str] = &[
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

/// What a translating provider is called in messages, and which OpenAI parameters it takes.
pub struct Provider {
    /// LiteLLM's name for it (`anthropic`).
    pub name: &'static str,
    pub supported: &'static [&'static str],
}

/// The chat request's members ready to translate: gateway fields removed, deployment
/// defaults added, OpenAI parameters the provider cannot take refused, or dropped when
/// `drop_params` is set. The trees the translation will parse of its members (but
/// `messages`) are first charged to the memory budget ([`translation_bytes`]); the charge
/// comes back with the members, to be held until the translated body is sent.
pub fn chat_fields(
    cx: &ProviderContext,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    provider: &Provider,
) -> Result<(Fields, Charge), Error> {
    if chat.api != Api::Chat {
        return Err(Error::UnsupportedApi {
            route: chat.api.route(),
            provider: provider.name,
            model: chat.model.clone(),
        });
    }
    // Copying a client's members copies handles on its body.
    let (mut fields, held) = match chat {
        Cow::Borrowed(request) => (request.fields.clone(), request.held),
        Cow::Owned(request) => (request.fields, request.held),
    };
    let charge = cx.budget.charge_beside(held, translation_bytes(&fields))?;
    for field in GATEWAY_FIELDS {
        fields.remove(field);
    }
    for (name, json) in attempt.deployment.default_params {
        if !fields.contains(name) {
            let raw = RawValue::from_string((*json).to_owned()).map_err(|e| misconfigured(attempt, e.to_string()))?;
            fields.insert(name, raw);
        }
    }
    let refused: Vec<&str> =
        OPENAI_PARAMS.iter().copied().filter(|p| fields.is_set(p) && !provider.supported.contains(p)).collect();
    if !refused.is_empty() && !cx.drop_params {
        let params = refused.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ");
        return Err(Error::UnsupportedParams {
            provider: provider.name,
            model: attempt.upstream_model.to_owned(),
            params: format!("[{params}]"),
        });
    }
    for param in refused {
        fields.remove(param);
    }
    Ok((fields, charge))
}

/// The most memory the members of `fields` other than `messages` take as trees, which a
/// translation parses (`messages` is charged as it is translated, by `list::each`).
/// Members the gateway built are trees already, charged by whoever built them.
pub fn translation_bytes(fields: &Fields) -> u64 {
    fields
        .members()
        .map(|(key, member)| match member {
            Member::Raw(raw) if key != "messages" => parse::scan(raw).tree_bytes(raw.len()),
            _ => 0,
        })
        .sum()
}

/// A JSON object of `members`, moved in: `json!` serializes what it embeds, copying every
/// string and tree, so translations build anything that may be large with this.
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(key, value)| (key.to_owned(), value)).collect())
}

/// Takes a member out as a tree, `None` when absent or null.
pub fn take(fields: &mut Fields, key: &str) -> Option<Value> {
    fields.take(key)
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
pub fn take_url(holder: Option<&mut Value>, key: &str) -> Option<String> {
    let holder = holder?;
    let url = if holder.get(key).is_some() { holder.get_mut(key)? } else { holder };
    if let Value::String(url) = url.take() { Some(url) } else { None }
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

/// A 400 naming a bad chat parameter.
pub fn bad(param: &'static str, reason: impl Into<String>) -> Error {
    Error::BadParam { route: Api::Chat.route(), param, reason: reason.into() }
}

/// Sends `upstream` and shapes the reply: an error untranslated, a stream through `events`,
/// a whole body read (bounded in size and time) and passed to `translate`.
pub async fn exchange(
    cx: &ProviderContext,
    attempt: &Attempt<'_>,
    upstream: Request<Outgoing>,
    exception: &'static str,
    events: Option<Events>,
    translate: impl FnOnce(&[u8]) -> Result<Value, String>,
) -> Result<Reply, Error> {
    let reply = send(cx, attempt, upstream, exception).await?;
    if !reply.status.is_success() {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    if let Some(events) = events {
        let body = Source::Translated(Box::new(Translated::new(body, events)));
        return Ok(Reply { status, headers, body, head_at });
    }
    let Source::Upstream(incoming) = body else { return Ok(Reply { status, headers, body, head_at }) };
    let bytes = read(incoming, cx.max_upstream_bytes, attempt.deadline, exception).await?;
    let json = translate(&bytes).map_err(|what| untranslatable(exception, &what))?;
    let body = Source::Full(Some(Bytes::from(json.to_string())));
    Ok(Reply { status: StatusCode::OK, headers, body, head_at })
}

/// A 502 for a 2xx reply that could not be translated, saying `what` is wrong with it.
pub fn untranslatable(exception: &'static str, what: &str) -> Error {
    Error::Upstream {
        status: StatusCode::BAD_GATEWAY,
        class: "APIError",
        exception,
        message: format!("the provider's reply could not be translated: {what}"),
        param: None,
    }
}

/// Sends `upstream` and returns the reply head, its body still streaming.
pub async fn send(
    cx: &ProviderContext,
    attempt: &Attempt<'_>,
    upstream: Request<Outgoing>,
    exception: &'static str,
) -> Result<Reply, Error> {
    let response = cx.client.send(upstream, attempt.deadline, exception).await?;
    let head_at = Instant::now();
    let (parts, incoming) = response.into_parts();
    Ok(Reply { status: parts.status, headers: parts.headers, body: Source::Upstream(incoming), head_at })
}

/// Reads a 2xx body up to `limit` bytes before `deadline`.
async fn read(incoming: Incoming, limit: usize, deadline: Instant, exception: &'static str) -> Result<Bytes, Error> {
    let started = Instant::now();
    let timeout = deadline.saturating_duration_since(started);
    match tokio::time::timeout(timeout, Limited::new(incoming, limit).collect()).await {
        Err(_) => Err(Error::Timeout { timeout_s: timeout.as_secs_f64(), elapsed_s: started.elapsed().as_secs_f64() }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Error::Upstream {
            status: StatusCode::BAD_GATEWAY,
            class: "APIError",
            exception,
            message: format!("the provider's reply is larger than {limit} bytes"),
            param: None,
        }),
        Ok(Err(e)) => Err(Error::Connect { exception, message: format!("reply broke off: {e}") }),
    }
}

/// Seconds since the epoch, for `created`.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `chatcmpl-<uuid4>`, the id LiteLLM gives translated replies.
pub fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4())
}

/// What every chunk of one translated stream repeats.
#[derive(Debug)]
pub struct ChunkHead {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl ChunkHead {
    /// A `chat.completion.chunk` with `choices`, written as one SSE event to `out`.
    pub fn write(&self, choices: Value, usage: Option<Value>, out: &mut Vec<u8>) {
        let mut chunk = json!({
            "id": self.id, "created": self.created, "model": self.model, "object": "chat.completion.chunk",
        });
        if let Some(map) = chunk.as_object_mut() {
            map.insert("choices".into(), choices);
            if let Some(usage) = usage {
                map.insert("usage".into(), usage);
            }
        }
        write_event(&chunk, out);
    }
}

/// `data: <json>\n\n`.
pub fn write_event(value: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    out.extend_from_slice(b"\n\n");
}

/// A stream translator; each turns one event's data into OpenAI chunks, or OpenAI chunks
/// into Anthropic events (`Messages`) or Responses events (`Responses`).
pub enum Events {
    Anthropic(anthropic::stream::Events),
    Gemini(gemini::stream::Events),
    Messages(messages::stream::Events),
    Bedrock(bedrock::stream::Events),
    /// InvokeModel's chunks as Anthropic events (`/v1/messages` relayed to Bedrock).
    Invoke(bedrock::invoke::Events),
    Responses(Box<responses::stream::Events>),
}

impl Events {
    pub(super) fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            Events::Anthropic(events) => events.event(data, out),
            Events::Gemini(events) => events.event(data, out),
            Events::Messages(events) => events.event(data, out),
            Events::Bedrock(_) | Events::Invoke(_) => {}
            Events::Responses(events) => events.event(data, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            Events::Anthropic(events) => events.finish(out),
            Events::Gemini(events) => events.finish(out),
            Events::Messages(events) => events.finish(out),
            Events::Bedrock(events) => events.finish(out),
            Events::Invoke(events) => events.finish(out),
            Events::Responses(events) => events.finish(out),
        }
    }

    /// Ends the stream after an event over the parser's limit.
    fn overflow(&mut self, out: &mut Vec<u8>) {
        const MESSAGE: &str = "litellm.APIError: a streamed event exceeded 4 MiB";
        let status = StatusCode::INTERNAL_SERVER_ERROR.as_u16();
        match self {
            Events::Messages(events) => return events.fail(MESSAGE, status, out),
            Events::Responses(events) => return events.fail(MESSAGE, status, out),
            Events::Anthropic(_) | Events::Gemini(_) | Events::Bedrock(_) | Events::Invoke(_) => {}
        }
        out.extend_from_slice(&error_event(MESSAGE, "internal_server_error", 500));
        out.extend_from_slice(DONE);
    }
}

/// How a provider's stream is framed: SSE, or AWS's binary event stream.
enum Framing {
    Sse(Parser),
    EventStream(Decoder),
}

/// A provider's stream body read through its framing ([`Parser`] or the event-stream
/// [`Decoder`]) and yielded as translated events: one frame per upstream frame (empty when
/// the frame held no whole event, so the relay's idle timer still sees the provider alive),
/// memory bounded by the framing's event limit.
pub struct Translated {
    source: Source,
    framing: Framing,
    events: Events,
    ended: bool,
}

impl Translated {
    pub fn new(source: Source, events: Events) -> Self {
        Translated { source, framing: Framing::Sse(Parser::default()), events, ended: false }
    }

    /// A body in AWS's event-stream framing (Bedrock).
    pub fn event_stream(source: Source, events: Events) -> Self {
        Translated { source, framing: Framing::EventStream(Decoder::default()), events, ended: false }
    }

    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            let mut out = Vec::new();
            match std::task::ready!(Pin::new(&mut self.source).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(mut data) = frame.into_data() else { continue };
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        let len = chunk.len();
                        match &mut self.framing {
                            Framing::Sse(parser) => parser.feed(chunk),
                            Framing::EventStream(decoder) => decoder.feed(chunk),
                        }
                        data.advance(len);
                    }
                    self.drain(&mut out);
                }
                // A Responses stream ends in its own format: the relay cannot know its state.
                Some(Err(e)) if matches!(self.events, Events::Responses(_)) => {
                    if let Events::Responses(events) = &mut self.events {
                        let message = format!("litellm.APIConnectionError: stream from the provider failed: {e}");
                        events.fail(&message, StatusCode::INTERNAL_SERVER_ERROR.as_u16(), &mut out);
                    }
                    self.ended = true;
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    if let Framing::Sse(parser) = &mut self.framing {
                        if let Some(last) = parser.finish() {
                            self.events.event(&last, &mut out);
                        }
                    }
                    self.events.finish(&mut out);
                    self.ended = true;
                    if out.is_empty() {
                        return Poll::Ready(None);
                    }
                }
            }
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
        }
    }

    fn drain(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let parser = match &mut self.framing {
            Framing::Sse(parser) => parser,
            Framing::EventStream(decoder) => {
                while let Some(decoded) = decoder.next_frame() {
                    match decoded {
                        Decoded::Frame(frame) => self.events.frame(&frame, out),
                        Decoded::Broken(why) => {
                            self.events.broken(&why, out);
                            self.ended = true;
                            return;
                        }
                    }
                }
                return;
            }
        };
        while let Some(parsed) = parser.next_event() {
            match parsed {
                Parsed::Event(data) => self.events.event(&data, out),
                Parsed::TooLarge => {
                    self.events.overflow(out);
                    self.ended = true;
                    return;
                }
            }
        }
    }
}
