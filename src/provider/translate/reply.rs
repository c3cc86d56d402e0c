//! What the translated replies share, whole or streamed: the OpenAI `finish_reason` a
//! provider's stop reason maps to ([`Finish`], each provider giving its table), and the
//! OpenAI usage of a provider that counts cache reads and writes beside its input
//! ([`CachedUsage`]: Anthropic, Bedrock). The replies go on to `respond`.

use serde_json::Value;

use super::chunk::ChatUsage;

/// An OpenAI `finish_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl Finish {
    /// The finish `native` maps to in a provider's `table`; any other reason is `stop`.
    pub fn of(native: &str, table: &[(&str, Finish)]) -> Finish {
        table.iter().find(|(name, _)| *name == native).map_or(Finish::Stop, |(_, finish)| *finish)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolCalls => "tool_calls",
            Finish::ContentFilter => "content_filter",
        }
    }
}

/// A provider's token counts where the prompt is input plus cache reads plus cache writes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CachedUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// The provider's own total, when it gives one.
    pub total: Option<u64>,
}

impl CachedUsage {
    /// The counts under `keys` (input, output, cache read, cache write) of `usage`, and its
    /// total under `total` when given; a missing count is 0.
    pub fn read(usage: &Value, keys: [&str; 4], total: Option<&str>) -> CachedUsage {
        let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        let [input, output, read, write] = keys;
        CachedUsage {
            input: count(input),
            output: count(output),
            cache_read: count(read),
            cache_write: count(write),
            total: total.and_then(|key| usage.get(key)).and_then(Value::as_u64),
        }
    }

    /// OpenAI's usage, with LiteLLM's cache fields (`chunk::ChatUsage`, as a tree).
    pub fn to_openai(self) -> Value {
        serde_json::to_value(ChatUsage::from(self)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finishes_map_through_a_table_and_default_to_stop() {
        let table = [("max", Finish::Length), ("tool", Finish::ToolCalls)];
        assert_eq!(Finish::of("tool", &table).as_str(), "tool_calls");
        assert_eq!(Finish::of("anything", &table), Finish::Stop);
    }

    #[test]
    fn cached_usage_counts_cache_reads_and_writes_in_the_prompt() {
        let usage = json!({ "i": 3, "o": 2, "r": 5, "w": 1 });
        let got = CachedUsage::read(&usage, ["i", "o", "r", "w"], None).to_openai();
        assert_eq!((&got["prompt_tokens"], &got["total_tokens"]), (&json!(9), &json!(11)));
        let given = CachedUsage::read(&json!({ "t": 40 }), ["i", "o", "r", "w"], Some("t")).to_openai();
        assert_eq!(given["total_tokens"], 40);
    }
}
