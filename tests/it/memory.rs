//! Memory per request and the budget for request bodies. The peak RSS one ~31 MiB body adds,
//! on every provider path and for two shapes (one big string, many small messages), is at
//! most twice the body (or the body and its translation, when that is longer) plus
//! [`SLACK`]; bodies beyond the budget get 503 with `retry-after` (413 when they could never
//! fit) and never reach the provider. Peak RSS (VmHWM) is process-wide, so each measurement
//! runs in a process of its own: the test re-runs this binary on itself alone. The client streams its body from
//! one shared chunk and the upstream counts and discards what it receives, so neither holds a
//! copy; what the peak shows is the gateway's.

#![allow(clippy::print_stderr, reason = "the measured figures are the test's report")]
#![allow(clippy::cast_precision_loss, reason = "figures printed in MiB")]

use crate::common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use common::sink::{self, Hold, Sink};
use http::{Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use model_router::server::Running;
use model_router::table::fixtures;

/// The body size measured: just under the default `max_request_size_mb` (32 MiB).
pub const BODY_BYTES: usize = 31 * MIB;
/// Peak growth allowed on top: buffers, allocator slack, the runtime's own noise.
const SLACK: usize = 16 * MIB;
const MIB: usize = 1024 * 1024;
/// The byte the bodies mark their content with, counted by the upstream.
pub const MARK: u8 = b'Q';
/// Set in the process that measures; absent in the test that starts it.
const CHILD: &str = "MODEL_ROUTER_MEMORY_CHILD";
/// Size of the one chunk the client repeats.
const CHUNK: usize = 64 * 1024;

/// The client's API and the deployment serving it.
#[derive(Debug, Clone, Copy)]
pub enum Path {
    OpenAi,
    Azure,
    Anthropic,
    Gemini,
    /// `/v1/messages` relayed to an `anthropic/` deployment.
    MessagesRelayed,
    /// `/v1/messages` translated for an `openai/` deployment.
    MessagesTranslated,
}

impl Path {
    fn route(self) -> &'static str {
        match self {
            Path::MessagesRelayed | Path::MessagesTranslated => "/v1/messages",
            _ => "/v1/chat/completions",
        }
    }

    fn model(self) -> &'static str {
        match self {
            Path::OpenAi | Path::MessagesTranslated => "openai",
            Path::Azure => "azure",
            Path::Anthropic | Path::MessagesRelayed => "claude",
            Path::Gemini => "gemini",
        }
    }

    /// What the upstream path holds.
    fn upstream(self) -> &'static str {
        match self {
            Path::OpenAi | Path::MessagesTranslated => "/v1/chat/completions",
            Path::Azure => "/openai/deployments/dep/chat/completions",
            Path::Anthropic | Path::MessagesRelayed => "/messages",
            Path::Gemini => "/models/gemini-2.0-flash:generateContent",
        }
    }
}

/// What the body holds.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// One user message whose content is one string of [`MARK`]s.
    BigString,
    /// Short user and assistant messages in turn, each with one [`MARK`].
    ManyMessages,
}

/// A request body streamed from shared chunks: its parts are handles on a few buffers.
pub struct Streamed {
    parts: VecDeque<Bytes>,
    remaining: u64,
    /// Hide the length, so the body goes chunked.
    chunked: bool,
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let part = self.parts.pop_front();
        if let Some(part) = &part {
            self.remaining -= part.len() as u64;
        }
        Poll::Ready(part.map(|p| Ok(Frame::data(p))))
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked { SizeHint::default() } else { SizeHint::with_exact(self.remaining) }
    }
}

/// A body of about `size` bytes for `path` in `shape`, and how many marks it holds.
pub fn body(path: Path, shape: Shape, size: usize, chunked: bool) -> (Streamed, u64) {
    let max_tokens =
        if matches!(path, Path::MessagesRelayed | Path::MessagesTranslated) { r#""max_tokens":16,"# } else { "" };
    let (head, chunk, tail, marks_per_chunk) = match shape {
        Shape::BigString => (
            format!(r#"{{"model":"{}",{max_tokens}"messages":[{{"role":"user","content":""#, path.model()),
            vec![MARK; CHUNK],
            r#""}]}"#.to_owned(),
            CHUNK,
        ),
        Shape::ManyMessages => {
            let pair = r#"{"role":"user","content":"is it Q yet?"},{"role":"assistant","content":"not Q yet"},"#;
            let pairs = CHUNK / pair.len();
            (
                format!(r#"{{"model":"{}",{max_tokens}"messages":["#, path.model()),
                pair.repeat(pairs).into_bytes(),
                r#"{"role":"user","content":"now?"}]}"#.to_owned(),
                pairs * 2,
            )
        }
    };
    let chunk = Bytes::from(chunk);
    let count = (size - head.len() - tail.len()) / chunk.len();
    let mut parts = VecDeque::with_capacity(count + 2);
    parts.push_back(Bytes::from(head));
    parts.extend(std::iter::repeat_n(chunk, count));
    parts.push_back(Bytes::from(tail));
    let remaining = parts.iter().map(|p| p.len() as u64).sum();
    (Streamed { parts, remaining, chunked }, (count * marks_per_chunk) as u64)
}

/// Sends `body` to the gateway at `addr` and reads the whole answer.
pub async fn send(addr: SocketAddr, path: Path, body: Streamed) -> (StatusCode, http::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Streamed>();
    let request = Request::post(format!("http://{addr}{}", path.route()))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = client.request(request).await.expect("the gateway answers");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes())
}

/// The gateway with the memory fixture in front of `sink`.
pub async fn gateway(sink: &Sink, adjust: impl FnOnce(&mut model_router::settings::Settings)) -> Running {
    let base = format!("{}/v1", sink.base());
    common::start_with(&fixtures::memory::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "k")], adjust).await
}

/// A figure of `/proc/self/status` in bytes (`VmHWM`, `VmRSS`).
fn status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).expect("field");
    let kb: usize =
        line.trim_start_matches(field).trim_start_matches(':').trim().trim_end_matches("kB").trim().parse().unwrap();
    kb * 1024
}

/// The peak growth allowed for a body of `sent` bytes that went upstream as `upstream`
/// bytes: twice the body, or the body and the translated one when that is longer (an
/// Anthropic turn per tiny chat message is longer than the message), plus [`SLACK`].
fn bound(sent: u64, upstream: u64) -> usize {
    let (sent, upstream) = (usize::try_from(sent).unwrap(), usize::try_from(upstream).unwrap());
    sent + sent.max(upstream) + SLACK
}

/// Measures `at_once` bodies of one path and shape sent together, in this process: each
/// is served (reaching the upstream whole) or refused with 503, and the peak stays within
/// the bound of those served and within the budget.
async fn measure_here(path: Path, shape: Shape, at_once: usize) {
    let sink = sink::start(MARK, None).await;
    let gw = gateway(&sink, |_| {}).await;
    // A small request first, so pools, buffers and lazily built state exist before the
    // baseline is taken.
    let (warm, _) = body(path, shape, 2 * CHUNK + 1024, false);
    assert_eq!(send(gw.addr, path, warm).await.0, StatusCode::OK);
    // Reset the peak to the current RSS where the kernel allows it.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status("VmRSS");
    let (bodies, marks): (Vec<_>, Vec<_>) = (0..at_once).map(|_| body(path, shape, BODY_BYTES, false)).unzip();
    let sent = bodies[0].remaining;
    let calls: Vec<_> = bodies.into_iter().map(|b| tokio::spawn(send(gw.addr, path, b))).collect();
    let mut served = 0;
    for call in calls {
        let (status_code, _, reply) = call.await.unwrap();
        match status_code {
            StatusCode::OK => served += 1,
            StatusCode::SERVICE_UNAVAILABLE if at_once > 1 => {}
            other => panic!("{other}: {}", String::from_utf8_lossy(&reply)),
        }
    }
    let peak = status("VmHWM");
    let seen = sink.requests();
    assert!(served >= 1, "one body fits the budget");
    assert_eq!(seen.len(), 1 + served, "the warm-up and the bodies served reached the upstream, no other");
    for got in &seen[1..] {
        assert!(got.path.contains(path.upstream()), "{} reached {}", path.upstream(), got.path);
        assert_eq!(got.marks, marks[0], "every marked byte reached the upstream");
        assert_eq!(got.content_length, Some(got.len), "the upstream body has its exact length");
    }
    let growth = peak.saturating_sub(before);
    let bound =
        (served * bound(sent, seen[1].len)).min(usize::try_from(gw.gateway.provider.budget.total()).unwrap() + SLACK);
    eprintln!(
        "memory {path:?} {shape:?} ×{at_once} ({served} served): body {:.1} MiB, upstream body {:.1} MiB, peak RSS growth {:.1} MiB ({:.2}× the bodies served), bound {:.1} MiB",
        sent as f64 / MIB as f64,
        seen[1].len as f64 / MIB as f64,
        growth as f64 / MIB as f64,
        growth as f64 / (served as f64 * sent as f64),
        bound as f64 / MIB as f64,
    );
    assert!(growth <= bound, "peak RSS grew {growth} bytes for {served} × {sent}-byte bodies; the bound is {bound}");
}

/// Runs [`measure_here`] in a process of its own: this binary again, filtered to `test`
/// (named by its path in the test binary, `memory::…`).
fn measure(test: &str, path: Path, shape: Shape, at_once: usize) {
    if std::env::var_os(CHILD).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(measure_here(path, shape, at_once));
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", stderr.lines().filter(|l| l.starts_with("memory ")).collect::<Vec<_>>().join("\n"));
    assert!(out.status.success(), "the measuring process failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the measuring process ran the test:\n{stdout}");
}

macro_rules! measured {
    ($($name:ident: $path:ident, $shape:ident $(, $at_once:literal)?;)*) => {$(
        #[test]
        fn $name() {
            measure(concat!(module_path!(), "::", stringify!($name)).split_once("::").unwrap().1, Path::$path, Shape::$shape, 1 $(- 1 + $at_once)?);
        }
    )*};
}

measured! {
    openai_big_string: OpenAi, BigString;
    openai_many_messages: OpenAi, ManyMessages;
    azure_big_string: Azure, BigString;
    azure_many_messages: Azure, ManyMessages;
    anthropic_big_string: Anthropic, BigString;
    anthropic_many_messages: Anthropic, ManyMessages;
    gemini_big_string: Gemini, BigString;
    gemini_many_messages: Gemini, ManyMessages;
    messages_relayed_big_string: MessagesRelayed, BigString;
    messages_relayed_many_messages: MessagesRelayed, ManyMessages;
    messages_translated_big_string: MessagesTranslated, BigString;
    messages_translated_many_messages: MessagesTranslated, ManyMessages;
    // Three at once: within the default budget, which the pod's memory limit is sized to.
    three_openai_bodies_at_once: OpenAi, BigString, 3;
    three_anthropic_bodies_at_once: Anthropic, BigString, 3;
}

/// Budget for the tests that fill it: one 31 MiB body fits, two do not.
const SMALL_BUDGET: u64 = 40 << 20;

/// While the upstream holds the answer to one 31 MiB body, sends a second (`chunked`, or
/// with its length): it is refused with 503 and `retry-after`, and never reaches the
/// upstream; the first is served once released, and the budget is free again.
async fn second_body_beyond_the_budget(chunked: bool) {
    let hold = Hold::default();
    let sink = sink::start(MARK, Some(hold.clone())).await;
    let gw = gateway(&sink, |s| s.body_budget = Some(SMALL_BUDGET)).await;
    let (first, marks) = body(Path::OpenAi, Shape::BigString, BODY_BYTES, false);
    let first_len = first.remaining;
    let first = tokio::spawn(send(gw.addr, Path::OpenAi, first));
    hold.arrived.notified().await;
    assert_eq!(gw.gateway.provider.budget.held(), first_len, "the first body is held while its call is");
    let (second, _) = body(Path::OpenAi, Shape::BigString, BODY_BYTES, chunked);
    let (status, headers, reply) = send(gw.addr, Path::OpenAi, second).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let error: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(error["error"]["type"], "service_unavailable");
    assert_eq!(error["error"]["code"], "503");
    assert!(error["error"]["message"].as_str().unwrap().contains("MODEL_ROUTER_BODY_BUDGET_MB"), "{error}");
    hold.release.notify_one();
    let (status, _, reply) = first.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply));
    let seen = sink.requests();
    assert_eq!(seen.len(), 1, "the refused body never reached the upstream");
    assert_eq!(seen[0].marks, marks);
    assert_eq!(gw.gateway.provider.budget.held(), 0, "both charges came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_body_beyond_the_budget_gets_503_with_retry_after() {
    second_body_beyond_the_budget(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_is_charged_as_it_arrives() {
    second_body_beyond_the_budget(true).await;
}

/// A request that needs more than the whole budget could never be served: 413, at once.
async fn refused_as_too_large(path: Path, shape: Shape, chunked: bool, budget: u64) {
    let sink = sink::start(MARK, None).await;
    let gw = gateway(&sink, |s| s.body_budget = Some(budget)).await;
    let (big, _) = body(path, shape, BODY_BYTES, chunked);
    let (status, _, reply) = send(gw.addr, path, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", String::from_utf8_lossy(&reply));
    let error: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("MODEL_ROUTER_BODY_BUDGET_MB"), "{error}");
    assert!(sink.requests().is_empty(), "nothing reached the upstream");
    assert_eq!(gw.gateway.provider.budget.held(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_larger_than_the_whole_budget_gets_413() {
    refused_as_too_large(Path::OpenAi, Shape::BigString, false, 16 << 20).await;
    refused_as_too_large(Path::OpenAi, Shape::BigString, true, 16 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_translation_that_outgrows_the_budget_stops_with_413() {
    // The Anthropic turns of 31 MiB of tiny messages take 49 MiB beside the body's 31.
    refused_as_too_large(Path::Anthropic, Shape::ManyMessages, false, SMALL_BUDGET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_waiting_on_100_continue_is_answered_before_it_sends_its_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sink = sink::start(MARK, None).await;
    let gw = gateway(&sink, |s| s.body_budget = Some(16 << 20)).await;
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: {BODY_BYTES}\r\nexpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer[..read.expect("an answer, with no body sent").unwrap()]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(sink.requests().is_empty());
}
