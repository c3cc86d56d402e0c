//! Retries, fallbacks and cooldowns against scripted mock upstreams: what the client sees
//! (status, body, `x-litellm-attempted-*`) and what each upstream received.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::mock::{self, Answer, Mock};
use common::{get, post, send, start};
use http::{Method, StatusCode};
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

fn ok(model: &str) -> Answer {
    Answer::ok(
        &json!({ "object": "chat.completion", "model": model, "choices": [], "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 } }),
    )
}

fn status(code: u16, message: &str) -> Answer {
    Answer::Json { status: code, body: json!({ "error": { "message": message } }).to_string(), headers: vec![] }
}

fn model_of(seen: &mock::Seen) -> String {
    seen.json()["model"].as_str().unwrap_or_default().to_owned()
}

async fn gateway(a: &Mock, b: &Mock) -> Running {
    let (base_a, base_b) = (a.base(), b.base());
    start(&fixtures::resilient::TABLE, &[("MOCK_A", &base_a), ("MOCK_B", &base_b), ("MOCK_KEY", "k")]).await
}

fn ask(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] })
}

#[tokio::test]
async fn retryable_failures_are_retried_until_one_succeeds() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let a =
        mock::start(
            move |seen| {
                if counted.fetch_add(1, Ordering::SeqCst) < 2 { status(500, "boom") } else { ok(&model_of(seen)) }
            },
        )
        .await;
    let b = mock::start(|seen| ok(&model_of(seen))).await;
    let gw = gateway(&a, &b).await;
    let reply = post(&gw, "/v1/chat/completions", None, &ask("primary")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(a.requests().len(), 3);
    assert!(b.requests().is_empty());
    assert_eq!(reply.header("x-litellm-attempted-retries"), Some("2"));
    assert_eq!(reply.header("x-litellm-attempted-fallbacks"), Some("0"));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let a = mock::start(|_| status(400, "bad param")).await;
    let b = mock::start(|seen| ok(&model_of(seen))).await;
    let gw = gateway(&a, &b).await;
    let reply = post(&gw, "/v1/chat/completions", None, &ask("primary")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!((a.requests().len(), b.requests().len()), (1, 0), "no retry, no fallback for a 400");
}

#[tokio::test]
async fn exhausted_retries_fall_back_to_the_next_group() {
    let a = mock::start(|_| status(503, "overloaded")).await;
    let b = mock::start(|seen| ok(&model_of(seen))).await;
    let gw = gateway(&a, &b).await;
    let headers = [("content-type", "application/json"), ("x-litellm-num-retries", "1")];
    let reply = send(&gw, Method::POST, "/v1/chat/completions", &headers, ask("primary").to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(a.requests().len(), 2, "x-litellm-num-retries: 1 means two tries");
    assert_eq!(b.last().json()["model"], "backup");
    assert_eq!(reply.json()["model"], "primary", "the client sees the name it asked for");
    assert_eq!(reply.header("x-litellm-attempted-fallbacks"), Some("1"));
    assert_eq!(reply.header("x-litellm-model-group"), Some("primary"));
    let page = get(&gw, "/metrics", None).await.text();
    assert!(
        page.lines().any(|l| l.starts_with("litellm_deployment_successful_fallbacks_total{")
            && l.contains("fallback_model=\"backup\"")
            && l.ends_with(" 1")),
        "{page}"
    );
}

#[tokio::test]
async fn context_window_errors_use_their_own_fallbacks() {
    let a = mock::start(|_| status(400, "This model's maximum context length is 8192 tokens")).await;
    let b = mock::start(|seen| ok(&model_of(seen))).await;
    let gw = gateway(&a, &b).await;
    let reply = post(&gw, "/v1/chat/completions", None, &ask("small")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!((a.requests().len(), b.last().json()["model"].as_str()), (1, Some("big")));
    let reply = post(&gw, "/v1/chat/completions", None, &ask("primary")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "primary has no context-window fallback");
}

#[tokio::test]
async fn rate_limited_deployments_cool_down_and_healthy_ones_keep_serving() {
    let a =
        mock::start(|seen| if model_of(seen) == "a" { status(429, "slow down") } else { ok(&model_of(seen)) }).await;
    let b =
        mock::start(|seen| if model_of(seen) == "b" { status(429, "slow down") } else { ok(&model_of(seen)) }).await;
    let gw = gateway(&a, &b).await;
    let reply = post(&gw, "/v1/chat/completions", None, &ask("pair")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let error = reply.json()["error"].clone();
    assert_eq!(error["type"], "all_deployments_in_cooldown", "{error}");
    assert!(
        error["message"].as_str().unwrap().starts_with("No deployments available for selected model, Try again in ")
    );
    assert!(reply.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| (1..=30).contains(&s))));
    assert_eq!(
        (a.requests().len(), b.requests().len()),
        (1, 1),
        "each 429 cooled its deployment; the retry found none left"
    );

    let again = post(&gw, "/v1/chat/completions", None, &ask("pair")).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1), "cooling deployments get no traffic");
    for model in ["primary", "backup"] {
        assert_eq!(
            post(&gw, "/v1/chat/completions", None, &ask(model)).await.status,
            StatusCode::OK,
            "{model} keeps serving"
        );
    }
    let page = get(&gw, "/metrics", None).await.text();
    let cooled: Vec<&str> = page.lines().filter(|l| l.starts_with("litellm_deployment_cooled_down_total{")).collect();
    assert_eq!(cooled.len(), 2, "{page}");
    assert!(cooled.iter().all(|l| l.ends_with(" 1")));
}

#[tokio::test]
async fn a_reply_that_is_not_json_or_too_large_is_a_502() {
    let a = mock::start(|seen| match model_of(seen).as_str() {
        "primary" => Answer::Json { status: 200, body: "<html>gateway error</html>".into(), headers: vec![] },
        _ => Answer::Json {
            status: 200,
            body: json!({ "model": "x", "pad": "y".repeat(4096) }).to_string(),
            headers: vec![],
        },
    })
    .await;
    let b = mock::start(|seen| ok(&model_of(seen))).await;
    let (base_a, base_b) = (a.base(), b.base());
    let vars = [("MOCK_A", base_a.as_str()), ("MOCK_B", base_b.as_str()), ("MOCK_KEY", "k")];
    let gw = common::start_with(&fixtures::resilient::TABLE, &vars, |s| s.max_upstream_bytes = 1024).await;
    let headers = [("content-type", "application/json"), ("x-litellm-num-retries", "0")];
    let reply = common::send(&gw, Method::POST, "/v1/chat/completions", &headers, ask("small").to_string()).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("larger than 1024 bytes"), "{}", reply.text());
    let reply = common::send(&gw, Method::POST, "/v1/chat/completions", &headers, ask("primary").to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "a 502 falls back, and primary has a fallback: {}", reply.text());
    assert_eq!(b.last().json()["model"], "backup");
    assert_eq!(reply.header("x-litellm-attempted-fallbacks"), Some("1"));
}
