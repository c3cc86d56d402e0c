//! A mock upstream for memory tests on 127.0.0.1:0: it reads each request body frame by frame
//! and keeps only what a test can afford to keep of a 31 MiB body (its length, how often a
//! marker byte occurs, its first and last bytes), then answers in the format the request's
//! path names (OpenAI chat, Anthropic Messages, Gemini `generateContent`). It can hold its
//! answer to the first request until the test releases it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Bytes kept from each end of a body.
const KEEP: usize = 512;

/// What the sink received of one request.
#[derive(Debug, Clone, Default)]
pub struct Drained {
    pub path: String,
    pub content_length: Option<u64>,
    pub len: u64,
    /// How many times the marker byte occurred in the body.
    pub marks: u64,
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
}

/// Holds the answer to the first request: `arrived` is notified once its body is drained,
/// and the answer waits for `release`.
#[derive(Clone, Default)]
pub struct Hold {
    pub arrived: Arc<Notify>,
    pub release: Arc<Notify>,
}

/// A running sink.
pub struct Sink {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Drained>>>,
}

impl Sink {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Drained> {
        self.seen.lock().expect("lock").clone()
    }
}

/// Starts a sink counting `marker` bytes; with `hold`, the first answer waits for it.
pub async fn start(marker: u8, hold: Option<Hold>) -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink { addr, seen: Arc::clone(&seen) };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, hold) = (Arc::clone(&seen), hold.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(request, marker, Arc::clone(&seen), hold.clone()));
                let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    sink
}

async fn answer(
    request: Request<Incoming>,
    marker: u8,
    seen: Arc<Mutex<Vec<Drained>>>,
    hold: Option<Hold>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, mut body) = request.into_parts();
    let mut drained = Drained {
        path: parts.uri.path_and_query().map(ToString::to_string).unwrap_or_default(),
        content_length: parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()),
        ..Drained::default()
    };
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else { continue };
        drained.len += data.len() as u64;
        drained.marks += memchr::memchr_iter(marker, &data).count() as u64;
        if drained.head.len() < KEEP {
            let room = KEEP - drained.head.len();
            drained.head.extend_from_slice(&data[..room.min(data.len())]);
        }
        drained.tail.extend_from_slice(&data[data.len().saturating_sub(KEEP)..]);
        let excess = drained.tail.len().saturating_sub(KEEP);
        drained.tail.drain(..excess);
    }
    let first = {
        let mut seen = seen.lock().expect("lock");
        seen.push(drained.clone());
        seen.len() == 1
    };
    if let (Some(hold), true) = (hold, first) {
        let released = hold.release.notified();
        hold.arrived.notify_one();
        released.await;
    }
    let mut response = Response::new(Full::new(Bytes::from(reply(&drained.path))));
    response.headers_mut().insert("content-type", "application/json".parse().expect("header"));
    Ok(response)
}

/// A minimal successful reply in the format `path` speaks.
fn reply(path: &str) -> String {
    let reply = if path.contains("/messages") {
        serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{ "type": "text", "text": "ok" }], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": { "input_tokens": 1, "output_tokens": 1 },
        })
    } else if path.contains(":generateContent") {
        serde_json::json!({
            "candidates": [{ "content": { "role": "model", "parts": [{ "text": "ok" }] }, "finishReason": "STOP", "index": 0 }],
            "usageMetadata": { "promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2 },
        })
    } else {
        serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "ok" }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 },
        })
    };
    reply.to_string()
}
