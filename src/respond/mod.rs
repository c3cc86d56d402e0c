//! The answer: the provider's reply relayed (JSON with `model` set to the requested name,
//! or SSE chunk by chunk), LiteLLM's `x-litellm-*` and `llm_provider-*` headers, and every
//! [`Error`] as one OpenAI-shaped body. An attempt's relay reads only its reply and the
//! deployment it reached, and returns what it read ([`Answer`]); the headers are set once
//! from the call's final outcome ([`call_headers`]). The last stage; `gateway` logs the
//! outcome once.

mod body;
pub mod format;
mod headers;
mod redact;
mod rewrite;
pub mod stream;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::Value;

pub use body::Body;
pub use headers::call_headers;
use stream::Format;

use crate::call::{Call, Reached};
use crate::error::Error;
use crate::framing::{bad_reply, read};
use crate::parse::CallRequest;
use crate::provider::Reply;
use crate::route::{Api, Kind};
use crate::usage::Usage;

/// Largest error body read from a provider.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// A JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response<Body> {
    raw_json(status, Bytes::from(body.to_string()))
}

/// A response whose body is already JSON text.
pub fn raw_json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// FastAPI's `{"detail": ...}` body, which LiteLLM answers unknown paths and methods with.
pub fn detail(status: StatusCode, text: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "detail": text }))
}

/// The error response for `error`, with the call's headers: OpenAI-shaped, or
/// Anthropic-shaped on `/v1/messages`.
pub fn error(error: &Error, call: &Call) -> Response<Body> {
    let body = if call.route == Some(Kind::Messages) { error.anthropic_body() } else { error.body() };
    let mut response = json(error.status(), &body);
    call_headers(call, response.headers_mut());
    if let Some(wait_s) = error.retry_after() {
        response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(wait_s));
    }
    if let Error::KeyLimited(hit) = error {
        for (name, value) in hit.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(HeaderName::from_static(name), value);
            }
        }
    }
    response
}

/// A relayed reply: the response (its call headers still to be set) and, for a whole
/// reply, its usage and cost.
pub struct Answer {
    pub response: Response<Body>,
    pub usage: Option<Usage>,
    pub cost: Option<f64>,
}

/// Relays a provider's reply from the deployment `reached` to the client, `model` set to
/// the `requested` name; `limits` are (largest body, deadline for it, longest gap between
/// stream chunks). An error body has the `credentials` the call sent cut out before it is
/// quoted.
pub async fn relay(
    reply: Reply,
    request: &CallRequest,
    (reached, requested): (&Reached, &str),
    limits: (usize, Instant, Duration),
    credentials: &[&str],
) -> Result<Answer, Error> {
    let (max_body, deadline, idle) = limits;
    let d = reached.deployment;
    let exception = crate::provider::exception(d);
    if !reply.status.is_success() {
        let body = read(reply.body, MAX_ERROR_BODY, deadline, exception).await.unwrap_or_default();
        let body = redact::credentials(body, credentials);
        if request.api == Api::Responses && d.responses_api {
            return Err(Error::relayed(reply.status, exception, &body));
        }
        return Err(Error::upstream(reply.status, exception, &body));
    }
    let model = requested.to_owned();
    let issuer = responses_issuer(reached, requested, request);
    if request.stream {
        let mut body = reply.body;
        // A bridged Responses stream is written with the client's ids by its translator and
        // passed on unread (`Relay::new`); this format rewrites a relayed one's.
        let format = match (request.api, issuer) {
            (_, Some(issuer)) => Format::Responses(Box::new(format::responses::Events::new(issuer))),
            (Api::Messages, _) => Format::Messages(format::messages::Messages::new(model)),
            _ => {
                let price = Some((d, reached.upstream_model.clone()));
                let chunks = format::chunks::Chunks::new(model, request.include_usage, price);
                body = chunks.fuse(body);
                Format::Chunks(chunks)
            }
        };
        let relay = stream::Relay::new(body, format, idle);
        let mut response = Response::new(Body::stream(relay));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
        return Ok(Answer { response, usage: None, cost: None });
    }
    let body = read(reply.body, max_body, deadline, exception).await?;
    let mut out = Vec::with_capacity(body.len() + model.len());
    let mut usage = if let Some(issuer) = &issuer {
        let seen = format::responses::object(&body, issuer, &mut out);
        seen.ok_or_else(|| bad_reply(exception, "not a JSON object"))?.usage
    } else {
        match rewrite::model(&body, &model, false, &mut out) {
            Some(seen) => seen.usage,
            None if rewrite::reparse(&body, &model, false, &mut out) => Usage::from_json(&body),
            None => return Err(bad_reply(exception, "not a JSON object")),
        }
    };
    if let Some(usage) = usage.as_mut().filter(|u| u.total_tokens == 0) {
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    }
    let cost = usage.as_ref().and_then(|u| crate::usage::cost(d, &reached.upstream_model, u));
    let mut response = raw_json(StatusCode::OK, Bytes::from(out));
    if let Some(cost) = cost {
        if let Ok(value) = HeaderValue::from_str(&cost.to_string()) {
            response.headers_mut().insert(HeaderName::from_static("x-litellm-response-cost"), value);
        }
    }
    Ok(Answer { response, usage, cost })
}

/// How a Responses API reply is rewritten: ids issued for the deployment, `model` the
/// requested name on a create. A bridged reply is rewritten as a relayed one, so its id
/// names its deployment too. `None` for other calls.
fn responses_issuer(reached: &Reached, requested: &str, request: &CallRequest) -> Option<format::responses::Issuer> {
    let op = request.op()?;
    let model = (op == crate::route::Op::Create).then(|| requested.to_owned());
    Some(format::responses::Issuer { prefix: crate::provider::responses::prefix(reached.deployment), model })
}
