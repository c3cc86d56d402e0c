//! The body of a translated stream: the provider's bytes read through their framing (SSE,
//! or AWS's event stream, both decoded in `crate::framing`) and each event handed to the
//! provider's translator ([`Events`]), which writes chat chunks (or Anthropic or Responses
//! events) for `respond::stream::Relay` to move to the client. A chat chunk stream's end
//! ([`DONE`]) and LiteLLM's mid-stream [`error_event`] are written here, for the
//! translators and for the client's chat format (`respond::format::chunks`), which imports
//! them from `provider`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::StatusCode;
use http_body::{Body as _, Frame};
use serde_json::{Value, json};

use crate::framing::{Decoded, Decoder};
use crate::provider::{Source, anthropic, bedrock, gemini, messages, responses};

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
    pub(in crate::provider) fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
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

    #[test]
    fn error_event_matches_litellm_spacing() {
        let e = String::from_utf8(error_event("boom", "internal_server_error", 500)).unwrap_or_default();
        assert_eq!(
            e,
            "data: {\"error\": {\"message\": \"boom\", \"type\": \"internal_server_error\", \"param\": null, \"code\": \"500\"}}\n\n"
        );
    }
}
