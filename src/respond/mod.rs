//! The answer: the provider's reply relayed (JSON with `model` set to the requested name,
//! or SSE chunk by chunk; a whole reply the gateway's translator wrote, already the
//! client's, passed on unread with the usage it counted), LiteLLM's `x-litellm-*` and
//! `llm_provider-*` headers, and every [`Error`] as one OpenAI-shaped body. An attempt's
//! relay reads only its reply and the deployment it reached, and returns what it read
//! ([`Answer`]); the headers are set once from the call's final outcome
//! ([`call_headers`]). The last stage; `gateway` logs the outcome once.

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
use crate::provider::{Reply, Source};
use crate::route::{Api, Kind};
use crate::usage::Usage;

/// Largest error body read from a provider.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// A JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response<Body> {
    raw_json(status, Bytes::from(body.to_string()))
}

/// A response whose body is already JSON text, its header map sized for a model call's
/// answer ([`headers::ANSWER_HEADERS`]): allocated once, not grown as the headers are set.
pub fn raw_json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    *response.headers_mut() = http::HeaderMap::with_capacity(headers::ANSWER_HEADERS);
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
/// the `requested` name (a translated whole reply, [`Source::Answered`], has it already);
/// `limits` are (largest body, deadline for it, longest gap between stream chunks). An
/// error body has the `credentials` the call sent cut out before it is quoted.
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
    if let Source::Answered { body, usage } = reply.body {
        // The translator wrote it as the client gets it and counted its usage.
        if body.len() > max_body {
            return Err(bad_reply(exception, &format!("larger than {max_body} bytes")));
        }
        return Ok(priced(body, usage, reached));
    }
    let body = read(reply.body, max_body, deadline, exception).await?;
    let mut out = Vec::with_capacity(body.len() + model.len());
    let usage = if let Some(issuer) = &issuer {
        let seen = format::responses::object(&body, issuer, &mut out);
        seen.ok_or_else(|| bad_reply(exception, "not a JSON object"))?.usage
    } else {
        match rewrite::model(&body, &model, false, &mut out) {
            Some(seen) => seen.usage,
            None if rewrite::reparse(&body, &model, false, &mut out) => Usage::from_json(&body),
            None => return Err(bad_reply(exception, "not a JSON object")),
        }
    };
    Ok(priced(Bytes::from(out), usage, reached))
}

/// The answer of a whole reply `body` with its `usage` (its total input plus output when
/// the provider gave none) and what that cost on the deployment `reached`, in
/// `x-litellm-response-cost`.
fn priced(body: Bytes, mut usage: Option<Usage>, reached: &Reached) -> Answer {
    if let Some(usage) = usage.as_mut().filter(|u| u.total_tokens == 0) {
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    }
    let cost = usage.as_ref().and_then(|u| crate::usage::cost(reached.deployment, &reached.upstream_model, u));
    let mut response = raw_json(StatusCode::OK, body);
    if let Some(cost) = cost {
        // The text's own buffer becomes the value: checked, not copied again.
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(cost.to_string())) {
            response.headers_mut().insert(HeaderName::from_static("x-litellm-response-cost"), value);
        }
    }
    Answer { response, usage, cost }
}

/// How a relayed Responses API reply is rewritten: ids issued for the deployment, `model`
/// the requested name on a create. A bridged reply's translator wrote it with the same ids
/// already, and it is passed on unread. `None` for other calls.
fn responses_issuer(reached: &Reached, requested: &str, request: &CallRequest) -> Option<format::responses::Issuer> {
    let op = request.op()?;
    let model = (op == crate::route::Op::Create).then(|| requested.to_owned());
    Some(format::responses::Issuer { prefix: crate::provider::responses::prefix(reached.deployment), model })
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    /// Relays `body` as deployment 0 of the compiled table's whole reply to a chat call for
    /// `asked`, up to `max_body` bytes: the bytes the client gets and what was counted.
    async fn relayed(body: Source, asked: &str, max_body: usize) -> Result<(String, Option<Usage>), Error> {
        let table = crate::table::COMPILED;
        let state = crate::state::State::local(table);
        let sent_at = Instant::now();
        let crate::state::Admission::Admitted(permit) = state.admit(0, table.deployment(0), sent_at).await else {
            panic!("the base table's deployment takes calls")
        };
        let deployment = table.deployment(0);
        let reached = Reached {
            index: 0,
            deployment,
            upstream_model: "m".into(),
            api_base: Some(HeaderValue::from_static("b")),
            sent_at,
            permit,
        };
        let request = CallRequest {
            api: Api::Chat,
            model: asked.into(),
            stream: false,
            include_usage: false,
            fields: crate::parse::Fields::default(),
            held: 0,
            responses: None,
        };
        let reply = Reply { status: StatusCode::OK, headers: http::HeaderMap::new(), body, head_at: sent_at };
        let limits = (max_body, sent_at + Duration::from_secs(5), Duration::from_secs(5));
        let answer = relay(reply, &request, (&reached, asked), limits, &[]).await?;
        let cost = answer.usage.as_ref().and_then(|u| crate::usage::cost(deployment, "m", u));
        assert_eq!(answer.cost, cost, "priced as counted");
        let bytes =
            answer.response.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
        Ok((String::from_utf8_lossy(&bytes).into_owned(), answer.usage))
    }

    #[tokio::test]
    async fn an_answered_reply_is_passed_on_unread_with_the_usage_it_came_with() {
        // What the splice would rewrite (`model`, `usage`) stays as the translator wrote it.
        let written = r#"{"model":"as-written","usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
        let usage = Usage { prompt_tokens: 7, completion_tokens: 3, ..Usage::default() };
        let body = Source::Answered { body: Bytes::from_static(written.as_bytes()), usage: Some(usage) };
        let (text, counted) = relayed(body, "asked", written.len()).await.unwrap_or_default();
        assert_eq!(text, written);
        assert_eq!(counted, Some(Usage { total_tokens: 10, ..usage }), "the total is input plus output");
        // A relayed one is rewritten and read.
        let full = || Source::Full(Some(Bytes::from_static(written.as_bytes())));
        let (text, counted) = relayed(full(), "asked", written.len()).await.unwrap_or_default();
        assert_eq!(text, r#"{"model":"asked","usage":{"prompt_tokens":1,"completion_tokens":1}}"#);
        assert_eq!(counted.map(|u| u.total_tokens), Some(2));
        // Either is held to the size bound.
        let answered = Source::Answered { body: Bytes::from_static(written.as_bytes()), usage: None };
        for body in [answered, full()] {
            let refused = relayed(body, "asked", written.len() - 1).await.map(|_| ()).unwrap_err();
            assert!(refused.to_string().contains("larger than"), "{refused}");
        }
    }
}
