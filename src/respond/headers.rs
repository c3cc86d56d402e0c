//! LiteLLM's response headers on every model call's answer: `x-litellm-*` (call id,
//! deployment, group, attempts, timings) and each provider header again as
//! `llm_provider-<name>`. Set once from the call's final outcome: by `gateway` on a model
//! call's answer, by `respond` on an error.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::call::Call;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `llm_provider-` prefix LiteLLM puts on a relayed provider header: [`known`] gives
/// the prefixed name of a header providers commonly send, built at compile time.
macro_rules! prefixed {
    ($($name:literal),* $(,)?) => {
        /// The prefixed name of a common provider header: no allocation and no check of the
        /// name at run time (the test checks every one).
        fn known(name: &str) -> Option<HeaderName> {
            match name {
                $($name => Some({
                    const PREFIXED: HeaderName = HeaderName::from_static(concat!("llm_provider-", $name));
                    PREFIXED
                }),)*
                _ => None,
            }
        }

        #[cfg(test)]
        const KNOWN: &[&str] = &[$($name),*];
    };
}

// Headers OpenAI, Azure, Anthropic and Gemini commonly send; others are prefixed at run time.
prefixed![
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

const CALL_ID: HeaderName = HeaderName::from_static("x-litellm-call-id");
const VERSION_NAME: HeaderName = HeaderName::from_static("x-litellm-version");
const VERSION_VALUE: HeaderValue = HeaderValue::from_static(VERSION);
const MODEL_GROUP: HeaderName = HeaderName::from_static("x-litellm-model-group");
const MODEL_ID: HeaderName = HeaderName::from_static("x-litellm-model-id");
const MODEL_NAME: HeaderName = HeaderName::from_static("x-litellm-model-name");
const MODEL_API_BASE: HeaderName = HeaderName::from_static("x-litellm-model-api-base");
const RETRIES: HeaderName = HeaderName::from_static("x-litellm-attempted-retries");
const FALLBACKS: HeaderName = HeaderName::from_static("x-litellm-attempted-fallbacks");
const DURATION: HeaderName = HeaderName::from_static("x-litellm-response-duration-ms");
const OVERHEAD: HeaderName = HeaderName::from_static("x-litellm-overhead-duration-ms");
const NOSNIFF_NAME: HeaderName = HeaderName::from_static("x-content-type-options");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
/// Every call's attempted retries and fallbacks (and a duration that cannot be written).
const ZERO: HeaderValue = HeaderValue::from_static("0");
/// Room for a duration in milliseconds with three decimals: the whole milliseconds of
/// `u64::MAX` microseconds (17 digits), the point and three decimals, with room to spare.
const DURATION_BYTES: usize = 24;
/// Headers a call's answer gets besides the provider's: the [`call_headers`] above, the
/// request id `gateway` adds, and the length and date hyper writes. Room for them is made
/// once, so the map is not grown (and rehashed) twice on every answer.
const OWN_HEADERS: usize = 15;
/// Room a JSON answer's header map is made with: ours and about as many as OpenAI sends.
pub const ANSWER_HEADERS: usize = 32;

/// LiteLLM's response headers: call id, deployment, group, timings, and the provider's own
/// headers prefixed `llm_provider-`.
pub fn call_headers(call: &Call, headers: &mut HeaderMap) {
    let provided = call.outcome.headers.as_ref().map_or(0, HeaderMap::len);
    headers.reserve(OWN_HEADERS + provided);
    set(headers, CALL_ID, &call.id);
    headers.insert(VERSION_NAME, VERSION_VALUE);
    if let Some(requested) = &call.requested {
        set(headers, MODEL_GROUP, requested);
    }
    let outcome = &call.outcome;
    if let Some(reached) = &outcome.reached {
        let d = reached.deployment;
        // The compiled table's id: checked, not copied.
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from_static(d.id.as_bytes())) {
            headers.insert(MODEL_ID, value);
        }
        let mut name = String::with_capacity(d.provider.len() + 1 + reached.upstream_model.len());
        name.extend([d.provider, "/", &reached.upstream_model]);
        // The name's own buffer becomes the value: no second copy.
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(name)) {
            headers.insert(MODEL_NAME, value);
        }
        if let Some(base) = &reached.api_base {
            headers.insert(MODEL_API_BASE, base.clone());
        }
    }
    headers.insert(RETRIES, count(outcome.retries));
    headers.insert(FALLBACKS, count(outcome.fallbacks));
    let total = call.started.elapsed();
    headers.insert(DURATION, millis(total));
    if let Some(api) = outcome.api_latency() {
        headers.insert(OVERHEAD, millis(total.saturating_sub(api)));
    }
    headers.insert(NOSNIFF_NAME, NOSNIFF);
    if let Some(upstream) = &outcome.headers {
        for (name, value) in upstream {
            if name == "x-request-id" {
                headers.insert(REQUEST_ID, value.clone());
            }
            if let Some(prefixed) = provider_header(name) {
                headers.append(prefixed, value.clone());
            }
        }
    }
}

/// `value` under `name`, when it is a valid header value (copied: it is borrowed).
fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// An attempt count as a header value.
fn count(n: u32) -> HeaderValue {
    match n {
        0 => ZERO,
        1 => HeaderValue::from_static("1"),
        2 => HeaderValue::from_static("2"),
        _ => HeaderValue::from(n),
    }
}

/// A duration as milliseconds with three decimals (rounded to the microsecond), written
/// on the stack from integers: no float formatting on every answer.
fn millis(duration: std::time::Duration) -> HeaderValue {
    const MICROS_PER_MILLI: u64 = 1000;
    let micros = u64::try_from(duration.as_nanos().saturating_add(500) / 1000).unwrap_or(u64::MAX);
    let (whole, frac) = (micros / MICROS_PER_MILLI, micros % MICROS_PER_MILLI);
    let digit = |n: u64| b'0' + u8::try_from(n % 10).unwrap_or(0);
    let mut digits = itoa::Buffer::new();
    let whole = digits.format(whole).as_bytes();
    let mut text = [0u8; DURATION_BYTES];
    let len = whole.len() + 4;
    text[..whole.len()].copy_from_slice(whole);
    text[whole.len()..len].copy_from_slice(&[b'.', digit(frac / 100), digit(frac / 10), digit(frac)]);
    HeaderValue::from_bytes(&text[..len]).unwrap_or(ZERO)
}

/// `llm_provider-<name>`.
fn provider_header(name: &HeaderName) -> Option<HeaderName> {
    let name = name.as_str();
    known(name).or_else(|| HeaderName::from_bytes(format!("llm_provider-{name}").as_bytes()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_milliseconds_with_three_decimals() {
        use std::time::Duration;
        let shown = |d: Duration| millis(d).to_str().map(str::to_owned).unwrap_or_default();
        assert_eq!(shown(Duration::ZERO), "0.000");
        assert_eq!(shown(Duration::from_nanos(1_499)), "0.001");
        assert_eq!(shown(Duration::from_nanos(1_500)), "0.002", "rounded to the microsecond");
        assert_eq!(shown(Duration::from_micros(12_045)), "12.045");
        assert_eq!(shown(Duration::from_secs(3_600)), "3600000.000");
        assert_eq!(shown(Duration::MAX), "18446744073709551.615", "saturated, not wrapped");
    }

    #[test]
    fn known_and_unknown_provider_headers_get_the_same_prefix() {
        for name in ["content-type", "x-ratelimit-remaining-tokens", "x-custom-vendor-thing"] {
            let prefixed = provider_header(&HeaderName::from_static(name)).map(|h| h.as_str().to_owned());
            assert_eq!(prefixed, Some(format!("llm_provider-{name}")));
        }
        for name in KNOWN {
            assert_eq!(known(name).map(|h| h.as_str().to_owned()), Some(format!("llm_provider-{name}")));
        }
    }
}
