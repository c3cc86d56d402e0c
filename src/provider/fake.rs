//! The built-in fake provider, modelled on LiteLLM's docs fake endpoint: a fixed chat
//! reply (usage 9/12/21), a word-per-chunk stream, deterministic embeddings, text
//! completions, model `429` answering 429, and `mock_*` params for content and pacing
//! (embeddings, within their bounds, in `embeddings`). It answers with a [`Reply`] like any
//! upstream, so `respond` treats it the same.

mod embeddings;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
        (Api::Embeddings, _) => full_bytes(StatusCode::OK, embeddings::reply(model, request)?),
        // `provider::messages` hands the fake a chat request; this is never reached.
        (Api::Messages | Api::Responses, _) => full(StatusCode::NOT_FOUND, &json!({ "detail": "Not Found" })),
    })
}

fn full(status: StatusCode, body: &Value) -> Reply {
    full_bytes(status, Bytes::from(body.to_string()))
}

fn full_bytes(status: StatusCode, body: Bytes) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Reply { status, headers, body: Source::Full(Some(body)), head_at: Instant::now() }
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
    fn chat_stream_is_one_word_per_chunk_then_finish_and_usage() {
        let chunks = chat_chunks("m", "a b c", true);
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[4]["usage"]["total_tokens"], 21);
        assert_eq!(chunks[4]["choices"], json!([]));
    }
}
