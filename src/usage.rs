//! Token usage as providers report it (`usage` of a reply, or of a stream's last chunk) and
//! what it cost: `model_info` prices, else the compiled price table (`prices`). Read by
//! `respond`, counted by `metrics`.

use serde::Deserialize;

use crate::prices;
use crate::table::Deployment;

/// A reply's token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    /// Anthropic's `input_tokens` (`/v1/messages`) counts here too.
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: u64,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// The Responses API's `input_tokens_details` counts here too.
    #[serde(default, alias = "input_tokens_details")]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(default, alias = "output_tokens_details")]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    /// Anthropic's `cache_creation_input_tokens`, as its translation reports them.
    #[serde(default)]
    pub cache_creation_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl Usage {
    /// The `usage` member of a JSON object, when it has one.
    pub fn from_json(json: &[u8]) -> Option<Usage> {
        #[derive(Deserialize)]
        struct WithUsage {
            #[serde(default)]
            usage: Option<Usage>,
        }
        serde_json::from_slice::<WithUsage>(json).ok()?.usage
    }

    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details.map_or(0, |d| d.cached_tokens)
    }

    pub fn reasoning_tokens(&self) -> u64 {
        self.completion_tokens_details.map_or(0, |d| d.reasoning_tokens)
    }
}

/// USD for `usage` on deployment `d` called with `model`; `None` when no price is known.
/// The deployment's `model_info` prices win; else the table's row for the model (LiteLLM's
/// lookup), whose cache-read and cache-creation prices, where it has them, price the cached
/// and cache-writing part of the prompt.
pub fn cost(d: &Deployment, model: &str, usage: &Usage) -> Option<f64> {
    #[expect(clippy::cast_precision_loss, reason = "token counts are far below 2^52")]
    let tokens = |n: u64| n as f64;
    let (prompt, completion) = (tokens(usage.prompt_tokens), tokens(usage.completion_tokens));
    if d.info.input_cost_per_token.is_some() || d.info.output_cost_per_token.is_some() {
        let (input, output) = (d.info.input_cost_per_token.unwrap_or(0.0), d.info.output_cost_per_token.unwrap_or(0.0));
        return Some(prompt * input + completion * output);
    }
    let row = prices::lookup(d.provider, model)?;
    let (input, output) = (row.input_cost_per_token(), row.output_cost_per_token());
    if input.is_none() && output.is_none() {
        return None;
    }
    let (input, output) = (input.unwrap_or(0.0), output.unwrap_or(0.0));
    let details = usage.prompt_tokens_details.unwrap_or_default();
    let cached = row.cache_read_input_token_cost().map_or(0, |_| details.cached_tokens).min(usage.prompt_tokens);
    let rest = usage.prompt_tokens - cached;
    let created = row.cache_creation_input_token_cost().map_or(0, |_| details.cache_creation_tokens).min(rest);
    let uncached = tokens(rest - created);
    let cache_cost = tokens(cached) * row.cache_read_input_token_cost().unwrap_or(0.0)
        + tokens(created) * row.cache_creation_input_token_cost().unwrap_or(0.0);
    Some(uncached * input + cache_cost + completion * output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ModelInfo, Protocol};

    fn deployment(input: Option<f64>, output: Option<f64>) -> Deployment {
        let d = crate::table::test_deployment();
        Deployment {
            protocol: Protocol::OpenAi,
            provider: "openai",
            info: ModelInfo { input_cost_per_token: input, output_cost_per_token: output, ..d.info },
            ..d
        }
    }

    #[test]
    fn usage_is_read_with_details() {
        let json = br#"{"id":"x","usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}"#;
        let usage = Usage::from_json(json).unwrap_or_default();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (5, 3, 8));
        assert_eq!((usage.cached_tokens(), usage.reasoning_tokens()), (2, 1));
        assert_eq!(Usage::from_json(br#"{"usage":null}"#), None);
        assert_eq!(Usage::from_json(b"nonsense"), None);
    }

    #[test]
    fn model_info_prices_win_over_the_table() {
        let usage = Usage { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100, ..Usage::default() };
        let priced = cost(&deployment(Some(0.001), Some(0.002)), "gpt-4o", &usage).unwrap_or_default();
        assert!((priced - 1.2).abs() < 1e-9);
        let listed = cost(&deployment(None, None), "gpt-4o", &usage).unwrap_or_default();
        assert!((listed - (1000.0 * 0.000_002_5 + 100.0 * 0.000_01)).abs() < 1e-12);
        assert_eq!(cost(&deployment(None, None), "unknown-model", &usage), None);
    }

    #[test]
    fn the_table_prices_models_the_old_list_lacked_and_cached_tokens() {
        let usage = Usage { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100, ..Usage::default() };
        let row = prices::lookup("openai", "gpt-4o-2024-08-06").unwrap_or_else(|| unreachable!("in the cost map"));
        let (input, output) =
            (row.input_cost_per_token().unwrap_or_default(), row.output_cost_per_token().unwrap_or_default());
        let dated = cost(&deployment(None, None), "gpt-4o-2024-08-06", &usage).unwrap_or_default();
        assert!((dated - (1000.0 * input + 100.0 * output)).abs() < 1e-12, "{dated}");
        let cache_read = row.cache_read_input_token_cost().unwrap_or_default();
        assert!(cache_read > 0.0 && cache_read < input);
        let cached = Usage {
            prompt_tokens_details: Some(PromptDetails { cached_tokens: 400, cache_creation_tokens: 0 }),
            ..usage
        };
        let with_cache = cost(&deployment(None, None), "gpt-4o-2024-08-06", &cached).unwrap_or_default();
        let expected = 600.0 * input + 400.0 * cache_read + 100.0 * output;
        assert!((with_cache - expected).abs() < 1e-12, "{with_cache} != {expected}");
        let d = Deployment { provider: "azure", ..deployment(None, None) };
        assert!(cost(&d, "gpt-4o", &usage).is_some(), "azure/gpt-4o");
    }
}
