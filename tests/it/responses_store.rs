//! Bridged Responses API conversations stored on a real Redis (issue 15, item 5): two
//! gateways share the redis-server the test starts, a `previous_response_id` gives the
//! provider the whole history, retrieve, input-items pagination and delete answer from the
//! store, the TTL and size bound hold, and a Redis that is down costs a create nothing but
//! makes a follow-up a prompt 503. `input_tokens` on the Anthropic deployment is Anthropic's
//! own count of the whole history.

use crate::common;

use std::time::Instant;

use common::mock::{self, Answer, Mock};
use common::redis::RedisServer;
use common::shared::{WITHIN_TIMEOUT, eventually, start};
use common::{Reply, get, post, send};
use http::{Method, StatusCode};
use model_router::server::Running;
use model_router::state::conversations::{self, MAX_STORED_BYTES};
use model_router::table::fixtures;
use serde_json::{Value, json};

const ANTHROPIC_REPLY: &str = include_str!("../fixtures/translate/anthropic/response.anthropic.json");
/// What the ids the gateway issues start with before the provider's (bridge's) id.
const ISSUED_PREFIX_LEN: usize = "resp_mr1_0123456789abcdef_".len();

/// An Anthropic mock answering every call with the fixture's text and tool call.
async fn anthropic() -> Mock {
    mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await
}

/// A replica of the `responses_store` routes on the Redis at `port`.
async fn replica(mock: &Mock, port: u16, password: &str) -> Running {
    let base = format!("http://{}", mock.addr);
    let url = format!("redis://:{password}@127.0.0.1:{port}");
    start(
        &fixtures::responses_store::TABLE,
        &[("MOCK_ANTHROPIC_BASE", &base), ("MOCK_KEY", "sk-up"), ("TEST_REDIS_URL", &url)],
    )
    .await
}

/// The Redis key the response the client knows as `id` is stored under.
fn key(id: &str) -> String {
    conversations::key("model-router:", &id[ISSUED_PREFIX_LEN..])
}

async fn ttl(redis: &RedisServer, id: &str) -> i64 {
    let mut conn = redis.connection().await.unwrap();
    redis::cmd("TTL").arg(key(id)).query_async(&mut conn).await.unwrap()
}

async fn delete(gw: &Running, path: &str) -> Reply {
    send(gw, Method::DELETE, path, &[], bytes::Bytes::new()).await
}

#[tokio::test]
async fn a_conversation_continues_on_another_replica_with_the_whole_history() {
    let redis = RedisServer::start().await;
    let mock = anthropic().await;
    let (a, b) = (replica(&mock, redis.port, &redis.password).await, replica(&mock, redis.port, &redis.password).await);
    let first = post(
        &a,
        "/v1/responses",
        None,
        &json!({ "model": "claude", "instructions": "Be brief.", "input": "Weather in Paris?" }),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let first = first.json();
    let id = first["id"].as_str().unwrap();
    assert_eq!((first["store"].as_bool(), first["model"].as_str()), (Some(true), Some("claude")));
    let call_id = first["output"][1]["call_id"].as_str().unwrap();

    let turn = json!({ "model": "claude", "previous_response_id": id,
        "input": [{ "type": "function_call_output", "call_id": call_id, "output": "18C, sunny" }] });
    let second = post(&b, "/v1/responses", None, &turn).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    let second = second.json();
    assert_eq!(second["previous_response_id"], id);
    let sent = mock.last().json();
    assert!(sent.get("system").is_none(), "instructions are not carried over, as OpenAI: {sent}");
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{sent}");
    assert_eq!(messages[0], json!({ "role": "user", "content": [{ "type": "text", "text": "Weather in Paris?" }] }));
    assert_eq!(messages[1]["content"][0], json!({ "type": "text", "text": "Let me check the weather." }));
    assert_eq!(
        (messages[1]["content"][1]["type"].as_str(), messages[1]["content"][1]["id"].as_str()),
        (Some("tool_use"), Some(call_id))
    );
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], call_id);

    // Either replica answers from the store: the object as it was returned, and its items.
    let id2 = second["id"].as_str().unwrap();
    let retrieved = get(&a, &format!("/v1/responses/{id2}"), None).await;
    assert_eq!(retrieved.status, StatusCode::OK, "{}", retrieved.text());
    let mut want = second.clone();
    want["completed_at"] = retrieved.json()["completed_at"].clone();
    assert_eq!(retrieved.json(), want);
    let mut seen = Vec::new();
    let mut path = format!("/v1/responses/{id2}/input_items?limit=2&order=asc");
    loop {
        let page = get(&b, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        assert_eq!(page["object"], "list");
        seen.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] == false {
            break;
        }
        path = format!("/v1/responses/{id2}/input_items?limit=2&order=asc&after={}", page["last_id"].as_str().unwrap());
    }
    let kinds: Vec<&str> = seen.iter().map(|item| item["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "message", "function_call", "function_call_output"], "{seen:?}");
    assert_eq!(seen[0]["content"], json!([{ "type": "input_text", "text": "Weather in Paris?" }]));
    assert!(seen.iter().all(|item| item["id"].is_string()), "{seen:?}");
    let newest = get(&a, &format!("/v1/responses/{id2}/input_items"), None).await.json();
    assert_eq!(newest["first_id"], seen[3]["id"], "newest first by default: {newest}");
    assert_eq!(mock.requests().len(), 2, "retrieve and list never reach the provider");

    let deleted = delete(&b, &format!("/v1/responses/{id2}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert_eq!(deleted.json(), json!({ "id": id2, "object": "response", "deleted": true }));
    let gone = get(&a, &format!("/v1/responses/{id2}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text());
    assert_eq!(gone.json()["error"]["message"], format!("Response with id '{id2}' not found."));
    assert_eq!(delete(&a, &format!("/v1/responses/{id2}")).await.status, StatusCode::NOT_FOUND);
    let after =
        post(&a, "/v1/responses", None, &json!({ "model": "claude", "input": "More", "previous_response_id": id2 }))
            .await;
    assert_eq!(after.status, StatusCode::BAD_REQUEST, "{}", after.text());
    let error = &after.json()["error"];
    assert_eq!(
        (error["code"].as_str(), error["param"].as_str()),
        (Some("previous_response_not_found"), Some("previous_response_id"))
    );
    assert_eq!(mock.requests().len(), 2, "the refused follow-up never reached the provider");
}

#[tokio::test]
async fn stored_with_the_configured_ttl_unless_store_is_false() {
    let redis = RedisServer::start().await;
    let mock = anthropic().await;
    let gw = replica(&mock, redis.port, &redis.password).await;
    let kept = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi" })).await.json();
    let left = ttl(&redis, kept["id"].as_str().unwrap()).await;
    assert!((100..=120).contains(&left), "responses_store_ttl: 120, got {left}");
    let unkept =
        post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi", "store": false })).await.json();
    let id = unkept["id"].as_str().unwrap();
    assert_eq!(unkept["store"], false);
    assert_eq!(ttl(&redis, id).await, -2, "no key");
    assert_eq!(get(&gw, &format!("/v1/responses/{id}"), None).await.status, StatusCode::NOT_FOUND);
    // store: false may still continue a stored conversation.
    let next = json!({ "model": "fake", "input": "Again", "store": false, "previous_response_id": kept["id"] });
    assert_eq!(post(&gw, "/v1/responses", None, &next).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_stream_is_stored_once_it_completes() {
    let redis = RedisServer::start().await;
    let mock = anthropic().await;
    let gw = replica(&mock, redis.port, &redis.password).await;
    let reply = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi", "stream": true })).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    let completed = text.split("\n\n").find(|e| e.starts_with("event: response.completed")).unwrap();
    let completed: Value = serde_json::from_str(completed.split_once("data: ").unwrap().1).unwrap();
    let id = completed["response"]["id"].as_str().unwrap();
    assert_eq!(completed["response"]["store"], true);
    // The stream stores its response beside the final event, off the client's path.
    eventually("the streamed response stored", || async { ttl(&redis, id).await > 0 }).await;
    let retrieved = get(&gw, &format!("/v1/responses/{id}"), None).await.json();
    assert_eq!(retrieved, completed["response"]);
}

#[tokio::test]
async fn a_response_over_the_size_bound_is_answered_but_not_stored() {
    let redis = RedisServer::start().await;
    let mock = anthropic().await;
    let gw = replica(&mock, redis.port, &redis.password).await;
    let big = "x".repeat(MAX_STORED_BYTES);
    let reply = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": big })).await;
    assert_eq!(reply.status, StatusCode::OK);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(ttl(&redis, &id).await, -2, "not stored");
    let follow_up =
        post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "And?", "previous_response_id": id }))
            .await;
    assert_eq!(follow_up.status, StatusCode::BAD_REQUEST, "{}", follow_up.text());
    assert_eq!(follow_up.json()["error"]["code"], "previous_response_not_found");
}

#[tokio::test]
async fn with_redis_down_a_create_still_answers_and_a_follow_up_is_a_prompt_503() {
    let mut redis = RedisServer::start().await;
    let mock = anthropic().await;
    let gw = replica(&mock, redis.port, &redis.password).await;
    let stored = post(&gw, "/v1/responses", None, &json!({ "model": "claude", "input": "Hi" })).await.json();
    let id = stored["id"].as_str().unwrap();
    redis.stop();
    for _ in 0..2 {
        let started = Instant::now();
        let created = post(&gw, "/v1/responses", None, &json!({ "model": "claude", "input": "Hi" })).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text());
        assert!(started.elapsed() < WITHIN_TIMEOUT, "{:?}", started.elapsed());
    }
    let started = Instant::now();
    let follow_up =
        post(&gw, "/v1/responses", None, &json!({ "model": "claude", "input": "And?", "previous_response_id": id }))
            .await;
    assert!(started.elapsed() < WITHIN_TIMEOUT, "{:?}", started.elapsed());
    assert_unreachable(&follow_up, Some("previous_response_id"));
    for path in [format!("/v1/responses/{id}"), format!("/v1/responses/{id}/input_items")] {
        let started = Instant::now();
        let got = get(&gw, &path, None).await;
        assert!(started.elapsed() < WITHIN_TIMEOUT, "{:?}", started.elapsed());
        assert_unreachable(&got, None);
    }
    assert_unreachable(&delete(&gw, &format!("/v1/responses/{id}")).await, None);
    assert_eq!(mock.requests().len(), 3, "only the creates reached the provider");
}

#[tokio::test]
async fn input_tokens_on_anthropic_are_its_own_count_of_the_whole_history() {
    let redis = RedisServer::start().await;
    let mock = mock::start(|seen| {
        if seen.path.ends_with("/count_tokens") {
            return Answer::ok(&json!({ "input_tokens": 42 }));
        }
        Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }
    })
    .await;
    let gw = replica(&mock, redis.port, &redis.password).await;
    let first =
        post(&gw, "/v1/responses", None, &json!({ "model": "claude", "input": "Weather in Paris?" })).await.json();
    let ask = json!({ "model": "claude", "instructions": "Be brief.", "input": "And Rome?", "previous_response_id": first["id"],
        "max_output_tokens": 10, "temperature": 0.5 });
    let counted = post(&gw, "/v1/responses/input_tokens", None, &ask).await;
    assert_eq!(counted.status, StatusCode::OK, "{}", counted.text());
    assert_eq!(counted.json(), json!({ "object": "response.input_tokens", "input_tokens": 42 }));
    let seen = mock.last();
    assert_eq!((seen.path.as_str(), seen.header("x-api-key")), ("/v1/messages/count_tokens", Some("sk-up")));
    let sent = seen.json();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["system"], json!([{ "type": "text", "text": "Be brief." }]));
    let roles: Vec<&str> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "the stored history counted too: {sent}");
    assert!(sent.get("max_tokens").is_none() && sent.get("temperature").is_none(), "counting refuses them: {sent}");
    let fake = post(&gw, "/v1/responses/input_tokens", None, &json!({ "model": "fake", "input": "Hi" })).await;
    assert_eq!(fake.status, StatusCode::BAD_REQUEST, "no token counting to ask: {}", fake.text());
}

#[tokio::test]
async fn a_frozen_redis_is_a_503_within_the_command_timeout_not_a_hang() {
    let redis = RedisServer::start().await;
    let mock = anthropic().await;
    let gw = replica(&mock, redis.port, &redis.password).await;
    let stored = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi" })).await.json();
    redis.signal("-STOP");
    let started = Instant::now();
    let follow_up = post(
        &gw,
        "/v1/responses",
        None,
        &json!({ "model": "fake", "input": "And?", "previous_response_id": stored["id"] }),
    )
    .await;
    assert!(started.elapsed() < WITHIN_TIMEOUT, "{:?}", started.elapsed());
    assert_unreachable(&follow_up, Some("previous_response_id"));
    let started = Instant::now();
    let created = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi" })).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    assert!(started.elapsed() < WITHIN_TIMEOUT, "{:?}", started.elapsed());
    redis.signal("-CONT");
}

#[tokio::test]
async fn a_redis_that_never_answered_is_a_503_for_follow_ups_too() {
    let mock = anthropic().await;
    let gw = replica(&mock, RedisServer::free_port(), "pw").await;
    let created = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi" })).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_unreachable(&get(&gw, &format!("/v1/responses/{id}"), None).await, None);
}

fn assert_unreachable(reply: &Reply, param: Option<&str>) {
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
    assert_eq!(reply.header("retry-after"), Some("1"));
    let error = &reply.json()["error"];
    assert_eq!((error["type"].as_str(), error["param"].as_str()), (Some("service_unavailable"), param), "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("Redis") && message.contains("200 ms") && message.contains("store: false"), "{message}");
}
