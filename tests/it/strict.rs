//! An environment with a master key from the environment, a custom key header, no
//! wildcard and a tiny body limit: invalid-model errors, 413, secrets kept out of answers.

use crate::common;

use bytes::Bytes;
use common::{get, post, send, start};
use http::{Method, StatusCode};
use model_router::gateway::Gateway;
use model_router::settings::Settings;
use model_router::table::fixtures;
use serde_json::json;

const MASTER: &str = "sk-from-env-0001";

#[tokio::test]
async fn master_key_comes_from_the_environment_and_a_custom_header_carries_it() {
    let gw = start(&fixtures::strict::TABLE, &[("TEST_MASTER_KEY", MASTER)]).await;
    assert_eq!(get(&gw, "/v1/models", Some(MASTER)).await.status, StatusCode::OK);
    assert_eq!(get(&gw, "/v1/models", Some("sk-1234")).await.status, StatusCode::UNAUTHORIZED);
    let reply = send(&gw, Method::GET, "/v1/models", &[("x-team-key", MASTER)], Bytes::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[test]
fn a_master_key_reference_that_is_unset_stops_start_up() {
    let error = Gateway::new(&fixtures::strict::TABLE, Settings::default()).err().unwrap();
    assert!(error.contains("TEST_MASTER_KEY"), "{error}");
}

#[tokio::test]
async fn unknown_model_without_wildcards_is_invalid_with_provider_fields() {
    let gw = start(&fixtures::strict::TABLE, &[("TEST_MASTER_KEY", MASTER)]).await;
    let reply =
        post(&gw, "/v1/chat/completions", Some(MASTER), &json!({ "model": "openai/gpt-4o", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].clone();
    let message = "/chat/completions: Invalid model name passed in model=openai/gpt-4o. Call `/v1/models` to view available models for your key.";
    assert_eq!(error["message"], message);
    assert_eq!(error["provider_specific_fields"]["error"], message);
    let reply = post(&gw, "/embeddings", Some(MASTER), &json!({ "model": "nope", "input": "x" })).await;
    assert!(reply.json()["error"]["message"].as_str().unwrap().starts_with("/embeddings: Invalid model name"));
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let gw = start(&fixtures::strict::TABLE, &[("TEST_MASTER_KEY", MASTER)]).await;
    let big = json!({ "model": "fake-openai-endpoint", "messages": [{ "role": "user", "content": "x".repeat(4096) }] });
    let reply = post(&gw, "/v1/chat/completions", Some(MASTER), &big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["error"]["code"], "413");
    let chunked = send(
        &gw,
        Method::POST,
        "/v1/chat/completions",
        &[("authorization", &format!("Bearer {MASTER}")), ("transfer-encoding", "chunked")],
        big.to_string(),
    )
    .await;
    assert_eq!(chunked.status, StatusCode::PAYLOAD_TOO_LARGE, "limit holds without content-length");
}

#[tokio::test]
async fn deployment_secret_gates_its_deployment_and_never_shows() {
    let secret = "sk-described-sentinel-7f3a";
    let without = start(&fixtures::strict::TABLE, &[("TEST_MASTER_KEY", MASTER)]).await;
    let reply =
        post(&without, "/v1/chat/completions", Some(MASTER), &json!({ "model": "described", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains("DESCRIBED_SECRET"));

    let with = start(&fixtures::strict::TABLE, &[("TEST_MASTER_KEY", MASTER), ("DESCRIBED_SECRET", secret)]).await;
    let reply =
        post(&with, "/v1/chat/completions", Some(MASTER), &json!({ "model": "described", "messages": [] })).await;
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "Described reply");
    let info = get(&with, "/model/info", Some(MASTER)).await;
    assert!(!info.text().contains(secret) && !info.text().contains("DESCRIBED_SECRET"), "{}", info.text());
    assert!(info.json()["data"][1]["litellm_params"].get("api_key").is_none());
    let models = get(&with, "/v1/models", Some(MASTER)).await.json();
    let described = &models["data"][1];
    assert_eq!((described["mode"].as_str(), described["max_input_tokens"].as_u64()), (Some("chat"), Some(128_000)));
}
