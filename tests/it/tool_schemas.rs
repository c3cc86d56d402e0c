//! A function tool's `parameters` reach an `anthropic/` deployment as the client wrote them
//! (`input_schema`, key order and all, as LiteLLM's Python dicts keep it), while the
//! members the gateway reads are still translated; the client gets the translated reply.

use crate::common;

use common::mock::{self, Answer};
use common::{send, start};
use http::{Method, StatusCode};
use model_router::table::fixtures;
use serde_json::json;

/// A schema whose keys are not in sorted order.
const SCHEMA: &str =
    r#"{"type":"object","properties":{"zone":{"type":"string"},"at":{"type":"integer"}},"required":["zone"]}"#;

#[tokio::test]
async fn a_tool_schema_reaches_anthropic_as_the_client_sent_it() {
    let reply = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{ "type": "text", "text": "Noon." }], "stop_reason": "end_turn",
        "usage": { "input_tokens": 9, "output_tokens": 2 },
    });
    let mock = mock::start(move |_| Answer::ok(&reply)).await;
    let base = format!("http://{}", mock.addr);
    let vars = [("MOCK_ANTHROPIC_BASE", base.as_str()), ("MOCK_KEY", "sk-ant-upstream")];
    let gw = start(&fixtures::upstream::TABLE, &vars).await;
    let body = format!(
        r#"{{"model":"claude","messages":[{{"role":"user","content":"Time?"}}],
            "tools":[{{"type":"function","function":{{"name":"time","description":"now","parameters":{SCHEMA}}}}}]}}"#
    );
    let headers = [("content-type", "application/json"), ("authorization", "Bearer client-key")];
    let got = send(&gw, Method::POST, "/v1/chat/completions", &headers, body).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    assert_eq!(got.json()["choices"][0]["message"]["content"], "Noon.");

    let sent = String::from_utf8(mock.last().body.to_vec()).unwrap();
    let want = format!(r#""tools":[{{"description":"now","input_schema":{SCHEMA},"name":"time","type":"custom"}}]"#);
    assert!(sent.contains(&want), "{sent}");
    assert!(sent.starts_with(r#"{"messages":[{"content":[{"text":"Time?","type":"text"}],"role":"user"}]"#), "{sent}");
}
