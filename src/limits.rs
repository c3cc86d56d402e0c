//! Capacity: each deployment's `rpm`, `tpm` and `max_parallel_requests`, and the
//! gateway-wide `global_max_parallel_requests`. `pick` skips saturated deployments and
//! takes a [`Permit`] for the one it chooses; the permit lives as long as the call (a
//! stream's included) and gives its slot back when dropped. The in-process backing of
//! `state`, and its fall-back while Redis is away.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::table::Deployment;

/// The window `rpm` and `tpm` count in.
const MINUTE: Duration = Duration::from_secs(60);
/// What a client at a parallel-request limit is told to wait.
const PARALLEL_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Window {
    start: Instant,
    requests: u64,
    tokens: u64,
}

impl Window {
    fn current(&mut self, now: Instant) -> &mut Self {
        if now.duration_since(self.start) >= MINUTE {
            *self = Window { start: now, requests: 0, tokens: 0 };
        }
        self
    }
}

#[derive(Debug)]
struct Slot {
    in_flight: Arc<AtomicU32>,
    window: Mutex<Window>,
    /// Moving average of the time to the provider's response head, in µs (0: untried).
    latency_us: AtomicU64,
}

/// Weight of the newest sample in the latency average, in eighths.
pub const LATENCY_NEW_EIGHTHS: u64 = 2;

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit(Arc<AtomicU32>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every deployment's counters and the global one.
#[derive(Debug)]
pub struct Limits {
    slots: Vec<Slot>,
    global: Arc<AtomicU32>,
    global_max: Option<u32>,
}

impl Limits {
    pub fn new(deployments: usize, global_max: Option<u32>) -> Self {
        let now = Instant::now();
        let slot = || Slot {
            in_flight: Arc::new(AtomicU32::new(0)),
            window: Mutex::new(Window { start: now, requests: 0, tokens: 0 }),
            latency_us: AtomicU64::new(0),
        };
        Limits { slots: (0..deployments).map(|_| slot()).collect(), global: Arc::new(AtomicU32::new(0)), global_max }
    }

    /// `Err(wait)` when deployment `i` is at one of its limits; only its parallel one when
    /// `parallel_only` (another store counts `rpm` and `tpm`).
    pub fn room(&self, i: u16, d: &Deployment, now: Instant, parallel_only: bool) -> Result<(), Duration> {
        let Some(slot) = self.slots.get(usize::from(i)) else { return Ok(()) };
        if d.max_parallel.is_some_and(|max| slot.in_flight.load(Ordering::Acquire) >= max) {
            return Err(PARALLEL_WAIT);
        }
        if parallel_only || (d.rpm.is_none() && d.tpm.is_none()) {
            return Ok(());
        }
        let Ok(mut window) = slot.window.lock() else { return Ok(()) };
        let window = window.current(now);
        let full = d.rpm.is_some_and(|rpm| window.requests >= rpm) || d.tpm.is_some_and(|tpm| window.tokens >= tpm);
        if full { Err(MINUTE.saturating_sub(now.duration_since(window.start))) } else { Ok(()) }
    }

    /// Takes a slot of deployment `i` (counting the request against its `rpm`), or `None`
    /// when it filled up since [`Limits::room`].
    pub fn admit(&self, i: u16, d: &Deployment, now: Instant) -> Option<Permit> {
        self.room(i, d, now, false).ok()?;
        let slot = self.slots.get(usize::from(i))?;
        take(&slot.in_flight, d.max_parallel).inspect(|_| count_request(slot, d, now))
    }

    /// Counts a call another store admitted (so this replica's counts stay true for when it
    /// has to decide alone); `None` only for an unknown deployment.
    pub fn count(&self, i: u16, d: &Deployment, now: Instant) -> Option<Permit> {
        let slot = self.slots.get(usize::from(i))?;
        count_request(slot, d, now);
        take(&slot.in_flight, None)
    }

    /// Counts a finished call's tokens against deployment `i`'s `tpm`.
    pub fn spent(&self, i: u16, tokens: u64, now: Instant) {
        if let Some(Ok(mut window)) = self.slots.get(usize::from(i)).map(|s| s.window.lock()) {
            window.current(now).tokens += tokens;
        }
    }

    /// Calls deployment `i` is serving now (least-busy).
    pub fn in_flight(&self, i: u16) -> u32 {
        self.slots.get(usize::from(i)).map_or(0, |s| s.in_flight.load(Ordering::Acquire))
    }

    /// Tokens deployment `i` used this minute (usage-based).
    pub fn minute_tokens(&self, i: u16, now: Instant) -> u64 {
        self.slots
            .get(usize::from(i))
            .and_then(|s| s.window.lock().ok().map(|mut w| w.current(now).tokens))
            .unwrap_or(0)
    }

    /// Deployment `i`'s average time to response head, µs; 0 until measured (latency-based).
    pub fn latency_us(&self, i: u16) -> u64 {
        self.slots.get(usize::from(i)).map_or(0, |s| s.latency_us.load(Ordering::Relaxed))
    }

    /// Folds one measured time to response head into deployment `i`'s average.
    pub fn observe_latency(&self, i: u16, latency: Duration) {
        let Some(slot) = self.slots.get(usize::from(i)) else { return };
        let sample = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = slot.latency_us.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some(if old == 0 { sample } else { (old * (8 - LATENCY_NEW_EIGHTHS) + sample * LATENCY_NEW_EIGHTHS) / 8 })
        });
    }

    /// A slot of `global_max_parallel_requests`, or `None` when all are taken.
    pub fn enter(&self) -> Option<Permit> {
        take(&self.global, self.global_max)
    }

    /// Counts a call another store let in past `global_max_parallel_requests`.
    pub fn count_global(&self) -> Permit {
        self.global.fetch_add(1, Ordering::AcqRel);
        Permit(Arc::clone(&self.global))
    }
}

fn count_request(slot: &Slot, d: &Deployment, now: Instant) {
    if d.rpm.is_some() {
        if let Ok(mut window) = slot.window.lock() {
            window.current(now).requests += 1;
        }
    }
}

/// Increments `counter` unless that would pass `max`.
fn take(counter: &Arc<AtomicU32>, max: Option<u32>) -> Option<Permit> {
    let max = max.unwrap_or(u32::MAX);
    counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
    Some(Permit(Arc::clone(counter)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::test_deployment;

    #[test]
    fn parallel_slots_come_back_when_permits_drop() {
        let d = Deployment { max_parallel: Some(1), ..test_deployment() };
        let limits = Limits::new(1, None);
        let now = Instant::now();
        let first = limits.admit(0, &d, now);
        assert!(first.is_some());
        assert_eq!(limits.room(0, &d, now, false), Err(PARALLEL_WAIT));
        assert!(limits.admit(0, &d, now).is_none());
        drop(first);
        assert!(limits.admit(0, &d, now).is_some());
    }

    #[test]
    fn rpm_and_tpm_fill_a_minute() {
        let d = Deployment { rpm: Some(2), tpm: Some(100), ..test_deployment() };
        let limits = Limits::new(1, None);
        let now = Instant::now();
        assert!(limits.admit(0, &d, now).is_some() && limits.admit(0, &d, now).is_some());
        assert!(
            limits.room(0, &d, now + Duration::from_secs(10), false).is_err_and(|wait| wait <= Duration::from_secs(50))
        );
        assert!(limits.room(0, &d, now + MINUTE, false).is_ok(), "a new minute");
        let limits = Limits::new(1, None);
        limits.spent(0, 100, now);
        assert!(limits.room(0, &d, now, false).is_err(), "tokens count too");
    }

    #[test]
    fn the_global_limit_counts_every_call() {
        let limits = Limits::new(0, Some(2));
        let (a, b) = (limits.enter(), limits.enter());
        assert!(a.is_some() && b.is_some());
        assert!(limits.enter().is_none());
        drop(a);
        assert!(limits.enter().is_some());
        assert!(Limits::new(0, None).enter().is_some());
    }
}
