//! The tally of a load run (`latency`, `rate`) and its JSON, plus the time conversions every
//! mode's numbers go through.

use std::time::Duration;

use mock_upstream::percentile;

/// Error messages kept as examples.
const SAMPLES: usize = 5;

/// Tally of one load run: latencies in nanoseconds and error messages (first few kept).
#[derive(Default)]
pub struct Tally {
    pub latencies: Vec<u64>,
    pub errors: u64,
    pub timeouts: u64,
    samples: Vec<String>,
}

impl Tally {
    pub fn error(&mut self, message: String) {
        self.errors += 1;
        if self.samples.len() < SAMPLES {
            self.samples.push(message);
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        for s in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
        }
    }

    /// The summary: counts, rate, latency percentiles in µs, then `extra` (each field with its
    /// leading comma) before the error samples.
    pub fn json(mut self, elapsed: Duration, extra: &str) -> String {
        self.latencies.sort_unstable();
        let us = |p: f64| nanos_to_us(percentile(&self.latencies, p));
        let count = self.latencies.len();
        #[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
        let mean = if count == 0 { 0.0 } else { self.latencies.iter().sum::<u64>() as f64 / count as f64 / 1000.0 };
        #[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
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

#[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
pub fn nanos_to_us(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
pub fn u64_to_f64(n: u64) -> f64 {
    n as f64
}
