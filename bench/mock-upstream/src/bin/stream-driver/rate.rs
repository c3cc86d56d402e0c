//! `rate`: the open loop (T2). Requests are due at a fixed rate whatever the answers do; a pool
//! of connections takes them in order, and latency counts from when each was due.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use mock_upstream::request_body;

use crate::Error;
use crate::client::{Sender, connect, exchange, post};
use crate::flags::{Flags, Target, target};
use crate::stats::{Tally, nanos, u64_to_f64};

/// The run's settings, from the flags.
struct Settings {
    target: Target,
    model: String,
    rps: f64,
    duration: Duration,
    connections: usize,
    per_request: Duration,
    grace: Duration,
}

impl Settings {
    fn parse(flags: &Flags) -> Result<Self, Error> {
        let settings = Self {
            target: target(&flags.text("url", ""))?,
            model: flags.text("model", "gpt-4o-mini"),
            rps: flags.get("rps", 500.0)?,
            duration: Duration::from_secs_f64(flags.get("duration-s", 5.0)?),
            connections: flags.get("connections", 32)?,
            per_request: Duration::from_secs_f64(flags.get("timeout-s", 10.0)?),
            grace: Duration::from_secs_f64(flags.get("grace-s", 5.0)?),
        };
        if settings.rps <= 0.0 {
            return Err("--rps must be positive".to_owned());
        }
        Ok(settings)
    }
}

/// What every connection's worker shares: the request, the queue of released requests (each
/// stamped with its release time) and the tally.
#[derive(Clone)]
struct Worker {
    target: Target,
    body: Bytes,
    model: String,
    queue: Arc<Mutex<UnboundedReceiver<Instant>>>,
    shared: Arc<Mutex<Tally>>,
    per_request: Duration,
}

pub async fn rate(flags: &Flags) -> Result<String, Error> {
    let settings = Settings::parse(flags)?;
    let (rps, connections) = (settings.rps, settings.connections);
    let body = Bytes::from(request_body(&settings.model, false));
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rounded, non-negative count far below 2^52"
    )]
    let total = (rps * settings.duration.as_secs_f64()).round() as u64;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let shared = Arc::new(Mutex::new(Tally::default()));
    let worker = Worker {
        target: settings.target.clone(),
        body,
        model: settings.model.clone(),
        queue: Arc::new(Mutex::new(rx)),
        shared: Arc::clone(&shared),
        per_request: settings.per_request,
    };
    let mut tasks = start_workers(&worker, connections).await?;

    let start = Instant::now();
    let pacer = pace(tx, total, Duration::from_secs_f64(1.0 / rps));
    // A contender slower than the rate builds a queue: stop waiting `grace` after the last
    // release and count what is left as unfinished (the percentiles then are lower bounds).
    let finished = wait_for(&mut tasks, settings.duration + settings.grace).await;
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

/// Opens the pool, one untimed request per connection so connection set-up is not in the
/// numbers, and starts a worker on each.
async fn start_workers(worker: &Worker, connections: usize) -> Result<Vec<JoinHandle<()>>, Error> {
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let mut sender = connect(&worker.target).await?;
        exchange(&mut sender, post(&worker.target, &worker.body, &[])?, &worker.model)
            .await
            .map_err(|e| format!("warm-up: {e}"))?;
        tasks.push(tokio::spawn(rate_worker(sender, worker.clone())));
    }
    Ok(tasks)
}

/// Releases `total` requests `period` apart, on its own thread: std's sleep is precise to tens
/// of microseconds, tokio's timer only to a millisecond. Each request is stamped when it is
/// released, so a late answer (or a queue behind busy connections) counts, the pacer's own
/// jitter does not. The thread returns how many it released.
fn pace(tx: UnboundedSender<Instant>, total: u64, period: Duration) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
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
    })
}

/// Waits up to `limit` for every worker to finish, then stops them all; true if they finished.
async fn wait_for(tasks: &mut [JoinHandle<()>], limit: Duration) -> bool {
    let all_done = async {
        for task in tasks.iter_mut() {
            let _ = task.await;
        }
    };
    let finished = timeout(limit, all_done).await.is_ok();
    for task in tasks.iter() {
        task.abort();
    }
    finished
}

/// One connection of the open loop: takes the next released request, records its latency.
async fn rate_worker(mut sender: Sender, worker: Worker) {
    loop {
        let due = { worker.queue.lock().await.recv().await };
        let Some(due) = due else { break };
        let outcome = match post(&worker.target, &worker.body, &[]) {
            Ok(request) => timeout(worker.per_request, exchange(&mut sender, request, &worker.model)).await,
            Err(e) => Ok(Err(e)),
        };
        let reconnect = record(&mut *worker.shared.lock().await, outcome, due);
        if reconnect {
            match connect(&worker.target).await {
                Ok(s) => sender = s,
                Err(e) => {
                    worker.shared.lock().await.error(e);
                    break;
                }
            }
        }
    }
}

/// Counts one answer (latency from when it was due); true if the connection needs replacing.
fn record(tally: &mut Tally, outcome: Result<Result<(), String>, tokio::time::error::Elapsed>, due: Instant) -> bool {
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
}
