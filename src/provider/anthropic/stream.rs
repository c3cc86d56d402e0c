//! Anthropic Messages SSE events → OpenAI `chat.completion.chunk` events, pure and in
//! constant memory: text and thinking deltas, a tool call's start and argument deltas under
//! OpenAI's tool index (counting tool calls, not content blocks), the finish chunk from
//! `message_delta`, a usage chunk when the client asked for one, `[DONE]` after
//! `message_stop`; `ping` dropped, an `error` event as an OpenAI error event. The chunks are
//! typed (`translate::chunk`), written into a sink, and go on to `respond::stream::Relay`
//! through `translate::Translated`.

use serde_json::{Value, json};

use super::response::{finish_reason, usage};
use crate::provider::translate::ChunkHead;
use crate::provider::translate::chunk::{Chunk, Delta, Sink, ToolCallDelta};

/// One stream's translation state.
#[derive(Debug)]
pub struct Events {
    head: ChunkHead,
    include_usage: bool,
    role_sent: bool,
    /// Tool calls started so far; the next one's OpenAI index.
    tools: usize,
    /// The OpenAI index of the tool call whose content block is open.
    open_tool: Option<usize>,
    /// Anthropic's usage, merged from `message_start` and `message_delta`.
    usage: Value,
    done: bool,
}

impl Events {
    pub fn new(id: String, include_usage: bool) -> Self {
        Events {
            head: ChunkHead { id, created: crate::provider::translate::now(), model: String::new() },
            include_usage,
            role_sent: false,
            tools: 0,
            open_tool: None,
            usage: json!({}),
            done: false,
        }
    }

    /// Translates one event's `data`, writing OpenAI chunks into `sink`.
    pub fn event(&mut self, data: &[u8], sink: &mut impl Sink) {
        if self.done {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        match event.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_start" => {
                let message = event.get("message").unwrap_or(&Value::Null);
                self.head.model = text(message, "model");
                self.merge_usage(message.get("usage"));
            }
            "content_block_start" => self.block_start(event.get("content_block").unwrap_or(&Value::Null), sink),
            "content_block_delta" => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str).unwrap_or_default() {
                    "text_delta" => self.delta(Delta { content: Some(text(delta, "text")), ..Delta::default() }, sink),
                    "thinking_delta" => {
                        self.delta(Delta { reasoning: Some(text(delta, "thinking")), ..Delta::default() }, sink);
                    }
                    "input_json_delta" => {
                        if let Some(index) = self.open_tool {
                            let call = ToolCallDelta::piece(index as u64, text(delta, "partial_json"));
                            self.delta(Delta { tool_calls: vec![call], ..Delta::default() }, sink);
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => self.open_tool = None,
            "message_delta" => {
                self.merge_usage(event.get("usage"));
                let stop = event.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str);
                let reason = finish_reason(stop.unwrap_or("end_turn"));
                sink.chunk(&self.head, Chunk::Finish { index: 0, reason });
            }
            "message_stop" => self.finish(sink),
            "error" => {
                let error = event.get("error").unwrap_or(&Value::Null);
                let message = format!(
                    "litellm.APIError: AnthropicException - {}: {}",
                    text(error, "type"),
                    text(error, "message")
                );
                sink.chunk(&self.head, Chunk::Error { message: &message, kind: "internal_server_error", code: 500 });
                sink.chunk(&self.head, Chunk::Done);
                self.done = true;
            }
            _ => {}
        }
    }

    /// The usage chunk (when asked for) and `[DONE]`, once.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        if self.done {
            return;
        }
        if self.include_usage {
            sink.chunk(&self.head, Chunk::Usage(usage(&self.usage)));
        }
        sink.chunk(&self.head, Chunk::Done);
        self.done = true;
    }

    fn block_start(&mut self, block: &Value, sink: &mut impl Sink) {
        match block.get("type").and_then(Value::as_str) {
            Some("tool_use") => {
                let index = self.tools;
                self.tools += 1;
                self.open_tool = Some(index);
                let text = |key: &str| block.get(key).and_then(Value::as_str).map(str::to_owned);
                let call = ToolCallDelta::start(index as u64, text("id"), text("name"));
                self.delta(Delta { content: Some(String::new()), tool_calls: vec![call], ..Delta::default() }, sink);
            }
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or_default();
                if !text.is_empty() {
                    self.delta(Delta { content: Some(text.to_owned()), ..Delta::default() }, sink);
                }
            }
            _ => {}
        }
    }

    /// A chunk carrying `delta`, the first one with the assistant role.
    fn delta(&mut self, mut delta: Delta, sink: &mut impl Sink) {
        delta.role = !self.role_sent;
        self.role_sent = true;
        sink.chunk(&self.head, Chunk::Delta { index: 0, delta });
    }

    /// Later counts win; `message_delta` carries the final output (and sometimes input) tokens.
    fn merge_usage(&mut self, usage: Option<&Value>) {
        let (Some(Value::Object(new)), Some(merged)) = (usage, self.usage.as_object_mut()) else { return };
        for (key, value) in new {
            if value.is_u64() {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::sse::transcript;

    /// Runs a whole SSE transcript through the translator, returning the OpenAI events'
    /// data with the id and created fields normalised.
    fn run(sse: &str, include_usage: bool) -> Vec<String> {
        let mut events = Events::new("chatcmpl-test".into(), include_usage);
        events.head.created = 1;
        let events = std::cell::RefCell::new(events);
        let text =
            transcript(sse, |data, out| events.borrow_mut().event(data, out), |out| events.borrow_mut().finish(out));
        text.split("\n\n").filter(|e| !e.is_empty()).map(|e| e.trim_start_matches("data: ").to_owned()).collect()
    }

    #[test]
    fn tool_use_stream_matches_the_golden_chunks() {
        let got = run(include_str!("../../../tests/fixtures/translate/anthropic/stream.anthropic.sse"), true);
        let want: Vec<String> = include_str!("../../../tests/fixtures/translate/anthropic/stream.openai.sse")
            .split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|e| e.trim().trim_start_matches("data: ").to_owned())
            .collect();
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (got, want) in got.iter().zip(&want) {
            if want == "[DONE]" {
                assert_eq!(got, want);
                continue;
            }
            let got: Value = serde_json::from_str(got).unwrap_or_default();
            let want: Value = serde_json::from_str(want).unwrap_or_default();
            assert_eq!(got, want);
        }
    }

    /// The bytes of a tool call's first delta, an argument piece and the usage chunk, as
    /// a chat client gets them (members sorted, as the JSON trees wrote them).
    #[test]
    fn tool_call_and_usage_chunks_are_pinned_byte_for_byte() {
        let got = run(include_str!("../../../tests/fixtures/translate/anthropic/stream.anthropic.sse"), true);
        let head =
            r#""created":1,"id":"chatcmpl-test","model":"claude-sonnet-4-5-20250929","object":"chat.completion.chunk""#;
        let start = r#"{"content":"","tool_calls":[{"function":{"arguments":"","name":"get_weather"},"id":"toolu_01","index":0,"type":"function"}]}"#;
        assert_eq!(got[2], format!(r#"{{"choices":[{{"delta":{start},"index":0}}],{head}}}"#));
        let piece = r#"{"tool_calls":[{"function":{"arguments":"{\"location\": \"Par"},"index":0,"type":"function"}]}"#;
        assert_eq!(got[4], format!(r#"{{"choices":[{{"delta":{piece},"index":0}}],{head}}}"#));
        let usage = r#"{"cache_creation_input_tokens":0,"cache_read_input_tokens":3,"completion_tokens":30,"prompt_tokens":15,"prompt_tokens_details":{"cache_creation_tokens":0,"cached_tokens":3},"total_tokens":45}"#;
        assert_eq!(got[7], format!(r#"{{"choices":[],{head},"usage":{usage}}}"#));
    }

    #[test]
    fn no_usage_chunk_unless_asked_and_errors_end_the_stream() {
        let sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n\
                   event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let got = run(sse, false);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("AnthropicException - overloaded_error: Overloaded"), "{}", got[0]);
        assert_eq!(got[1], "[DONE]");
    }
}
