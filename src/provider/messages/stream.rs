//! OpenAI `chat.completion.chunk` events → Anthropic Messages SSE events, pure and in
//! constant memory: `message_start` (usage zeros), a content block per run of text
//! (`text_delta`) or per tool call (`input_json_delta`), `content_block_stop`,
//! `message_delta` (stop reason, usage) and `message_stop`; an OpenAI error event as an
//! Anthropic `error` event. The chunks come as chat SSE data ([`Events::event`], from an
//! OpenAI-compatible upstream) or typed ([`Events::chunk`], straight from a translator
//! such as Gemini's, never written as chat bytes). The events, already in the client's
//! format with `model` the requested name, go on to `respond::stream::Relay` through
//! `translate::Translated`, which passes them on and tells it the usage and any failure.

use serde_json::{Value, json};

use super::response::stop_reason;
use crate::error::anthropic_type;
use crate::provider::translate::ChunkHead;
use crate::provider::translate::chunk::{Chunk, Sink, ToolCallDelta};
use crate::usage::Usage;

/// The content block that is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// A tool call, by its OpenAI index.
    Tool(u64),
}

/// One stream's translation state.
#[derive(Debug)]
pub struct Events {
    id: String,
    /// The model the client asked for, named in `message_start`.
    model: String,
    started: bool,
    /// The open block and its Anthropic index.
    open: Option<(Open, usize)>,
    /// Blocks started so far; the next one's index.
    blocks: usize,
    stop_reason: &'static str,
    input_tokens: u64,
    output_tokens: u64,
    /// The message of the `error` event that ended the stream.
    failure: Option<String>,
    done: bool,
}

/// `event: <type>\ndata: <json>\n\n`.
pub fn write(event: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.get("type").and_then(Value::as_str).unwrap_or("error").as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    out.extend_from_slice(b"\n\n");
}

/// Anthropic's mid-stream `error` event, its type following `status`.
pub fn error_event(message: &str, status: u16) -> Vec<u8> {
    let mut out = Vec::new();
    write(&json!({ "type": "error", "error": { "type": anthropic_type(status), "message": message } }), &mut out);
    out
}

impl Events {
    pub fn new(id: String, model: String) -> Self {
        Events {
            id,
            model,
            started: false,
            open: None,
            blocks: 0,
            stop_reason: "end_turn",
            input_tokens: 0,
            output_tokens: 0,
            failure: None,
            done: false,
        }
    }

    /// Translates one chunk's `data`, writing Anthropic events to `out`.
    pub fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if data == b"[DONE]" {
            self.finish(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(data) else { return };
        if let Some(error) = chunk.get("error") {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("the provider's stream failed");
            let status = error.get("code").and_then(|c| c.as_str()?.parse().ok()).unwrap_or(500);
            self.fail(message, status, out);
            return;
        }
        self.start(out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.count(usage);
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else { return };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            self.text(text, out);
        }
        for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            self.tool_call(call, out);
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = stop_reason(finish);
        }
    }

    /// Translates one typed chunk (a translator's, never written as chat bytes), writing
    /// Anthropic events to `out`; the same events [`Events::event`] writes for its bytes.
    pub fn chunk(&mut self, chunk: Chunk<'_>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match chunk {
            Chunk::Done => self.finish(out),
            Chunk::Error { message, code, .. } => self.fail(message, code, out),
            Chunk::Usage(usage) => {
                self.start(out);
                (self.input_tokens, self.output_tokens) = (usage.prompt_tokens, usage.completion_tokens);
            }
            Chunk::Delta { delta, .. } => {
                self.start(out);
                self.text(delta.content.as_deref().unwrap_or_default(), out);
                for call in &delta.tool_calls {
                    self.typed_tool_call(call, out);
                }
            }
            Chunk::Finish { reason, .. } => {
                self.start(out);
                self.stop_reason = stop_reason(reason);
            }
        }
    }

    /// The usage the stream's events told the client (none before its first event).
    pub fn usage(&self) -> Option<Usage> {
        (self.started || self.done).then(|| Usage {
            prompt_tokens: self.input_tokens,
            completion_tokens: self.output_tokens,
            total_tokens: self.input_tokens + self.output_tokens,
            ..Usage::default()
        })
    }

    /// The message of the `error` event the stream ended with, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// OpenAI usage's counts, as the message's.
    fn count(&mut self, usage: &Value) {
        let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        (self.input_tokens, self.output_tokens) = (count("prompt_tokens"), count("completion_tokens"));
    }

    /// A piece of text: into the open text block, or a new one.
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        self.open_block(Open::Text, &json!({ "type": "text", "text": "" }), out);
        self.delta(&json!({ "type": "text_delta", "text": text }), out);
    }

    /// Ends the message once: the open block closed, `message_delta`, `message_stop`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(out);
        self.close(out);
        let usage = json!({ "input_tokens": self.input_tokens, "output_tokens": self.output_tokens });
        let delta = json!({ "stop_reason": self.stop_reason, "stop_sequence": null });
        write(&json!({ "type": "message_delta", "delta": delta, "usage": usage }), out);
        write(&json!({ "type": "message_stop" }), out);
        self.done = true;
    }

    /// Ends the stream with an `error` event.
    pub fn fail(&mut self, message: &str, status: u16, out: &mut Vec<u8>) {
        if !self.done {
            out.extend_from_slice(&error_event(message, status));
            self.failure = Some(message.to_owned());
            self.done = true;
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": { "input_tokens": 0, "output_tokens": 0 },
        });
        write(&json!({ "type": "message_start", "message": message }), out);
    }

    /// A tool call's first delta (with its id and name) opens a block; argument pieces
    /// become `input_json_delta`s of the open one.
    fn tool_call(&mut self, call: &Value, out: &mut Vec<u8>) {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let function = call.get("function").unwrap_or(&Value::Null);
        let block = || tool_use(call.get("id").unwrap_or(&Value::Null), function.get("name").unwrap_or(&Value::Null));
        self.call_delta(index, block, function.get("arguments").and_then(Value::as_str), out);
    }

    /// A typed tool-call delta, as [`Events::tool_call`] reads one parsed.
    fn typed_tool_call(&mut self, call: &ToolCallDelta, out: &mut Vec<u8>) {
        let start = call.start.as_ref();
        let text = |text: Option<&str>| text.map_or(Value::Null, |text| Value::String(text.to_owned()));
        let block =
            || tool_use(&text(start.and_then(|s| s.id.as_deref())), &text(start.and_then(|s| s.name.as_deref())));
        self.call_delta(call.index, block, Some(&call.arguments), out);
    }

    /// Opens the call's block (`block`) unless it is the open one, then its arguments'
    /// piece, when there is one.
    fn call_delta(&mut self, index: u64, block: impl FnOnce() -> Value, arguments: Option<&str>, out: &mut Vec<u8>) {
        let is_open = matches!(self.open, Some((Open::Tool(open), _)) if open == index);
        if !is_open {
            self.open_block(Open::Tool(index), &block(), out);
        }
        if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
            self.delta(&json!({ "type": "input_json_delta", "partial_json": arguments }), out);
        }
    }

    /// Opens a block of `kind` unless one is open already.
    fn open_block(&mut self, kind: Open, block: &Value, out: &mut Vec<u8>) {
        if self.open.is_some_and(|(open, _)| open == kind) {
            return;
        }
        self.close(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some((kind, index));
        write(&json!({ "type": "content_block_start", "index": index, "content_block": block }), out);
    }

    fn delta(&self, delta: &Value, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open {
            write(&json!({ "type": "content_block_delta", "index": index, "delta": delta }), out);
        }
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write(&json!({ "type": "content_block_stop", "index": index }), out);
        }
    }
}

/// A `tool_use` block's start.
fn tool_use(id: &Value, name: &Value) -> Value {
    json!({ "type": "tool_use", "id": id, "name": name, "input": {} })
}

/// The Messages translator as a chat translator's sink: typed chunks in, Anthropic events
/// out.
pub struct Into<'a> {
    pub events: &'a mut Events,
    pub out: &'a mut Vec<u8>,
}

impl Sink for Into<'_> {
    fn chunk(&mut self, _head: &ChunkHead, chunk: Chunk<'_>) {
        self.events.chunk(chunk, self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::sse::transcript;

    /// Runs an OpenAI SSE transcript through the translator; the Anthropic events' text.
    fn run(sse: &str) -> String {
        let events = std::cell::RefCell::new(Events::new("msg_test".into(), "gpt-4o-exact".into()));
        transcript(sse, |data, out| events.borrow_mut().event(data, out), |out| events.borrow_mut().finish(out))
    }

    #[test]
    fn text_and_tool_call_stream_matches_the_golden_events() {
        let got = run(include_str!("../../../tests/fixtures/messages/stream.openai.sse"));
        let want = include_str!("../../../tests/fixtures/messages/stream.anthropic.sse");
        let parse = |text: &str| -> Vec<(String, Value)> {
            text.split("\n\n")
                .filter(|e| !e.trim().is_empty())
                .map(|e| {
                    let (event, data) = e.trim().split_once('\n').expect("an event line and a data line");
                    let data = serde_json::from_str(data.trim_start_matches("data: ")).expect("JSON data");
                    (event.to_owned(), data)
                })
                .collect()
        };
        assert_eq!(parse(&got), parse(want), "{got}");
    }

    #[test]
    fn an_error_chunk_ends_the_stream_in_anthropic_shape() {
        let got =
            run("data: {\"error\": {\"message\": \"boom\", \"type\": \"x\", \"param\": null, \"code\": \"429\"}}\n\n");
        assert_eq!(
            got,
            "event: error\ndata: {\"error\":{\"message\":\"boom\",\"type\":\"rate_limit_error\"},\"type\":\"error\"}\n\n"
        );
    }
}
