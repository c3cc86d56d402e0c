//! Bedrock Converse's reply and stream events as the gateway reads them, typed and borrowed
//! from the body: the reply's `output.message.content[]`, `stopReason` and `usage`
//! ([`Reply`]), and each ConverseStream event's payload (`contentBlockStart`,
//! `contentBlockDelta`, `messageStop`, `metadata`). Members it does not read are skipped;
//! a scalar of another type reads as absent (`translate::wire`). `response` and `stream`
//! write the client's format from them.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::provider::translate::reply::CachedUsage;
use crate::provider::translate::wire::{Count, Text};

/// A Converse reply: only `output.message.content` is required.
#[derive(Deserialize)]
pub struct Reply<'a> {
    #[serde(borrow)]
    pub output: Output<'a>,
    #[serde(rename = "stopReason", borrow, default)]
    pub stop_reason: Text<'a>,
    #[serde(default)]
    pub usage: Option<Usage<'a>>,
}

#[derive(Deserialize)]
pub struct Output<'a> {
    #[serde(borrow)]
    pub message: Message<'a>,
}

/// The reply's message; its blocks are read one by one (a block that is not one the
/// translation knows is skipped, not a failed reply).
#[derive(Deserialize)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub content: Vec<&'a RawValue>,
}

/// One content block of the reply: text, a tool call or reasoning.
#[derive(Deserialize, Default)]
pub struct Block<'a> {
    #[serde(borrow, default)]
    pub text: Text<'a>,
    #[serde(rename = "toolUse", borrow, default)]
    pub tool_use: Option<ToolUse<'a>>,
    #[serde(rename = "reasoningContent", borrow, default)]
    pub reasoning: Option<Reasoning<'a>>,
}

/// A `toolUse` block (whole in a reply, `input` absent at a stream's block start).
#[derive(Deserialize, Default)]
pub struct ToolUse<'a> {
    #[serde(rename = "toolUseId", borrow, default)]
    pub id: Text<'a>,
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub input: Option<&'a RawValue>,
}

/// `reasoningContent`: reasoning text and its signature, or redacted content.
#[derive(Deserialize, Default)]
pub struct Reasoning<'a> {
    #[serde(rename = "reasoningText", borrow, default)]
    pub text: Option<ReasoningText<'a>>,
    #[serde(rename = "redactedContent", borrow, default)]
    pub redacted: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
pub struct ReasoningText<'a> {
    #[serde(borrow, default)]
    pub text: Text<'a>,
    #[serde(borrow, default)]
    pub signature: Option<&'a RawValue>,
}

/// Converse's usage counts; a count that is not one reads as 0.
#[derive(Deserialize, Default)]
pub struct Usage<'a> {
    #[serde(rename = "inputTokens", default)]
    input: Count,
    #[serde(rename = "outputTokens", default)]
    output: Count,
    #[serde(rename = "cacheReadInputTokens", default)]
    cache_read: Count,
    #[serde(rename = "cacheWriteInputTokens", default)]
    cache_write: Count,
    /// Read as the raw text: Converse's own total only when it is an unsigned integer.
    #[serde(rename = "totalTokens", borrow, default)]
    total: Option<&'a RawValue>,
}

impl Usage<'_> {
    /// The counts, the prompt counting cache reads and writes (`translate::reply`).
    pub fn cached(&self) -> CachedUsage {
        CachedUsage {
            input: self.input.0,
            output: self.output.0,
            cache_read: self.cache_read.0,
            cache_write: self.cache_write.0,
            total: self.total.and_then(|raw| raw.get().parse().ok()),
        }
    }
}

/// `contentBlockStart`: a tool call's id and name.
#[derive(Deserialize, Default)]
pub struct BlockStart<'a> {
    #[serde(borrow, default)]
    pub start: Option<Start<'a>>,
}

#[derive(Deserialize, Default)]
pub struct Start<'a> {
    #[serde(rename = "toolUse", borrow, default)]
    pub tool_use: Option<ToolUse<'a>>,
}

/// `contentBlockDelta`: text, a tool call's argument text, or reasoning.
#[derive(Deserialize, Default)]
pub struct BlockDelta<'a> {
    #[serde(borrow, default)]
    pub delta: Option<Delta<'a>>,
}

#[derive(Deserialize, Default)]
pub struct Delta<'a> {
    #[serde(borrow, default)]
    pub text: Text<'a>,
    #[serde(rename = "toolUse", borrow, default)]
    pub tool_use: Option<ToolInput<'a>>,
    #[serde(rename = "reasoningContent", borrow, default)]
    pub reasoning: Option<ReasoningDelta<'a>>,
}

#[derive(Deserialize, Default)]
pub struct ToolInput<'a> {
    #[serde(borrow, default)]
    pub input: Text<'a>,
}

#[derive(Deserialize, Default)]
pub struct ReasoningDelta<'a> {
    #[serde(borrow, default)]
    pub text: Text<'a>,
    #[serde(borrow, default)]
    pub signature: Text<'a>,
}

/// `messageStop`.
#[derive(Deserialize, Default)]
pub struct MessageStop<'a> {
    #[serde(rename = "stopReason", borrow, default)]
    pub stop_reason: Text<'a>,
}

/// `metadata`: the stream's usage.
#[derive(Deserialize, Default)]
pub struct Metadata<'a> {
    #[serde(borrow, default)]
    pub usage: Option<Usage<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_reads_what_it_knows_and_skips_the_rest() {
        let body = r#"{"output":{"message":{"role":"assistant","content":[{"text":"a","extra":[1]}],"new":{}}},
            "stopReason":"end_turn","metrics":{"latencyMs":3},"usage":{"inputTokens":2,"totalTokens":"9"}}"#;
        let reply: Reply<'_> = serde_json::from_str(body).unwrap();
        assert_eq!(reply.output.message.content.len(), 1);
        assert_eq!(reply.stop_reason.as_str(), "end_turn");
        let usage = reply.usage.unwrap_or_default().cached();
        assert_eq!((usage.input, usage.total), (2, None), "a total that is not a count is none");
        let block: Block<'_> = serde_json::from_str(reply.output.message.content[0].get()).unwrap();
        assert_eq!(block.text.as_str(), "a");
    }

    #[test]
    fn events_read_leniently() {
        let delta: BlockDelta<'_> =
            serde_json::from_str(r#"{"delta":{"reasoningContent":{"signature":"s"}},"p":"x"}"#).unwrap();
        let reasoning = delta.delta.and_then(|d| d.reasoning).unwrap_or_default();
        assert_eq!((reasoning.text.get(), reasoning.signature.get()), (None, Some("s")));
        let stop: MessageStop<'_> = serde_json::from_str(r#"{"stopReason":5}"#).unwrap();
        assert_eq!(stop.stop_reason.get(), None);
    }
}
