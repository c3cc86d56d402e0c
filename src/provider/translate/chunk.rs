//! The typed chat chunk a stream translator produces ([`Chunk`]) and the [`Sink`] it
//! writes them into: a chat client's SSE bytes (`client::Into`, byte for byte what
//! LiteLLM sends), chat SSE bytes for a translator that reads them (`Vec<u8>`), or the next translator (Anthropic events, `messages::stream`), which
//! reads the chunk's fields instead of parsing chat bytes back. The bytes go on to
//! `respond::stream::Relay` through `translate::Translated`.

use serde_json::{Value, json};

use super::stream::{ChunkHead, DONE, error_event};

/// One choice's delta: what changed in the message since the last chunk.
#[derive(Debug, Default)]
pub struct Delta {
    /// The first delta of the stream carries `role: assistant`.
    pub role: bool,
    /// Present even when empty where LiteLLM writes `"content": ""`.
    pub content: Option<String>,
    pub reasoning: Option<String>,
    /// OpenAI tool-call deltas (`index`, `id`, `type`, `function.name`, `function.arguments`).
    pub tool_calls: Vec<Value>,
    /// Anthropic-style thinking blocks (a signature), as LiteLLM relays them.
    pub thinking_blocks: Vec<Value>,
}

/// One `chat.completion.chunk` (or the stream's error or end), before any encoding.
#[derive(Debug)]
pub enum Chunk<'a> {
    /// A choice's delta.
    Delta { index: u64, delta: Delta },
    /// A choice's finish reason (OpenAI's name), with an empty delta.
    Finish { index: u64, reason: &'a str },
    /// The usage chunk: no choices, OpenAI's `usage` object.
    Usage(Value),
    /// LiteLLM's mid-stream error event.
    Error { message: &'a str, kind: &'a str, code: u16 },
    /// `[DONE]`.
    Done,
}

/// Where a translator writes its chunks.
pub trait Sink {
    /// Takes one chunk of the stream whose chunks repeat `head`.
    fn chunk(&mut self, head: &ChunkHead, chunk: Chunk<'_>);
}

/// Chat chunk bytes for a translator that reads them back (the Responses bridge): each
/// chunk as one SSE event, the provider's model named. A chat client's stream is written
/// by `client::Into` instead.
impl Sink for Vec<u8> {
    fn chunk(&mut self, head: &ChunkHead, chunk: Chunk<'_>) {
        match chunk {
            Chunk::Delta { index, delta } => {
                head.write(json!([{ "index": index, "delta": delta_json(delta) }]), None, self);
            }
            Chunk::Finish { index, reason } => {
                head.write(json!([{ "index": index, "delta": {}, "finish_reason": reason }]), None, self);
            }
            Chunk::Usage(usage) => head.write(json!([]), Some(usage), self),
            Chunk::Error { message, kind, code } => self.extend_from_slice(&error_event(message, kind, code)),
            Chunk::Done => self.extend_from_slice(DONE),
        }
    }
}

/// A delta as chat's JSON: only the members it has.
pub(super) fn delta_json(delta: Delta) -> Value {
    let mut json = json!({});
    if let Some(content) = delta.content {
        json["content"] = Value::String(content);
    }
    if let Some(reasoning) = delta.reasoning {
        json["reasoning_content"] = Value::String(reasoning);
    }
    if !delta.tool_calls.is_empty() {
        json["tool_calls"] = Value::Array(delta.tool_calls);
    }
    if !delta.thinking_blocks.is_empty() {
        json["thinking_blocks"] = Value::Array(delta.thinking_blocks);
    }
    if delta.role {
        json["role"] = json!("assistant");
    }
    json
}
