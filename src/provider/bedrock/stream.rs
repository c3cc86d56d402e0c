//! Bedrock ConverseStream events (frames from `framing::eventstream`) → OpenAI
//! `chat.completion.chunk` events, pure and in constant memory: text and reasoning deltas,
//! a tool call's start and its argument deltas as they arrive (under OpenAI's tool index),
//! the finish chunk at `messageStop`, the usage chunk from `metadata` when asked, then
//! `[DONE]`. An exception frame is an error event; a stream that ends before `messageStop`
//! ends with one too, never silently. Chunks are typed (`translate::chunk`), written into a
//! sink (chat SSE, or the Messages translator), and go on to `respond::stream::Relay`
//! through `translate::Translated`.

use serde::Deserialize;

use super::errors;
use super::response::finish_reason;
use super::wire::{BlockDelta, BlockStart, MessageStop, Metadata, Usage};
use crate::framing::eventstream::{Frame, Kind};
use crate::provider::translate::chunk::{ChatUsage, Chunk, Delta, Sink, ThinkingBlock, ToolCallDelta};
use crate::provider::translate::stream::{DONE, error_event};
use crate::provider::translate::{self, ChunkHead};

/// One stream's translation state.
#[derive(Debug)]
pub struct Events {
    head: ChunkHead,
    include_usage: bool,
    /// The one forced tool's arguments are the answer (`response_format`).
    json_mode: bool,
    role_sent: bool,
    /// Tool calls started so far; the next one's OpenAI index.
    tools: usize,
    /// The OpenAI index of the tool call whose block is open.
    open_tool: Option<usize>,
    phase: Phase,
}

/// Where the stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// `messageStop` came: the finish chunk is written.
    Stopped,
    /// `[DONE]` is written; nothing follows.
    Done,
}

impl Events {
    pub fn new(id: String, model: String, include_usage: bool, json_mode: bool) -> Self {
        Events {
            head: ChunkHead { id, created: crate::provider::translate::now(), model },
            include_usage,
            json_mode,
            role_sent: false,
            tools: 0,
            open_tool: None,
            phase: Phase::Open,
        }
    }

    /// Translates one frame, writing OpenAI chunks into `sink`.
    pub fn frame(&mut self, frame: &Frame, sink: &mut impl Sink) {
        if self.phase == Phase::Done {
            return;
        }
        if frame.kind != Kind::Event {
            let e = errors::exception(&frame.name, &frame.payload);
            self.fail(&e.to_string(), e.kind(), e.status().as_u16(), sink);
            return;
        }
        match frame.name.as_str() {
            "contentBlockStart" => {
                let Some(event) = read::<BlockStart<'_>>(&frame.payload) else { return };
                self.block_start(event, sink);
            }
            "contentBlockDelta" => {
                let Some(event) = read::<BlockDelta<'_>>(&frame.payload) else { return };
                self.block_delta(event, sink);
            }
            "contentBlockStop" if read::<serde::de::IgnoredAny>(&frame.payload).is_some() => self.open_tool = None,
            "messageStop" => {
                let Some(event) = read::<MessageStop<'_>>(&frame.payload) else { return };
                let stop = event.stop_reason.or("end_turn");
                let reason = if self.json_mode && stop == "tool_use" { "stop" } else { finish_reason(&stop) };
                sink.chunk(&self.head, Chunk::Finish { index: 0, reason });
                self.phase = Phase::Stopped;
            }
            "metadata" => {
                let Some(event) = read::<Metadata<'_>>(&frame.payload) else { return };
                if self.include_usage {
                    let usage = event.usage.as_ref().map(Usage::cached).unwrap_or_default();
                    sink.chunk(&self.head, Chunk::Usage(ChatUsage::from(usage)));
                }
                sink.chunk(&self.head, Chunk::Done);
                self.phase = Phase::Done;
            }
            // messageStart carries the role only, sent with the first delta.
            _ => {}
        }
    }

    /// The end of the stream: `[DONE]` after `messageStop`, an error event before it.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        if self.phase == Phase::Done {
            return;
        }
        if self.phase == Phase::Stopped {
            sink.chunk(&self.head, Chunk::Done);
            self.phase = Phase::Done;
            return;
        }
        let message = "litellm.APIConnectionError: BedrockException - the stream ended before messageStop";
        self.fail(message, "internal_server_error", 500, sink);
    }

    /// An error event and `[DONE]`; nothing after it.
    pub fn fail(&mut self, message: &str, kind: &str, code: u16, sink: &mut impl Sink) {
        if self.phase == Phase::Done {
            return;
        }
        sink.chunk(&self.head, Chunk::Error { message, kind, code });
        sink.chunk(&self.head, Chunk::Done);
        self.phase = Phase::Done;
    }

    fn block_start(&mut self, event: BlockStart<'_>, sink: &mut impl Sink) {
        let Some(tool) = event.start.and_then(|s| s.tool_use) else { return };
        let index = self.tools;
        self.tools += 1;
        self.open_tool = Some(index);
        if self.json_mode {
            return;
        }
        let call =
            ToolCallDelta::start(index as u64, tool.id.get().map(str::to_owned), tool.name.get().map(str::to_owned));
        self.delta(Delta { content: Some(String::new()), tool_calls: vec![call], ..Delta::default() }, sink);
    }

    fn block_delta(&mut self, event: BlockDelta<'_>, sink: &mut impl Sink) {
        let Some(delta) = event.delta else { return };
        if let Some(t) = delta.text.0 {
            self.delta(Delta { content: Some(t.into_owned()), ..Delta::default() }, sink);
        } else if let Some(arguments) = delta.tool_use.and_then(|t| t.input.0) {
            let Some(index) = self.open_tool else { return };
            if self.json_mode {
                self.delta(Delta { content: Some(arguments.into_owned()), ..Delta::default() }, sink);
                return;
            }
            let call = ToolCallDelta::piece(index as u64, arguments.into_owned());
            self.delta(Delta { tool_calls: vec![call], ..Delta::default() }, sink);
        } else if let Some(reasoning) = delta.reasoning {
            if let Some(t) = reasoning.text.0 {
                self.delta(Delta { reasoning: Some(t.into_owned()), ..Delta::default() }, sink);
            } else if let Some(signature) = reasoning.signature.get() {
                let block = ThinkingBlock { signature: Some(signature.to_owned()), ..ThinkingBlock::default() };
                self.delta(Delta { thinking_blocks: vec![block], ..Delta::default() }, sink);
            }
        }
    }

    /// A chunk carrying `delta`, the first one with the assistant role.
    fn delta(&mut self, mut delta: Delta, sink: &mut impl Sink) {
        delta.role = !self.role_sent;
        self.role_sent = true;
        sink.chunk(&self.head, Chunk::Delta { index: 0, delta });
    }
}

/// An event's payload as `T`; `None` (the event skipped, as before) when it is not JSON of
/// that shape.
fn read<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Option<T> {
    serde_json::from_slice(payload).ok()
}

/// What the shared stream body (`translate::Translated`) does with AWS event-stream frames.
impl translate::Events {
    /// One AWS event-stream frame: a Converse event, or (others) its payload as an event.
    pub(in crate::provider) fn frame(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        match self {
            translate::Events::Bedrock(events) => events.frame(frame, out),
            translate::Events::Invoke(events) => events.frame(frame, out),
            translate::Events::ToMessages(events) => events.frame(frame, out),
            translate::Events::ToResponses(events) => events.frame(frame, out),
            translate::Events::ToChat(events) => events.frame(frame, out),
            other => other.event(&frame.payload, out),
        }
    }

    /// Ends the stream after a frame that could not be read (`why`).
    pub(in crate::provider) fn broken(&mut self, why: &str, out: &mut Vec<u8>) {
        let message = format!("litellm.APIError: BedrockException - the stream holds {why}");
        match self {
            translate::Events::Bedrock(events) => events.fail(&message, "internal_server_error", 502, out),
            translate::Events::Messages(events) => events.fail(&message, 502, out),
            translate::Events::ToMessages(events) => events.fail(&message, 502, out),
            translate::Events::ToResponses(events) => events.fail(&message, 502, out),
            translate::Events::Invoke(events) => events.fail(&message, 502, out),
            translate::Events::ToChat(events) => events.fail(&message, "internal_server_error", 502, out),
            _ => {
                out.extend_from_slice(&error_event(&message, "internal_server_error", 502));
                out.extend_from_slice(DONE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;

    fn event(name: &str, payload: &Value) -> Frame {
        Frame { kind: Kind::Event, name: name.to_owned(), payload: Bytes::from(payload.to_string()) }
    }

    fn run(frames: &[Frame], include_usage: bool, end: bool) -> Vec<Value> {
        let mut events = Events::new("chatcmpl-test".into(), "m".into(), include_usage, false);
        let mut out = Vec::new();
        for frame in frames {
            events.frame(frame, &mut out);
        }
        if end {
            events.finish(&mut out);
        }
        String::from_utf8(out)
            .unwrap_or_default()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.trim_start_matches("data: ")).unwrap_or(Value::String(e.to_owned())))
            .collect()
    }

    #[test]
    fn text_then_a_tool_call_streamed_as_it_comes() {
        let frames = [
            event("messageStart", &json!({ "role": "assistant" })),
            event("contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Hi" } })),
            event("contentBlockStop", &json!({ "contentBlockIndex": 0 })),
            event(
                "contentBlockStart",
                &json!({ "contentBlockIndex": 1, "start": { "toolUse": { "toolUseId": "t1", "name": "f" } } }),
            ),
            event(
                "contentBlockDelta",
                &json!({ "contentBlockIndex": 1, "delta": { "toolUse": { "input": "{\"a\":" } } }),
            ),
            event("contentBlockDelta", &json!({ "contentBlockIndex": 1, "delta": { "toolUse": { "input": "1}" } } })),
            event("contentBlockStop", &json!({ "contentBlockIndex": 1 })),
            event("messageStop", &json!({ "stopReason": "tool_use" })),
            event("metadata", &json!({ "usage": { "inputTokens": 3, "outputTokens": 4, "totalTokens": 7 } })),
        ];
        let got = run(&frames, true, true);
        let delta = |i: usize| &got[i]["choices"][0]["delta"];
        assert_eq!((delta(0)["role"].as_str(), delta(0)["content"].as_str()), (Some("assistant"), Some("Hi")));
        assert_eq!(delta(1)["tool_calls"][0]["id"], "t1");
        assert_eq!(delta(2)["tool_calls"][0]["function"]["arguments"], "{\"a\":");
        assert_eq!(delta(3)["tool_calls"][0]["function"]["arguments"], "1}");
        assert_eq!(got[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(got[5]["usage"]["total_tokens"], 7);
        assert_eq!(got[6], Value::String("data: [DONE]".into()));
        assert_eq!(got.len(), 7);
    }

    /// The bytes of a tool call's first delta, an argument piece, a thinking block and the
    /// usage chunk, as a chat client gets them (members sorted, as the trees wrote them).
    #[test]
    fn tool_call_thinking_and_usage_chunks_are_pinned_byte_for_byte() {
        let frames = [
            event("contentBlockStart", &json!({ "start": { "toolUse": { "toolUseId": "t1", "name": "f" } } })),
            event("contentBlockDelta", &json!({ "delta": { "toolUse": { "input": "{\"a\":1}" } } })),
            event("contentBlockStop", &json!({})),
            event("contentBlockDelta", &json!({ "delta": { "reasoningContent": { "signature": "s" } } })),
            event("messageStop", &json!({ "stopReason": "tool_use" })),
            event("metadata", &json!({ "usage": { "inputTokens": 3, "outputTokens": 4, "cacheReadInputTokens": 2 } })),
        ];
        let mut events = Events::new("chatcmpl-test".into(), "m".into(), true, false);
        events.head.created = 1;
        let mut out = Vec::new();
        for frame in &frames {
            events.frame(frame, &mut out);
        }
        let got = String::from_utf8(out).unwrap();
        let got: Vec<&str> = got.split("\n\n").filter(|e| !e.is_empty()).collect();
        let head = r#""created":1,"id":"chatcmpl-test","model":"m","object":"chat.completion.chunk""#;
        let chunk = |delta: &str| format!(r#"data: {{"choices":[{{"delta":{delta},"index":0}}],{head}}}"#);
        let start = r#"{"content":"","role":"assistant","tool_calls":[{"function":{"arguments":"","name":"f"},"id":"t1","index":0,"type":"function"}]}"#;
        assert_eq!(got[0], chunk(start));
        let piece = r#"{"tool_calls":[{"function":{"arguments":"{\"a\":1}"},"index":0,"type":"function"}]}"#;
        assert_eq!(got[1], chunk(piece));
        assert_eq!(got[2], chunk(r#"{"thinking_blocks":[{"signature":"s","thinking":"","type":"thinking"}]}"#));
        let usage = r#"{"cache_creation_input_tokens":0,"cache_read_input_tokens":2,"completion_tokens":4,"prompt_tokens":5,"prompt_tokens_details":{"cache_creation_tokens":0,"cached_tokens":2},"total_tokens":9}"#;
        assert_eq!(got[4], format!(r#"data: {{"choices":[],{head},"usage":{usage}}}"#));
        assert_eq!(got.len(), 6, "{got:?}");
    }

    #[test]
    fn an_exception_or_an_early_end_is_an_error_event() {
        let throttled = Frame {
            kind: Kind::Exception,
            name: "throttlingException".into(),
            payload: Bytes::from_static(br#"{"message":"Too many tokens"}"#),
        };
        let got = run(&[event("messageStart", &json!({})), throttled], false, true);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0]["error"]["code"], "429");
        assert!(got[0]["error"]["message"].as_str().unwrap_or_default().contains("Too many tokens"));
        let got = run(&[event("contentBlockDelta", &json!({ "delta": { "text": "x" } }))], false, true);
        assert!(got[1]["error"]["message"].as_str().unwrap_or_default().contains("before messageStop"), "{got:?}");
        let got = run(&[event("messageStop", &json!({ "stopReason": "end_turn" }))], false, true);
        assert_eq!(got.len(), 2, "a finish chunk and [DONE], no usage unless asked: {got:?}");
    }

    #[test]
    fn unknown_members_pass_unread_and_unreadable_payloads_are_skipped() {
        let garbled = Frame { kind: Kind::Event, name: "contentBlockDelta".into(), payload: Bytes::from_static(b"{") };
        let frames = [
            event("contentBlockDelta", &json!({ "delta": { "text": "a", "citation": {} }, "p": "abc" })),
            garbled,
            event("contentBlockDelta", &json!({ "delta": { "reasoningContent": { "text": "r", "x": 1 } } })),
            event("contentBlockDelta", &json!({ "delta": { "reasoningContent": { "signature": "s" } } })),
            event("messageStop", &json!({ "stopReason": "max_tokens", "additionalModelResponseFields": {} })),
            event(
                "metadata",
                &json!({ "usage": { "inputTokens": 1, "outputTokens": 2 }, "metrics": { "latencyMs": 5 } }),
            ),
        ];
        let got = run(&frames, true, true);
        assert_eq!(got.len(), 6, "{got:?}");
        let delta = |i: usize| &got[i]["choices"][0]["delta"];
        assert_eq!((delta(0)["content"].as_str(), delta(1)["reasoning_content"].as_str()), (Some("a"), Some("r")));
        assert_eq!(delta(2)["thinking_blocks"], json!([{ "type": "thinking", "thinking": "", "signature": "s" }]));
        assert_eq!(got[3]["choices"][0]["finish_reason"], "length");
        assert_eq!(got[4]["usage"]["total_tokens"], 3);
    }
}
