//! Chooses the deployment that serves a resolved model: available ones only (their
//! secrets present, not cooling down), lowest `order` first, then LiteLLM's simple shuffle weighted by
//! `weight`, else `rpm`, else `tpm`. It reads only its [`Pool`] (the deployments, their
//! endpoints' availability, the state and the strategy). The request goes on to `provider`.

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::provider::Endpoints;
use crate::resolve::{Target, upstream_model};
use crate::state::{Admission, Permit, State};
use crate::table::{Deployment, Strategy, Table};

/// What picking reads: the compiled deployments and groups, which of them have their
/// secrets, their limits, cooldowns and statistics, and the routing strategy.
#[derive(Clone, Copy)]
pub struct Pool<'a> {
    pub table: &'static Table,
    pub endpoints: &'a Endpoints,
    pub state: &'a State,
    pub strategy: Strategy,
}

/// The chosen deployment and the model name it is called with.
#[derive(Debug)]
pub struct Choice {
    pub index: u16,
    pub deployment: &'static Deployment,
    pub upstream_model: String,
    /// The deployment's slot for this call.
    pub permit: Permit,
}

/// Picks among the target's deployments, skipping those without their secrets and those
/// cooling down or at a limit; the chosen one is admitted in one step (on Redis when it is
/// shared), and if it turns out full or cooled elsewhere the next best is tried. A
/// `pinned` deployment of the target (the one a Responses API id names) is the only
/// candidate.
pub async fn pick(pool: Pool<'_>, target: &Target, requested: &str, pinned: Option<u16>) -> Result<Choice, Error> {
    let table = pool.table;
    let (mut candidates, captures): (&[u16], Option<&[String]>) = match target {
        Target::Group { group, captures } => (table.group(*group).deployments, captures.as_deref()),
        Target::Deployment(index) => (std::slice::from_ref(index), None),
    };
    if let Some(pin) = pinned.and_then(|pin| candidates.iter().find(|i| **i == pin)) {
        candidates = std::slice::from_ref(pin);
    }
    let now = Instant::now();
    let state = pool.state;
    // One pass sorts each configured deployment: resting, at a limit, or available.
    let (mut resting, mut full, mut available) = (Vec::<(u16, Duration)>::new(), Vec::new(), Vec::new());
    for i in candidates.iter().copied().filter(|i| pool.endpoints.available(*i)) {
        if let Some(left) = state.remaining(i, now) {
            resting.push((i, left));
        } else if let Err(wait) = state.room(i, table.deployment(i), now) {
            full.push(wait);
        } else {
            available.push(i);
        }
    }
    while let Some(index) = best(pool, &available, now) {
        let deployment = table.deployment(index);
        match state.admit(index, deployment, now).await {
            Admission::Admitted(permit) => {
                let upstream_model =
                    upstream_model(deployment.upstream_model, deployment.provider, captures, requested);
                return Ok(Choice { index, deployment, upstream_model, permit });
            }
            Admission::Cooling(left) => resting.push((index, left)),
            Admission::Full(wait) => full.push(wait),
        }
        available.retain(|i| *i != index);
    }
    if let Some(soonest) = full.iter().min() {
        return Err(Error::Saturated { model: requested.to_owned(), wait_s: soonest.as_secs().max(1) });
    }
    if let Some(soonest) = resting.iter().map(|(_, left)| *left).min() {
        let ids = resting.iter().map(|(i, _)| table.deployment(*i).id).collect();
        return Err(Error::AllCoolingDown { model: requested.to_owned(), wait_s: soonest.as_secs().max(1), ids });
    }
    let first = candidates.first().copied().unwrap_or_default();
    Err(pool.endpoints.unavailable(first))
}

/// The routing strategy's choice among the lowest `order` of `available`.
fn best(pool: Pool<'_>, available: &[u16], now: Instant) -> Option<u16> {
    let (table, state) = (pool.table, pool.state);
    let tier = lowest_order(table.deployments, available);
    match pool.strategy {
        Strategy::LeastBusy => least(&tier, |i| state.in_flight(i)),
        Strategy::LatencyBased => least(&tier, |i| state.latency_us(i)),
        Strategy::UsageBased => least(&tier, |i| state.minute_tokens(i, now)),
        Strategy::CostBased => least(&tier, |i| price(table.deployment(i))),
        Strategy::SimpleShuffle => choose(table.deployments, &tier, fastrand::f64()),
    }
}

/// The deployments of `available` with the lowest `order`.
fn lowest_order(deployments: &[Deployment], available: &[u16]) -> Vec<u16> {
    let order = |i: &u16| deployments[usize::from(*i)].order.unwrap_or(u32::MAX);
    let lowest = available.iter().map(order).min().unwrap_or(u32::MAX);
    available.iter().copied().filter(|i| order(i) == lowest).collect()
}

/// The deployment of `tier` with the least `measure` (the first of equals): LiteLLM's
/// least-busy, latency-, usage- and cost-based strategies.
fn least(tier: &[u16], measure: impl Fn(u16) -> u64) -> Option<u16> {
    tier.iter().copied().min_by_key(|i| measure(*i))
}

/// A deployment's price per million tokens in and out, in micro-dollars; unpriced last.
fn price(d: &Deployment) -> u64 {
    const MICRO_PER_MILLION_TOKENS: f64 = 1e12;
    match (d.info.input_cost_per_token, d.info.output_cost_per_token) {
        (None, None) => u64::MAX,
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "non-negative prices, rounded")]
        (input, output) => ((input.unwrap_or(0.0) + output.unwrap_or(0.0)) * MICRO_PER_MILLION_TOKENS) as u64,
    }
}

/// The weighted pick among `tier`; `roll` in [0, 1).
fn choose(deployments: &[Deployment], tier: &[u16], roll: f64) -> Option<u16> {
    #[expect(clippy::cast_precision_loss, reason = "rpm and tpm are far below 2^52")]
    let weight = |i: u16| {
        let d = &deployments[usize::from(i)];
        d.weight.or(d.rpm.map(|r| r as f64)).or(d.tpm.map(|t| t as f64)).unwrap_or(1.0).max(f64::MIN_POSITIVE)
    };
    let total: f64 = tier.iter().map(|i| weight(*i)).sum();
    let mut point = roll * total;
    for i in tier {
        point -= weight(*i);
        if point < 0.0 {
            return Some(*i);
        }
    }
    tier.last().copied()
}

#[cfg(test)]
fn choose_in_order(deployments: &[Deployment], available: &[u16], roll: f64) -> Option<u16> {
    choose(deployments, &lowest_order(deployments, available), roll)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(weight: Option<f64>, rpm: Option<u64>, order: Option<u32>) -> Deployment {
        Deployment { weight, rpm, order, ..crate::table::test_deployment() }
    }

    #[test]
    fn weights_split_the_roll() {
        let ds = [deployment(Some(3.0), None, None), deployment(Some(1.0), None, None)];
        assert_eq!(choose_in_order(&ds, &[0, 1], 0.0), Some(0));
        assert_eq!(choose_in_order(&ds, &[0, 1], 0.74), Some(0));
        assert_eq!(choose_in_order(&ds, &[0, 1], 0.76), Some(1));
    }

    #[test]
    fn rpm_weighs_when_weight_is_absent() {
        let ds = [deployment(None, Some(100), None), deployment(None, Some(300), None)];
        assert_eq!(choose_in_order(&ds, &[0, 1], 0.3), Some(1));
    }

    #[test]
    fn least_takes_the_smallest_measure_and_the_first_of_equals() {
        assert_eq!(least(&[3, 1, 2], |i| [9, 5, 5, 7][usize::from(i)]), Some(1));
        assert_eq!(least(&[], |_| 0), None);
        let cheap = Deployment {
            info: crate::table::ModelInfo { input_cost_per_token: Some(1e-6), ..crate::table::test_deployment().info },
            ..crate::table::test_deployment()
        };
        assert!(price(&cheap) < price(&crate::table::test_deployment()), "unpriced deployments come last");
    }

    #[test]
    fn lowest_order_wins_whatever_the_weight() {
        let ds = [deployment(Some(100.0), None, Some(2)), deployment(Some(1.0), None, Some(1))];
        assert_eq!(choose_in_order(&ds, &[0, 1], 0.0), Some(1));
        assert_eq!(choose_in_order(&ds, &[0], 0.9), Some(0), "a higher order serves when the lower is unavailable");
        assert_eq!(choose_in_order(&ds, &[], 0.5), None);
    }
}
