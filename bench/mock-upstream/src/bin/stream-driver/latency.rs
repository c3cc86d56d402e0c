//! `latency`: the closed loop over C keep-alive connections (T1 uses C = 1), after a warm-up
//! on each connection that is not counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, timeout};

use mock_upstream::request_body;

use crate::Error;
use crate::client::{Sender, connect, exchange, post};
use crate::flags::{Flags, Target, target};
use crate::stats::{Tally, nanos};

/// The run's settings, from the flags.
struct Settings {
    target: Target,
    model: String,
    connections: usize,
    requests: u64,
    duration: Duration,
    warmup: u64,
    warmup_limit: Duration,
    per_request: Duration,
}

impl Settings {
    fn parse(flags: &Flags) -> Result<Self, Error> {
        Ok(Self {
            target: target(&flags.text("url", ""))?,
            model: flags.text("model", "gpt-4o-mini"),
            connections: flags.get("connections", 1)?,
            requests: flags.get("requests", 1_000_000)?,
            duration: Duration::from_secs_f64(flags.get("duration-s", 5.0)?),
            warmup: flags.get("warmup", 100)?,
            warmup_limit: Duration::from_secs_f64(flags.get("warmup-s", 1.0)?),
            per_request: Duration::from_secs_f64(flags.get("timeout-s", 10.0)?),
        })
    }
}

/// What every connection's loop shares: where to send, what, and when to stop.
#[derive(Clone)]
struct Job {
    target: Target,
    body: Bytes,
    model: String,
    remaining: Arc<AtomicU64>,
    deadline: Instant,
    per_request: Duration,
}

impl Job {
    /// True while there is time left and a request to send (which it takes).
    fn take_one(&self) -> bool {
        Instant::now() < self.deadline
            && self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
}

/// Closed loop: each connection sends its next request when the previous answer is in.
pub async fn latency(flags: &Flags) -> Result<String, Error> {
    let settings = Settings::parse(flags)?;
    let connections = settings.connections;
    let body = Bytes::from(request_body(&settings.model, false));
    let remaining = Arc::new(AtomicU64::new(settings.requests));
    let (senders, warmed) = warm_up(&settings, &body).await?;

    let start = Instant::now();
    let job = Job {
        target: settings.target,
        body,
        model: settings.model,
        remaining,
        deadline: start + settings.duration,
        per_request: settings.per_request,
    };
    let tasks: Vec<_> = senders.into_iter().map(|sender| tokio::spawn(closed_loop(sender, job.clone()))).collect();
    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await.map_err(|e| format!("task: {e}"))?);
    }
    Ok(total.json(start.elapsed(), &format!(",\"connections\":{connections},\"warmup_done\":{warmed}")))
}

/// Opens the connections and warms each up (not counted): first-request costs, caches, the
/// gateway's pool. Returns them and how many warm-up requests were answered.
async fn warm_up(settings: &Settings, body: &Bytes) -> Result<(Vec<Sender>, u64), Error> {
    let target = &settings.target;
    let mut senders = Vec::with_capacity(settings.connections);
    let mut warmed = 0u64;
    for _ in 0..settings.connections.max(1) {
        let mut sender = connect(target).await?;
        let began = Instant::now();
        for _ in 0..settings.warmup {
            if began.elapsed() > settings.warmup_limit {
                break;
            }
            let request = post(target, body, &[])?;
            timeout(settings.per_request, exchange(&mut sender, request, &settings.model))
                .await
                .map_err(|_| "warm-up request timed out".to_owned())?
                .map_err(|e| format!("warm-up: {e}"))?;
            warmed += 1;
        }
        senders.push(sender);
    }
    Ok((senders, warmed))
}

/// One connection's loop: a request, its answer, the next; reconnects after an error, stops
/// at a timeout.
async fn closed_loop(mut sender: Sender, job: Job) -> Tally {
    let mut tally = Tally::default();
    while job.take_one() {
        let request = match post(&job.target, &job.body, &[]) {
            Ok(r) => r,
            Err(e) => {
                tally.error(e);
                break;
            }
        };
        let sent = Instant::now();
        match timeout(job.per_request, exchange(&mut sender, request, &job.model)).await {
            Ok(Ok(())) => tally.latencies.push(nanos(sent.elapsed())),
            Ok(Err(e)) => {
                tally.error(e);
                // The connection may be gone: open a new one.
                match connect(&job.target).await {
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
}
