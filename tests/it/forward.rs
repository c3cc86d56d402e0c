//! Forwarding to OpenAI-compatible upstreams: what the upstream receives (path, key,
//! model, passthrough fields, no client credentials) and what the client gets back
//! (relayed body, LiteLLM headers, upstream errors in OpenAI's shape).

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{get, post, start};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

fn reply_body(model: &str) -> Value {
    json!({
        "id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "from upstream" }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 },
    })
}

async fn echo_mock() -> Mock {
    mock::start(|seen| Answer::ok(&reply_body(seen.json()["model"].as_str().unwrap_or_default()))).await
}

async fn gateway(mock: &Mock, extra: &[(&str, &str)]) -> Running {
    let base = mock.base();
    let mut vars = vec![("MOCK_BASE", base.as_str()), ("MOCK_KEY", "sk-upstream")];
    vars.extend_from_slice(extra);
    start(&fixtures::upstream::TABLE, &vars).await
}

#[tokio::test]
async fn upstream_gets_its_model_key_and_headers_and_never_the_clients() {
    let mock = echo_mock().await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({
        "model": "gpt-4o", "messages": [{ "role": "user", "content": "hi" }],
        "brand_new_param": { "nested": [1, 2] }, "api_base": "http://evil.invalid", "base_url": "http://evil.invalid", "api_key": "stolen",
    });
    let reply = post(&gw, "/v1/chat/completions", Some("myns/myagent"), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(seen.header("x-team"), Some("blue"), "litellm_params.extra_headers");
    let sent = seen.json();
    assert_eq!(sent["model"], "gpt-4o-exact");
    assert_eq!(sent["brand_new_param"], json!({ "nested": [1, 2] }), "unknown fields pass through");
    assert_eq!(sent["temperature"], 0.25, "deployment default applies when the client sets none");
    for owned in ["api_base", "base_url", "api_key"] {
        assert!(sent.get(owned).is_none(), "{owned} must not reach the upstream");
    }
    assert!(!String::from_utf8_lossy(&seen.body).contains("myns/myagent"));

    let got = reply.json();
    assert_eq!(got["model"], "gpt-4o", "the requested name, not the upstream's");
    assert_eq!(got["choices"][0]["message"]["content"], "from upstream");
    assert_eq!(reply.header("x-litellm-model-name"), Some("openai/gpt-4o-exact"));
    assert_eq!(reply.header("x-litellm-model-group"), Some("gpt-4o"));
    assert_eq!(reply.header("x-litellm-model-api-base"), Some(mock.base().as_str()));
    assert_eq!(reply.header("llm_provider-x-request-id"), Some("req-up-1"));
    assert_eq!(reply.header("request-id"), Some("req-up-1"));
    assert!(reply.header("x-litellm-overhead-duration-ms").is_some());
}

#[tokio::test]
async fn client_parameters_win_over_deployment_defaults() {
    let mock = echo_mock().await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({ "model": "my-alias", "messages": [], "temperature": 0.9 });
    assert_eq!(post(&gw, "/chat/completions", None, &body).await.status, StatusCode::OK);
    let sent = mock.last().json();
    assert_eq!(sent["temperature"], 0.9);
    assert_eq!(sent["model"], "gpt-4o-exact", "alias resolves to its group");
}

#[tokio::test]
async fn wildcard_capture_drops_only_the_deployments_own_prefix() {
    let mock = echo_mock().await;
    let gw = gateway(&mock, &[]).await;
    for (asked, upstream) in
        [("openai/gpt-4o-mini", "gpt-4o-mini"), ("groq/llama-3", "groq/llama-3"), ("anything", "anything")]
    {
        let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": asked, "messages": [] })).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(mock.last().json()["model"], upstream, "{asked}");
        assert_eq!(reply.json()["model"], asked);
    }
}

#[tokio::test]
async fn azure_puts_the_deployment_in_the_path_and_the_key_in_api_key() {
    let mock = echo_mock().await;
    let gw = gateway(&mock, &[]).await;
    let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": "azure-gpt", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/openai/deployments/my-deployment/chat/completions?api-version=2024-02-01");
    assert_eq!(seen.header("api-key"), Some("sk-upstream"));
    assert_eq!(seen.header("authorization"), None);
}

#[tokio::test]
async fn vendor_key_falls_back_to_its_environment_variable() {
    let mock = echo_mock().await;
    let without = gateway(&mock, &[]).await;
    post(&without, "/v1/chat/completions", None, &json!({ "model": "groq-llama", "messages": [] })).await;
    assert_eq!(mock.last().header("authorization"), None);
    let with = gateway(&mock, &[("GROQ_API_KEY", "gsk-env")]).await;
    post(&with, "/v1/chat/completions", None, &json!({ "model": "groq-llama", "messages": [] })).await;
    assert_eq!(mock.last().header("authorization"), Some("Bearer gsk-env"));
}

#[tokio::test]
async fn embeddings_and_completions_reach_their_paths() {
    let mock = mock::start(|seen| {
        Answer::ok(&json!({ "object": "list", "model": seen.json()["model"], "data": [], "usage": {} }))
    })
    .await;
    let gw = gateway(&mock, &[]).await;
    let reply = post(&gw, "/v1/embeddings", None, &json!({ "model": "gpt-4o", "input": "x" })).await;
    assert_eq!((reply.status, mock.last().path.as_str()), (StatusCode::OK, "/v1/embeddings"));
    assert_eq!(reply.json()["model"], "gpt-4o");
    post(&gw, "/v1/completions", None, &json!({ "model": "gpt-4o", "prompt": "x" })).await;
    assert_eq!(mock.last().path, "/v1/completions");
}

#[tokio::test]
async fn missing_secret_names_the_variable_and_leaves_others_serving() {
    let mock = echo_mock().await;
    let gw = gateway(&mock, &[]).await;
    let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": "needs-secret", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("MODEL_ROUTER_TEST_NEVER_SET"));
    assert_eq!(get(&gw, "/health/readiness", None).await.status, StatusCode::OK, "other deployments still serve");
    assert!(mock.requests().is_empty(), "nothing was sent upstream");
}

#[tokio::test]
async fn upstream_errors_keep_their_status_in_openai_shape() {
    let mock = mock::start(|seen| {
        let (status, body) = match seen.json()["messages"][0]["content"].as_str() {
            Some("400") => (
                400,
                json!({ "error": { "message": "bad param foo", "param": "foo", "type": "invalid_request_error" } }),
            ),
            Some("429") => (429, json!({ "error": { "message": "Rate limit reached" } })),
            _ => (500, json!({ "error": { "message": "upstream boom" } })),
        };
        Answer::Json { status, body: body.to_string(), headers: vec![("retry-after", "7".to_owned())] }
    })
    .await;
    let gw = gateway(&mock, &[]).await;
    let cases = [
        (
            "400",
            400,
            "invalid_request_error",
            "litellm.BadRequestError: BadRequestError: OpenAIException - bad param foo",
        ),
        (
            "429",
            429,
            "throttling_error",
            "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached",
        ),
        (
            "500",
            500,
            "internal_server_error",
            "litellm.InternalServerError: InternalServerError: OpenAIException - upstream boom",
        ),
    ];
    for (content, status, kind, message) in cases {
        let body = json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": content }] });
        // No retries here: the answer's shape is under test (tests/it/resilience.rs retries).
        let headers = [("content-type", "application/json"), ("x-litellm-num-retries", "0")];
        let reply = common::send(&gw, http::Method::POST, "/v1/chat/completions", &headers, body.to_string()).await;
        assert_eq!(reply.status.as_u16(), status);
        let error = reply.json()["error"].clone();
        assert_eq!((error["type"].as_str(), error["message"].as_str()), (Some(kind), Some(message)));
        assert_eq!(error["code"], status.to_string());
        assert_eq!(reply.header("llm_provider-retry-after"), Some("7"));
        if status == 400 {
            assert_eq!(error["param"], "foo");
        }
    }
}

#[tokio::test]
async fn refused_connection_is_a_500_api_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let gw = start(&fixtures::upstream::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "k")]).await;
    let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": "gpt-4o", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = reply.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("litellm.APIConnectionError: OpenAIException - "), "{message}");
}

#[tokio::test]
async fn slow_upstream_times_out_with_408() {
    let mock = mock::start(|_| Answer::Slow { delay: std::time::Duration::from_secs(5), body: "{}".into() }).await;
    let gw = gateway(&mock, &[]).await;
    let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": "quick", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    let error = reply.json()["error"].clone();
    assert_eq!(error["type"], "invalid_request_error");
    assert!(
        error["message"].as_str().unwrap().starts_with("litellm.Timeout: APITimeoutError - Request timed out."),
        "{error}"
    );
}

#[tokio::test]
async fn a_reply_that_trickles_past_the_timeout_is_a_408() {
    // The head and a first piece arrive at once; the rest never does.
    let held = std::sync::Arc::new(tokio::sync::Notify::new());
    let gate = std::sync::Arc::clone(&held);
    let mock = mock::start(move |_| Answer::Sse {
        events: vec!["{\"partial\":".into(), "true}".into()],
        gate: Some(std::sync::Arc::clone(&gate)),
    })
    .await;
    let gw = gateway(&mock, &[]).await;
    let headers = [("content-type", "application/json"), ("x-litellm-num-retries", "0")];
    let body = json!({ "model": "quick", "messages": [] });
    let reply = common::send(&gw, http::Method::POST, "/v1/chat/completions", &headers, body.to_string()).await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{}", reply.text());
    assert!(reply.json()["error"]["message"].as_str().unwrap().starts_with("litellm.Timeout"));
    held.notify_one();
}
