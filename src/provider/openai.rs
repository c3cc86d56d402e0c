//! OpenAI's HTTP API, spoken to OpenAI, Azure OpenAI and every OpenAI-compatible vendor:
//! the client's body with the gateway's own fields taken out, `model` set to the
//! deployment's (for Azure also one segment of the URL), the deployment's credentials and
//! headers added (`head`); the client's members go upstream as slices of its body, not
//! copies. The response head goes back to `respond`; the body streams on from there.

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName};
use serde_json::Value;

use super::url::{Room, Url};
use super::{Attempt, Reply, Source, head};
use crate::error::Error;
use crate::parse::{CallRequest, Fields, Member};
use crate::provider::Context;
use crate::table::Protocol;
use crate::upstream::Outgoing;

/// Declares [`GATEWAY_FIELDS`] and [`is_gateway_field`] from one list: the check is a
/// `match` (lengths, then bytes), not a search over the list for every member.
macro_rules! gateway_fields {
    ($($name:literal),* $(,)?) => {
        /// Body fields that configure the gateway (LiteLLM's), never the provider. Credentials
        /// and upstream addresses among them are dropped so no client can choose where a
        /// call goes. Sorted, to be read.
        pub(super) const GATEWAY_FIELDS: &[&str] = &[$($name),*];

        /// Whether `name` is one of [`GATEWAY_FIELDS`].
        fn is_gateway_field(name: &str) -> bool {
            matches!(name, $($name)|*)
        }
    };
}

gateway_fields![
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

/// The URL segment an Azure deployment name fills.
pub const AZURE_MODEL_ROOM: Room = Room::Name;

/// Sends the call upstream and returns the response head.
pub async fn forward(
    cx: &Context,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let d = attempt.deployment;
    let request = &*chat;
    let url = url(attempt, request)?;
    let key = attempt.endpoint.key.as_deref().map(|key| match d.protocol {
        Protocol::Azure => (HeaderName::from_static("api-key"), Cow::Borrowed(key)),
        _ => (AUTHORIZATION, Cow::Owned(format!("Bearer {key}"))),
    });
    let mut auth: Vec<(HeaderName, &str)> = key.iter().map(|(name, value)| (name.clone(), value.as_ref())).collect();
    if let Some(org) = &attempt.endpoint.organization {
        auth.push((HeaderName::from_static("openai-organization"), org));
    }
    let stream = request.stream;
    let body = body(attempt, chat)?;
    let upstream = head::request(cx, attempt, url, stream, client_headers, &auth, body)?;
    let response = cx.client.send(upstream, attempt.deadline, super::exception(d)).await?;
    let head_at = Instant::now();
    let (parts, incoming) = response.into_parts();
    Ok(Reply { status: parts.status, headers: parts.headers, body: Source::Upstream(incoming), head_at })
}

/// `{base}/chat/completions`, or Azure's
/// `{base}/openai/deployments/{model}/chat/completions?api-version=`, the deployment one
/// percent-encoded segment.
fn url(attempt: &Attempt<'_>, request: &CallRequest) -> Result<Url, Error> {
    let path = request.api.route();
    let base = Url::new(&attempt.endpoint.base);
    if attempt.deployment.protocol != Protocol::Azure {
        return Ok(base.path(path));
    }
    let version = attempt.endpoint.api_version.as_deref().unwrap_or_default();
    let url = base
        .path("/openai/deployments/")
        .segment(attempt.upstream_model, AZURE_MODEL_ROOM)
        .map_err(|why| super::unsendable(attempt.deployment, &request.model, why))?;
    Ok(url.path(path).query("api-version", version))
}

/// The client's members as a provider gets them: the gateway's own fields out, the
/// deployment's default parameters in where the client set none (JSON text the build
/// wrote, sent as it is).
pub fn upstream_fields(attempt: &Attempt<'_>, fields: &mut Fields) {
    fields.retain(|name| !is_gateway_field(name));
    for (name, json) in attempt.deployment.default_params {
        if !fields.contains(name) {
            fields.insert_member(name, Member::Raw(Bytes::from_static(json.as_bytes())));
        }
    }
}

/// The client's fields minus the gateway's, the deployment's defaults where the client set
/// none, and the upstream model. Copying a client's fields copies handles on its body.
fn body(attempt: &Attempt<'_>, chat: Cow<'_, CallRequest>) -> Result<Outgoing, Error> {
    let (include_usage, mut fields) = match chat {
        Cow::Borrowed(request) => (request.include_usage, request.fields.clone()),
        Cow::Owned(request) => (request.include_usage, request.fields),
    };
    upstream_fields(attempt, &mut fields);
    if attempt.stream_usage && !include_usage && !NO_STREAM_OPTIONS.contains(&attempt.deployment.provider) {
        let options = fields.value("stream_options");
        let mut options = if let Some(Value::Object(options)) = options { options } else { serde_json::Map::new() };
        options.insert("include_usage".into(), Value::Bool(true));
        fields.insert_member("stream_options", Member::Tree(Value::Object(options)));
    }
    let model =
        serde_json::value::to_raw_value(attempt.upstream_model).map_err(|e| misconfigured(attempt, e.to_string()))?;
    fields.insert("model", model);
    Ok(Outgoing::object(fields))
}

pub(super) fn misconfigured(attempt: &Attempt<'_>, reason: String) -> Error {
    Error::Misconfigured { deployment: attempt.deployment.model_name, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_fields_are_sorted_and_each_is_matched() {
        assert!(GATEWAY_FIELDS.windows(2).all(|pair| pair[0] < pair[1]), "{GATEWAY_FIELDS:?}");
        assert!(GATEWAY_FIELDS.iter().all(|name| is_gateway_field(name)));
        for client in ["model", "messages", "stream", "api", "user", "zz"] {
            assert!(!is_gateway_field(client), "{client}");
        }
    }
}
