//! A chat client's stream written by the translator itself ([`ChatClient`], a
//! `chunk::Sink`): each typed chunk encoded once as the bytes the client gets, what
//! `respond::format::chunks` made of the translator's chat bytes before (`model` the
//! requested name, a usage chunk the client did not ask for kept to the gateway, `cost`
//! added to one it did ask for, an error event counted as the failure, nothing after
//! `[DONE]`). The usage and failure it saw are told to `respond::stream::Relay` through
//! `translate::Translated`, which moves the bytes on as they are.

use serde_json::{Value, json};

use super::chunk::{ChatUsage, Chunk, Sink, delta_json};
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
    fn usage_chunk(&mut self, head: &ChunkHead, usage: &ChatUsage, out: &mut Vec<u8>) {
        let seen = usage.counts();
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
pub fn write(
    head: &ChunkHead,
    model: &str,
    choices: &Value,
    usage: Option<(&ChatUsage, Option<f64>)>,
    out: &mut Vec<u8>,
) {
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

/// The chat client's stream written by its translator, pinned to what the chain it
/// replaces wrote: the translator's chat bytes decoded and rewritten by the relay's chat
/// format (`respond::format::chunks`), for each translator, with and without the usage
/// chunk, priced, after a mid-stream error and when the provider's stream ends early.
#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::ChatClient;
    use crate::framing::eventstream::encode;
    use crate::provider::translate::stream::{Events, Translated};
    use crate::provider::{Source, anthropic, bedrock, gemini};
    use crate::respond::format::{Failure, Format, chunks::Chunks};
    use crate::respond::stream::Relay;
    use crate::table::{Deployment, ModelInfo};
    use crate::usage::Usage;

    const ANTHROPIC_SSE: &str = include_str!("../../../tests/fixtures/translate/anthropic/stream.anthropic.sse");
    const GEMINI_SSE: &str = include_str!("../../../tests/fixtures/translate/gemini/stream.gemini.sse");
    const IDLE: std::time::Duration = std::time::Duration::from_secs(60);

    /// The client's bytes (tool-call ids and `created` cut, as they differ between runs), the
    /// usage and the failure the relay reports.
    type Relayed = (String, Option<Usage>, Option<String>);

    /// A deployment priced per token, for the usage chunk's `cost`.
    fn priced() -> &'static Deployment {
        let d = crate::table::test_deployment();
        let info = ModelInfo { input_cost_per_token: Some(1.1e-6), output_cost_per_token: Some(3e-7), ..d.info };
        Box::leak(Box::new(Deployment { info, ..d }))
    }

    fn chunks(include_usage: bool) -> Chunks {
        Chunks::new("asked \"model\"".into(), include_usage, Some((priced(), "up".into())))
    }

    /// The translated stream through the relay as it was (its chat bytes decoded by the chat
    /// format), and as it is (written for the client by the translator).
    fn both(translated: impl Fn() -> Translated, include_usage: bool) -> (Relayed, Relayed) {
        let source = || Source::Translated(Box::new(translated()));
        let chained = Relay::new(source(), Format::Chunks(chunks(include_usage)), IDLE);
        assert!(chained.decodes());
        let format = chunks(include_usage);
        let fused = Relay::new(format.fuse(source()), Format::Chunks(format), IDLE);
        assert!(!fused.decodes(), "a chat client's translated stream is not decoded again");
        (normal(chained.drained()), normal(fused.drained()))
    }

    fn normal((text, usage, failure): Relayed) -> Relayed {
        let mut pieces = text.split("call_");
        let mut out = pieces.next().unwrap_or_default().to_owned();
        for piece in pieces {
            out.push_str("call_");
            out.push_str(piece.get(32..).unwrap_or(piece));
        }
        let mut pieces = out.split("\"created\":");
        let mut text = pieces.next().unwrap_or_default().to_owned();
        for piece in pieces {
            text.push_str("\"created\":0");
            text.push_str(piece.trim_start_matches(|c: char| c.is_ascii_digit()));
        }
        (text, usage, failure)
    }

    /// Asserts the fused stream is the chain's, for every way a client and the gateway may
    /// want the usage chunk; returns the chain's for the case's own checks.
    fn same(translated: impl Fn(bool) -> Translated) -> Vec<Relayed> {
        let mut seen = Vec::new();
        for (client, translator) in [(true, true), (false, true), (false, false)] {
            let (chained, fused) = both(|| translated(translator), client);
            assert_eq!(fused, chained, "client usage {client}, translator usage {translator}");
            seen.push(chained);
        }
        seen
    }

    fn anthropic(sse: &str) -> impl Fn(bool) -> Translated {
        let sse = Bytes::from(sse.to_owned());
        move |usage| {
            let events = Events::Anthropic(anthropic::stream::Events::new("chatcmpl-test".into(), usage));
            Translated::new(Source::Full(Some(sse.clone())), events)
        }
    }

    fn gemini(sse: &str) -> impl Fn(bool) -> Translated {
        let sse = Bytes::from(sse.to_owned());
        move |usage| {
            let events = Events::Gemini(gemini::stream::Events::new("chatcmpl-test".into(), usage));
            Translated::new(Source::Full(Some(sse.clone())), events)
        }
    }

    fn bedrock(frames: &[Vec<u8>]) -> impl Fn(bool) -> Translated {
        let body = Bytes::from(frames.concat());
        move |usage| {
            let events = bedrock::stream::Events::new("chatcmpl-test".into(), "m".into(), usage, false);
            Translated::event_stream(Source::Full(Some(body.clone())), Events::Bedrock(events))
        }
    }

    fn converse(name: &str, payload: &serde_json::Value) -> Vec<u8> {
        encode("event", name, payload.to_string().as_bytes())
    }

    fn converse_stream() -> Vec<Vec<u8>> {
        vec![
            converse("messageStart", &json!({ "role": "assistant" })),
            converse("contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Hi \"there\"" } })),
            converse("contentBlockStop", &json!({ "contentBlockIndex": 0 })),
            converse(
                "contentBlockStart",
                &json!({ "contentBlockIndex": 1, "start": { "toolUse": { "toolUseId": "t1", "name": "f" } } }),
            ),
            converse(
                "contentBlockDelta",
                &json!({ "contentBlockIndex": 1, "delta": { "toolUse": { "input": "{\"a\":1}" } } }),
            ),
            converse("messageStop", &json!({ "stopReason": "tool_use" })),
            converse("metadata", &json!({ "usage": { "inputTokens": 30, "outputTokens": 4, "totalTokens": 34 } })),
        ]
    }

    #[tokio::test]
    async fn anthropic_streams_are_written_as_the_chain_wrote_them() {
        let seen = same(anthropic(ANTHROPIC_SSE));
        let (text, usage, failure) = &seen[0];
        assert!(text.contains("\"model\":\"asked \\\"model\\\"\"") && text.contains("\"usage\":{\"cost\":"), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n") && usage.is_some() && failure.is_none(), "{text}");
        assert!(!seen[1].0.contains("\"usage\":") && seen[1].1 == *usage, "kept to the gateway: {}", seen[1].0);
        assert!(seen[2].1.is_none());
        let cut = ANTHROPIC_SSE.split("event: message_delta").next().unwrap_or_default();
        let seen = same(anthropic(cut));
        assert!(seen[0].0.ends_with("data: [DONE]\n\n"), "{}", seen[0].0);
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let seen = same(anthropic(&format!("{cut}{error}")));
        assert!(seen[0].2.as_deref().is_some_and(|f| f.contains("Overloaded")), "{:?}", seen[0]);
    }

    #[tokio::test]
    async fn gemini_streams_are_written_as_the_chain_wrote_them() {
        let seen = same(gemini(GEMINI_SSE));
        assert!(seen[0].0.contains("\"name\":\"get_weather\"") && seen[0].0.contains("\"cost\":"), "{}", seen[0].0);
        assert_eq!(seen[0].1.map(|u| u.total_tokens), Some(52));
        let cut = GEMINI_SSE.lines().take(3).collect::<Vec<_>>().join("\n");
        same(gemini(&cut));
        let error = "data: {\"error\": {\"code\": 429, \"message\": \"Resource exhausted\", \"status\": \"RESOURCE_EXHAUSTED\"}}\n\n";
        let seen = same(gemini(&format!("{cut}\n\n{error}")));
        assert!(seen[0].2.is_some(), "{:?}", seen[0]);
    }

    #[tokio::test]
    async fn bedrock_streams_are_written_as_the_chain_wrote_them() {
        let seen = same(bedrock(&converse_stream()));
        assert!(
            seen[0].0.contains("\"finish_reason\":\"tool_calls\"") && seen[0].0.contains("\"cost\":"),
            "{}",
            seen[0].0
        );
        assert_eq!(seen[0].1.map(|u| u.total_tokens), Some(34));
        let mut cut = converse_stream();
        cut.truncate(3);
        let seen = same(bedrock(&cut));
        assert!(seen[0].2.as_deref().is_some_and(|f| f.contains("before messageStop")), "{:?}", seen[0]);
        cut.push(encode("exception", "throttlingException", br#"{"message":"slow down"}"#));
        let seen = same(bedrock(&cut));
        assert!(seen[0].2.as_deref().is_some_and(|f| f.contains("slow down")), "{:?}", seen[0]);
        cut.truncate(3);
        cut.push(b"\0\0\0\x05garbage".to_vec());
        same(bedrock(&cut));
    }

    #[tokio::test]
    async fn an_oversized_event_ends_both_alike() {
        let big = format!("event: ping\ndata: {{\"type\":\"ping\",\"pad\":\"{}\"}}\n\n", "x".repeat(5 << 20));
        let cut = ANTHROPIC_SSE.split("event: message_delta").next().unwrap_or_default();
        let seen = same(anthropic(&format!("{cut}{big}")));
        assert!(seen[0].2.as_deref().is_some_and(|f| f.contains("exceeded")), "{:?}", seen[0].2);
    }

    #[test]
    fn the_relays_end_is_the_chat_formats() {
        let failure = Failure { message: "litellm.Timeout: slow", kind: "timeout", code: 408 };
        for failure in [Some(failure), None] {
            let (mut chunks, mut client) = (chunks(false), ChatClient::new("m".into(), false, None));
            let (mut want, mut got) = (Vec::new(), Vec::new());
            chunks.end(failure, &mut want);
            client.end(failure.map(|f| (f.message, f.kind, f.code)), &mut got);
            assert_eq!(got, want);
            chunks.end(failure, &mut want);
            client.end(failure.map(|f| (f.message, f.kind, f.code)), &mut got);
            assert_eq!(got, want, "nothing after [DONE]");
        }
    }
}
