//! The upstream bodies a bridged `POST /v1/responses` becomes on Anthropic, Gemini and
//! Bedrock Converse deployments, pinned byte for byte (`tests/fixtures/responses/upstream.*`,
//! one body a line): instructions and a string input; then instructions and message items
//! with text and image parts, a `reasoning` item (dropped), two consecutive `function_call`s
//! (one assistant turn) and their two `function_call_output`s; the second as Anthropic's
//! `count_tokens` receives it too (`/v1/responses/input_tokens`, the third line). What the
//! client got is a response (or the count) each time.

use crate::common;

use common::bedrock;
use common::mock::{self, Answer, Mock};
use common::post;
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

const ANTHROPIC_REPLY: &str = include_str!("../fixtures/translate/anthropic/response.anthropic.json");
const GEMINI_REPLY: &str = include_str!("../fixtures/translate/gemini/response.gemini.json");
const ANTHROPIC_SENT: &str = include_str!("../fixtures/responses/upstream.anthropic.jsonl");
const GEMINI_SENT: &str = include_str!("../fixtures/responses/upstream.gemini.jsonl");
const BEDROCK_SENT: &str = include_str!("../fixtures/responses/upstream.bedrock.jsonl");

/// The gateway with `mock` behind the `responses_bridge` routes' Anthropic and Gemini
/// deployments.
async fn gateway(mock: &Mock) -> Running {
    let (anthropic, gemini) = (format!("http://{}", mock.addr), format!("http://{}/v1beta", mock.addr));
    let vars = [
        ("MOCK_ANTHROPIC_BASE", anthropic.as_str()),
        ("MOCK_BASE", anthropic.as_str()),
        ("MOCK_GEMINI_BASE", gemini.as_str()),
        ("MOCK_KEY", "sk-up"),
    ];
    common::start(&fixtures::responses_bridge::TABLE, &vars).await
}

/// The two requests, for `model`.
fn requests(model: &str) -> [Value; 2] {
    let image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk";
    let tools = json!([{ "type": "function", "name": "get_weather", "description": "The weather.",
        "parameters": { "type": "object", "properties": { "location": { "type": "string" } } } }]);
    [
        json!({ "model": model, "instructions": "Be brief.", "input": "Hi \"there\" \u{e9}", "max_output_tokens": 50 }),
        json!({
            "model": model, "instructions": "You answer about the weather.", "store": false, "max_output_tokens": 100,
            "temperature": 0.5, "tools": tools,
            "input": [
                { "type": "message", "role": "user", "content": [
                    { "type": "input_text", "text": "Which city is this, " },
                    { "type": "input_text", "text": "and its weather?" },
                    { "type": "input_image", "image_url": image, "detail": "low" },
                ] },
                { "type": "reasoning", "id": "rs_1", "summary": [{ "type": "summary_text", "text": "Look it up." }] },
                { "type": "message", "role": "assistant", "content": [{ "type": "output_text", "text": "Checking both." }] },
                { "type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" },
                { "type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": "{\"location\":\"Rome\"}" },
                { "type": "function_call_output", "call_id": "call_1", "output": "18C, sunny" },
                { "type": "function_call_output", "call_id": "call_2", "output": [{ "type": "input_text", "text": "21C" }] },
                { "role": "user", "content": "Which is warmer?" },
            ],
        }),
    ]
}

/// Posts each request to `gw` and checks the body `mock` received against the line of
/// `want` at its index, and that the client got a response.
async fn pinned(gw: &Running, mock: &Mock, model: &str, key: Option<&str>, want: &str) {
    let want: Vec<&str> = want.lines().collect();
    for (i, request) in requests(model).iter().enumerate() {
        let reply = post(gw, "/v1/responses", key, request).await;
        assert_eq!(reply.status, StatusCode::OK, "{model} #{i}: {}", reply.text());
        assert_eq!(reply.json()["object"], "response", "{model} #{i}");
        let seen = mock.last();
        assert_eq!(String::from_utf8_lossy(&seen.body), want[i], "{model} #{i}: the body upstream");
    }
    assert_eq!(mock.requests().len(), 2, "one upstream call a request");
}

#[tokio::test]
async fn anthropic_receives_the_pinned_messages_body() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock).await;
    pinned(&gw, &mock, "claude", None, ANTHROPIC_SENT).await;
    assert_eq!(mock.last().path, "/v1/messages");
}

#[tokio::test]
async fn gemini_receives_the_pinned_generate_content_body() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: GEMINI_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock).await;
    pinned(&gw, &mock, "flash", None, GEMINI_SENT).await;
    assert!(mock.last().path.ends_with(":generateContent"), "{}", mock.last().path);
}

#[tokio::test]
async fn bedrock_receives_the_pinned_converse_body() {
    let reply = bedrock::converse_reply(&json!([{ "text": "Hello!" }]), "end_turn");
    let mock = mock::start(move |_| Answer::ok(&reply)).await;
    let gw = bedrock::gateway(&mock, &[]).await;
    pinned(&gw, &mock, "claude", Some("sk-1234"), BEDROCK_SENT).await;
    assert_eq!(mock.last().path, bedrock::CLAUDE_PATH);
}

#[tokio::test]
async fn anthropic_counts_the_pinned_input() {
    let mock = mock::start(|_| Answer::ok(&json!({ "input_tokens": 42 }))).await;
    let gw = gateway(&mock).await;
    let [_, request] = requests("claude");
    let reply = post(&gw, "/v1/responses/input_tokens", None, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "object": "response.input_tokens", "input_tokens": 42 }));
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages/count_tokens");
    let want = ANTHROPIC_SENT.lines().nth(2).unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&seen.body), want, "the body upstream");
}
