//! Virtual keys' counters on Redis: a key's and its team's `rpm`/`tpm` windows and spend
//! per budget period, checked and counted in one script call (one round trip per model
//! call), spend and tokens added at the call's end off the request's path. Keys read
//! `<prefix>keys-v1:{<team or key>}:<key|team>:<name>:<what>`: `keys-v1` is the layout
//! version, and a team's keys share its hash tag so one script touches one Cluster slot.
//! Spend that Redis could not take (down, or timing out) is kept and added when it is back.
//! Parallel calls hold a lease in the key's and team's sets, refreshed while they last and
//! gone after `LEASE_TTL` if their replica dies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::Script;
use sha2::{Digest, Sha256};

use super::redis::{LEASE_TTL, Shared};
use crate::error::Error;
use crate::quota::{self, Entity, Usage, WINDOW_MS};

/// The layout version of the keys below.
pub const LAYOUT: &str = "keys-v1";
/// How often spend kept while Redis was away is retried.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Flush rounds between two refreshes of this replica's leases (about a third of their life).
const REFRESH_EVERY: u32 = 6;

/// Budgets, then `rpm`, `tpm` and parallel calls, of up to two entities (a key, then its
/// team); counts the request in each window and takes a lease in each parallel set when all
/// have room. KEYS: per entity its rate hash (s=start ms, r=requests, t=tokens), this
/// period's spend, and its lease set (ids by expiry ms). ARGV: the entity count, the lease id,
/// the lease TTL ms, then per entity rpm, tpm, max budget, window ms and max parallel (-1: no
/// limit). Returns strings: code (0 admitted, 1 budget, 2 rpm, 3 tpm, 4 parallel), the
/// refusing entity (1-based), ms until its window ends, then per entity requests, tokens and
/// spend as counted.
pub const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n, id, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local seen = {}
for i = 1, n do
  local at = 3 + 5 * (i - 1)
  local e = {rpm = tonumber(ARGV[at + 1]), tpm = tonumber(ARGV[at + 2]), budget = tonumber(ARGV[at + 3]),
    window = tonumber(ARGV[at + 4]), max = tonumber(ARGV[at + 5]), fresh = true, start = now, r = 0, t = 0}
  local w = redis.call('HMGET', KEYS[3 * i - 2], 's', 'r', 't')
  if w[1] and now - tonumber(w[1]) < e.window then
    e.fresh, e.start, e.r, e.t = false, tonumber(w[1]), tonumber(w[2] or 0), tonumber(w[3] or 0)
  end
  e.spend = tonumber(redis.call('GET', KEYS[3 * i - 1]) or '0')
  seen[i] = e
end
local function answer(code, which, wait)
  local out = {tostring(code), tostring(which), tostring(wait)}
  for i = 1, n do
    local e = seen[i]
    table.insert(out, tostring(e.r)); table.insert(out, tostring(e.t)); table.insert(out, tostring(e.spend))
  end
  return out
end
for i = 1, n do
  if seen[i].budget >= 0 and seen[i].spend >= seen[i].budget then return answer(1, i, 0) end
end
for i = 1, n do
  local e = seen[i]
  if e.rpm >= 0 and e.r >= e.rpm then return answer(2, i, e.start + e.window - now) end
  if e.tpm >= 0 and e.t >= e.tpm then return answer(3, i, e.start + e.window - now) end
  if e.max >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[3 * i], '-inf', now)
    if redis.call('ZCARD', KEYS[3 * i]) >= e.max then return answer(4, i, 1000) end
  end
end
for i = 1, n do
  local e = seen[i]
  if e.fresh then
    redis.call('HSET', KEYS[3 * i - 2], 's', now, 'r', 1, 't', 0)
    redis.call('PEXPIRE', KEYS[3 * i - 2], e.window * 2)
  else
    redis.call('HINCRBY', KEYS[3 * i - 2], 'r', 1)
  end
  e.r = e.r + 1
  if e.max >= 0 then
    redis.call('ZADD', KEYS[3 * i], now + ttl, id)
    redis.call('PEXPIRE', KEYS[3 * i], ttl * 2)
  end
end
return answer(0, 0, 0)
";

/// Adds a finished call's tokens to each entity's window and its cost to each period's
/// spend. KEYS: per entity rate, spend. ARGV: entity count, tokens, cost, window ms, then
/// per entity the spend key's TTL in ms (-1: none).
pub const SPEND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n, tokens, cost, window = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
for i = 1, n do
  if tokens > 0 then
    local s = redis.call('HGET', KEYS[2 * i - 1], 's')
    if s and now - tonumber(s) < window then
      redis.call('HINCRBY', KEYS[2 * i - 1], 't', tokens)
    else
      redis.call('HSET', KEYS[2 * i - 1], 's', now, 'r', 0, 't', tokens)
      redis.call('PEXPIRE', KEYS[2 * i - 1], window * 2)
    end
  end
  if tonumber(cost) > 0 then
    redis.call('INCRBYFLOAT', KEYS[2 * i], cost)
    local ttl = tonumber(ARGV[4 + i])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2 * i], ttl) end
  end
end
return 0
";

/// Leaves a lease set. KEYS: the set. ARGV: the lease id.
pub const RELEASE: &str = "return redis.call('ZREM', KEYS[1], ARGV[1])";

/// Spend Redis has not taken yet: the keys it goes to, and the amount.
#[derive(Debug, Clone)]
struct Pending {
    keys: Vec<String>,
    ttls: Vec<i64>,
    cost: f64,
}

/// The keys' counters on one Redis, beside the deployments' ([`Shared`]).
pub struct SharedKeys {
    shared: Arc<Shared>,
    prefix: String,
    admit: Script,
    spend: Script,
    refresh: Script,
    release: Script,
    pending: Mutex<Vec<Pending>>,
    replica: String,
    next: AtomicU64,
    /// This replica's live leases: number → the lease sets holding it.
    live: Mutex<HashMap<u64, Vec<String>>>,
}

/// What Redis counted for each entity (in order), and its refusal if it refused: `keys`
/// takes it as its view and answers the call with it.
#[derive(Debug)]
pub struct Seen {
    pub figures: Vec<(u64, u64, f64)>,
    pub refusal: Option<Error>,
    /// The call's leases in the parallel sets, when admitted and limited.
    pub lease: Option<KeyLease>,
}

/// A call's place in its key's and team's parallel sets on Redis; dropping it leaves them
/// (and it expires by itself after [`LEASE_TTL`] if this replica dies first).
#[derive(Debug)]
pub struct KeyLease {
    keys: Arc<SharedKeys>,
    n: u64,
    sets: Vec<String>,
}

impl Drop for KeyLease {
    fn drop(&mut self) {
        if let Ok(mut live) = self.keys.live.lock() {
            live.remove(&self.n);
        }
        let (keys, id, sets) =
            (Arc::clone(&self.keys), format!("{}:{}", self.keys.replica, self.n), std::mem::take(&mut self.sets));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for set in sets {
                    let mut invocation = keys.release.prepare_invoke();
                    invocation.key(set).arg(&id);
                    let _: Option<i64> = keys.shared.run(&invocation).await;
                }
            });
        }
    }
}

impl std::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeys").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl SharedKeys {
    /// Counts keys on `shared`'s Redis under `prefix`, and keeps retrying spend it missed.
    pub fn new(shared: Arc<Shared>, prefix: &str) -> Arc<Self> {
        let keys = Arc::new(SharedKeys {
            shared,
            prefix: prefix.to_owned(),
            admit: Script::new(ADMIT),
            spend: Script::new(SPEND),
            refresh: Script::new(super::scripts::REFRESH),
            release: Script::new(RELEASE),
            pending: Mutex::new(Vec::new()),
            replica: uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid().to_string(),
            next: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(flush(Arc::downgrade(&keys)));
        }
        keys
    }

    pub fn is_up(&self) -> bool {
        self.shared.is_up()
    }

    /// (rate key, spend key of the period of `now_ms`, lease set) of `entity`.
    fn names(&self, entity: &Entity, now_ms: u64) -> (String, String, String) {
        let tag = if entity.tag.contains(['{', '}']) {
            crate::table::hex(&Sha256::digest(entity.tag.as_bytes()))
        } else {
            entity.tag.to_owned()
        };
        let kind = match entity.kind {
            quota::Kind::Key => "key",
            quota::Kind::Team => "team",
        };
        let base = format!("{}{LAYOUT}:{{{tag}}}:{kind}:{}", self.prefix, entity.name);
        (format!("{base}:rate"), format!("{base}:spend:{}", entity.period(now_ms)), format!("{base}:lease"))
    }

    /// Checks and counts a call of `entities` (a key, then its team) in one round trip;
    /// `None` when Redis cannot say.
    pub async fn admit(self: &Arc<Self>, entities: &[Entity], now_ms: u64) -> Option<Seen> {
        let limit = |n: Option<u64>| n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}:{n}", self.replica);
        let mut invocation = self.admit.prepare_invoke();
        invocation.arg(entities.len()).arg(&id).arg(millis(LEASE_TTL));
        let mut leases = Vec::new();
        for e in entities {
            let (rate, spend, lease) = self.names(e, now_ms);
            invocation.key(rate).key(spend).key(&lease);
            if e.limits.max_parallel.is_some() {
                leases.push(lease);
            }
            let budget = e.limits.max_budget.map_or_else(|| "-1".to_owned(), |b| b.to_string());
            let parallel = limit(e.limits.max_parallel.map(u64::from));
            invocation.arg(limit(e.limits.rpm)).arg(limit(e.limits.tpm)).arg(budget).arg(WINDOW_MS).arg(parallel);
        }
        let answer: Vec<String> = self.shared.run(&invocation).await?;
        let number = |i: usize| answer.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "counts Redis kept as integers")]
        let whole = |i: usize| number(i).max(0.0) as u64;
        let figures: Vec<(u64, u64, f64)> =
            (0..entities.len()).map(|i| (whole(3 + 3 * i), whole(4 + 3 * i), number(5 + 3 * i))).collect();
        let (code, which, window_left) = (whole(0), whole(1), whole(2));
        let refusal = match (code, which.checked_sub(1).and_then(|i| entities.get(usize::try_from(i).ok()?))) {
            (1..=4, Some(e)) => {
                let i = usize::try_from(which - 1).unwrap_or(0);
                let (requests, tokens, spend) = figures[i];
                let usage = Usage { spend, requests, tokens, resets_at_ms: None, limits: e.limits };
                let wait_s = window_left.div_ceil(1_000).max(1);
                Some(match code {
                    1 => Error::budget(e, spend, e.limits.max_budget.unwrap_or(0.0)),
                    2 => Error::limited(e, "requests", e.limits.rpm.unwrap_or(0), &usage, (wait_s, now_ms)),
                    3 => Error::limited(e, "tokens", e.limits.tpm.unwrap_or(0), &usage, (wait_s, now_ms)),
                    _ => {
                        let max = u64::from(e.limits.max_parallel.unwrap_or(0));
                        Error::limited(e, "max_parallel_requests", max, &usage, (wait_s, now_ms))
                    }
                })
            }
            _ => None,
        };
        let lease = (refusal.is_none() && !leases.is_empty()).then(|| {
            if let Ok(mut live) = self.live.lock() {
                live.insert(n, leases.clone());
            }
            KeyLease { keys: Arc::clone(self), n, sets: leases }
        });
        Some(Seen { figures, refusal, lease })
    }

    /// Adds a finished call's cost and tokens, off the request's path; spend Redis does not
    /// take is kept for [`flush`].
    pub fn spent(self: &Arc<Self>, entities: &[Entity], cost: f64, tokens: u64, now_ms: u64) {
        let mut keys = Vec::with_capacity(entities.len() * 2);
        let mut ttls = Vec::with_capacity(entities.len());
        for e in entities {
            let (rate, spend, _) = self.names(e, now_ms);
            keys.extend([rate, spend]);
            let ttl =
                e.limits.budget_duration_s.map_or(-1, |d| i64::try_from(d.saturating_mul(2_000)).unwrap_or(i64::MAX));
            ttls.push(ttl);
        }
        let pending = Pending { keys, ttls, cost };
        let this = Arc::clone(self);
        let runtime = tokio::runtime::Handle::try_current();
        match runtime {
            Ok(runtime) if self.is_up() => {
                runtime.spawn(async move {
                    if !this.send(&pending, tokens).await {
                        this.keep(pending);
                    }
                });
            }
            _ => self.keep(pending),
        }
    }

    fn keep(&self, pending: Pending) {
        if pending.cost <= 0.0 {
            return;
        }
        if let Ok(mut list) = self.pending.lock() {
            list.push(pending);
        }
    }

    /// Runs the spend script; whether Redis took it.
    async fn send(&self, pending: &Pending, tokens: u64) -> bool {
        let mut invocation = self.spend.prepare_invoke();
        for key in &pending.keys {
            invocation.key(key);
        }
        invocation.arg(pending.ttls.len()).arg(tokens).arg(pending.cost.to_string()).arg(WINDOW_MS);
        for ttl in &pending.ttls {
            invocation.arg(*ttl);
        }
        self.shared.run::<i64>(&invocation).await.is_some()
    }

    /// Pushes the expiry of this replica's live leases forward, one call per lease set.
    async fn refresh_leases(&self) {
        let mut by_set: HashMap<String, Vec<String>> = HashMap::new();
        if let Ok(live) = self.live.lock() {
            for (n, sets) in live.iter() {
                for set in sets {
                    by_set.entry(set.clone()).or_default().push(format!("{}:{n}", self.replica));
                }
            }
        }
        for (set, ids) in by_set {
            let mut invocation = self.refresh.prepare_invoke();
            invocation.key(set).arg(millis(LEASE_TTL)).arg(ids);
            if self.shared.run::<i64>(&invocation).await.is_none() {
                return;
            }
        }
    }

    /// Spend not yet on Redis, in USD (tests and `/key/info`).
    pub fn pending_cost(&self) -> f64 {
        self.pending.lock().map_or(0.0, |list| list.iter().map(|p| p.cost).sum())
    }
}

/// Adds kept spend once Redis answers again; ends with the gateway.
async fn flush(keys: Weak<SharedKeys>) {
    let mut round = 0u32;
    loop {
        tokio::time::sleep(FLUSH_INTERVAL).await;
        let Some(keys) = keys.upgrade() else { return };
        if !keys.is_up() {
            continue;
        }
        round = (round + 1) % REFRESH_EVERY;
        if round == 0 {
            keys.refresh_leases().await;
        }
        let waiting = keys.pending.lock().map(|mut list| std::mem::take(&mut *list)).unwrap_or_default();
        if waiting.is_empty() {
            continue;
        }
        let total = waiting.len();
        for (sent, pending) in waiting.iter().enumerate() {
            if !keys.send(pending, 0).await {
                for rest in &waiting[sent..] {
                    keys.keep(rest.clone());
                }
                break;
            }
            if sent + 1 == total {
                tracing::info!(spends = total, "spend counted while Redis was away is added");
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
