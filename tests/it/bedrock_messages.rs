//! `/v1/messages` on `bedrock/` deployments against the mock Bedrock runtime
//! (`tests/common/bedrock.rs`): an Anthropic model is relayed to InvokeModel with
//! Anthropic's own body (and its stream's `chunk` frames come back as Anthropic events);
//! another model goes through Converse.

use crate::common;

use common::bedrock::{KEY_ID, NOVA_PATH, chunk, converse_reply, frame, frames, gateway, signed};
use common::mock::{self, Answer};
use http::StatusCode;
use model_router::server::Running;
use serde_json::{Value, json};

fn messages_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "max_tokens": 64, "stream": stream,
        "system": [{ "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral" } }],
        "messages": [{ "role": "user", "content": "Hi" }],
        "thinking": { "type": "enabled", "budget_tokens": 1024 },
    })
}

async fn post_messages(gw: &Running, body: &Value) -> common::Reply {
    let headers = [
        ("content-type", "application/json"),
        ("x-api-key", "sk-1234"),
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "interleaved-thinking-2025-05-14, prompt-caching-2024-07-31"),
    ];
    common::send(gw, http::Method::POST, "/v1/messages", &headers, body.to_string()).await
}

#[tokio::test]
async fn messages_on_an_anthropic_model_go_to_invoke_model_with_anthropics_body() {
    let bedrock = mock::start(|_| {
        Answer::ok(&json!({
            "id": "msg_bdrk_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20240620",
            "content": [{ "type": "text", "text": "Hello" }], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": { "input_tokens": 4, "output_tokens": 2 },
        }))
    })
    .await;
    let gw = gateway(&bedrock, &[]).await;
    let reply = post_messages(&gw, &messages_request("claude", false)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!((body["model"].as_str(), body["content"][0]["text"].as_str()), (Some("claude"), Some("Hello")));

    let seen = bedrock.last();
    assert_eq!(seen.path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke");
    signed(&seen, KEY_ID, "eu-west-1", "bedrock");
    let sent = seen.json();
    assert_eq!(sent["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(sent["anthropic_beta"], json!(["interleaved-thinking-2025-05-14", "prompt-caching-2024-07-31"]));
    assert!(sent.get("model").is_none() && sent.get("stream").is_none(), "{sent}");
    assert_eq!(sent["thinking"], json!({ "type": "enabled", "budget_tokens": 1024 }), "passes untouched");
    assert_eq!(sent["system"][0]["cache_control"], json!({ "type": "ephemeral" }));
}

#[tokio::test]
async fn a_messages_stream_relays_the_invoke_chunks_as_anthropic_events() {
    let bedrock = mock::start(|_| {
        frames(
            vec![
                chunk(&json!({ "type": "message_start", "message": { "id": "msg_1", "type": "message", "role": "assistant",
                    "model": "claude-3-5-sonnet-20240620", "content": [], "usage": { "input_tokens": 4, "output_tokens": 0 } } })),
                chunk(&json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } })),
                chunk(&json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "Hi" } })),
                chunk(&json!({ "type": "content_block_stop", "index": 0 })),
                chunk(&json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn" }, "usage": { "output_tokens": 2 } })),
                chunk(&json!({ "type": "message_stop" })),
            ],
            None,
        )
    })
    .await;
    let gw = gateway(&bedrock, &[]).await;
    let reply = post_messages(&gw, &messages_request("claude", true)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let text = reply.text();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 6, "{text}");
    assert!(
        events[0].starts_with("event: message_start\ndata: ") && events[0].contains("\"model\":\"claude\""),
        "{}",
        events[0]
    );
    assert!(events[2].contains("\"text\":\"Hi\""), "{}", events[2]);
    assert!(events[5].starts_with("event: message_stop"), "{}", events[5]);
    assert_eq!(bedrock.last().path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream");
}

#[tokio::test]
async fn messages_on_another_model_go_through_converse() {
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "Hello" }]), "end_turn"))).await;
    let vars = [("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "env-secret")];
    let gw = gateway(&bedrock, &vars).await;
    let mut request = messages_request("nova", false);
    request.as_object_mut().unwrap().remove("thinking");
    let reply = post_messages(&gw, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["content"][0]["text"], "Hello");
    assert_eq!(bedrock.last().path, NOVA_PATH);
}

const CREDENTIALS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "env-secret")];

/// `(event name, data)` of each event of an Anthropic SSE body.
fn anthropic_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (event, data) = e.split_once('\n').unwrap_or_else(|| panic!("{e:?}"));
            let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            (event.strip_prefix("event: ").unwrap().to_owned(), data)
        })
        .collect()
}

#[tokio::test]
async fn a_converse_stream_becomes_anthropic_events() {
    let text =
        |text: &str| frame("event", "contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": text } }));
    let pieces = vec![
        frame("event", "messageStart", &json!({ "role": "assistant" })),
        text("Hel"),
        text("lo"),
        frame("event", "contentBlockStop", &json!({ "contentBlockIndex": 0 })),
        frame("event", "messageStop", &json!({ "stopReason": "end_turn" })),
        frame("event", "metadata", &json!({ "usage": { "inputTokens": 5, "outputTokens": 2, "totalTokens": 7 } })),
    ];
    let bedrock = mock::start(move |_| frames(pieces.clone(), None)).await;
    let gw = gateway(&bedrock, &CREDENTIALS).await;
    let mut request = messages_request("nova", true);
    request.as_object_mut().unwrap().remove("thinking");
    let reply = post_messages(&gw, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(bedrock.last().path, format!("{NOVA_PATH}-stream"));
    let got = anthropic_events(&reply.text());
    let names: Vec<&str> = got.iter().map(|(name, _)| name.as_str()).collect();
    let want = ["message_start", "content_block_start", "content_block_delta", "content_block_delta"];
    assert_eq!(names[..4], want, "{got:?}");
    assert_eq!(names[4..], ["content_block_stop", "message_delta", "message_stop"], "{got:?}");
    assert_eq!(got[0].1["message"]["model"], "nova");
    assert_eq!((&got[2].1["delta"]["text"], &got[3].1["delta"]["text"]), (&json!("Hel"), &json!("lo")));
    assert_eq!(got[5].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(got[5].1["usage"], json!({ "input_tokens": 5, "output_tokens": 2 }));
}

#[tokio::test]
async fn an_exception_frame_ends_a_converse_stream_with_an_anthropic_error() {
    let pieces = vec![
        frame("event", "messageStart", &json!({ "role": "assistant" })),
        frame("event", "contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Hi" } })),
        frame("exception", "throttlingException", &json!({ "message": "Too many tokens, please wait." })),
    ];
    let bedrock = mock::start(move |_| frames(pieces.clone(), None)).await;
    let gw = gateway(&bedrock, &CREDENTIALS).await;
    let mut request = messages_request("nova", true);
    request.as_object_mut().unwrap().remove("thinking");
    let text = post_messages(&gw, &request).await.text();
    let got = anthropic_events(&text);
    let names: Vec<&str> = got.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["message_start", "content_block_start", "content_block_delta", "error"], "{got:?}");
    assert_eq!(got[3].1["error"]["type"], "rate_limit_error");
    assert!(got[3].1["error"]["message"].as_str().unwrap().contains("Too many tokens"), "{got:?}");
}
