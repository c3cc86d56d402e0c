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
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};

use mock_upstream::CONTENT;

/// Largest request body the mock reads.
const MAX_BODY: usize = 1 << 20;

/// The mock's behaviour for one request.
#[derive(Clone, Copy, Debug)]
struct Shape {
    chunks: u32,
    interval: Duration,
    delay: Duration,
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

fn usage() -> &'static str {
    "Usage: mock-upstream [--listen ADDR] [--chunks N] [--interval-ms P] [--delay-ms D] [--threads T]\n\
     Environment: MOCK_LISTEN, MOCK_CHUNKS, MOCK_INTERVAL_MS, MOCK_DELAY_MS, MOCK_THREADS.\n\
     Per request: headers x-mock-chunks, x-mock-interval-ms, x-mock-delay-ms, or model `mock-c64-i50-d0`."
}

struct Config {
    listen: SocketAddr,
    shape: Shape,
    threads: usize,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn parse<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("invalid value for {what}: {value:?}"))
}

fn config() -> Result<Config, String> {
    let mut listen = env_or("MOCK_LISTEN", "127.0.0.1:18080");
    let mut chunks = env_or("MOCK_CHUNKS", "16");
    let mut interval = env_or("MOCK_INTERVAL_MS", "0");
    let mut delay = env_or("MOCK_DELAY_MS", "0");
    let mut threads = env_or("MOCK_THREADS", "1");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--listen" => &mut listen,
            "--chunks" => &mut chunks,
            "--interval-ms" => &mut interval,
            "--delay-ms" => &mut delay,
            "--threads" => &mut threads,
            "-h" | "--help" => return Err(usage().to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        };
        *slot = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
    }
    Ok(Config {
        listen: parse("--listen", &listen)?,
        shape: Shape {
            chunks: parse("--chunks", &chunks)?,
            interval: Duration::from_millis(parse("--interval-ms", &interval)?),
            delay: Duration::from_millis(parse("--delay-ms", &delay)?),
        },
        threads: parse::<usize>("--threads", &threads)?.max(1),
    })
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

#[allow(clippy::print_stderr)]
fn report(message: &str) {
    eprintln!("mock-upstream: {message}");
}

async fn serve(config: Config) -> Result<(), String> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let defaults = Arc::new(config.shape);
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
        let defaults = Arc::clone(&defaults);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, *defaults));
            // A client that hangs up mid-response is not the mock's problem.
            let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

type MockBody = http_body_util::Either<Full<Bytes>, SseBody>;

fn plain(status: StatusCode, body: &'static str) -> Response<MockBody> {
    let mut response = Response::new(MockBody::Left(Full::new(Bytes::from_static(body.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn handle(req: Request<Incoming>, defaults: Shape) -> Result<Response<MockBody>, Infallible> {
    let path = req.uri().path();
    if path == "/health/readiness" || path == "/health" {
        return Ok(plain(StatusCode::OK, "{\"status\":\"ok\"}"));
    }
    if path != "/v1/chat/completions" && path != "/chat/completions" {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "{\"error\":{\"message\":\"not found\",\"type\":\"invalid_request_error\"}}",
        ));
    }
    if req.method() != Method::POST {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "{\"error\":{\"message\":\"use POST\",\"type\":\"invalid_request_error\"}}",
        ));
    }
    let (parts, body) = req.into_parts();
    let Ok(collected) = Limited::new(body, MAX_BODY).collect().await else {
        return Ok(plain(
            StatusCode::BAD_REQUEST,
            "{\"error\":{\"message\":\"unreadable body\",\"type\":\"invalid_request_error\"}}",
        ));
    };
    let Ok(chat) = serde_json::from_slice::<ChatRequest>(&collected.to_bytes()) else {
        return Ok(plain(
            StatusCode::BAD_REQUEST,
            "{\"error\":{\"message\":\"invalid JSON\",\"type\":\"invalid_request_error\"}}",
        ));
    };
    let shape = shape_for(defaults, &chat.model, &parts.headers);
    if !shape.delay.is_zero() {
        tokio::time::sleep(shape.delay).await;
    }
    let model = json_string(&chat.model);
    if chat.stream {
        let include_usage = chat.stream_options.is_some_and(|o| o.include_usage);
        let mut response = Response::new(MockBody::Right(SseBody::new(model, shape, include_usage)));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Ok(response)
    } else {
        let mut response = Response::new(MockBody::Left(Full::new(Bytes::from(completion(&model)))));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(response)
    }
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

const ID: &str = "chatcmpl-mock5f0c2a9e41d7b3c8e6a04f19";
const CREATED: u64 = 1_764_115_200;

fn completion(model: &str) -> String {
    let mut out = String::with_capacity(1200);
    let _ = write!(
        out,
        "{{\"id\":\"{ID}\",\"object\":\"chat.completion\",\"created\":{CREATED},\"model\":{model},\
         \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{CONTENT}\",\
         \"refusal\":null,\"annotations\":[]}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\
         \"usage\":{{\"prompt_tokens\":212,\"completion_tokens\":148,\"total_tokens\":360,\
         \"prompt_tokens_details\":{{\"cached_tokens\":0,\"audio_tokens\":0}},\
         \"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\
         \"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}},\
         \"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock0001\"}}"
    );
    out
}

/// The SSE body: content chunks `0..chunks` (chunk `i` carries ` tok<i>`), paced on a fixed
/// schedule so lateness does not accumulate, then the finish chunk, the usage chunk and
/// `[DONE]` together.
struct SseBody {
    model: String,
    shape: Shape,
    include_usage: bool,
    next: u32,
    start: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    done: bool,
}

impl SseBody {
    fn new(model: String, shape: Shape, include_usage: bool) -> Self {
        Self { model, shape, include_usage, next: 0, start: Instant::now(), sleep: None, done: false }
    }

    fn chunk(&self, index: u32) -> String {
        let (model, usage) = (&self.model, self.usage_field());
        let role = if index == 0 { "\"role\":\"assistant\"," } else { "" };
        format!(
            "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
             \"model\":{model},\"system_fingerprint\":\"fp_mock0001\",\"choices\":[{{\"index\":0,\
             \"delta\":{{{role}\"content\":\" tok{index}\"}},\"logprobs\":null,\"finish_reason\":null}}]{usage}}}\n\n"
        )
    }

    fn usage_field(&self) -> &'static str {
        if self.include_usage { ",\"usage\":null" } else { "" }
    }

    fn tail(&self) -> String {
        let (model, usage) = (&self.model, self.usage_field());
        let mut out = format!(
            "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
             \"model\":{model},\"system_fingerprint\":\"fp_mock0001\",\"choices\":[{{\"index\":0,\
             \"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}]{usage}}}\n\n"
        );
        if self.include_usage {
            let completion = self.shape.chunks;
            let _ = write!(
                out,
                "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
                 \"model\":{model},\"system_fingerprint\":\"fp_mock0001\",\"choices\":[],\
                 \"usage\":{{\"prompt_tokens\":212,\"completion_tokens\":{completion},\
                 \"total_tokens\":{}}}}}\n\n",
                212 + u64::from(completion)
            );
        }
        out.push_str("data: [DONE]\n\n");
        out
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.done {
            return Poll::Ready(None);
        }
        // Chunk i (and, after the last, the tail) is due at start + i × interval.
        if self.next > 0 && !self.shape.interval.is_zero() {
            let due = self.start + self.shape.interval * self.next;
            if Instant::now() < due {
                let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                if sleep.deadline() != due {
                    sleep.as_mut().reset(due);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        let index = self.next;
        let text = if index < self.shape.chunks {
            self.next += 1;
            self.chunk(index)
        } else {
            self.done = true;
            self.tail()
        };
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(text)))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
