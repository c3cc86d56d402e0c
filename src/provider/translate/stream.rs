//! The body of a translated stream: the provider's bytes read through their framing (SSE,
//! or AWS's event stream, both decoded in `crate::framing`) and each event handed to the
//! provider's translator ([`Events`]), which writes chat chunks (or Anthropic or Responses
//! events) for `respond::stream::Relay` to move to the client. Two translators in a row
//! (Gemini's or Bedrock's chunks as Anthropic events) are one body whose first hands typed
//! chunks to the second (`chunk::Sink`): the stream is decoded once and no chat bytes are
//! written and parsed back. A stream written in the client's format already (Anthropic
//! events, InvokeModel's too; a chat client's chunks, `client`) is passed on by the relay
//! as it is, told its usage and failure here. A chat
//! chunk stream's end ([`DONE`]) and LiteLLM's mid-stream [`error_event`] are written here, for the
//! translators and for the client's chat format (`respond::format::chunks`), which imports
//! them from `provider`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::StatusCode;
use http_body::{Body as _, Frame};
use serde_json::{Value, json};

use super::client::{self, ChatClient};
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
    /// A chat translator's typed chunks written as its chat client gets them.
    ToChat(Box<client::ToChat>),
}

/// A translator that writes typed chat chunks (`chunk::Sink`).
#[derive(Debug)]
pub enum Chat {
    Anthropic(anthropic::stream::Events),
    Gemini(gemini::stream::Events),
    Bedrock(bedrock::stream::Events),
}

/// `/v1/messages` bridged to a translating provider: its chunks become Anthropic events
/// without being written as chat bytes.
#[derive(Debug)]
pub struct ToMessages {
    chat: Chat,
    messages: messages::stream::Events,
}

impl ToMessages {
    fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut sink = messages::stream::Into { events: &mut self.messages, out };
        match &mut self.chat {
            Chat::Anthropic(events) => events.event(data, &mut sink),
            Chat::Gemini(events) => events.event(data, &mut sink),
            Chat::Bedrock(_) => {}
        }
    }

    /// One AWS event-stream frame (Bedrock's Converse events).
    pub(in crate::provider) fn frame(&mut self, frame: &crate::framing::eventstream::Frame, out: &mut Vec<u8>) {
        let mut sink = messages::stream::Into { events: &mut self.messages, out };
        match &mut self.chat {
            Chat::Anthropic(events) => events.event(&frame.payload, &mut sink),
            Chat::Gemini(events) => events.event(&frame.payload, &mut sink),
            Chat::Bedrock(events) => events.frame(frame, &mut sink),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let mut sink = messages::stream::Into { events: &mut self.messages, out };
        match &mut self.chat {
            Chat::Anthropic(events) => events.finish(&mut sink),
            Chat::Gemini(events) => events.finish(&mut sink),
            Chat::Bedrock(events) => events.finish(&mut sink),
        }
        self.messages.finish(out);
    }

    pub(in crate::provider) fn fail(&mut self, message: &str, status: u16, out: &mut Vec<u8>) {
        self.messages.fail(message, status, out);
    }
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
            Events::ToChat(events) => events.event(data, out),
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
            Events::ToChat(events) => return events.end(Some((MESSAGE, "internal_server_error", 500)), out),
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
        let Source::Translated(inner) = source else { return Translated::new(source, Events::Messages(events)) };
        let Translated { source, decoder, events: chat, ended } = *inner;
        let chat = match chat {
            Events::Anthropic(anthropic) => Chat::Anthropic(anthropic),
            Events::Gemini(gemini) => Chat::Gemini(gemini),
            Events::Bedrock(bedrock) => Chat::Bedrock(bedrock),
            other => {
                let inner = Translated { source, decoder, events: other, ended };
                return Translated::new(Source::Translated(Box::new(inner)), Events::Messages(events));
            }
        };
        let events = Events::ToMessages(Box::new(ToMessages { chat, messages: events }));
        Translated { source, decoder, events, ended }
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
        Translated { source, decoder, events: Events::ToChat(Box::new(client::ToChat::new(chat, client))), ended }
    }

    /// Whether this stream is written in the client's format already, for the relay to
    /// pass on as it is (`/v1/messages`'s Anthropic events, InvokeModel's among them, and
    /// a chat client's chunks).
    pub fn writes_client_format(&self) -> bool {
        matches!(self.events, Events::Messages(_) | Events::ToMessages(_) | Events::ToChat(_) | Events::Invoke(_))
    }

    /// The usage a stream in the client's format told it so far.
    pub fn usage(&mut self) -> Option<Usage> {
        match &self.events {
            Events::ToChat(events) => return events.usage(),
            Events::Invoke(events) => return events.usage(),
            _ => {}
        }
        self.events.messages().and_then(|events| events.usage())
    }

    /// The failure a stream in the client's format ended with, once.
    pub fn take_failure(&mut self) -> Option<String> {
        match &mut self.events {
            Events::ToChat(events) => return events.take_failure(),
            Events::Invoke(events) => return events.take_failure(),
            _ => {}
        }
        self.events.messages().and_then(messages::stream::Events::take_failure)
    }

    /// Ends a chat client's stream at the relay (`failure`'s error event unless it was
    /// done, then `[DONE]`); `false` for a stream whose end the client's format writes.
    pub fn end(&mut self, failure: Option<(&str, &str, u16)>, out: &mut Vec<u8>) -> bool {
        let Events::ToChat(events) = &mut self.events else { return false };
        events.end(failure, out);
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
                Some(Err(e)) if matches!(self.events, Events::Responses(_)) => {
                    if let Events::Responses(events) = &mut self.events {
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

/// What ends a chat chunk stream, as the translators write it and the client's chat
/// format (`respond::format::chunks`) relays it.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// LiteLLM's mid-stream error event (its JSON uses `", "` separators).
pub fn error_event(message: &str, kind: &str, code: u16) -> Vec<u8> {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"stream failed\"".to_owned());
    format!("data: {{\"error\": {{\"message\": {message}, \"type\": \"{kind}\", \"param\": null, \"code\": \"{code}\"}}}}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEMINI_SSE: &str = include_str!("../../../tests/fixtures/translate/gemini/stream.gemini.sse");

    /// Gemini's stream as chat chunks, as a chat client gets it.
    fn gemini() -> Translated {
        let source = Source::Full(Some(Bytes::from_static(GEMINI_SSE.as_bytes())));
        Translated::new(source, Events::Gemini(gemini::stream::Events::new("chatcmpl-test".into(), true)))
    }

    fn messages() -> messages::stream::Events {
        messages::stream::Events::new("msg_test".into(), "flash".into())
    }

    /// Every byte of a body whose source is always ready.
    fn drain(mut body: Translated) -> String {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = body.poll_frame(&mut cx) {
            out.extend_from_slice(frame.data_ref().map_or(&[][..], |data| data));
        }
        String::from_utf8(out).unwrap()
    }

    /// `text` with each random tool-call id cut to its `call_` prefix.
    fn without_call_ids(text: &str) -> String {
        let mut pieces = text.split("call_");
        let mut out = pieces.next().unwrap_or_default().to_owned();
        for piece in pieces {
            out.push_str("call_");
            out.push_str(piece.get(32..).unwrap_or(piece));
        }
        out
    }

    #[test]
    fn gemini_to_messages_is_one_body_that_writes_what_parsing_chat_bytes_did() {
        let fused = Translated::to_messages(Source::Translated(Box::new(gemini())), messages());
        // One body: Gemini's stream is decoded once, its chunks handed on typed; no chat
        // chunk is written for the Messages translator to parse again.
        assert!(matches!(fused.source, Source::Full(_)), "the fused body reads the provider itself");
        assert!(matches!(fused.events, Events::ToMessages(_)) && fused.writes_client_format());
        // The chain it replaces: Gemini's chat bytes, decoded and parsed by the Messages translator.
        let chained = Translated::new(Source::Translated(Box::new(gemini())), Events::Messages(messages()));
        let (fused, chained) = (drain(fused), drain(chained));
        assert!(
            fused.contains("\"name\":\"get_weather\"")
                && fused.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
            "{fused}"
        );
        assert_eq!(without_call_ids(&fused), without_call_ids(&chained));
    }

    #[tokio::test]
    async fn the_relay_passes_a_fused_stream_on_as_it_is() {
        use http_body_util::BodyExt as _;

        use crate::respond::format::{Format, messages::Messages};
        use crate::respond::stream::Relay;
        let idle = std::time::Duration::from_secs(60);
        let format = || Format::Messages(Messages::new("flash".into()));
        let fused = || Translated::to_messages(Source::Translated(Box::new(gemini())), messages());
        let relay = Relay::new(Source::Translated(Box::new(fused())), format(), idle);
        assert!(!relay.decodes(), "Anthropic events written by the translator are not decoded again");
        let relayed = relay.collect().await.unwrap().to_bytes();
        let relayed = String::from_utf8(relayed.to_vec()).unwrap();
        assert_eq!(without_call_ids(&relayed), without_call_ids(&drain(fused())));
        assert!(Relay::new(Source::Full(None), format(), idle).decodes(), "a relayed stream is decoded once");
    }

    #[test]
    fn an_untranslated_source_gets_the_messages_translator_on_top() {
        let body = Translated::to_messages(Source::Full(None), messages());
        assert!(matches!(body.events, Events::Messages(_)) && body.writes_client_format());
        assert!(!gemini().writes_client_format(), "chat chunks go through the client's chat format");
    }

    #[test]
    fn error_event_matches_litellm_spacing() {
        let e = String::from_utf8(error_event("boom", "internal_server_error", 500)).unwrap_or_default();
        assert_eq!(
            e,
            "data: {\"error\": {\"message\": \"boom\", \"type\": \"internal_server_error\", \"param\": null, \"code\": \"500\"}}\n\n"
        );
    }
}
