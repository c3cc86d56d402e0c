//! Redis failing never fails a request (issue 14, item 3): a stopped, frozen or unreachable
//! Redis leaves each replica counting alone within the command timeout, and sharing resumes
//! by itself; a wrong password or an untrusted TLS certificate stops the start instead.

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use common::get;
use common::redis::RedisServer;
use common::shared::{WITHIN_TIMEOUT, eventually, gauge, hold, pair, replica, settings, start, status, upstream};
use http::StatusCode;
use model_router::gateway::Gateway;
use model_router::state::redis::COMMAND_TIMEOUT;
use model_router::table::fixtures;
use serde_json::json;
use tokio::sync::Notify;

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
