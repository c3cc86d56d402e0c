//! The soak's counts: what was sent, what came back against what was expected, per fault,
//! per minute; and the summary JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use mock_upstream::faults::Fault;
use mock_upstream::percentile;

use crate::check::{self, Outcome};
use crate::{Plan, Planned};

/// Unexplained answers kept as examples.
const SAMPLES: usize = 20;
const SECONDS_PER_MINUTE: f64 = 60.0;

/// One request's answer.
pub struct Answer {
    pub n: u64,
    pub planned: Planned,
    pub outcome: Outcome,
    /// The gateway relayed the provider's `retry-after` (as `llm_provider-retry-after`).
    pub retry_after: bool,
    /// The gateway's `x-litellm-attempted-retries`.
    pub retried: u64,
    /// From when the request was due to the end of its answer.
    pub took: Duration,
}

/// Requests of one kind (fault, streamed or not, retries): expected outcome and what came.
#[derive(Default)]
struct Cell {
    expected: String,
    count: u64,
    matched: u64,
    got: BTreeMap<String, u64>,
}

#[derive(Default, Clone, Copy)]
struct Minute {
    sent: u64,
    ok: u64,
    failed: u64,
    unexplained: u64,
}

pub struct Tally {
    per_minute: u64,
    sent: u64,
    answered: u64,
    outcomes: BTreeMap<String, u64>,
    cells: BTreeMap<String, Cell>,
    planned: [u64; Fault::ALL.len()],
    injections: [u64; Fault::ALL.len()],
    upstream_calls: u64,
    expected_retries: u64,
    attempted_retries: u64,
    relayed_429: u64,
    retry_after_relayed: u64,
    unexplained: u64,
    samples: Vec<String>,
    minutes: Vec<Minute>,
    ok_plain: Vec<u64>,
    ok_stream: Vec<u64>,
}

#[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
pub fn u64_to_f64(n: u64) -> f64 {
    n as f64
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Tally {
    pub fn new(plan: &Plan) -> Self {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rounded, non-negative count far below 2^52"
        )]
        let per_minute = (plan.rps * SECONDS_PER_MINUTE).round().max(1.0) as u64;
        Tally {
            per_minute,
            sent: 0,
            answered: 0,
            outcomes: BTreeMap::new(),
            cells: BTreeMap::new(),
            planned: [0; Fault::ALL.len()],
            injections: [0; Fault::ALL.len()],
            upstream_calls: 0,
            expected_retries: 0,
            attempted_retries: 0,
            relayed_429: 0,
            retry_after_relayed: 0,
            unexplained: 0,
            samples: Vec::new(),
            minutes: Vec::new(),
            ok_plain: Vec::new(),
            ok_stream: Vec::new(),
        }
    }

    fn minute(&mut self, n: u64) -> &mut Minute {
        let i = usize::try_from(n / self.per_minute).unwrap_or(usize::MAX);
        if self.minutes.len() <= i {
            self.minutes.resize(i + 1, Minute::default());
        }
        &mut self.minutes[i]
    }

    pub fn sent(&mut self, n: u64, _at: Duration) {
        self.sent += 1;
        self.minute(n).sent += 1;
    }

    pub fn record(&mut self, a: &Answer) {
        let p = a.planned;
        let expected = check::expected(p.fault, p.stream);
        let attempts = check::attempts(p.fault, p.stream, p.retries);
        self.answered += 1;
        self.upstream_calls += u64::from(attempts);
        self.expected_retries += u64::from(attempts - 1);
        self.attempted_retries += a.retried;
        if let Some(fault) = p.fault {
            self.planned[fault.index()] += 1;
            self.injections[fault.index()] += u64::from(attempts);
        }
        if a.outcome == Outcome::Status(429) {
            self.relayed_429 += 1;
            self.retry_after_relayed += u64::from(a.retry_after);
        }
        let matched = a.outcome == expected;
        let got = a.outcome.to_string();
        *self.outcomes.entry(got.clone()).or_default() += 1;
        let key = format!(
            "{} {} retries={}",
            p.fault.map_or("none", Fault::name),
            if p.stream { "stream" } else { "plain" },
            p.retries
        );
        let cell = self.cells.entry(key).or_default();
        cell.expected = expected.to_string();
        cell.count += 1;
        cell.matched += u64::from(matched);
        *cell.got.entry(got).or_default() += 1;
        let minute = self.minute(a.n);
        if a.outcome == Outcome::Ok {
            minute.ok += 1;
        } else {
            minute.failed += 1;
        }
        if !matched {
            minute.unexplained += 1;
            self.unexplained += 1;
            if self.samples.len() < SAMPLES {
                let detail = match &a.outcome {
                    Outcome::Broken(why) => why.clone(),
                    other => other.to_string(),
                };
                self.samples.push(format!(
                    "request {} (fault {}, stream {}, retries {}): expected {expected}, got {detail}",
                    a.n,
                    p.fault.map_or("none", Fault::name),
                    p.stream,
                    p.retries
                ));
            }
        }
        if a.outcome == Outcome::Ok {
            if p.stream { &mut self.ok_stream } else { &mut self.ok_plain }.push(nanos(a.took));
        }
    }

    pub fn progress(&self, elapsed: Duration, in_flight: u64) -> String {
        let ok = self.outcomes.get("200 ok").copied().unwrap_or(0);
        format!(
            "[soak {:>5.0} s] sent {}, answered {}, ok {ok}, not ok {}, unexplained {}, in flight {in_flight}",
            elapsed.as_secs_f64(),
            self.sent,
            self.answered,
            self.answered - ok,
            self.unexplained
        )
    }

    pub fn json(
        &self,
        plan: &Plan,
        scheduled: u64,
        released: Duration,
        elapsed: Duration,
        unfinished: u64,
        max_lag: Duration,
    ) -> String {
        let summary = json!({
            "target_rps": plan.rps,
            "duration_s": plan.duration.as_secs_f64(),
            "faults": plan.mix.to_string(),
            "seed": plan.seed,
            "stream_share": u64_to_f64(plan.stream_ppm) / 1e6,
            "retry_share": u64_to_f64(plan.retry_ppm) / 1e6,
            "stream_chunks": plan.chunks,
            "stream_interval_ms": plan.interval_ms,
            "scheduled": scheduled,
            "sent": self.sent,
            "answered": self.answered,
            "unfinished": unfinished,
            "released_s": released.as_secs_f64(),
            "elapsed_s": elapsed.as_secs_f64(),
            "achieved_rps": u64_to_f64(self.sent) / released.as_secs_f64().max(1e-9),
            "pacer_max_lag_ms": max_lag.as_secs_f64() * 1e3,
            "ok": self.outcomes.get("200 ok").copied().unwrap_or(0),
            "outcomes": self.outcomes,
            "planned_faults": by_fault(&self.planned),
            "expected_injections": by_fault(&self.injections),
            "expected_upstream_calls": self.upstream_calls,
            "expected_retries": self.expected_retries,
            "attempted_retries_reported": self.attempted_retries,
            "relayed_429": self.relayed_429,
            "relayed_429_with_retry_after": self.retry_after_relayed,
            "unexplained": self.unexplained + unfinished,
            "unexplained_samples": self.samples,
            "by_kind": self.by_kind(),
            "per_minute": self.per_minute(),
            "ok_plain_ms": latency_ms(&self.ok_plain),
            "ok_stream_ms": latency_ms(&self.ok_stream),
        });
        summary.to_string()
    }

    /// Per kind of request: the expected outcome, how many, how many matched, what came.
    fn by_kind(&self) -> Value {
        self.cells
            .iter()
            .map(|(k, c)| {
                (k.clone(), json!({"expected": c.expected, "count": c.count, "matched": c.matched, "got": c.got}))
            })
            .collect()
    }

    /// Per minute of the plan (by request number): sent, ok, failed, unexplained.
    fn per_minute(&self) -> Value {
        self.minutes
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"minute": i + 1, "sent": m.sent, "ok": m.ok, "failed": m.failed, "unexplained": m.unexplained}))
            .collect()
    }
}

/// Counts indexed by `Fault::index`, as an object keyed by fault name.
fn by_fault(counts: &[u64]) -> Value {
    Fault::ALL.iter().map(|f| (f.name().to_owned(), json!(counts[f.index()]))).collect()
}

/// The p50, p99 and max of latencies in nanoseconds, in milliseconds.
fn latency_ms(v: &[u64]) -> Value {
    let mut sorted = v.to_vec();
    sorted.sort_unstable();
    let ms = |p: f64| u64_to_f64(percentile(&sorted, p)) / 1e6;
    json!({"p50": ms(0.5), "p99": ms(0.99), "max": ms(1.0)})
}
