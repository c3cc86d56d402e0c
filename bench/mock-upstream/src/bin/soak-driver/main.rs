//! The soak's load client: a fixed arrival rate (open loop) of chat completions, a planned share
//! streamed, a planned share allowed one retry (`x-litellm-num-retries`), and a planned share
//! asking the mock for a fault (`-f<fault>` model tokens, so it works through any gateway). Each
//! request's plan is a function of the seed and its number, so the client knows what every answer
//! should be: an answer other than the planned fault's expected outcome is unexplained. Prints
//! one JSON summary on stdout, a progress line on stderr every `--progress-s`.
#![forbid(unsafe_code)]

mod check;
mod tally;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use mock_upstream::faults::{Fault, Mix, PER_MILLION, splitmix64};
use mock_upstream::request_body;

use crate::check::Outcome;
use crate::tally::{Answer, Tally};

const USAGE: &str = "Usage: soak-driver --url URL [--rps R] [--duration-s S] [--faults MIX] [--seed N]
       [--stream-share F] [--retry-share F] [--chunks N] [--interval-ms P] [--timeout-s T]
       [--grace-s G] [--progress-s P] [--max-idle N]
  MIX: 500=R,429=R,reset=R,stall=R,json=R (fractions of all requests)";
/// The default fault plan: 4.5% of requests fail, in every way the mock knows.
const DEFAULT_FAULTS: &str = "500=0.01,429=0.01,reset=0.01,stall=0.005,json=0.01";
/// Salts that make the stream and retry draws independent of the fault draw.
const STREAM_SALT: u64 = 0x5354_5245_414d;
const RETRY_SALT: u64 = 0x0052_4554_5259;
/// Retries a retrying request asks for.
const RETRIES: u32 = 1;
/// Largest answer read (a stream of a few chunks is a few KiB).
const MAX_ANSWER: usize = 1 << 20;

type Error = String;

/// The run's parameters.
struct Plan {
    url: Target,
    rps: f64,
    duration: Duration,
    mix: Mix,
    seed: u64,
    stream_ppm: u64,
    retry_ppm: u64,
    chunks: u32,
    interval_ms: u64,
    timeout: Duration,
    grace: Duration,
    progress: Duration,
    max_idle: usize,
}

/// What one request asks for.
#[derive(Clone, Copy)]
pub struct Planned {
    pub fault: Option<Fault>,
    pub stream: bool,
    pub retries: u32,
}

impl Plan {
    fn request(&self, n: u64) -> Planned {
        let draw = |salt: u64| splitmix64(self.seed ^ salt ^ splitmix64(n)) % PER_MILLION;
        Planned {
            fault: self.mix.pick(self.seed, n),
            stream: draw(STREAM_SALT) < self.stream_ppm,
            retries: if draw(RETRY_SALT) < self.retry_ppm { RETRIES } else { 0 },
        }
    }

    /// The model name that asks the mock for the request's shape and fault.
    fn model(&self, p: Planned) -> String {
        let mut model = "mock-soak".to_owned();
        if p.stream {
            let _ = write!(model, "-c{}-i{}", self.chunks, self.interval_ms);
        }
        if let Some(fault) = p.fault {
            let _ = write!(model, "-f{fault}");
        }
        model
    }
}

#[derive(Clone)]
struct Target {
    addr: std::net::SocketAddr,
    authority: String,
    path: String,
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, Error> {
    value.parse().map_err(|_| format!("invalid --{name}: {value:?}"))
}

fn parse_args(args: &[String]) -> Result<Plan, Error> {
    let mut values = std::collections::HashMap::new();
    for pair in args.chunks(2) {
        let name = pair[0].strip_prefix("--").ok_or_else(|| format!("unexpected {:?}\n{USAGE}", pair[0]))?;
        let value = pair.get(1).ok_or_else(|| format!("--{name} needs a value"))?;
        values.insert(name.to_owned(), value.clone());
    }
    let text = |name: &str, default: &str| values.get(name).cloned().unwrap_or_else(|| default.to_owned());
    let share = |name: &str, default: &str| -> Result<u64, Error> {
        let f: f64 = number(name, &text(name, default))?;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rounded, non-negative count far below 2^52"
        )]
        let ppm = (f.clamp(0.0, 1.0) * PER_MILLION as f64).round() as u64;
        Ok(ppm)
    };
    let url = text("url", "");
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("--url: only http:// URLs\n{USAGE}"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let secs = |name: &str, default: &str| -> Result<Duration, Error> {
        Ok(Duration::from_secs_f64(number::<f64>(name, &text(name, default))?.max(0.0)))
    };
    Ok(Plan {
        url: Target {
            addr: authority.parse().map_err(|_| format!("--url needs an IP:port: {url}"))?,
            authority: authority.to_owned(),
            path: path.to_owned(),
        },
        rps: number::<f64>("rps", &text("rps", "150"))?.max(0.001),
        duration: secs("duration-s", "60")?,
        mix: Mix::parse(&text("faults", DEFAULT_FAULTS))?,
        seed: number("seed", &text("seed", "1"))?,
        stream_ppm: share("stream-share", "0.3")?,
        retry_ppm: share("retry-share", "0.2")?,
        chunks: number("chunks", &text("chunks", "16"))?,
        interval_ms: number("interval-ms", &text("interval-ms", "5"))?,
        timeout: secs("timeout-s", "30")?,
        grace: secs("grace-s", "40")?,
        progress: secs("progress-s", "60")?,
        max_idle: number("max-idle", &text("max-idle", "256"))?,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse_args(&args).and_then(|plan| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))
            .and_then(|rt| rt.block_on(soak(plan)))
    });
    match result {
        Ok(json) => {
            say(&json);
            ExitCode::SUCCESS
        }
        Err(message) => {
            complain(&format!("soak-driver: {message}"));
            ExitCode::from(2)
        }
    }
}

#[expect(clippy::print_stdout, reason = "the driver prints its JSON result on stdout")]
fn say(text: &str) {
    println!("{text}");
}

#[expect(clippy::print_stderr, reason = "a command-line tool reports on stderr")]
fn complain(text: &str) {
    eprintln!("{text}");
}

/// Shared by every request task.
struct Ctx {
    plan: Plan,
    tally: std::sync::Mutex<Tally>,
    idle: std::sync::Mutex<Vec<SendRequest<Full<Bytes>>>>,
    in_flight: AtomicU64,
}

impl Ctx {
    fn record(&self, answer: &Answer) {
        if let Ok(mut tally) = self.tally.lock() {
            tally.record(answer);
        }
    }

    /// An idle keep-alive connection, else a new one.
    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, Error> {
        loop {
            let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match reused {
                Some(sender) if sender.is_closed() => {}
                Some(sender) => return Ok(sender),
                None => break,
            }
        }
        self.fresh().await
    }

    async fn fresh(&self) -> Result<SendRequest<Full<Bytes>>, Error> {
        let tcp = TcpStream::connect(self.plan.url.addr).await.map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    fn give_back(&self, sender: SendRequest<Full<Bytes>>) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.plan.max_idle {
                idle.push(sender);
            }
        }
    }
}

/// Sends one request and reads the whole answer: (status, relayed `retry-after`, the gateway's
/// attempted retries, body).
async fn exchange(ctx: &Ctx, model: &str, p: Planned) -> Result<(u16, bool, u64, Bytes), Error> {
    let mut sender = ctx.connection().await?;
    if sender.ready().await.is_err() {
        // An idle connection closed before this request was written: not an answer, take a
        // new one.
        sender = ctx.fresh().await?;
        sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    }
    let body = Bytes::from(request_body(model, p.stream));
    let target = &ctx.plan.url;
    let request = Request::post(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer bench")
        .header("x-litellm-num-retries", p.retries)
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers();
    let retry_after = headers.contains_key("llm_provider-retry-after");
    let retried =
        headers.get("x-litellm-attempted-retries").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(0);
    let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
    let bytes = limited.collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
    ctx.give_back(sender);
    Ok((status, retry_after, retried, bytes))
}

async fn one(ctx: Arc<Ctx>, n: u64, due: Instant) {
    let p = ctx.plan.request(n);
    let model = ctx.plan.model(p);
    let (outcome, retry_after, retried) = match timeout(ctx.plan.timeout, exchange(&ctx, &model, p)).await {
        Err(_) => (Outcome::Broken(format!("no answer in {:?}", ctx.plan.timeout)), false, 0),
        Ok(Err(e)) => (Outcome::Broken(e), false, 0),
        Ok(Ok((status, retry_after, retried, body))) => {
            let outcome = if p.stream && status == 200 {
                check::stream(&body, ctx.plan.chunks)
            } else {
                check::completion(status, &body, &model)
            };
            (outcome, retry_after, retried)
        }
    };
    let took = due.elapsed();
    ctx.record(&Answer { n, planned: p, outcome, retry_after, retried, took });
    ctx.in_flight.fetch_sub(1, Ordering::Relaxed);
}

async fn soak(plan: Plan) -> Result<String, Error> {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rounded, non-negative count far below 2^52"
    )]
    let total = (plan.rps * plan.duration.as_secs_f64()).round() as u64;
    let period = Duration::from_secs_f64(1.0 / plan.rps);
    let progress = plan.progress;
    let ctx = Arc::new(Ctx {
        tally: std::sync::Mutex::new(Tally::new(&plan)),
        plan,
        idle: std::sync::Mutex::new(Vec::new()),
        in_flight: AtomicU64::new(0),
    });
    let origin = Instant::now();
    let mut next_report = origin + progress;
    let mut max_lag = Duration::ZERO;
    for n in 0..total {
        let due = origin + period.mul_f64(tally::u64_to_f64(n));
        tokio::time::sleep_until(due).await;
        max_lag = max_lag.max(due.elapsed());
        ctx.in_flight.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut tally) = ctx.tally.lock() {
            tally.sent(n, origin.elapsed());
        }
        tokio::spawn(one(Arc::clone(&ctx), n, due));
        if !progress.is_zero() && Instant::now() >= next_report {
            next_report += progress;
            if let Ok(tally) = ctx.tally.lock() {
                complain(&tally.progress(origin.elapsed(), ctx.in_flight.load(Ordering::Relaxed)));
            }
        }
    }
    let released = origin.elapsed();
    let wait_until = Instant::now() + ctx.plan.grace;
    while ctx.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unfinished = ctx.in_flight.load(Ordering::Relaxed);
    let elapsed = origin.elapsed();
    let tally = ctx.tally.lock().map_err(|_| "the tally's lock is poisoned".to_owned())?;
    Ok(tally.json(&ctx.plan, total, released, elapsed, unfinished, max_lag))
}
