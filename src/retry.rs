//! The retry policy of one model call: `num_retries` more tries on retryable failures
//! (each picking again, after `retry_after` or the provider's `retry-after`), then the
//! group's fallbacks (`fallbacks`, `default_fallbacks`, or the context-window and
//! content-policy kinds for those 400s), at most `max_fallbacks`, those the caller's key
//! may call. A [`Plan`] says which target the next attempt is on and, told what each
//! attempt came to, whether to wait and try again or stop; it sums the call's [`Outcome`]
//! up from the attempts. It runs no attempt itself (`gateway` drives `attempt` with it),
//! so it needs only the table's resilience settings. A wildcard capture no deployment URL
//! has room for is refused first, before any attempt. A stream is never retried once it
//! has begun.

use std::time::Duration;

use http::{HeaderMap, HeaderName};

use crate::call::{Attempted, Outcome};
use crate::error::Error;
use crate::keys::Keys;
use crate::provider;
use crate::resolve::Target;
use crate::table::Table;

/// Most retries a client may ask for with `x-litellm-num-retries`.
const MAX_RETRIES: u32 = 10;
/// The header a client sets its own retry count with.
const NUM_RETRIES: HeaderName = HeaderName::from_static("x-litellm-num-retries");
/// Longest a provider's `retry-after` may hold a client between attempts; a provider
/// asking for more gets its error relayed at once (with `llm_provider-retry-after`), so the
/// client decides whether to wait.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Where a call's attempts stand.
pub struct Plan<'a> {
    table: &'static Table,
    /// The caller's virtual key, which may not call every fallback.
    key: Option<(&'a Keys, u16)>,
    retries: u32,
    /// Retries made on the current target.
    tried: u32,
    target: Target,
    /// The group the call resolved to, whose fallbacks are tried.
    group: Option<u16>,
    /// The fallbacks left, once the first target has failed.
    fallbacks: Option<std::vec::IntoIter<u16>>,
    outcome: Outcome,
}

/// What follows an attempt.
#[derive(Debug)]
pub enum Step<R> {
    /// The call's answer or error.
    Done(Result<R, Error>),
    /// Wait this long, then attempt [`Plan::target`] again.
    Wait(Duration),
    /// Attempt [`Plan::target`] (a fallback) now.
    Next,
}

impl<'a> Plan<'a> {
    /// The plan for a call resolved to `target` for the requested `model`, with the
    /// client's `headers` (`x-litellm-num-retries`); refuses at once a wildcard capture no
    /// deployment URL has room for.
    pub fn new(
        table: &'static Table,
        target: Target,
        (model, headers): (&str, &HeaderMap),
        key: Option<(&'a Keys, u16)>,
    ) -> Result<Self, Error> {
        provider::check_captures(table, &target, model)?;
        let retries = headers
            .get(NUM_RETRIES)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u32>().ok())
            .map_or(table.router.num_retries, |n| n.min(MAX_RETRIES));
        let group = group_of(table, &target);
        Ok(Plan { table, key, retries, tried: 0, target, group, fallbacks: None, outcome: Outcome::default() })
    }

    /// The target of the next attempt.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Takes in what an attempt came to and says what follows.
    pub fn after<R>(&mut self, result: Result<R, Error>, attempted: Attempted) -> Step<R> {
        self.outcome.add(attempted);
        let error = match result {
            Ok(answer) => return Step::Done(Ok(answer)),
            Err(error) => error,
        };
        let pause = wait(self.table, self.outcome.headers.as_ref());
        if let Some(pause) = pause.filter(|_| error.retryable() && self.tried < self.retries) {
            self.tried += 1;
            self.outcome.retries += 1;
            return Step::Wait(pause);
        }
        let table = self.table;
        let fallbacks = match &mut self.fallbacks {
            Some(left) if error.falls_back() => left,
            Some(_) => return Step::Done(Err(error)),
            None => {
                let most = usize::try_from(table.resilience.max_fallbacks).unwrap_or(usize::MAX);
                // A fallback the caller's key may not call is skipped, as if it were not configured.
                let allowed = |g: &u16| self.key.is_none_or(|(keys, k)| keys.allows(k, table.group(*g).name));
                let plan: Vec<u16> =
                    fallbacks(table, self.group, &error).into_iter().filter(allowed).take(most).collect();
                self.fallbacks.insert(plan.into_iter())
            }
        };
        let Some(fallback) = fallbacks.next() else { return Step::Done(Err(error)) };
        self.outcome.fallbacks += 1;
        self.outcome.fallback_group = Some(table.group(fallback).name);
        self.target = Target::Group { group: fallback, captures: None };
        self.tried = 0;
        Step::Next
    }

    /// The call's outcome, once the plan is done.
    pub fn into_outcome(self) -> Outcome {
        self.outcome
    }
}

/// Time before the next attempt: `retry_after`, or the provider's `retry-after` if longer;
/// `None` when the provider asks for more than [`MAX_RETRY_WAIT`].
fn wait(table: &Table, headers: Option<&HeaderMap>) -> Option<Duration> {
    let configured = Duration::from_millis(table.resilience.retry_after_ms);
    let asked = headers
        .and_then(|h| h.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::ZERO, Duration::from_secs_f64);
    (asked <= MAX_RETRY_WAIT).then_some(configured.max(asked))
}

/// The group a target belongs to, for its fallbacks.
fn group_of(table: &Table, target: &Target) -> Option<u16> {
    match target {
        Target::Group { group, .. } => Some(*group),
        Target::Deployment(d) => table.names.get(table.deployment(*d).model_name).copied(),
    }
}

/// The groups to try after `group` failed with `error`.
fn fallbacks(table: &Table, group: Option<u16>, error: &Error) -> Vec<u16> {
    let rules = &table.resilience;
    let lookup =
        |list: &[(u16, &[u16])]| group.and_then(|g| list.iter().find(|(k, _)| *k == g)).map(|(_, t)| t.to_vec());
    if error.context_window() {
        return lookup(rules.context_window_fallbacks).unwrap_or_default();
    }
    if error.content_policy() {
        return lookup(rules.content_policy_fallbacks).unwrap_or_default();
    }
    if !error.falls_back() {
        return Vec::new();
    }
    lookup(rules.fallbacks)
        .unwrap_or_else(|| rules.default_fallbacks.iter().copied().filter(|g| Some(*g) != group).collect())
}
