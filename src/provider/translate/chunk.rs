//! The typed chat chunk a stream translator produces ([`Chunk`]: deltas with typed tool
//! calls and thinking blocks, typed usage) and the [`Sink`] it writes them into: a chat
//! client's SSE bytes (`client::Into`, byte for byte what LiteLLM sends, members sorted as
//! the JSON trees they replace wrote them), plain chat SSE bytes (`Vec<u8>`), or the next
//! translator (Anthropic events, `messages::stream`; Responses events, `responses::stream`),
//! which reads the chunk's fields instead of parsing chat bytes back. The bytes go on to
//! `respond::stream::Relay` through `translate::Translated`.

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::reply::CachedUsage;
use super::stream::{ChunkHead, DONE, error_event};

/// One choice's delta: what changed in the message since the last chunk.
#[derive(Debug, Default)]
pub struct Delta {
    /// The first delta of the stream carries `role: assistant`.
    pub role: bool,
    /// Present even when empty where LiteLLM writes `"content": ""`.
    pub content: Option<String>,
    pub reasoning: Option<String>,
    /// OpenAI tool-call deltas.
    pub tool_calls: Vec<ToolCallDelta>,
    /// Anthropic-style thinking blocks (a signature), as LiteLLM relays them.
    pub thinking_blocks: Vec<ThinkingBlock>,
}

/// One tool call's delta: the call's first one names it, the ones after carry pieces of
/// its arguments. Written as chat's `{"function":{"arguments","name"},"id","index",
/// "provider_specific_fields","type":"function"}`, the members it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallDelta {
    /// The call's OpenAI index (counting tool calls, not content blocks).
    pub index: u64,
    /// On the call's first delta only: its id and name.
    pub start: Option<ToolStart>,
    /// The arguments' piece (or, Gemini, the whole arguments) as JSON text.
    pub arguments: String,
    /// Gemini 3's thought signature, under `provider_specific_fields`.
    pub thought_signature: Option<String>,
}

/// What a tool call's first delta names; either is written as null when the provider
/// gave none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolStart {
    pub id: Option<String>,
    pub name: Option<String>,
}

impl ToolCallDelta {
    /// A call's first delta: its id and name, empty arguments.
    pub fn start(index: u64, id: Option<String>, name: Option<String>) -> Self {
        ToolCallDelta { index, start: Some(ToolStart { id, name }), ..ToolCallDelta::default() }
    }

    /// A piece of the arguments of the call at `index`.
    pub fn piece(index: u64, arguments: String) -> Self {
        ToolCallDelta { index, arguments, ..ToolCallDelta::default() }
    }
}

/// A tool-call delta as chat writes it, members sorted.
#[derive(Serialize)]
struct ToolCallJson<'a> {
    function: FunctionJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<OrNull<'a>>,
    index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_specific_fields: Option<SignatureJson<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct FunctionJson<'a> {
    arguments: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<OrNull<'a>>,
}

/// A string, or null when there is none.
#[derive(Serialize)]
#[serde(transparent)]
struct OrNull<'a>(Option<&'a str>);

#[derive(Serialize)]
struct SignatureJson<'a> {
    thought_signature: &'a str,
}

impl Serialize for ToolCallDelta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let start = self.start.as_ref();
        ToolCallJson {
            function: FunctionJson { arguments: &self.arguments, name: start.map(|s| OrNull(s.name.as_deref())) },
            id: start.map(|s| OrNull(s.id.as_deref())),
            index: self.index,
            provider_specific_fields: self
                .thought_signature
                .as_deref()
                .map(|thought_signature| SignatureJson { thought_signature }),
            kind: "function",
        }
        .serialize(serializer)
    }
}

/// A thinking block as LiteLLM relays it in a delta (Bedrock's reasoning signature).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThinkingBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub thinking: String,
    #[serde(rename = "type")]
    pub kind: BlockKind,
}

/// A thinking block's `type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    #[default]
    Thinking,
}

/// OpenAI's usage as the translators fill it (LiteLLM's cache members where the provider
/// counts cache reads and writes, reasoning tokens where it counts thinking), members
/// sorted as the trees it replaces wrote them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChatUsage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    pub completion_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionDetails>,
    pub prompt_tokens: u64,
    pub prompt_tokens_details: PromptDetails,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PromptDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_tokens: Option<u64>,
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CompletionDetails {
    pub reasoning_tokens: u64,
}

impl ChatUsage {
    /// The counts the gateway keeps (metrics, spend, cost) of this usage.
    pub fn counts(&self) -> crate::usage::Usage {
        use crate::usage;
        let details = self.prompt_tokens_details;
        usage::Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.total_tokens,
            prompt_tokens_details: Some(usage::PromptDetails {
                cached_tokens: details.cached_tokens,
                cache_creation_tokens: details.cache_creation_tokens.unwrap_or(0),
            }),
            completion_tokens_details: self
                .completion_tokens_details
                .map(|d| usage::CompletionDetails { reasoning_tokens: d.reasoning_tokens }),
        }
    }
}

/// The prompt counts cache reads and writes; the total is the provider's when it gives one.
impl From<CachedUsage> for ChatUsage {
    fn from(usage: CachedUsage) -> Self {
        let prompt = usage.input + usage.cache_read + usage.cache_write;
        let (read, created) = (usage.cache_read, usage.cache_write);
        ChatUsage {
            cache_creation_input_tokens: Some(created),
            cache_read_input_tokens: Some(read),
            completion_tokens: usage.output,
            completion_tokens_details: None,
            prompt_tokens: prompt,
            prompt_tokens_details: PromptDetails { cache_creation_tokens: Some(created), cached_tokens: read },
            total_tokens: usage.total.unwrap_or(prompt + usage.output),
        }
    }
}

/// One `chat.completion.chunk` (or the stream's error or end), before any encoding.
#[derive(Debug)]
pub enum Chunk<'a> {
    /// A choice's delta.
    Delta { index: u64, delta: Delta },
    /// A choice's finish reason (OpenAI's name), with an empty delta.
    Finish { index: u64, reason: &'a str },
    /// The usage chunk: no choices, OpenAI's `usage` object.
    Usage(ChatUsage),
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
            Chunk::Usage(usage) => head.write(json!([]), serde_json::to_value(usage).ok(), self),
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
        json["tool_calls"] = serde_json::to_value(delta.tool_calls).unwrap_or_default();
    }
    if !delta.thinking_blocks.is_empty() {
        json["thinking_blocks"] = serde_json::to_value(delta.thinking_blocks).unwrap_or_default();
    }
    if delta.role {
        json["role"] = json!("assistant");
    }
    json
}
