//! The routing statistics shared through Redis for the strategy that reads them:
//! least-busy (calls in flight on every replica, counted as leases), usage-based (tokens this
//! window) and latency-based (an average time to response head). The watcher reads them off
//! the request's path every half second; between two reads this replica adds what it did
//! itself, so a burst on one replica does not all go to the same deployment.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::table::Strategy;

/// What the configured strategy needs shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    InFlight,
    Tokens,
    Latency,
}

impl Measure {
    /// The measure `routing_strategy` decides on, if it is one Redis can share.
    pub fn of(strategy: Strategy) -> Option<Self> {
        match strategy {
            Strategy::LeastBusy => Some(Measure::InFlight),
            Strategy::UsageBased => Some(Measure::Tokens),
            Strategy::LatencyBased => Some(Measure::Latency),
            Strategy::SimpleShuffle | Strategy::CostBased => None,
        }
    }
}

/// One deployment's last read, and this replica's own count since.
#[derive(Debug, Default)]
struct Cell {
    read: AtomicU64,
    /// Whether a read has happened (before it, the replica's own figures are used).
    seen: AtomicU64,
    own: AtomicI64,
    own_at_read: AtomicI64,
}

/// The cache of every deployment's shared figure.
#[derive(Debug)]
pub struct Stats {
    pub measure: Measure,
    cells: Vec<Cell>,
}

impl Stats {
    pub fn new(measure: Measure, deployments: usize) -> Self {
        Stats { measure, cells: (0..deployments).map(|_| Cell::default()).collect() }
    }

    /// This replica started (1) or ended (-1) a call on deployment `i`, or spent tokens.
    pub fn own(&self, i: u16, delta: i64) {
        if let Some(cell) = self.cells.get(usize::from(i)) {
            cell.own.fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Stores a fresh read of deployment `i`'s figure.
    pub fn read(&self, i: u16, value: u64) {
        if let Some(cell) = self.cells.get(usize::from(i)) {
            cell.own_at_read.store(cell.own.load(Ordering::Relaxed), Ordering::Relaxed);
            cell.read.store(value, Ordering::Relaxed);
            cell.seen.store(1, Ordering::Relaxed);
        }
    }

    /// The shared figure of deployment `i` with this replica's changes since the last read;
    /// `None` before the first read.
    pub fn get(&self, i: u16) -> Option<u64> {
        let cell = self.cells.get(usize::from(i))?;
        if cell.seen.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let since = cell.own.load(Ordering::Relaxed) - cell.own_at_read.load(Ordering::Relaxed);
        Some(cell.read.load(Ordering::Relaxed).saturating_add_signed(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_plus_what_this_replica_did_since() {
        let stats = Stats::new(Measure::InFlight, 2);
        assert_eq!(stats.get(0), None, "nothing read yet");
        stats.own(0, 1);
        stats.read(0, 3);
        stats.own(0, 1);
        stats.own(0, 1);
        assert_eq!(stats.get(0), Some(5));
        stats.own(0, -1);
        stats.own(0, -1);
        stats.own(0, -1);
        stats.read(0, 1);
        assert_eq!(stats.get(0), Some(1));
        stats.own(0, -5);
        assert_eq!(stats.get(0), Some(0), "never below zero");
        assert_eq!(Measure::of(Strategy::LeastBusy), Some(Measure::InFlight));
        assert_eq!(Measure::of(Strategy::SimpleShuffle), None);
    }
}
