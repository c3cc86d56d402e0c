//! A virtual key's and its team's quota, as a model with no counting in it: what is
//! counted ([`Entity`]: a key or a team, its limits, its budget periods aligned to the Unix
//! epoch), in which window ([`WINDOW_MS`]), the figures one has ([`Usage`]), a limit it hit
//! ([`LimitHit`]: LiteLLM's message and 429 headers), and the [`clock`] it is read on. A
//! leaf below `error` (which quotes a hit and a spend), `keys` (which counts in process)
//! and `state` (which counts on Redis); it imports none of them. The counting goes on in
//! `keys::limit` and `state::keys`.

pub mod clock;

use crate::table::KeyLimits;

/// The window `rpm_limit` and `tpm_limit` count in, ms.
pub const WINDOW_MS: u64 = 60_000;
/// Milliseconds in a second, for the windows and periods counted in unix ms.
pub const MS_PER_S: u64 = 1_000;

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
    /// `entity` at its `kind` limit; `at` is (seconds to wait, now in ms). The refusal
    /// (`Error::limited`) wraps one.
    pub fn new(entity: &Entity, kind: &'static str, limit: u64, usage: &Usage, at: (u64, u64)) -> Self {
        let (wait_s, now_ms) = at;
        let pair = |limit: Option<u64>, remaining: Option<u64>| limit.zip(remaining);
        LimitHit {
            descriptor: entity.kind.descriptor(),
            value: entity.name,
            kind,
            limit,
            wait_s,
            reset_at: clock::utc_plain(now_ms / MS_PER_S + wait_s),
            requests: pair(entity.limits.rpm, usage.remaining_requests()),
            tokens: pair(entity.limits.tpm, usage.remaining_tokens()),
        }
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

/// A float as Python's `repr` prints it (`0.0`, `50.0`, `1.35e-05`), as LiteLLM's budget
/// messages show spend.
pub fn python_float(value: f64) -> String {
    const SCIENTIFIC_BELOW: f64 = 1e-4;
    const SCIENTIFIC_FROM: f64 = 1e16;
    if value == 0.0 || !value.is_finite() {
        return if value.is_finite() { "0.0".to_owned() } else { value.to_string() };
    }
    let magnitude = value.abs();
    if (SCIENTIFIC_BELOW..SCIENTIFIC_FROM).contains(&magnitude) {
        let plain = value.to_string();
        return if plain.contains('.') { plain } else { format!("{plain}.0") };
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
    format!("{mantissa}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_does() {
        assert_eq!(python_float(0.0), "0.0");
        assert_eq!(python_float(50.0), "50.0");
        assert_eq!(python_float(1.35e-5), "1.35e-05");
        assert_eq!(python_float(0.000_12), "0.00012");
        assert_eq!(python_float(2e16), "2e+16");
        assert_eq!(python_float(0.5), "0.5");
    }
}
