//! Token usage as providers report it (`usage` of a reply, or of a stream's last chunk) and
//! what it cost: `model_info` prices, else the compiled price table. Read by `respond`,
//! counted by `metrics`.

use serde::Deserialize;

use crate::table::Deployment;

#[expect(clippy::unreadable_literal, reason = "generated data: phf keys")]
mod prices {
    include!(concat!(env!("OUT_DIR"), "/prices.rs"));
}

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
pub fn cost(d: &Deployment, model: &str, usage: &Usage) -> Option<f64> {
    let (input, output) = match (d.info.input_cost_per_token, d.info.output_cost_per_token) {
        (None, None) => prices::PRICES.get(model).copied()?,
        (input, output) => (input.unwrap_or(0.0), output.unwrap_or(0.0)),
    };
    #[expect(clippy::cast_precision_loss, reason = "token counts are far below 2^52")]
    Some(usage.prompt_tokens as f64 * input + usage.completion_tokens as f64 * output)
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
}
