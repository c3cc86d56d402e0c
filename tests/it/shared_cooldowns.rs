//! Cooldowns of every replica followed through Redis pub/sub (issue 14, item 5): a
//! deployment without limits is admitted with no round trip to Redis, yet one cooled on
//! another replica, or while this replica's subscriber was away, is still skipped; a
//! deployment with limits still costs exactly one `EVALSHA`. Counted on the server with
//! `INFO commandstats`.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use common::redis::RedisServer;
use common::shared::{eventually, pair, replica, status, upstream, upstream_models};
use http::StatusCode;
use model_router::server::Running;
use model_router::state::scripts::Keys;
use model_router::table::fixtures;
use redis::aio::MultiplexedConnection;
use tokio::sync::Notify;

/// `pair`'s first deployment (`openai/flaky`, answers 429) in the `shared` fixture.
const FLAKY: u16 = 4;

/// What the admission script runs inside its one `EVALSHA` (`INFO commandstats` counts
/// them too).
const ADMIT_CALLS: &[&str] =
    &["time", "pttl", "hmget", "hset", "hincrby", "pexpire", "zremrangebyscore", "zcard", "zadd"];

/// How many times Redis ran each command so far, the test's own `INFO` left out (`conn`
/// is open already, so its `AUTH` and `PING` are not counted either).
async fn served(conn: &mut MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await.unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?.parse().ok()?;
            (name != "info").then(|| (name.to_owned(), calls))
        })
        .collect()
}

/// The commands Redis ran between two [`served`] readings.
fn between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

/// Waits until `gw` is subscribed and has read every cooldown.
async fn in_step(gw: &Running) {
    let state = &gw.gateway.books.state;
    eventually("the replica follows the cooldowns", || async { state.cooldowns_in_step() == Some(true) }).await;
}

/// Waits until `gw` knows that `pair`'s flaky deployment rests.
async fn knows_flaky_rests(gw: &Running) {
    let state = &gw.gateway.books.state;
    eventually("the replica knows flaky rests", || async { state.remaining(FLAKY, Instant::now()).is_some() }).await;
}

#[tokio::test]
async fn a_deployment_without_limits_costs_no_round_trip_and_one_with_rpm_exactly_one() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let a = replica(&mock, redis.port, &redis.password).await;
    let mut conn = redis.connection().await.unwrap();
    in_step(&a).await;
    // The first limited call loads the script; the one measured below finds it loaded.
    assert_eq!(status(&a, "three-a-minute").await, StatusCode::OK);
    let start = served(&mut conn).await;
    assert_eq!(status(&a, "free").await, StatusCode::OK);
    let free = served(&mut conn).await;
    assert_eq!(between(&start, &free), BTreeMap::new(), "nothing reached Redis for a call without limits");
    assert_eq!(status(&a, "three-a-minute").await, StatusCode::OK);
    let limited = served(&mut conn).await;
    let limited = between(&free, &limited);
    assert_eq!(limited.get("evalsha"), Some(&1), "one round trip with rpm: {limited:?}");
    let inside = limited.keys().filter(|c| *c != "evalsha").find(|c| !ADMIT_CALLS.contains(&c.as_str()));
    assert_eq!(inside, None, "nothing but the admission script's own commands: {limited:?}");
    assert_eq!(upstream_models(&mock), ["rpm", "free", "rpm"]);
}

#[tokio::test]
async fn a_deployment_cooled_on_one_replica_is_skipped_by_the_other_with_no_round_trip() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    let mut conn = redis.connection().await.unwrap();
    in_step(&a).await;
    in_step(&b).await;
    assert_eq!(status(&a, "pair").await, StatusCode::TOO_MANY_REQUESTS, "flaky serves first and fails");
    knows_flaky_rests(&b).await;
    let start = served(&mut conn).await;
    for _ in 0..3 {
        assert_eq!(status(&b, "pair").await, StatusCode::OK);
    }
    assert_eq!(between(&start, &served(&mut conn).await), BTreeMap::new(), "b asked Redis nothing");
    assert_eq!(upstream_models(&mock), ["flaky", "steady", "steady", "steady"], "b never called the cooled one");
}

#[tokio::test]
async fn a_cooldown_the_subscriber_missed_holds_once_it_subscribes_again() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let b = replica(&mock, redis.port, &redis.password).await;
    in_step(&b).await;
    // A cooldown b was never told of (set with no announcement, as one announced while its
    // subscriber was away), then b's subscription is cut.
    let mut conn = redis.connection().await.unwrap();
    let cool = Keys::new("model-router:", fixtures::shared::TABLE.deployments[usize::from(FLAKY)].id).cool;
    let _: () = redis::cmd("SET").arg(&cool).arg(1).arg("PX").arg(30_000).query_async(&mut conn).await.unwrap();
    let state = &b.gateway.books.state;
    assert_eq!(state.remaining(FLAKY, Instant::now()), None, "nothing announced it");
    let killed: u64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut conn).await.unwrap();
    assert_eq!(killed, 1, "b's subscription");
    knows_flaky_rests(&b).await;
    in_step(&b).await;
    let start = served(&mut conn).await;
    for _ in 0..3 {
        assert_eq!(status(&b, "pair").await, StatusCode::OK);
    }
    assert_eq!(between(&start, &served(&mut conn).await), BTreeMap::new(), "b asked Redis nothing");
    assert_eq!(upstream_models(&mock), ["steady", "steady", "steady"], "b never called the cooled one");
}

#[tokio::test]
async fn after_a_redis_restart_the_subscriber_follows_again() {
    let mut redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    in_step(&b).await;
    redis.stop();
    let state = &b.gateway.books.state;
    eventually("b sees its subscription end", || async { state.cooldowns_in_step() == Some(false) }).await;
    assert_eq!(status(&b, "free").await, StatusCode::OK, "answered while Redis is away");
    redis.restart().await;
    in_step(&a).await;
    in_step(&b).await;
    assert_eq!(status(&a, "pair").await, StatusCode::TOO_MANY_REQUESTS, "flaky serves first and fails");
    knows_flaky_rests(&b).await;
    let mut conn = redis.connection().await.unwrap();
    let start = served(&mut conn).await;
    assert_eq!(status(&b, "pair").await, StatusCode::OK);
    assert_eq!(between(&start, &served(&mut conn).await), BTreeMap::new(), "b asked Redis nothing");
    assert_eq!(upstream_models(&mock), ["free", "flaky", "steady"]);
}
