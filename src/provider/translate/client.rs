//! A chat client's stream written by the translator itself ([`ChatClient`], a
//! `chunk::Sink`): each typed chunk encoded once as the bytes the client gets, what
//! `respond::format::chunks` made of the translator's chat bytes before (`model` the
//! requested name, a usage chunk the client did not ask for kept to the gateway, `cost`
//! added to one it did ask for, an error event counted as the failure, nothing after
//! `[DONE]`). The usage and failure it saw are told to `respond::stream::Relay` through
//! `translate::Translated`, which moves the bytes on as they are.

use serde::Deserialize as _;
use serde_json::{Value, json};

use super::chunk::{Chunk, Sink, delta_json};
use super::stream::{ChunkHead, DONE, error_event};
use crate::table::Deployment;
use crate::usage::Usage;

/// What the client asked for and what the gateway saw of its stream.
#[derive(Debug)]
pub struct ChatClient {
    /// The requested model name, written as every chunk's `model`.
    model: String,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    include_usage: bool,
    /// The deployment and the model it was called with, to price the usage chunk.
    price: Option<(&'static Deployment, String)>,
    usage: Option<Usage>,
    failure: Option<String>,
    done: bool,
}

impl ChatClient {
    pub fn new(model: String, include_usage: bool, price: Option<(&'static Deployment, String)>) -> Self {
        ChatClient { model, include_usage, price, usage: None, failure: None, done: false }
    }

    /// The usage the translator's usage chunk told.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The message of the last error event written, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// Ends the stream unless it was done: LiteLLM's error event for a `failure` (message,
    /// `error.type`, code), then `[DONE]`.
    pub fn end(&mut self, failure: Option<(&str, &str, u16)>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if let Some((message, kind, code)) = failure {
            out.extend_from_slice(&error_event(message, kind, code));
            self.failure = Some(message.to_owned());
        }
        out.extend_from_slice(DONE);
        self.done = true;
    }

    /// The usage chunk: kept to the gateway unless the client asked for it, then priced.
    fn usage_chunk(&mut self, head: &ChunkHead, usage: &Value, out: &mut Vec<u8>) {
        // What the client's chat format read of the chunk: a usage that is no `Usage`
        // (or null) is none, and the chunk goes to the client as it is.
        let Some(seen) = Usage::deserialize(usage).ok().filter(|_| !usage.is_null()) else {
            return write(head, &self.model, &json!([]), Some((usage, None)), out);
        };
        self.usage = Some(seen);
        if !self.include_usage {
            return;
        }
        let cost = self.price.as_ref().and_then(|(d, model)| crate::usage::cost(d, model, &seen));
        write(head, &self.model, &json!([]), Some((usage, cost)), out);
    }
}

/// The chat client's sink: a translator's chunks into `out` for the client.
pub struct Into<'a> {
    pub client: &'a mut ChatClient,
    pub out: &'a mut Vec<u8>,
}

impl Sink for Into<'_> {
    fn chunk(&mut self, head: &ChunkHead, chunk: Chunk<'_>) {
        let (client, out) = (&mut *self.client, &mut *self.out);
        if client.done {
            return;
        }
        match chunk {
            Chunk::Delta { index, delta } => {
                write(head, &client.model, &json!([{ "index": index, "delta": delta_json(delta) }]), None, out);
            }
            Chunk::Finish { index, reason } => {
                let choices = json!([{ "index": index, "delta": {}, "finish_reason": reason }]);
                write(head, &client.model, &choices, None, out);
            }
            Chunk::Usage(usage) => client.usage_chunk(head, &usage, out),
            Chunk::Error { message, kind, code } => {
                out.extend_from_slice(&error_event(message, kind, code));
                client.failure = Some(message.to_owned());
            }
            Chunk::Done => {
                out.extend_from_slice(DONE);
                client.done = true;
            }
        }
    }
}

/// One `chat.completion.chunk` as an SSE event, `model` named, its members in the order
/// `ChunkHead::write` gives them (a JSON object's keys in order), `cost` first in `usage`.
pub fn write(head: &ChunkHead, model: &str, choices: &Value, usage: Option<(&Value, Option<f64>)>, out: &mut Vec<u8>) {
    // Writing a Value, a number or a string into a Vec cannot fail.
    out.extend_from_slice(b"data: {\"choices\":");
    let _ = serde_json::to_writer(&mut *out, choices);
    out.extend_from_slice(b",\"created\":");
    let _ = serde_json::to_writer(&mut *out, &head.created);
    out.extend_from_slice(b",\"id\":");
    let _ = serde_json::to_writer(&mut *out, &head.id);
    out.extend_from_slice(b",\"model\":");
    let _ = serde_json::to_writer(&mut *out, model);
    out.extend_from_slice(b",\"object\":\"chat.completion.chunk\"");
    if let Some((usage, cost)) = usage {
        out.extend_from_slice(b",\"usage\":");
        let at = out.len() + 1;
        let _ = serde_json::to_writer(&mut *out, usage);
        if let Some(cost) = cost.filter(|_| out.get(at - 1) == Some(&b'{')) {
            let member = format!("\"cost\":{cost},");
            out.splice(at..at, member.bytes());
        }
    }
    out.extend_from_slice(b"}\n\n");
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
