//! State shared across replicas on a real Redis (issue 14): two or more gateways in this
//! process use one redis-server the test starts, and `rpm`, `tpm`, `max_parallel_requests`,
//! `global_max_parallel_requests`, cooldowns and least-busy's calls in flight hold for all of
//! them together. Outages, TLS and start-up: tests/it/shared_outage.rs.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::shared::{
    ask, eventually, gauge, hold, pair, replica, six_alternately, start, status, upstream, upstream_models,
};
use common::{get, post};
use http::StatusCode;
use http_body_util::BodyExt;
use model_router::state::scripts::Keys;
use model_router::table::fixtures;
use serde_json::json;
use tokio::sync::Notify;

#[tokio::test]
async fn rpm_counts_every_replica_alternately_asked() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    let statuses = six_alternately(&a, &b, "three-a-minute").await;
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429], "rpm: 3 for both replicas together");
    assert_eq!(upstream_models(&mock), ["rpm", "rpm", "rpm"], "the refused never reached the provider");
    assert_eq!(gauge(&a).await, Some(1));
    let ready = get(&b, "/health/readiness", None).await;
    assert_eq!((ready.status, ready.json()["redis"].clone()), (StatusCode::OK, json!("connected")));
}

#[tokio::test]
async fn tpm_stops_both_replicas_once_the_tokens_are_spent() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    assert_eq!(status(&a, "few-tokens").await, StatusCode::OK);
    assert_eq!(status(&b, "few-tokens").await, StatusCode::OK);
    // Tokens are counted when each call ends, just after its answer: wait for both (6 + 6).
    let mut conn = redis.connection().await.unwrap();
    let rate = Keys::new("model-router:", fixtures::shared::TABLE.deployments[1].id).rate;
    eventually("12 tokens counted", || {
        let mut conn = conn.clone();
        let rate = rate.clone();
        async move {
            redis::cmd("HGET").arg(&rate).arg("t").query_async::<Option<u64>>(&mut conn).await.unwrap() == Some(12)
        }
    })
    .await;
    assert_eq!(status(&a, "few-tokens").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status(&b, "few-tokens").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(upstream_models(&mock), ["tpm", "tpm"]);
    let _: () = redis::cmd("DEL").arg(&rate).query_async(&mut conn).await.unwrap();
    assert_eq!(status(&b, "few-tokens").await, StatusCode::OK, "Redis, not the replica, held the count");
}

#[tokio::test]
async fn max_parallel_requests_admits_two_in_flight_in_total() {
    let redis = RedisServer::start().await;
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let (a, b) = pair(&mock, &redis).await;
    let first = hold(&a, "two-at-a-time").await;
    let second = hold(&b, "two-at-a-time").await;
    let third = post(&a, "/v1/chat/completions", None, &ask("two-at-a-time", false)).await;
    assert_eq!((third.status, third.header("retry-after")), (StatusCode::TOO_MANY_REQUESTS, Some("1")));
    assert_eq!(status(&b, "two-at-a-time").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(mock.requests().len(), 2);
    gate.notify_waiters();
    first.collect().await.unwrap();
    second.collect().await.unwrap();
    eventually("the leases come back when the streams end", || async {
        status(&b, "two-at-a-time").await == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn a_dead_replicas_lease_is_released_by_its_expiry() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let a = replica(&mock, redis.port, &redis.password).await;
    // A replica killed mid-request leaves its lease, which nobody refreshes any more.
    let mut conn = redis.connection().await.unwrap();
    let lease = Keys::new("model-router:", "shared-serial").lease;
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let expiry = secs * 1000 + micros / 1000 + 1_500;
    let _: () =
        redis::cmd("ZADD").arg(&lease).arg(expiry).arg("killed-replica:0").query_async(&mut conn).await.unwrap();
    assert_eq!(status(&a, "one-at-a-time").await, StatusCode::TOO_MANY_REQUESTS, "the dead replica's call counts");
    assert!(mock.requests().is_empty());
    tokio::time::sleep(Duration::from_millis(1_600)).await; // the lease's life, the window under test
    assert_eq!(status(&a, "one-at-a-time").await, StatusCode::OK, "its lease expired by itself");
    assert_eq!(upstream_models(&mock), ["serial"]);
}

#[tokio::test]
async fn a_deployment_cooled_on_one_replica_gets_nothing_from_the_other() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    assert_eq!(status(&a, "pair").await, StatusCode::TOO_MANY_REQUESTS, "flaky serves first and fails");
    let mut conn = redis.connection().await.unwrap();
    let cool = Keys::new("model-router:", fixtures::shared::TABLE.deployments[4].id).cool;
    eventually("the cooldown reaches Redis", || {
        let (mut conn, cool) = (conn.clone(), cool.clone());
        async move { redis::cmd("PTTL").arg(&cool).query_async::<i64>(&mut conn).await.unwrap() > 0 }
    })
    .await;
    // b admits this deployment (it has no limits) without asking Redis: it knows of the
    // cooldown once the announcement reaches its subscriber.
    let state = &b.gateway.books.state;
    eventually("b hears of the cooldown", || async { state.remaining(4, Instant::now()).is_some() }).await;
    for _ in 0..3 {
        assert_eq!(status(&b, "pair").await, StatusCode::OK);
    }
    assert_eq!(upstream_models(&mock), ["flaky", "steady", "steady", "steady"], "b never called the cooled one");
    let _: () = redis::cmd("DEL").arg(&cool).query_async(&mut conn).await.unwrap();
}

#[tokio::test]
async fn failures_spread_over_replicas_add_up_to_a_cooldown_for_all() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    // Four failures a minute cool a deployment that has another beside it; each replica sees
    // only two of them.
    for replica in [&a, &b, &a, &b] {
        assert_eq!(status(replica, "fragile").await, StatusCode::INTERNAL_SERVER_ERROR, "broken serves first");
    }
    let mut conn = redis.connection().await.unwrap();
    let keys = Keys::new("model-router:", "shared-broken");
    eventually("the fourth failure cools it on Redis", || {
        let (mut conn, cool) = (conn.clone(), keys.cool.clone());
        async move { redis::cmd("PTTL").arg(&cool).query_async::<i64>(&mut conn).await.unwrap() > 0 }
    })
    .await;
    let fails: Option<u64> = redis::cmd("GET").arg(&keys.fails).query_async(&mut conn).await.unwrap();
    assert_eq!(fails, None, "the count starts again once it cooled");
    // Both admit this deployment (it has no limits) without asking Redis: each knows of the
    // cooldown once the announcement reaches its subscriber.
    let broken = fixtures::shared::TABLE.deployments.iter().position(|d| d.id == "shared-broken").unwrap();
    let broken = u16::try_from(broken).unwrap();
    for state in [&a.gateway.books.state, &b.gateway.books.state] {
        eventually("the replica hears of the cooldown", || async { state.remaining(broken, Instant::now()).is_some() })
            .await;
    }
    for replica in [&a, &b, &a] {
        assert_eq!(status(replica, "fragile").await, StatusCode::OK);
    }
    assert_eq!(upstream_models(&mock), ["broken", "broken", "broken", "broken", "steady", "steady", "steady"]);
}

#[tokio::test]
async fn global_max_parallel_requests_counts_every_replica_through_redis_url() {
    let redis = RedisServer::start().await;
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let (base, url) = (mock.base(), redis.url());
    let vars = [("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k"), ("REDIS_URL", url.as_str())];
    let (a, b) = (start(&fixtures::shared_env::TABLE, &vars).await, start(&fixtures::shared_env::TABLE, &vars).await);
    let first = hold(&a, "open").await;
    let second = hold(&b, "open").await;
    let third = post(&a, "/v1/chat/completions", None, &ask("open", false)).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(third.json()["error"]["message"].as_str().unwrap().contains("global_max_parallel_requests (2)"));
    assert_eq!(mock.requests().len(), 2);
    gate.notify_waiters();
    first.collect().await.unwrap();
    second.collect().await.unwrap();
    eventually("the global leases come back", || async { status(&b, "open").await == StatusCode::OK }).await;
}

#[tokio::test]
async fn a_live_replica_keeps_refreshing_its_lease_and_drops_it_at_the_end() {
    let redis = RedisServer::start().await;
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let a = replica(&mock, redis.port, &redis.password).await;
    let body = hold(&a, "one-at-a-time").await;
    let conn = redis.connection().await.unwrap();
    let lease = Keys::new("model-router:", "shared-serial").lease;
    let expiries = |conn: redis::aio::MultiplexedConnection, lease: String| async move {
        let mut conn = conn;
        redis::cmd("ZRANGE")
            .arg(&lease)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async::<Vec<(String, u64)>>(&mut conn)
            .await
            .unwrap()
    };
    let first = expiries(conn.clone(), lease.clone()).await;
    assert_eq!(first.len(), 1, "one lease while the stream is open: {first:?}");
    // The lease lives 10 s unless refreshed; a refresh (every 3.3 s) pushes its expiry on.
    eventually("the lease is refreshed", || {
        let (conn, lease, first) = (conn.clone(), lease.clone(), first[0].clone());
        async move { expiries(conn, lease).await.first().is_some_and(|(id, expiry)| *id == first.0 && *expiry > first.1) }
    })
    .await;
    gate.notify_waiters();
    body.collect().await.unwrap();
    eventually("the lease is released when the stream ends", || {
        let (conn, lease) = (conn.clone(), lease.clone());
        async move { expiries(conn, lease).await.is_empty() }
    })
    .await;
}

#[tokio::test]
async fn least_busy_counts_the_calls_in_flight_on_every_replica() {
    let redis = RedisServer::start().await;
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let (base, url) = (mock.base(), redis.url());
    let vars = [("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k"), ("REDIS_URL", url.as_str())];
    let (a, b) = (start(&fixtures::shared_busy::TABLE, &vars).await, start(&fixtures::shared_busy::TABLE, &vars).await);
    // Of two idle deployments least-busy takes the first: a's stream holds openai/a.
    let held = hold(&a, "pair").await;
    assert_eq!(upstream_models(&mock), ["a"]);
    // b learns of it from Redis (read every half second) and sends its calls to the other.
    eventually("b picks the idle deployment", || async {
        status(&b, "pair").await == StatusCode::OK && upstream_models(&mock).last().is_some_and(|m| m == "b")
    })
    .await;
    gate.notify_waiters();
    held.collect().await.unwrap();
}

#[tokio::test]
async fn usage_based_routing_counts_the_tokens_of_every_replica() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (base, url) = (mock.base(), redis.url());
    let vars = [("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k"), ("REDIS_URL", url.as_str())];
    let (a, b) =
        (start(&fixtures::shared_usage::TABLE, &vars).await, start(&fixtures::shared_usage::TABLE, &vars).await);
    // Of two unused deployments the first serves; its 6 tokens count on Redis.
    assert_eq!(status(&a, "pair").await, StatusCode::OK);
    assert_eq!(upstream_models(&mock), ["a"]);
    let state = &b.gateway.books.state;
    eventually("b reads a's tokens from Redis", || async { state.minute_tokens(0, Instant::now()) == 6 }).await;
    assert_eq!(status(&b, "pair").await, StatusCode::OK);
    assert_eq!(upstream_models(&mock), ["a", "b"], "b's first call goes to the deployment with fewer tokens");
}
