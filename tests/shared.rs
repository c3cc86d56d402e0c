//! State shared across replicas on a real Redis (issue 14): two or more gateways in this
//! process use one redis-server the test starts, and `rpm`, `tpm`, `max_parallel_requests`,
//! `global_max_parallel_requests` and cooldowns hold for all of them together; a Redis that
//! stops, freezes or is unreachable never fails a request, and a wrong password stops the
//! gateway from starting.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::mock::{self, Answer, Mock};
use common::redis::RedisServer;
use common::{get, open, post};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use model_router::gateway::Gateway;
use model_router::server::Running;
use model_router::settings::Settings;
use model_router::state::redis::COMMAND_TIMEOUT;
use model_router::state::scripts::Keys;
use model_router::table::{Table, fixtures};
use serde_json::{Value, json};
use tokio::sync::Notify;

const PROMPTLY: Duration = Duration::from_secs(10);
/// Longest a request may take while Redis is down or frozen: the command timeout (200 ms)
/// and a margin for a loaded test machine.
const WITHIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Answers JSON with 6 tokens of usage, 429 for `flaky`, and streams held at `gate`.
async fn upstream(gate: Arc<Notify>) -> Mock {
    mock::start(move |seen| {
        let model = seen.json()["model"].as_str().unwrap_or_default().to_owned();
        if model == "flaky" {
            let body = json!({ "error": { "message": "slow down", "type": "rate_limit" } }).to_string();
            return Answer::Json { status: 429, body, headers: vec![] };
        }
        if seen.json()["stream"] == true {
            let chunk = json!({ "object": "chat.completion.chunk", "model": model, "choices": [{ "index": 0, "delta": { "content": "x" } }] });
            return Answer::Sse { events: vec![chunk.to_string(), "[DONE]".into()], gate: Some(Arc::clone(&gate)) };
        }
        let usage = json!({ "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6 });
        Answer::ok(&json!({ "object": "chat.completion", "model": model, "choices": [], "usage": usage }))
    })
    .await
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let mut settings = Settings::from_vars(vars).unwrap();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.drain = Duration::from_secs(5);
    settings
}

/// A replica of the `shared` fixture on `redis` (or on a Redis at `port` nobody runs).
async fn replica(mock: &Mock, port: u16, password: &str) -> Running {
    let (base, port) = (mock.base(), port.to_string());
    let vars = [
        ("MOCK_BASE", base.as_str()),
        ("MOCK_KEY", "k"),
        ("TEST_REDIS_HOST", "127.0.0.1"),
        ("TEST_REDIS_PORT", port.as_str()),
        ("TEST_REDIS_PASSWORD", password),
    ];
    start(&fixtures::shared::TABLE, &vars).await
}

async fn start(table: &'static Table, vars: &[(&str, &str)]) -> Running {
    Running::start(Gateway::start(table, settings(vars)).await.expect("gateway")).await.expect("listen")
}

async fn pair(mock: &Mock, redis: &RedisServer) -> (Running, Running) {
    (replica(mock, redis.port, &redis.password).await, replica(mock, redis.port, &redis.password).await)
}

fn ask(model: &str, stream: bool) -> Value {
    json!({ "model": model, "stream": stream, "messages": [{ "role": "user", "content": "hi" }] })
}

async fn status(gw: &Running, model: &str) -> StatusCode {
    post(gw, "/v1/chat/completions", None, &ask(model, false)).await.status
}

/// Opens a stream and waits for its first chunk, so its slot is surely taken.
async fn hold(gw: &Running, model: &str) -> hyper::body::Incoming {
    let body = ask(model, true).to_string();
    let response = open(gw, Method::POST, "/v1/chat/completions", &[("content-type", "application/json")], body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    tokio::time::timeout(PROMPTLY, body.frame()).await.expect("first chunk").unwrap().unwrap();
    body
}

/// The `model_router_redis_connected` value on `/metrics`.
async fn gauge(gw: &Running) -> Option<u8> {
    let page = get(gw, "/metrics", None).await.text();
    page.lines().find_map(|l| l.strip_prefix("model_router_redis_connected ")).map(|v| v.parse().unwrap())
}

/// Waits until `check` holds, trying again every few milliseconds (an outside process's
/// state, not a notification the test could wait on).
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + PROMPTLY;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {PROMPTLY:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn upstream_models(mock: &Mock) -> Vec<String> {
    mock.requests().iter().map(|s| s.json()["model"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn rpm_counts_every_replica_alternately_asked() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let reply =
            post(if i % 2 == 0 { &a } else { &b }, "/v1/chat/completions", None, &ask("three-a-minute", false)).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            let wait = reply.header("retry-after").and_then(|s| s.parse::<u64>().ok());
            assert!(wait.is_some_and(|s| (1..=60).contains(&s)), "retry-after: {:?}", reply.header("retry-after"));
        }
        statuses.push(reply.status.as_u16());
    }
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
    for _ in 0..3 {
        assert_eq!(status(&b, "pair").await, StatusCode::OK);
    }
    assert_eq!(upstream_models(&mock), ["flaky", "steady", "steady", "steady"], "b never called the cooled one");
    let _: () = redis::cmd("DEL").arg(&cool).query_async(&mut conn).await.unwrap();
}

#[tokio::test]
async fn a_stopped_redis_fails_no_request_and_sharing_resumes_when_it_is_back() {
    let mut redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    redis.stop();
    for gw in [&a, &b, &a, &b] {
        let asked = Instant::now();
        assert_eq!(status(gw, "two-at-a-time").await, StatusCode::OK);
        assert!(asked.elapsed() < WITHIN_TIMEOUT, "answered in {:?}", asked.elapsed());
    }
    assert_eq!((gauge(&a).await, gauge(&b).await), (Some(0), Some(0)));
    let ready = get(&a, "/health/readiness", None).await;
    assert_eq!((ready.status, ready.json()["redis"].clone()), (StatusCode::OK, json!("unreachable")));
    // Each replica counts alone meanwhile: rpm 3 admits three on each.
    for _ in 0..3 {
        assert_eq!(status(&a, "three-a-minute").await, StatusCode::OK);
    }
    assert_eq!(status(&a, "three-a-minute").await, StatusCode::TOO_MANY_REQUESTS);
    redis.restart().await;
    eventually("both replicas see Redis again", || async { gauge(&a).await == Some(1) && gauge(&b).await == Some(1) })
        .await;
    let mut shared = Vec::new();
    for gw in [&b, &a, &b, &a] {
        shared.push(status(gw, "three-a-minute").await.as_u16());
    }
    assert_eq!(shared, [200, 200, 200, 429], "the fresh Redis counts for both again");
}

#[tokio::test]
async fn a_frozen_redis_holds_no_request_for_long() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = pair(&mock, &redis).await;
    redis.signal("-STOP");
    for gw in [&a, &b, &a, &b] {
        let asked = Instant::now();
        assert_eq!(status(gw, "two-at-a-time").await, StatusCode::OK);
        assert!(
            asked.elapsed() < WITHIN_TIMEOUT,
            "answered in {:?} (command timeout {COMMAND_TIMEOUT:?})",
            asked.elapsed()
        );
    }
    assert_eq!(gauge(&a).await, Some(0));
    redis.signal("-CONT");
    eventually("Redis answers again", || async { gauge(&a).await == Some(1) && gauge(&b).await == Some(1) }).await;
}

#[tokio::test]
async fn an_unreachable_redis_at_start_up_is_an_outage_not_an_error() {
    let mock = upstream(Arc::new(Notify::new())).await;
    let mut redis = RedisServer::start().await;
    let port = redis.port;
    redis.stop();
    let a = replica(&mock, port, &redis.password).await;
    assert_eq!(gauge(&a).await, Some(0));
    assert_eq!(status(&a, "two-at-a-time").await, StatusCode::OK);
    redis.restart().await;
    eventually("the replica finds Redis by itself", || async { gauge(&a).await == Some(1) }).await;
}

#[tokio::test]
async fn a_wrong_redis_password_stops_the_start_naming_redis_authentication() {
    let redis = RedisServer::start().await;
    let port = redis.port.to_string();
    let vars = [
        ("MOCK_BASE", "http://127.0.0.1:9/v1"),
        ("MOCK_KEY", "k"),
        ("TEST_REDIS_HOST", "127.0.0.1"),
        ("TEST_REDIS_PORT", port.as_str()),
        ("TEST_REDIS_PASSWORD", "not-the-password"),
    ];
    let error = Gateway::start(&fixtures::shared::TABLE, settings(&vars)).await.err().expect("no start");
    assert!(error.contains("Redis authentication failed"), "{error}");
    assert!(!error.contains("not-the-password"), "the password is never shown: {error}");
    // The binary exits non-zero with that error (LiteLLM's REDIS_URL names the Redis here).
    let wrong = format!("redis://:not-the-password@127.0.0.1:{port}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_model-router"))
        .env_clear()
        .envs([("REDIS_URL", wrong.as_str()), ("HOST", "127.0.0.1"), ("PORT", "0"), ("LOG_FORMAT", "text")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("Redis authentication failed"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
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
async fn rediss_checks_the_certificate_against_ssl_cert_file() {
    let (redis, ca) = RedisServer::start_tls().await;
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let (base, ca) = (mock.base(), ca.to_str().unwrap().to_owned());
    let url = format!("rediss://:{}@localhost:{}", redis.password, redis.port);
    let vars = [("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k"), ("REDIS_URL", url.as_str())];
    let untrusted = Gateway::start(&fixtures::shared_env::TABLE, settings(&vars)).await.err().expect("no start");
    assert!(untrusted.contains("Redis TLS handshake failed"), "{untrusted}");
    let trusted = [vars[0], vars[1], vars[2], ("SSL_CERT_FILE", ca.as_str())];
    let (a, b) =
        (start(&fixtures::shared_env::TABLE, &trusted).await, start(&fixtures::shared_env::TABLE, &trusted).await);
    let ready = get(&a, "/health/readiness", None).await;
    assert_eq!(ready.json()["redis"], "connected");
    let (first, second) = (hold(&a, "open").await, hold(&b, "open").await);
    assert_eq!(status(&a, "open").await, StatusCode::TOO_MANY_REQUESTS, "the global limit is shared over TLS");
    gate.notify_waiters();
    drop((first, second));
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
async fn without_redis_nothing_changes_and_a_missing_redis_variable_is_named() {
    let mock = upstream(Arc::new(Notify::new())).await;
    let base = mock.base();
    let local = start(&fixtures::shared_env::TABLE, &[("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k")]).await;
    let ready = get(&local, "/health/readiness", None).await.json();
    assert!(ready.get("redis").is_none(), "no Redis, no field: {ready}");
    assert_eq!(status(&local, "open").await, StatusCode::OK);
    let error = Gateway::start(&fixtures::shared::TABLE, settings(&[("MOCK_BASE", &base), ("MOCK_KEY", "k")]))
        .await
        .err()
        .expect("no start");
    assert!(error.contains("router_settings.redis_host reads TEST_REDIS_HOST, which is not set"), "{error}");
}
