//! Chat SSE data from an OpenAI-compatible upstream (its bytes are the provider's) read
//! into the typed chunks a translator hands the Responses translator (`translate::chunk`),
//! so both take one path through `Events::chunk`; the events go on to `respond` through
//! `translate::Translated`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::Events;
use crate::provider::responses::object;
use crate::provider::translate::chunk::{Chunk, Delta, ToolCallDelta, ToolStart};

/// What the translation reads of a `chat.completion.chunk` (or an error event).
#[derive(Deserialize)]
struct ChatChunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    delta: ChatDelta<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct ChatDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

impl ChatDelta<'_> {
    /// The delta as a translator types it: text (or, without text, a refusal), thinking
    /// and tool calls.
    fn typed(self) -> Delta {
        let content = self.content.filter(|t| !t.is_empty()).or(self.refusal.filter(|t| !t.is_empty()));
        Delta {
            content: content.map(Cow::into_owned),
            reasoning: self.reasoning_content.map(Cow::into_owned),
            tool_calls: self.tool_calls.into_iter().flatten().map(ToolDelta::typed).collect(),
            ..Delta::default()
        }
    }
}

impl ToolDelta<'_> {
    /// A call's id or name makes the delta a start (the translation opens a call of an
    /// index it has not seen, whatever its delta names).
    fn typed(self) -> ToolCallDelta {
        let (name, arguments) = self.function.map_or((None, None), |f| (f.name, f.arguments));
        let start = (self.id.is_some() || name.is_some())
            .then(|| ToolStart { id: self.id.map(Cow::into_owned), name: name.map(Cow::into_owned) });
        let arguments = arguments.map(Cow::into_owned).unwrap_or_default();
        ToolCallDelta { index: self.index.unwrap_or(0), start, arguments, thought_signature: None }
    }
}

impl Events {
    /// Translates one chat chunk's `data`, writing Responses events to `out`: the chunk
    /// read into typed chunks (usage, the first choice's delta, its finish) for
    /// [`Events::chunk`].
    pub fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if data == b"[DONE]" {
            self.chunk(Chunk::Done, out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<ChatChunk<'_>>(data) else { return };
        if let Some(error) = chunk.error {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("the provider's stream failed");
            let code = error.get("code").and_then(|c| c.as_str()?.parse().ok()).unwrap_or(500);
            let kind = error.get("type").and_then(Value::as_str).unwrap_or_default();
            self.chunk(Chunk::Error { message, kind, code }, out);
            return;
        }
        self.start(out);
        if let Some(usage) = chunk.usage.filter(Value::is_object) {
            self.chunk(Chunk::Usage(object::chat_usage(&usage)), out);
        }
        let Some(choice) = chunk.choices.into_iter().next() else { return };
        self.chunk(Chunk::Delta { index: 0, delta: choice.delta.typed() }, out);
        if let Some(reason) = choice.finish_reason {
            self.chunk(Chunk::Finish { index: 0, reason: &reason }, out);
        }
    }
}
