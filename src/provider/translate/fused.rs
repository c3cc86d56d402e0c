//! Two stream translators in a row, in one body (`stream::Translated`): a provider's chat
//! translator ([`Chat`]: Anthropic's, Gemini's, Bedrock Converse's) hands its typed chunks
//! (`chunk::Sink`) straight to the client's format, Anthropic events ([`ToMessages`],
//! `/v1/messages`), Responses events ([`ToResponses`], a bridged Responses call) or a chat
//! client's chunks ([`ToChat`]: `model` the requested name, usage kept or dropped, cost
//! added), so the provider's stream is decoded once and no chat bytes are written and
//! parsed back. The events go on to `respond::stream::Relay`, which passes them on.

use super::chunk::Sink;
use super::client::{self, ChatClient};
use crate::framing::eventstream::Frame;
use crate::provider::{anthropic, bedrock, gemini, messages, responses};

/// A translator that writes typed chat chunks (`chunk::Sink`).
#[derive(Debug)]
pub enum Chat {
    Anthropic(anthropic::stream::Events),
    Gemini(gemini::stream::Events),
    Bedrock(bedrock::stream::Events),
}

impl Chat {
    /// One SSE event's data (a Converse stream has none).
    fn event(&mut self, data: &[u8], sink: &mut impl Sink) {
        match self {
            Chat::Anthropic(events) => events.event(data, sink),
            Chat::Gemini(events) => events.event(data, sink),
            Chat::Bedrock(_) => {}
        }
    }

    /// One AWS event-stream frame (Bedrock's Converse events; others read its payload).
    fn frame(&mut self, frame: &Frame, sink: &mut impl Sink) {
        match self {
            Chat::Anthropic(events) => events.event(&frame.payload, sink),
            Chat::Gemini(events) => events.event(&frame.payload, sink),
            Chat::Bedrock(events) => events.frame(frame, sink),
        }
    }

    fn finish(&mut self, sink: &mut impl Sink) {
        match self {
            Chat::Anthropic(events) => events.finish(sink),
            Chat::Gemini(events) => events.finish(sink),
            Chat::Bedrock(events) => events.finish(sink),
        }
    }
}

/// `/v1/messages` bridged to a translating provider: its chunks become Anthropic events
/// without being written as chat bytes.
#[derive(Debug)]
pub struct ToMessages {
    pub(super) chat: Chat,
    pub(super) messages: messages::stream::Events,
}

impl ToMessages {
    pub(super) fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.chat.event(data, &mut messages::stream::Into { events: &mut self.messages, out });
    }

    /// One AWS event-stream frame (Bedrock's Converse events).
    pub(in crate::provider) fn frame(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        self.chat.frame(frame, &mut messages::stream::Into { events: &mut self.messages, out });
    }

    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        self.chat.finish(&mut messages::stream::Into { events: &mut self.messages, out });
        self.messages.finish(out);
    }

    pub(in crate::provider) fn fail(&mut self, message: &str, status: u16, out: &mut Vec<u8>) {
        self.messages.fail(message, status, out);
    }
}

/// A Responses call bridged to a translating provider: its chunks become Responses events
/// without being written as chat bytes.
#[derive(Debug)]
pub struct ToResponses {
    pub(super) chat: Chat,
    pub(super) responses: responses::stream::Events,
}

impl ToResponses {
    pub(super) fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.chat.event(data, &mut responses::stream::Into { events: &mut self.responses, out });
    }

    /// One AWS event-stream frame (Bedrock's Converse events).
    pub(in crate::provider) fn frame(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        self.chat.frame(frame, &mut responses::stream::Into { events: &mut self.responses, out });
    }

    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        self.chat.finish(&mut responses::stream::Into { events: &mut self.responses, out });
        self.responses.finish(out);
    }

    pub(in crate::provider) fn fail(&mut self, message: &str, status: u16, out: &mut Vec<u8>) {
        self.responses.fail(message, status, out);
    }
}

/// A chat client of a translating provider: the translator's chunks written once, as the
/// client gets them (`client::ChatClient`).
#[derive(Debug)]
pub struct ToChat {
    pub(super) chat: Chat,
    pub(super) client: ChatClient,
}

impl ToChat {
    pub(super) fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.chat.event(data, &mut client::Into { client: &mut self.client, out });
    }

    /// One AWS event-stream frame (Bedrock's Converse events).
    pub(in crate::provider) fn frame(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        self.chat.frame(frame, &mut client::Into { client: &mut self.client, out });
    }

    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        self.chat.finish(&mut client::Into { client: &mut self.client, out });
    }

    /// Ends the stream with LiteLLM's error event: Bedrock's translator's own, once.
    pub(in crate::provider) fn fail(&mut self, message: &str, kind: &str, code: u16, out: &mut Vec<u8>) {
        if let Chat::Bedrock(events) = &mut self.chat {
            return events.fail(message, kind, code, &mut client::Into { client: &mut self.client, out });
        }
        self.client.end(Some((message, kind, code)), out);
    }
}
