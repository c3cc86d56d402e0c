//! Gemini `generateContent` response → OpenAI `chat.completion`, pure and typed both ways
//! (the reply read borrowing from its body, the completion written from structs; a stream
//! chunk's parts read through the same types): each candidate's
//! text parts joined into `content` (thought parts into `reasoning_content`), function
//! calls as `tool_calls` with generated `call_<hex>` ids (carrying Gemini 3's thought
//! signature), `finishReason` mapped, usage with thinking tokens as reasoning tokens,
//! `model` the requested name: the shared typed completion (`translate::completion`),
//! written for a chat client or handed to the client's own format's writer.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::provider::translate::chunk::{ChatUsage, CompletionDetails, PromptDetails, ToolCallDelta, ToolStart};
use crate::provider::translate::completion::{
    Choice, Completion, Function, Message, Native, Signature, ToolCall, Usage,
};
use crate::provider::translate::reply::Finish;
use crate::provider::translate::wire::{Count, Text, unreadable};

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

/// `usageMetadata`'s counts (a count that is not one reads as 0).
#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(rename = "promptTokenCount", default)]
    prompt: Count,
    #[serde(rename = "candidatesTokenCount", default)]
    candidates: Count,
    #[serde(rename = "thoughtsTokenCount", default)]
    thoughts: Count,
    #[serde(rename = "totalTokenCount", default)]
    total: Count,
    #[serde(rename = "cachedContentTokenCount", default)]
    cached: Count,
}

impl Metadata {
    /// Thinking tokens count as completion (reasoning) tokens unless the total shows them
    /// already inside the candidates' count.
    fn openai(&self) -> ChatUsage {
        let (prompt, candidates, thoughts) = (self.prompt.0, self.candidates.0, self.thoughts.0);
        let total = self.total.0;
        let completion = if total != 0 && total == prompt + candidates { candidates } else { candidates + thoughts };
        ChatUsage {
            completion_tokens: completion,
            completion_tokens_details: Some(CompletionDetails { reasoning_tokens: thoughts }),
            prompt_tokens: prompt,
            prompt_tokens_details: PromptDetails { cached_tokens: self.cached.0, ..PromptDetails::default() },
            total_tokens: if total == 0 { prompt + completion } else { total },
            ..ChatUsage::default()
        }
    }
}

/// OpenAI usage from `usageMetadata` (a stream's chunk's).
pub fn usage(metadata: &Value) -> ChatUsage {
    Metadata::deserialize(metadata).unwrap_or_default().openai()
}

/// A content part's members the translation reads, in either spelling Gemini uses.
#[derive(Deserialize)]
pub struct Part<'a> {
    #[serde(rename = "functionCall", alias = "function_call", default)]
    function_call: Option<Call<'a>>,
    #[serde(rename = "thoughtSignature", alias = "thought_signature", borrow, default)]
    thought_signature: Text<'a>,
    #[serde(borrow, default)]
    text: Text<'a>,
    #[serde(default)]
    thought: Option<bool>,
}

#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    args: Option<Value>,
}

/// One candidate's typed parts as (content, reasoning, tool calls numbered from
/// `first_index`): what whole replies and stream chunks share.
fn read_parts<'a>(
    parts: impl IntoIterator<Item = Part<'a>>,
    first_index: usize,
    ids: &mut impl FnMut() -> String,
) -> (String, String, Vec<ToolCall<'a>>) {
    let (mut text, mut reasoning, mut calls) = (String::new(), String::new(), Vec::new());
    for part in parts {
        if let Some(call) = part.function_call {
            let args = call.args.filter(|a| !a.is_null()).unwrap_or_else(|| Value::Object(serde_json::Map::new()));
            let signature = part.thought_signature.0;
            let id = match &signature {
                Some(signature) => format!("{}{THOUGHT_SIGNATURE_SEPARATOR}{signature}", ids()),
                None => ids(),
            };
            calls.push(ToolCall {
                function: Function { arguments: Text(Some(Cow::Owned(args.to_string()))), name: call.name },
                id: Text(Some(Cow::Owned(id))),
                index: first_index + calls.len(),
                provider_specific_fields: signature.map(|thought_signature| Signature { thought_signature }),
                kind: "function",
            });
        } else if let Some(piece) = part.text.get() {
            if part.thought == Some(true) { &mut reasoning } else { &mut text }.push_str(piece);
        }
    }
    (text, reasoning, calls)
}

/// One candidate's parts (a stream chunk's, as trees) as (content, reasoning, tool calls
/// numbered from `first_index`, each whole in one delta).
pub fn parts(
    parts: &[Value],
    first_index: usize,
    ids: &mut impl FnMut() -> String,
) -> (String, String, Vec<ToolCallDelta>) {
    // A part that is not an object is none the translation reads.
    let typed = parts.iter().filter_map(|part| Part::deserialize(part).ok());
    let (text, reasoning, calls) = read_parts(typed, first_index, ids);
    let delta = |call: ToolCall<'_>| ToolCallDelta {
        index: call.index as u64,
        start: Some(ToolStart {
            id: Some(call.id.as_str().to_owned()),
            name: call.function.name.0.map(Cow::into_owned),
        }),
        arguments: call.function.arguments.as_str().to_owned(),
        thought_signature: call.provider_specific_fields.map(|s| s.thought_signature.into_owned()),
    };
    (text, reasoning, calls.into_iter().map(delta).collect())
}

/// The `generateContent` reply as the gateway reads it, borrowed from the body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply<'a> {
    #[serde(borrow, default)]
    candidates: Vec<Candidate<'a>>,
    #[serde(default)]
    prompt_feedback: Option<Feedback>,
    #[serde(borrow, default)]
    response_id: Text<'a>,
    #[serde(default)]
    usage_metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(borrow, default)]
    finish_reason: Text<'a>,
    #[serde(default)]
    index: Option<Count>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Feedback {
    #[serde(default)]
    block_reason: Option<serde::de::IgnoredAny>,
}

/// Translates a `generateContent` body into the completion naming `model`, borrowing from
/// the body; `Err` says what is wrong with it.
pub fn translate<'a>(
    body: &'a [u8],
    id: String,
    created: u64,
    model: &'a str,
    ids: &mut impl FnMut() -> String,
) -> Result<Completion<'a>, String> {
    let reply: Reply<'a> = serde_json::from_slice(body).map_err(|e| unreadable(&e, "not a JSON object"))?;
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    let mut choices: Vec<Choice<'a>> =
        reply.candidates.into_iter().enumerate().map(|(i, c)| choice(i, c, ids)).collect();
    if choices.is_empty() {
        // A prompt blocked before any candidate (promptFeedback.blockReason).
        let blocked = reply.prompt_feedback.is_some_and(|f| f.block_reason.is_some());
        let message = Message { role: "assistant", ..Message::default() };
        let finish_reason = Text(Some(Cow::Borrowed(if blocked { "content_filter" } else { "stop" })));
        choices.push(Choice { finish_reason, index: 0, message, provider_specific_fields: None });
    }
    let usage = Usage::Counted(reply.usage_metadata.unwrap_or_default().openai());
    let id = reply.response_id.0.unwrap_or(Cow::Owned(id));
    Ok(Completion::translated(choices, id, created, model, usage))
}

fn choice<'a>(position: usize, candidate: Candidate<'a>, ids: &mut impl FnMut() -> String) -> Choice<'a> {
    let list = candidate.content.map(|c| c.parts).unwrap_or_default();
    // A part that is not an object is none the translation reads.
    let typed = list.into_iter().filter_map(|raw| serde_json::from_str::<Part<'a>>(raw.get()).ok());
    let (text, reasoning, tool_calls) = read_parts(typed, 0, ids);
    let native = candidate.finish_reason.or("STOP");
    let finish_reason = if tool_calls.is_empty() { finish_reason(&native) } else { "tool_calls" };
    let content = if text.is_empty() && !tool_calls.is_empty() { None } else { Some(Cow::Owned(text)) };
    let reasoning_content = (!reasoning.is_empty()).then_some(Cow::Owned(reasoning));
    let message = Message {
        content: Text(content),
        reasoning_content: Text(reasoning_content),
        role: "assistant",
        tool_calls,
        ..Message::default()
    };
    Choice {
        finish_reason: Text(Some(Cow::Borrowed(finish_reason))),
        index: candidate.index.map_or(position as u64, |i| i.0),
        message,
        provider_specific_fields: Some(Native { native_finish_reason: native }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Deterministic tool call ids for golden comparisons.
    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("call_test{n}")
        }
    }

    /// The completion written for `body`, read back as a tree, naming the model the golden
    /// completion names; the bytes are as compact, and their keys as sorted, as the tree
    /// writes them, and the usage counted is what reading the written `usage` counts.
    fn translate(body: &[u8], id: &str, created: u64, ids: &mut impl FnMut() -> String) -> Result<Value, String> {
        let (written, usage) = super::translate(body, id.to_owned(), created, "gemini-2.0-flash", ids)?.written()?;
        assert_eq!(usage.map(|u| u.counts()), crate::usage::Usage::from_json(&written), "counted as read");
        let tree: Value = serde_json::from_slice(&written).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8(written).ok(), serde_json::to_string(&tree).ok(), "written as the tree writes");
        Ok(tree)
    }

    #[test]
    fn odd_members_read_as_absent_and_thoughts_as_reasoning() {
        let body = br#"{"candidates":[{"content":{"parts":[7,{"text":"why","thought":true},{"text":{"x":1}},
            {"function_call":{"name":"f"},"thought_signature":"c2ln"}]},"finishReason":5}],"usageMetadata":{"promptTokenCount":"2"}}"#;
        let got = translate(body, "id", 1, &mut counter()).unwrap_or_else(|e| panic!("{e}"));
        let choice = &got["choices"][0];
        assert_eq!(
            (&choice["index"], &choice["provider_specific_fields"]["native_finish_reason"]),
            (&json!(0), &json!("STOP"))
        );
        assert_eq!(choice["message"]["reasoning_content"], "why");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!((&call["function"]["arguments"], &call["id"]), (&json!("{}"), &json!("call_test1__thought__c2ln")));
        assert_eq!(
            (&got["id"], &got["model"], &got["usage"]["prompt_tokens"]),
            (&json!("id"), &json!("gemini-2.0-flash"), &json!(0)),
            "the requested name, though the reply names no model"
        );
        assert_eq!(translate(b"[]", "id", 1, &mut counter()), Err("not a JSON object".into()));
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
        let calls: Vec<Value> = calls.iter().map(|call| serde_json::to_value(call).unwrap()).collect();
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
        let got = serde_json::to_value(usage(
            &json!({ "promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7, "totalTokenCount": 22 }),
        ))
        .unwrap();
        assert_eq!((got["completion_tokens"].as_u64(), got["total_tokens"].as_u64()), (Some(12), Some(22)));
        assert_eq!(got["completion_tokens_details"]["reasoning_tokens"], 7);
        let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}"#;
        let got = translate(blocked, "id", 1, &mut counter()).unwrap_or_default();
        assert_eq!(got["choices"][0]["finish_reason"], "content_filter");
    }
}
