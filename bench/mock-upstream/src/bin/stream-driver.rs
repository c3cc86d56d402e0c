//! The benchmark's own load client: one client for every contender, each response checked.
//!
//! Subcommands (each prints one JSON object on stdout):
//! - `body` prints the ~1 KB request body (for wrk's script).
//! - `latency` closed loop over C keep-alive connections (T1 uses C = 1).
//! - `rate` open loop at a fixed rate; latency counts from the scheduled send time (T2).
//! - `streams` S concurrent SSE streams on S connections, per-chunk arrival times (T6).
//! - `startup` exec a command, time until `GET` on a URL answers 200, kill it; repeat (T7).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::{Instant, timeout};

use mock_upstream::{CONTENT, percentile, request_body};

const USAGE: &str = "Usage:
  stream-driver body [--model M] [--stream]
  stream-driver latency --url URL [--model M] [--connections C] [--requests N] [--duration-s S] [--warmup N] [--warmup-s S]
  stream-driver rate --url URL --rps R [--model M] [--duration-s S] [--connections K] [--timeout-s T] [--grace-s G]
  stream-driver streams --url URL [--streams S] [--chunks N] [--interval-ms P] [--ramp-ms R] [--timeout-s T]
  stream-driver startup --url URL [--runs N] [--timeout-s T] -- [NAME=value...] COMMAND [ARGS...]";

type Error = String;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(json) => {
            emit(&json);
            ExitCode::SUCCESS
        }
        Err(message) => {
            complain(&message);
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::print_stdout)]
fn emit(text: &str) {
    println!("{text}");
}

#[allow(clippy::print_stderr)]
fn complain(text: &str) {
    eprintln!("stream-driver: {text}");
}

/// Flags as `--name value` pairs (a flag followed by another flag, or last, is a switch);
/// anything after `--` is the command of `startup`.
struct Flags {
    values: HashMap<String, String>,
    command: Vec<String>,
}

impl Flags {
    fn parse(args: &[String]) -> Result<Self, Error> {
        let mut values = HashMap::new();
        let mut command = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                command = args[i + 1..].to_vec();
                break;
            }
            let name = arg.strip_prefix("--").ok_or_else(|| format!("unexpected argument {arg:?}\n{USAGE}"))?;
            match args.get(i + 1) {
                Some(value) if !value.starts_with("--") => {
                    values.insert(name.to_owned(), value.clone());
                    i += 2;
                }
                _ => {
                    values.insert(name.to_owned(), "true".to_owned());
                    i += 1;
                }
            }
        }
        Ok(Self { values, command })
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Error> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("invalid --{name}: {v:?}")),
        }
    }

    fn text(&self, name: &str, default: &str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| default.to_owned())
    }
}

/// Where a request goes: the socket address, the Host header and the path.
#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    authority: String,
    path: String,
}

fn target(url: &str) -> Result<Target, Error> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let addr = authority.parse().map_err(|_| format!("the URL needs an IP:port authority: {url}"))?;
    Ok(Target { addr, authority: authority.to_owned(), path: path.to_owned() })
}

async fn run(args: Vec<String>) -> Result<String, Error> {
    let (command, rest) = args.split_first().ok_or_else(|| USAGE.to_owned())?;
    let flags = Flags::parse(rest)?;
    match command.as_str() {
        "body" => Ok(request_body(&flags.text("model", "gpt-4o-mini"), flags.get("stream", false)?)),
        "latency" => latency(&flags).await,
        "rate" => rate(&flags).await,
        "streams" => streams(&flags).await,
        "startup" => startup(&flags).await,
        _ => Err(USAGE.to_owned()),
    }
}

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, Error> {
    let tcp = TcpStream::connect(target.addr).await.map_err(|e| format!("connect {}: {e}", target.addr))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

fn post(target: &Target, body: &Bytes, extra: &[(&str, String)]) -> Result<Request<Full<Bytes>>, Error> {
    let mut builder = Request::post(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::AUTHORIZATION, "Bearer bench");
    for (name, value) in extra {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Full::new(body.clone())).map_err(|e| format!("request: {e}"))
}

#[derive(Deserialize)]
struct Completion {
    object: String,
    model: String,
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

/// Checks a non-streaming answer: 200, a `chat.completion` for the model, the mock's text.
fn check_completion(status: StatusCode, body: &[u8], model: &str) -> Result<(), String> {
    if status != StatusCode::OK {
        let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("status {status}: {snippet}"));
    }
    let parsed: Completion = serde_json::from_slice(body).map_err(|e| format!("not a chat.completion: {e}"))?;
    if parsed.object != "chat.completion" {
        return Err(format!("object {:?}", parsed.object));
    }
    if !parsed.model.ends_with(model) {
        return Err(format!("model {:?}, expected {model:?}", parsed.model));
    }
    match parsed.choices.first().and_then(|c| c.message.content.as_deref()) {
        Some(text) if text == CONTENT => Ok(()),
        _ => Err("the answer is not the mock's text".to_owned()),
    }
}

/// One request on a connection; the latency is measured by the caller.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    model: &str,
) -> Result<(), String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
    check_completion(status, &body, model)
}

/// Tally of one load run: latencies in nanoseconds and error messages (first few kept).
#[derive(Default)]
struct Tally {
    latencies: Vec<u64>,
    errors: u64,
    timeouts: u64,
    samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.samples.len() < 5 {
            self.samples.push(message);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        for s in other.samples {
            if self.samples.len() < 5 {
                self.samples.push(s);
            }
        }
    }

    fn json(mut self, elapsed: Duration, extra: &str) -> String {
        self.latencies.sort_unstable();
        let us = |p: f64| nanos_to_us(percentile(&self.latencies, p));
        let count = self.latencies.len();
        #[allow(clippy::cast_precision_loss)]
        let mean = if count == 0 { 0.0 } else { self.latencies.iter().sum::<u64>() as f64 / count as f64 / 1000.0 };
        #[allow(clippy::cast_precision_loss)]
        let rps = count as f64 / elapsed.as_secs_f64().max(1e-9);
        let samples = serde_json::to_string(&self.samples).unwrap_or_default();
        format!(
            "{{\"ok\":{count},\"errors\":{},\"timeouts\":{},\"rps\":{rps:.1},\"mean_us\":{mean:.1},\
             \"p50_us\":{:.1},\"p90_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1},\
             \"elapsed_s\":{:.3}{extra},\"error_samples\":{samples}}}",
            self.errors,
            self.timeouts,
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            us(1.0),
            elapsed.as_secs_f64()
        )
    }
}

#[allow(clippy::cast_precision_loss)]
fn nanos_to_us(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Closed loop: each connection sends its next request when the previous answer is in.
async fn latency(flags: &Flags) -> Result<String, Error> {
    let target = target(&flags.text("url", ""))?;
    let model = flags.text("model", "gpt-4o-mini");
    let connections: usize = flags.get("connections", 1)?;
    let requests: u64 = flags.get("requests", 1_000_000)?;
    let duration = Duration::from_secs_f64(flags.get("duration-s", 5.0)?);
    let warmup: u64 = flags.get("warmup", 100)?;
    let warmup_limit = Duration::from_secs_f64(flags.get("warmup-s", 1.0)?);
    let per_request = Duration::from_secs_f64(flags.get("timeout-s", 10.0)?);
    let body = Bytes::from(request_body(&model, false));
    let remaining = Arc::new(std::sync::atomic::AtomicU64::new(requests));

    // Warm up on each connection (not counted): first-request costs, caches, the gateway's pool.
    let mut senders = Vec::with_capacity(connections);
    let mut warmed = 0u64;
    for _ in 0..connections.max(1) {
        let mut sender = connect(&target).await?;
        let began = Instant::now();
        for _ in 0..warmup {
            if began.elapsed() > warmup_limit {
                break;
            }
            let request = post(&target, &body, &[])?;
            timeout(per_request, exchange(&mut sender, request, &model))
                .await
                .map_err(|_| "warm-up request timed out".to_owned())?
                .map_err(|e| format!("warm-up: {e}"))?;
            warmed += 1;
        }
        senders.push(sender);
    }

    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for mut sender in senders {
        let (target, body, model, remaining) = (target.clone(), body.clone(), model.clone(), Arc::clone(&remaining));
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline
                && remaining
                    .fetch_update(std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed, |n| {
                        n.checked_sub(1)
                    })
                    .is_ok()
            {
                let request = match post(&target, &body, &[]) {
                    Ok(r) => r,
                    Err(e) => {
                        tally.error(e);
                        break;
                    }
                };
                let sent = Instant::now();
                match timeout(per_request, exchange(&mut sender, request, &model)).await {
                    Ok(Ok(())) => tally.latencies.push(nanos(sent.elapsed())),
                    Ok(Err(e)) => {
                        tally.error(e);
                        // The connection may be gone: open a new one.
                        match connect(&target).await {
                            Ok(s) => sender = s,
                            Err(e) => {
                                tally.error(e);
                                break;
                            }
                        }
                    }
                    Err(_) => {
                        tally.timeouts += 1;
                        break;
                    }
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await.map_err(|e| format!("task: {e}"))?);
    }
    Ok(total.json(start.elapsed(), &format!(",\"connections\":{connections},\"warmup_done\":{warmed}")))
}

/// One connection of the open loop: takes the next released request, records its latency.
async fn rate_worker(
    mut sender: SendRequest<Full<Bytes>>,
    target: Target,
    body: Bytes,
    model: String,
    rx: Arc<Mutex<tokio::sync::mpsc::UnboundedReceiver<Instant>>>,
    shared: Arc<Mutex<Tally>>,
    per_request: Duration,
) {
    loop {
        let due = { rx.lock().await.recv().await };
        let Some(due) = due else { break };
        let outcome = match post(&target, &body, &[]) {
            Ok(request) => timeout(per_request, exchange(&mut sender, request, &model)).await,
            Err(e) => Ok(Err(e)),
        };
        let reconnect = {
            let mut tally = shared.lock().await;
            match outcome {
                Ok(Ok(())) => {
                    tally.latencies.push(nanos(due.elapsed()));
                    false
                }
                Ok(Err(e)) => {
                    tally.error(e);
                    true
                }
                Err(_) => {
                    tally.timeouts += 1;
                    true
                }
            }
        };
        if reconnect {
            match connect(&target).await {
                Ok(s) => sender = s,
                Err(e) => {
                    shared.lock().await.error(e);
                    break;
                }
            }
        }
    }
}

/// Open loop: requests are due at a fixed rate whatever the answers do; a pool of connections
/// takes them in order, and latency counts from when each was due.
async fn rate(flags: &Flags) -> Result<String, Error> {
    let target = target(&flags.text("url", ""))?;
    let model = flags.text("model", "gpt-4o-mini");
    let rps: f64 = flags.get("rps", 500.0)?;
    let duration = Duration::from_secs_f64(flags.get("duration-s", 5.0)?);
    let connections: usize = flags.get("connections", 32)?;
    let per_request = Duration::from_secs_f64(flags.get("timeout-s", 10.0)?);
    let grace = Duration::from_secs_f64(flags.get("grace-s", 5.0)?);
    if rps <= 0.0 {
        return Err("--rps must be positive".to_owned());
    }
    let body = Bytes::from(request_body(&model, false));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = (rps * duration.as_secs_f64()).round() as u64;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let rx = Arc::new(Mutex::new(rx));

    let shared = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let mut sender = connect(&target).await?;
        // One untimed request per connection, so connection set-up is not in the numbers.
        exchange(&mut sender, post(&target, &body, &[])?, &model).await.map_err(|e| format!("warm-up: {e}"))?;
        tasks.push(tokio::spawn(rate_worker(
            sender,
            target.clone(),
            body.clone(),
            model.clone(),
            Arc::clone(&rx),
            Arc::clone(&shared),
            per_request,
        )));
    }

    // Paced on its own thread: std's sleep is precise to tens of microseconds, tokio's timer
    // only to a millisecond. Each request is stamped when it is released, so a late answer
    // (or a queue behind busy connections) counts, the pacer's own jitter does not.
    let start = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rps);
    let pacer = std::thread::spawn(move || {
        let origin = std::time::Instant::now();
        let mut released = 0u64;
        for i in 0..total {
            let due = origin + period.mul_f64(u64_to_f64(i));
            let now = std::time::Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if tx.send(Instant::now()).is_err() {
                break;
            }
            released += 1;
        }
        released
    });
    // A contender slower than the rate builds a queue: stop waiting `grace` after the last
    // release and count what is left as unfinished (the percentiles then are lower bounds).
    let all_done = async {
        for task in &mut tasks {
            let _ = task.await;
        }
    };
    let finished = timeout(duration + grace, all_done).await.is_ok();
    for task in &tasks {
        task.abort();
    }
    let elapsed = start.elapsed();
    let released = tokio::task::spawn_blocking(move || pacer.join())
        .await
        .map_err(|e| format!("pacer: {e}"))?
        .map_err(|_| "the pacer panicked".to_owned())?;
    let all = std::mem::take(&mut *shared.lock().await);
    let answered = all.latencies.len() as u64 + all.errors + all.timeouts;
    let unfinished = if finished { 0 } else { released.saturating_sub(answered) };
    Ok(all.json(
        elapsed,
        &format!(
            ",\"target_rps\":{rps},\"scheduled\":{total},\"released\":{released},\
             \"unfinished\":{unfinished},\"connections\":{connections}"
        ),
    ))
}

#[allow(clippy::cast_precision_loss)]
fn u64_to_f64(n: u64) -> f64 {
    n as f64
}

/// What one stream saw.
#[derive(Default)]
struct StreamResult {
    error: Option<String>,
    timed_out: bool,
    ttft: Option<u64>,
    arrivals: Vec<u64>,
    reads_with_several_chunks: u64,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

/// One SSE stream: sends the request, stamps each content chunk on arrival and checks order,
/// the usage chunk and `[DONE]`.
async fn one_stream(
    target: Target,
    body: Bytes,
    headers: Vec<(&'static str, String)>,
    chunks: u32,
    limit: Duration,
) -> StreamResult {
    let mut result = StreamResult::default();
    let mut sender = match connect(&target).await {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let request = match post(&target, &body, &headers) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let sent = Instant::now();
    let outcome = timeout(limit, async {
        let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("status {}", response.status()));
        }
        let mut body = response.into_body();
        let mut buffer = BytesMut::new();
        let (mut next, mut usage, mut done) = (0u32, false, false);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("body: {e}"))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let at = nanos(sent.elapsed());
            buffer.extend_from_slice(&data);
            let mut in_this_read = 0;
            while let Some(end) = find_event_end(&buffer) {
                let event = buffer.split_to(end.0 + end.1);
                let text = std::str::from_utf8(&event[..end.0]).map_err(|_| "not UTF-8")?;
                for line in text.lines() {
                    let Some(payload) = line.strip_prefix("data:").map(str::trim_start) else {
                        continue;
                    };
                    if payload == "[DONE]" {
                        done = true;
                        continue;
                    }
                    let chunk: Chunk = serde_json::from_str(payload).map_err(|e| format!("chunk is not JSON: {e}"))?;
                    if chunk.usage.as_ref().is_some_and(|u| !u.is_null()) {
                        usage = true;
                    }
                    let content = chunk
                        .choices
                        .first()
                        .and_then(|c| c.delta.as_ref())
                        .and_then(|d| d.content.as_deref())
                        .unwrap_or("");
                    if content.is_empty() {
                        continue;
                    }
                    let mut expected = String::new();
                    let _ = write!(expected, " tok{next}");
                    if content != expected {
                        return Err(format!("chunk {next}: got {content:?}"));
                    }
                    if next == 0 {
                        result.ttft = Some(at);
                    }
                    result.arrivals.push(at);
                    next += 1;
                    in_this_read += 1;
                }
            }
            if in_this_read > 1 {
                result.reads_with_several_chunks += 1;
            }
        }
        if next != chunks {
            return Err(format!("{next} content chunks, expected {chunks}"));
        }
        if !usage {
            return Err("no usage chunk".to_owned());
        }
        if !done {
            return Err("no [DONE]".to_owned());
        }
        Ok(())
    })
    .await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => result.error = Some(e),
        Err(_) => result.timed_out = true,
    }
    result
}

/// The end of the first SSE event in `buffer`: (length, separator length).
fn find_event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// S streams, each on its own connection, started evenly over the ramp.
async fn streams(flags: &Flags) -> Result<String, Error> {
    let target = target(&flags.text("url", ""))?;
    let count: u32 = flags.get("streams", 1000)?;
    let chunks: u32 = flags.get("chunks", 64)?;
    let interval_ms: u64 = flags.get("interval-ms", 50)?;
    let ramp = Duration::from_millis(flags.get("ramp-ms", 1000)?);
    let limit = Duration::from_secs_f64(flags.get("timeout-s", 60.0)?);
    // The mock reads its shape from the model name too, for gateways that drop headers.
    let model = flags.text("model", &format!("mock-c{chunks}-i{interval_ms}"));
    let body = Bytes::from(request_body(&model, true));
    let headers = vec![("x-mock-chunks", chunks.to_string()), ("x-mock-interval-ms", interval_ms.to_string())];
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count as usize);
    for i in 0..count {
        let at = start + ramp.mul_f64(f64::from(i) / f64::from(count.max(1)));
        let (target, body, headers) = (target.clone(), body.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            one_stream(target, body, headers, chunks, limit).await
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|e| format!("task: {e}"))?);
    }
    let elapsed = start.elapsed();

    let interval = interval_ms * 1_000_000;
    let (mut ok, mut errors, mut timeouts, mut several) = (0u64, 0u64, 0u64, 0u64);
    let (mut stalled, mut merged) = (0u64, 0u64);
    let mut samples: Vec<String> = Vec::new();
    let (mut ttfts, mut gaps, mut lateness) = (Vec::new(), Vec::new(), Vec::new());
    for r in results {
        if let Some(e) = r.error {
            errors += 1;
            if samples.len() < 5 {
                samples.push(e);
            }
        } else if r.timed_out {
            timeouts += 1;
        } else {
            ok += 1;
        }
        ttfts.extend(r.ttft);
        several += r.reads_with_several_chunks;
        let first = r.arrivals.first().copied().unwrap_or(0);
        for (k, pair) in r.arrivals.windows(2).enumerate() {
            let gap = pair[1].saturating_sub(pair[0]);
            gaps.push(gap);
            if interval > 0 {
                if gap > 2 * interval {
                    stalled += 1;
                }
                if gap < interval / 4 {
                    merged += 1;
                }
                let due = first + (k as u64 + 1) * interval;
                lateness.push(pair[1].saturating_sub(due));
            }
        }
    }
    ttfts.sort_unstable();
    gaps.sort_unstable();
    lateness.sort_unstable();
    let us = |v: &[u64], p: f64| nanos_to_us(percentile(v, p));
    Ok(format!(
        "{{\"streams\":{count},\"chunks\":{chunks},\"interval_ms\":{interval_ms},\"ok\":{ok},\
         \"errors\":{errors},\"timeouts\":{timeouts},\"ttft_p50_us\":{:.1},\"ttft_p99_us\":{:.1},\
         \"ttft_max_us\":{:.1},\"gap_p1_us\":{:.1},\"gap_p50_us\":{:.1},\"gap_p99_us\":{:.1},\
         \"gap_max_us\":{:.1},\"late_p99_us\":{:.1},\"late_max_us\":{:.1},\"stalled\":{stalled},\
         \"merged\":{merged},\"reads_with_several_chunks\":{several},\"elapsed_s\":{:.3},\
         \"error_samples\":{}}}",
        us(&ttfts, 0.5),
        us(&ttfts, 0.99),
        us(&ttfts, 1.0),
        us(&gaps, 0.01),
        us(&gaps, 0.5),
        us(&gaps, 0.99),
        us(&gaps, 1.0),
        us(&lateness, 0.99),
        us(&lateness, 1.0),
        elapsed.as_secs_f64(),
        serde_json::to_string(&samples).unwrap_or_default()
    ))
}

/// One `GET` on a fresh connection; true on a 200.
async fn probe(target: &Target) -> bool {
    let Ok(mut tcp) = TcpStream::connect(target.addr).await else {
        return false;
    };
    let request = format!("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", target.path, target.authority);
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match tcp.read(&mut head[got..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200")
}

/// Kills the child's whole process group (the child leads it), then reaps the child.
///
/// With the `kill` system call, not the `kill` program: procps-ng 4.0.2's `kill -KILL -12345`
/// parses `-12345` as `-1` and signals every process on the machine.
async fn kill_group(child: &mut tokio::process::Child) {
    let leader =
        child.id().and_then(|id| i32::try_from(id).ok()).filter(|&id| id > 1).and_then(rustix::process::Pid::from_raw);
    if let Some(pgid) = leader {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    let _ = child.kill().await;
    let _ = child.wait().await;
}

/// Exec to first 200, `runs` times.
async fn startup(flags: &Flags) -> Result<String, Error> {
    let target = target(&flags.text("url", ""))?;
    let runs: u32 = flags.get("runs", 20)?;
    let limit = Duration::from_secs_f64(flags.get("timeout-s", 60.0)?);
    // Leading NAME=value words set the environment, as with env(1), without another exec.
    let assignments = flags.command.iter().take_while(|word| word.split_once('=').is_some_and(|(k, _)| !k.is_empty()));
    let vars: Vec<(&str, &str)> = assignments.filter_map(|word| word.split_once('=')).collect();
    let (program, args) =
        flags.command[vars.len()..].split_first().ok_or_else(|| format!("startup needs `-- COMMAND`\n{USAGE}"))?;
    if probe(&target).await {
        return Err(format!("{} already answers before the start", target.authority));
    }
    let mut times = Vec::new();
    let mut failures = 0u32;
    for _ in 0..runs {
        let start = Instant::now();
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let mut ready = false;
        while start.elapsed() < limit {
            if probe(&target).await {
                ready = true;
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let took = start.elapsed();
        kill_group(&mut child).await;
        if ready {
            times.push(nanos(took));
        } else {
            failures += 1;
        }
        // Let the port go before the next run.
        let wait = Instant::now();
        while probe(&target).await && wait.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    times.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let ms = |p: f64| percentile(&times, p) as f64 / 1e6;
    Ok(format!(
        "{{\"runs\":{runs},\"ok\":{},\"failures\":{failures},\"median_ms\":{:.3},\"min_ms\":{:.3},\
         \"max_ms\":{:.3}}}",
        times.len(),
        ms(0.5),
        ms(0.0),
        ms(1.0)
    ))
}
