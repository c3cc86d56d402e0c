//! `streams` (T6): S concurrent SSE streams, each on its own connection, started evenly over
//! a ramp; the summary of their first-chunk times, gaps between chunks and lateness.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use mock_upstream::{percentile, request_body};

use crate::Error;
use crate::flags::{Flags, Target, target};
use crate::stats::nanos_to_us;
use crate::stream::{StreamResult, one_stream};

/// Error messages kept as examples.
const SAMPLES: usize = 5;

/// The run's settings, from the flags.
struct Settings {
    target: Target,
    count: u32,
    chunks: u32,
    interval_ms: u64,
    ramp: Duration,
    limit: Duration,
    model: String,
}

impl Settings {
    fn parse(flags: &Flags) -> Result<Self, Error> {
        let target = target(&flags.text("url", ""))?;
        let count = flags.get("streams", 1000)?;
        let chunks = flags.get("chunks", 64)?;
        let interval_ms = flags.get("interval-ms", 50)?;
        let ramp = Duration::from_millis(flags.get("ramp-ms", 1000)?);
        let limit = Duration::from_secs_f64(flags.get("timeout-s", 60.0)?);
        // The mock reads its shape from the model name too, for gateways that drop headers.
        let model = flags.text("model", &format!("mock-c{chunks}-i{interval_ms}"));
        Ok(Self { target, count, chunks, interval_ms, ramp, limit, model })
    }
}

/// S streams, each on its own connection, started evenly over the ramp.
pub async fn streams(flags: &Flags) -> Result<String, Error> {
    let settings = Settings::parse(flags)?;
    let (results, elapsed) = run_all(&settings).await?;
    let mut summary = Summary::default();
    for r in results {
        summary.add(r, settings.interval_ms * 1_000_000);
    }
    Ok(summary.json(&settings, elapsed))
}

/// Starts every stream at its point of the ramp and waits for all of them; returns what each
/// saw and the time from the first start.
async fn run_all(settings: &Settings) -> Result<(Vec<StreamResult>, Duration), Error> {
    let (count, chunks, limit) = (settings.count, settings.chunks, settings.limit);
    let body = Bytes::from(request_body(&settings.model, true));
    let headers = vec![("x-mock-chunks", chunks.to_string()), ("x-mock-interval-ms", settings.interval_ms.to_string())];
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count as usize);
    for i in 0..count {
        let at = start + settings.ramp.mul_f64(f64::from(i) / f64::from(count.max(1)));
        let (target, body, headers) = (settings.target.clone(), body.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            one_stream(target, body, headers, chunks, limit).await
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|e| format!("task: {e}"))?);
    }
    Ok((results, start.elapsed()))
}

/// What the streams saw together; times in nanoseconds.
#[derive(Default)]
struct Summary {
    ok: u64,
    errors: u64,
    timeouts: u64,
    several: u64,
    stalled: u64,
    merged: u64,
    samples: Vec<String>,
    ttfts: Vec<u64>,
    gaps: Vec<u64>,
    lateness: Vec<u64>,
}

impl Summary {
    /// Adds one stream. With a pace (`interval` ns), a gap over two intervals is a stall, one
    /// under a quarter a merge, and each chunk's lateness counts from its slot after the first.
    fn add(&mut self, r: StreamResult, interval: u64) {
        if let Some(e) = r.error {
            self.errors += 1;
            if self.samples.len() < SAMPLES {
                self.samples.push(e);
            }
        } else if r.timed_out {
            self.timeouts += 1;
        } else {
            self.ok += 1;
        }
        self.ttfts.extend(r.ttft);
        self.several += r.reads_with_several_chunks;
        let first = r.arrivals.first().copied().unwrap_or(0);
        for (k, pair) in r.arrivals.windows(2).enumerate() {
            let gap = pair[1].saturating_sub(pair[0]);
            self.gaps.push(gap);
            if interval > 0 {
                if gap > 2 * interval {
                    self.stalled += 1;
                }
                if gap < interval / 4 {
                    self.merged += 1;
                }
                let due = first + (k as u64 + 1) * interval;
                self.lateness.push(pair[1].saturating_sub(due));
            }
        }
    }

    fn json(mut self, settings: &Settings, elapsed: Duration) -> String {
        self.ttfts.sort_unstable();
        self.gaps.sort_unstable();
        self.lateness.sort_unstable();
        let us = |v: &[u64], p: f64| nanos_to_us(percentile(v, p));
        let (count, chunks, interval_ms) = (settings.count, settings.chunks, settings.interval_ms);
        let Self { ok, errors, timeouts, several, stalled, merged, .. } = self;
        let (ttfts, gaps, lateness) = (&self.ttfts, &self.gaps, &self.lateness);
        format!(
            "{{\"streams\":{count},\"chunks\":{chunks},\"interval_ms\":{interval_ms},\"ok\":{ok},\
             \"errors\":{errors},\"timeouts\":{timeouts},\"ttft_p50_us\":{:.1},\"ttft_p99_us\":{:.1},\
             \"ttft_max_us\":{:.1},\"gap_p1_us\":{:.1},\"gap_p50_us\":{:.1},\"gap_p99_us\":{:.1},\
             \"gap_max_us\":{:.1},\"late_p99_us\":{:.1},\"late_max_us\":{:.1},\"stalled\":{stalled},\
             \"merged\":{merged},\"reads_with_several_chunks\":{several},\"elapsed_s\":{:.3},\
             \"error_samples\":{}}}",
            us(ttfts, 0.5),
            us(ttfts, 0.99),
            us(ttfts, 1.0),
            us(gaps, 0.01),
            us(gaps, 0.5),
            us(gaps, 0.99),
            us(gaps, 1.0),
            us(lateness, 0.99),
            us(lateness, 1.0),
            elapsed.as_secs_f64(),
            serde_json::to_string(&self.samples).unwrap_or_default()
        )
    }
}
