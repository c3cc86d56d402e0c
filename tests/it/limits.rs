//! Capacity limits: a deployment's `rpm` and `max_parallel_requests`, and the gateway's
//! `global_max_parallel_requests`, answered with 429 and `retry-after` while other
//! deployments keep serving.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::mock::{self, Answer, Mock};
use common::{open, post, start};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};
use tokio::sync::Notify;

const PROMPTLY: Duration = Duration::from_secs(10);

/// Streams one chunk, then holds the rest until `gate` opens; everything else is JSON.
async fn holding(gate: Arc<Notify>) -> Mock {
    mock::start(move |seen| {
        let model = seen.json()["model"].as_str().unwrap_or_default().to_owned();
        if seen.json()["stream"] == true {
            let chunk = json!({ "object": "chat.completion.chunk", "model": model, "choices": [{ "index": 0, "delta": { "content": "x" } }] });
            return Answer::Sse { events: vec![chunk.to_string(), "[DONE]".into()], gate: Some(Arc::clone(&gate)) };
        }
        Answer::ok(&json!({ "object": "chat.completion", "model": model, "choices": [] }))
    })
    .await
}

async fn gateway(mock: &Mock) -> Running {
    let base = mock.base();
    start(&fixtures::limited::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "k")]).await
}

fn ask(model: &str, stream: bool) -> Value {
    json!({ "model": model, "stream": stream, "messages": [{ "role": "user", "content": "hi" }] })
}

/// Opens a stream and waits for its first chunk, so its slot is surely taken.
async fn hold(gw: &Running, model: &str) -> hyper::body::Incoming {
    let response = open(
        gw,
        Method::POST,
        "/v1/chat/completions",
        &[("content-type", "application/json")],
        ask(model, true).to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    tokio::time::timeout(PROMPTLY, body.frame()).await.expect("first chunk").unwrap().unwrap();
    body
}

#[tokio::test]
async fn rpm_limits_a_deployment_for_the_rest_of_the_minute() {
    let mock = holding(Arc::new(Notify::new())).await;
    let gw = gateway(&mock).await;
    for _ in 0..2 {
        assert_eq!(post(&gw, "/v1/chat/completions", None, &ask("two-a-minute", false)).await.status, StatusCode::OK);
    }
    let third = post(&gw, "/v1/chat/completions", None, &ask("two-a-minute", false)).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.json()["error"]["type"], "throttling_error");
    assert!(third.header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(mock.requests().len(), 2, "the third never reached the provider");
    assert_eq!(post(&gw, "/v1/chat/completions", None, &ask("open", false)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn max_parallel_requests_frees_its_slot_when_the_stream_ends() {
    let gate = Arc::new(Notify::new());
    let mock = holding(Arc::clone(&gate)).await;
    let gw = gateway(&mock).await;
    let body = hold(&gw, "one-at-a-time").await;
    let second = post(&gw, "/v1/chat/completions", None, &ask("one-at-a-time", false)).await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.header("retry-after"), Some("1"));
    gate.notify_one();
    body.collect().await.unwrap();
    assert_eq!(post(&gw, "/v1/chat/completions", None, &ask("one-at-a-time", false)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn global_max_parallel_requests_counts_every_call() {
    let gate = Arc::new(Notify::new());
    let mock = holding(Arc::clone(&gate)).await;
    let gw = gateway(&mock).await;
    let first = hold(&gw, "open").await;
    let second = hold(&gw, "open").await;
    let third = post(&gw, "/v1/chat/completions", None, &ask("open", false)).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(third.json()["error"]["message"].as_str().unwrap().contains("global_max_parallel_requests (2)"));
    assert_eq!(
        post(&gw, "/health/readiness", None, &json!({})).await.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "non-model routes are not counted"
    );
    drop(first);
    drop(second);
    gate.notify_waiters();
    tokio::time::timeout(PROMPTLY, async {
        loop {
            if post(&gw, "/v1/chat/completions", None, &ask("open", false)).await.status == StatusCode::OK {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("slots come back once the streams are gone");
}

#[tokio::test]
async fn least_busy_sends_the_next_call_to_the_idle_deployment() {
    let gate = Arc::new(Notify::new());
    let mock = holding(Arc::clone(&gate)).await;
    let base = mock.base();
    let gw = start(&fixtures::busy::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "k")]).await;
    let held = hold(&gw, "pair").await;
    let first = mock.last().json()["model"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(post(&gw, "/v1/chat/completions", None, &ask("pair", false)).await.status, StatusCode::OK);
        assert_ne!(mock.last().json()["model"].as_str().unwrap(), first, "the busy deployment is passed over");
    }
    drop(held);
}
