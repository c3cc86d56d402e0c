//! Shared by the shared-state tests (tests/it/shared.rs, tests/it/shared_outage.rs): a scripted
//! upstream, replicas of the `shared` fixtures on a test's own redis-server, and probes of
//! what they expose.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use model_router::gateway::Gateway;
use model_router::server::Running;
use model_router::settings::Settings;
use model_router::table::{Table, fixtures};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::mock::{self, Answer, Mock};
use super::redis::RedisServer;
use super::{get, open, post};

pub const PROMPTLY: Duration = Duration::from_secs(10);
/// Longest a request may take while Redis is down or frozen: the command timeout (200 ms)
/// and a margin for a loaded test machine.
pub const WITHIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Answers JSON with 6 tokens of usage, 429 for `flaky`, and streams held at `gate`.
pub async fn upstream(gate: Arc<Notify>) -> Mock {
    mock::start(move |seen| {
        let model = seen.json()["model"].as_str().unwrap_or_default().to_owned();
        if model == "flaky" {
            let body = json!({ "error": { "message": "slow down", "type": "rate_limit" } }).to_string();
            return Answer::Json { status: 429, body, headers: vec![] };
        }
        if model == "broken" {
            let body = json!({ "error": { "message": "upstream broke", "type": "server_error" } }).to_string();
            return Answer::Json { status: 500, body, headers: vec![] };
        }
        if seen.json()["stream"] == true {
            let chunk = json!({ "object": "chat.completion.chunk", "model": model, "choices": [{ "index": 0, "delta": { "content": "x" } }] });
            return Answer::Sse { events: vec![chunk.to_string(), "[DONE]".into()], gate: Some(Arc::clone(&gate)) };
        }
        let usage = json!({ "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6 });
        Answer::ok(&json!({ "object": "chat.completion", "model": model, "choices": [], "usage": usage }))
    })
    .await
}

pub fn settings(vars: &[(&str, &str)]) -> Settings {
    let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let mut settings = Settings::from_vars(vars).unwrap();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.drain = Duration::from_secs(5);
    settings
}

/// A replica of the `shared` fixture on `redis` (or on a Redis at `port` nobody runs).
pub async fn replica(mock: &Mock, port: u16, password: &str) -> Running {
    let (base, port) = (mock.base(), port.to_string());
    let vars = [
        ("MOCK_BASE", base.as_str()),
        ("MOCK_KEY", "k"),
        ("TEST_REDIS_HOST", "127.0.0.1"),
        ("TEST_REDIS_PORT", port.as_str()),
        ("TEST_REDIS_PASSWORD", password),
    ];
    start(&fixtures::shared::TABLE, &vars).await
}

pub async fn start(table: &'static Table, vars: &[(&str, &str)]) -> Running {
    Running::start(Gateway::start(table, settings(vars)).await.expect("gateway")).await.expect("listen")
}

pub async fn pair(mock: &Mock, redis: &RedisServer) -> (Running, Running) {
    (replica(mock, redis.port, &redis.password).await, replica(mock, redis.port, &redis.password).await)
}

pub fn ask(model: &str, stream: bool) -> Value {
    json!({ "model": model, "stream": stream, "messages": [{ "role": "user", "content": "hi" }] })
}

pub async fn status(gw: &Running, model: &str) -> StatusCode {
    post(gw, "/v1/chat/completions", None, &ask(model, false)).await.status
}

/// Asks `model` six times, replica `a` and `b` in turn, and gives the statuses; every 429
/// must say when to come back (`retry-after` within the minute's window).
pub async fn six_alternately(a: &Running, b: &Running, model: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..6 {
        let reply = post(if i % 2 == 0 { a } else { b }, "/v1/chat/completions", None, &ask(model, false)).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            let wait = reply.header("retry-after").and_then(|s| s.parse::<u64>().ok());
            assert!(wait.is_some_and(|s| (1..=60).contains(&s)), "retry-after: {:?}", reply.header("retry-after"));
        }
        statuses.push(reply.status.as_u16());
    }
    statuses
}

/// Opens a stream and waits for its first chunk, so its slot is surely taken.
pub async fn hold(gw: &Running, model: &str) -> hyper::body::Incoming {
    let body = ask(model, true).to_string();
    let response = open(gw, Method::POST, "/v1/chat/completions", &[("content-type", "application/json")], body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    tokio::time::timeout(PROMPTLY, body.frame()).await.expect("first chunk").unwrap().unwrap();
    body
}

/// The `model_router_redis_connected` value on `/metrics`.
pub async fn gauge(gw: &Running) -> Option<u8> {
    let page = get(gw, "/metrics", None).await.text();
    page.lines().find_map(|l| l.strip_prefix("model_router_redis_connected ")).map(|v| v.parse().unwrap())
}

/// Waits until `check` holds, trying again every few milliseconds (an outside process's
/// state, not a notification the test could wait on).
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + PROMPTLY;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {PROMPTLY:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn upstream_models(mock: &Mock) -> Vec<String> {
    mock.requests().iter().map(|s| s.json()["model"].as_str().unwrap_or_default().to_owned()).collect()
}
