//! `POST /v1/responses` bridged to chat for deployments that do not speak the Responses API
//! (`anthropic/`, `gemini/`, `fake/`, an OpenAI-compatible server): what each mock received
//! and what the client got, JSON and streams, text and function-call round trips with the
//! whole history (`store: false`), and the 400s for what needs stored state or hosted tools.

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{post, start};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};

const ANTHROPIC_REPLY: &str = include_str!("../fixtures/translate/anthropic/response.anthropic.json");
const ANTHROPIC_STREAM: &str = include_str!("../fixtures/translate/anthropic/stream.anthropic.sse");
const GEMINI_REPLY: &str = include_str!("../fixtures/translate/gemini/response.gemini.json");
const GEMINI_STREAM: &str = include_str!("../fixtures/translate/gemini/stream.gemini.sse");

/// The gateway with `mock` behind every deployment of the `responses_bridge` routes.
async fn gateway(mock: &Mock) -> Running {
    let (anthropic, openai) = (format!("http://{}", mock.addr), mock.base());
    let gemini = format!("http://{}/v1beta", mock.addr);
    let vars = [
        ("MOCK_ANTHROPIC_BASE", anthropic.as_str()),
        ("MOCK_BASE", openai.as_str()),
        ("MOCK_GEMINI_BASE", gemini.as_str()),
        ("MOCK_KEY", "sk-up"),
    ];
    start(&fixtures::responses_bridge::TABLE, &vars).await
}

/// A second turn as a stateless client (Codex, the Agents SDK) sends it: instructions, the
/// user's question, the model's function call and its output, `store: false`.
fn second_turn(model: &str) -> Value {
    json!({
        "model": model, "instructions": "You answer about the weather.", "store": false,
        "input": [
            { "role": "user", "content": "Weather in Paris?" },
            { "type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" },
            { "type": "function_call_output", "call_id": "call_1", "output": "18C, sunny" },
        ],
        "tools": [{ "type": "function", "name": "get_weather", "description": "The weather.",
            "parameters": { "type": "object", "properties": { "location": { "type": "string" } } } }],
        "max_output_tokens": 100,
    })
}

/// `(event name, data)` of each event of a Responses SSE body, checking what LiteLLM's
/// bridge breaks: an `event:` line naming each event's type, strictly increasing sequence
/// numbers, items finished in the order they were added and none touched after, exactly one
/// final event, at the end.
fn events(body: &str) -> Vec<(String, Value)> {
    assert!(body.ends_with("\n\n") && !body.contains("[DONE]"), "{body:?}");
    let events: Vec<(String, Value)> = body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (event, data) = e.split_once('\n').unwrap_or_else(|| panic!("{e:?}"));
            let name = event.strip_prefix("event: ").unwrap_or_else(|| panic!("no event line: {e:?}"));
            (name.to_owned(), serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap())
        })
        .collect();
    let (mut added, mut done, mut last) = (Vec::new(), Vec::new(), None);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        let sequence = data["sequence_number"].as_u64().unwrap();
        assert!(last.is_none_or(|l| sequence > l), "{data}");
        last = Some(sequence);
        match name.as_str() {
            "response.output_item.added" => added.push(data["item"]["id"].clone()),
            "response.output_item.done" => {
                assert_eq!(added.get(done.len()), Some(&data["item"]["id"]), "finished in order");
                done.push(data["item"]["id"].clone());
            }
            _ => {}
        }
        if let Some(index) = data["output_index"].as_u64() {
            assert!(
                data.get("item_id").is_none_or(|id| added.get(usize::try_from(index).unwrap()) == Some(id)),
                "{data}"
            );
        }
        let terminal = matches!(name.as_str(), "response.completed" | "response.incomplete" | "response.failed");
        assert_eq!(terminal, i == events.len() - 1, "{name}");
    }
    events
}

/// The final event's response.
fn last_response(events: &[(String, Value)]) -> &Value {
    &events.last().unwrap().1["response"]
}

fn joined(events: &[(String, Value)], kind: &str) -> String {
    events.iter().filter(|(name, _)| name == kind).filter_map(|(_, d)| d["delta"].as_str()).collect()
}

#[tokio::test]
async fn anthropic_gets_the_history_as_messages_and_the_reply_is_a_response() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/responses", None, &second_turn("claude")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    let sent = seen.json();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["system"], json!([{ "type": "text", "text": "You answer about the weather." }]));
    assert_eq!(sent["max_tokens"], 100);
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[0], json!({ "role": "user", "content": [{ "type": "text", "text": "Weather in Paris?" }] }));
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    assert_eq!(messages[1]["content"][0]["id"], "call_1");
    assert_eq!(messages[1]["content"][0]["input"], json!({ "location": "Paris" }));
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "call_1");
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["tools"][0]["input_schema"]["properties"]["location"]["type"], "string");
    for field in ["store", "input", "instructions", "max_output_tokens"] {
        assert!(sent.get(field).is_none(), "{field} is a Responses field: {sent}");
    }

    let got = reply.json();
    assert!(got["id"].as_str().unwrap().starts_with("resp_"), "{}", got["id"]);
    assert_eq!(
        (got["object"].as_str(), got["status"].as_str(), got["model"].as_str()),
        (Some("response"), Some("completed"), Some("claude"))
    );
    let output = got["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "message");
    assert_eq!(
        output[0]["content"][0],
        json!({ "type": "output_text", "text": "Let me check the weather.", "annotations": [], "logprobs": [] })
    );
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["call_id"], "toolu_01A09q90qw90lq917835lq9");
    assert!(output[1]["id"].as_str().unwrap().starts_with("fc_"));
    assert_eq!(
        serde_json::from_str::<Value>(output[1]["arguments"].as_str().unwrap()).unwrap(),
        json!({ "location": "Paris", "unit": "celsius" })
    );
    assert_eq!(got["usage"]["input_tokens"], 15, "input + cache read + cache creation");
    assert_eq!(got["usage"]["input_tokens_details"]["cached_tokens"], 3);
    assert_eq!((got["usage"]["output_tokens"].as_u64(), got["usage"]["total_tokens"].as_u64()), (Some(25), Some(40)));
    assert_eq!(
        (got["instructions"].as_str(), got["max_output_tokens"].as_u64()),
        (Some("You answer about the weather."), Some(100))
    );
    assert_eq!(got["tools"][0]["name"], "get_weather", "the request's tools echoed in their own shape");
}

#[tokio::test]
async fn an_anthropic_stream_is_the_documented_event_sequence() {
    let pieces: Vec<String> =
        ANTHROPIC_STREAM.as_bytes().chunks(97).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let mock = mock::start(move |_| Answer::SseRaw { pieces: pieces.clone() }).await;
    let gw = gateway(&mock).await;
    let mut body = second_turn("claude");
    body["stream"] = json!(true);
    let reply = post(&gw, "/v1/responses", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(mock.last().json()["stream"], true);

    let events = events(&reply.text());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(&names[..2], ["response.created", "response.in_progress"]);
    assert_eq!(joined(&events, "response.output_text.delta"), "Let me check.");
    assert_eq!(joined(&events, "response.function_call_arguments.delta"), "{\"location\": \"Paris\"}");
    let done: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .filter_map(|(_, d)| d["item"]["type"].as_str())
        .collect();
    assert_eq!(done, ["message", "function_call"], "the text finished before the call after it");
    let response = last_response(&events);
    assert_eq!((names.last().copied(), response["status"].as_str()), (Some("response.completed"), Some("completed")));
    assert_eq!(response["output"][1]["call_id"], "toolu_01");
    assert_eq!(
        (response["usage"]["input_tokens"].as_u64(), response["usage"]["output_tokens"].as_u64()),
        (Some(15), Some(30))
    );
    assert_eq!(response["model"], "claude");
    assert!(events.iter().all(|(_, d)| d.get("response").is_none_or(|r| r["id"] == response["id"])), "one id");
}

#[tokio::test]
async fn gemini_calls_and_thinking_tokens_come_back_as_items_and_usage() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: GEMINI_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/responses", None, &second_turn("flash")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    let sent = seen.json();
    let contents = sent["contents"].as_array().unwrap();
    assert_eq!(
        contents[1],
        json!({ "role": "model", "parts": [{ "function_call": { "name": "get_weather", "args": { "location": "Paris" } } }] })
    );
    assert_eq!(contents[2]["parts"][0]["function_response"]["name"], "get_weather", "the output finds its call's name");
    assert_eq!(sent["generationConfig"]["max_output_tokens"], 100);
    assert_eq!(sent["tools"][0]["function_declarations"][0]["name"], "get_weather");

    let got = reply.json();
    let kinds: Vec<&str> = got["output"].as_array().unwrap().iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(kinds, ["message", "function_call", "function_call"]);
    assert_eq!(got["output"][2]["arguments"], "{\"location\":\"Rome\"}");
    assert_eq!(got["usage"]["output_tokens_details"]["reasoning_tokens"], 8);
    assert_eq!(got["usage"]["input_tokens_details"]["cached_tokens"], 16);
    assert_eq!(got["usage"]["total_tokens"], 60);
}

#[tokio::test]
async fn a_gemini_stream_ends_with_its_call_and_usage() {
    let chunks: Vec<String> =
        GEMINI_STREAM.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_owned).collect();
    let mock = mock::start(move |_| Answer::Sse { events: chunks.clone(), gate: None }).await;
    let gw = gateway(&mock).await;
    let reply =
        post(&gw, "/v1/responses", None, &json!({ "model": "flash", "input": "Weather in Paris?", "stream": true }))
            .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(mock.last().path.contains(":streamGenerateContent"), "{}", mock.last().path);
    let events = events(&reply.text());
    assert_eq!(joined(&events, "response.output_text.delta"), "Let me check.");
    let response = last_response(&events);
    assert_eq!(response["output"][1]["name"], "get_weather");
    assert_eq!(response["usage"]["input_tokens"], 40);
}

#[tokio::test]
async fn an_openai_compatible_server_gets_a_chat_request() {
    let completion = json!({ "id": "c1", "object": "chat.completion", "created": 1, "model": "llama-3",
        "choices": [{ "index": 0, "finish_reason": "length", "message": { "role": "assistant", "content": "It is 18C", "reasoning_content": "Read the tool output." } }],
        "usage": { "prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35 } });
    let mock = mock::start(move |_| Answer::ok(&completion)).await;
    let gw = gateway(&mock).await;
    let mut body = second_turn("vllm");
    body["text"] = json!({ "format": { "type": "json_schema", "name": "w", "schema": { "type": "object" } } });
    body["reasoning"] = json!({ "effort": "low", "summary": "auto" });
    let reply = post(&gw, "/v1/responses", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    let want = json!({
        "model": "llama-3",
        "messages": [
            { "role": "system", "content": "You answer about the weather." },
            { "role": "user", "content": "Weather in Paris?" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" } }] },
            { "role": "tool", "tool_call_id": "call_1", "content": "18C, sunny" },
        ],
        "tools": [{ "type": "function", "function": { "name": "get_weather", "description": "The weather.",
            "parameters": { "type": "object", "properties": { "location": { "type": "string" } } } } }],
        "max_tokens": 100,
        "response_format": { "type": "json_schema", "json_schema": { "name": "w", "schema": { "type": "object" } } },
        "reasoning_effort": "low",
    });
    assert_eq!(seen.json(), want);

    let got = reply.json();
    assert_eq!(
        (got["status"].as_str(), got["incomplete_details"]["reason"].as_str()),
        (Some("incomplete"), Some("max_output_tokens"))
    );
    assert_eq!(got["output"][0]["summary"][0]["text"], "Read the tool output.");
    assert_eq!(got["output"][1]["status"], "incomplete");
}

#[tokio::test]
async fn the_fake_answers_json_and_streams() {
    let mock = mock::start(|_| Answer::ok(&json!({}))).await;
    let gw = gateway(&mock).await;
    let got = post(&gw, "/v1/responses", None, &second_turn("fake")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    let got = got.json();
    assert_eq!(got["output"][0]["content"][0]["text"], "\n\nHello there, how may I assist you today?");
    assert_eq!((got["usage"]["input_tokens"].as_u64(), got["usage"]["output_tokens"].as_u64()), (Some(9), Some(12)));

    let streamed = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi", "stream": true })).await;
    assert_eq!(streamed.status, StatusCode::OK, "{}", streamed.text());
    let events = events(&streamed.text());
    assert_eq!(
        joined(&events, "response.output_text.delta"),
        "Hello this is a test response from a fixed OpenAI endpoint. "
    );
    assert_eq!(last_response(&events)["usage"]["total_tokens"], 21);
    assert!(mock.requests().is_empty(), "the fake needs no upstream");
}

#[tokio::test]
async fn state_and_hosted_tools_are_refused_before_any_call() {
    let mock = mock::start(|_| Answer::Json { status: 200, body: ANTHROPIC_REPLY.into(), headers: vec![] }).await;
    let gw = gateway(&mock).await;
    let previous = json!({ "model": "claude", "input": "And Rome?", "previous_response_id": "resp_abc" });
    let got = post(&gw, "/v1/responses", None, &previous).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST, "{}", got.text());
    let error = &got.json()["error"];
    assert_eq!(error["param"], "previous_response_id");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("store: false") && message.contains("Redis"), "{message}");

    let hosted = json!({ "model": "claude", "input": "News?", "tools": [{ "type": "file_search", "vector_store_ids": ["vs_1"] }] });
    let got = post(&gw, "/v1/responses", None, &hosted).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST, "{}", got.text());
    assert!(got.json()["error"]["message"].as_str().unwrap().contains("'file_search'"), "{}", got.text());
    let search = json!({ "model": "vllm", "input": "News?", "tools": [{ "type": "web_search" }] });
    let got = post(&gw, "/v1/responses", None, &search).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST, "an OpenAI-compatible server has no search: {}", got.text());
    assert!(mock.requests().is_empty(), "nothing reached the provider");

    // Anthropic has its own web search: the hosted tool becomes it.
    let search = json!({ "model": "claude", "input": "News?", "tools": [{ "type": "web_search", "search_context_size": "low" }] });
    let got = post(&gw, "/v1/responses", None, &search).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    assert_eq!(mock.last().json()["tools"], json!([{ "type": "web_search_20250305", "name": "web_search" }]));
    mock.seen.lock().unwrap().clear();

    // A bridged response's id names its deployment, so its follow-ups come back to be refused.
    let first = post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "Hi" })).await.json();
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("resp_mr1_"), "{id}");
    let retrieved = common::get(&gw, &format!("/v1/responses/{id}"), None).await;
    assert_eq!(retrieved.status, StatusCode::BAD_REQUEST, "{}", retrieved.text());
    assert!(retrieved.json()["error"]["message"].as_str().unwrap().contains("store: false"), "{}", retrieved.text());
    let follow_up =
        post(&gw, "/v1/responses", None, &json!({ "model": "fake", "input": "More", "previous_response_id": id }))
            .await;
    assert_eq!(follow_up.status, StatusCode::BAD_REQUEST, "{}", follow_up.text());
    assert_eq!(follow_up.json()["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn an_error_mid_stream_is_an_error_event_and_a_failed_response() {
    let pieces = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n".to_owned(),
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_owned(),
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Part\"}}\n\n".to_owned(),
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_owned(),
    ];
    let mock = mock::start(move |_| Answer::SseRaw { pieces: pieces.clone() }).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/responses", None, &json!({ "model": "claude", "input": "Hi", "stream": true })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let events = events(&reply.text());
    let (error, failed) = (&events[events.len() - 2], &events[events.len() - 1]);
    assert_eq!(error.0, "error");
    assert!(error.1["message"].as_str().unwrap().contains("Overloaded"), "{}", error.1);
    assert_eq!(failed.0, "response.failed");
    assert_eq!(failed.1["response"]["status"], "failed");
    assert!(failed.1["response"]["error"]["message"].as_str().unwrap().contains("Overloaded"));
    assert_eq!(failed.1["response"]["output"][0]["content"][0]["text"], "Part");
}

#[tokio::test]
async fn a_broken_upstream_stream_fails_the_response_in_its_own_events() {
    let reset = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = reset.clone();
    let chunk = json!({ "model": "llama-3", "choices": [{ "index": 0, "delta": { "content": "Hel" } }] }).to_string();
    let mock = mock::start(move |_| Answer::SseThenReset { events: vec![chunk.clone()], gate: held.clone() }).await;
    let gw = gateway(&mock).await;
    let body = json!({ "model": "vllm", "input": "Hi", "stream": true });
    let text = common::stream_past_reset(&gw, "/v1/responses", &body, "response.output_text.delta", &reset).await;
    let got = events(&text);
    let names: Vec<&str> = got.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(&names[names.len() - 2..], ["error", "response.failed"], "{text}");
    assert_eq!(last_response(&got)["output"][0]["content"][0]["text"], "Hel");
    assert!(mock.last().json()["stream_options"]["include_usage"] == true, "the usage chunk is asked for");
}

#[tokio::test]
async fn a_stalled_stream_fails_the_response_in_its_own_events() {
    // The bridge writes the client's events itself, so a stall the relay times out ends the
    // response there too: an `error` event, then `response.failed` with what was said so far.
    let never = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = never.clone();
    let chunk = json!({ "model": "llama-3", "choices": [{ "index": 0, "delta": { "content": "Hel" } }] }).to_string();
    let mock =
        mock::start(move |_| Answer::Sse { events: vec![chunk.clone(), chunk.clone()], gate: Some(held.clone()) })
            .await;
    let gw = gateway(&mock).await;
    let reply =
        post(&gw, "/v1/responses", None, &json!({ "model": "vllm-quick", "input": "Hi", "stream": true })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let got = events(&reply.text());
    let names: Vec<&str> = got.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(&names[names.len() - 2..], ["error", "response.failed"], "{}", reply.text());
    assert!(got[got.len() - 2].1["message"].as_str().unwrap().contains("litellm.Timeout"), "{}", reply.text());
    let response = last_response(&got);
    assert!(response["id"].as_str().unwrap().starts_with("resp_mr1_"), "the client's id: {response}");
    assert_eq!(response["output"][0]["content"][0]["text"], "Hel");
    never.notify_one();
}
