//! OpenAI `chat.completion` → Anthropic Messages response, pure: id `msg_<uuid>`, the
//! text and each tool call as content blocks (arguments parsed into `input`),
//! `finish_reason` mapped to `stop_reason`, usage as input and output tokens, `model` the
//! requested name: the client's message, which `respond` passes on unread.

use serde_json::{Value, json};

use crate::usage::Usage;

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// `msg_<uuid4>`, the id LiteLLM gives messages it synthesizes.
pub fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// A tool call's `arguments` string as the `input` object (`{}` when it is not JSON).
pub fn input(arguments: &str) -> Value {
    serde_json::from_str::<Value>(arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
}

/// Translates a chat completion body into the message naming `model`, and the usage the
/// gateway counts of it (the message's input and output tokens, as read through
/// `usage::Usage`'s aliases: no cache counts); `Err` says what is wrong with it.
pub fn to_message(body: &[u8], id: &str, model: &str) -> Result<(Value, Usage), String> {
    let reply: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let choice = reply.get("choices").and_then(|c| c.get(0)).ok_or("no choices")?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    if let Some(text) = message.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        content.push(json!({ "type": "text", "text": text }));
    }
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let function = call.get("function").unwrap_or(&Value::Null);
        let arguments = function.get("arguments").and_then(Value::as_str).unwrap_or("{}");
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.get("name").cloned().unwrap_or(Value::Null),
            "input": input(arguments),
        }));
    }
    let finish = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("stop");
    let usage = reply.get("usage").unwrap_or(&Value::Null);
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (count("prompt_tokens"), count("completion_tokens"));
    let message = json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content,
        "stop_reason": stop_reason(finish), "stop_sequence": null,
        "usage": { "input_tokens": input, "output_tokens": output },
    });
    Ok((message, Usage { prompt_tokens: input, completion_tokens: output, ..Usage::default() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_reply_matches_the_golden_message() {
        let body = include_bytes!("../../../tests/fixtures/messages/response.openai.json");
        // The golden message names the model the reply does, which is the requested one here.
        let (got, usage) = to_message(body, "msg_test", "gpt-4o-exact").unwrap_or_default();
        let want: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/messages/response.anthropic.json"))
                .unwrap_or_default();
        assert_eq!(got, want);
        assert_eq!(Some(usage), Usage::from_json(got.to_string().as_bytes()), "counted as read");
    }

    #[test]
    fn finish_reasons_map() {
        for (finish, stop) in
            [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")]
        {
            assert_eq!(stop_reason(finish), stop, "{finish}");
        }
        assert!(to_message(b"{}", "msg_x", "m").is_err());
        assert_eq!(input("not json"), json!({}));
    }
}
