//! Streaming relay against a mock upstream: chunks reach the client as they arrive, the
//! requested model is in each, failures before and during the stream are reported as
//! LiteLLM does, a client that leaves cancels the upstream call, and drain lets a stream
//! finish.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::mock::{self, Answer, Mock};
use common::{open, post, sse_events, start};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Bound on waiting for something that should happen promptly; never a synchronisation.
const PROMPTLY: Duration = Duration::from_secs(10);

fn chunk(content: &str) -> String {
    json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": null }] }).to_string()
}

fn events(gate: Option<Arc<Notify>>) -> Answer {
    let finish = json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }] });
    Answer::Sse { events: vec![chunk("Hello"), chunk(" world"), finish.to_string(), "[DONE]".into()], gate }
}

async fn gateway(mock: &Mock) -> Running {
    let base = mock.base();
    start(&fixtures::upstream::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "k")]).await
}

async fn open_stream(gw: &Running, model: &str) -> http::Response<Incoming> {
    let body = json!({ "model": model, "stream": true, "messages": [{ "role": "user", "content": "hi" }] });
    open(gw, Method::POST, "/v1/chat/completions", &[("content-type", "application/json")], body.to_string()).await
}

async fn next_data(body: &mut Incoming) -> Option<Bytes> {
    loop {
        let frame = tokio::time::timeout(PROMPTLY, body.frame()).await.expect("a frame arrives promptly")?.ok()?;
        if let Ok(data) = frame.into_data() {
            return Some(data);
        }
    }
}

async fn rest(mut body: Incoming) -> String {
    let mut text = String::new();
    while let Some(data) = next_data(&mut body).await {
        text.push_str(&String::from_utf8_lossy(&data));
    }
    text
}

#[tokio::test]
async fn first_chunk_arrives_while_the_upstream_holds_the_rest() {
    let gate = Arc::new(Notify::new());
    let held = Arc::clone(&gate);
    let mock = mock::start(move |_| events(Some(Arc::clone(&held)))).await;
    let gw = gateway(&mock).await;
    let response = open_stream(&gw, "gpt-4o").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    let mut body = response.into_body();
    let first = String::from_utf8(next_data(&mut body).await.unwrap().to_vec()).unwrap();
    let first_events = sse_events(&first);
    assert_eq!(first_events.len(), 1, "only the first chunk has been sent: {first}");
    let parsed: Value = serde_json::from_str(&first_events[0]).unwrap();
    assert_eq!(parsed["model"], "gpt-4o");
    assert_eq!(parsed["choices"][0]["delta"]["content"], "Hello");
    assert!(parsed["choices"][0].get("finish_reason").is_none());

    gate.notify_one();
    let events = sse_events(&rest(body).await);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(events.iter().filter(|e| *e == "[DONE]").count(), 1);
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["model"] == "gpt-4o"));
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert_eq!(mock.last().json()["stream"], true);
}

#[tokio::test]
async fn include_usage_is_forwarded_and_the_usage_chunk_relayed() {
    let mock = mock::start(|seen| {
        assert_eq!(seen.json()["stream_options"], json!({ "include_usage": true }));
        let usage = json!({ "id": "c1", "object": "chat.completion.chunk", "model": "up", "choices": [], "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 } });
        Answer::Sse { events: vec![chunk("x"), usage.to_string(), "[DONE]".into()], gate: None }
    })
    .await;
    let gw = gateway(&mock).await;
    let body =
        json!({ "model": "gpt-4o", "stream": true, "stream_options": { "include_usage": true }, "messages": [] });
    let events = sse_events(&post(&gw, "/v1/chat/completions", None, &body).await.text());
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!((usage["usage"]["total_tokens"].as_u64(), usage["model"].as_str()), (Some(8), Some("gpt-4o")));
}

#[tokio::test]
async fn upstream_failure_before_the_first_byte_is_a_json_error() {
    let mock = mock::start(|_| Answer::Json {
        status: 503,
        body: json!({ "error": { "message": "overloaded" } }).to_string(),
        headers: vec![],
    })
    .await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "gpt-4o", "stream": true, "messages": [] });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.json()["error"]["message"].as_str().unwrap().ends_with("OpenAIException - overloaded"));
}

#[tokio::test]
async fn mid_stream_failure_becomes_an_error_event_then_done() {
    let reset = Arc::new(Notify::new());
    let held = Arc::clone(&reset);
    let mock =
        mock::start(move |_| Answer::SseThenReset { events: vec![chunk("partial")], gate: Arc::clone(&held) }).await;
    let gw = gateway(&mock).await;
    let response = open_stream(&gw, "gpt-4o").await;
    assert_eq!(response.status(), StatusCode::OK, "the status was sent before the failure");
    let mut body = response.into_body();
    let first = String::from_utf8(next_data(&mut body).await.unwrap().to_vec()).unwrap();
    assert!(first.contains("partial"), "{first}");
    reset.notify_one();
    let mut events = sse_events(&first);
    events.extend(sse_events(&rest(body).await));
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[1].starts_with("{\"error\": {\"message\": \"litellm.APIConnectionError: "), "{}", events[1]);
    assert!(events[1].ends_with("\"type\": \"internal_server_error\", \"param\": null, \"code\": \"500\"}}"));
    assert_eq!(events[2], "[DONE]");
}

#[tokio::test]
async fn stalled_stream_times_out_with_an_error_event() {
    let never = Arc::new(Notify::new());
    let held = Arc::clone(&never);
    let mock = mock::start(move |_| events(Some(Arc::clone(&held)))).await;
    let gw = gateway(&mock).await;
    let response = open_stream(&gw, "quick").await;
    let events = sse_events(&rest(response.into_body()).await);
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[1].contains("litellm.Timeout"), "{}", events[1]);
    assert_eq!(events[2], "[DONE]");
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_call() {
    let gate = Arc::new(Notify::new());
    let held = Arc::clone(&gate);
    let mock = mock::start(move |_| events(Some(Arc::clone(&held)))).await;
    let cancelled = Arc::clone(&mock.cancelled);
    let gw = gateway(&mock).await;
    let response = open_stream(&gw, "gpt-4o").await;
    let mut body = response.into_body();
    assert!(next_data(&mut body).await.is_some());
    drop(body);
    tokio::time::timeout(PROMPTLY, cancelled.notified())
        .await
        .expect("the upstream stream was closed after the client left");
}

#[tokio::test]
async fn drain_lets_an_in_flight_stream_finish() {
    let gate = Arc::new(Notify::new());
    let held = Arc::clone(&gate);
    let mock = mock::start(move |_| events(Some(Arc::clone(&held)))).await;
    let gw = gateway(&mock).await;
    let addr = gw.addr;
    let gateway_state = Arc::clone(&gw.gateway);
    let response = open_stream(&gw, "gpt-4o").await;
    let mut body = response.into_body();
    assert!(next_data(&mut body).await.is_some());
    let stopping = tokio::spawn(gw.stop());
    // Draining is visible to the gateway before the stream ends.
    tokio::time::timeout(PROMPTLY, async {
        while !gateway_state.is_draining() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("draining starts");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no new connections while draining");
    gate.notify_one();
    let text = rest(body).await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    tokio::time::timeout(PROMPTLY, stopping).await.expect("stop completes once drained").unwrap();
}

#[tokio::test]
async fn a_providers_error_event_is_relayed_untouched() {
    let error = r#"{"error": {"message": "upstream exploded mid-stream", "type": "internal_server_error", "param": null, "code": "500"}}"#;
    let mock =
        mock::start(move |_| Answer::Sse { events: vec![chunk("a"), error.to_owned(), "[DONE]".into()], gate: None })
            .await;
    let gw = gateway(&mock).await;
    let events = sse_events(
        &post(&gw, "/v1/chat/completions", None, &json!({ "model": "gpt-4o", "stream": true, "messages": [] }))
            .await
            .text(),
    );
    assert_eq!(events, vec![events[0].clone(), error.to_owned(), "[DONE]".to_owned()], "no model added, spacing kept");
}

/// A chat chunk whose content is `size` bytes of `x`, as one SSE event cut into `piece`-byte reads.
fn big_event_in_pieces(size: usize, piece: usize) -> Vec<String> {
    let event = format!("data: {}\n\ndata: [DONE]\n\n", chunk(&"x".repeat(size)));
    event.as_bytes().chunks(piece).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect()
}

#[tokio::test]
async fn an_event_of_4_mib_in_200_byte_pieces_is_relayed_whole() {
    let size = model_router::framing::sse::MAX_EVENT_BYTES - 1024;
    let mock = mock::start(move |_| Answer::SseRaw { pieces: big_event_in_pieces(size, 200) }).await;
    let gw = gateway(&mock).await;
    let response = open_stream(&gw, "gpt-4o").await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = sse_events(&rest(response.into_body()).await);
    assert_eq!(events.len(), 2, "the event and [DONE]");
    let event: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(event["model"], "gpt-4o");
    assert_eq!(event["choices"][0]["delta"]["content"].as_str().map(str::len), Some(size));
    assert_eq!(mock.last().json()["stream"], true);
}

#[tokio::test]
async fn an_event_over_the_limit_ends_the_stream_with_an_error() {
    let size = model_router::framing::sse::MAX_EVENT_BYTES + 1;
    let mock = mock::start(move |_| Answer::SseRaw { pieces: big_event_in_pieces(size, 64 * 1024) }).await;
    let gw = gateway(&mock).await;
    let response = open_stream(&gw, "gpt-4o").await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = sse_events(&rest(response.into_body()).await);
    assert_eq!(
        events.len(),
        2,
        "the error and [DONE]: {:?}",
        events.iter().map(|e| &e[..e.len().min(200)]).collect::<Vec<_>>()
    );
    let error: Value = serde_json::from_str(&events[0]).unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("exceeded 4 MiB"), "{error}");
    assert_eq!(events[1], "[DONE]");
    assert_eq!(mock.requests().len(), 1);
}
