//! Shared by the integration tests: the gateway in process on 127.0.0.1:0, a small HTTP
//! client, and a scriptable OpenAI-compatible mock upstream that records what it received.

#![allow(clippy::missing_panics_doc, reason = "test harness")]

pub mod bedrock;
pub mod cluster;
pub mod mock;
pub mod redis;
pub mod shared;
pub mod sink;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use model_router::gateway::Gateway;
use model_router::server::Running;
use model_router::settings::Settings;
use model_router::table::Table;
use serde_json::Value;

/// Starts the gateway on 127.0.0.1:0 with `table` and only `vars` as its environment.
pub async fn start(table: &'static Table, vars: &[(&str, &str)]) -> Running {
    start_with(table, vars, |_| {}).await
}

/// The gateway serving `table` with `mock` behind its Anthropic, Gemini and OpenAI-compatible
/// deployments (`MOCK_ANTHROPIC_BASE`, `MOCK_GEMINI_BASE`, `MOCK_BASE`; key `sk-up`).
pub async fn start_behind(table: &'static Table, mock: &mock::Mock) -> Running {
    let (anthropic, openai) = (format!("http://{}", mock.addr), mock.base());
    let gemini = format!("http://{}/v1beta", mock.addr);
    let vars = [
        ("MOCK_ANTHROPIC_BASE", anthropic.as_str()),
        ("MOCK_BASE", openai.as_str()),
        ("MOCK_GEMINI_BASE", gemini.as_str()),
        ("MOCK_KEY", "sk-up"),
    ];
    start(table, &vars).await
}

/// Like [`start`], letting the test adjust the settings first.
pub async fn start_with(table: &'static Table, vars: &[(&str, &str)], adjust: impl FnOnce(&mut Settings)) -> Running {
    let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let mut settings = Settings::from_vars(vars).expect("settings");
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.drain = Duration::from_secs(5);
    adjust(&mut settings);
    let gateway = Gateway::new(table, settings).expect("gateway");
    Running::start(gateway).await.expect("listen")
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// POSTs `body` to a streaming `path`, reads the answer until `marker` has arrived, then
/// lets the mock reset the connection (`gate`) and returns all the client got.
pub async fn stream_past_reset(
    running: &Running,
    path: &str,
    body: &Value,
    marker: &str,
    gate: &tokio::sync::Notify,
) -> String {
    let headers = [("content-type", "application/json")];
    let response = open(running, Method::POST, path, &headers, body.to_string()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    while !text.contains(marker) {
        let frame = body.frame().await.expect("a frame").expect("no error");
        text.push_str(&String::from_utf8_lossy(&frame.into_data().unwrap_or_default()));
    }
    gate.notify_one();
    text.push_str(&String::from_utf8_lossy(&body.collect().await.expect("the rest").to_bytes()));
    text
}

/// Sends a request and returns the response head with its body still streaming.
pub async fn open(
    running: &Running,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Response<Incoming> {
    let mut request = Request::builder().method(method).uri(format!("http://{}{path}", running.addr));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).expect("request");
    client().request(request).await.expect("gateway answers")
}

/// Sends a request and reads the whole response.
pub async fn send(
    running: &Running,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let response = open(running, method, path, headers, body).await;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply { status: parts.status, headers: parts.headers, body }
}

/// POSTs JSON with `Authorization: Bearer key` when a key is given.
pub async fn post(running: &Running, path: &str, key: Option<&str>, body: &Value) -> Reply {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    send(running, Method::POST, path, &headers, body.to_string()).await
}

/// GETs with `Authorization: Bearer key` when a key is given.
pub async fn get(running: &Running, path: &str, key: Option<&str>) -> Reply {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    send(running, Method::GET, path, &headers, Bytes::new()).await
}

/// The `data:` payloads of an SSE body, in order, checking the framing on the way.
pub fn sse_events(body: &str) -> Vec<String> {
    assert!(body.ends_with("\n\n"), "SSE body must end with a blank line: {body:?}");
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            let data = event.strip_prefix("data: ").unwrap_or_else(|| panic!("event without data: {event:?}"));
            assert!(!data.contains('\n'), "one data line per event: {event:?}");
            data.to_owned()
        })
        .collect()
}
