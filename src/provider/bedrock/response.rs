//! Bedrock Converse response → OpenAI `chat.completion`, pure: text blocks joined into
//! `content`, `toolUse` as `tool_calls` (arguments as a JSON string; in JSON mode the one
//! forced tool call is the content), `reasoningContent` as `reasoning_content` and
//! `thinking_blocks`, `stopReason` as `finish_reason`, usage with cache read and write
//! tokens. `respond` then sets `model` to the requested name.

use serde_json::{Value, json};

use crate::provider::translate::reply::{CachedUsage, Finish};

/// Converse's `stopReason`s that are not LiteLLM's `stop`.
const FINISHES: &[(&str, Finish)] = &[
    ("max_tokens", Finish::Length),
    ("model_context_window_exceeded", Finish::Length),
    ("tool_use", Finish::ToolCalls),
    ("guardrail_intervened", Finish::ContentFilter),
    ("content_filtered", Finish::ContentFilter),
];
/// Converse's usage counts: input, output, cache reads, cache writes.
const USAGE_KEYS: [&str; 4] = ["inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"];

/// LiteLLM's `finish_reason` for a Converse `stopReason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    Finish::of(stop_reason, FINISHES).as_str()
}

/// OpenAI usage from Converse's: the prompt counts cache reads and writes too, the total
/// is Converse's own when it gives one.
pub fn usage(usage: &Value) -> Value {
    CachedUsage::read(usage, USAGE_KEYS, Some("totalTokens")).to_openai()
}

/// Translates a Converse response body; `Err` says what is wrong with it.
pub fn translate(body: &[u8], id: &str, created: u64, model: &str, json_mode: bool) -> Result<Value, String> {
    let reply: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Some(blocks) = reply.pointer("/output/message/content").and_then(Value::as_array) else {
        return Err("no output.message.content list".into());
    };
    let (mut text, mut reasoning) = (String::new(), String::new());
    let (mut tool_calls, mut thinking) = (Vec::new(), Vec::new());
    for (index, block) in blocks.iter().enumerate() {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        }
        if let Some(tool) = block.get("toolUse") {
            let field = |key: &str| tool.get(key).and_then(Value::as_str).unwrap_or_default();
            let input = tool.get("input").cloned().unwrap_or_else(|| json!({}));
            tool_calls.push(json!({
                "index": index, "id": field("toolUseId"), "type": "function",
                "function": { "name": field("name"), "arguments": input.to_string() },
            }));
        }
        if let Some(content) = block.get("reasoningContent") {
            if let Some(r) = content.get("reasoningText") {
                let t = r.get("text").and_then(Value::as_str).unwrap_or_default();
                reasoning.push_str(t);
                let mut block = json!({ "type": "thinking", "thinking": t });
                if let Some(signature) = r.get("signature") {
                    block["signature"] = signature.clone();
                }
                thinking.push(block);
            } else if let Some(data) = content.get("redactedContent") {
                thinking.push(json!({ "type": "redacted_thinking", "data": data }));
            }
        }
    }
    let stop = reply.get("stopReason").and_then(Value::as_str).unwrap_or("end_turn");
    let mut finish = finish_reason(stop);
    let mut message = json!({ "role": "assistant" });
    if json_mode && tool_calls.len() == 1 {
        let arguments = tool_calls.pop().and_then(|c| c.pointer("/function/arguments").cloned());
        message["content"] = arguments.unwrap_or_else(|| Value::String(String::new()));
        finish = "stop";
    } else {
        message["content"] = Value::String(text);
        if !tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(tool_calls);
        }
    }
    if !thinking.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
        message["thinking_blocks"] = Value::Array(thinking);
    }
    Ok(json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{ "index": 0, "finish_reason": finish, "message": message }],
        "usage": usage(reply.get("usage").unwrap_or(&Value::Null)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "chatcmpl-test";

    #[test]
    fn text_tools_reasoning_and_cache_usage() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[
            {"reasoningContent":{"reasoningText":{"text":"think","signature":"sig"}}},
            {"text":"Let me check."},
            {"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]}},
            "stopReason":"tool_use",
            "usage":{"inputTokens":10,"outputTokens":5,"totalTokens":35,"cacheReadInputTokens":12,"cacheWriteInputTokens":8}}"#;
        let got = translate(body, ID, 1, "m", false).unwrap_or_default();
        let choice = &got["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Let me check.");
        assert_eq!(choice["message"]["reasoning_content"], "think");
        assert_eq!(choice["message"]["thinking_blocks"][0]["signature"], "sig");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!((call["id"].as_str(), call["function"]["name"].as_str()), (Some("tooluse_1"), Some("get_weather")));
        assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
        assert_eq!(
            got["usage"],
            json!({"prompt_tokens":30,"completion_tokens":5,"total_tokens":35,
                   "prompt_tokens_details":{"cached_tokens":12,"cache_creation_tokens":8},
                   "cache_read_input_tokens":12,"cache_creation_input_tokens":8})
        );
    }

    #[test]
    fn json_mode_makes_the_forced_tool_the_content() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[
            {"toolUse":{"toolUseId":"t","name":"answer","input":{"a":1}}}]}},"stopReason":"tool_use",
            "usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#;
        let got = translate(body, ID, 1, "m", true).unwrap_or_default();
        assert_eq!(got["choices"][0]["message"]["content"], r#"{"a":1}"#);
        assert!(got["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(got["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn stop_reasons_map_as_litellm_does() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
        ] {
            assert_eq!(finish_reason(stop), finish, "{stop}");
        }
        assert!(translate(b"{}", ID, 1, "m", false).is_err());
    }
}
