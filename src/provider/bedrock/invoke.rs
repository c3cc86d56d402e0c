//! `/v1/messages` on a Bedrock Anthropic model, relayed as Claude Code's Bedrock mode and
//! LiteLLM send it: InvokeModel (`{base}/model/{model id}/invoke`, or
//! `/invoke-with-response-stream`) with Anthropic's own body (`anthropic_version:
//! bedrock-2023-05-31`, `model` and `stream` out, the client's `anthropic-beta` as
//! `anthropic_beta`), so thinking, cache control and tools pass untouched. The reply is
//! Anthropic's message; a stream is event-stream `chunk` frames whose `bytes` are Anthropic
//! events, written here ([`Events`]) as the client gets them (`model` the requested name in
//! `message_start`), their usage and failure told to `respond::stream::Relay`, which moves
//! them on undecoded. Other Bedrock models take `/v1/messages` through Converse (`messages`).

use std::convert::Infallible;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http_body_util::BodyExt;
use serde_json::Value;
use serde_json::value::to_raw_value;

use super::{EVENT_STREAM, MODEL_ROOM, errors, request::base_model};
use crate::error::Error;
use crate::framing::eventstream::{Frame, Kind};
use crate::parse::CallRequest;
use crate::provider::Context;
use crate::provider::messages::stream::error_event;
use crate::provider::openai::{GATEWAY_FIELDS, misconfigured};
use crate::provider::translate::{self, Translated};
use crate::provider::url::{Refused, Url};
use crate::provider::{Attempt, Reply, Source};
use crate::upstream::Outgoing;
use crate::usage::Usage;

/// The `anthropic_version` Bedrock's Anthropic models take.
pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Whether `/v1/messages` on `model` goes to InvokeModel with Anthropic's body.
pub fn serves(model: &str) -> bool {
    base_model(model).starts_with("anthropic.")
}

/// `{base}/model/{model id}/invoke`, or `/invoke-with-response-stream`.
pub fn url(base: &str, model: &str, stream: bool) -> Result<Url, Refused> {
    let url = Url::new(base).path("/model/").segment(model, MODEL_ROOM)?;
    Ok(url.path(if stream { "/invoke-with-response-stream" } else { "/invoke" }))
}

/// Relays a Messages call to InvokeModel; the reply goes back as Anthropic's.
pub async fn relay(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let url = url(&attempt.endpoint.base, attempt.upstream_model, request.stream)
        .map_err(|why| crate::provider::unsendable(attempt.deployment, &request.model, why))?;
    let mut fields = request.fields.clone();
    for field in GATEWAY_FIELDS.iter().filter(|f| **f != "metadata") {
        fields.remove(field);
    }
    for field in ["model", "stream", "anthropic_version"] {
        fields.remove(field);
    }
    let raw = |e: serde_json::Error| misconfigured(attempt, e.to_string());
    fields.insert("anthropic_version", to_raw_value(ANTHROPIC_VERSION).map_err(raw)?);
    let beta = client_headers.get("anthropic-beta").and_then(|v| v.to_str().ok());
    if let Some(beta) = beta {
        let betas: Vec<&str> = beta.split(',').map(str::trim).filter(|b| !b.is_empty()).collect();
        fields.insert("anthropic_beta", to_raw_value(&betas).map_err(raw)?);
    }
    let body = Outgoing::object(fields).collect().await.map_err(|e: Infallible| match e {})?.to_bytes();
    let accept = if request.stream { EVENT_STREAM } else { "application/json" };
    let reply = super::send(cx, attempt, url, request.stream, client_headers, accept, body).await?;
    if !request.stream {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    let events = translate::Events::Invoke(Events::new(request.model.clone()));
    let body = Source::Translated(Box::new(Translated::event_stream(body, events)));
    Ok(Reply { status, headers, body, head_at })
}

/// One InvokeModel stream: each `chunk` frame's Anthropic event as the client's SSE event,
/// what `respond::format::messages` made of it before, in the one pass.
#[derive(Debug)]
pub struct Events {
    /// The requested name, `message_start`'s `model`.
    model: String,
    /// Summed from `message_start` and `message_delta`; none before the first event.
    usage: Option<Usage>,
    /// The message of the last `error` event written, until the relay takes it.
    failure: Option<String>,
    stopped: bool,
    done: bool,
}

impl Events {
    pub fn new(model: String) -> Self {
        Events { model, usage: None, failure: None, stopped: false, done: false }
    }

    /// The usage the events told so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The message of the last `error` event written, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    pub fn frame(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if frame.kind != Kind::Event {
            let e = errors::exception(&frame.name, &frame.payload);
            self.fail(&e.to_string(), e.status().as_u16(), out);
            return;
        }
        let payload: Value = serde_json::from_slice(&frame.payload).unwrap_or(Value::Null);
        let Some(bytes) = payload.get("bytes").and_then(Value::as_str) else { return };
        let Ok(event) = STANDARD.decode(bytes) else {
            self.fail("litellm.APIError: BedrockException - a chunk's bytes are not base64", 502, out);
            return;
        };
        self.write(&event, out);
    }

    /// One Anthropic event for the client: its `event:` line, `model` set to the requested
    /// name in `message_start` (which is written again, its members in key order), any
    /// other event byte for byte; its usage counted, an `error` event's message kept as the
    /// failure. An event that is not a JSON object with a `type` is dropped.
    fn write(&mut self, event: &[u8], out: &mut Vec<u8>) {
        let Ok(mut value) = serde_json::from_slice::<Value>(event) else { return };
        let Some(kind) = value.get("type").and_then(Value::as_str).map(str::to_owned) else { return };
        let start = kind == "message_start";
        self.stopped |= kind == "message_stop";
        let usage = if start { value.pointer("/message/usage") } else { value.get("usage") };
        let count = |key: &str| usage?.get(key)?.as_u64();
        let (input, output) = (count("input_tokens"), count("output_tokens"));
        let usage = self.usage.get_or_insert_default();
        usage.prompt_tokens = input.unwrap_or(usage.prompt_tokens);
        usage.completion_tokens = output.unwrap_or(usage.completion_tokens);
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
        if kind == "error" {
            let message = value.pointer("/error/message").and_then(Value::as_str);
            self.failure = Some(message.unwrap_or("error").to_owned());
        }
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        if start {
            if let Some(message) = value.get_mut("message").and_then(Value::as_object_mut) {
                message.insert("model".into(), Value::String(self.model.clone()));
            }
            // Writing a Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &value);
        } else {
            out.extend_from_slice(event);
        }
        out.extend_from_slice(b"\n\n");
    }

    /// The end of the stream: nothing more after `message_stop`, an error event before it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.stopped {
            self.fail("litellm.APIConnectionError: BedrockException - the stream ended before message_stop", 500, out);
        }
        self.done = true;
    }

    pub fn fail(&mut self, message: &str, status: u16, out: &mut Vec<u8>) {
        if !self.done {
            out.extend_from_slice(&error_event(message, status));
            self.failure = Some(message.to_owned());
            // An event, as any other, starts the count.
            self.usage.get_or_insert_default();
            self.done = true;
        }
    }
}

/// A chunk frame as InvokeModel sends it; for tests.
#[cfg(test)]
pub fn chunk(event: &Value) -> bytes::Bytes {
    chunk_of(event.to_string().as_bytes())
}

/// A chunk frame holding `event`'s bytes as they are; for tests.
#[cfg(test)]
pub fn chunk_of(event: &[u8]) -> bytes::Bytes {
    let payload = serde_json::json!({ "bytes": STANDARD.encode(event), "p": "abc" });
    bytes::Bytes::from(crate::framing::eventstream::encode("event", "chunk", payload.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::framing::eventstream::{Decoded, Decoder};

    fn run(frames: &[bytes::Bytes]) -> String {
        let mut decoder = Decoder::default();
        let mut events = Events::new("claude".into());
        let mut out = Vec::new();
        for frame in frames {
            decoder.feed(frame);
            while let Some(Decoded::Frame(frame)) = decoder.next_frame() {
                events.frame(&frame, &mut out);
            }
        }
        events.finish(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn chunks_become_anthropic_sse_events() {
        let got = run(&[
            chunk(&json!({ "type": "message_start", "message": { "model": "claude" } })),
            chunk(
                &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "Hi" } }),
            ),
            chunk(&json!({ "type": "message_stop" })),
        ]);
        let events: Vec<&str> = got.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 3, "{got}");
        assert!(events[1].starts_with("event: content_block_delta\ndata: {"), "{}", events[1]);
        assert!(events[2].starts_with("event: message_stop\n"));
        let cut = run(&[chunk(&json!({ "type": "message_start", "message": {} }))]);
        assert!(cut.contains("event: error") && cut.contains("before message_stop"), "{cut}");
        assert!(serves("us.anthropic.claude-3-7-sonnet-20250219-v1:0") && !serves("amazon.nova-pro-v1:0"));
    }

    /// Anthropic's recorded stream (its `data:` lines are what InvokeModel's chunks hold) as
    /// an event-stream body, `cut` events short of its end.
    fn recorded(cut: usize) -> Source {
        const SSE: &str = include_str!("../../../tests/fixtures/translate/anthropic/stream.anthropic.sse");
        let events: Vec<&str> = SSE.lines().filter_map(|line| line.strip_prefix("data: ")).collect();
        let mut body = Vec::new();
        for event in &events[..events.len() - cut] {
            body.extend_from_slice(&chunk_of(event.as_bytes()));
        }
        Source::Full(Some(bytes::Bytes::from(body)))
    }

    /// What the client gets of an InvokeModel stream, with the usage and failure reported.
    fn relayed(source: Source) -> (String, Option<crate::usage::Usage>, Option<String>) {
        use crate::respond::format::{Format, messages::Messages};
        let body = Translated::event_stream(source, translate::Events::Invoke(Events::new("asked".into())));
        let format = Format::Messages(Messages::new("asked".into()));
        let relay = crate::respond::stream::Relay::new(Source::Translated(Box::new(body)), format, IDLE);
        assert!(!relay.decodes(), "InvokeModel's events are written in the client's format, not decoded again");
        relay.drained()
    }

    const IDLE: std::time::Duration = std::time::Duration::from_secs(60);

    /// Pins what the relay wrote of InvokeModel's events before they were written in the
    /// client's format in one pass: `model` the requested name in `message_start` (its
    /// members re-serialised in key order), every other event byte for byte, usage from
    /// `message_start` and `message_delta`, an `error` event counted as the failure.
    #[tokio::test]
    async fn a_recorded_stream_reaches_the_client_as_it_did() {
        let (text, usage, failure) = relayed(recorded(0));
        let want = include_str!("../../../tests/fixtures/messages/invoke.client.sse");
        assert_eq!(text, want);
        let usage = usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (12, 30, 42));
        assert_eq!(failure, None);
        let (text, usage, failure) = relayed(recorded(2));
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        let cut = "litellm.APIConnectionError: BedrockException - the stream ended before message_stop";
        assert_eq!(
            events.last().copied(),
            Some(&*format!(
                "event: error\ndata: {{\"error\":{{\"message\":\"{cut}\",\"type\":\"api_error\"}},\"type\":\"error\"}}"
            ))
        );
        assert_eq!(
            text.strip_suffix(&format!("{}\n\n", events[events.len() - 1])),
            want.get(..text.len() - events[events.len() - 1].len() - 2)
        );
        assert_eq!(usage.map(|u| u.prompt_tokens), Some(12));
        assert_eq!(failure.as_deref(), Some(cut));
    }

    #[tokio::test]
    async fn an_upstream_error_event_and_an_exception_are_the_failure() {
        let overloaded = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let (text, usage, failure) = relayed(Source::Full(Some(chunk_of(overloaded))));
        assert!(
            text.starts_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\""),
            "{text}"
        );
        assert!(usage.is_some(), "the relayed format counts from the first event");
        assert_eq!(
            failure.as_deref(),
            Some("litellm.APIConnectionError: BedrockException - the stream ended before message_stop"),
            "the last failure told wins: {text}"
        );
        let exception =
            crate::framing::eventstream::encode("exception", "throttlingException", br#"{"message":"slow down"}"#);
        let (text, _, failure) = relayed(Source::Full(Some(bytes::Bytes::from(exception))));
        assert!(text.starts_with("event: error\ndata: {\"error\":{"), "{text}");
        assert!(failure.is_some_and(|f| f.contains("slow down")), "{text}");
    }
}
