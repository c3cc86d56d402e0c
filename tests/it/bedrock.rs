//! `bedrock/` deployments behind the OpenAI chat API, against a mock Bedrock runtime that
//! records each call, checks its SigV4 `Authorization` shape (credential scope
//! `<date>/<region>/bedrock/aws4_request`, the signed headers, `x-amz-date`, the session
//! token when one is used) and answers Converse JSON or AWS event-stream frames encoded with
//! `aws-smithy-eventstream`; and a mock STS for web identity. Chat, streams, a tools round
//! trip, each error mapping, a stalled stream, a corrupt and an oversized frame, `/v1/messages`
//! is in `tests/it/bedrock_messages.rs`, credentials from STS and the container endpoint in
//! `tests/it/bedrock_credentials.rs`.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use common::bedrock::{
    CLAUDE_PATH, EVENT_STREAM, KEY_ID, NOVA_PATH, SECRET, chat, converse_reply, frame, frames, gateway, signed,
};
use common::mock::{self, Answer};
use common::{post, sse_events};
use http::StatusCode;
use model_router::server::Running;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The Converse stream of a text delta, a tool call in two argument pieces, the stop and usage.
fn tool_stream() -> Vec<Bytes> {
    vec![
        frame("event", "messageStart", &json!({ "role": "assistant" })),
        frame("event", "contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Checking" } })),
        frame("event", "contentBlockStop", &json!({ "contentBlockIndex": 0 })),
        frame(
            "event",
            "contentBlockStart",
            &json!({ "contentBlockIndex": 1, "start": { "toolUse": { "toolUseId": "tooluse_1", "name": "weather" } } }),
        ),
        frame(
            "event",
            "contentBlockDelta",
            &json!({ "contentBlockIndex": 1, "delta": { "toolUse": { "input": "{\"city\":" } } }),
        ),
        frame(
            "event",
            "contentBlockDelta",
            &json!({ "contentBlockIndex": 1, "delta": { "toolUse": { "input": "\"Paris\"}" } } }),
        ),
        frame("event", "contentBlockStop", &json!({ "contentBlockIndex": 1 })),
        frame("event", "messageStop", &json!({ "stopReason": "tool_use" })),
        frame(
            "event",
            "metadata",
            &json!({ "usage": { "inputTokens": 5, "outputTokens": 9, "totalTokens": 14 }, "metrics": {} }),
        ),
    ]
}

#[tokio::test]
async fn a_chat_call_is_signed_with_the_deployments_own_keys_and_translated() {
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "Hello!" }]), "end_turn"))).await;
    // An unrelated session token in the environment must not join the deployment's own keys.
    let gw = gateway(&bedrock, &[("AWS_SESSION_TOKEN", "unrelated-environment-token")]).await;
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("claude")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["model"], "claude");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 18);

    let seen = bedrock.last();
    assert_eq!(seen.path, CLAUDE_PATH);
    let headers = signed(&seen, KEY_ID, "eu-west-1", "bedrock");
    for name in ["content-type", "host", "x-amz-date"] {
        assert!(headers.iter().any(|h| h == name), "{name} signed: {headers:?}");
    }
    assert!(seen.header("x-amz-security-token").is_none(), "no session token with the deployment's own keys");
    assert!(!headers.iter().any(|h| h == "x-amz-security-token"));
    let sent = seen.json();
    assert_eq!(sent["system"], json!([{ "text": "Be brief." }]));
    assert_eq!(sent["messages"], json!([{ "content": [{ "text": "Hi" }], "role": "user" }]));
    assert_eq!(sent["inferenceConfig"], json!({ "maxTokens": 50 }));
    assert!(sent.get("additionalModelRequestFields").is_none(), "the client's model is not a model field: {sent}");
    assert!(!reply.text().contains(SECRET));
}

#[tokio::test]
async fn environment_keys_carry_their_session_token_to_an_arn() {
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "ok" }]), "end_turn"))).await;
    let vars = [
        ("AWS_ACCESS_KEY_ID", "ASIAENVTEST"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_SESSION_TOKEN", "env-session-token"),
        ("AWS_REGION", "us-east-1"),
    ];
    let gw = gateway(&bedrock, &vars).await;
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("nova")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = bedrock.last();
    assert_eq!(seen.path, NOVA_PATH);
    let headers = signed(&seen, "ASIAENVTEST", "us-east-1", "bedrock");
    assert!(headers.iter().any(|h| h == "x-amz-security-token"), "{headers:?}");
    assert_eq!(seen.header("x-amz-security-token"), Some("env-session-token"));
}

#[tokio::test]
async fn a_tools_round_trip() {
    let bedrock = mock::start(|_| {
        let content =
            json!([{ "toolUse": { "toolUseId": "tooluse_2", "name": "weather", "input": { "city": "Rome" } } }]);
        Answer::ok(&converse_reply(&content, "tool_use"))
    })
    .await;
    let gw = gateway(&bedrock, &[]).await;
    let request = json!({
        "model": "claude",
        "messages": [
            { "role": "user", "content": "Weather in Paris, then Rome?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "tooluse_1", "type": "function", "function": { "name": "weather", "arguments": "{\"city\":\"Paris\"}" } }] },
            { "role": "tool", "tool_call_id": "tooluse_1", "content": "sunny" },
        ],
        "tools": [{ "type": "function", "function": { "name": "weather", "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } }],
        "tool_choice": { "type": "function", "function": { "name": "weather" } },
    });
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "tooluse_2");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Rome\"}");

    let sent = bedrock.last().json();
    assert_eq!(
        sent["messages"][1],
        json!({ "role": "assistant", "content": [{ "toolUse": { "toolUseId": "tooluse_1", "name": "weather", "input": { "city": "Paris" } } }] })
    );
    assert_eq!(
        sent["messages"][2],
        json!({ "role": "user", "content": [{ "toolResult": { "toolUseId": "tooluse_1", "content": [{ "text": "sunny" }] } }] })
    );
    assert_eq!(sent["toolConfig"]["toolChoice"], json!({ "tool": { "name": "weather" } }));
    assert_eq!(sent["toolConfig"]["tools"][0]["toolSpec"]["name"], "weather");
}

#[tokio::test]
async fn a_stream_relays_text_tool_argument_deltas_finish_and_usage() {
    let bedrock = mock::start(|_| frames(tool_stream(), None)).await;
    let gw = gateway(&bedrock, &[]).await;
    let mut request = chat("claude");
    request["stream"] = json!(true);
    request["stream_options"] = json!({ "include_usage": true });
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let events = sse_events(&reply.text());
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let delta = |i: usize| &chunks[i]["choices"][0]["delta"];
    assert_eq!(delta(0)["content"], "Checking");
    assert_eq!(delta(1)["tool_calls"][0]["function"]["name"], "weather");
    assert_eq!(delta(2)["tool_calls"][0]["function"]["arguments"], "{\"city\":");
    assert_eq!(delta(3)["tool_calls"][0]["function"]["arguments"], "\"Paris\"}");
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[5]["usage"]["total_tokens"], 14);
    assert!(chunks.iter().all(|c| c["model"] == "claude"));
    let seen = bedrock.last();
    assert_eq!(seen.path, format!("{CLAUDE_PATH}-stream"));
    assert_eq!(seen.header("accept"), Some(EVENT_STREAM));
    signed(&seen, KEY_ID, "eu-west-1", "bedrock");
}

#[tokio::test]
async fn each_bedrock_error_keeps_its_status() {
    for (status, error_type, want) in [
        (429, "ThrottlingException", 429),
        (400, "ValidationException", 400),
        (403, "AccessDeniedException", 403),
        (403, "InvalidSignatureException", 403),
        (429, "ModelNotReadyException", 503),
        (503, "ServiceUnavailableException", 503),
        (408, "ModelTimeoutException", 408),
    ] {
        let bedrock = mock::start(move |_| Answer::Json {
            status,
            body: json!({ "message": format!("{error_type} said no") }).to_string(),
            headers: vec![(
                "x-amzn-errortype",
                format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            )],
        })
        .await;
        let gw = gateway(&bedrock, &[]).await;
        let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("claude")).await;
        assert_eq!(reply.status.as_u16(), want, "{error_type}: {}", reply.text());
        let message = reply.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(&format!("BedrockException - {error_type}: {error_type} said no")), "{message}");
        assert_eq!(reply.json()["error"]["code"], want.to_string());
        assert_eq!(bedrock.requests().len(), 1, "{error_type}: num_retries 0");
        gw.stop().await;
    }
}

/// The stream events of a reply, as JSON where they are.
async fn stream_of(gw: &Running, model: &str) -> Vec<String> {
    let mut request = chat(model);
    request["stream"] = json!(true);
    let reply = post(gw, "/v1/chat/completions", Some("sk-1234"), &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    sse_events(&reply.text())
}

#[tokio::test]
async fn an_exception_frame_is_an_error_chunk() {
    let bedrock = mock::start(|_| {
        frames(
            vec![
                frame("event", "messageStart", &json!({ "role": "assistant" })),
                frame("event", "contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Hi" } })),
                frame("exception", "throttlingException", &json!({ "message": "Too many tokens, please wait." })),
            ],
            None,
        )
    })
    .await;
    let gw = gateway(&bedrock, &[]).await;
    let events = stream_of(&gw, "claude").await;
    assert_eq!(events.len(), 3, "{events:?}");
    let error: Value = serde_json::from_str(&events[1]).unwrap();
    assert_eq!(error["error"]["code"], "429");
    assert!(error["error"]["message"].as_str().unwrap().contains("throttlingException: Too many tokens"), "{error}");
    assert_eq!(events[2], "[DONE]");
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_timeout_error() {
    let never = Arc::new(Notify::new());
    let held = Arc::clone(&never);
    let bedrock = mock::start(move |_| {
        let first = frame("event", "contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Hi" } }));
        frames(vec![first], Some(Arc::clone(&held)))
    })
    .await;
    let gw = gateway(&bedrock, &[]).await;
    let events = stream_of(&gw, "quick").await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[1].contains("litellm.Timeout"), "{}", events[1]);
    assert_eq!(events[2], "[DONE]");
    never.notify_one();
}

#[tokio::test]
async fn a_corrupt_or_oversized_frame_ends_the_stream_with_an_error() {
    let mut corrupt = frame("event", "contentBlockDelta", &json!({ "delta": { "text": "Hi" } })).to_vec();
    let last = corrupt.len() - 2;
    corrupt[last] ^= 0x55;
    let mut oversized = (64u32 * 1024 * 1024).to_be_bytes().to_vec();
    oversized.extend_from_slice(&[0; 12]);
    for (bad, why) in [(corrupt, "corrupt frame"), (oversized, "at most")] {
        let piece = Bytes::from(bad);
        let bedrock = mock::start(move |_| {
            frames(vec![frame("event", "messageStart", &json!({ "role": "assistant" })), piece.clone()], None)
        })
        .await;
        let gw = gateway(&bedrock, &[]).await;
        let events = stream_of(&gw, "claude").await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].contains(why) && events[0].contains("\"code\": \"502\""), "{}", events[0]);
        assert_eq!(events[1], "[DONE]");
        gw.stop().await;
    }
}

#[tokio::test]
async fn a_stream_cut_before_message_stop_is_not_a_silent_end() {
    let bedrock = mock::start(|_| {
        frames(
            vec![frame("event", "contentBlockDelta", &json!({ "contentBlockIndex": 0, "delta": { "text": "Hi" } }))],
            None,
        )
    })
    .await;
    let gw = gateway(&bedrock, &[]).await;
    let events = stream_of(&gw, "claude").await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[1].contains("before messageStop"), "{}", events[1]);
}

#[tokio::test]
async fn the_responses_api_is_bridged_to_converse_json_and_stream() {
    let reply = converse_reply(&json!([{ "text": "Hello!" }]), "end_turn");
    let bedrock =
        mock::start(
            move |seen| {
                if seen.path.ends_with("-stream") { frames(tool_stream(), None) } else { Answer::ok(&reply) }
            },
        )
        .await;
    let gw = gateway(&bedrock, &[]).await;
    let request = json!({ "model": "claude", "instructions": "Be brief.", "input": "Hi", "max_output_tokens": 50 });
    let answer = post(&gw, "/v1/responses", Some("sk-1234"), &request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!((body["object"].as_str(), body["model"].as_str()), (Some("response"), Some("claude")));
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["text"], "Hello!");
    assert_eq!(body["usage"]["total_tokens"], 18);
    let seen = bedrock.last();
    assert_eq!(seen.path, CLAUDE_PATH);
    signed(&seen, KEY_ID, "eu-west-1", "bedrock");
    let sent = seen.json();
    assert_eq!(sent["system"], json!([{ "text": "Be brief." }]));
    assert_eq!(sent["messages"][0]["content"], json!([{ "text": "Hi" }]));
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 50);

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let answer = post(&gw, "/v1/responses", Some("sk-1234"), &streamed).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let text = answer.text();
    assert!(!text.contains("[DONE]"), "{text}");
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(names.first(), Some(&"response.created"), "{text}");
    assert_eq!(names.last(), Some(&"response.completed"), "{text}");
    assert!(names.contains(&"response.output_text.delta"), "{names:?}");
    assert!(names.contains(&"response.function_call_arguments.done"), "{names:?}");
    let last = text.lines().filter_map(|l| l.strip_prefix("data: ")).next_back().unwrap();
    let done: Value = serde_json::from_str(last).unwrap();
    let output = &done["response"]["output"];
    assert_eq!(output[0]["content"][0]["text"], "Checking");
    assert_eq!(
        (output[1]["name"].as_str(), output[1]["arguments"].as_str()),
        (Some("weather"), Some("{\"city\":\"Paris\"}"))
    );
    assert_eq!(done["response"]["usage"]["total_tokens"], 14);
    assert_eq!(bedrock.last().path, format!("{CLAUDE_PATH}-stream"));
}
