//! Provider prefixes as data: which wire protocol each speaks, where it lives by default
//! and which environment variables LiteLLM reads for it. Adding an OpenAI-compatible
//! vendor is one row here, no code.

/// The wire protocols the gateway implements; each is one variant of the runtime's
/// `Protocol` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The built-in fake provider: answers in process, no network.
    Fake,
    /// OpenAI's HTTP API: `{base}/chat/completions` with `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: `{base}/openai/deployments/{model}/...?api-version=` with `api-key`.
    Azure,
    /// Anthropic Messages: `{base}/v1/messages` with `x-api-key`, translated from OpenAI chat.
    Anthropic,
    /// Google AI Studio: `{base}/models/{model}:generateContent` with `x-goog-api-key`,
    /// translated from OpenAI chat.
    Gemini,
    /// Vertex AI Gemini: the `Gemini` body on
    /// `{host}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
    /// with a service-account OAuth2 access token.
    Vertex,
}

impl Protocol {
    /// The variant's name in `src/table.rs`.
    pub fn rust_name(self) -> &'static str {
        match self {
            Protocol::Fake => "Fake",
            Protocol::OpenAi => "OpenAi",
            Protocol::Azure => "Azure",
            Protocol::Anthropic => "Anthropic",
            Protocol::Gemini => "Gemini",
            Protocol::Vertex => "Vertex",
        }
    }
}

/// One provider prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendor {
    pub prefix: &'static str,
    pub protocol: Protocol,
    /// Base URL when neither the deployment nor `base_env` gives one; `None`: required.
    pub default_base: Option<&'static str>,
    /// Variable read for the base URL when the deployment has no `api_base`.
    pub base_env: Option<&'static str>,
    /// Path appended to the base URL before the endpoint (ollama serves OpenAI under `/v1`).
    pub base_suffix: &'static str,
    /// Variable read for the key when the deployment has no `api_key`.
    pub key_env: Option<&'static str>,
}

const fn openai_like(
    prefix: &'static str,
    default_base: Option<&'static str>,
    base_env: &'static str,
    key_env: &'static str,
) -> Vendor {
    Vendor {
        prefix,
        protocol: Protocol::OpenAi,
        default_base,
        base_env: Some(base_env),
        base_suffix: "",
        key_env: Some(key_env),
    }
}

/// Every prefix the gateway serves, sorted by name.
pub const VENDORS: &[Vendor] = &[
    Vendor {
        prefix: "anthropic",
        protocol: Protocol::Anthropic,
        default_base: Some("https://api.anthropic.com"),
        base_env: Some("ANTHROPIC_API_BASE"),
        base_suffix: "",
        key_env: Some("ANTHROPIC_API_KEY"),
    },
    Vendor {
        prefix: "azure",
        protocol: Protocol::Azure,
        default_base: None,
        base_env: Some("AZURE_API_BASE"),
        base_suffix: "",
        key_env: Some("AZURE_API_KEY"),
    },
    openai_like("deepseek", Some("https://api.deepseek.com/v1"), "DEEPSEEK_API_BASE", "DEEPSEEK_API_KEY"),
    Vendor {
        prefix: "fake",
        protocol: Protocol::Fake,
        default_base: Some("fake://model-router"),
        base_env: None,
        base_suffix: "",
        key_env: None,
    },
    openai_like(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        "FIREWORKS_AI_API_BASE",
        "FIREWORKS_AI_API_KEY",
    ),
    Vendor {
        prefix: "gemini",
        protocol: Protocol::Gemini,
        default_base: Some("https://generativelanguage.googleapis.com/v1beta"),
        base_env: Some("GEMINI_API_BASE"),
        base_suffix: "",
        key_env: Some("GEMINI_API_KEY"),
    },
    openai_like("groq", Some("https://api.groq.com/openai/v1"), "GROQ_API_BASE", "GROQ_API_KEY"),
    openai_like("hosted_vllm", None, "HOSTED_VLLM_API_BASE", "HOSTED_VLLM_API_KEY"),
    openai_like("litellm_proxy", None, "LITELLM_PROXY_API_BASE", "LITELLM_PROXY_API_KEY"),
    openai_like("mistral", Some("https://api.mistral.ai/v1"), "MISTRAL_API_BASE", "MISTRAL_API_KEY"),
    Vendor {
        base_suffix: "/v1",
        ..openai_like("ollama", Some("http://localhost:11434"), "OLLAMA_API_BASE", "OLLAMA_API_KEY")
    },
    Vendor {
        base_suffix: "/v1",
        ..openai_like("ollama_chat", Some("http://localhost:11434"), "OLLAMA_API_BASE", "OLLAMA_API_KEY")
    },
    openai_like("openai", Some("https://api.openai.com/v1"), "OPENAI_API_BASE", "OPENAI_API_KEY"),
    openai_like("openrouter", Some("https://openrouter.ai/api/v1"), "OPENROUTER_API_BASE", "OPENROUTER_API_KEY"),
    openai_like("perplexity", Some("https://api.perplexity.ai"), "PERPLEXITY_API_BASE", "PERPLEXITYAI_API_KEY"),
    openai_like("together_ai", Some("https://api.together.xyz/v1"), "TOGETHER_AI_API_BASE", "TOGETHERAI_API_KEY"),
    // The host follows `vertex_location` and the credential is a service account, so
    // neither a default base nor a key variable applies (`provider::vertex` resolves both).
    Vendor {
        prefix: "vertex_ai",
        protocol: Protocol::Vertex,
        default_base: None,
        base_env: None,
        base_suffix: "",
        key_env: None,
    },
    openai_like("xai", Some("https://api.x.ai/v1"), "XAI_API_BASE", "XAI_API_KEY"),
];

/// Prefixes whose API serves OpenAI's Responses API (`/responses`), so a Responses call is
/// relayed to them as it is; every other provider gets it bridged through chat. A
/// deployment says otherwise with `model_info.supported_endpoints`.
pub const RESPONSES_API: &[&str] = &["azure", "groq", "litellm_proxy", "openai", "xai"];

/// Prefixes LiteLLM knows that this gateway does not serve yet, with what to use instead.
pub const UNSUPPORTED: &[(&str, &str)] = &[("bedrock", "AWS Bedrock is not supported")];

/// The vendor a prefix names.
pub fn find(prefix: &str) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| v.prefix == prefix)
}

/// Model names LiteLLM routes to OpenAI without a prefix (`gpt-4o`, `o3-mini`, ...).
pub fn implied_openai(model: &str) -> bool {
    const OPENAI_FAMILIES: &[&str] = &["gpt-", "chatgpt-", "o1", "o3", "o4", "text-embedding-", "davinci", "babbage"];
    OPENAI_FAMILIES.iter().any(|f| model.starts_with(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors_are_sorted_and_unique() {
        let names: Vec<_> = VENDORS.iter().map(|v| v.prefix).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn responses_vendors_are_known_and_speak_openai() {
        for prefix in RESPONSES_API {
            let vendor = find(prefix).unwrap_or_else(|| panic!("{prefix} is a vendor"));
            assert!(matches!(vendor.protocol, Protocol::OpenAi | Protocol::Azure), "{prefix}");
        }
    }

    #[test]
    fn openai_families_need_no_prefix() {
        assert!(implied_openai("gpt-4o-mini"));
        assert!(implied_openai("o3-mini"));
        assert!(!implied_openai("llama-3"));
    }
}
