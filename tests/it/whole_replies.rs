//! One whole (non-streamed) reply of each kind the gateway translates, pinned byte for byte
//! as the client gets it (random ids and clock readings aside): chat from Anthropic, Gemini
//! and Bedrock Converse, `/v1/messages` answered from a chat reply, a bridged Responses
//! create, and a relayed OpenAI reply beside them; with the usage the gateway counted
//! (token metrics, the `x-litellm-response-cost` header).

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{get, post};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::json;

/// An Anthropic reply that counts cache reads and writes, so their pricing shows.
const ANTHROPIC_REPLY: &str = r#"{"id":"msg_01X","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
    "content":[{"type":"thinking","thinking":"Hmm.","signature":"c2ln"},{"type":"text","text":"Let me check."},
    {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"unit":"celsius","location":"Paris"}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":1000,"cache_creation_input_tokens":200,"cache_read_input_tokens":300,"output_tokens":50}}"#;
const GEMINI_REPLY: &str = include_str!("../fixtures/translate/gemini/response.gemini.json");

/// `text` with each uuid (hyphenated, or 32 hex digits) as `<uuid>` and each clock reading
/// (`created`, `created_at`, `completed_at`) as 0.
fn pinned(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for key in ["\"created\":", "\"created_at\":", "\"completed_at\":"] {
            if let Some(after) = rest.strip_prefix(key) {
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 {
                    out.push_str(key);
                    out.push('0');
                    rest = &after[digits..];
                    continue 'scan;
                }
            }
        }
        let hex = |s: &str, n: usize| s.len() >= n && s.as_bytes()[..n].iter().all(u8::is_ascii_hexdigit);
        let hyphenated = rest.len() >= 36
            && rest.as_bytes()[..36]
                .iter()
                .enumerate()
                .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { *b == b'-' } else { b.is_ascii_hexdigit() });
        let taken = if hyphenated {
            36
        } else if hex(rest, 32) {
            32
        } else {
            0
        };
        if taken > 0 {
            out.push_str("<uuid>");
            rest = &rest[taken..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The value of the one line of `page` that starts with `metric{` and holds every label;
/// "0" when there is none (a counter at 0 is not written).
fn sample(page: &str, metric: &str, labels: &[&str]) -> String {
    let lines: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && labels.iter().all(|label| l.contains(label)))
        .collect();
    assert!(lines.len() <= 1, "{metric} {labels:?}: {lines:?}");
    lines.first().map_or("0", |line| line.rsplit(' ').next().unwrap()).to_owned()
}

/// The token counts the gateway's metrics hold for `model` asked for as `requested`:
/// (input, output, total, cached, reasoning).
async fn counted(gw: &Running, model: &str, requested: &str) -> [String; 5] {
    let page = get(gw, "/metrics", None).await.text();
    let labels = [format!("model=\"{model}\""), format!("requested_model=\"{requested}\"")];
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    [
        "litellm_input_tokens_metric_total",
        "litellm_output_tokens_metric_total",
        "litellm_total_tokens_metric_total",
        "litellm_input_cached_tokens_metric_total",
        "litellm_output_reasoning_tokens_metric_total",
    ]
    .map(|metric| sample(&page, metric, &labels))
}

/// The `upstream` routes with `mock` behind the Anthropic, Gemini and OpenAI deployments.
async fn gateway(mock: &Mock) -> Running {
    common::start_behind(&fixtures::upstream::TABLE, mock).await
}

fn chat(model: &str) -> serde_json::Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "Weather in Paris?" }] })
}

fn answer(body: &str) -> Answer {
    Answer::Json { status: 200, body: body.to_owned(), headers: vec![] }
}

#[tokio::test]
async fn a_chat_reply_from_anthropic() {
    let mock = mock::start(|_| answer(ANTHROPIC_REPLY)).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/chat/completions", None, &chat("claude")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"choices":[{"finish_reason":"tool_calls","index":0,"message":{"content":"Let me check.","#,
        r#""provider_specific_fields":{"citations":null,"thinking_blocks":[{"signature":"c2ln","thinking":"Hmm.","type":"thinking"}]},"#,
        r#""reasoning_content":"Hmm.","role":"assistant","thinking_blocks":[{"signature":"c2ln","thinking":"Hmm.","type":"thinking"}],"#,
        r#""tool_calls":[{"function":{"arguments":"{\"location\":\"Paris\",\"unit\":\"celsius\"}","name":"get_weather"},"#,
        r#""id":"toolu_1","index":2,"type":"function"}]}}],"created":0,"id":"chatcmpl-<uuid>","model":"claude","#,
        r#""object":"chat.completion","usage":{"cache_creation_input_tokens":200,"cache_read_input_tokens":300,"#,
        r#""completion_tokens":50,"prompt_tokens":1500,"prompt_tokens_details":{"cache_creation_tokens":200,"cached_tokens":300},"#,
        r#""total_tokens":1550}}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(
        reply.header("x-litellm-response-cost"),
        Some("0.00459"),
        "1000 × 3e-6 + 300 × 3e-7 + 200 × 3.75e-6 + 50 × 1.5e-5"
    );
    assert_eq!(counted(&gw, "claude-sonnet-4-5", "claude").await, ["1500", "50", "1550", "300", "0"].map(String::from));
}

#[tokio::test]
async fn a_chat_reply_from_gemini() {
    let mock = mock::start(|_| answer(GEMINI_REPLY)).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/chat/completions", None, &chat("flash")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"choices":[{"finish_reason":"tool_calls","index":0,"message":{"content":"Checking both cities.","#,
        r#""role":"assistant","tool_calls":[{"function":{"arguments":"{\"location\":\"Paris\"}","#,
        r#""name":"get_weather"},"id":"call_<uuid>","index":0,"#,
        r#""type":"function"},{"function":{"arguments":"{\"location\":\"Rome\"}","name":"get_weather"},"#,
        r#""id":"call_<uuid>","index":1,"type":"function"}]},"#,
        r#""provider_specific_fields":{"native_finish_reason":"STOP"}}],"created":0,"#,
        r#""id":"mBQcaOXtFcWdz7IP-9OyqAk","model":"flash","object":"chat.completion","#,
        r#""usage":{"completion_tokens":20,"completion_tokens_details":{"reasoning_tokens":8},"#,
        r#""prompt_tokens":40,"prompt_tokens_details":{"cached_tokens":16},"total_tokens":60}}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(reply.header("x-litellm-response-cost"), None);
    assert_eq!(counted(&gw, "gemini-2.0-flash", "flash").await, ["40", "20", "60", "16", "8"].map(String::from));
}

#[tokio::test]
async fn a_messages_reply_from_a_gemini_chat_reply() {
    let mock = mock::start(|_| answer(GEMINI_REPLY)).await;
    let gw = gateway(&mock).await;
    let request =
        json!({ "model": "flash", "max_tokens": 100, "messages": [{ "role": "user", "content": "Weather?" }] });
    let reply = post(&gw, "/v1/messages", None, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"content":[{"text":"Checking both cities.","type":"text"},{"id":"call_<uuid>","#,
        r#""input":{"location":"Paris"},"name":"get_weather","type":"tool_use"},{"id":"call_<uuid>","#,
        r#""input":{"location":"Rome"},"name":"get_weather","type":"tool_use"}],"id":"msg_<uuid>","#,
        r#""model":"flash","role":"assistant","stop_reason":"tool_use","stop_sequence":null,"type":"message","#,
        r#""usage":{"input_tokens":40,"output_tokens":20}}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(reply.header("x-litellm-response-cost"), None);
    assert_eq!(counted(&gw, "gemini-2.0-flash", "flash").await, ["40", "20", "60", "0", "0"].map(String::from));
}

#[tokio::test]
async fn a_bridged_responses_reply_from_anthropic() {
    let mock = mock::start(|_| answer(ANTHROPIC_REPLY)).await;
    let gw = gateway(&mock).await;
    let request =
        json!({ "model": "claude", "input": "Weather in Paris?", "instructions": "Be brief.", "store": false });
    let reply = post(&gw, "/v1/responses", None, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"id":"resp_mr1_9fcbb37007b45108_resp_<uuid>","object":"response","created_at":0,"#,
        r#""status":"completed","background":false,"completed_at":0,"error":null,"incomplete_details":null,"#,
        r#""model":"claude","store":false,"output":[{"id":"rs_<uuid>","summary":[{"text":"Hmm.","#,
        r#""type":"summary_text"}],"type":"reasoning"},{"content":[{"annotations":[],"logprobs":[],"#,
        r#""text":"Let me check.","type":"output_text"}],"id":"msg_<uuid>","role":"assistant","#,
        r#""status":"completed","type":"message"},{"arguments":"{\"location\":\"Paris\",\"unit\":\"celsius\"}","#,
        r#""call_id":"toolu_1","id":"fc_<uuid>","name":"get_weather","status":"completed","#,
        r#""type":"function_call"}],"usage":{"input_tokens":1500,"input_tokens_details":{"cached_tokens":300},"#,
        r#""output_tokens":50,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":1550},"#,
        r#""instructions":"Be brief.","max_output_tokens":null,"metadata":{},"parallel_tool_calls":true,"#,
        r#""previous_response_id":null,"reasoning":{"effort":null,"summary":null},"service_tier":"auto","#,
        r#""temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"#,
        r#""truncation":"disabled","user":null}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(
        reply.header("x-litellm-response-cost"),
        Some("0.0044399999999999995"),
        "cache writes count 0 in the Responses shape"
    );
    assert_eq!(counted(&gw, "claude-sonnet-4-5", "claude").await, ["1500", "50", "1550", "300", "0"].map(String::from));
}

#[tokio::test]
async fn a_relayed_openai_reply_keeps_its_bytes_but_model() {
    let body = r#"{"id":"c-1","object":"chat.completion","created":7,"model":"gpt-4o-exact","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3}}"#;
    let mock = mock::start(|_| answer(body)).await;
    let gw = gateway(&mock).await;
    let reply = post(&gw, "/v1/chat/completions", None, &chat("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), body.replace("\"gpt-4o-exact\"", "\"gpt-4o\""));
    assert_eq!(reply.header("x-litellm-response-cost"), Some("0.011"), "5 × 0.001 + 3 × 0.002");
    assert_eq!(counted(&gw, "gpt-4o-exact", "gpt-4o").await, ["5", "3", "8", "0", "0"].map(String::from));
}

#[tokio::test]
async fn a_chat_reply_from_bedrock_converse() {
    let converse = json!({
        "output": { "message": { "role": "assistant", "content": [
            { "reasoningContent": { "reasoningText": { "text": "think", "signature": "sig" } } },
            { "text": "Sunny." }] } },
        "stopReason": "end_turn",
        "usage": { "inputTokens": 1000, "outputTokens": 50, "totalTokens": 1550,
            "cacheReadInputTokens": 300, "cacheWriteInputTokens": 200 },
    });
    let bedrock = mock::start(move |_| Answer::ok(&converse)).await;
    let gw = common::bedrock::gateway(&bedrock, &[]).await;
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &common::bedrock::chat("claude")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"choices":[{"finish_reason":"stop","index":0,"message":{"content":"Sunny.","#,
        r#""reasoning_content":"think","role":"assistant","thinking_blocks":[{"signature":"sig","#,
        r#""thinking":"think","type":"thinking"}]}}],"created":0,"id":"chatcmpl-<uuid>","model":"claude","#,
        r#""object":"chat.completion","usage":{"cache_creation_input_tokens":200,"cache_read_input_tokens":300,"#,
        r#""completion_tokens":50,"prompt_tokens":1500,"prompt_tokens_details":{"cache_creation_tokens":200,"#,
        r#""cached_tokens":300},"total_tokens":1550}}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(reply.header("x-litellm-response-cost"), Some("0.00459"));
}

#[tokio::test]
async fn a_stored_bridged_reply_is_retrieved_as_it_was_answered() {
    let redis = common::redis::RedisServer::start().await;
    let mock = mock::start(|_| answer(ANTHROPIC_REPLY)).await;
    let (base, url) =
        (format!("http://{}", mock.addr), format!("redis://:{}@127.0.0.1:{}", redis.password, redis.port));
    let vars = [("MOCK_ANTHROPIC_BASE", base.as_str()), ("MOCK_KEY", "sk-up"), ("TEST_REDIS_URL", url.as_str())];
    let gw = common::shared::start(&fixtures::responses_store::TABLE, &vars).await;
    let request = json!({ "model": "claude", "input": "Weather?", "previous_response_id": null });
    let created = post(&gw, "/v1/responses", None, &request).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("resp_mr1_"), "{id}");
    // The store holds the response with its own ids; a retrieve issues them again.
    let retrieved = get(&gw, &format!("/v1/responses/{id}"), None).await;
    assert_eq!(retrieved.status, StatusCode::OK, "{}", retrieved.text());
    assert_eq!(retrieved.text(), created.text(), "byte for byte, its completion time too");
    assert_eq!(created.header("x-litellm-response-cost"), Some("0.0044399999999999995"));
}

#[tokio::test]
async fn a_messages_reply_from_bedrock_converse() {
    let converse = json!({
        "output": { "message": { "role": "assistant", "content": [
            { "reasoningContent": { "reasoningText": { "text": "think", "signature": "sig" } } },
            { "text": "Checking." },
            { "toolUse": { "toolUseId": "tooluse_1", "name": "get_weather", "input": { "city": "Paris" } } }] } },
        "stopReason": "tool_use",
        "usage": { "inputTokens": 1000, "outputTokens": 50, "totalTokens": 1550,
            "cacheReadInputTokens": 300, "cacheWriteInputTokens": 200 },
    });
    let bedrock = mock::start(move |_| Answer::ok(&converse)).await;
    let credentials = [("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "env-secret")];
    let gw = common::bedrock::gateway(&bedrock, &credentials).await;
    let request = json!({ "model": "nova", "max_tokens": 64, "messages": [{ "role": "user", "content": "Weather?" }] });
    let headers = [("content-type", "application/json"), ("x-api-key", "sk-1234"), ("anthropic-version", "2023-06-01")];
    let reply = common::send(&gw, http::Method::POST, "/v1/messages", &headers, request.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"content":[{"text":"Checking.","type":"text"},{"id":"tooluse_1","input":{"city":"Paris"},"#,
        r#""name":"get_weather","type":"tool_use"}],"id":"msg_<uuid>","model":"nova","role":"assistant","#,
        r#""stop_reason":"tool_use","stop_sequence":null,"type":"message","#,
        r#""usage":{"input_tokens":1500,"output_tokens":50}}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(reply.header("x-litellm-response-cost"), None);
}

#[tokio::test]
async fn a_messages_reply_from_an_openai_chat_reply() {
    let body = r#"{"id":"c-1","object":"chat.completion","created":7,"model":"gpt-4o-exact","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"now","arguments":"not json"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2}}}"#;
    let mock = mock::start(|_| answer(body)).await;
    let gw = gateway(&mock).await;
    let request =
        json!({ "model": "gpt-4o", "max_tokens": 100, "messages": [{ "role": "user", "content": "Weather?" }] });
    let reply = post(&gw, "/v1/messages", None, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let want = concat!(
        r#"{"content":[{"text":"Let me look.","type":"text"},{"id":"call_1","input":{"location":"Paris"},"#,
        r#""name":"get_weather","type":"tool_use"},{"id":"call_2","input":{},"name":"now","type":"tool_use"}],"#,
        r#""id":"msg_<uuid>","model":"gpt-4o","role":"assistant","stop_reason":"tool_use","stop_sequence":null,"#,
        r#""type":"message","usage":{"input_tokens":5,"output_tokens":3}}"#,
    );
    assert_eq!(pinned(&reply.text()), want);
    assert_eq!(reply.header("x-litellm-response-cost"), Some("0.011"), "5 × 0.001 + 3 × 0.002");
    assert_eq!(counted(&gw, "gpt-4o-exact", "gpt-4o").await, ["5", "3", "8", "0", "0"].map(String::from));
}
