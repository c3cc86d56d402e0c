//! Virtual keys in process (the `keys` fixture): each check and its LiteLLM error, with what
//! the client got and what the upstream received (nothing, when a key is refused).

use crate::common;

use std::sync::Arc;

use common::mock::{self, Answer, Mock};
use common::{Reply, get, open, post};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Answers with 4 + 2 tokens (0.08 USD on `cheap`), 429 for `flaky`, and streams (with a
/// usage chunk) held at `gate` after their first chunk.
async fn upstream(gate: Arc<Notify>) -> Mock {
    mock::start(move |seen| {
        let model = seen.json()["model"].as_str().unwrap_or_default().to_owned();
        if model == "flaky" {
            let body = json!({ "error": { "message": "slow down", "type": "rate_limit" } }).to_string();
            return Answer::Json { status: 429, body, headers: vec![] };
        }
        let usage = json!({ "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6 });
        if seen.json()["stream"] == true {
            let chunk = json!({ "object": "chat.completion.chunk", "model": model, "choices": [{ "index": 0, "delta": { "content": "x" } }] });
            let last = json!({ "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage });
            return Answer::Sse {
                events: vec![chunk.to_string(), last.to_string(), "[DONE]".into()],
                gate: Some(Arc::clone(&gate)),
            };
        }
        Answer::ok(&json!({ "object": "chat.completion", "model": model, "choices": [], "usage": usage }))
    })
    .await
}

async fn gateway(mock: &Mock, extra: &[(&str, &str)]) -> Running {
    let base = mock.base();
    let mut vars = vec![("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k"), ("TEST_VIRTUAL_KEY", "sk-from-env")];
    vars.extend_from_slice(extra);
    common::start(&fixtures::keys::TABLE, &vars).await
}

async fn setup() -> (Mock, Running, Arc<Notify>) {
    let gate = Arc::new(Notify::new());
    let mock = upstream(Arc::clone(&gate)).await;
    let gw = gateway(&mock, &[]).await;
    (mock, gw, gate)
}

fn ask(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] })
}

async fn chat(gw: &Running, key: &str, model: &str) -> Reply {
    post(gw, "/v1/chat/completions", Some(key), &ask(model)).await
}

fn error(reply: &Reply) -> (String, String) {
    let body = reply.json();
    (
        body["error"]["type"].as_str().unwrap_or_default().to_owned(),
        body["error"]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn unknown_keys_are_401_and_the_master_key_keeps_full_access() {
    let (mock, gw, _) = setup().await;
    let reply = chat(&gw, "sk-unknown", "cheap").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error(&reply).0, "auth_error");
    assert_eq!(post(&gw, "/v1/chat/completions", None, &ask("cheap")).await.status, StatusCode::UNAUTHORIZED);
    assert!(mock.requests().is_empty(), "a refused key reaches no upstream");
    assert_eq!(chat(&gw, "sk-master", "secret-model").await.status, StatusCode::OK);
    assert_eq!(mock.last().json()["model"], "secret-model");
    assert_eq!(
        chat(&gw, "sk-from-env", "secret-model").await.status,
        StatusCode::OK,
        "a key read from the environment"
    );
}

#[tokio::test]
async fn a_model_outside_the_keys_list_is_refused_with_litellms_message() {
    let (mock, gw, _) = setup().await;
    let reply = chat(&gw, "sk-narrow", "claude-haiku").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error(&reply),
        (
            "key_model_access_denied".to_owned(),
            "key not allowed to access model. This key can only access models=['cheap']. Tried to access claude-haiku"
                .to_owned()
        )
    );
    assert_eq!(reply.json()["error"]["param"], "model");
    assert!(mock.requests().is_empty());
    assert_eq!(chat(&gw, "sk-narrow", "mini").await.status, StatusCode::OK, "an alias of an allowed group");
    assert_eq!(mock.last().json()["model"], "cheap");
}

#[tokio::test]
async fn a_model_outside_the_teams_list_is_refused_and_wildcards_allow() {
    let (mock, gw, _) = setup().await;
    let reply = chat(&gw, "sk-teamnarrow", "secret-model").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error(&reply),
        (
            "team_model_access_denied".to_owned(),
            "Team not allowed to access model. Team=search, Model=secret-model. Allowed team models = ['cheap', 'claude-*', 'flaky']".to_owned()
        )
    );
    assert!(mock.requests().is_empty());
    assert_eq!(chat(&gw, "sk-teamnarrow", "claude-haiku").await.status, StatusCode::OK, "claude-* lets it in");
}

#[tokio::test]
async fn a_fallback_the_key_may_not_call_is_skipped() {
    let (mock, gw, _) = setup().await;
    let reply = chat(&gw, "sk-search", "flaky").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("x-litellm-attempted-fallbacks"), Some("1"));
    let models: Vec<String> = mock.requests().iter().map(|s| s.json()["model"].as_str().unwrap().to_owned()).collect();
    assert_eq!(models, ["flaky", "claude-haiku"], "secret-model, first in the fallbacks, is never called");
    assert_eq!(chat(&gw, "sk-master", "flaky").await.status, StatusCode::OK);
    assert_eq!(mock.last().json()["model"], "secret-model", "the master key takes the first fallback");
}

#[tokio::test]
async fn a_key_over_its_rpm_gets_429_with_litellms_headers() {
    let (mock, gw, _) = setup().await;
    for _ in 0..2 {
        assert_eq!(chat(&gw, "sk-rpm", "cheap").await.status, StatusCode::OK);
    }
    let reply = chat(&gw, "sk-rpm", "cheap").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(error(&reply).1.starts_with("Rate limit exceeded for api_key: rpm. Limit type: requests. Current limit: 2, Remaining: 0. Limit resets at: "), "{}", reply.text());
    assert_eq!(reply.header("x-ratelimit-limit-requests"), Some("2"));
    assert_eq!(reply.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!(reply.header("rate_limit_type"), Some("requests"));
    assert!(reply.header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(mock.requests().len(), 2, "the refused call reached no upstream");
}

#[tokio::test]
async fn a_key_over_its_tpm_gets_429_once_its_tokens_are_counted() {
    let (mock, gw, _) = setup().await;
    for _ in 0..2 {
        assert_eq!(chat(&gw, "sk-tpm", "cheap").await.status, StatusCode::OK);
    }
    let reply = chat(&gw, "sk-tpm", "cheap").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "12 tokens of 10 used");
    assert_eq!(reply.header("x-ratelimit-limit-tokens"), Some("10"));
    assert_eq!(reply.header("x-ratelimit-remaining-tokens"), Some("0"));
    assert!(error(&reply).1.contains("Limit type: tokens."));
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_teams_rpm_holds_over_all_its_keys() {
    let (mock, gw, _) = setup().await;
    assert_eq!(chat(&gw, "sk-tight-a", "cheap").await.status, StatusCode::OK);
    assert_eq!(chat(&gw, "sk-tight-b", "cheap").await.status, StatusCode::OK);
    let reply = chat(&gw, "sk-tight-a", "cheap").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(error(&reply).1.starts_with("Rate limit exceeded for team: tight. Limit type: requests."));
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_key_at_its_parallel_limit_gets_429_until_its_stream_ends() {
    let (mock, gw, gate) = setup().await;
    let body = json!({ "model": "cheap", "stream": true, "messages": [{ "role": "user", "content": "hi" }] });
    let headers = [("authorization", "Bearer sk-par"), ("content-type", "application/json")];
    let held = open(&gw, http::Method::POST, "/v1/chat/completions", &headers, body.to_string()).await;
    assert_eq!(held.status(), StatusCode::OK);
    let reply = chat(&gw, "sk-par", "cheap").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(error(&reply).1.contains("Limit type: max_parallel_requests. Current limit: 1"));
    assert_eq!(mock.requests().len(), 1);
    gate.notify_one();
    let _ = http_body_util::BodyExt::collect(held.into_body()).await.unwrap();
    assert_eq!(chat(&gw, "sk-par", "cheap").await.status, StatusCode::OK, "the slot came back with the stream's end");
}

#[tokio::test]
async fn a_spent_budget_is_400_until_its_period_resets_streams_included() {
    let (mock, gw, gate) = setup().await;
    assert_eq!(chat(&gw, "sk-budget", "cheap").await.status, StatusCode::OK);
    gate.notify_one();
    let body = json!({ "model": "cheap", "stream": true, "messages": [{ "role": "user", "content": "hi" }] });
    let streamed = post(&gw, "/v1/chat/completions", Some("sk-budget"), &body).await;
    assert_eq!(streamed.status, StatusCode::OK);
    let reply = chat(&gw, "sk-budget", "cheap").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(
        error(&reply),
        ("budget_exceeded".to_owned(), "Budget has been exceeded! Current cost: 0.16, Max budget: 0.1".to_owned())
    );
    assert_eq!(mock.requests().len(), 2, "the refused call reached no upstream");
    let info = get(&gw, "/key/info", Some("sk-budget")).await.json();
    assert_eq!(info["info"]["spend"], 0.16);
    gw.gateway.books.keys.clock.advance(30_000);
    assert_eq!(chat(&gw, "sk-budget", "cheap").await.status, StatusCode::OK, "a new 30 s period");
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn an_expired_key_is_401_expired_key() {
    let (mock, gw, _) = setup().await;
    assert_eq!(chat(&gw, "sk-expiring", "cheap").await.status, StatusCode::OK);
    let until_2100_ms = 4_102_444_800_000 - gw.gateway.books.keys.clock.now_ms();
    gw.gateway.books.keys.clock.advance(until_2100_ms);
    let reply = chat(&gw, "sk-expiring", "cheap").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let (kind, message) = error(&reply);
    assert_eq!(kind, "expired_key");
    assert!(message.starts_with("Authentication Error - Expired Key. Key Expiry time 2099-01-01 00:00:00+00:00 and current time 2100-01-01 00:00:"), "{message}");
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn both_hashes_of_a_rotation_work_and_revocation_cuts_either_off() {
    let (mock, gw, _) = setup().await;
    assert_eq!(chat(&gw, "sk-rot-old", "cheap").await.status, StatusCode::OK);
    assert_eq!(chat(&gw, "sk-rot-new", "cheap").await.status, StatusCode::OK);
    let old = "e26efc707a4fe6dba52576337eccd70ef903b6e945aec7fc3aa01420e4cde4c5";
    let gw = gateway(&mock, &[("MODEL_ROUTER_REVOKED_KEYS", old)]).await;
    assert_eq!(chat(&gw, "sk-rot-old", "cheap").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(chat(&gw, "sk-rot-new", "cheap").await.status, StatusCode::OK);
    let gw = gateway(&mock, &[("MODEL_ROUTER_REVOKED_KEYS", "narrow, rotated")]).await;
    for key in ["sk-rot-old", "sk-rot-new", "sk-narrow"] {
        assert_eq!(chat(&gw, key, "cheap").await.status, StatusCode::UNAUTHORIZED, "{key}");
    }
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn models_lists_only_what_the_key_may_call() {
    let (_mock, gw, _) = setup().await;
    let ids = |reply: Reply| -> Vec<String> {
        reply.json()["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(get(&gw, "/v1/models", Some("sk-narrow")).await), ["mini", "cheap"]);
    assert_eq!(ids(get(&gw, "/v1/models", Some("sk-search")).await), ["mini", "cheap", "claude-haiku", "flaky"]);
    assert_eq!(ids(get(&gw, "/v1/models", Some("sk-master")).await).len(), 5);
    assert_eq!(get(&gw, "/v1/models/secret-model", Some("sk-narrow")).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn key_info_answers_the_callers_own_key_and_the_master_names_any() {
    let (_mock, gw, _) = setup().await;
    let reply = get(&gw, "/key/info", Some("sk-search")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let info = &reply.json()["info"];
    assert_eq!(
        (info["key_alias"].as_str(), info["team_id"].as_str(), info["team_alias"].as_str()),
        (Some("search-agent"), Some("search"), Some("Search"))
    );
    assert_eq!(info["metadata"]["owner"], "search-team");
    assert_eq!(info["models"], json!(["cheap", "claude-*", "flaky"]));
    assert_eq!(get(&gw, "/key/info?key=budget", Some("sk-search")).await.status, StatusCode::FORBIDDEN);
    let budget = get(&gw, "/key/info?key=budget", Some("sk-master")).await.json();
    assert_eq!(
        (budget["info"]["max_budget"].as_f64(), budget["info"]["budget_duration"].as_str()),
        (Some(0.1), Some("30s"))
    );
    assert_eq!(budget["info"]["remaining_budget"].as_f64(), Some(0.1));
    assert_eq!(get(&gw, "/key/info?key=nobody", Some("sk-master")).await.status, StatusCode::NOT_FOUND);
    assert!(!reply.text().contains("sk-search"), "no secret in the answer");
}

#[tokio::test]
async fn metrics_carry_the_keys_alias_and_team_and_its_budget_gauges() {
    let (_mock, gw, _) = setup().await;
    assert_eq!(chat(&gw, "sk-search", "cheap").await.status, StatusCode::OK);
    assert_eq!(chat(&gw, "sk-budget", "cheap").await.status, StatusCode::OK);
    assert_eq!(chat(&gw, "sk-rpm", "cheap").await.status, StatusCode::OK);
    assert_eq!(chat(&gw, "sk-tight-a", "cheap").await.status, StatusCode::OK);
    let page = get(&gw, "/metrics", Some("sk-master")).await.text();
    let search = "b095adcc724f4f8a1b85094a159f0164bfe8a34524859411dbf0514747a71c06";
    let total = format!(
        "litellm_proxy_total_requests_metric_total{{api_key_alias=\"search-agent\",api_provider=\"openai\",client_ip=\"None\",end_user=\"None\",hashed_api_key=\"{search}\",model_id=\"None\",org_alias=\"None\",org_id=\"None\",requested_model=\"cheap\",route=\"/chat/completions\",status_code=\"200\",team=\"search\",team_alias=\"Search\",user=\"None\",user_agent=\"None\",user_email=\"None\"}} 1\n"
    );
    assert!(page.contains(&total), "{page}");
    let budget = "025c374c329646e85513b352eb015a0a8b4aae9d0c507e563497ee10b2f99e44";
    let labels = format!("{{api_key_alias=\"budget\",hashed_api_key=\"{budget}\"}}");
    assert!(page.contains(&format!("litellm_api_key_max_budget_metric{labels} 0.1\n")), "{page}");
    assert!(page.contains(&format!("litellm_remaining_api_key_budget_metric{labels} 0.02")), "{page}");
    assert!(page.contains("litellm_remaining_team_budget_metric{team=\"tight\",team_alias=\"None\"} 4.92"), "{page}");
    let rpm = "29a3870cc13cd98308dc9555840cef48bcceb0db1ba5a13d348371aaad3c7edb";
    let left = format!(
        "litellm_remaining_api_key_requests_for_model{{api_key_alias=\"rpm\",hashed_api_key=\"{rpm}\",model=\"cheap\"}} 1\n"
    );
    assert!(page.contains(&left), "{page}");
}
