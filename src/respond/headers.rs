//! LiteLLM's response headers on every model call's answer: `x-litellm-*` (call id,
//! deployment, group, attempts, timings) and each provider header again as
//! `llm_provider-<name>`. Set once from the call's final outcome: by `gateway` on a model
//! call's answer, by `respond` on an error.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::call::Call;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `llm_provider-` prefix LiteLLM puts on a relayed provider header.
macro_rules! prefixed {
    ($($name:literal),* $(,)?) => { &[$(($name, concat!("llm_provider-", $name))),*] };
}

/// Headers OpenAI, Azure, Anthropic and Gemini commonly send, with their prefixed names
/// spelled out at compile time: relaying them needs no allocation (`from_static` only
/// checks the name; the test checks every one). Others are prefixed at run time.
const KNOWN: &[(&str, &str)] = prefixed![
    "access-control-expose-headers",
    "alt-svc",
    "anthropic-organization-id",
    "anthropic-ratelimit-input-tokens-limit",
    "anthropic-ratelimit-input-tokens-remaining",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-output-tokens-limit",
    "anthropic-ratelimit-output-tokens-remaining",
    "anthropic-ratelimit-output-tokens-reset",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-tokens-reset",
    "apim-request-id",
    "azureml-model-session",
    "cf-cache-status",
    "cf-ray",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "openai-organization",
    "openai-processing-ms",
    "openai-project",
    "openai-version",
    "request-id",
    "retry-after",
    "server",
    "server-timing",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "vary",
    "via",
    "x-content-type-options",
    "x-envoy-upstream-service-time",
    "x-frame-options",
    "x-ms-region",
    "x-ms-rai-invoked",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "x-request-id",
    "x-xss-protection",
];

/// LiteLLM's response headers: call id, deployment, group, timings, and the provider's own
/// headers prefixed `llm_provider-`.
pub fn call_headers(call: &Call, headers: &mut HeaderMap) {
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-litellm-call-id", &call.id);
    set("x-litellm-version", VERSION);
    if let Some(requested) = &call.requested {
        set("x-litellm-model-group", requested);
    }
    let outcome = &call.outcome;
    if let Some(reached) = &outcome.reached {
        let d = reached.deployment;
        set("x-litellm-model-id", d.id);
        set("x-litellm-model-name", &format!("{}/{}", d.provider, reached.upstream_model));
        set("x-litellm-model-api-base", &reached.api_base);
    }
    set("x-litellm-attempted-retries", &outcome.retries.to_string());
    set("x-litellm-attempted-fallbacks", &outcome.fallbacks.to_string());
    let total = call.started.elapsed();
    set("x-litellm-response-duration-ms", &format!("{:.3}", total.as_secs_f64() * 1000.0));
    if let Some(api) = outcome.api_latency() {
        let overhead = total.saturating_sub(api);
        set("x-litellm-overhead-duration-ms", &format!("{:.3}", overhead.as_secs_f64() * 1000.0));
    }
    set("x-content-type-options", "nosniff");
    if let Some(upstream) = &outcome.headers {
        for (name, value) in upstream {
            if name == "x-request-id" {
                headers.insert(HeaderName::from_static("request-id"), value.clone());
            }
            if let Some(prefixed) = provider_header(name) {
                headers.append(prefixed, value.clone());
            }
        }
    }
}

/// `llm_provider-<name>`.
fn provider_header(name: &HeaderName) -> Option<HeaderName> {
    let name = name.as_str();
    match KNOWN.iter().find(|(known, _)| *known == name) {
        Some((_, prefixed)) => Some(HeaderName::from_static(prefixed)),
        None => HeaderName::from_bytes(format!("llm_provider-{name}").as_bytes()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_provider_headers_get_the_same_prefix() {
        for name in ["content-type", "x-ratelimit-remaining-tokens", "x-custom-vendor-thing"] {
            let prefixed = provider_header(&HeaderName::from_static(name)).map(|h| h.as_str().to_owned());
            assert_eq!(prefixed, Some(format!("llm_provider-{name}")));
        }
        for (name, prefixed) in KNOWN {
            assert_eq!(HeaderName::from_static(prefixed).as_str(), format!("llm_provider-{name}"));
        }
    }
}
