//! The Redis backing of the shared state: one multiplexed connection (to one node, or to a
//! Redis Cluster: `cluster`), the counting scripts on it with short timeouts, and a watcher
//! task that keeps this replica's leases alive and
//! reconnects after an outage (and reads the routing statistics, see `stats`). While Redis cannot answer, every call here says so (`None`)
//! at once and `state` counts in process instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::{ErrorKind, RedisError, Script};

use super::cluster::{Client, Connection};
use super::config::{Config, client, is_tls};
use super::scripts::{self, Keys};
use super::stats::{Measure, Stats};
use crate::table::Strategy;

/// Longest wait to open a connection (TCP, TLS and AUTH) to Redis.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Longest a request waits on one Redis command before counting in process instead.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a lease lives unless its replica refreshes it: what a killed replica's
/// in-flight calls hold of a parallel limit at most.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the watcher refreshes live leases (a third of their life).
const LEASE_REFRESH: Duration = Duration::from_millis(3_333);
/// How often the watcher tries Redis again while it is away.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// The window `rpm` and `tpm` count in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Which keys a lease is held on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Deployment(u16),
    Global,
}

/// What Redis said about admitting a call.
#[derive(Debug)]
pub enum Verdict {
    /// Admitted; the lease when a parallel limit counts it.
    Admitted(Option<Lease>),
    Cooling(Duration),
    Full(Duration),
}

/// The shared state on one Redis.
pub struct Shared {
    client: Client,
    conn: Mutex<Option<Connection>>,
    up: AtomicBool,
    keys: Vec<Keys>,
    global: Keys,
    replica: String,
    next: AtomicU64,
    live: Mutex<HashMap<u64, Slot>>,
    admit: Script,
    spend: Script,
    refresh: Script,
    read_stats: Script,
    latency: Script,
    fail: Script,
    /// The routing strategy's figures, when it reads any.
    stats: Option<Stats>,
    shown: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("redis", &self.shown).field("up", &self.is_up()).finish_non_exhaustive()
    }
}

/// A held parallel slot on Redis; dropping it releases it (and it expires by itself after
/// [`LEASE_TTL`] if this replica dies first).
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    slot: Slot,
    n: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shared.release(self.slot, self.n);
    }
}

/// Whether `e` means Redis refused the credentials (a configuration error, not an outage).
pub fn is_auth(e: &RedisError) -> bool {
    e.kind() == ErrorKind::AuthenticationFailed || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
}

impl Shared {
    /// Connects to `config`'s Redis for the deployments `ids`. A refused password or TLS
    /// handshake fails;
    /// an unreachable Redis is an outage: the state starts in process and the watcher keeps
    /// trying.
    pub async fn connect(config: &Config, ids: &[&str], strategy: Strategy) -> Result<Arc<Self>, String> {
        let client = client(config)?;
        let replica = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid().to_string();
        let shared = Arc::new(Shared {
            client,
            conn: Mutex::new(None),
            up: AtomicBool::new(false),
            keys: ids.iter().map(|id| Keys::new(&config.prefix, id)).collect(),
            global: Keys::new(&config.prefix, scripts::GLOBAL),
            replica,
            next: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
            admit: Script::new(scripts::ADMIT),
            spend: Script::new(scripts::SPEND),
            refresh: Script::new(scripts::REFRESH),
            read_stats: Script::new(scripts::STATS),
            latency: Script::new(scripts::LATENCY),
            fail: Script::new(scripts::FAIL),
            stats: Measure::of(strategy).map(|m| Stats::new(m, ids.len())),
            shown: config.shown.clone(),
        });
        match shared.open().await {
            Ok(()) => tracing::info!(redis = %shared.shown, "shared state on Redis"),
            Err(Some(e)) if is_auth(&e) => {
                return Err(format!("Redis authentication failed at {}: {e}; check the Redis password", shared.shown));
            }
            Err(Some(e)) if is_tls(&e) => {
                return Err(format!(
                    "Redis TLS handshake failed at {}: {e}; check rediss:// and SSL_CERT_FILE",
                    shared.shown
                ));
            }
            Err(e) => tracing::warn!(
                redis = %shared.shown,
                error = e.map_or_else(|| "timed out".into(), |e| e.to_string()),
                "Redis unreachable at start-up: limits and cooldowns hold per replica until it answers"
            ),
        }
        tokio::spawn(watch(Arc::downgrade(&shared)));
        Ok(shared)
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Opens a new connection and checks it with a PING; `Err(None)` on a timeout.
    async fn open(&self) -> Result<(), Option<RedisError>> {
        let connect = self.client.connect();
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, connect).await.map_err(|_| None)?.map_err(Some)?;
        let ping = redis::cmd("PING");
        // On a cluster, PING goes to every primary: all of them answer before sharing starts.
        tokio::time::timeout(COMMAND_TIMEOUT, conn.query::<String>(&ping)).await.map_err(|_| None)?.map_err(Some)?;
        if let Ok(mut slot) = self.conn.lock() {
            *slot = Some(conn);
        }
        self.up.store(true, Ordering::Release);
        Ok(())
    }

    /// The connection, while Redis is up.
    fn conn(&self) -> Option<Connection> {
        if !self.is_up() {
            return None;
        }
        self.conn.lock().ok()?.clone()
    }

    /// Redis failed a command: count in process from now on, said once.
    fn lost(&self, error: Option<&RedisError>) {
        if self.up.swap(false, Ordering::AcqRel) {
            let error = error.map_or_else(|| "no answer in time".to_owned(), ToString::to_string);
            tracing::warn!(redis = %self.shown, error, "Redis lost: limits and cooldowns hold per replica until it is back");
        }
    }

    /// Runs `invocation` within [`COMMAND_TIMEOUT`]; `None` (and the switch to local state)
    /// on any failure.
    pub(crate) async fn run<T: redis::FromRedisValue>(&self, invocation: &redis::ScriptInvocation<'_>) -> Option<T> {
        let mut conn = self.conn()?;
        self.settle(tokio::time::timeout(COMMAND_TIMEOUT, conn.invoke::<T>(invocation)).await)
    }

    /// Runs one plain command within [`COMMAND_TIMEOUT`]; `None` (and the switch to local
    /// state) on any failure, at once while Redis is away.
    pub(crate) async fn command<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Option<T> {
        let mut conn = self.conn()?;
        self.settle(tokio::time::timeout(COMMAND_TIMEOUT, conn.query::<T>(command)).await)
    }

    /// A bounded command's value; a failure or a timeout switches to local state.
    fn settle<T>(&self, outcome: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>) -> Option<T> {
        match outcome {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.lost(Some(&e));
                None
            }
            Err(_) => {
                self.lost(None);
                None
            }
        }
    }

    fn keys(&self, slot: Slot) -> &Keys {
        match slot {
            Slot::Deployment(i) => self.keys.get(usize::from(i)).unwrap_or(&self.global),
            Slot::Global => &self.global,
        }
    }

    /// Admits a call on `slot` against its limits (`None`: no limit) and cooldown, in one
    /// round trip; `None` when Redis cannot say.
    pub async fn admit(
        self: &Arc<Self>,
        slot: Slot,
        rpm: Option<u64>,
        tpm: Option<u64>,
        max_parallel: Option<u32>,
    ) -> Option<Verdict> {
        let limit = |n: Option<u64>| n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let counted = match slot {
            Slot::Deployment(i) => self.stats.as_ref().filter(|s| s.measure == Measure::InFlight).map(|s| (s, i)),
            Slot::Global => None,
        };
        let keys = self.keys(slot);
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}:{n}", self.replica);
        let mut invocation = self.admit.key(&keys.rate);
        invocation.key(&keys.lease).key(&keys.cool);
        invocation
            .arg(limit(rpm))
            .arg(limit(tpm))
            .arg(limit(max_parallel.map(u64::from)))
            .arg(&id)
            .arg(millis(LEASE_TTL))
            .arg(millis(WINDOW))
            .arg(if counted.is_some() { "1" } else { "0" });
        let (code, ms): (u8, i64) = self.run(&invocation).await?;
        let wait = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        Some(match code {
            0 if max_parallel.is_some() || counted.is_some() => {
                if let Ok(mut live) = self.live.lock() {
                    live.insert(n, slot);
                }
                if let Some((stats, i)) = counted {
                    stats.own(i, 1);
                }
                Verdict::Admitted(Some(Lease { shared: Arc::clone(self), slot, n }))
            }
            0 => Verdict::Admitted(None),
            1 => Verdict::Cooling(wait),
            _ => Verdict::Full(wait),
        })
    }

    /// Whether the routing strategy reads tokens from here.
    pub fn counts_tokens(&self) -> bool {
        self.stats.as_ref().is_some_and(|s| s.measure == Measure::Tokens)
    }

    /// The routing strategy's figure `measure` for deployment `i` on every replica, once read.
    pub fn stat(&self, i: u16, measure: Measure) -> Option<u64> {
        self.stats.as_ref().filter(|s| s.measure == measure)?.get(i)
    }

    /// Counts `tokens` against deployment `i`'s `tpm` (and usage), off the request's path.
    pub fn spent(self: &Arc<Self>, i: u16, tokens: u64) {
        if let Some(stats) = self.stats.as_ref().filter(|s| s.measure == Measure::Tokens) {
            stats.own(i, i64::try_from(tokens).unwrap_or(i64::MAX));
        }
        let shared = Arc::clone(self);
        spawn(async move {
            let keys = shared.keys(Slot::Deployment(i));
            let mut invocation = shared.spend.key(&keys.rate);
            invocation.arg(tokens).arg(millis(WINDOW));
            let _: Option<i64> = shared.run(&invocation).await;
        });
    }

    /// Folds a time to response head into deployment `i`'s shared average (latency-based),
    /// off the request's path.
    pub fn observed(self: &Arc<Self>, i: u16, latency: Duration) {
        if self.stats.as_ref().is_none_or(|s| s.measure != Measure::Latency) {
            return;
        }
        let sample = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        let shared = Arc::clone(self);
        spawn(async move {
            let mut invocation = shared.latency.key(&shared.keys(Slot::Deployment(i)).rate);
            invocation.arg(sample).arg(crate::limits::LATENCY_NEW_EIGHTHS);
            let _: Option<u64> = shared.run(&invocation).await;
        });
    }

    /// Reads every deployment's figure for the routing strategy (by the watcher).
    async fn read_stats(&self) {
        let Some(stats) = &self.stats else { return };
        for (i, keys) in (0..).zip(&self.keys) {
            let mut invocation = self.read_stats.key(&keys.rate);
            invocation.key(&keys.lease).arg(millis(WINDOW));
            let Some((flight, tokens, latency)) = self.run::<(u64, u64, u64)>(&invocation).await else { return };
            stats.read(
                i,
                match stats.measure {
                    Measure::InFlight => flight,
                    Measure::Tokens => tokens,
                    Measure::Latency => latency,
                },
            );
        }
    }

    /// Starts deployment `i`'s cooldown for everyone (unless one is running), off the path.
    pub fn cool(self: &Arc<Self>, i: u16, rest: Duration) {
        let shared = Arc::clone(self);
        spawn(async move {
            let key = &shared.keys(Slot::Deployment(i)).cool;
            let set = redis::cmd("SET").arg(key).arg(1).arg("PX").arg(millis(rest).max(1)).arg("NX").to_owned();
            let _: Option<redis::Value> = shared.command(&set).await;
        });
    }

    /// Counts a failed attempt on deployment `i` for every replica, off the request path:
    /// past `allowed` failures in the cooldown window, Redis cools it for `rest` (seen by
    /// every replica's next admission).
    pub fn failed(self: &Arc<Self>, i: u16, allowed: u32, rest: Duration) {
        let shared = Arc::clone(self);
        spawn(async move {
            let keys = shared.keys(Slot::Deployment(i));
            let mut invocation = shared.fail.key(&keys.fails);
            invocation.key(&keys.cool).arg(allowed).arg(millis(crate::cooldown::WINDOW)).arg(millis(rest).max(1));
            let _: Option<i64> = shared.run(&invocation).await;
        });
    }

    fn release(self: &Arc<Self>, slot: Slot, n: u64) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&n);
        }
        if let (Some(stats), Slot::Deployment(i)) =
            (self.stats.as_ref().filter(|s| s.measure == Measure::InFlight), slot)
        {
            stats.own(i, -1);
        }
        let shared = Arc::clone(self);
        spawn(async move {
            let Some(mut conn) = shared.conn() else { return };
            let id = format!("{}:{n}", shared.replica);
            let zrem = redis::cmd("ZREM").arg(&shared.keys(slot).lease).arg(id).to_owned();
            if let Ok(Err(e)) = tokio::time::timeout(COMMAND_TIMEOUT, conn.query::<redis::Value>(&zrem)).await {
                shared.lost(Some(&e));
            }
        });
    }

    /// Pushes every live lease's expiry forward, one script call per slot.
    async fn refresh_leases(&self) {
        let mut by_slot: HashMap<Slot, Vec<String>> = HashMap::new();
        if let Ok(live) = self.live.lock() {
            for (n, slot) in live.iter() {
                by_slot.entry(*slot).or_default().push(format!("{}:{n}", self.replica));
            }
        }
        for (slot, ids) in by_slot {
            let mut invocation = self.refresh.key(&self.keys(slot).lease);
            invocation.arg(millis(LEASE_TTL)).arg(ids);
            if self.run::<i64>(&invocation).await.is_none() {
                return;
            }
        }
    }
}

/// Keeps leases alive while Redis is up and reconnects while it is not; ends with the gateway.
async fn watch(shared: Weak<Shared>) {
    let mut since_refresh = Duration::ZERO;
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        since_refresh += PROBE_INTERVAL;
        let Some(shared) = shared.upgrade() else { return };
        if shared.is_up() {
            if since_refresh >= LEASE_REFRESH {
                since_refresh = Duration::ZERO;
                shared.refresh_leases().await;
            }
            shared.read_stats().await;
        } else if shared.open().await.is_ok() {
            tracing::info!(redis = %shared.shown, "Redis is back: limits and cooldowns are shared again");
            shared.refresh_leases().await;
        }
    }
}

/// Runs `task` on the current runtime, if there is one (a lease dropped outside it expires).
fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(task);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
