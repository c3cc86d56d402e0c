//! `POST /v1/messages` (Anthropic format in and out): relayed as it is to an `anthropic/`
//! deployment, translated both ways for an `openai/` one; what the upstream received and
//! what the client got, JSON and streams, a tool round trip, errors in Anthropic's shape.

use crate::common;

use common::mock::{self, Answer, Mock};
use common::post;
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

const ANTHROPIC_REQUEST: &str = include_str!("../fixtures/messages/request.anthropic.json");
const OPENAI_REQUEST: &str = include_str!("../fixtures/messages/request.openai.json");
const OPENAI_REPLY: &str = include_str!("../fixtures/messages/response.openai.json");
const ANTHROPIC_REPLY: &str = include_str!("../fixtures/messages/response.anthropic.json");
const OPENAI_STREAM: &str = include_str!("../fixtures/messages/stream.openai.sse");
const ANTHROPIC_STREAM: &str = include_str!("../fixtures/translate/anthropic/stream.anthropic.sse");

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The gateway with `mock` behind both the Anthropic and the OpenAI deployments.
async fn gateway(mock: &Mock) -> Running {
    common::start_behind(&fixtures::upstream::TABLE, mock).await
}

/// `(event name, data)` of each event of an Anthropic SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    assert!(body.ends_with("\n\n"), "{body:?}");
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (event, data) = e.split_once('\n').unwrap_or_else(|| panic!("{e:?}"));
            let name = event.strip_prefix("event: ").unwrap_or_else(|| panic!("no event line: {e:?}"));
            (name.to_owned(), parse(data.strip_prefix("data: ").unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn anthropic_deployments_get_the_body_as_it_is() {
    let reply = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{ "type": "text", "text": "Hi!" }], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": { "input_tokens": 9, "output_tokens": 2 },
    });
    let answer = reply.clone();
    let mock = mock::start(move |_| Answer::ok(&answer)).await;
    let gw = gateway(&mock).await;
    let body = json!({
        "model": "claude", "max_tokens": 64, "metadata": { "user_id": "u1" }, "top_k": 5,
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": "Hi", "cache_control": { "type": "ephemeral" } }] }],
        "api_key": "sk-client-chosen", "num_retries": 0,
    });
    let got = post(&gw, "/v1/messages", Some("client-key"), &body).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-up"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    let mut want = body.clone();
    want["model"] = json!("claude-sonnet-4-5");
    let want = want.as_object_mut().unwrap();
    want.remove("api_key");
    want.remove("num_retries");
    assert_eq!(seen.json(), Value::Object(want.clone()), "relayed as is, gateway fields out");

    let mut expected = reply;
    expected["model"] = json!("claude");
    assert_eq!(got.json(), expected);
    assert_eq!(got.header("x-litellm-model-name"), Some("anthropic/claude-sonnet-4-5"));
}

#[tokio::test]
async fn anthropic_streams_are_relayed_event_by_event() {
    let pieces: Vec<String> =
        ANTHROPIC_STREAM.as_bytes().chunks(89).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let mock = mock::start(move |_| Answer::SseRaw { pieces: pieces.clone() }).await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "claude", "max_tokens": 64, "stream": true, "messages": [{ "role": "user", "content": "Hi" }] });
    let headers = [
        ("content-type", "application/json"),
        ("x-api-key", "client-key"),
        ("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"),
    ];
    let got = common::send(&gw, http::Method::POST, "/v1/messages", &headers, body.to_string()).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    assert_eq!(got.header("content-type"), Some("text/event-stream; charset=utf-8"));
    let seen = mock.last();
    assert_eq!(seen.json()["stream"], true);
    assert_eq!(
        seen.header("anthropic-beta"),
        Some("fine-grained-tool-streaming-2025-05-14"),
        "the client's betas kept"
    );
    assert_eq!(seen.header("x-api-key"), Some("sk-up"), "the deployment's key, never the client's");

    let got = events(&got.text());
    let mut want = events(ANTHROPIC_STREAM);
    want[0].1["message"]["model"] = json!("claude");
    assert_eq!(got, want, "every event kept, the model renamed");
}

#[tokio::test]
async fn openai_deployments_get_a_translated_chat_request_and_the_reply_comes_back() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: OPENAI_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock).await;
    let got = post(&gw, "/v1/messages", None, &parse(ANTHROPIC_REQUEST)).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-up"));
    let mut want = parse(OPENAI_REQUEST);
    want["model"] = json!("gpt-4o-exact");
    assert_eq!(seen.json(), want, "the golden chat request");

    let got = got.json();
    assert!(got["id"].as_str().unwrap().starts_with("msg_"), "{}", got["id"]);
    let mut want = parse(ANTHROPIC_REPLY);
    want["id"] = got["id"].clone();
    want["model"] = json!("gpt-4o");
    assert_eq!(got, want);
}

#[tokio::test]
async fn openai_streams_become_anthropic_events() {
    let chunks = data_events(OPENAI_STREAM);
    let mock = mock::start(move |_| Answer::Sse { events: chunks.clone(), gate: None }).await;
    let gw = gateway(&mock).await;
    let mut body = parse(ANTHROPIC_REQUEST);
    body["stream"] = json!(true);
    let got = post(&gw, "/v1/messages", None, &body).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    let sent = mock.last().json();
    assert_eq!((sent["stream"].as_bool(), sent["stream_options"]["include_usage"].as_bool()), (Some(true), Some(true)));

    let got = events(&got.text());
    let mut want = events(include_str!("../fixtures/messages/stream.anthropic.sse"));
    want[0].1["message"]["model"] = json!("gpt-4o");
    want[0].1["message"]["id"] = got[0].1["message"]["id"].clone();
    assert!(want[0].1["message"]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(got, want);
}

#[tokio::test]
async fn tool_round_trip_through_an_openai_deployment() {
    let mock = mock::start(|seen| {
        let last = seen_messages(seen).last().cloned().unwrap_or_default();
        let reply = if last["role"] == "tool" {
            json!({ "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": "Sunny." } }],
                    "model": "gpt-4o-exact", "usage": { "prompt_tokens": 20, "completion_tokens": 2 } })
        } else {
            json!({ "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": { "role": "assistant", "content": null,
                    "tool_calls": [{ "id": "call_9", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}" } }] } }],
                    "model": "gpt-4o-exact", "usage": { "prompt_tokens": 10, "completion_tokens": 5 } })
        };
        Answer::ok(&reply)
    })
    .await;
    let gw = gateway(&mock).await;
    let tools = json!([{ "name": "get_weather", "input_schema": { "type": "object", "properties": { "city": { "type": "string" } } } }]);
    let mut messages = vec![json!({ "role": "user", "content": "Weather in Oslo?" })];
    let body = json!({ "model": "gpt-4o", "max_tokens": 100, "tools": tools, "messages": messages });
    let first = post(&gw, "/v1/messages", None, &body).await.json();
    assert_eq!(first["stop_reason"], "tool_use");
    let call = &first["content"][0];
    assert_eq!((call["type"].as_str(), call["id"].as_str()), (Some("tool_use"), Some("call_9")));
    assert_eq!(call["input"], json!({ "city": "Oslo" }));

    messages.push(json!({ "role": "assistant", "content": first["content"] }));
    messages.push(
        json!({ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "call_9", "content": "sunny" }] }),
    );
    let body = json!({ "model": "gpt-4o", "max_tokens": 100, "tools": tools, "messages": messages });
    let second = post(&gw, "/v1/messages", None, &body).await.json();
    assert_eq!(second["content"], json!([{ "type": "text", "text": "Sunny." }]));
    assert_eq!(second["stop_reason"], "end_turn");
    assert_eq!(second["usage"], json!({ "input_tokens": 20, "output_tokens": 2 }));
    let sent = seen_messages(&mock.last());
    assert_eq!(sent[1]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(sent[2], json!({ "role": "tool", "tool_call_id": "call_9", "content": "sunny" }));
}

fn seen_messages(seen: &common::mock::Seen) -> Vec<Value> {
    seen.json()["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn errors_use_anthropics_shape() {
    let mock = mock::start(|_| Answer::Json {
        status: 404,
        body: json!({ "error": { "message": "no such model" } }).to_string(),
        headers: vec![],
    })
    .await;
    let gw = gateway(&mock).await;
    let missing = post(&gw, "/v1/messages", None, &json!({ "model": "gpt-4o", "messages": [] })).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.json(),
        json!({ "type": "error", "error": { "type": "invalid_request_error",
                "message": "/v1/messages: Missing required parameter: 'max_tokens'." } })
    );
    let body = json!({ "model": "gpt-4o", "max_tokens": 5, "messages": [{ "role": "user", "content": "Hi" }] });
    let upstream = post(&gw, "/v1/messages", None, &body).await;
    assert_eq!(upstream.status, StatusCode::NOT_FOUND);
    let error = upstream.json();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "not_found_error");
    assert!(error["error"]["message"].as_str().unwrap().ends_with("OpenAIException - no such model"), "{error}");
    let claude = post(&gw, "/v1/messages", None, &json!({ "model": "claude", "max_tokens": 5, "messages": [] })).await;
    assert_eq!(claude.status, StatusCode::NOT_FOUND);
    assert_eq!(claude.json()["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn gemini_deployments_are_translated_twice_over() {
    let mock = mock::start(|_| {
        Answer::ok(&json!({
            "candidates": [{ "content": { "role": "model", "parts": [{ "text": "Hej!" }] }, "finishReason": "STOP", "index": 0 }],
            "usageMetadata": { "promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6 },
            "responseId": "r1",
        }))
    })
    .await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "flash", "max_tokens": 32, "system": "Be Swedish.", "messages": [{ "role": "user", "content": "Hi" }] });
    let got = post(&gw, "/v1/messages", None, &body).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    let seen = mock.last();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    let sent = seen.json();
    assert_eq!(sent["system_instruction"]["parts"][0]["text"], "Be Swedish.");
    assert_eq!(sent["generationConfig"]["max_output_tokens"], 32);
    let got = got.json();
    assert_eq!(got["model"], "flash");
    assert_eq!(got["content"], json!([{ "type": "text", "text": "Hej!" }]));
    assert_eq!((got["stop_reason"].as_str(), got["usage"]["output_tokens"].as_u64()), (Some("end_turn"), Some(2)));
}

#[tokio::test]
async fn a_broken_stream_ends_with_an_anthropic_error_event() {
    let reset = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = reset.clone();
    let chunk =
        json!({ "model": "gpt-4o-exact", "choices": [{ "index": 0, "delta": { "content": "Hel" } }] }).to_string();
    let mock = mock::start(move |_| Answer::SseThenReset { events: vec![chunk.clone()], gate: held.clone() }).await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "gpt-4o", "max_tokens": 8, "stream": true, "messages": [{ "role": "user", "content": "Hi" }] });
    let text = common::stream_past_reset(&gw, "/v1/messages", &body, "content_block_delta", &reset).await;
    let got = events(&text);
    let names: Vec<&str> = got.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["message_start", "content_block_start", "content_block_delta", "error"], "{got:?}");
    assert_eq!(got[2].1["delta"], json!({ "type": "text_delta", "text": "Hel" }));
    assert_eq!(got[3].1["error"]["type"], "api_error");
    assert!(!text.contains("[DONE]"));
}

#[tokio::test]
async fn gemini_streams_become_anthropic_events_in_one_pass() {
    let chunks = data_events(include_str!("../fixtures/translate/gemini/stream.gemini.sse"));
    let mock = mock::start(move |_| Answer::Sse { events: chunks.clone(), gate: None }).await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "flash", "max_tokens": 32, "stream": true, "messages": [{ "role": "user", "content": "Hi" }] });
    let got = post(&gw, "/v1/messages", None, &body).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    assert_eq!(mock.last().path, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");

    let got = events(&got.text());
    let (id, call) = (got[0].1["message"]["id"].clone(), got[5].1["content_block"]["id"].clone());
    assert!(id.as_str().unwrap().starts_with("msg_") && call.as_str().unwrap().starts_with("call_"), "{got:?}");
    let message = json!({
        "id": id, "type": "message", "role": "assistant", "model": "flash", "content": [],
        "stop_reason": null, "stop_sequence": null, "usage": { "input_tokens": 0, "output_tokens": 0 },
    });
    let text = |text: &str| json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": text } });
    let tool = json!({ "type": "tool_use", "id": call, "name": "get_weather", "input": {} });
    let arguments = json!({ "type": "input_json_delta", "partial_json": "{\"location\":\"Paris\"}" });
    let want = [
        ("message_start", json!({ "type": "message_start", "message": message })),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
        ),
        ("content_block_delta", text("Let me ")),
        ("content_block_delta", text("check.")),
        ("content_block_stop", json!({ "type": "content_block_stop", "index": 0 })),
        ("content_block_start", json!({ "type": "content_block_start", "index": 1, "content_block": tool })),
        ("content_block_delta", json!({ "type": "content_block_delta", "index": 1, "delta": arguments })),
        ("content_block_stop", json!({ "type": "content_block_stop", "index": 1 })),
        (
            "message_delta",
            json!({
                "type": "message_delta", "delta": { "stop_reason": "tool_use", "stop_sequence": null },
                "usage": { "input_tokens": 40, "output_tokens": 12 },
            }),
        ),
        ("message_stop", json!({ "type": "message_stop" })),
    ];
    let want: Vec<(String, Value)> = want.into_iter().map(|(name, data)| (name.to_owned(), data)).collect();
    assert_eq!(got, want);

    // The usage the translated stream told the relay is the request's.
    let page = common::get(&gw, "/metrics", None).await.text();
    let line = |metric: &str| {
        page.lines().find(|l| l.starts_with(metric) && l.contains("requested_model=\"flash\"")).map(str::to_owned)
    };
    assert!(line("litellm_input_tokens_metric_total").is_some_and(|l| l.ends_with(" 40")), "{page}");
    assert!(line("litellm_output_tokens_metric_total").is_some_and(|l| l.ends_with(" 12")), "{page}");
}

/// The `data:` payloads of an SSE transcript, one per event, for the mock to send.
fn data_events(transcript: &str) -> Vec<String> {
    transcript
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.trim().trim_start_matches("data: ").to_owned())
        .collect()
}
