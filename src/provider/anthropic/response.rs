//! Anthropic Messages response → OpenAI `chat.completion`, pure and typed both ways (the
//! reply read borrowing from its body, the completion written from structs): text blocks joined into
//! `content`, `tool_use` blocks as `tool_calls` (arguments as a JSON string), thinking as
//! `reasoning_content`, `stop_reason` mapped to `finish_reason`, usage with cache tokens,
//! `model` the requested name: the shared typed completion (`translate::completion`),
//! written for a chat client or handed to the client's own format's writer.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::provider::translate::chunk::ChatUsage;
use crate::provider::translate::completion::{
    Choice, Completion, Function, Message, Specific, Thinking, ToolCall, Usage as Counted,
};
use crate::provider::translate::reply::{CachedUsage, Finish};
use crate::provider::translate::wire::{Count, Text, unreadable};

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

/// OpenAI usage from Anthropic's (a stream's): the prompt counts cached reads and cache
/// writes too.
pub fn usage(usage: &Value) -> ChatUsage {
    CachedUsage::read(usage, USAGE_KEYS, None).into()
}

/// The Messages response as the gateway reads it, borrowed from the body; the members it
/// does not read are skipped.
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    content: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    stop_reason: Text<'a>,
    #[serde(default)]
    usage: Option<Usage>,
}

/// Anthropic's usage counts (a count that is not one reads as 0).
#[derive(Deserialize, Default)]
struct Usage {
    #[serde(rename = "input_tokens", default)]
    input: Count,
    #[serde(rename = "output_tokens", default)]
    output: Count,
    #[serde(rename = "cache_read_input_tokens", default)]
    cache_read: Count,
    #[serde(rename = "cache_creation_input_tokens", default)]
    cache_write: Count,
}

impl Usage {
    fn cached(&self) -> CachedUsage {
        CachedUsage {
            input: self.input.0,
            output: self.output.0,
            cache_read: self.cache_read.0,
            cache_write: self.cache_write.0,
            total: None,
        }
    }
}

/// A content block's members the translation reads.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Text<'a>,
    #[serde(borrow, default)]
    text: Text<'a>,
    #[serde(borrow, default)]
    thinking: Text<'a>,
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// Translates a Messages response body into the completion naming `model`, borrowing
/// from the body; `Err` says what is wrong with it.
pub fn translate<'a>(body: &'a [u8], id: String, created: u64, model: &'a str) -> Result<Completion<'a>, String> {
    let reply: Reply<'a> = serde_json::from_slice(body).map_err(|e| unreadable(&e, "no content list"))?;
    let (mut text, mut reasoning) = (String::new(), String::new());
    let (mut tool_calls, mut thinking) = (Vec::new(), Vec::new());
    for (index, raw) in reply.content.into_iter().enumerate() {
        // A block that is not an object is no block the translation knows.
        let Ok(block) = serde_json::from_str::<Block<'a>>(raw.get()) else { continue };
        match block.kind.as_str() {
            "text" => text.push_str(block.text.as_str()),
            "tool_use" => {
                // As the tree wrote it: compact, its keys sorted.
                let input =
                    block.input.map_or(Ok(Value::Object(serde_json::Map::new())), |i| serde_json::from_str(i.get()));
                let arguments = input.map_err(|e| format!("not JSON: {e}"))?.to_string();
                let function = Function { arguments: owned(arguments), name: Text(Some(block.name.or(""))) };
                let id = Text(Some(block.id.or("")));
                tool_calls.push(ToolCall { function, id, index, provider_specific_fields: None, kind: "function" });
            }
            kind @ ("thinking" | "redacted_thinking") => {
                if kind == "thinking" {
                    reasoning.push_str(block.thinking.as_str());
                }
                // Passed back whole, as the tree wrote it.
                let whole = serde_json::from_str::<Value>(raw.get()).map_err(|e| format!("not JSON: {e}"))?;
                thinking.push(Thinking::Whole(whole));
            }
            _ => {}
        }
    }
    let content = if text.is_empty() && !tool_calls.is_empty() { None } else { Some(text) };
    let has_reasoning = !reasoning.is_empty();
    let specific = Specific { citations: (), thinking_blocks: (!thinking.is_empty()).then(|| thinking.clone()) };
    let message = Message {
        content: Text(content.map(Cow::Owned)),
        provider_specific_fields: Some(specific),
        reasoning_content: Text(has_reasoning.then_some(Cow::Owned(reasoning))),
        role: "assistant",
        thinking_blocks: if has_reasoning { thinking } else { Vec::new() },
        tool_calls,
        ..Message::default()
    };
    let finish_reason = owned(finish_reason(&reply.stop_reason.or("end_turn")));
    let choice = Choice { finish_reason, index: 0, message, provider_specific_fields: None };
    let usage = Counted::Counted(ChatUsage::from(reply.usage.unwrap_or_default().cached()));
    Ok(Completion::translated(vec![choice], Cow::Owned(id), created, model, usage))
}

/// A string the translation made, as a completion's text.
fn owned<'a>(text: impl Into<Cow<'a, str>>) -> Text<'a> {
    Text(Some(text.into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "chatcmpl-test";

    /// The completion written for `body`, read back as a tree, naming the model the golden
    /// completion names; the bytes are as compact, and their keys as sorted, as the tree
    /// writes them, and the usage counted is what reading the written `usage` counts.
    fn translate(body: &[u8], id: &str, created: u64) -> Result<Value, String> {
        let completion = super::translate(body, id.to_owned(), created, "claude-sonnet-4-5-20250929")?;
        let (written, usage) = completion.written()?;
        assert_eq!(usage.map(|u| u.counts()), crate::usage::Usage::from_json(&written), "counted as read");
        let tree: Value = serde_json::from_slice(&written).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8(written).ok(), serde_json::to_string(&tree).ok(), "written as the tree writes");
        Ok(tree)
    }
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
        assert_eq!(translate(b"[]", ID, CREATED), Err("no content list".into()));
        assert!(translate(b"{", ID, CREATED).is_err_and(|e| e.starts_with("not JSON")));
    }

    #[test]
    fn thinking_blocks_pass_back_whole_and_odd_members_read_as_absent() {
        let body = br#"{"model":"m","stop_reason":7,"usage":{"input_tokens":"3","output_tokens":2},"content":[
            {"type":"thinking","thinking":"Hmm","signature":"c2ln","extra":{"kept":true}},
            {"type":"redacted_thinking","data":"eA=="},5,{"type":"text","text":{"not":"text"}},
            {"type":"tool_use","id":"t1","name":"f"}]}"#;
        let got = translate(body, ID, CREATED).unwrap_or_else(|e| panic!("{e}"));
        let message = &got["choices"][0]["message"];
        assert_eq!(message["reasoning_content"], "Hmm");
        let blocks = json!([{ "type": "thinking", "thinking": "Hmm", "signature": "c2ln", "extra": { "kept": true } },
            { "type": "redacted_thinking", "data": "eA==" }]);
        assert_eq!(
            (&message["thinking_blocks"], &message["provider_specific_fields"]["thinking_blocks"]),
            (&blocks, &blocks)
        );
        assert_eq!(message["tool_calls"][0]["function"], json!({ "name": "f", "arguments": "{}" }));
        assert_eq!((message["content"].is_null(), &got["choices"][0]["finish_reason"]), (true, &json!("stop")));
        assert_eq!((&got["usage"]["prompt_tokens"], &got["usage"]["completion_tokens"]), (&json!(0), &json!(2)));
    }
}
