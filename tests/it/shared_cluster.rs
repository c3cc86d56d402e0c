//! The shared state on a real Redis Cluster (issue 14 on cluster mode): three primaries the
//! harness starts (`common::cluster`), two gateways named to it as LiteLLM's router is
//! (`cache_kwargs.startup_nodes`, or `REDIS_CLUSTER_NODES`), and `rpm`, cooldowns and the
//! bridged Responses store hold across both with the deployments' keys on different nodes; a
//! killed or frozen node costs requests nothing, and sharing resumes once it is back.

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use common::cluster::RedisCluster;
use common::mock::Mock;
use common::shared::{
    WITHIN_TIMEOUT, ask, eventually, gauge, settings, six_alternately, start, status, upstream, upstream_models,
};
use common::{get, post};
use http::StatusCode;
use model_router::gateway::Gateway;
use model_router::server::Running;
use model_router::state::conversations;
use model_router::state::scripts::Keys;
use model_router::table::fixtures;
use serde_json::json;
use tokio::sync::Notify;

/// What the ids the gateway issues start with before the bridge's own id.
const ISSUED_PREFIX_LEN: usize = "resp_mr1_0123456789abcdef_".len();

/// A replica of the `shared_cluster` fixture on `cluster`.
async fn replica(mock: &Mock, cluster: &RedisCluster) -> Running {
    let (base, nodes) = (mock.base(), cluster.nodes_json());
    let vars = [
        ("MOCK_BASE", base.as_str()),
        ("MOCK_KEY", "k"),
        ("TEST_REDIS_NODES", nodes.as_str()),
        ("TEST_REDIS_PASSWORD", cluster.password.as_str()),
    ];
    start(&fixtures::shared_cluster::TABLE, &vars).await
}

fn keys(id: &str) -> Keys {
    Keys::new("model-router:", id)
}

#[tokio::test]
async fn rpm_and_cooldowns_hold_across_replicas_with_their_keys_on_different_nodes() {
    let cluster = RedisCluster::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = (replica(&mock, &cluster).await, replica(&mock, &cluster).await);
    let (rpm, flaky) = (keys("cluster-rpm"), keys("flaky-1"));
    assert_ne!(cluster.owner(&rpm.rate).await, cluster.owner(&flaky.cool).await, "two nodes are under test");
    let statuses = six_alternately(&a, &b, "three-a-minute").await;
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429], "rpm: 3 for both replicas together");
    let mut conn = cluster.connection().await;
    let counted: Option<u64> = redis::cmd("HGET").arg(&rpm.rate).arg("r").query_async(&mut conn).await.unwrap();
    assert_eq!(counted, Some(3), "counted on the cluster");

    assert_eq!(status(&a, "pair").await, StatusCode::TOO_MANY_REQUESTS, "flaky serves first and fails");
    eventually("the cooldown reaches its node", || {
        let (mut conn, cool) = (conn.clone(), flaky.cool.clone());
        async move { redis::cmd("PTTL").arg(&cool).query_async::<i64>(&mut conn).await.unwrap() > 0 }
    })
    .await;
    for _ in 0..2 {
        assert_eq!(status(&b, "pair").await, StatusCode::OK);
    }
    assert_eq!(
        upstream_models(&mock),
        ["rpm", "rpm", "rpm", "flaky", "steady", "steady"],
        "the refused never reached the provider, and b never called the cooled one"
    );
    assert_eq!((gauge(&a).await, gauge(&b).await), (Some(1), Some(1)));
}

#[tokio::test]
async fn a_bridged_conversation_continues_on_the_other_replica() {
    let cluster = RedisCluster::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = (replica(&mock, &cluster).await, replica(&mock, &cluster).await);
    let first = post(&a, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi" })).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let key = conversations::key("model-router:", &id[ISSUED_PREFIX_LEN..]);
    let mut conn = cluster.connection().await;
    let stored: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(stored.is_some(), "stored on the node of {key} ({})", cluster.owner(&key).await);
    let retrieved = get(&b, &format!("/v1/responses/{id}"), None).await;
    assert_eq!((retrieved.status, retrieved.json()["id"].clone()), (StatusCode::OK, json!(id)), "{}", retrieved.text());
    let next = json!({ "model": "fake", "input": "Again", "previous_response_id": id });
    let second = post(&b, "/v1/responses", None, &next).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    assert_eq!(second.json()["previous_response_id"], json!(id));
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.unwrap();
    let gone = get(&b, &format!("/v1/responses/{id}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "b answered from the cluster: {}", gone.text());
}

#[tokio::test]
async fn a_killed_node_costs_requests_nothing_and_sharing_resumes_when_it_is_back() {
    let mut cluster = RedisCluster::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (a, b) = (replica(&mock, &cluster).await, replica(&mock, &cluster).await);
    assert_eq!(status(&a, "three-a-minute").await, StatusCode::OK);
    let node = cluster.owner(&keys("cluster-rpm").rate).await;
    cluster.kill(node);
    for gw in [&a, &b, &a, &b] {
        let started = Instant::now();
        let answered = status(gw, "three-a-minute").await;
        assert!(started.elapsed() < WITHIN_TIMEOUT, "answered in {:?}", started.elapsed());
        assert!(matches!(answered, StatusCode::OK | StatusCode::TOO_MANY_REQUESTS), "{answered}");
    }
    assert_eq!(gauge(&a).await, Some(0), "a counts in process while a node is away");
    cluster.restart(node).await;
    eventually("both replicas find the cluster by themselves", || async {
        gauge(&a).await == Some(1) && gauge(&b).await == Some(1)
    })
    .await;
    // The restarted node came back empty: the count starts again, for both together.
    let mut conn = cluster.connection().await;
    let _: () = redis::cmd("DEL").arg(keys("cluster-rpm").rate).query_async(&mut conn).await.unwrap();
    let mut seen = Vec::new();
    for gw in [&a, &b, &a, &b] {
        seen.push(status(gw, "three-a-minute").await.as_u16());
    }
    assert_eq!(seen, [200, 200, 200, 429], "shared again");
}

#[tokio::test]
async fn a_frozen_node_holds_no_request_longer_than_the_command_timeout() {
    let cluster = RedisCluster::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let a = replica(&mock, &cluster).await;
    assert_eq!(status(&a, "three-a-minute").await, StatusCode::OK);
    cluster.signal(cluster.owner(&keys("cluster-rpm").rate).await, "-STOP");
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(status(&a, "three-a-minute").await, StatusCode::OK, "counted in process");
        assert!(started.elapsed() < WITHIN_TIMEOUT, "answered in {:?}", started.elapsed());
    }
    assert_eq!(gauge(&a).await, Some(0));
    let started = Instant::now();
    assert_eq!(status(&a, "three-a-minute").await, StatusCode::TOO_MANY_REQUESTS, "rpm 3 held in process");
    assert!(started.elapsed() < WITHIN_TIMEOUT, "answered in {:?}", started.elapsed());
    assert_eq!(upstream_models(&mock), ["rpm"; 3]);
}

#[tokio::test]
async fn litellms_redis_cluster_nodes_win_over_redis_host_and_carry_a_teams_key_limits() {
    let cluster = RedisCluster::start().await;
    let mock = upstream(Arc::new(Notify::new())).await;
    let (base, nodes) = (mock.base(), cluster.nodes_json());
    // keys_shared names one node by redis_host (TEST_REDIS_HOST, unset here): REDIS_CLUSTER_NODES
    // wins, as in LiteLLM's router, and the password is still redis_password's.
    let vars = |password| {
        [
            ("MOCK_BASE", base.as_str()),
            ("MOCK_KEY", "k"),
            ("REDIS_CLUSTER_NODES", &nodes),
            ("TEST_REDIS_PASSWORD", password),
        ]
    };
    let right = vars(cluster.password.as_str());
    let (a, b) =
        (start(&fixtures::keys_shared::TABLE, &right).await, start(&fixtures::keys_shared::TABLE, &right).await);
    let mut statuses = Vec::new();
    for gw in [&a, &b, &a, &b, &a] {
        statuses
            .push(post(gw, "/v1/chat/completions", Some("sk-shared-rpm"), &ask("cheap", false)).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429], "rpm_limit 3 over both replicas");
    // One script counts the key and its team: both under the team's hash tag, one slot.
    let mut conn = cluster.connection().await;
    for entity in ["key:shared-rpm", "team:shared-team"] {
        let rate = format!("model-router:keys-v1:{{shared-team}}:{entity}:rate");
        let counted: Option<u64> = redis::cmd("HGET").arg(&rate).arg("r").query_async(&mut conn).await.unwrap();
        assert_eq!(counted, Some(3), "{rate}");
    }
    for gw in [&a, &b] {
        let ready = get(gw, "/health/readiness", None).await;
        assert_eq!(ready.json()["redis"], json!("connected"), "never fell back: {}", ready.text());
    }
    let wrong = vars("not-the-password");
    let error = Gateway::start(&fixtures::keys_shared::TABLE, settings(&wrong)).await.err().expect("no start");
    assert!(error.contains("Redis authentication failed"), "{error}");
    assert!(!error.contains("not-the-password"), "the password is never shown: {error}");
}
