//! The upstream request's head, for every provider: the [`Url`] built from typed parts, the
//! gateway's content headers, the deployment's credentials, the trace context, the
//! deployment's `extra_headers` and, with `forward_client_headers_to_llm_api`, the client's
//! headers that may travel ([`forward_client_headers`]): never one the caller's key can be
//! in, never a hop-by-hop one. The request goes on to `upstream`.

use http::header::{ACCEPT, CONNECTION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};

use super::Attempt;
use super::openai::misconfigured;
use super::url::Url;
use crate::error::Error;
use crate::provider::Context;
use crate::upstream::Outgoing;

pub const GATEWAY_USER_AGENT: &str = concat!("model-router/", env!("CARGO_PKG_VERSION"));

/// The gateway's content headers are static values: not copied on every call.
const JSON: HeaderValue = HeaderValue::from_static("application/json");
/// `content-type`, `user-agent` and `accept`.
const CONTENT_HEADERS: usize = 3;
/// Headers `auth` reads the caller's key from, besides `litellm_key_header_name`.
const KEY_HEADERS: &[&str] = &["authorization", "x-api-key", "api-key", "x-litellm-api-key"];
/// Hop-by-hop headers (RFC 9110 section 7.6.1) and those framing the client's own request;
/// `proxy-*` ones too.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length"];

/// The upstream request: JSON `body` POSTed to `url` with the deployment's credentials and
/// provider headers in `auth`, the trace context, the deployment's `extra_headers` and, when
/// the config asks for it, the client's forwardable headers.
pub fn request(
    cx: &Context,
    attempt: &Attempt<'_>,
    url: Url,
    stream: bool,
    client_headers: &HeaderMap,
    auth: &[(HeaderName, &str)],
    body: Outgoing,
) -> Result<Request<Outgoing>, Error> {
    let uri = Uri::try_from(url.into_string())
        .map_err(|_| misconfigured(attempt, "the upstream URL is not a valid URL; check api_base".into()))?;
    // Built in place: `http`'s builder moves the whole request through each of its steps.
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    let traceparent = usize::from(attempt.traceparent.is_some());
    // And the `host` hyper-util's client adds.
    headers.reserve(CONTENT_HEADERS + auth.len() + traceparent + attempt.deployment.extra_headers.len() + 1);
    headers.insert(CONTENT_TYPE, JSON);
    headers.insert(USER_AGENT, HeaderValue::from_static(GATEWAY_USER_AGENT));
    headers.insert(ACCEPT, if stream { HeaderValue::from_static("text/event-stream") } else { JSON });
    if cx.forward_client_headers {
        forward_client_headers(client_headers, cx.key_header, headers);
    }
    for (name, value) in auth {
        headers.insert(name.clone(), header_value(attempt, value)?);
    }
    if let Some(traceparent) = &attempt.traceparent {
        headers.insert(HeaderName::from_static("traceparent"), header_value(attempt, traceparent)?);
    }
    for (name, value) in attempt.deployment.extra_headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| misconfigured(attempt, e.to_string()))?;
        headers.insert(name, header_value(attempt, value)?);
    }
    Ok(request)
}

/// Appends to `out` the client's headers that may reach a provider: `x-` ones, except the
/// gateway's own (`x-litellm-*`), `x-forwarded-*`, every header the caller's key is read
/// from (`key_header` being `litellm_key_header_name`), hop-by-hop headers and those the
/// client's `Connection` header names.
pub fn forward_client_headers(client: &HeaderMap, key_header: Option<&str>, out: &mut HeaderMap) {
    let named: Vec<&str> = client
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for (name, value) in client {
        if forwardable(name.as_str(), key_header, &named) {
            out.append(name, value.clone());
        }
    }
}

/// Whether header `name` (lower case) may be forwarded; `connection` lists the names the
/// client's `Connection` header gives.
fn forwardable(name: &str, key_header: Option<&str>, connection: &[&str]) -> bool {
    let never = KEY_HEADERS.contains(&name)
        || key_header.is_some_and(|k| k.eq_ignore_ascii_case(name))
        || HOP_BY_HOP.contains(&name)
        || name.starts_with("proxy-")
        || connection.iter().any(|c| c.eq_ignore_ascii_case(name));
    !never && name.starts_with("x-") && !name.starts_with("x-litellm") && !name.starts_with("x-forwarded")
}

pub fn header_value(attempt: &Attempt<'_>, value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value)
        .map_err(|_| misconfigured(attempt, "a credential or header holds characters HTTP headers cannot carry".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(pairs: &[(&'static str, &'static str)], key_header: Option<&str>) -> Vec<String> {
        let client: HeaderMap =
            pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect();
        let mut out = HeaderMap::new();
        forward_client_headers(&client, key_header, &mut out);
        out.keys().map(|k| k.as_str().to_owned()).collect()
    }

    #[test]
    fn only_plain_x_headers_are_forwarded() {
        let got = forwarded(
            &[
                ("x-request-id", "1"),
                ("x-api-key", "k"),
                ("x-litellm-api-key", "k"),
                ("authorization", "Bearer k"),
                ("api-key", "k"),
                ("x-forwarded-for", "1.2.3.4"),
                ("anthropic-beta", "b"),
            ],
            None,
        );
        assert_eq!(got, ["x-request-id"]);
    }

    #[test]
    fn the_configured_key_header_and_hop_by_hop_headers_stay() {
        let got = forwarded(
            &[
                ("x-team-key", "k"),
                ("connection", "keep-alive, X-Hop"),
                ("x-hop", "1"),
                ("x-proxy", "kept"),
                ("proxy-authorization", "Basic x"),
                ("te", "trailers"),
                ("x-keep", "1"),
            ],
            Some("x-team-key"),
        );
        assert_eq!(got, ["x-proxy", "x-keep"]);
    }
}
