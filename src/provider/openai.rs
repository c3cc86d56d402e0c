//! OpenAI's HTTP API, spoken to OpenAI, Azure OpenAI and every OpenAI-compatible vendor:
//! the client's body with the gateway's own fields taken out, `model` set to the
//! deployment's, the deployment's credentials and headers added; the client's members go
//! upstream as slices of its body, not copies. The response head goes back to `respond`;
//! the body streams on from there.

use std::borrow::Cow;
use std::time::Instant;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Attempt, Reply, Source};
use crate::error::Error;
use crate::gateway::Gateway;
use crate::parse::CallRequest;
use crate::table::Protocol;
use crate::upstream::Outgoing;

/// Body fields that configure the gateway (LiteLLM's), never the provider. Credentials and
/// upstream addresses among them are dropped so no client can choose where a call goes.
pub(super) const GATEWAY_FIELDS: &[&str] = &[
    "api_base",
    "api_key",
    "api_version",
    "base_url",
    "caching",
    "context_window_fallbacks",
    "custom_llm_provider",
    "extra_headers",
    "fallbacks",
    "guardrails",
    "metadata",
    "mock_response",
    "num_retries",
    "stream_timeout",
    "tags",
    "timeout",
    "user_config",
];

/// Vendors whose OpenAI-compatible API takes no `stream_options`; their streams are not
/// asked for a usage chunk.
const NO_STREAM_OPTIONS: &[&str] = &["ollama", "ollama_chat", "perplexity"];

pub(super) const GATEWAY_USER_AGENT: &str = concat!("model-router/", env!("CARGO_PKG_VERSION"));

/// Request headers never forwarded, even with `forward_client_headers_to_llm_api`.
pub(super) fn forwardable(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("x-") && !name.starts_with("x-litellm") && name != "x-api-key" && !name.starts_with("x-forwarded")
}

/// Sends the call upstream and returns the response head.
pub async fn forward(
    gateway: &Gateway,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let d = attempt.deployment;
    let request = &*chat;
    let url = url(attempt, request);
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(&url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, GATEWAY_USER_AGENT)
        .header(ACCEPT, if request.stream { "text/event-stream" } else { "application/json" });
    let headers = builder.headers_mut().ok_or_else(|| misconfigured(attempt, format!("invalid URL {url}")))?;
    if gateway.table.general.forward_client_headers {
        for (name, value) in client_headers.iter().filter(|(n, _)| forwardable(n)) {
            headers.append(name, value.clone());
        }
    }
    if let Some(key) = &attempt.endpoint.key {
        let (name, value) = match d.protocol {
            Protocol::Azure => (HeaderName::from_static("api-key"), key.clone()),
            _ => (AUTHORIZATION, format!("Bearer {key}")),
        };
        headers.insert(name, header_value(attempt, &value)?);
    }
    if let Some(traceparent) = &attempt.traceparent {
        headers.insert(HeaderName::from_static("traceparent"), header_value(attempt, traceparent)?);
    }
    if let Some(org) = &attempt.endpoint.organization {
        headers.insert(HeaderName::from_static("openai-organization"), header_value(attempt, org)?);
    }
    for (name, value) in d.extra_headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| misconfigured(attempt, e.to_string()))?;
        headers.insert(name, header_value(attempt, value)?);
    }
    let body = body(attempt, chat)?;
    let upstream_request = builder.body(body).map_err(|e| misconfigured(attempt, e.to_string()))?;
    let response = gateway.client.send(upstream_request, attempt.deadline, super::exception(d)).await?;
    let head_at = Instant::now();
    let (parts, incoming) = response.into_parts();
    Ok(Reply { status: parts.status, headers: parts.headers, body: Source::Upstream(incoming), head_at })
}

/// `{base}/chat/completions`, or Azure's `{base}/openai/deployments/{model}/chat/completions?api-version=`.
fn url(attempt: &Attempt<'_>, request: &CallRequest) -> String {
    let path = request.api.route();
    let base = &attempt.endpoint.base;
    match attempt.deployment.protocol {
        Protocol::Azure => format!(
            "{base}/openai/deployments/{}{path}?api-version={}",
            attempt.upstream_model,
            attempt.endpoint.api_version.as_deref().unwrap_or_default()
        ),
        _ => format!("{base}{path}"),
    }
}

/// The client's fields minus the gateway's, the deployment's defaults where the client set
/// none, and the upstream model. Copying a client's fields copies handles on its body.
fn body(attempt: &Attempt<'_>, chat: Cow<'_, CallRequest>) -> Result<Outgoing, Error> {
    let (include_usage, mut fields) = match chat {
        Cow::Borrowed(request) => (request.include_usage, request.fields.clone()),
        Cow::Owned(request) => (request.include_usage, request.fields),
    };
    for field in GATEWAY_FIELDS {
        fields.remove(field);
    }
    for (name, json) in attempt.deployment.default_params {
        if !fields.contains(name) {
            let raw = RawValue::from_string((*json).to_owned()).map_err(|e| misconfigured(attempt, e.to_string()))?;
            fields.insert(name, raw);
        }
    }
    if attempt.stream_usage && !include_usage && !NO_STREAM_OPTIONS.contains(&attempt.deployment.provider) {
        let options = fields.value("stream_options");
        let mut options = if let Some(Value::Object(options)) = options { options } else { serde_json::Map::new() };
        options.insert("include_usage".into(), Value::Bool(true));
        let raw = serde_json::value::to_raw_value(&options).map_err(|e| misconfigured(attempt, e.to_string()))?;
        fields.insert("stream_options", raw);
    }
    let model = serde_json::to_string(attempt.upstream_model).map_err(|e| misconfigured(attempt, e.to_string()))?;
    let model = RawValue::from_string(model).map_err(|e| misconfigured(attempt, e.to_string()))?;
    fields.insert("model", model);
    Ok(Outgoing::object(fields))
}

pub(super) fn header_value(attempt: &Attempt<'_>, value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value)
        .map_err(|_| misconfigured(attempt, "a credential or header holds characters HTTP headers cannot carry".into()))
}

pub(super) fn misconfigured(attempt: &Attempt<'_>, reason: String) -> Error {
    Error::Misconfigured { deployment: attempt.deployment.model_name, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_x_headers_are_forwardable() {
        assert!(forwardable(&HeaderName::from_static("x-request-id")));
        assert!(!forwardable(&HeaderName::from_static("x-api-key")));
        assert!(!forwardable(&HeaderName::from_static("x-litellm-api-key")));
        assert!(!forwardable(&HeaderName::from_static("authorization")));
    }
}
