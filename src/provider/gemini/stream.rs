//! Gemini `streamGenerateContent?alt=sse` events (each a whole `GenerateContentResponse`)
//! → OpenAI `chat.completion.chunk` events, pure and in constant memory: text and thought
//! deltas, each function call as one tool-call delta (id, name and whole arguments), a
//! separate finish chunk per candidate, then a usage chunk when the client asked for one
//! and `[DONE]` when the provider's stream ends. An `error` event becomes an OpenAI error
//! event. The chunks are typed (`translate::chunk`) and written into a sink: chat SSE for
//! a chat client, or the Messages translator for `/v1/messages`; they go on to
//! `respond::stream::Relay` through `translate::Translated`.

use serde_json::Value;

use super::response::{call_id, finish_reason, parts, usage};
use crate::provider::translate::ChunkHead;
use crate::provider::translate::chunk::{Chunk, Delta, Sink};

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

    /// Translates one event's `data`, writing OpenAI chunks into `sink`.
    pub fn event(&mut self, data: &[u8], sink: &mut impl Sink) {
        self.event_with(data, sink, &mut call_id);
    }

    fn event_with(&mut self, data: &[u8], sink: &mut impl Sink, ids: &mut impl FnMut() -> String) {
        if self.done {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
        if let Some(error) = event.get("error") {
            let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            let message = format!("litellm.APIError: GeminiException - {}: {}", text("status"), text("message"));
            sink.chunk(&self.head, Chunk::Error { message: &message, kind: "internal_server_error", code: 500 });
            sink.chunk(&self.head, Chunk::Done);
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
            self.candidate(position, candidate, sink, ids);
        }
    }

    fn candidate(
        &mut self,
        position: usize,
        candidate: &Value,
        sink: &mut impl Sink,
        ids: &mut impl FnMut() -> String,
    ) {
        let index = candidate.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let list = candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array);
        let (content, reasoning, tool_calls) = parts(list.map(Vec::as_slice).unwrap_or_default(), self.tools, ids);
        self.tools += tool_calls.len();
        let given = |text: String| (!text.is_empty()).then_some(text);
        let (content, reasoning) = (given(content), given(reasoning));
        if content.is_some() || reasoning.is_some() || !tool_calls.is_empty() {
            let mut delta = Delta { content, reasoning, tool_calls, ..Delta::default() };
            delta.role = !self.role_sent;
            self.role_sent = true;
            sink.chunk(&self.head, Chunk::Delta { index, delta });
        }
        if let Some(native) = candidate.get("finishReason").and_then(Value::as_str) {
            let reason = if self.tools > 0 { "tool_calls" } else { finish_reason(native) };
            sink.chunk(&self.head, Chunk::Finish { index, reason });
        }
    }

    /// The usage chunk (when asked for) and `[DONE]`, once, when the provider's stream ends.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::sse::{Parsed, Parser};

    fn run(sse: &str, include_usage: bool) -> Vec<Value> {
        raw(sse, include_usage)
            .iter()
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

    /// Gemini's SSE through the translator, ids `call_test<n>`: the chat bytes, one string an event.
    fn raw(sse: &str, include_usage: bool) -> Vec<String> {
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
        String::from_utf8(out).unwrap().split("\n\n").filter(|e| !e.is_empty()).map(str::to_owned).collect()
    }

    /// The bytes of a tool-call chunk (with and without Gemini 3's thought signature) and
    /// the usage chunk, as a chat client gets them (members sorted, as the trees wrote them).
    #[test]
    fn tool_call_and_usage_chunks_are_pinned_byte_for_byte() {
        let got = raw(include_str!("../../../tests/fixtures/translate/gemini/stream.gemini.sse"), true);
        let head = r#""created":1,"id":"chatcmpl-test","model":"gemini-2.0-flash","object":"chat.completion.chunk""#;
        let call = r#"{"tool_calls":[{"function":{"arguments":"{\"location\":\"Paris\"}","name":"get_weather"},"id":"call_test1","index":0,"type":"function"}]}"#;
        assert_eq!(got[2], format!(r#"data: {{"choices":[{{"delta":{call},"index":0}}],{head}}}"#));
        let usage = r#"{"completion_tokens":12,"completion_tokens_details":{"reasoning_tokens":0},"prompt_tokens":40,"prompt_tokens_details":{"cached_tokens":0},"total_tokens":52}"#;
        assert_eq!(got[4], format!(r#"data: {{"choices":[],{head},"usage":{usage}}}"#));
        let signed =
            r#"data: {"candidates":[{"content":{"parts":[{"functionCall":{"args":{}},"thoughtSignature":"sig"}]}}]}"#;
        let got = raw(&format!("{signed}\n\n"), false);
        let call = r#"{"role":"assistant","tool_calls":[{"function":{"arguments":"{}","name":null},"id":"call_test1__thought__sig","index":0,"provider_specific_fields":{"thought_signature":"sig"},"type":"function"}]}"#;
        let head = r#""created":1,"id":"chatcmpl-test","model":"","object":"chat.completion.chunk""#;
        assert_eq!(got[0], format!(r#"data: {{"choices":[{{"delta":{call},"index":0}}],{head}}}"#));
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
