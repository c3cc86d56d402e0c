//! Gemini `generateContent` response → OpenAI `chat.completion`, pure: each candidate's
//! text parts joined into `content` (thought parts into `reasoning_content`), function
//! calls as `tool_calls` with generated `call_<hex>` ids (carrying Gemini 3's thought
//! signature), `finishReason` mapped, usage with thinking tokens as reasoning tokens.
//! `respond` then sets `model` to the requested name.

use serde_json::{Value, json};

use crate::provider::translate::reply::Finish;

/// Joins a tool call's id and the `thoughtSignature` Gemini 3 put on its `functionCall`
/// part, as LiteLLM does: the OpenAI format has no other field a client is sure to send
/// back, and Gemini 3 refuses a replayed call without its signature.
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

/// Gemini's `finishReason`s that are not LiteLLM's `stop` (and every `IMAGE_…` one, a
/// content filter).
const FINISHES: &[(&str, Finish)] = &[
    ("MAX_TOKENS", Finish::Length),
    ("SAFETY", Finish::ContentFilter),
    ("RECITATION", Finish::ContentFilter),
    ("BLOCKLIST", Finish::ContentFilter),
    ("PROHIBITED_CONTENT", Finish::ContentFilter),
    ("SPII", Finish::ContentFilter),
    ("LANGUAGE", Finish::ContentFilter),
    ("OTHER", Finish::ContentFilter),
];

/// LiteLLM's `finish_reason` for a Gemini `finishReason`.
pub fn finish_reason(reason: &str) -> &'static str {
    if reason.starts_with("IMAGE_") {
        return Finish::ContentFilter.as_str();
    }
    Finish::of(reason, FINISHES).as_str()
}

/// A fresh tool call id, `call_` and 32 hex digits.
pub fn call_id() -> String {
    format!("call_{}", uuid::Uuid::new_v4().simple())
}

/// OpenAI usage from `usageMetadata`; thinking tokens count as completion (reasoning) tokens
/// unless the total shows them already inside the candidates' count.
pub fn usage(metadata: &Value) -> Value {
    let count = |key: &str| metadata.get(key).and_then(Value::as_u64).unwrap_or(0);
    let (prompt, candidates, thoughts) =
        (count("promptTokenCount"), count("candidatesTokenCount"), count("thoughtsTokenCount"));
    let total = count("totalTokenCount");
    let completion = if total != 0 && total == prompt + candidates { candidates } else { candidates + thoughts };
    json!({
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": if total == 0 { prompt + completion } else { total },
        "completion_tokens_details": { "reasoning_tokens": thoughts },
        "prompt_tokens_details": { "cached_tokens": count("cachedContentTokenCount") },
    })
}

/// One candidate's parts as (content, reasoning, tool calls numbered from `first_index`).
pub fn parts(parts: &[Value], first_index: usize, ids: &mut impl FnMut() -> String) -> (String, String, Vec<Value>) {
    let (mut text, mut reasoning, mut calls) = (String::new(), String::new(), Vec::new());
    for part in parts {
        if let Some(call) = part.get("functionCall").or_else(|| part.get("function_call")) {
            let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
            let signature = part.get("thoughtSignature").or_else(|| part.get("thought_signature"));
            let signature = signature.and_then(Value::as_str);
            let id = match signature {
                Some(signature) => format!("{}{THOUGHT_SIGNATURE_SEPARATOR}{signature}", ids()),
                None => ids(),
            };
            let mut tool_call = json!({
                "id": id, "type": "function", "index": first_index + calls.len(),
                "function": { "name": call.get("name").cloned().unwrap_or_default(), "arguments": args.to_string() },
            });
            if let Some(signature) = signature {
                tool_call["provider_specific_fields"] = json!({ "thought_signature": signature });
            }
            calls.push(tool_call);
        } else if let Some(piece) = part.get("text").and_then(Value::as_str) {
            let thought = part.get("thought").and_then(Value::as_bool).unwrap_or(false);
            if thought { &mut reasoning } else { &mut text }.push_str(piece);
        }
    }
    (text, reasoning, calls)
}

/// Translates a `generateContent` body; `Err` says what is wrong with it.
pub fn translate(body: &[u8], id: &str, created: u64, ids: &mut impl FnMut() -> String) -> Result<Value, String> {
    let reply: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if !reply.is_object() {
        return Err("not a JSON object".into());
    }
    let candidates = reply.get("candidates").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut choices: Vec<Value> = candidates.iter().enumerate().map(|(i, c)| choice(i, c, ids)).collect();
    if choices.is_empty() {
        // A prompt blocked before any candidate (promptFeedback.blockReason).
        let blocked = reply.get("promptFeedback").and_then(|f| f.get("blockReason")).is_some();
        let finish = if blocked { "content_filter" } else { "stop" };
        choices
            .push(json!({ "index": 0, "finish_reason": finish, "message": { "role": "assistant", "content": null } }));
    }
    Ok(json!({
        "id": reply.get("responseId").and_then(Value::as_str).unwrap_or(id), "object": "chat.completion",
        "created": created, "model": reply.get("modelVersion").cloned().unwrap_or(Value::Null),
        "choices": choices, "usage": usage(reply.get("usageMetadata").unwrap_or(&Value::Null)),
    }))
}

fn choice(position: usize, candidate: &Value, ids: &mut impl FnMut() -> String) -> Value {
    let list = candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array);
    let (text, reasoning, calls) = parts(list.map(Vec::as_slice).unwrap_or_default(), 0, ids);
    let native = candidate.get("finishReason").and_then(Value::as_str).unwrap_or("STOP");
    let finish = if calls.is_empty() { finish_reason(native) } else { "tool_calls" };
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
    }
    json!({
        "index": candidate.get("index").and_then(Value::as_u64).unwrap_or(position as u64),
        "finish_reason": finish, "message": message,
        "provider_specific_fields": { "native_finish_reason": native },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic tool call ids for golden comparisons.
    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("call_test{n}")
        }
    }

    #[test]
    fn function_call_reply_matches_the_golden_completion() {
        let body = include_bytes!("../../../tests/fixtures/translate/gemini/response.gemini.json");
        let want: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/translate/gemini/response.openai.json"))
                .unwrap_or_default();
        assert_eq!(translate(body, "chatcmpl-test", 1_700_000_000, &mut counter()), Ok(want));
    }

    #[test]
    fn a_thought_signature_rides_in_the_tool_call_id() {
        let signed = [
            json!({ "functionCall": { "name": "f", "args": {} }, "thoughtSignature": "c2lnbg==" }),
            json!({ "functionCall": { "name": "g", "args": {} } }),
        ];
        let (_, _, calls) = parts(&signed, 0, &mut counter());
        assert_eq!(calls[0]["id"], "call_test1__thought__c2lnbg==");
        assert_eq!(calls[0]["provider_specific_fields"]["thought_signature"], "c2lnbg==");
        assert_eq!(calls[1]["id"], "call_test2", "only a signed call carries one");
        assert!(calls[1].get("provider_specific_fields").is_none());
    }

    #[test]
    fn finish_reasons_map_as_litellm_does() {
        for (native, finish) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("IMAGE_SAFETY", "content_filter"),
            ("MALFORMED_FUNCTION_CALL", "stop"),
            ("FINISH_REASON_UNSPECIFIED", "stop"),
        ] {
            assert_eq!(finish_reason(native), finish, "{native}");
        }
    }

    #[test]
    fn thinking_tokens_are_reasoning_tokens() {
        let got = usage(
            &json!({ "promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7, "totalTokenCount": 22 }),
        );
        assert_eq!((got["completion_tokens"].as_u64(), got["total_tokens"].as_u64()), (Some(12), Some(22)));
        assert_eq!(got["completion_tokens_details"]["reasoning_tokens"], 7);
        let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}"#;
        let got = translate(blocked, "id", 1, &mut counter()).unwrap_or_default();
        assert_eq!(got["choices"][0]["finish_reason"], "content_filter");
    }
}
