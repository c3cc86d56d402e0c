//! Which deployments are resting after failures, as LiteLLM's router cools them down:
//! with `allowed_fails` set, more failures than that in a minute; without it, a 429 or
//! more than three failures a minute, in groups with another deployment to take over.
//! `pick` skips cooling deployments; `attempt` reports each failed attempt here through
//! `state`, which also counts it on Redis for every replica when one is shared.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::table::Resilience;

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// LiteLLM's `DEFAULT_ALLOWED_FAILS`.
const DEFAULT_ALLOWED_FAILS: u32 = 3;
const TOO_MANY_REQUESTS: u16 = 429;

#[derive(Debug)]
struct State {
    window_start: Instant,
    fails: u32,
    until: Option<Instant>,
}

/// One state per deployment.
#[derive(Debug)]
pub struct Cooldowns {
    states: Vec<Mutex<State>>,
}

/// How many failures in a [`WINDOW`] deployment may have before it cools, `None` when
/// failures alone never cool it (no `allowed_fails` and no other deployment to take over;
/// a 429 is decided per attempt by [`Cooldowns::failed`]).
pub fn allowed_fails(rules: &Resilience, group_size: usize) -> Option<u32> {
    match rules.allowed_fails {
        Some(allowed) => Some(allowed),
        None => (group_size > 1).then_some(DEFAULT_ALLOWED_FAILS),
    }
}

impl Cooldowns {
    pub fn new(deployments: usize) -> Self {
        let now = Instant::now();
        Cooldowns {
            states: (0..deployments).map(|_| Mutex::new(State { window_start: now, fails: 0, until: None })).collect(),
        }
    }

    /// How much longer deployment `i` rests, if it does.
    pub fn remaining(&self, i: u16, now: Instant) -> Option<Duration> {
        let state = self.states.get(usize::from(i))?.lock().ok()?;
        state.until.filter(|until| *until > now).map(|until| until - now)
    }

    /// Records that deployment `i` rests until `until` (another replica cooled it).
    pub fn rest(&self, i: u16, until: Instant) {
        if let Some(Ok(mut state)) = self.states.get(usize::from(i)).map(Mutex::lock) {
            state.until = Some(state.until.map_or(until, |u| u.max(until)));
        }
    }

    /// Counts a failed attempt (`status` when the provider answered); `true` when the
    /// deployment starts cooling down now.
    pub fn failed(&self, i: u16, status: Option<u16>, group_size: usize, rules: &Resilience, now: Instant) -> bool {
        if rules.disable_cooldowns {
            return false;
        }
        let Some(Ok(mut state)) = self.states.get(usize::from(i)).map(Mutex::lock) else { return false };
        if now.duration_since(state.window_start) > WINDOW {
            state.window_start = now;
            state.fails = 0;
        }
        state.fails += 1;
        let over = allowed_fails(rules, group_size).is_some_and(|allowed| state.fails > allowed);
        let cool = over || (rules.allowed_fails.is_none() && group_size > 1 && status == Some(TOO_MANY_REQUESTS));
        if cool && state.until.is_none_or(|until| until <= now) {
            state.until = Some(now + Duration::from_millis(rules.cooldown_ms));
            state.fails = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allowed_fails: Option<u32>, disable: bool) -> Resilience {
        Resilience {
            retry_after_ms: 0,
            allowed_fails,
            cooldown_ms: 5_000,
            disable_cooldowns: disable,
            fallbacks: &[],
            default_fallbacks: &[],
            context_window_fallbacks: &[],
            content_policy_fallbacks: &[],
            max_fallbacks: 5,
        }
    }

    #[test]
    fn a_429_cools_a_deployment_that_has_a_sibling() {
        let now = Instant::now();
        let c = Cooldowns::new(2);
        assert!(c.failed(0, Some(429), 2, &rules(None, false), now));
        assert!(c.remaining(0, now).is_some_and(|d| d <= Duration::from_secs(5)));
        assert_eq!(c.remaining(0, now + Duration::from_secs(6)), None, "it comes back");
        assert!(!c.failed(1, Some(429), 1, &rules(None, false), now), "a lone deployment keeps serving");
    }

    #[test]
    fn allowed_fails_counts_per_minute() {
        let now = Instant::now();
        let c = Cooldowns::new(1);
        let r = rules(Some(1), false);
        assert!(!c.failed(0, Some(500), 1, &r, now));
        assert!(c.failed(0, Some(500), 1, &r, now), "the second failure is over the allowance");
        let c = Cooldowns::new(1);
        assert!(!c.failed(0, Some(500), 1, &r, now));
        assert!(!c.failed(0, Some(500), 1, &r, now + WINDOW + Duration::from_secs(1)), "a new minute starts afresh");
    }

    #[test]
    fn disabled_cooldowns_never_rest() {
        let c = Cooldowns::new(2);
        assert!(!c.failed(0, Some(429), 2, &rules(Some(0), true), Instant::now()));
    }
}
