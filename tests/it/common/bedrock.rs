//! A mock Bedrock runtime's parts for `tests/bedrock*.rs`: AWS event-stream frames encoded
//! with `aws-smithy-eventstream`, Converse replies, the SigV4 `Authorization` shape check, and
//! the gateway on the `bedrock` fixture environment.

use std::sync::Arc;

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::Engine as _;
use bytes::Bytes;
use model_router::server::Running;
use model_router::table::fixtures;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::mock::{Answer, Mock, Seen};

pub const KEY_ID: &str = "AKIDBEDROCKTEST";
pub const SECRET: &str = "bedrock-test-secret-never-shown";
pub const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";
pub const CLAUDE_PATH: &str = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
pub const NOVA_PATH: &str =
    "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-pro-v1%3A0/converse";

pub fn converse_reply(content: &Value, stop: &str) -> Value {
    json!({
        "output": { "message": { "role": "assistant", "content": content } },
        "stopReason": stop,
        "usage": { "inputTokens": 11, "outputTokens": 7, "totalTokens": 18 },
        "metrics": { "latencyMs": 12 },
    })
}

pub fn frame(message_type: &str, name: &str, payload: &Value) -> Bytes {
    let type_header = if message_type == "exception" { ":exception-type" } else { ":event-type" };
    let message = Message::new(Bytes::from(payload.to_string()))
        .add_header(Header::new(":message-type", HeaderValue::String(message_type.to_owned().into())))
        .add_header(Header::new(type_header, HeaderValue::String(name.to_owned().into())))
        .add_header(Header::new(":content-type", HeaderValue::String("application/json".into())));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut out).unwrap();
    Bytes::from(out)
}

pub fn frames(pieces: Vec<Bytes>, hold: Option<Arc<Notify>>) -> Answer {
    Answer::Bytes { content_type: EVENT_STREAM, pieces, hold }
}

/// Checks the SigV4 shape of a call and returns the signed header names.
pub fn signed(seen: &Seen, key_id: &str, region: &str, service: &str) -> Vec<String> {
    let auth = seen.header("authorization").expect("signed");
    let date = seen.header("x-amz-date").expect("x-amz-date");
    assert_eq!(date.len(), 16, "{date}");
    let scope =
        format!("AWS4-HMAC-SHA256 Credential={key_id}/{}/{region}/{service}/aws4_request, SignedHeaders=", &date[..8]);
    assert!(auth.starts_with(&scope), "{auth} does not start with {scope}");
    let rest = &auth[scope.len()..];
    let (headers, signature) = rest.split_once(", Signature=").expect("signature");
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
    headers.split(';').map(str::to_owned).collect()
}

pub async fn gateway(bedrock: &Mock, extra: &[(&str, &str)]) -> Running {
    let base = format!("http://{}", bedrock.addr);
    let mut vars = vec![("BEDROCK_KEY_ID", KEY_ID), ("BEDROCK_SECRET", SECRET), ("MOCK_BEDROCK", base.as_str())];
    vars.extend_from_slice(extra);
    super::start(&fixtures::bedrock::TABLE, &vars).await
}

pub fn chat(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "Hi" }], "max_tokens": 50 })
}

/// An InvokeModel stream `chunk` frame carrying one Anthropic event.
pub fn chunk(event: &Value) -> Bytes {
    let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
    frame("event", "chunk", &json!({ "bytes": bytes, "p": "abcdefgh" }))
}
