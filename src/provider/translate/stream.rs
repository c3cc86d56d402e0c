//! The body of a translated stream: the provider's bytes read through their framing (SSE,
//! or AWS's event stream, both decoded in `crate::framing`) and each event handed to the
//! provider's translator ([`Events`]), which writes chat chunks (or Anthropic or Responses
//! events) for `respond::stream::Relay` to move to the client. Two translators in a row
//! (Gemini's or Bedrock's chunks as Anthropic events, or Anthropic's, Gemini's or
//! Bedrock's as Responses events, or as a chat client's chunks) are one body whose first
//! hands typed chunks to the second (`chunk::Sink`, `translate::fused`): the stream is
//! decoded once and no chat bytes are written and parsed back. A stream written in the
//! client's format already (Anthropic events, InvokeModel's too; a chat client's chunks,
//! `client`; a bridged Responses call's events, with the ids the client is issued) is passed
//! on by the relay as it is, told its usage, failure and end here. A chat
//! chunk stream's end ([`DONE`]) and LiteLLM's mid-stream [`error_event`] are written here, for the
//! translators and for the client's chat format (`respond::format::chunks`), which imports
//! them from `provider`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::StatusCode;
use http_body::{Body as _, Frame};
use serde_json::{Value, json};

use super::client::ChatClient;
pub use super::fused::{Chat, ToChat, ToMessages, ToResponses};
use crate::framing::{Decoded, Decoder};
use crate::provider::{Source, anthropic, bedrock, gemini, messages, responses};
use crate::usage::Usage;

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
    /// A chat translator's typed chunks straight into the Messages translator.
    ToMessages(Box<ToMessages>),
    /// A chat translator's typed chunks straight into the Responses translator.
    ToResponses(Box<ToResponses>),
    /// A chat translator's typed chunks written as its chat client gets them.
    ToChat(Box<ToChat>),
}

impl Events {
    pub(in crate::provider) fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            Events::Anthropic(events) => events.event(data, out),
            Events::Gemini(events) => events.event(data, out),
            Events::Messages(events) => events.event(data, out),
            Events::Bedrock(_) | Events::Invoke(_) => {}
            Events::Responses(events) => events.event(data, out),
            Events::ToMessages(events) => events.event(data, out),
            Events::ToResponses(events) => events.event(data, out),
            Events::ToChat(events) => events.event(data, out),
        }
    }

    /// The Responses translator, when this one writes Responses events.
    fn responses(&mut self) -> Option<&mut responses::stream::Events> {
        match self {
            Events::Responses(events) => Some(events),
            Events::ToResponses(events) => Some(&mut events.responses),
            _ => None,
        }
    }

    /// The Anthropic translator, when this one writes the client's format (`/v1/messages`).
    fn messages(&mut self) -> Option<&mut messages::stream::Events> {
        match self {
            Events::Messages(events) => Some(events),
            Events::ToMessages(events) => Some(&mut events.messages),
            _ => None,
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
            Events::ToMessages(events) => events.finish(out),
            Events::ToResponses(events) => events.finish(out),
            Events::ToChat(events) => events.finish(out),
        }
    }

    /// Ends the stream after an event over the parser's limit.
    fn overflow(&mut self, out: &mut Vec<u8>) {
        const MESSAGE: &str = "litellm.APIError: a streamed event exceeded 4 MiB";
        let status = StatusCode::INTERNAL_SERVER_ERROR.as_u16();
        match self {
            Events::Messages(events) => return events.fail(MESSAGE, status, out),
            Events::Responses(events) => return events.fail(MESSAGE, status, out),
            Events::ToMessages(events) => return events.fail(MESSAGE, status, out),
            Events::ToResponses(events) => return events.responses.fail(MESSAGE, status, out),
            Events::ToChat(events) => return events.client.end(Some((MESSAGE, "internal_server_error", 500)), out),
            Events::Anthropic(_) | Events::Gemini(_) | Events::Bedrock(_) | Events::Invoke(_) => {}
        }
        out.extend_from_slice(&error_event(MESSAGE, "internal_server_error", 500));
        out.extend_from_slice(DONE);
    }
}

/// A provider's stream body read through its framing (`crate::framing`: SSE, or AWS's
/// event stream) and yielded as translated events: one frame per upstream frame (empty
/// when the frame held no whole event, so the relay's idle timer still sees the provider
/// alive), memory bounded by the framing's event limit.
pub struct Translated {
    source: Source,
    decoder: Decoder,
    events: Events,
    ended: bool,
}

impl Translated {
    pub fn new(source: Source, events: Events) -> Self {
        Translated { source, decoder: Decoder::sse(), events, ended: false }
    }

    /// `/v1/messages`'s stream: `source`'s chat chunks as Anthropic `events`. A source
    /// translated already (Gemini, Vertex, Bedrock Converse) hands its typed chunks to
    /// `events` in the same body.
    pub fn to_messages(source: Source, events: messages::stream::Events) -> Self {
        match Fusing::of(source) {
            Ok(fusing) => fusing.with(|chat| Events::ToMessages(Box::new(ToMessages { chat, messages: events }))),
            Err(source) => Translated::new(source, Events::Messages(events)),
        }
    }

    /// A bridged Responses stream: `source`'s chat chunks as Responses `events`. A source
    /// translated already (Anthropic, Gemini, Vertex, Bedrock Converse) hands its typed
    /// chunks to `events` in the same body; an OpenAI-compatible one's chat bytes (the
    /// provider's) are parsed.
    pub fn to_responses(source: Source, events: responses::stream::Events) -> Self {
        match Fusing::of(source) {
            Ok(fusing) => fusing.with(|chat| Events::ToResponses(Box::new(ToResponses { chat, responses: events }))),
            Err(source) => Translated::new(source, Events::Responses(Box::new(events))),
        }
    }

    /// A chat client's stream: a chat translator's chunks written as `client` gets them,
    /// not as chat bytes for the relay to decode and rewrite. Other streams stay as they are.
    pub fn into_chat_client(self, client: ChatClient) -> Self {
        let Translated { source, decoder, events, ended } = self;
        let chat = match events {
            Events::Anthropic(anthropic) => Chat::Anthropic(anthropic),
            Events::Gemini(gemini) => Chat::Gemini(gemini),
            Events::Bedrock(bedrock) => Chat::Bedrock(bedrock),
            events => return Translated { source, decoder, events, ended },
        };
        Translated { source, decoder, events: Events::ToChat(Box::new(ToChat { chat, client })), ended }
    }

    /// Whether this stream is written in the client's format already, for the relay to
    /// pass on as it is (`/v1/messages`'s Anthropic events, InvokeModel's among them, a
    /// chat client's chunks, and a bridged Responses call's events, with the ids the client
    /// is issued).
    pub fn writes_client_format(&self) -> bool {
        !matches!(self.events, Events::Anthropic(_) | Events::Gemini(_) | Events::Bedrock(_))
    }

    /// The usage a stream in the client's format told it so far.
    pub fn usage(&mut self) -> Option<Usage> {
        match &self.events {
            Events::ToChat(events) => return events.client.usage(),
            Events::Invoke(events) => return events.usage(),
            _ => {}
        }
        if let Some(events) = self.events.responses() {
            return events.usage();
        }
        self.events.messages().and_then(|events| events.usage())
    }

    /// The failure a stream in the client's format ended with, once.
    pub fn take_failure(&mut self) -> Option<String> {
        match &mut self.events {
            Events::ToChat(events) => return events.client.take_failure(),
            Events::Invoke(events) => return events.take_failure(),
            _ => {}
        }
        if let Some(events) = self.events.responses() {
            return events.take_failure();
        }
        self.events.messages().and_then(messages::stream::Events::take_failure)
    }

    /// Ends a stream at the relay (a stall, an event too large): a chat client's with
    /// `failure`'s error event unless it was done, then `[DONE]`; a Responses one with its
    /// `error` event and `response.failed`, unless it had ended. `false` for a stream whose
    /// end the client's format (`respond::format`) writes.
    pub fn end(&mut self, failure: Option<(&str, &str, u16)>, out: &mut Vec<u8>) -> bool {
        if let Events::ToChat(events) = &mut self.events {
            events.client.end(failure, out);
            return true;
        }
        let Some(events) = self.events.responses() else { return false };
        if let Some((message, _, code)) = failure {
            events.fail(message, code, out);
        }
        true
    }

    /// A body in AWS's event-stream framing (Bedrock).
    pub fn event_stream(source: Source, events: Events) -> Self {
        Translated { source, decoder: Decoder::event_stream(), events, ended: false }
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
                        self.decoder.feed(chunk);
                        data.advance(len);
                    }
                    self.drain(&mut out);
                }
                // A Responses stream ends in its own format: the relay cannot know its state.
                Some(Err(e)) if matches!(self.events, Events::Responses(_) | Events::ToResponses(_)) => {
                    if let Some(events) = self.events.responses() {
                        let message = format!("litellm.APIConnectionError: stream from the provider failed: {e}");
                        events.fail(&message, StatusCode::INTERNAL_SERVER_ERROR.as_u16(), &mut out);
                    }
                    self.ended = true;
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    if let Some(last) = self.decoder.finish() {
                        self.events.event(&last.data, &mut out);
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

    /// Every whole event decoded so far, translated into `out`; a framing that cannot go
    /// on ends the stream with the translator's failure.
    fn drain(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        while let Some(decoded) = self.decoder.next_decoded() {
            let ends = matches!(decoded, Decoded::TooLarge | Decoded::Broken(_));
            match decoded {
                Decoded::Event(event) => self.events.event(&event.data, out),
                Decoded::Frame(frame) => self.events.frame(&frame, out),
                Decoded::TooLarge => self.events.overflow(out),
                Decoded::Broken(why) => self.events.broken(&why, out),
            }
            if ends {
                self.ended = true;
                return;
            }
        }
    }
}

/// A translated body taken apart to put a second translator after its chat translator.
struct Fusing {
    source: Source,
    decoder: Decoder,
    ended: bool,
    chat: Chat,
}

impl Fusing {
    /// A translated source whose translator writes typed chat chunks; any other source
    /// back as it is.
    fn of(source: Source) -> Result<Fusing, Source> {
        let Source::Translated(inner) = source else { return Err(source) };
        let Translated { source, decoder, events, ended } = *inner;
        let chat = match events {
            Events::Anthropic(anthropic) => Chat::Anthropic(anthropic),
            Events::Gemini(gemini) => Chat::Gemini(gemini),
            Events::Bedrock(bedrock) => Chat::Bedrock(bedrock),
            other => return Err(Source::Translated(Box::new(Translated { source, decoder, events: other, ended }))),
        };
        Ok(Fusing { source, decoder, ended, chat })
    }

    /// One body: the provider's stream decoded once, its chunks into `fused`'s translator.
    fn with(self, fused: impl FnOnce(Chat) -> Events) -> Translated {
        let Fusing { source, decoder, ended, chat } = self;
        Translated { source, decoder, events: fused(chat), ended }
    }
}

/// What ends a chat chunk stream, as the translators write it and the client's chat
/// format (`respond::format::chunks`) relays it.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// LiteLLM's mid-stream error event (its JSON uses `", "` separators).
pub fn error_event(message: &str, kind: &str, code: u16) -> Vec<u8> {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"stream failed\"".to_owned());
    format!("data: {{\"error\": {{\"message\": {message}, \"type\": \"{kind}\", \"param\": null, \"code\": \"{code}\"}}}}\n\n").into_bytes()
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
