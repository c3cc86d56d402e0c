//! Cooldowns set by any replica, known in this process without asking Redis: one subscriber
//! task per replica listens on the cooldowns channel (`scripts::COOL` and `scripts::FAIL`
//! announce each cooldown they start there) and, on every (re)subscribe and every
//! [`RESYNC`], re-reads every deployment's `cool` key (`PTTL`, one pipeline), so a cooldown
//! announced while it was away is not missed. What it hears lands in `crate::cooldown`,
//! which `pick` reads; while it is in step ([`Heard::in_step`]) `state` admits deployments
//! without limits there, with no round trip, and while it is not their admission goes
//! through Redis as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_core::Stream;
use redis::aio::{PubSubSink, PubSubStream};

use super::redis::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, Shared};
use crate::cooldown::Cooldowns;

/// Pause before subscribing again after the subscription was lost or could not be made.
const RETRY: Duration = Duration::from_millis(500);
/// How often a live subscription is checked (a PING on it) and every cooldown re-read: the
/// longest a cooldown set without an announcement (by a replica of an older release) goes
/// unseen by the deployments admitted here.
pub const RESYNC: Duration = Duration::from_secs(30);
/// Longest announcement read (`<ms> <cool key>`); anything longer is not ours.
const MAX_MESSAGE: usize = 4_096;

/// Whether this replica's copy of every replica's cooldowns is in step with Redis.
#[derive(Debug, Default)]
pub struct Heard {
    in_step: AtomicBool,
}

impl Heard {
    /// `true` while subscribed and re-read since the last (re)subscribe.
    pub fn in_step(&self) -> bool {
        self.in_step.load(Ordering::Acquire)
    }

    fn set(&self, in_step: bool) {
        if self.in_step.swap(in_step, Ordering::AcqRel) != in_step {
            tracing::debug!(in_step, "cooldowns of every replica followed through Redis pub/sub");
        }
    }
}

/// Starts following `shared`'s cooldown announcements into `cooldowns` (on the current
/// runtime, if there is one); the task ends with the gateway.
pub fn listen(shared: &Arc<Shared>, cooldowns: Arc<Cooldowns>) -> Arc<Heard> {
    let heard = Arc::new(Heard::default());
    let index = shared.cool_keys().zip(0u16..).map(|(key, i)| (key.to_owned(), i)).collect();
    let listener = Listener { shared: Arc::downgrade(shared), cooldowns, heard: Arc::clone(&heard), index };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(listener.run());
    }
    heard
}

/// The subscriber task's state.
struct Listener {
    shared: Weak<Shared>,
    cooldowns: Arc<Cooldowns>,
    heard: Arc<Heard>,
    /// Deployment by `cool` key.
    index: HashMap<String, u16>,
}

impl Listener {
    async fn run(self) {
        loop {
            let Some(shared) = self.shared.upgrade() else { return };
            let subscribed = self.subscribe(&shared).await;
            drop(shared);
            if let Some((sink, stream)) = subscribed {
                self.follow(sink, stream).await;
            }
            self.heard.set(false);
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Subscribes, then re-reads every cooldown (so none announced before is missed);
    /// `None` when Redis did not let it, within the usual timeouts.
    async fn subscribe(&self, shared: &Shared) -> Option<(PubSubSink, PubSubStream)> {
        let mut pubsub = settled(tokio::time::timeout(CONNECT_TIMEOUT, shared.pubsub()).await)?;
        settled(tokio::time::timeout(COMMAND_TIMEOUT, pubsub.subscribe(shared.channel())).await)?;
        self.reread(shared).await?;
        self.heard.set(true);
        Some(pubsub.split())
    }

    /// Applies announcements until the subscription ends or a check of it fails.
    async fn follow(&self, mut sink: PubSubSink, mut stream: PubSubStream) {
        let mut check = tokio::time::interval_at(tokio::time::Instant::now() + RESYNC, RESYNC);
        loop {
            tokio::select! {
                message = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)) => match message {
                    Some(message) => self.apply(message.get_payload_bytes(), Instant::now()),
                    None => return,
                },
                _ = check.tick() => {
                    let alive = tokio::time::timeout(COMMAND_TIMEOUT, sink.ping::<redis::Value>()).await;
                    let Some(shared) = self.shared.upgrade().filter(|_| matches!(alive, Ok(Ok(_)))) else { return };
                    if self.reread(&shared).await.is_none() {
                        return;
                    }
                }
            }
        }
    }

    /// Reads how long each deployment still rests on Redis, in one pipeline.
    async fn reread(&self, shared: &Shared) -> Option<()> {
        let mut pipe = redis::pipe();
        for key in shared.cool_keys() {
            pipe.cmd("PTTL").arg(key);
        }
        if self.index.is_empty() {
            return Some(());
        }
        let left: Vec<i64> = shared.pipeline(&pipe).await?;
        let now = Instant::now();
        for (i, ms) in (0u16..).zip(left) {
            if let Ok(ms @ 1..) = u64::try_from(ms) {
                self.cooldowns.rest(i, now + Duration::from_millis(ms));
            }
        }
        Some(())
    }

    /// One announcement, `<ms> <cool key>`; others (another environment's deployments on
    /// the same prefix, or anything malformed) are ignored.
    fn apply(&self, payload: &[u8], now: Instant) {
        if let Some((i, rest)) = parse(payload, &self.index) {
            self.cooldowns.rest(i, now + rest);
        }
    }
}

/// A subscription step's value; a failure is logged (at debug: the outage itself is
/// logged once by `redis`), a timeout is not.
fn settled<T>(outcome: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>) -> Option<T> {
    match outcome {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::debug!(%error, "cannot subscribe to cooldowns; admitting through Redis meanwhile");
            None
        }
        Err(_) => None,
    }
}

/// The deployment and rest an announcement names, if it is one of ours.
fn parse(payload: &[u8], index: &HashMap<String, u16>) -> Option<(u16, Duration)> {
    if payload.len() > MAX_MESSAGE {
        return None;
    }
    let (ms, key) = std::str::from_utf8(payload).ok()?.split_once(' ')?;
    Some((*index.get(key)?, Duration::from_millis(ms.parse().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_names_one_known_deployment_and_its_rest() {
        let index = HashMap::from([("p:v1:{a}:cool".to_owned(), 3)]);
        assert_eq!(parse(b"30000 p:v1:{a}:cool", &index), Some((3, Duration::from_secs(30))));
        assert_eq!(parse(b"30000 p:v1:{b}:cool", &index), None, "another environment's deployment");
        assert_eq!(parse(b"soon p:v1:{a}:cool", &index), None);
        assert_eq!(parse(b"30000", &index), None);
        let long = format!("1 {}", "x".repeat(MAX_MESSAGE));
        assert_eq!(parse(long.as_bytes(), &index), None);
    }
}
