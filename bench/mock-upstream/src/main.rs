//! A fast OpenAI-compatible mock upstream for the benchmark.
//!
//! `POST /v1/chat/completions` (or `/chat/completions`) answers a fixed, realistic
//! `chat.completion` (~1 KB) echoing the request's `model`, or, with `"stream": true`,
//! N SSE chunks paced P ms apart, a finish chunk, a usage chunk when
//! `stream_options.include_usage` is set, and `data: [DONE]`.
//! `GET /health/readiness` answers 200 so start-up can be timed like a gateway's.
//!
//! Defaults come from flags (or `MOCK_*` environment variables); every request may override
//! them with the headers `x-mock-chunks`, `x-mock-interval-ms` and `x-mock-delay-ms`, or with a
//! model name of the form `mock-c<chunks>-i<interval ms>-d<delay ms>` (any subset), which
//! reaches the mock through gateways that do not forward custom headers.
//!
//! Faults (see `inject`): `x-mock-fault: 500|429|reset|stall|json`, a `-f<name>` model token
//! (`mock-f500`), or `--faults 500=0.01,...` rates; `GET /mock/stats` counts them.
#![forbid(unsafe_code)]

mod answer;
mod config;
mod inject;

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;

use mock_upstream::faults::Fault;

use crate::answer::{SseBody, completion};
use crate::config::{Config, config};
use crate::inject::{CutBody, Faults, ResettableIo};

/// Largest request body the mock reads.
const MAX_BODY: usize = 1 << 20;
/// Content chunks a stream sends before an injected reset.
const CHUNKS_BEFORE_RESET: u32 = 2;
/// The content chunk of a stream that an injected `json` fault breaks.
const BROKEN_CHUNK: u32 = 1;

/// The mock's behaviour for one request.
#[derive(Clone, Copy, Debug)]
struct Shape {
    pub chunks: u32,
    pub interval: Duration,
    pub delay: Duration,
}

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// What every request reads: the default shape and the faults.
struct State {
    shape: Shape,
    faults: Faults,
}

fn main() -> ExitCode {
    let config = match config() {
        Ok(config) => config,
        Err(message) => {
            report(&message);
            return ExitCode::from(2);
        }
    };
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(config.threads).enable_all().build()
    };
    let result =
        runtime.map_err(|e| format!("cannot start the runtime: {e}")).and_then(|rt| rt.block_on(serve(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            report(&message);
            ExitCode::FAILURE
        }
    }
}

#[expect(clippy::print_stderr, reason = "a command-line tool reports on stderr")]
fn report(message: &str) {
    eprintln!("mock-upstream: {message}");
}

async fn serve(config: Config) -> Result<(), String> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    // Lives as long as the process; leaked so every request reads it without a count.
    let state: &'static State = Box::leak(Box::new(State { shape: config.shape, faults: config.faults }));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                report(&format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let (io, reset) = ResettableIo::new(stream);
            let service = service_fn(move |req| handle(req, state, Arc::clone(&reset)));
            // A client that hangs up mid-response is not the mock's problem.
            let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(io), service).await;
        });
    }
}

/// An answer as it should be, or one cut short by a reset.
type Answer = Either<Full<Bytes>, SseBody>;
type MockBody = Either<Answer, CutBody<Answer>>;

fn full(bytes: Bytes) -> MockBody {
    Either::Left(Either::Left(Full::new(bytes)))
}

fn plain(status: StatusCode, body: &'static str) -> Response<MockBody> {
    let mut response = Response::new(full(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn handle(
    req: Request<Incoming>,
    state: &State,
    reset: Arc<AtomicBool>,
) -> Result<Response<MockBody>, Infallible> {
    if let Some(response) = route(req.uri().path(), req.method(), state) {
        return Ok(response);
    }
    let (parts, body) = req.into_parts();
    let chat = match read_chat(body).await {
        Ok(chat) => chat,
        Err(response) => return Ok(response),
    };
    let mut shape = shape_for(state.shape, &chat.model, &parts.headers);
    let fault = state.faults.choose(&parts.headers, &chat.model);
    match fault {
        Some(Fault::ServerError) => return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, inject::SERVER_ERROR)),
        Some(Fault::RateLimited) => {
            let mut response = plain(StatusCode::TOO_MANY_REQUESTS, inject::RATE_LIMITED);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(state.faults.retry_after_s));
            return Ok(response);
        }
        Some(Fault::Stall) => shape.delay += state.faults.stall,
        _ => {}
    }
    if !shape.delay.is_zero() {
        tokio::time::sleep(shape.delay).await;
    }
    let model = json_string(&chat.model);
    if chat.stream {
        let include_usage = chat.stream_options.is_some_and(|o| o.include_usage);
        Ok(streamed(model, shape, include_usage, fault, reset))
    } else {
        Ok(whole(&model, fault, reset))
    }
}

/// The answers that need no body: health, stats, an unknown path, a method other than POST.
fn route(path: &str, method: &Method, state: &State) -> Option<Response<MockBody>> {
    if path == "/health/readiness" || path == "/health" {
        return Some(plain(StatusCode::OK, "{\"status\":\"ok\"}"));
    }
    if path == "/mock/stats" {
        let mut response = plain(StatusCode::OK, "");
        *response.body_mut() = full(Bytes::from(state.faults.stats()));
        return Some(response);
    }
    if path != "/v1/chat/completions" && path != "/chat/completions" {
        return Some(plain(
            StatusCode::NOT_FOUND,
            "{\"error\":{\"message\":\"not found\",\"type\":\"invalid_request_error\"}}",
        ));
    }
    if method != Method::POST {
        return Some(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "{\"error\":{\"message\":\"use POST\",\"type\":\"invalid_request_error\"}}",
        ));
    }
    None
}

/// Reads and parses the request body; a 400 if it cannot.
async fn read_chat(body: Incoming) -> Result<ChatRequest, Response<MockBody>> {
    let Ok(collected) = Limited::new(body, MAX_BODY).collect().await else {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "{\"error\":{\"message\":\"unreadable body\",\"type\":\"invalid_request_error\"}}",
        ));
    };
    serde_json::from_slice::<ChatRequest>(&collected.to_bytes()).map_err(|_| {
        plain(StatusCode::BAD_REQUEST, "{\"error\":{\"message\":\"invalid JSON\",\"type\":\"invalid_request_error\"}}")
    })
}

/// The SSE answer; a `reset` fault cuts it after a few chunks, a `json` fault breaks one.
fn streamed(
    model: String,
    shape: Shape,
    include_usage: bool,
    fault: Option<Fault>,
    reset: Arc<AtomicBool>,
) -> Response<MockBody> {
    let mut sse = SseBody::new(model, shape, include_usage);
    if fault == Some(Fault::BadJson) {
        sse.broken = Some(BROKEN_CHUNK.min(shape.chunks.saturating_sub(1)));
    }
    let body = if fault == Some(Fault::Reset) {
        let frames = CHUNKS_BEFORE_RESET.min(shape.chunks);
        Either::Right(CutBody::new(Either::Right(sse), frames, reset))
    } else {
        Either::Left(Either::Right(sse))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The `chat.completion` answer; a `reset` fault cuts it halfway (announcing the whole length),
/// a `json` fault sends only its first half.
fn whole(model: &str, fault: Option<Fault>, reset: Arc<AtomicBool>) -> Response<MockBody> {
    let text = completion(model);
    let length = text.len();
    let reset_it = fault == Some(Fault::Reset);
    let body = if reset_it {
        // The whole answer's length, half of it sent: the reader knows it was cut.
        Either::Right(CutBody::new(Either::Left(Full::new(inject::first_half(&text))), 1, reset))
    } else if fault == Some(Fault::BadJson) {
        full(inject::first_half(&text))
    } else {
        full(Bytes::from(text))
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if reset_it {
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// Applies the per-request overrides: model-name tokens first, then headers.
fn shape_for(defaults: Shape, model: &str, headers: &HeaderMap) -> Shape {
    let mut shape = defaults;
    if let Some(rest) = model.strip_prefix("mock-") {
        for token in rest.split('-') {
            let (kind, digits) = token.split_at(token.len().min(1));
            let Ok(value) = digits.parse::<u32>() else {
                continue;
            };
            match kind {
                "c" => shape.chunks = value,
                "i" => shape.interval = Duration::from_millis(u64::from(value)),
                "d" => shape.delay = Duration::from_millis(u64::from(value)),
                _ => {}
            }
        }
    }
    let number =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u32>().ok());
    if let Some(n) = number("x-mock-chunks") {
        shape.chunks = n;
    }
    if let Some(ms) = number("x-mock-interval-ms") {
        shape.interval = Duration::from_millis(u64::from(ms));
    }
    if let Some(ms) = number("x-mock-delay-ms") {
        shape.delay = Duration::from_millis(u64::from(ms));
    }
    shape
}

/// The model name as a JSON string literal (quotes included).
fn json_string(model: &str) -> String {
    serde_json::to_string(model).unwrap_or_else(|_| "\"mock\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_upstream::CONTENT;

    #[test]
    fn completion_is_valid_json_of_about_a_kilobyte() {
        let body = completion(&json_string("gpt-4o-mini"));
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["model"], "gpt-4o-mini");
        assert_eq!(value["choices"][0]["message"]["content"], CONTENT);
        assert!((900..1400).contains(&body.len()), "{}", body.len());
    }

    #[test]
    fn model_tokens_and_headers_override_defaults() {
        let defaults = Shape { chunks: 16, interval: Duration::ZERO, delay: Duration::ZERO };
        let shape = shape_for(defaults, "mock-c64-i50", &HeaderMap::new());
        assert_eq!(shape.chunks, 64);
        assert_eq!(shape.interval, Duration::from_millis(50));
        let mut headers = HeaderMap::new();
        headers.insert("x-mock-chunks", HeaderValue::from_static("3"));
        let shape = shape_for(defaults, "gpt-4o", &headers);
        assert_eq!(shape.chunks, 3);
        assert_eq!(shape.interval, Duration::ZERO);
    }

    #[test]
    fn stream_chunks_are_valid_json() {
        let body =
            SseBody::new(json_string("m"), Shape { chunks: 2, interval: Duration::ZERO, delay: Duration::ZERO }, true);
        for event in [body.chunk(0), body.chunk(1)].iter().chain(std::iter::once(&body.tail())) {
            for data in event.split("\n\n").filter(|e| !e.is_empty()) {
                let json = data.strip_prefix("data: ").unwrap();
                if json != "[DONE]" {
                    let _: serde_json::Value = serde_json::from_str(json).unwrap();
                }
            }
        }
    }
}
