//! A key's and its team's counters in process: `rpm_limit` and `tpm_limit` in a minute
//! window, `max_parallel_requests` in flight, and spend against `max_budget` in the current
//! budget period. Periods are aligned to the Unix epoch (`floor(now / budget_duration)`), so
//! every replica and restart agrees on when a period starts without a database: a `1d` budget
//! resets at 00:00 UTC, `1h` on the hour. The only backing without Redis, and the fall-back
//! (and the parallel count) with it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::quota::{Entity, MS_PER_S, Usage, WINDOW_MS};

#[derive(Debug, Default)]
struct Counted {
    window_start_ms: u64,
    requests: u64,
    tokens: u64,
    period: u64,
    spend: f64,
}

impl Counted {
    fn current(&mut self, entity: &Entity, now_ms: u64) -> &mut Self {
        if now_ms.saturating_sub(self.window_start_ms) >= WINDOW_MS {
            (self.window_start_ms, self.requests, self.tokens) = (now_ms, 0, 0);
        }
        let period = entity.period(now_ms);
        if period != self.period {
            (self.period, self.spend) = (period, 0.0);
        }
        self
    }
}

#[derive(Debug, Default)]
struct Slot {
    in_flight: Arc<AtomicU32>,
    counted: Mutex<Counted>,
}

/// Every key's and team's counters.
#[derive(Debug)]
pub struct Counters {
    slots: Vec<Slot>,
}

/// Held parallel slots of a key and its team (here, and on Redis when it counts them);
/// dropping it frees them.
#[derive(Debug, Default)]
pub struct Ticket {
    held: Vec<Arc<AtomicU32>>,
    pub lease: Option<crate::state::keys::KeyLease>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        for counter in &self.held {
            counter.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Counters {
    pub fn new(entities: usize) -> Self {
        Counters { slots: (0..entities).map(|_| Slot::default()).collect() }
    }

    fn lock(&self, entity: &Entity) -> Option<MutexGuard<'_, Counted>> {
        self.slots.get(entity.slot)?.counted.lock().ok()
    }

    /// Takes a parallel slot of each entity with a `max_parallel_requests`, or refuses.
    pub fn take_parallel(&self, entities: &[Entity], now_ms: u64) -> Result<Ticket, Error> {
        let mut ticket = Ticket::default();
        for e in entities {
            let Some(slot) = self.slots.get(e.slot) else { continue };
            let max = e.limits.max_parallel.unwrap_or(u32::MAX);
            let taken =
                slot.in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1));
            if taken.is_err() {
                let usage = self.usage(e, now_ms);
                return Err(Error::limited(e, "max_parallel_requests", u64::from(max), &usage, (1, now_ms)));
            }
            ticket.held.push(Arc::clone(&slot.in_flight));
        }
        Ok(ticket)
    }

    /// Budget, then `rpm` and `tpm`, of every entity; counts the request when all have room.
    pub fn admit(&self, entities: &[Entity], now_ms: u64) -> Result<(), Error> {
        let mut guards: Vec<MutexGuard<'_, Counted>> = entities.iter().filter_map(|e| self.lock(e)).collect();
        for (e, counted) in entities.iter().zip(guards.iter_mut()) {
            let c = counted.current(e, now_ms);
            if let Some(max) = e.limits.max_budget.filter(|max| c.spend >= *max) {
                return Err(Error::budget(e, c.spend, max));
            }
        }
        for (e, counted) in entities.iter().zip(guards.iter_mut()) {
            let c = counted.current(e, now_ms);
            let wait_s = (c.window_start_ms + WINDOW_MS).saturating_sub(now_ms).div_ceil(MS_PER_S).max(1);
            let usage =
                Usage { spend: c.spend, requests: c.requests, tokens: c.tokens, resets_at_ms: None, limits: e.limits };
            if let Some(rpm) = e.limits.rpm.filter(|rpm| c.requests >= *rpm) {
                return Err(Error::limited(e, "requests", rpm, &usage, (wait_s, now_ms)));
            }
            if let Some(tpm) = e.limits.tpm.filter(|tpm| c.tokens >= *tpm) {
                return Err(Error::limited(e, "tokens", tpm, &usage, (wait_s, now_ms)));
            }
        }
        for (e, counted) in entities.iter().zip(guards.iter_mut()) {
            counted.current(e, now_ms).requests += 1;
        }
        Ok(())
    }

    /// Takes what Redis counted (requests, tokens, spend of each entity) as this replica's
    /// view, so a fall-back starts from it.
    pub fn seen(&self, entities: &[Entity], figures: &[(u64, u64, f64)], now_ms: u64) {
        for (e, (requests, tokens, spend)) in entities.iter().zip(figures) {
            if let Some(mut counted) = self.lock(e) {
                let c = counted.current(e, now_ms);
                (c.requests, c.tokens, c.spend) = (*requests, *tokens, c.spend.max(*spend));
            }
        }
    }

    /// A finished call's cost and tokens.
    pub fn spent(&self, entities: &[Entity], cost: f64, tokens: u64, now_ms: u64) {
        for e in entities {
            if let Some(mut counted) = self.lock(e) {
                let c = counted.current(e, now_ms);
                c.spend += cost;
                c.tokens += tokens;
            }
        }
    }

    pub fn usage(&self, entity: &Entity, now_ms: u64) -> Usage {
        let mut usage = Usage { resets_at_ms: entity.period_end_ms(now_ms), limits: entity.limits, ..Usage::default() };
        if let Some(mut counted) = self.lock(entity) {
            let c = counted.current(entity, now_ms);
            (usage.spend, usage.requests, usage.tokens) = (c.spend, c.requests, c.tokens);
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Kind;
    use crate::table::KeyLimits;

    fn entity(limits: KeyLimits) -> Entity {
        Entity { slot: 0, kind: Kind::Key, name: "k", tag: "k", limits }
    }

    #[test]
    fn rpm_fills_a_minute_and_a_new_one_has_room() {
        let e = entity(KeyLimits { rpm: Some(2), ..KeyLimits::default() });
        let counters = Counters::new(1);
        assert!(counters.admit(&[e], 0).is_ok() && counters.admit(&[e], 1).is_ok());
        assert!(matches!(counters.admit(&[e], 2), Err(Error::KeyLimited(_))));
        assert!(counters.admit(&[e], WINDOW_MS).is_ok());
    }

    #[test]
    fn a_spent_budget_refuses_until_its_period_ends() {
        let e = entity(KeyLimits { max_budget: Some(1.0), budget_duration_s: Some(30), ..KeyLimits::default() });
        let counters = Counters::new(1);
        counters.spent(&[e], 1.0, 0, 1_000);
        assert!(matches!(counters.admit(&[e], 29_999), Err(Error::BudgetExceeded { .. })));
        assert!(counters.admit(&[e], 30_000).is_ok(), "periods are aligned to the epoch");
        assert_eq!(e.period_end_ms(30_000), Some(60_000));
    }

    #[test]
    fn parallel_slots_come_back_with_the_ticket() {
        let e = entity(KeyLimits { max_parallel: Some(1), ..KeyLimits::default() });
        let counters = Counters::new(1);
        let held = counters.take_parallel(&[e], 0);
        assert!(held.is_ok());
        assert!(counters.take_parallel(&[e], 0).is_err());
        drop(held);
        assert!(counters.take_parallel(&[e], 0).is_ok());
    }
}
