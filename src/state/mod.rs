//! The shared-state seam: capacity limits (`rpm`, `tpm`, `max_parallel_requests`,
//! `global_max_parallel_requests`), cooldowns and the routing statistics, behind one
//! interface that `pick`, `retry`, `gateway` and `report` use. Two backings: in process
//! ([`Limits`], [`Cooldowns`]; the default and the fall-back) and, when the config or
//! environment names one, Redis ([`redis::Shared`]), which makes them hold for every replica.
//! Admitting a deployment is one step (one round trip on Redis); tokens are counted from the
//! request's end (`report`). Bridged Responses API conversations are stored beside them on
//! the same Redis ([`conversations`]). One node or a Redis Cluster: [`cluster`].

pub mod cluster;
pub mod config;
pub mod conversations;
pub mod keys;
pub mod redis;
pub mod scripts;
pub mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cooldown::{self, Cooldowns};
use crate::limits::{self, Limits};
use crate::table::{Deployment, Resilience, Table};
use redis::{Lease, Shared, Slot, Verdict};
use stats::Measure;

/// What a client at a parallel-request limit is told to wait.
const PARALLEL_WAIT: Duration = Duration::from_secs(1);

/// A held slot: the in-process one, and the Redis lease when Redis counts it. Dropping it
/// frees both.
#[derive(Debug)]
pub struct Permit {
    _local: limits::Permit,
    _lease: Option<Lease>,
}

/// Whether a deployment may take a call now.
#[derive(Debug)]
pub enum Admission {
    Admitted(Permit),
    /// Resting after failures (on any replica) for this long.
    Cooling(Duration),
    /// At a limit; room again after this long.
    Full(Duration),
}

/// Every deployment's counters and cooldowns.
#[derive(Debug)]
pub struct State {
    limits: Limits,
    cooldowns: Cooldowns,
    global_max: Option<u32>,
    /// Whether cooldowns happen at all (`disable_cooldowns` unset), so Redis has them to share.
    cooldowns_on: bool,
    shared: Option<Arc<Shared>>,
}

impl State {
    /// In-process state for `table`'s deployments.
    pub fn local(table: &Table) -> Self {
        State {
            limits: Limits::new(table.deployments.len(), table.general.global_max_parallel),
            cooldowns: Cooldowns::new(table.deployments.len()),
            global_max: table.general.global_max_parallel,
            cooldowns_on: !table.resilience.disable_cooldowns,
            shared: None,
        }
    }

    /// Shares the state through `shared` from now on.
    pub fn share(&mut self, shared: Arc<Shared>) {
        self.shared = Some(shared);
    }

    /// `None` without Redis; else whether it is answering now.
    pub fn redis_connected(&self) -> Option<bool> {
        self.shared.as_ref().map(|s| s.is_up())
    }

    /// Redis, while it answers.
    fn shared(&self) -> Option<&Arc<Shared>> {
        self.shared.as_ref().filter(|s| s.is_up())
    }

    /// How much longer deployment `i` rests, as this replica knows it (its own cooldowns and
    /// those Redis told it of).
    pub fn remaining(&self, i: u16, now: Instant) -> Option<Duration> {
        self.cooldowns.remaining(i, now)
    }

    /// `Err(wait)` when deployment `i` is surely at a limit, from this replica's counts
    /// (with Redis, only its own in-flight calls: Redis decides the rest in [`State::admit`]).
    pub fn room(&self, i: u16, d: &Deployment, now: Instant) -> Result<(), Duration> {
        self.limits.room(i, d, now, self.shared().is_some())
    }

    /// Takes a slot of deployment `i`, counting the call against its `rpm`, in one step:
    /// on Redis when it answers (cooldowns of every replica included), else in process.
    pub async fn admit(&self, i: u16, d: &Deployment, now: Instant) -> Admission {
        let counted = d.rpm.is_some() || d.tpm.is_some() || d.max_parallel.is_some() || self.cooldowns_on;
        if let Some(shared) = self.shared().filter(|_| counted) {
            match shared.admit(Slot::Deployment(i), d.rpm, d.tpm, d.max_parallel).await {
                Some(Verdict::Admitted(lease)) => {
                    return match self.limits.count(i, d, now) {
                        Some(local) => Admission::Admitted(Permit { _local: local, _lease: lease }),
                        None => Admission::Full(PARALLEL_WAIT),
                    };
                }
                Some(Verdict::Cooling(left)) => {
                    self.cooldowns.rest(i, now + left);
                    return Admission::Cooling(left);
                }
                Some(Verdict::Full(wait)) => return Admission::Full(wait.max(PARALLEL_WAIT)),
                None => {}
            }
        }
        if let Err(wait) = self.limits.room(i, d, now, false) {
            return Admission::Full(wait);
        }
        match self.limits.admit(i, d, now) {
            Some(local) => Admission::Admitted(Permit { _local: local, _lease: None }),
            None => Admission::Full(PARALLEL_WAIT),
        }
    }

    /// A slot of `global_max_parallel_requests`, or `None` when all are taken (on every
    /// replica, with Redis).
    pub async fn enter(&self) -> Option<Permit> {
        if let (Some(max), Some(shared)) = (self.global_max, self.shared()) {
            match shared.admit(Slot::Global, None, None, Some(max)).await {
                Some(Verdict::Admitted(lease)) => {
                    return Some(Permit { _local: self.limits.count_global(), _lease: lease });
                }
                Some(_) => return None,
                None => {}
            }
        }
        self.limits.enter().map(|local| Permit { _local: local, _lease: None })
    }

    /// Counts a failed attempt; `true` when deployment `i` starts cooling down now (for
    /// every replica, with Redis).
    pub fn failed(&self, i: u16, status: Option<u16>, group_size: usize, rules: &Resilience, now: Instant) -> bool {
        let cooled = self.cooldowns.failed(i, status, group_size, rules, now);
        let rest = Duration::from_millis(rules.cooldown_ms);
        match (self.shared().filter(|_| self.cooldowns_on), cooldown::allowed_fails(rules, group_size)) {
            (Some(shared), _) if cooled => shared.cool(i, rest),
            // Counted for every replica too: failures spread over replicas add up.
            (Some(shared), Some(allowed)) => shared.failed(i, allowed, rest),
            _ => {}
        }
        cooled
    }

    /// A finished call on deployment `i`: its tokens (against `tpm`) and its time to the
    /// response head (latency-based routing).
    pub fn finished(&self, i: u16, d: &Deployment, tokens: Option<u64>, latency: Option<Duration>, now: Instant) {
        if let Some(tokens) = tokens {
            self.limits.spent(i, tokens, now);
            if let Some(shared) = self.shared().filter(|s| d.tpm.is_some() || s.counts_tokens()) {
                shared.spent(i, tokens);
            }
        }
        if let Some(latency) = latency {
            self.limits.observe_latency(i, latency);
            if let Some(shared) = self.shared() {
                shared.observed(i, latency);
            }
        }
    }

    /// The strategy's figure for deployment `i` on every replica, with Redis.
    fn stat(&self, i: u16, measure: Measure) -> Option<u64> {
        self.shared()?.stat(i, measure)
    }

    /// Calls deployment `i` is serving now (least-busy): on every replica with Redis.
    pub fn in_flight(&self, i: u16) -> u64 {
        self.stat(i, Measure::InFlight).unwrap_or_else(|| u64::from(self.limits.in_flight(i)))
    }

    /// Tokens deployment `i` used this minute (usage-based): on every replica with Redis.
    pub fn minute_tokens(&self, i: u16, now: Instant) -> u64 {
        self.stat(i, Measure::Tokens).unwrap_or_else(|| self.limits.minute_tokens(i, now))
    }

    /// Deployment `i`'s average time to response head, µs (latency-based): over every
    /// replica's calls with Redis, once one is measured.
    pub fn latency_us(&self, i: u16) -> u64 {
        self.stat(i, Measure::Latency).filter(|l| *l > 0).unwrap_or_else(|| self.limits.latency_us(i))
    }
}
