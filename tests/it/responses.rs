//! The Responses API relayed to deployments that speak it, against a recording mock that
//! speaks it as documented (JSON and SSE with event names; unknown `previous_response_id`s
//! refused with OpenAI's 400): bodies pass through with only `model` changed, events keep
//! their names and nothing is appended, usage is counted, provider errors keep their `code`
//! and `param`, and ids the gateway issues bring follow-ups back to the deployment that
//! answered, while foreign ids travel unchanged.

use crate::common;

use bytes::Bytes;
use common::mock::{self, Answer, Mock, Seen};
use common::{get, post, send, start};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A response object as OpenAI writes it.
fn response(id: &str, model: &str, status: &str) -> Value {
    json!({
        "id": id, "object": "response", "created_at": 1, "status": status, "model": model,
        "output": [{ "id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                     "content": [{ "type": "output_text", "text": "Hello", "annotations": [] }] }],
        "previous_response_id": null,
        "usage": { "input_tokens": 5, "output_tokens": 3, "total_tokens": 8,
                   "input_tokens_details": { "cached_tokens": 0 }, "output_tokens_details": { "reasoning_tokens": 0 } },
    })
}

/// The events of a streamed response, as OpenAI frames them.
fn stream(id: &str, model: &str) -> Vec<String> {
    let created =
        json!({ "type": "response.created", "sequence_number": 0, "response": response(id, model, "in_progress") });
    let delta = json!({ "type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hello" });
    let done =
        json!({ "type": "response.completed", "sequence_number": 2, "response": response(id, model, "completed") });
    [("response.created", created), ("response.output_text.delta", delta), ("response.completed", done)]
        .into_iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

fn error(status: u16, message: &str, param: Option<&str>, code: Option<&str>) -> Answer {
    let body =
        json!({ "error": { "message": message, "type": "invalid_request_error", "param": param, "code": code } });
    Answer::Json { status, body: body.to_string(), headers: vec![] }
}

/// A mock Responses API whose response ids start with `resp_{name}_`: ids it did not issue
/// are unknown to it, as to OpenAI.
async fn responses_mock(name: &'static str) -> Mock {
    mock::start(move |seen: &Seen| {
        let ours = format!("resp_{name}_");
        let path = seen.path.split('?').next().unwrap_or_default().to_owned();
        let id = path.strip_prefix("/v1/responses/").map(|rest| rest.split('/').next().unwrap_or_default().to_owned());
        if path == "/v1/responses/input_tokens" {
            return Answer::ok(&json!({ "object": "response.input_tokens", "input_tokens": 7 }));
        }
        if path == "/v1/responses" {
            let body = seen.json();
            if let Some(previous) = body["previous_response_id"].as_str().filter(|p| !p.starts_with(&ours)) {
                let message = format!("Previous response with id '{previous}' not found.");
                return error(400, &message, Some("previous_response_id"), Some("previous_response_not_found"));
            }
            let model = body["model"].as_str().unwrap_or_default();
            if body["stream"] == true {
                return Answer::SseRaw { pieces: stream(&format!("{ours}1"), model) };
            }
            return Answer::ok(&response(&format!("{ours}1"), model, "completed"));
        }
        let Some(id) = id.filter(|id| id.starts_with(&ours)) else {
            return error(404, "Response with id 'x' not found.", None, None);
        };
        match path.rsplit('/').next() {
            Some("input_items") => Answer::ok(&json!({ "object": "list", "data": [{ "id": "msg_0", "type": "message" }], "first_id": "msg_0", "last_id": "msg_0", "has_more": false })),
            Some("cancel") => Answer::ok(&response(&id, "gpt-up", "cancelled")),
            _ if seen.method == Method::DELETE => Answer::ok(&json!({ "id": id, "object": "response.deleted", "deleted": true })),
            _ => Answer::ok(&response(&id, "gpt-up", "completed")),
        }
    })
    .await
}

async fn gateway(a: &Mock, b: &Mock) -> Running {
    let (base_a, base_b) = (a.base(), b.base());
    start(&fixtures::responses::TABLE, &[("MOCK_A", &base_a), ("MOCK_B", &base_b), ("MOCK_KEY", "sk-up")]).await
}

/// `resp_mr1_<tag>_<upstream>` for a deployment id, as the gateway issues it.
fn issued(deployment_id: &str, upstream: &str) -> String {
    let digest = Sha256::new().chain_update(b"model-router response affinity\0").chain_update(deployment_id).finalize();
    let tag = model_router::table::hex(&digest[..8]);
    format!("resp_mr1_{tag}_{upstream}")
}

async fn delete(gw: &Running, path: &str) -> common::Reply {
    send(gw, Method::DELETE, path, &[], Bytes::new()).await
}

#[tokio::test]
async fn a_create_passes_the_body_through_with_only_model_changed() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let text = r#"{"model":"solo","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],
        "instructions":"be brief","reasoning":{"effort":"low","summary":"auto"},
        "include":["reasoning.encrypted_content"],"text":{"format":{"type":"text"}},
        "metadata":{"team":"x"},"store":false,"background":false,"prompt_cache_key":"k1",
        "brand_new_param":{"nested": [1, 2.50]}}"#;
    let body: Value = serde_json::from_str(text).unwrap();
    let reply = send(&gw, Method::POST, "/v1/responses", &[("content-type", "application/json")], text).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let got = reply.json();
    assert_eq!(got["model"], "solo", "the requested name");
    assert_eq!(got["id"], issued("solo", "resp_a_1"));
    assert_eq!(got["output"][0]["id"], "msg_1", "item ids are the provider's");
    assert_eq!(reply.header("x-litellm-model-id"), Some("solo"));
    assert_eq!(reply.header("x-litellm-response-cost"), Some("0.011"), "5 × 0.001 + 3 × 0.002");
    let seen = a.last();
    assert_eq!(seen.path, "/v1/responses");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-up"));
    let mut want = body.clone();
    want["model"] = json!("gpt-solo");
    want["temperature"] = json!(0.5);
    assert_eq!(seen.json(), want, "only model changed; the deployment's temperature added, its max_tokens not");
    let sent = String::from_utf8_lossy(&seen.body).into_owned();
    assert!(sent.contains(r#""brand_new_param":{"nested": [1, 2.50]}"#), "unknown members byte for byte: {sent}");
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn a_stream_keeps_its_event_names_appends_nothing_and_counts_usage() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let body = json!({ "model": "solo", "input": "hi", "stream": true });
    let reply = post(&gw, "/responses", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("text/event-stream; charset=utf-8"));
    let text = reply.text();
    let upstream = stream("resp_a_1", "gpt-solo");
    let blocks: Vec<&str> = text.split_inclusive("\n\n").collect();
    assert_eq!(blocks.len(), 3, "one event each, nothing appended: {text}");
    assert_eq!(blocks[1], upstream[1], "a delta passes byte for byte");
    for (block, name) in blocks.iter().zip(["response.created", "response.output_text.delta", "response.completed"]) {
        assert!(block.starts_with(&format!("event: {name}\ndata: ")), "{block}");
    }
    assert!(!text.contains("[DONE]"));
    let done: Value = serde_json::from_str(blocks[2].trim_end().split_once("data: ").unwrap().1).unwrap();
    assert_eq!(
        (done["response"]["id"].as_str(), done["response"]["model"].as_str()),
        (Some(issued("solo", "resp_a_1").as_str()), Some("solo"))
    );
    assert_eq!(a.last().json()["stream"], true);
    assert!(a.last().json().get("stream_options").is_none(), "chat's stream_options are not sent");

    let page = get(&gw, "/metrics", None).await.text();
    let line = |metric: &str| {
        page.lines().find(|l| l.starts_with(metric) && l.contains("requested_model=\"solo\"")).map(str::to_owned)
    };
    assert!(line("litellm_total_tokens_metric_total").is_some_and(|l| l.ends_with(" 8")), "{page}");
    let spend = line("litellm_spend_metric_total").unwrap();
    assert!(spend.ends_with(" 0.011"), "{spend}");
    assert!(page.contains("route=\"/v1/responses\""), "{page}");
}

#[tokio::test]
async fn a_providers_error_keeps_its_status_code_and_param_and_foreign_ids_pass_unchanged() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let body = json!({ "model": "solo", "input": "again", "previous_response_id": "resp_elsewhere" });
    let reply = post(&gw, "/v1/responses", None, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let got = reply.json();
    assert_eq!(got["error"]["code"], "previous_response_not_found");
    assert_eq!(got["error"]["param"], "previous_response_id");
    assert_eq!(got["error"]["message"], "Previous response with id 'resp_elsewhere' not found.");
    assert_eq!(a.last().json()["previous_response_id"], "resp_elsewhere", "an id the gateway did not issue");
}

#[tokio::test]
async fn issued_ids_bring_every_follow_up_back_to_their_deployment() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let first = post(&gw, "/v1/responses", None, &json!({ "model": "pair", "input": "hi" })).await.json();
    let id = first["id"].as_str().unwrap().to_owned();
    let (issuer, other, upstream) = if a.requests().is_empty() { (&b, &a, "resp_b_1") } else { (&a, &b, "resp_a_1") };
    let deployment = if a.requests().is_empty() { "pair-b" } else { "pair-a" };
    assert_eq!(id, issued(deployment, upstream));
    for _ in 0..8 {
        let body = json!({ "model": "pair", "input": "more", "previous_response_id": id });
        let reply = post(&gw, "/v1/responses", None, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(issuer.last().json()["previous_response_id"], upstream, "decoded for the provider");
        assert_eq!(reply.json()["id"], id, "the mock answers with the same upstream id");
    }
    let retrieved = get(&gw, &format!("/v1/responses/{id}?stream=false&starting_after=2&model=pair"), None).await;
    assert_eq!(retrieved.status, StatusCode::OK, "{}", retrieved.text());
    assert_eq!(retrieved.json()["id"], id);
    assert_eq!(retrieved.json()["model"], "gpt-up", "a retrieve keeps the provider's model, as LiteLLM");
    assert_eq!(
        issuer.last().path,
        format!("/v1/responses/{upstream}?stream=false&starting_after=2"),
        "the gateway's model stays"
    );
    assert_eq!((issuer.last().method, issuer.last().body.len()), (Method::GET, 0));
    let items = get(&gw, &format!("/responses/{id}/input_items?limit=5"), None).await;
    assert_eq!((items.status, items.json()["first_id"].as_str()), (StatusCode::OK, Some("msg_0")));
    assert_eq!(issuer.last().path, format!("/v1/responses/{upstream}/input_items?limit=5"));
    let cancelled = post(&gw, &format!("/v1/responses/{id}/cancel"), None, &json!({})).await;
    assert_eq!((cancelled.status, cancelled.json()["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    assert_eq!((issuer.last().method, issuer.last().path), (Method::POST, format!("/v1/responses/{upstream}/cancel")));
    let deleted = delete(&gw, &format!("/v1/responses/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert_eq!(deleted.json(), json!({ "id": id, "object": "response.deleted", "deleted": true }));
    assert_eq!((issuer.last().method, issuer.last().path), (Method::DELETE, format!("/v1/responses/{upstream}")));
    assert_eq!(deleted.header("x-litellm-model-id"), Some(deployment));
    assert!(other.requests().is_empty(), "the other deployment never saw the conversation");
}

#[tokio::test]
async fn an_id_whose_deployment_is_gone_gets_openais_not_found_and_reaches_no_one() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let gone = issued("a-removed-deployment", "resp_a_1");
    let reply = get(&gw, &format!("/v1/responses/{gone}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let message = format!("Response with id '{gone}' not found.");
    assert_eq!(
        reply.json(),
        json!({ "error": { "message": message, "type": "invalid_request_error", "param": null, "code": null } })
    );
    let body = json!({ "model": "pair", "input": "hi", "previous_response_id": gone });
    let reply = post(&gw, "/v1/responses", None, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"]["code"], "previous_response_not_found");
    assert!(a.requests().is_empty() && b.requests().is_empty());
}

#[tokio::test]
async fn a_foreign_id_needs_its_group_named_when_several_serve_the_api() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let reply = get(&gw, "/v1/responses/resp_a_7", None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"]["param"], "model");
    assert!(a.requests().is_empty());
    let reply = get(&gw, "/v1/responses/resp_a_7?model=solo", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(a.last().path, "/v1/responses/resp_a_7", "passed unchanged");
    assert_eq!(reply.json()["id"], issued("solo", "resp_a_7"), "and issued as the deployment's from now on");
}

#[tokio::test]
async fn input_tokens_are_counted_upstream_and_bridged_deployments_are_not_relayed_to() {
    let (a, b) = (responses_mock("a").await, responses_mock("b").await);
    let gw = gateway(&a, &b).await;
    let reply = post(&gw, "/v1/responses/input_tokens", None, &json!({ "model": "solo", "input": "hi" })).await;
    assert_eq!(reply.json(), json!({ "object": "response.input_tokens", "input_tokens": 7 }));
    assert_eq!(a.last().path, "/v1/responses/input_tokens");
    let before = a.requests().len();
    let reply = post(&gw, "/v1/responses", None, &json!({ "model": "chat-only", "input": "hi" })).await;
    assert_ne!(reply.status, StatusCode::OK);
    assert!(a.requests()[before..].iter().all(|seen| seen.path != "/v1/responses"), "not relayed");
}

#[tokio::test]
async fn a_stream_that_breaks_ends_with_an_error_event_numbered_after_the_last() {
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = std::sync::Arc::clone(&gate);
    let a = mock::start(move |_| {
        // Answer::SseThenReset frames each event as `data:` only, as a provider without names would.
        let events = stream("resp_a_1", "gpt-solo")
            .into_iter()
            .take(2)
            .map(|block| block.trim_end().split_once("data: ").map(|(_, data)| data.to_owned()).unwrap());
        Answer::SseThenReset { events: events.collect(), gate: std::sync::Arc::clone(&held) }
    })
    .await;
    let b = responses_mock("b").await;
    let gw = gateway(&a, &b).await;
    let body = json!({ "model": "solo", "input": "hi", "stream": true }).to_string();
    let mut response = common::open(&gw, Method::POST, "/v1/responses", &[("content-type", "application/json")], body)
        .await
        .into_body();
    let mut text = String::new();
    while text.matches("\n\n").count() < 2 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), response.frame()).await;
        let frame = next.expect("events arrive promptly").expect("the relayed events").expect("a frame");
        text.push_str(&String::from_utf8_lossy(&frame.into_data().unwrap_or_default()));
    }
    gate.notify_one();
    while let Some(Ok(frame)) = response.frame().await {
        text.push_str(&String::from_utf8_lossy(&frame.into_data().unwrap_or_default()));
    }
    let blocks: Vec<&str> = text.split_inclusive("\n\n").collect();
    assert_eq!(blocks.len(), 3, "{text:?}");
    assert!(blocks[0].starts_with("data: {") && blocks[1].starts_with("data: {"), "no name invented: {text}");
    let (name, data) = blocks[2].trim_end().split_once('\n').unwrap();
    assert_eq!(name, "event: error");
    let error: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!((error["type"].as_str(), error["sequence_number"].as_u64()), (Some("error"), Some(2)), "{error}");
    assert!(error["message"].as_str().unwrap().contains("stream from the provider failed"), "{error}");
    assert!(!text.contains("[DONE]"));
}
