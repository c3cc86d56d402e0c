//! The built-in fake provider, modelled on LiteLLM's docs fake endpoint: a fixed chat
//! reply (usage 9/12/21), a word-per-chunk stream, deterministic embeddings, text
//! completions, model `429` answering 429, and `mock_*` params for content and pacing.
//! It answers with a [`Reply`] like any upstream, so `respond` treats it the same.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use tokio::time::Sleep;

use super::{Attempt, Reply, Source};
use crate::error::Error;
use crate::parse::CallRequest;
use crate::route::Api;

/// The docs fake endpoint's fixed reply and stream text.
const REPLY: &str = "\n\nHello there, how may I assist you today?";
const STREAM_TEXT: &str = "Hello this is a test response from a fixed OpenAI endpoint.";
const COMPLETION: &str = "\n\nThis is indeed a test";
/// The docs fake endpoint's fixed `created`.
const CREATED: u64 = 1_677_652_288;
const FINGERPRINT: &str = "fp_44709d6fcb";
/// Embedding width when the request sets no `dimensions`.
const DEFAULT_DIMENSIONS: u64 = 1536;
const MAX_DIMENSIONS: u64 = 8192;
/// Most inputs one embeddings call takes, as OpenAI allows.
const MAX_INPUTS: usize = 2048;

/// Answers `request` in process.
pub async fn answer(attempt: &Attempt<'_>, request: &CallRequest) -> Result<Reply, Error> {
    let mock = attempt.deployment.mock;
    if mock.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(mock.latency_ms)).await;
    }
    let model = attempt.upstream_model;
    if model == "429" {
        return Ok(full(StatusCode::TOO_MANY_REQUESTS, &json!({ "detail": "Too many requests" })));
    }
    let interval = Duration::from_millis(mock.chunk_interval_ms);
    Ok(match (request.api, request.stream) {
        (Api::Chat, false) => full(StatusCode::OK, &chat(model, mock.response.unwrap_or(REPLY))),
        (Api::Chat, true) => stream(
            chat_chunks(model, mock.response.unwrap_or(STREAM_TEXT), request.include_usage || attempt.stream_usage),
            interval,
        ),
        (Api::Completions, false) => full(StatusCode::OK, &completion(model, mock.response.unwrap_or(COMPLETION))),
        (Api::Completions, true) => stream(completion_chunks(model, mock.response.unwrap_or(STREAM_TEXT)), interval),
        (Api::Embeddings, _) => full(StatusCode::OK, &embeddings(model, request)?),
        // `provider::messages` hands the fake a chat request; this is never reached.
        (Api::Messages, _) => full(StatusCode::NOT_FOUND, &json!({ "detail": "Not Found" })),
    })
}

fn full(status: StatusCode, body: &Value) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Reply { status, headers, body: Source::Full(Some(Bytes::from(body.to_string()))), head_at: Instant::now() }
}

fn stream(events: Vec<Value>, interval: Duration) -> Reply {
    let mut chunks: VecDeque<Bytes> = events.into_iter().map(|e| Bytes::from(format!("data: {e}\n\n"))).collect();
    chunks.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    let body = Source::Fake(FakeStream { chunks, interval, sleep: None });
    Reply { status: StatusCode::OK, headers, body, head_at: Instant::now() }
}

fn id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn chat(model: &str, content: &str) -> Value {
    json!({
        "id": id("chatcmpl"), "object": "chat.completion", "created": CREATED, "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "logprobs": null, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21 },
    })
}

fn chat_chunks(model: &str, text: &str, include_usage: bool) -> Vec<Value> {
    let id = id("chatcmpl");
    let chunk = |choices: Value| json!({ "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model, "system_fingerprint": FINGERPRINT, "choices": choices });
    let mut chunks: Vec<Value> = text
        .split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            let delta = if i == 0 {
                json!({ "role": "assistant", "content": format!("{word} ") })
            } else {
                json!({ "content": format!("{word} ") })
            };
            chunk(json!([{ "index": 0, "delta": delta }]))
        })
        .collect();
    chunks.push(chunk(json!([{ "index": 0, "delta": {}, "finish_reason": "stop" }])));
    if include_usage {
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({ "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21 });
        chunks.push(usage);
    }
    chunks
}

fn completion(model: &str, text: &str) -> Value {
    json!({
        "id": id("cmpl"), "object": "text_completion", "created": CREATED, "model": model,
        "choices": [{ "text": text, "index": 0, "logprobs": null, "finish_reason": "length" }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 16, "total_tokens": 26 },
    })
}

fn completion_chunks(model: &str, text: &str) -> Vec<Value> {
    let id = id("cmpl");
    let chunk = |text: &str, finish: Value| json!({ "id": id, "object": "text_completion", "created": CREATED, "model": model, "choices": [{ "text": text, "index": 0, "logprobs": null, "finish_reason": finish }] });
    let mut chunks: Vec<Value> = text.split_whitespace().map(|w| chunk(&format!("{w} "), Value::Null)).collect();
    chunks.push(chunk("", json!("length")));
    chunks
}

/// Deterministic unit vectors, one per input, seeded by the input's text; base64 when the
/// request asks for it (the OpenAI SDK does by default).
fn embeddings(model: &str, request: &CallRequest) -> Result<Value, Error> {
    let route = Api::Embeddings.route();
    let bad = |reason: &str| Error::BadParam { route, param: "input", reason: reason.to_owned() };
    let input: Value = request
        .fields
        .get("input")
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(|| bad("not JSON"))?;
    let inputs: Vec<String> = match &input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_number) => vec![input.to_string()],
        Value::Array(items) => items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect(),
        _ => return Err(bad("must be a string or a list")),
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(bad(&format!("must hold 1 to {MAX_INPUTS} items")));
    }
    let dimensions =
        request.fields.get("dimensions").and_then(|raw| raw.get().parse::<u64>().ok()).unwrap_or(DEFAULT_DIMENSIONS);
    if dimensions == 0 || dimensions > MAX_DIMENSIONS {
        return Err(Error::BadParam { route, param: "dimensions", reason: format!("must be 1 to {MAX_DIMENSIONS}") });
    }
    let base64 = request.fields.text("encoding_format").as_deref() == Some("base64");
    let mut tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            tokens += text.split_whitespace().count().max(1);
            let vector = vector(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(
        json!({ "object": "list", "data": data, "model": model, "usage": { "prompt_tokens": tokens, "total_tokens": tokens } }),
    )
}

/// A unit vector drawn from xorshift64* seeded with the FNV-1a hash of `text`.
fn vector(text: &str, dimensions: u64) -> Vec<f32> {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0100_0000_01b3;
    const XORSHIFT_MULTIPLIER: u64 = 0x2545_f491_4f6c_dd1d;
    let mut state = text.bytes().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)) | 1;
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        reason = "a spread of values, not exact ones"
    )]
    let raw: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let unit = (state.wrapping_mul(XORSHIFT_MULTIPLIER) >> 11) as f64 / (1u64 << 53) as f64;
            (unit * 2.0 - 1.0) as f32
        })
        .collect();
    let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    raw.into_iter().map(|v| v / norm).collect()
}

/// The fake provider's SSE body: prepared chunks, paced `interval` apart.
pub struct FakeStream {
    chunks: VecDeque<Bytes>,
    interval: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl FakeStream {
    pub fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<http_body::Frame<Bytes>>> {
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let Some(chunk) = self.chunks.pop_front() else { return Poll::Ready(None) };
        if !self.interval.is_zero() && !self.chunks.is_empty() {
            self.sleep = Some(Box::pin(tokio::time::sleep(self.interval)));
        }
        Poll::Ready(Some(http_body::Frame::data(chunk)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_length() {
        let a = vector("hello", 16);
        assert_eq!(a, vector("hello", 16));
        assert_ne!(a, vector("world", 16));
        let norm: f32 = a.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn chat_stream_is_one_word_per_chunk_then_finish_and_usage() {
        let chunks = chat_chunks("m", "a b c", true);
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[4]["usage"]["total_tokens"], 21);
        assert_eq!(chunks[4]["choices"], json!([]));
    }
}
