//! Observability after scripted traffic: exact Prometheus counters and labels, usage and
//! cost (streams included, the usage chunk kept from clients that did not ask), and one
//! structured log line per request without message content or secrets.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::mock::{self, Answer, Mock};
use common::{get, post, send, sse_events, start};
use http::{Method, StatusCode};
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

const AGENT: &str = "myns/myagent";

fn reply(model: &str) -> Value {
    json!({
        "id": "c", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "ok" }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 },
    })
}

fn chunks(model: &str, with_usage: bool) -> Vec<String> {
    let chunk = json!({ "id": "c", "object": "chat.completion.chunk", "model": model, "choices": [{ "index": 0, "delta": { "content": "hi" } }] });
    let usage = json!({ "id": "c", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": { "prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9 } });
    let mut events = vec![chunk.to_string()];
    if with_usage {
        events.push(usage.to_string());
    }
    events.push("[DONE]".into());
    events
}

/// Chat JSON, a 429 for content "429", one 500 for the first "flaky", SSE (with the usage chunk when asked) for streams.
async fn scripted() -> Mock {
    let flaked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    mock::start(move |seen| {
        let body = seen.json();
        let model = body["model"].as_str().unwrap_or_default().to_owned();
        if body["messages"][0]["content"] == "flaky" && !flaked.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Answer::Json {
                status: 500,
                body: json!({ "error": { "message": "hiccup" } }).to_string(),
                headers: vec![],
            };
        }
        if body["messages"][0]["content"] == "429" {
            return Answer::Json {
                status: 429,
                body: json!({ "error": { "message": "slow down" } }).to_string(),
                headers: vec![],
            };
        }
        if body["stream"] == true {
            let asked = body["stream_options"]["include_usage"] == true;
            return Answer::Sse { events: chunks(&model, asked), gate: None };
        }
        Answer::Json {
            status: 200,
            body: reply(&model).to_string(),
            headers: vec![("x-ratelimit-remaining-requests", "41".into())],
        }
    })
    .await
}

async fn gateway(mock: &Mock) -> Running {
    let base = mock.base();
    start(&fixtures::upstream::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "sk-upstream-secret")]).await
}

fn chat(content: &str, stream: Option<bool>) -> Value {
    let mut body = json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": content }] });
    if let Some(include_usage) = stream {
        body["stream"] = json!(true);
        if include_usage {
            body["stream_options"] = json!({ "include_usage": true });
        }
    }
    body
}

/// The value (as written) of the one line of `page` that starts with `metric{` and holds
/// every label.
fn sample(page: &str, metric: &str, labels: &[&str]) -> String {
    let lines: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && labels.iter().all(|label| l.contains(label)))
        .collect();
    assert_eq!(lines.len(), 1, "{metric} {labels:?}: {lines:?}\n{page}");
    lines[0].rsplit(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn metrics_count_scripted_traffic_exactly() {
    let mock = scripted().await;
    let gw = gateway(&mock).await;
    for _ in 0..2 {
        let reply = post(&gw, "/v1/chat/completions", Some(AGENT), &chat("hello", None)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("x-litellm-response-cost"), Some("0.011"), "5 × 0.001 + 3 × 0.002");
    }
    let headers = [
        ("content-type", "application/json"),
        ("authorization", "Bearer myns/myagent"),
        ("x-litellm-num-retries", "0"),
    ];
    let limited = send(&gw, Method::POST, "/v1/chat/completions", &headers, chat("429", None).to_string()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let flaky = post(&gw, "/v1/chat/completions", Some(AGENT), &chat("flaky", None)).await;
    assert_eq!((flaky.status, flaky.header("x-litellm-attempted-retries")), (StatusCode::OK, Some("1")));
    let quiet = sse_events(&post(&gw, "/v1/chat/completions", Some(AGENT), &chat("hello", Some(false))).await.text());
    assert_eq!(mock.last().json()["stream_options"], json!({ "include_usage": true }), "usage is asked for upstream");
    assert!(quiet.iter().all(|e| !e.contains("usage")), "the client did not ask for the usage chunk: {quiet:?}");
    let asked = sse_events(&post(&gw, "/v1/chat/completions", Some(AGENT), &chat("hello", Some(true))).await.text());
    let usage: Value = serde_json::from_str(&asked[asked.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["total_tokens"], 9);
    assert!((usage["usage"]["cost"].as_f64().unwrap() - 0.011).abs() < 1e-12, "7 × 0.001 + 2 × 0.002: {usage}");

    let page = get(&gw, "/metrics", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let page = page.text();
    let who = "hashed_api_key=\"myns/myagent\"";
    let asked_for = "requested_model=\"gpt-4o\"";
    assert_eq!(
        sample(
            &page,
            "litellm_proxy_total_requests_metric_total",
            &[who, asked_for, "status_code=\"200\"", "route=\"/chat/completions\"", "api_provider=\"openai\""]
        ),
        "5"
    );
    assert_eq!(sample(&page, "litellm_proxy_total_requests_metric_total", &[who, "status_code=\"429\""]), "1");
    // LiteLLM's failed-requests family has exception_status and exception_class, no status_code.
    let failed = [who, "exception_status=\"429\"", "exception_class=\"Openai.RateLimitError\""];
    assert_eq!(sample(&page, "litellm_proxy_failed_requests_metric_total", &failed), "1");
    assert!(
        page.lines()
            .filter(|l| l.starts_with("litellm_proxy_failed_requests_metric_total{"))
            .all(|l| !l.contains("status_code=")),
        "{page}"
    );
    // Token and spend families carry the model sent and the name asked for (no model_group).
    let deployment = ["model=\"gpt-4o-exact\"", "requested_model=\"gpt-4o\""];
    assert_eq!(sample(&page, "litellm_input_tokens_metric_total", &deployment), "29", "5 + 5 + 5 + 7 + 7");
    assert_eq!(sample(&page, "litellm_output_tokens_metric_total", &deployment), "13");
    assert_eq!(sample(&page, "litellm_total_tokens_metric_total", &deployment), "42");
    let spend: f64 = sample(&page, "litellm_spend_metric_total", &deployment).parse().unwrap();
    assert!((spend - 0.055).abs() < 1e-9, "{spend}");
    assert_eq!(sample(&page, "litellm_requests_metric_total", &deployment), "5");
    assert_eq!(
        sample(&page, "litellm_deployment_total_requests_total", &["model_group=\"gpt-4o\""]),
        "7",
        "every attempt"
    );
    let limited = ["exception_status=\"429\"", "exception_class=\"Openai.RateLimitError\""];
    assert_eq!(sample(&page, "litellm_deployment_failure_responses_total", &limited), "1");
    assert_eq!(
        sample(&page, "litellm_deployment_failure_responses_total", &["exception_status=\"500\""]),
        "1",
        "the retried attempt"
    );
    assert_eq!(sample(&page, "litellm_remaining_requests_metric", &["model_group=\"gpt-4o\""]), "41");
    assert_eq!(sample(&page, "litellm_llm_api_time_to_first_token_metric_count", &deployment), "2", "one per stream");
    assert_eq!(sample(&page, "litellm_request_total_latency_metric_count", &deployment), "6");
    assert!(page.contains("\nlitellm_in_flight_requests 0\n"), "every call finished");
    assert!(page.contains("model_router_build_info{env=\"upstream\""));
    assert!(!page.contains("sk-upstream-secret"));
}

#[tokio::test]
async fn metrics_follow_the_callbacks_and_auth_settings() {
    let strict = start(&fixtures::strict::TABLE, &[("TEST_MASTER_KEY", "sk-m")]).await;
    assert_eq!(get(&strict, "/metrics", Some("sk-m")).await.status, StatusCode::NOT_FOUND, "no prometheus callback");
    let base = start(model_router::table::COMPILED, &[]).await;
    assert_eq!(get(&base, "/metrics", None).await.status, StatusCode::UNAUTHORIZED, "LiteLLM's default needs the key");
    post(&base, "/v1/chat/completions", Some("sk-1234"), &json!({ "model": "fake-openai-endpoint", "messages": [] }))
        .await;
    let page = get(&base, "/metrics", Some("sk-1234")).await.text();
    let hashed = "hashed_api_key=\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\"";
    assert_eq!(
        sample(&page, "litellm_proxy_total_requests_metric_total", &[hashed, "status_code=\"200\""]),
        "1",
        "a master key is hashed"
    );
}

/// Collects the JSON log lines written while it is the thread's default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_log_line_per_request_without_content_or_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mock = scripted().await;
    let gw = gateway(&mock).await;
    let headers = [("content-type", "application/json"), ("x-request-id", "req-abc-1")];
    let reply =
        send(&gw, Method::POST, "/v1/chat/completions", &headers, chat("my secret prompt", None).to_string()).await;
    assert_eq!(reply.header("x-request-id"), Some("req-abc-1"), "the client's request id is returned");
    let events =
        sse_events(&post(&gw, "/v1/chat/completions", None, &chat("streamed secret", Some(false))).await.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let generated = post(&gw, "/v1/chat/completions", None, &chat("x", None)).await;
    assert_eq!(
        generated.header("x-request-id"),
        generated.header("x-litellm-call-id"),
        "else the call id is the request id"
    );
    gw.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request served")
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let first = &lines[0];
    assert_eq!(first["request_id"], "req-abc-1");
    assert_eq!(
        (first["status"].as_u64(), first["model"].as_str(), first["group"].as_str()),
        (Some(200), Some("gpt-4o"), Some("gpt-4o"))
    );
    assert_eq!((first["prompt_tokens"].as_u64(), first["total_tokens"].as_u64()), (Some(5), Some(8)));
    assert!(first["deployment"].as_str().is_some_and(|d| d.len() == 64));
    assert!(first["latency_ms"].as_f64().is_some());
    let stream = &lines[1];
    assert_eq!(stream["total_tokens"].as_u64(), Some(9), "a stream is logged when it ends, with its usage");
    assert!(stream["ttft_ms"].as_f64().is_some());
    for secret in ["my secret prompt", "streamed secret", "sk-upstream-secret"] {
        assert!(!text.contains(secret), "{secret} leaked into the logs");
    }
}
