//! A Responses API request relayed to a deployment whose provider speaks the API (OpenAI,
//! Azure, the vendors marked so): the client's body with only `model` (and a decoded
//! `previous_response_id`) changed and the gateway's own fields out, or no body for the
//! operations on a response; its path and the query parameters the API defines. Azure takes
//! `/openai/v1/responses` when its `api_version` is `v1`, `latest` or `preview`, else the
//! deployment path with `?api-version=`. The reply goes back to `respond` untouched.

use std::borrow::Cow;
use std::time::Instant;

use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, Method};
use serde_json::value::RawValue;

use super::super::openai::{AZURE_MODEL_ROOM, misconfigured};
use super::super::url::Url;
use super::super::{Attempt, Reply, Source, head};
use crate::error::Error;
use crate::parse::{CallRequest, Responses};
use crate::provider::Context;
use crate::provider::openai::GATEWAY_FIELDS;
use crate::route::Op;
use crate::table::Protocol;
use crate::upstream::Outgoing;

/// Query parameters of the operations on a response, passed on re-encoded; others (the
/// gateway's `model`) are not.
const QUERY: &[&str] =
    &["after", "before", "include", "include[]", "include_obfuscation", "limit", "order", "starting_after", "stream"];

/// Deployment defaults (`litellm_params`) that are Responses API parameters too; chat's
/// others (`max_tokens`, `stop`, ...) the API refuses, so they are not sent.
const DEFAULTS: &[&str] = &["temperature", "top_p"];

/// Azure `api_version`s that mean its v1 API, where the model travels in the body.
const AZURE_V1: &[&str] = &["v1", "latest", "preview"];

/// Sends the request upstream and returns the response head.
pub async fn forward(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let d = attempt.deployment;
    let parts = request.responses.as_deref().ok_or_else(|| misconfigured(attempt, "not a Responses call".into()))?;
    let url = url(attempt, request, parts)?;
    let key = attempt.endpoint.key.as_deref().map(|key| match d.protocol {
        Protocol::Azure => (HeaderName::from_static("api-key"), Cow::Borrowed(key)),
        _ => (AUTHORIZATION, Cow::Owned(format!("Bearer {key}"))),
    });
    let mut auth: Vec<(HeaderName, &str)> = key.iter().map(|(name, value)| (name.clone(), value.as_ref())).collect();
    if let Some(org) = &attempt.endpoint.organization {
        auth.push((HeaderName::from_static("openai-organization"), org));
    }
    let (method, body) = match parts.op {
        Op::Create | Op::InputTokens => (Method::POST, body(attempt, request)?),
        Op::Cancel => (Method::POST, Outgoing::default()),
        Op::Retrieve | Op::InputItems => (Method::GET, Outgoing::default()),
        Op::Delete => (Method::DELETE, Outgoing::default()),
    };
    let bodyless = body.is_empty();
    let mut upstream = head::request(cx, attempt, url, request.stream, client_headers, &auth, body)?;
    *upstream.method_mut() = method;
    if bodyless {
        upstream.headers_mut().remove(CONTENT_TYPE);
        if parts.op == Op::Cancel {
            upstream.headers_mut().insert(CONTENT_LENGTH, http::HeaderValue::from(0));
        }
    }
    let response = cx.client.send(upstream, attempt.deadline, super::super::exception(d)).await?;
    let head_at = Instant::now();
    let (head, incoming) = response.into_parts();
    Ok(Reply { status: head.status, headers: head.headers, body: Source::Upstream(incoming), head_at })
}

/// `{base}/responses[/{id}[/input_items|/cancel]]` (`/responses/input_tokens`), for Azure
/// under `/openai/v1` or its deployment path; the id one percent-encoded segment.
fn url(attempt: &Attempt<'_>, request: &CallRequest, parts: &Responses) -> Result<Url, Error> {
    let base = Url::new(&attempt.endpoint.base);
    let version = attempt.endpoint.api_version.as_deref().unwrap_or_default();
    let refused = |why| super::super::unsendable(attempt.deployment, &request.model, why);
    let mut url = match attempt.deployment.protocol {
        Protocol::Azure if AZURE_V1.contains(&version) => base.path("/openai/v1/responses"),
        Protocol::Azure => base
            .path("/openai/deployments/")
            .segment(attempt.upstream_model, AZURE_MODEL_ROOM)
            .map_err(refused)?
            .path("/responses"),
        _ => base.path("/responses"),
    };
    url = match (parts.op, parts.id.as_deref()) {
        (Op::Create, _) => url,
        (Op::InputTokens, _) => url.path("/input_tokens"),
        (op, id) => {
            let id = id.unwrap_or_default();
            let url = url.path("/").segment(id, super::super::url::Room::Name).map_err(|why| Error::BadParam {
                route: op.route(),
                param: "response_id",
                reason: format!("the id {}", why.0),
            })?;
            match op {
                Op::InputItems => url.path("/input_items"),
                Op::Cancel => url.path("/cancel"),
                _ => url,
            }
        }
    };
    // Azure's v1 API takes no version but `preview`; its deployment path needs one.
    if attempt.deployment.protocol == Protocol::Azure && (version == "preview" || !AZURE_V1.contains(&version)) {
        url = url.query("api-version", version);
    }
    for (name, value) in parts.query.as_deref().unwrap_or_default().split('&').filter_map(|pair| pair.split_once('=')) {
        if let Some(known) = QUERY.iter().find(|known| **known == name) {
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            url = url.query(known, &value);
        }
    }
    Ok(url)
}

/// The client's members minus the gateway's, the deployment's defaults where the client
/// set none, and the upstream model. Copying them copies handles on the client's body.
fn body(attempt: &Attempt<'_>, request: &CallRequest) -> Result<Outgoing, Error> {
    let mut fields = request.fields.clone();
    // Chat's list of gateway-only fields, but `metadata` stays: it is a Responses parameter.
    for field in GATEWAY_FIELDS.iter().filter(|f| **f != "metadata") {
        fields.remove(field);
    }
    for (name, json) in attempt.deployment.default_params {
        if DEFAULTS.contains(name) && !fields.contains(name) {
            let raw = RawValue::from_string((*json).to_owned()).map_err(|e| misconfigured(attempt, e.to_string()))?;
            fields.insert(name, raw);
        }
    }
    let model =
        serde_json::value::to_raw_value(attempt.upstream_model).map_err(|e| misconfigured(attempt, e.to_string()))?;
    fields.insert("model", model);
    Ok(Outgoing::object(fields))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::parse::responses;
    use crate::provider::Endpoint;

    fn url_for(protocol: Protocol, version: Option<&str>, op: Op, query: Option<&str>) -> String {
        let mut d = crate::table::test_deployment();
        d.protocol = protocol;
        let d: &'static crate::table::Deployment = Box::leak(Box::new(d));
        let endpoint = Endpoint {
            base: "https://host/base".into(),
            key: None,
            api_version: version.map(str::to_owned),
            organization: None,
            google: None,
            aws: None,
        };
        let attempt = Attempt {
            deployment: d,
            endpoint: &endpoint,
            upstream_model: "my-deployment",
            deadline: Instant::now(),
            stream_usage: false,
            traceparent: None,
            token: OnceLock::new(),
        };
        let body = bytes::Bytes::from_static(br#"{"model":"m"}"#);
        let id = (!op.has_body()).then(|| "resp_1".to_owned());
        let request = responses(op, id, query, &body).unwrap_or_else(|e| panic!("{e}"));
        let parts = request.responses.as_deref().unwrap_or_else(|| panic!("a Responses call"));
        url(&attempt, &request, parts).map_or_else(|e| panic!("{e}"), Url::into_string)
    }

    #[test]
    fn openai_paths_carry_the_id_and_the_apis_query_only() {
        assert_eq!(url_for(Protocol::OpenAi, None, Op::Create, None), "https://host/base/responses");
        assert_eq!(url_for(Protocol::OpenAi, None, Op::InputTokens, None), "https://host/base/responses/input_tokens");
        assert_eq!(
            url_for(Protocol::OpenAi, None, Op::Retrieve, Some("stream=true&starting_after=3&model=g&evil=1")),
            "https://host/base/responses/resp_1?stream=true&starting_after=3"
        );
        assert_eq!(
            url_for(Protocol::OpenAi, None, Op::InputItems, None),
            "https://host/base/responses/resp_1/input_items"
        );
        assert_eq!(url_for(Protocol::OpenAi, None, Op::Cancel, None), "https://host/base/responses/resp_1/cancel");
    }

    #[test]
    fn azure_takes_its_v1_api_or_the_deployment_path() {
        assert_eq!(url_for(Protocol::Azure, Some("v1"), Op::Create, None), "https://host/base/openai/v1/responses");
        assert_eq!(
            url_for(Protocol::Azure, Some("preview"), Op::Retrieve, None),
            "https://host/base/openai/v1/responses/resp_1?api-version=preview"
        );
        assert_eq!(
            url_for(Protocol::Azure, Some("2025-04-01-preview"), Op::Create, None),
            "https://host/base/openai/deployments/my-deployment/responses?api-version=2025-04-01-preview"
        );
    }
}
