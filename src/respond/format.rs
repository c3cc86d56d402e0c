//! The client's stream formats: OpenAI chat chunks ([`chunks`]), Anthropic events
//! ([`messages`]) and Responses API events ([`responses`]). Each takes the events the
//! upstream framing delivered (`crate::framing`), writes them as its client expects, and
//! tells the relay (`stream`) what it saw: usage, the end of the stream, a failure. The
//! relay knows none of them; it calls [`Format`].

pub mod chunks;
pub mod messages;
pub mod responses;

use crate::framing::sse::Event;
use crate::usage::Usage;

/// A stream that failed at the gateway (the provider broke off, stalled, or sent an event
/// too large): what the client is told in its format.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub message: &'a str,
    /// LiteLLM's `error.type` (`internal_server_error`, `timeout`).
    pub kind: &'a str,
    pub code: u16,
}

/// The format a relayed stream is written in.
pub enum Format {
    Chunks(chunks::Chunks),
    Messages(messages::Messages),
    Responses(Box<responses::Events>),
}

impl Format {
    /// Writes one upstream event; the message of the failure it reports, if it is one.
    pub fn event(&mut self, event: &Event, out: &mut Vec<u8>) -> Option<String> {
        match self {
            Format::Chunks(chunks) => chunks.event(&event.data, out),
            Format::Messages(messages) => messages.event(&event.data, out),
            Format::Responses(events) => events.event(event, out),
        }
    }

    /// Writes what ends the stream: the gateway's `failure` in the client's shape, and
    /// chat's `[DONE]`; nothing for a stream the upstream already ended.
    pub fn end(&mut self, failure: Option<Failure<'_>>, out: &mut Vec<u8>) {
        match self {
            Format::Chunks(chunks) => chunks.end(failure, out),
            Format::Messages(messages) => messages.end(failure, out),
            Format::Responses(events) => events.end(failure, out),
        }
    }

    /// The usage the stream reported.
    pub fn usage(&self) -> Option<Usage> {
        match self {
            Format::Chunks(chunks) => chunks.usage(),
            Format::Messages(messages) => messages.usage(),
            Format::Responses(events) => events.usage(),
        }
    }
}
