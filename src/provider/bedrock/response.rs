//! Bedrock Converse response → OpenAI `chat.completion`, pure: text blocks joined into
//! `content`, `toolUse` as `tool_calls` (arguments as a JSON string; in JSON mode the one
//! forced tool call is the content), `reasoningContent` as `reasoning_content` and
//! `thinking_blocks`, `stopReason` as `finish_reason`, usage with cache read and write
//! tokens, `model` the requested name: the shared typed completion (`translate::completion`),
//! written for a chat client or handed to the client's own format's writer.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use super::wire::{Block, Reply, Usage};
use crate::provider::translate::chunk::ChatUsage;
use crate::provider::translate::completion::{
    Choice, Completion, Function, Message, Thinking, ToolCall, Usage as Counted,
};
use crate::provider::translate::reply::Finish;
use crate::provider::translate::wire::{Text, unreadable};

/// Converse's `stopReason`s that are not LiteLLM's `stop`.
const FINISHES: &[(&str, Finish)] = &[
    ("max_tokens", Finish::Length),
    ("model_context_window_exceeded", Finish::Length),
    ("tool_use", Finish::ToolCalls),
    ("guardrail_intervened", Finish::ContentFilter),
    ("content_filtered", Finish::ContentFilter),
];
/// What a reply without the content list says.
const NO_CONTENT: &str = "no output.message.content list";

/// LiteLLM's `finish_reason` for a Converse `stopReason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    Finish::of(stop_reason, FINISHES).as_str()
}

/// OpenAI usage from Converse's: the prompt counts cache reads and writes too, the total
/// is Converse's own when it gives one.
pub fn usage(usage: Option<&Usage<'_>>) -> ChatUsage {
    usage.map(Usage::cached).unwrap_or_default().into()
}

/// What the content blocks add up to.
#[derive(Default)]
struct Read<'a> {
    text: String,
    reasoning: String,
    tool_calls: Vec<ToolCall<'a>>,
    thinking: Vec<Thinking<'a>>,
}

/// A passed-through member as the tree wrote it (compact, keys sorted).
fn tree(raw: &RawValue) -> Result<Value, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("not JSON: {e}"))
}

impl<'a> Read<'a> {
    fn block(&mut self, index: usize, block: Block<'a>) -> Result<(), String> {
        if let Some(t) = block.text.get() {
            self.text.push_str(t);
        }
        if let Some(tool) = block.tool_use {
            let arguments = tool.input.map_or_else(|| Ok(Value::Object(serde_json::Map::new())), tree)?.to_string();
            let function =
                Function { arguments: Text(Some(Cow::Owned(arguments))), name: Text(Some(tool.name.or(""))) };
            let id = Text(Some(tool.id.or("")));
            self.tool_calls.push(ToolCall { function, id, index, provider_specific_fields: None, kind: "function" });
        }
        if let Some(content) = block.reasoning {
            if let Some(r) = content.text {
                self.reasoning.push_str(r.text.as_str());
                let signature = r.signature.map(tree).transpose()?;
                self.thinking.push(Thinking::Text { signature, thinking: r.text.or(""), kind: "thinking" });
            } else if let Some(data) = content.redacted {
                self.thinking.push(Thinking::Redacted { data: tree(data)?, kind: "redacted_thinking" });
            }
        }
        Ok(())
    }
}

/// Translates a Converse response body to the completion naming `model`, borrowing from
/// the body; `Err` says what is wrong with it.
pub fn translate<'a>(
    body: &'a [u8],
    id: String,
    created: u64,
    model: &'a str,
    json_mode: bool,
) -> Result<Completion<'a>, String> {
    let reply: Reply<'a> = serde_json::from_slice(body).map_err(|e| unreadable(&e, NO_CONTENT))?;
    let mut read = Read::default();
    for (index, raw) in reply.output.message.content.iter().copied().enumerate() {
        // A block that is not an object is no block the translation knows.
        let Ok(block) = serde_json::from_str::<Block<'a>>(raw.get()) else { continue };
        read.block(index, block)?;
    }
    let mut finish = finish_reason(&reply.stop_reason.or("end_turn"));
    let Read { text, reasoning, mut tool_calls, thinking } = read;
    let content = if json_mode && tool_calls.len() == 1 {
        finish = "stop";
        tool_calls.pop().map(|c| c.function.arguments).unwrap_or_default().0.unwrap_or_default()
    } else {
        Cow::Owned(text)
    };
    let message = Message {
        content: Text(Some(content)),
        reasoning_content: Text((!thinking.is_empty()).then_some(Cow::Owned(reasoning))),
        role: "assistant",
        thinking_blocks: thinking,
        tool_calls,
        ..Message::default()
    };
    let usage = Counted::Counted(usage(reply.usage.as_ref()));
    let choice =
        Choice { finish_reason: Text(Some(Cow::Borrowed(finish))), index: 0, message, provider_specific_fields: None };
    Ok(Completion::translated(vec![choice], Cow::Owned(id), created, model, usage))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "chatcmpl-test";

    /// The completion written for `body`, read back as a tree; the bytes are as compact,
    /// and their keys as sorted, as the tree wrote them, and the usage counted is what
    /// reading the written `usage` counts.
    fn translate(body: &[u8], id: &str, created: u64, model: &str, json_mode: bool) -> Result<Value, String> {
        let (written, usage) = super::translate(body, id.to_owned(), created, model, json_mode)?.written()?;
        assert_eq!(usage.map(|u| u.counts()), crate::usage::Usage::from_json(&written), "counted as read");
        let tree: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(String::from_utf8(written).ok(), serde_json::to_string(&tree).ok(), "written as the tree writes");
        Ok(tree)
    }

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

    #[test]
    fn unknown_members_pass_unread_and_odd_blocks_are_skipped() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[7,{"text":"a","citations":[]},
            {"reasoningContent":{"redactedContent":"eA=="}},{"text":{"no":1}},{"toolUse":{"name":"f"}}],"x":1}},
            "stopReason":"end_turn","metrics":{"latencyMs":9},"trace":{},"usage":{"inputTokens":"2","outputTokens":3}}"#;
        let got = translate(body, ID, 1, "m", false).unwrap();
        let message = &got["choices"][0]["message"];
        assert_eq!(message["content"], "a");
        assert_eq!(
            (&message["reasoning_content"], &message["thinking_blocks"]),
            (&json!(""), &json!([{ "type": "redacted_thinking", "data": "eA==" }]))
        );
        assert_eq!(
            message["tool_calls"][0],
            json!({ "index": 4, "id": "", "type": "function",
            "function": { "name": "f", "arguments": "{}" } })
        );
        assert_eq!((&got["usage"]["prompt_tokens"], &got["usage"]["total_tokens"]), (&json!(0), &json!(3)));
    }

    #[test]
    fn a_malformed_reply_says_what_is_wrong_as_before() {
        let bad = b"{\"output\":";
        let before = serde_json::from_slice::<Value>(bad).map(|_| ()).map_err(|e| format!("not JSON: {e}"));
        assert_eq!(translate(bad, ID, 1, "m", false), Err(before.unwrap_err()));
        for shape in [&b"[]"[..], br#"{"output":{}}"#, br#"{"output":{"message":{"content":"x"}}}"#] {
            assert_eq!(translate(shape, ID, 1, "m", false), Err(NO_CONTENT.to_owned()));
        }
    }
}
