//! Anthropic Messages response → OpenAI `chat.completion`, pure: text blocks joined into
//! `content`, `tool_use` blocks as `tool_calls` (arguments as a JSON string), thinking as
//! `reasoning_content`, `stop_reason` mapped to `finish_reason`, usage with cache tokens.
//! `respond` then sets `model` to the requested name.

use serde_json::{Value, json};

use crate::provider::translate::reply::{CachedUsage, Finish};

/// Anthropic's `stop_reason`s that are not LiteLLM's `stop`.
const FINISHES: &[(&str, Finish)] = &[
    ("max_tokens", Finish::Length),
    ("pause_turn", Finish::Length),
    ("compaction", Finish::Length),
    ("model_context_window_exceeded", Finish::Length),
    ("tool_use", Finish::ToolCalls),
    ("refusal", Finish::ContentFilter),
];
/// Anthropic's usage counts: input, output, cache reads, cache writes.
const USAGE_KEYS: [&str; 4] =
    ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"];

/// LiteLLM's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    Finish::of(stop_reason, FINISHES).as_str()
}

/// OpenAI usage from Anthropic's: the prompt counts cached reads and cache writes too.
pub fn usage(usage: &Value) -> Value {
    CachedUsage::read(usage, USAGE_KEYS, None).to_openai()
}

/// Translates a Messages response body; `Err` says what is wrong with it.
pub fn translate(body: &[u8], id: &str, created: u64) -> Result<Value, String> {
    let reply: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Some(blocks) = reply.get("content").and_then(Value::as_array) else {
        return Err("no content list".into());
    };
    let (mut text, mut reasoning) = (String::new(), String::new());
    let (mut tool_calls, mut thinking) = (Vec::new(), Vec::new());
    for (index, block) in blocks.iter().enumerate() {
        let field = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default();
        match field("type") {
            "text" => text.push_str(field("text")),
            "tool_use" => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(json!({
                    "index": index, "id": field("id"), "type": "function",
                    "function": { "name": field("name"), "arguments": input.to_string() },
                }));
            }
            "thinking" => {
                reasoning.push_str(field("thinking"));
                thinking.push(block.clone());
            }
            "redacted_thinking" => thinking.push(block.clone()),
            _ => {}
        }
    }
    let thinking = if thinking.is_empty() { Value::Null } else { Value::Array(thinking) };
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) },
        "provider_specific_fields": { "citations": null, "thinking_blocks": thinking },
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
        message["thinking_blocks"] = thinking;
    }
    let stop = reply.get("stop_reason").and_then(Value::as_str).unwrap_or("end_turn");
    Ok(json!({
        "id": id, "object": "chat.completion", "created": created,
        "model": reply.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{ "index": 0, "finish_reason": finish_reason(stop), "message": message }],
        "usage": usage(reply.get("usage").unwrap_or(&Value::Null)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "chatcmpl-test";
    const CREATED: u64 = 1_700_000_000;

    #[test]
    fn tool_use_reply_matches_the_golden_completion() {
        let got = translate(
            include_bytes!("../../../tests/fixtures/translate/anthropic/response.anthropic.json"),
            ID,
            CREATED,
        );
        let want: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/translate/anthropic/response.openai.json"))
                .unwrap_or_default();
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn stop_reasons_map_as_litellm_does() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("pause_turn", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
        ] {
            assert_eq!(finish_reason(stop), finish, "{stop}");
        }
    }

    #[test]
    fn text_only_reply_keeps_content_and_counts_no_cache() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#;
        let got = translate(body, ID, CREATED).unwrap_or_default();
        assert_eq!(got["choices"][0]["message"]["content"], "Hi");
        assert!(got["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(got["usage"]["total_tokens"], 4);
        assert!(translate(b"[]", ID, CREATED).is_err());
    }
}
