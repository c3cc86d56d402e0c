//! `gemini/` (Google AI Studio) deployments behind the OpenAI chat API, against a mock
//! generateContent API: what the upstream receives (path, key header, translated body) and
//! what the client gets back (translated completion, chunks, errors), tool calls both
//! ways, streaming included.

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{post, sse_events, start};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

const OPENAI_REQUEST: &str = include_str!("../fixtures/translate/gemini/request.openai.json");
const GEMINI_REQUEST: &str = include_str!("../fixtures/translate/gemini/request.gemini.json");
const GEMINI_REPLY: &str = include_str!("../fixtures/translate/gemini/response.gemini.json");
const GEMINI_STREAM: &str = include_str!("../fixtures/translate/gemini/stream.gemini.sse");

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The mock's base URL as a Gemini `api_base`.
fn base(mock: &Mock) -> String {
    format!("http://{}/v1beta", mock.addr)
}

async fn gateway(mock: &Mock) -> Running {
    let base = base(mock);
    start(&fixtures::upstream::TABLE, &[("MOCK_GEMINI_BASE", base.as_str()), ("MOCK_KEY", "gm-upstream")]).await
}

fn reply(body: &str) -> Answer {
    Answer::Json { status: 200, body: body.to_owned(), headers: vec![] }
}

#[tokio::test]
async fn chat_with_tools_is_translated_both_ways() {
    let mock = mock::start(|_| reply(GEMINI_REPLY)).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/chat/completions", Some("client-key"), &parse(OPENAI_REQUEST)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(seen.header("x-goog-api-key"), Some("gm-upstream"));
    assert_eq!(seen.header("authorization"), None, "the client's key never travels");
    assert_eq!(seen.json(), parse(GEMINI_REQUEST), "the golden generateContent request");

    let got = reply.json();
    assert_eq!(got["model"], "flash", "the requested name");
    assert_eq!(got["object"], "chat.completion");
    let choice = &got["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Checking both cities.");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    for (call, city) in calls.iter().zip(["Paris", "Rome"]) {
        assert!(call["id"].as_str().unwrap().starts_with("call_"), "{call}");
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(parse(call["function"]["arguments"].as_str().unwrap()), json!({ "location": city }));
    }
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(got["usage"]["completion_tokens"], 20, "candidates + thoughts");
    assert_eq!(got["usage"]["completion_tokens_details"]["reasoning_tokens"], 8);
    assert_eq!(got["usage"]["prompt_tokens_details"]["cached_tokens"], 16);
    assert_eq!(reply.header("x-litellm-model-name"), Some("gemini/gemini-2.0-flash"));
}

#[tokio::test]
async fn tool_results_go_back_as_function_responses_named_after_their_call() {
    let answer = json!({
        "candidates": [{ "content": { "role": "model", "parts": [{ "text": "Sunny in Paris, rain in Rome." }] }, "finishReason": "STOP", "index": 0 }],
        "usageMetadata": { "promptTokenCount": 30, "candidatesTokenCount": 8, "totalTokenCount": 38 },
        "modelVersion": "gemini-2.0-flash",
    });
    let mock = mock::start(move |_| Answer::ok(&answer)).await;
    let gw = gateway(&mock).await;
    let body = json!({
        "model": "flash",
        "messages": [
            { "role": "user", "content": "Weather in Paris and Rome?" },
            { "role": "assistant", "tool_calls": [
                { "id": "call_a", "type": "function", "function": { "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" } },
                { "id": "call_b", "type": "function", "function": { "name": "get_forecast", "arguments": "{\"location\":\"Rome\"}" } },
            ] },
            { "role": "tool", "tool_call_id": "call_b", "content": "rain" },
            { "role": "tool", "tool_call_id": "call_a", "content": "sunny" },
        ],
    });
    let reply = post(&gw, "/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sent = mock.last().json();
    assert_eq!(sent["contents"].as_array().unwrap().len(), 3, "{sent}");
    assert_eq!(sent["contents"][1]["role"], "model");
    assert_eq!(
        sent["contents"][2],
        json!({ "role": "user", "parts": [
            { "function_response": { "name": "get_forecast", "response": { "content": "rain" } } },
            { "function_response": { "name": "get_weather", "response": { "content": "sunny" } } },
        ] })
    );
    assert!(sent.get("generationConfig").is_none(), "nothing to configure: {sent}");
    let got = reply.json();
    assert_eq!(got["choices"][0]["message"]["content"], "Sunny in Paris, rain in Rome.");
    assert_eq!(got["choices"][0]["finish_reason"], "stop");
    assert_eq!(got["usage"]["total_tokens"], 38);
}

#[tokio::test]
async fn stream_becomes_openai_chunks_with_tool_calls_and_usage() {
    let events: Vec<String> =
        GEMINI_STREAM.split("\n\n").filter_map(|e| e.trim().strip_prefix("data: ").map(str::to_owned)).collect();
    let mock = mock::start(move |_| Answer::Sse { events: events.clone(), gate: None }).await;
    let gw = gateway(&mock).await;
    let mut body = parse(OPENAI_REQUEST);
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream; charset=utf-8"));

    let seen = mock.last();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    assert!(seen.json().get("stream").is_none() && seen.json().get("stream_options").is_none());

    let events = sse_events(&reply.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| parse(e)).collect();
    assert!(chunks.iter().all(|c| c["model"] == "flash" && c["object"] == "chat.completion.chunk"));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Let me check.");
    let call = &chunks[2]["choices"][0]["delta"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!((call["index"].as_u64(), call["function"]["name"].as_str()), (Some(0), Some("get_weather")));
    assert_eq!(parse(call["function"]["arguments"].as_str().unwrap()), json!({ "location": "Paris" }));
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls");
    let usage = &chunks[4];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        (usage["usage"]["prompt_tokens"].as_u64(), usage["usage"]["completion_tokens"].as_u64()),
        (Some(40), Some(12))
    );
}

#[tokio::test]
async fn gemini_errors_keep_their_status_in_openai_shape() {
    let mock = mock::start(|_| Answer::Json {
        status: 429,
        body: json!({ "error": { "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED" } }).to_string(),
        headers: vec![],
    })
    .await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "flash", "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "throttling_error");
    assert_eq!(
        error["message"],
        "litellm.RateLimitError: RateLimitError: GeminiException - Resource has been exhausted (e.g. check quota)."
    );
}

#[tokio::test]
async fn unsupported_parameters_and_apis_are_refused_or_dropped() {
    let mock = mock::start(|_| reply(GEMINI_REPLY)).await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "flash", "messages": [{ "role": "user", "content": "hi" }], "logit_bias": { "1": 2 }, "user": "u" });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message
            .starts_with("litellm.UnsupportedParamsError: gemini does not support parameters: ['logit_bias', 'user']"),
        "{message}"
    );
    let reply = post(&gw, "/v1/completions", None, &json!({ "model": "flash", "prompt": "x" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("/completions is not supported for gemini/"));
    assert!(mock.requests().is_empty(), "nothing was sent upstream");

    let base = base(&mock);
    let dropping = start(&fixtures::dropping::TABLE, &[("MOCK_GEMINI_BASE", base.as_str()), ("MOCK_KEY", "k")]).await;
    let reply = post(&dropping, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sent = mock.last().json();
    assert_eq!(sent, json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] }));
}

#[tokio::test]
async fn stream_usage_reaches_the_metrics_without_reaching_the_client() {
    let events: Vec<String> =
        GEMINI_STREAM.split("\n\n").filter_map(|e| e.trim().strip_prefix("data: ").map(str::to_owned)).collect();
    let mock = mock::start(move |_| Answer::Sse { events: events.clone(), gate: None }).await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "flash", "stream": true, "messages": [{ "role": "user", "content": "hi" }] });
    let events = sse_events(&post(&gw, "/v1/chat/completions", None, &body).await.text());
    assert!(events.iter().all(|e| !e.contains("\"usage\"")), "the client did not ask for usage: {events:?}");
    let page = common::get(&gw, "/metrics", None).await.text();
    let line = page
        .lines()
        .find(|l| l.starts_with("litellm_input_tokens_metric_total{") && l.contains("requested_model=\"flash\""))
        .unwrap_or_else(|| panic!("no input tokens for flash:\n{page}"));
    assert!(line.ends_with(" 40"), "{line}");
}
