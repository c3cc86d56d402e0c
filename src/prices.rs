//! The compiled price table (LiteLLM's cost map, `config/model_prices.jsonl`, compiled by
//! `build.rs`): per model its provider, mode, USD per token and context window, looked up
//! as LiteLLM does. Read by `usage` (cost), `provider::anthropic` (the `max_tokens`
//! default) and `catalog` (`/v1/models`, `/model/info`).

use crate::table::Deployment;

#[expect(clippy::unreadable_literal, reason = "generated data: phf keys and prices")]
mod table {
    include!(concat!(env!("OUT_DIR"), "/prices.rs"));
}

/// The modes of the table, by the index `build.rs` writes (config's `prices::MODES`).
const MODES: [&str; 4] = ["chat", "completion", "embedding", "responses"];

/// One model of the table, packed (NaN for an unknown cost, 0 for an unknown window) so
/// thousands of rows stay small in the binary; read it through the methods.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    provider: u8,
    mode: u8,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_creation: f64,
    max_input: u32,
    max_output: u32,
}

/// The constructor the generated table calls.
#[expect(clippy::too_many_arguments, reason = "one generated row, in the order build.rs writes it")]
const fn entry(
    provider: u8,
    mode: u8,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_creation: f64,
    max_input: u32,
    max_output: u32,
) -> Entry {
    Entry { provider, mode, input, output, cache_read, cache_creation, max_input, max_output }
}

fn known(cost: f64) -> Option<f64> {
    (!cost.is_nan()).then_some(cost)
}

fn window(tokens: u32) -> Option<u64> {
    (tokens != 0).then_some(u64::from(tokens))
}

impl Entry {
    /// LiteLLM's `litellm_provider`: `openai`, `anthropic`, `vertex_ai-language-models`, ...
    pub fn provider(&self) -> &'static str {
        table::PROVIDERS.get(usize::from(self.provider)).copied().unwrap_or_default()
    }

    pub fn mode(&self) -> &'static str {
        MODES.get(usize::from(self.mode)).copied().unwrap_or_default()
    }

    pub fn input_cost_per_token(&self) -> Option<f64> {
        known(self.input)
    }

    pub fn output_cost_per_token(&self) -> Option<f64> {
        known(self.output)
    }

    pub fn cache_read_input_token_cost(&self) -> Option<f64> {
        known(self.cache_read)
    }

    pub fn cache_creation_input_token_cost(&self) -> Option<f64> {
        known(self.cache_creation)
    }

    pub fn max_input_tokens(&self) -> Option<u64> {
        window(self.max_input)
    }

    pub fn max_output_tokens(&self) -> Option<u64> {
        window(self.max_output)
    }
}

/// Whether a row of `listed` (its `litellm_provider`) prices calls to `provider`: the same
/// name, or one of LiteLLM's families (`_check_provider_match`): Vertex AI's and
/// Fireworks' sub-providers, every `bedrock*`, and Azure AI priced as Azure or OpenAI.
fn provider_matches(listed: &str, provider: &str) -> bool {
    listed == provider
        || (provider == "vertex_ai" && listed.starts_with("vertex_ai"))
        || (provider == "fireworks_ai" && listed.starts_with("fireworks_ai"))
        || (provider.starts_with("bedrock") && listed.starts_with("bedrock"))
        || (provider == "azure_ai" && matches!(listed, "azure" | "openai"))
}

/// The row for `model` called through `provider`, as LiteLLM's `get_model_info` finds it:
/// `provider/model` first, then `model` as it is; a row counts only if its provider
/// matches (`gpt-4o` through `azure` finds `azure/gpt-4o`, not OpenAI's `gpt-4o`).
pub fn lookup(provider: &str, model: &str) -> Option<&'static Entry> {
    find(provider, model).map(|(_, e)| e)
}

/// [`lookup`] with the key of the row found (LiteLLM's `model_info.key`).
pub fn find(provider: &str, model: &str) -> Option<(&'static str, &'static Entry)> {
    let found = |key: &str| {
        let (key, e) = table::PRICES.get_entry(key)?;
        provider_matches(e.provider(), provider).then_some((*key, e))
    };
    let prefixed = model.strip_prefix(provider).and_then(|rest| rest.strip_prefix('/')).is_some();
    let combined = if prefixed {
        None
    } else {
        let mut key = String::with_capacity(provider.len() + 1 + model.len());
        key.extend([provider, "/", model]);
        found(&key)
    };
    combined.or_else(|| found(model))
}

/// The table's models `provider` serves (LiteLLM's `models_by_provider`: for `openai` also
/// `text-completion-openai`, without fine-tune price rows `ft:…`), as the ids it takes
/// (`claude-sonnet-4-5`, not `anthropic/claude-sonnet-4-5`), sorted, each with its row.
pub fn models_of(provider: &str) -> Vec<(&'static str, &'static Entry)> {
    let own = |listed: &str| listed == provider || (provider == "openai" && listed == "text-completion-openai");
    let mut models: Vec<(&str, &Entry)> = table::PRICES
        .entries()
        .filter(|(model, e)| own(e.provider()) && !(provider == "openai" && model.starts_with("ft:")))
        .map(|(model, e)| {
            let id = model.strip_prefix(provider).and_then(|rest| rest.strip_prefix('/')).unwrap_or(model);
            (id, e)
        })
        .collect();
    models.sort_unstable_by_key(|(id, _)| *id);
    models.dedup_by_key(|(id, _)| *id);
    models
}

/// A deployment's maximum output for `model`: its own `model_info`, else the table's.
pub fn max_output_tokens(d: &Deployment, model: &str) -> Option<u64> {
    d.info.max_output_tokens.or_else(|| lookup(d.provider, model)?.max_output_tokens())
}

/// How many models the table holds.
pub fn len() -> usize {
    table::PRICES.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_litellms_cost_map() {
        assert!(len() > 3000, "{} models", len());
        let gpt = lookup("openai", "gpt-4o").map(|e| (e.provider(), e.mode(), e.input_cost_per_token()));
        assert_eq!(gpt, Some(("openai", "chat", Some(2.5e-6))));
        let sonnet = lookup("anthropic", "claude-sonnet-4-5").and_then(Entry::max_output_tokens);
        assert_eq!(sonnet, Some(64_000), "LiteLLM's default max_tokens for it");
        let embedding = lookup("openai", "text-embedding-3-small").map(Entry::mode);
        assert_eq!(embedding, Some("embedding"));
        assert!(lookup("openai", "dall-e-3").is_none(), "image models are left out");
    }

    #[test]
    fn lookup_tries_provider_slash_model_then_the_model_with_its_provider() {
        let azure = lookup("azure", "gpt-4o").map(Entry::provider);
        assert_eq!(azure, Some("azure"), "azure/gpt-4o, not OpenAI's row");
        let gemini = lookup("gemini", "gemini-2.5-flash").map(Entry::provider);
        assert_eq!(gemini, Some("gemini"), "gemini/gemini-2.5-flash");
        let vertex = lookup("vertex_ai", "gemini-2.5-pro").map(Entry::provider);
        assert!(vertex.is_some_and(|p| p.starts_with("vertex_ai")), "{vertex:?}");
        assert!(lookup("groq", "gpt-4o").is_none(), "OpenAI's row does not price another vendor");
        assert!(lookup("openai", "claude-sonnet-4-5").is_none(), "nor Anthropic's OpenAI");
        let prefixed = lookup("gemini", "gemini/gemini-2.5-flash").map(Entry::provider);
        assert_eq!(prefixed, Some("gemini"), "a model already prefixed is looked up as it is");
        assert!(lookup("openai", "no-such-model").is_none());
    }

    #[test]
    fn provider_families_match_as_in_litellm() {
        assert!(provider_matches("bedrock_converse", "bedrock"));
        assert!(provider_matches("vertex_ai-anthropic_models", "vertex_ai"));
        assert!(provider_matches("openai", "azure_ai"));
        assert!(!provider_matches("openai", "azure"));
        assert!(!provider_matches("text-completion-openai", "openai"));
    }

    #[test]
    fn a_providers_models_are_its_ids_sorted() {
        let openai = models_of("openai");
        let ids: Vec<&str> = openai.iter().map(|(id, _)| *id).collect();
        assert!(ids.contains(&"gpt-4o") && ids.contains(&"text-embedding-3-small"), "{ids:?}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        assert!(!ids.iter().any(|id| id.starts_with("ft:")), "fine-tune price rows are not models");
        let anthropic = models_of("anthropic");
        assert!(anthropic.iter().any(|(id, _)| *id == "claude-sonnet-4-5"), "{anthropic:?}");
        assert!(anthropic.iter().all(|(id, e)| !id.starts_with("anthropic/") && e.provider() == "anthropic"));
        assert!(models_of("no-such-provider").is_empty());
    }
}
