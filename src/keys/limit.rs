//! A key's and its team's counters in process: `rpm_limit` and `tpm_limit` in a minute
//! window, `max_parallel_requests` in flight, and spend against `max_budget` in the current
//! budget period. Periods are aligned to the Unix epoch (`floor(now / budget_duration)`), so
//! every replica and restart agrees on when a period starts without a database: a `1d` budget
//! resets at 00:00 UTC, `1h` on the hour. The only backing without Redis, and the fall-back
//! (and the parallel count) with it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::table::KeyLimits;

/// The window `rpm_limit` and `tpm_limit` count in, ms.
pub const WINDOW_MS: u64 = 60_000;
const MS_PER_S: u64 = 1_000;

/// What is counted: a key or a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Key,
    Team,
}

impl Kind {
    /// LiteLLM's descriptor name in its rate-limit message.
    pub fn descriptor(self) -> &'static str {
        match self {
            Kind::Key => "api_key",
            Kind::Team => "team",
        }
    }
}

/// A key or team with its limits; `slot` indexes the counters, `tag` groups a team's keys
/// on one Redis Cluster slot.
#[derive(Debug, Clone, Copy)]
pub struct Entity {
    pub slot: usize,
    pub kind: Kind,
    pub name: &'static str,
    pub tag: &'static str,
    pub limits: KeyLimits,
}

impl Entity {
    /// The budget period `now_ms` falls in (0 for a budget without `budget_duration`).
    pub fn period(&self, now_ms: u64) -> u64 {
        self.limits.budget_duration_s.map_or(0, |d| now_ms / MS_PER_S / d.max(1))
    }

    /// When the period of `now_ms` ends, unix ms; `None` for a budget that never resets.
    pub fn period_end_ms(&self, now_ms: u64) -> Option<u64> {
        let d = self.limits.budget_duration_s?.max(1);
        Some((self.period(now_ms) + 1) * d * MS_PER_S)
    }
}

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

/// One entity's figures (for `/key/info`, the gauges, and the 429 headers).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub spend: f64,
    pub requests: u64,
    pub tokens: u64,
    /// When the budget period ends, unix ms.
    pub resets_at_ms: Option<u64>,
    pub limits: KeyLimits,
}

impl Usage {
    pub fn remaining_budget(&self) -> Option<f64> {
        self.limits.max_budget.map(|max| max - self.spend)
    }
    pub fn remaining_requests(&self) -> Option<u64> {
        self.limits.rpm.map(|rpm| rpm.saturating_sub(self.requests))
    }
    pub fn remaining_tokens(&self) -> Option<u64> {
        self.limits.tpm.map(|tpm| tpm.saturating_sub(self.tokens))
    }
}

/// What Redis counted for each entity (in order), and its refusal if it refused.
#[derive(Debug)]
pub struct Seen {
    pub figures: Vec<(u64, u64, f64)>,
    pub refusal: Option<Error>,
    /// The call's leases in the parallel sets, when admitted and limited.
    pub lease: Option<crate::state::keys::KeyLease>,
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
                return Err(LimitHit::error(e, "max_parallel_requests", u64::from(max), &usage, (1, now_ms)));
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
                return Err(budget(e, c.spend, max));
            }
        }
        for (e, counted) in entities.iter().zip(guards.iter_mut()) {
            let c = counted.current(e, now_ms);
            let wait_s = (c.window_start_ms + WINDOW_MS).saturating_sub(now_ms).div_ceil(MS_PER_S).max(1);
            let usage =
                Usage { spend: c.spend, requests: c.requests, tokens: c.tokens, resets_at_ms: None, limits: e.limits };
            if let Some(rpm) = e.limits.rpm.filter(|rpm| c.requests >= *rpm) {
                return Err(LimitHit::error(e, "requests", rpm, &usage, (wait_s, now_ms)));
            }
            if let Some(tpm) = e.limits.tpm.filter(|tpm| c.tokens >= *tpm) {
                return Err(LimitHit::error(e, "tokens", tpm, &usage, (wait_s, now_ms)));
            }
        }
        for (e, counted) in entities.iter().zip(guards.iter_mut()) {
            counted.current(e, now_ms).requests += 1;
        }
        Ok(())
    }

    /// Takes what Redis counted as this replica's view, so a fall-back starts from it.
    pub fn seen(&self, entities: &[Entity], seen: &Seen, now_ms: u64) {
        for (e, (requests, tokens, spend)) in entities.iter().zip(&seen.figures) {
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

/// A key or team at its `rpm_limit`, `tpm_limit` or `max_parallel_requests`: LiteLLM's
/// message, and the figures its 429 headers carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    pub descriptor: &'static str,
    pub value: &'static str,
    /// `requests`, `tokens` or `max_parallel_requests`.
    pub kind: &'static str,
    pub limit: u64,
    pub wait_s: u64,
    /// `2026-12-01 12:00:00 UTC`.
    pub reset_at: String,
    /// (limit, remaining) of requests and of tokens, where the entity has them.
    pub requests: Option<(u64, u64)>,
    pub tokens: Option<(u64, u64)>,
}

impl LimitHit {
    /// The error for `entity` at its `kind` limit; `at` is (seconds to wait, now in ms).
    pub fn error(entity: &Entity, kind: &'static str, limit: u64, usage: &Usage, at: (u64, u64)) -> Error {
        let (wait_s, now_ms) = at;
        let pair = |limit: Option<u64>, remaining: Option<u64>| limit.zip(remaining);
        Error::KeyLimited(Box::new(LimitHit {
            descriptor: entity.kind.descriptor(),
            value: entity.name,
            kind,
            limit,
            wait_s,
            reset_at: super::clock::utc_plain(now_ms / MS_PER_S + wait_s),
            requests: pair(entity.limits.rpm, usage.remaining_requests()),
            tokens: pair(entity.limits.tpm, usage.remaining_tokens()),
        }))
    }

    /// `x-ratelimit-*`, `retry-after`, `rate_limit_type` and `reset_at`, as LiteLLM sends them.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("retry-after", self.wait_s.to_string()),
            ("rate_limit_type", self.kind.to_owned()),
            ("reset_at", self.reset_at.clone()),
        ];
        if let Some((limit, remaining)) = self.requests {
            out.push(("x-ratelimit-limit-requests", limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", remaining.to_string()));
        }
        if let Some((limit, remaining)) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", remaining.to_string()));
        }
        out
    }
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Rate limit exceeded for {}: {}. Limit type: {}. Current limit: {}, Remaining: 0. Limit resets at: {}",
            self.descriptor, self.value, self.kind, self.limit, self.reset_at
        )
    }
}

/// LiteLLM's budget error for `entity`.
pub fn budget(entity: &Entity, spend: f64, max: f64) -> Error {
    let team = (entity.kind == Kind::Team).then_some(entity.name);
    Error::BudgetExceeded { team, spend, max }
}

#[cfg(test)]
mod tests {
    use super::*;

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
