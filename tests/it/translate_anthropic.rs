//! `anthropic/` deployments behind the OpenAI chat API, against a mock Messages API: what
//! the upstream receives (path, headers, translated body) and what the client gets back
//! (translated completion, chunks, errors), tool calls both ways, streaming included.

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{post, sse_events, start};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

const OPENAI_REQUEST: &str = include_str!("../fixtures/translate/anthropic/request.openai.json");
const ANTHROPIC_REQUEST: &str = include_str!("../fixtures/translate/anthropic/request.anthropic.json");
const ANTHROPIC_REPLY: &str = include_str!("../fixtures/translate/anthropic/response.anthropic.json");
const ANTHROPIC_STREAM: &str = include_str!("../fixtures/translate/anthropic/stream.anthropic.sse");

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The mock's base URL as an Anthropic `api_base` (no `/v1`: the gateway adds `/v1/messages`).
fn base(mock: &Mock) -> String {
    format!("http://{}", mock.addr)
}

async fn gateway(mock: &Mock, extra: &[(&str, &str)]) -> Running {
    let base = base(mock);
    let mut vars = vec![("MOCK_ANTHROPIC_BASE", base.as_str()), ("MOCK_KEY", "sk-ant-upstream")];
    vars.extend_from_slice(extra);
    start(&fixtures::upstream::TABLE, &vars).await
}

/// The fixture stream cut into uneven pieces, so events straddle reads.
fn stream_pieces() -> Vec<String> {
    let bytes = ANTHROPIC_STREAM.as_bytes();
    bytes.chunks(97).map(|c| String::from_utf8_lossy(c).into_owned()).collect()
}

#[tokio::test]
async fn chat_with_tools_is_translated_both_ways() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock, &[]).await;
    let reply = post(&gw, "/v1/chat/completions", Some("client-key"), &parse(OPENAI_REQUEST)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-upstream"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("anthropic-beta"), None);
    assert_eq!(seen.header("authorization"), None, "the client's key never travels");
    assert_eq!(seen.json(), parse(ANTHROPIC_REQUEST), "the golden Messages request");

    let got = reply.json();
    assert_eq!(got["model"], "claude", "the requested name");
    assert_eq!(got["object"], "chat.completion");
    assert!(got["id"].as_str().unwrap().starts_with("chatcmpl-"), "{}", got["id"]);
    let choice = &got["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Let me check the weather.");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        parse(call["function"]["arguments"].as_str().unwrap()),
        json!({ "location": "Paris", "unit": "celsius" })
    );
    assert_eq!(got["usage"]["prompt_tokens"], 15, "input + cache read + cache creation");
    assert_eq!(got["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
    assert_eq!(got["usage"]["total_tokens"], 40);
    assert_eq!(reply.header("x-litellm-model-name"), Some("anthropic/claude-sonnet-4-5"));
}

#[tokio::test]
async fn stream_becomes_openai_chunks_with_tool_call_deltas_and_usage() {
    let mock = mock::start(|_| Answer::SseRaw { pieces: stream_pieces() }).await;
    let gw = gateway(&mock, &[]).await;
    let mut body = parse(OPENAI_REQUEST);
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream; charset=utf-8"));

    let sent = mock.last().json();
    assert_eq!(sent["stream"], true);
    assert!(sent.get("stream_options").is_none(), "an OpenAI-only field");
    assert_eq!(mock.last().header("accept"), Some("text/event-stream"));

    let events = sse_events(&reply.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| parse(e)).collect();
    assert!(chunks.iter().all(|c| c["model"] == "claude" && c["object"] == "chat.completion.chunk"));
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]), "one id for the stream");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Let me check.");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let start = &chunks[2]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!((start["id"].as_str(), start["function"]["name"].as_str()), (Some("toolu_01"), Some("get_weather")));
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(parse(&arguments), json!({ "location": "Paris" }));
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        (usage["usage"]["prompt_tokens"].as_u64(), usage["usage"]["completion_tokens"].as_u64()),
        (Some(15), Some(30))
    );
}

#[tokio::test]
async fn tool_results_go_back_as_tool_result_blocks() {
    let reply_text = json!({
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{ "type": "text", "text": "It is sunny in Paris." }], "stop_reason": "end_turn",
        "usage": { "input_tokens": 40, "output_tokens": 7 },
    });
    let mock = mock::start(move |_| Answer::ok(&reply_text)).await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({
        "model": "claude",
        "messages": [
            { "role": "user", "content": "Weather in Paris?" },
            { "role": "assistant", "content": "", "tool_calls": [
                { "id": "toolu_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" } },
                { "id": "toolu_2", "type": "function", "function": { "name": "get_time", "arguments": "{}" } },
            ] },
            { "role": "tool", "tool_call_id": "toolu_1", "content": "sunny" },
            { "role": "tool", "tool_call_id": "toolu_2", "content": [{ "type": "text", "text": "noon" }] },
        ],
    });
    let reply = post(&gw, "/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sent = mock.last().json();
    assert_eq!(sent["max_tokens"], 64_000, "claude-sonnet-4-5's maximum output in LiteLLM's cost map");
    assert_eq!(sent["messages"].as_array().unwrap().len(), 3, "{sent}");
    assert_eq!(
        sent["messages"][1]["content"][1],
        json!({ "type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {} })
    );
    assert_eq!(
        sent["messages"][2],
        json!({ "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny" },
            { "type": "tool_result", "tool_use_id": "toolu_2", "content": [{ "type": "text", "text": "noon" }] },
        ] })
    );
    let got = reply.json();
    assert_eq!(got["choices"][0]["message"]["content"], "It is sunny in Paris.");
    assert_eq!(got["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn anthropic_errors_keep_their_status_in_openai_shape() {
    let mock = mock::start(|_| Answer::Json {
        status: 429,
        body: json!({ "type": "error", "error": { "type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit" } }).to_string(),
        headers: vec![("retry-after", "30".to_owned())],
    })
    .await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({ "model": "claude", "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "throttling_error");
    assert_eq!(
        error["message"],
        "litellm.RateLimitError: RateLimitError: AnthropicException - Number of request tokens has exceeded your per-minute rate limit"
    );
    assert_eq!(reply.header("llm_provider-retry-after"), Some("30"));
}

#[tokio::test]
async fn a_mid_stream_error_event_becomes_an_openai_error_chunk() {
    let pieces = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n".to_owned(),
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_owned(),
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n".to_owned(),
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_owned(),
    ];
    let mock = mock::start(move |_| Answer::SseRaw { pieces: pieces.clone() }).await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({ "model": "claude", "stream": true, "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    let events = sse_events(&reply.text());
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(parse(&events[0])["choices"][0]["delta"]["content"], "Hel");
    let error = &parse(&events[1])["error"];
    assert_eq!(error["code"], "500");
    assert!(
        error["message"].as_str().unwrap().contains("AnthropicException - overloaded_error: Overloaded"),
        "{error}"
    );
    assert_eq!(events[2], "[DONE]");
}

#[tokio::test]
async fn unsupported_parameters_are_refused_by_name_or_dropped() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({ "model": "claude", "messages": [{ "role": "user", "content": "hi" }], "logit_bias": { "1": 2 }, "n": 2 });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("litellm.UnsupportedParamsError: anthropic does not support parameters: ['logit_bias', 'n'], for model=claude-sonnet-4-5."),
        "{message}"
    );
    assert!(mock.requests().is_empty(), "nothing was sent upstream");

    let base = base(&mock);
    let dropping =
        start(&fixtures::dropping::TABLE, &[("MOCK_ANTHROPIC_BASE", base.as_str()), ("MOCK_KEY", "k")]).await;
    let reply = post(&dropping, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sent = mock.last().json();
    assert!(sent.get("logit_bias").is_none() && sent.get("n").is_none(), "{sent}");
}

#[tokio::test]
async fn other_apis_are_refused_and_the_key_is_required() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock, &[]).await;
    let reply = post(&gw, "/v1/embeddings", None, &json!({ "model": "claude", "input": "x" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("/embeddings is not supported for anthropic/"), "{message}");

    let chat = json!({ "model": "claude-env-key", "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&gw, "/v1/chat/completions", None, &chat).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("ANTHROPIC_API_KEY"));
    assert!(mock.requests().is_empty());

    let with_key = gateway(&mock, &[("ANTHROPIC_API_KEY", "sk-ant-env")]).await;
    let reply = post(&with_key, "/v1/chat/completions", None, &chat).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(mock.last().header("x-api-key"), Some("sk-ant-env"));
    assert_eq!(mock.last().json()["model"], "claude-haiku-4-5");
}

#[tokio::test]
async fn the_trace_context_reaches_anthropic_when_tracing_is_on() {
    let receiver = mock::start(|_| Answer::ok(&json!({}))).await;
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let otlp = format!("http://{}", receiver.addr);
    let gw = gateway(&mock, &[("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str())]).await;
    let body = json!({ "model": "claude", "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(post(&gw, "/v1/chat/completions", None, &body).await.status, StatusCode::OK);
    let traceparent = mock.last().header("traceparent").map(str::to_owned);
    assert!(traceparent.as_deref().is_some_and(|t| t.starts_with("00-") && t.len() == 55), "{traceparent:?}");
}

/// The value of the one `metric` sample whose labels include all of `labels`.
fn sample(page: &str, metric: &str, labels: &[&str]) -> String {
    let lines: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && labels.iter().all(|label| l.contains(label)))
        .collect();
    assert_eq!(lines.len(), 1, "{metric} {labels:?}: {lines:?}");
    lines[0].rsplit(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn usage_reaches_the_metrics_and_only_clients_that_asked() {
    let mock = mock::start(|seen| {
        if seen.json()["stream"] == true {
            Answer::SseRaw { pieces: stream_pieces() }
        } else {
            Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }
        }
    })
    .await;
    let gw = gateway(&mock, &[]).await;
    let body = json!({ "model": "claude", "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(post(&gw, "/v1/chat/completions", None, &body).await.status, StatusCode::OK);
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let events = sse_events(&post(&gw, "/v1/chat/completions", None, &streamed).await.text());
    assert!(events.iter().all(|e| !e.contains("\"usage\"")), "the client did not ask for usage: {events:?}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));

    let page = common::get(&gw, "/metrics", None).await.text();
    // LiteLLM's token families carry the model sent and the name asked for, not the group.
    let deployment = ["model=\"claude-sonnet-4-5\"", "requested_model=\"claude\""];
    assert_eq!(sample(&page, "litellm_input_tokens_metric_total", &deployment), "30", "15 + 15");
    assert_eq!(sample(&page, "litellm_output_tokens_metric_total", &deployment), "55", "25 + 30");
}
