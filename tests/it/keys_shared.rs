//! Virtual keys on two replicas sharing one real redis-server (the `keys_shared` fixture):
//! a key's rpm and budget hold over both exactly, and spend counted while Redis was away is
//! added once it is back.

use crate::common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::mock::Mock;
use common::redis::RedisServer;
use common::shared::{ask, eventually, start, upstream};
use common::{Reply, post};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use tokio::sync::Notify;

async fn replica(mock: &Mock, redis: &RedisServer) -> Running {
    let (base, port) = (mock.base(), redis.port.to_string());
    let vars = [
        ("MOCK_BASE", base.as_str()),
        ("MOCK_KEY", "k"),
        ("TEST_REDIS_HOST", "127.0.0.1"),
        ("TEST_REDIS_PORT", port.as_str()),
        ("TEST_REDIS_PASSWORD", redis.password.as_str()),
    ];
    start(&fixtures::keys_shared::TABLE, &vars).await
}

async fn chat(gw: &Running, key: &str) -> Reply {
    post(gw, "/v1/chat/completions", Some(key), &ask("cheap", false)).await
}

/// What Redis holds of the `shared-budget` key's spend today (its budget_duration is 1d).
async fn spend_on_redis(redis: &RedisServer) -> f64 {
    let day = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 86_400;
    let key = format!("model-router:keys-v1:{{shared-budget}}:key:shared-budget:spend:{day}");
    let Some(mut conn) = redis.connection().await else { return -1.0 };
    let value: Option<String> = redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
    value.map_or(0.0, |v| v.parse().unwrap())
}

async fn spend_reaches(redis: &RedisServer, want: f64) {
    eventually(&format!("Redis holds a spend of {want}"), || async {
        (spend_on_redis(redis).await - want).abs() < 1e-9
    })
    .await;
}

#[tokio::test]
async fn two_replicas_share_a_keys_rpm_exactly() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = (replica(&mock, &redis).await, replica(&mock, &redis).await);
    let mut statuses = Vec::new();
    for gw in [&a, &b, &a, &b, &a] {
        statuses.push(chat(gw, "sk-shared-rpm").await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429], "rpm_limit 3 over both replicas");
    assert_eq!(mock.requests().len(), 3, "the refused calls reached no upstream");
    let refused = chat(&b, "sk-shared-rpm").await;
    assert_eq!(refused.header("x-ratelimit-limit-requests"), Some("3"));
    assert_eq!(refused.header("x-ratelimit-remaining-requests"), Some("0"));
}

#[tokio::test]
async fn two_replicas_share_a_keys_budget_exactly() {
    let redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = (replica(&mock, &redis).await, replica(&mock, &redis).await);
    for (gw, after) in [(&a, 0.08), (&b, 0.16), (&a, 0.24)] {
        assert_eq!(chat(gw, "sk-shared-budget").await.status, StatusCode::OK);
        spend_reaches(&redis, after).await;
    }
    let refused = chat(&b, "sk-shared-budget").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["error"]["type"], "budget_exceeded");
    assert_eq!(refused.json()["error"]["message"], "Budget has been exceeded! Current cost: 0.24, Max budget: 0.2");
    assert_eq!(chat(&a, "sk-shared-budget").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn spend_counted_while_redis_was_away_is_added_when_it_is_back() {
    let mut redis = RedisServer::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let a = replica(&mock, &redis).await;
    redis.stop();
    assert_eq!(chat(&a, "sk-shared-budget").await.status, StatusCode::OK, "served on local counting");
    redis.restart().await;
    spend_reaches(&redis, 0.08).await;
    let b = replica(&mock, &redis).await;
    assert_eq!(chat(&b, "sk-shared-budget").await.status, StatusCode::OK);
    spend_reaches(&redis, 0.16).await;
}

#[tokio::test]
async fn two_replicas_share_a_keys_parallel_limit() {
    let redis = RedisServer::start().await;
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let (a, b) = (replica(&mock, &redis).await, replica(&mock, &redis).await);
    let headers = [("authorization", "Bearer sk-shared-par"), ("content-type", "application/json")];
    let body = ask("cheap", true).to_string();
    let held = common::open(&a, http::Method::POST, "/v1/chat/completions", &headers, body).await;
    assert_eq!(held.status(), StatusCode::OK);
    let refused = chat(&b, "sk-shared-par").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "the other replica's stream holds the one slot");
    assert!(refused.json()["error"]["message"].as_str().unwrap().contains("Limit type: max_parallel_requests"));
    assert_eq!(mock.requests().len(), 1);
    gate.notify_one();
    let _ = http_body_util::BodyExt::collect(held.into_body()).await.unwrap();
    eventually("the slot is back for the other replica", || async {
        chat(&b, "sk-shared-par").await.status == StatusCode::OK
    })
    .await;
}
