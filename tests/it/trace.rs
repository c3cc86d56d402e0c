//! Traces received by an in-process OTLP/HTTP receiver: the request's server span continues
//! the client's `traceparent`, the upstream attempt's client span is the parent the
//! upstream was told about, and both carry the GenAI attributes.

use crate::common;

use common::mock::{self, Answer};
use common::{send, start};
use http::{Method, StatusCode};
use model_router::table::fixtures;
use serde_json::{Value, json};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

fn attribute<'a>(span: &'a Value, key: &str) -> &'a Value {
    let found = span["attributes"].as_array().unwrap().iter().find(|a| a["key"] == key);
    &found.unwrap_or_else(|| panic!("{key} missing from {span}"))["value"]
}

#[tokio::test]
async fn spans_continue_the_clients_trace_and_name_the_upstream_attempt() {
    let receiver = mock::start(|_| Answer::ok(&json!({}))).await;
    let upstream = mock::start(|seen| {
        Answer::ok(&json!({
            "id": "c", "object": "chat.completion", "model": seen.json()["model"], "choices": [],
            "usage": { "prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8 },
        }))
    })
    .await;
    let (base, otlp) = (upstream.base(), format!("http://{}", receiver.addr));
    let vars = [
        ("MOCK_BASE", base.as_str()),
        ("MOCK_KEY", "k"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_SERVICE_NAME", "gw-test"),
    ];
    let gw = start(&fixtures::upstream::TABLE, &vars).await;
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let headers = [("content-type", "application/json"), ("traceparent", traceparent.as_str())];
    let body = json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": "hi" }] });
    let reply = send(&gw, Method::POST, "/v1/chat/completions", &headers, body.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let sent_upstream = upstream.last().header("traceparent").unwrap().to_owned();
    assert!(
        sent_upstream.starts_with(&format!("00-{CLIENT_TRACE}-")) && sent_upstream.ends_with("-01"),
        "{sent_upstream}"
    );
    let attempt_id = sent_upstream.split('-').nth(2).unwrap().to_owned();
    gw.stop().await;

    let exports = receiver.requests();
    assert_eq!(exports.len(), 1, "stopping flushes the queued spans in one export");
    assert_eq!(exports[0].path, "/v1/traces");
    assert_eq!(exports[0].header("content-type"), Some("application/json"));
    let export = exports[0].json();
    let resource = &export["resourceSpans"][0]["resource"];
    assert!(
        resource["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "gw-test")
    );
    let spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().clone();
    assert_eq!(spans.len(), 2);
    let server = spans.iter().find(|s| s["kind"] == 2).unwrap();
    let client = spans.iter().find(|s| s["kind"] == 3).unwrap();
    assert_eq!((server["traceId"].as_str(), server["parentSpanId"].as_str()), (Some(CLIENT_TRACE), Some(CLIENT_SPAN)));
    assert_eq!(server["name"], "chat gpt-4o");
    assert_eq!(attribute(server, "gen_ai.operation.name")["stringValue"], "chat");
    assert_eq!(attribute(server, "gen_ai.request.model")["stringValue"], "gpt-4o");
    assert_eq!(attribute(server, "gen_ai.response.model")["stringValue"], "gpt-4o-exact");
    assert_eq!(attribute(server, "gen_ai.usage.input_tokens")["intValue"], "5");
    assert_eq!(attribute(server, "gen_ai.usage.output_tokens")["intValue"], "3");
    assert_eq!(attribute(server, "http.response.status_code")["intValue"], "200");
    assert_eq!(client["traceId"], CLIENT_TRACE);
    assert_eq!(client["spanId"], attempt_id.as_str(), "the upstream's parent is the attempt span");
    assert_eq!(client["parentSpanId"], server["spanId"]);
    assert_eq!(attribute(client, "gen_ai.provider.name")["stringValue"], "openai");
    let start: u128 = server["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let end: u128 = server["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(end >= start);
}

#[tokio::test]
async fn a_responses_api_call_is_traced_as_responses_not_chat() {
    let receiver = mock::start(|_| Answer::ok(&json!({}))).await;
    let otlp = format!("http://{}", receiver.addr);
    let gw = start(&fixtures::responses_bridge::TABLE, &[("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str())]).await;
    let body = json!({ "model": "fake", "input": "hi" }).to_string();
    let reply = send(&gw, Method::POST, "/v1/responses", &[("content-type", "application/json")], body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    gw.stop().await;
    let export = receiver.requests()[0].json();
    let spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().clone();
    let server = spans.iter().find(|s| s["kind"] == 2).unwrap();
    assert_eq!(server["name"], "responses fake");
    assert_eq!(attribute(server, "gen_ai.operation.name")["stringValue"], "responses");
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_traced_or_propagated() {
    let upstream =
        mock::start(|_| Answer::ok(&json!({ "object": "chat.completion", "model": "m", "choices": [] }))).await;
    let base = upstream.base();
    let gw = start(&fixtures::upstream::TABLE, &[("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k")]).await;
    let body = json!({ "model": "gpt-4o", "messages": [] });
    send(&gw, Method::POST, "/v1/chat/completions", &[("content-type", "application/json")], body.to_string()).await;
    assert_eq!(upstream.last().header("traceparent"), None);
}
