//! Gemini `streamGenerateContent?alt=sse` events (each a whole `GenerateContentResponse`)
//! → OpenAI `chat.completion.chunk` events, pure and in constant memory: text and thought
//! deltas, each function call as one tool-call delta (id, name and whole arguments), a
//! separate finish chunk per candidate, then a usage chunk when the client asked for one
//! and `[DONE]` when the provider's stream ends. An `error` event becomes an OpenAI error
//! event. The chunks go on to `respond::stream::Relay` through `translate::Translated`.

use serde_json::{Value, json};

use super::response::{call_id, finish_reason, parts, usage};
use crate::provider::translate::ChunkHead;
use crate::provider::translate::stream::{DONE, error_event};

/// One stream's translation state.
#[derive(Debug)]
pub struct Events {
    head: ChunkHead,
    include_usage: bool,
    role_sent: bool,
    /// Tool calls sent so far; the next one's OpenAI index.
    tools: usize,
    /// The latest `usageMetadata`; Gemini repeats it, growing, on every event.
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
            usage: Value::Null,
            done: false,
        }
    }

    /// Translates one event's `data`, writing OpenAI events to `out`.
    pub fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.event_with(data, out, &mut call_id);
    }

    fn event_with(&mut self, data: &[u8], out: &mut Vec<u8>, ids: &mut impl FnMut() -> String) {
        if self.done {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
        if let Some(error) = event.get("error") {
            let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            let message = format!("litellm.APIError: GeminiException - {}: {}", text("status"), text("message"));
            out.extend_from_slice(&error_event(&message, "internal_server_error", 500));
            out.extend_from_slice(DONE);
            self.done = true;
            return;
        }
        if let Some(model) = event.get("modelVersion").and_then(Value::as_str) {
            model.clone_into(&mut self.head.model);
        }
        if let Some(metadata) = event.get("usageMetadata") {
            self.usage = metadata.clone();
        }
        let candidates = event.get("candidates").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (position, candidate) in candidates.iter().enumerate() {
            self.candidate(position, candidate, out, ids);
        }
    }

    fn candidate(&mut self, position: usize, candidate: &Value, out: &mut Vec<u8>, ids: &mut impl FnMut() -> String) {
        let index = candidate.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let list = candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array);
        let (text, reasoning, calls) = parts(list.map(Vec::as_slice).unwrap_or_default(), self.tools, ids);
        let called = !calls.is_empty();
        self.tools += calls.len();
        let mut delta = json!({});
        if !text.is_empty() {
            delta["content"] = Value::String(text);
        }
        if !reasoning.is_empty() {
            delta["reasoning_content"] = Value::String(reasoning);
        }
        if called {
            delta["tool_calls"] = Value::Array(calls);
        }
        if delta.as_object().is_some_and(|d| !d.is_empty()) {
            if !self.role_sent {
                delta["role"] = json!("assistant");
                self.role_sent = true;
            }
            self.head.write(json!([{ "index": index, "delta": delta }]), None, out);
        }
        if let Some(native) = candidate.get("finishReason").and_then(Value::as_str) {
            let finish = if self.tools > 0 { "tool_calls" } else { finish_reason(native) };
            self.head.write(json!([{ "index": index, "delta": {}, "finish_reason": finish }]), None, out);
        }
    }

    /// The usage chunk (when asked for) and `[DONE]`, once, when the provider's stream ends.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if self.include_usage {
            self.head.write(json!([]), Some(usage(&self.usage)), out);
        }
        out.extend_from_slice(DONE);
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::sse::{Parsed, Parser};

    fn run(sse: &str, include_usage: bool) -> Vec<Value> {
        let mut events = Events::new("chatcmpl-test".into(), include_usage);
        events.head.created = 1;
        let mut n = 0;
        let mut ids = move || {
            n += 1;
            format!("call_test{n}")
        };
        let mut parser = Parser::default();
        parser.feed(sse.as_bytes());
        let mut out = Vec::new();
        while let Some(Parsed::Event(data)) = parser.next_event() {
            events.event_with(&data, &mut out, &mut ids);
        }
        events.finish(&mut out);
        let text = String::from_utf8(out).unwrap_or_default();
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.trim_start_matches("data: ");
                serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()))
            })
            .collect()
    }

    #[test]
    fn function_call_stream_matches_the_golden_chunks() {
        let got = run(include_str!("../../../tests/fixtures/translate/gemini/stream.gemini.sse"), true);
        let want: Vec<Value> = include_str!("../../../tests/fixtures/translate/gemini/stream.openai.sse")
            .split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                let data = e.trim().trim_start_matches("data: ");
                serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()))
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn errors_end_the_stream_and_usage_needs_asking() {
        let got = run(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":\"STOP\"}]}\n\n",
            false,
        );
        assert_eq!(got.len(), 3, "content, finish, [DONE]: {got:?}");
        assert_eq!(got[1]["choices"][0]["finish_reason"], "stop");
        let got = run("data: {\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}\n\n", false);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["error"]["message"], "litellm.APIError: GeminiException - INTERNAL: boom");
    }
}
