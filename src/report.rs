//! What a finished request leaves behind: one structured log line (request id, model,
//! deployment, status, latency, time to first token, tokens, cost, error) and, for model
//! calls, its metrics and trace spans. Called once per request by `gateway`, or by the stream relay when a
//! stream ends.

use std::time::{Instant, SystemTime};

use http::Method;
use serde_json::json;

use crate::error::Error;
use crate::gateway::{Call, Gateway};
use crate::metrics::Record;
use crate::trace::Span;

/// What a finished request's log line says, and how loud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Answered as asked (info).
    Served,
    /// The client's own mistake: bad key, bad JSON, unknown model (info).
    Refused,
    /// A 5xx, a stream cut short, or a refusal by a provider or the gateway itself (a relayed
    /// 429, a timeout, every deployment cooling down): the operator's business (warn).
    Failed,
}

fn outcome(status: u16, error: Option<&Error>, failure: Option<&str>) -> Outcome {
    let source = error.map(Error::source_kind);
    if status >= 500 || failure.is_some() || source.is_some_and(|s| s != "client") {
        Outcome::Failed
    } else if error.is_some() {
        Outcome::Refused
    } else {
        Outcome::Served
    }
}

/// Logs and counts a finished request. `failure` is a stream's mid-stream error.
pub fn finish(
    gateway: &Gateway,
    call: &Call,
    method: &Method,
    path: &str,
    status: u16,
    error: Option<&Error>,
    failure: Option<&str>,
) {
    let latency_ms = call.started.elapsed().as_secs_f64() * 1000.0;
    let ttft_ms = call.ttft.map(|t| t.as_secs_f64() * 1000.0);
    let usage = call.usage.unwrap_or_default();
    let (prompt_tokens, completion_tokens, total_tokens) =
        (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens);
    let deployment = call.deployment.map(|d| d.id);
    let group = call.deployment.map(|d| d.model_name);
    let model = call.requested.as_deref();
    let (request_id, call_id) = (call.request_id.as_str(), call.id.as_str());
    let problem = error.map(ToString::to_string).or_else(|| failure.map(str::to_owned));
    let source = error.map(Error::source_kind);
    let outcome = outcome(status, error, failure);
    if outcome == Outcome::Failed {
        tracing::warn!(request_id, call_id, %method, path, status, model, group, deployment, latency_ms, ttft_ms, prompt_tokens, completion_tokens, total_tokens, cost = call.cost, retries = call.retries, fallbacks = call.fallbacks, source, error = problem, "request failed");
    } else if outcome == Outcome::Refused {
        tracing::info!(request_id, call_id, %method, path, status, model, group, deployment, latency_ms, source, error = problem, "request refused");
    } else {
        tracing::info!(request_id, call_id, %method, path, status, model, group, deployment, latency_ms, ttft_ms, prompt_tokens, completion_tokens, total_tokens, cost = call.cost, retries = call.retries, fallbacks = call.fallbacks, "request served");
    }
    if call.model_call && gateway.tracer.enabled() {
        spans(gateway, call, method, path, status, problem.as_deref());
    }
    if let (Some(i), Some(d)) = (call.deployment_index, call.deployment) {
        let latency = call.sent_at.zip(call.head_at).map(|(sent, head)| head.saturating_duration_since(sent));
        gateway.state.finished(i, d, call.usage.map(|u| u.total_tokens), latency, Instant::now());
    }
    if let Some(key) = call.key.filter(|_| call.model_call) {
        gateway.keys.finished(key, call.cost, call.usage.map(|u| u.total_tokens));
    }
    if call.model_call {
        let remaining =
            |name: &str| call.upstream_headers.as_ref()?.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
        let record = Record {
            route: call.route,
            status,
            requested: model.unwrap_or("None"),
            key: &call.key_label,
            vkey: call.key,
            vkey_remaining: call.key.map_or((None, None), |k| {
                let usage = gateway.keys.usage(k);
                let own = usage.first().copied().unwrap_or_default();
                (own.remaining_requests(), own.remaining_tokens())
            }),
            deployment: call.deployment_index.zip(call.upstream_model.as_deref()),
            total: call.started.elapsed(),
            api: call.sent_at.zip(call.head_at).map(|(sent, head)| head.saturating_duration_since(sent)),
            ttft: call.ttft,
            usage: call.usage,
            cost: call.cost,
            remaining: (remaining("x-ratelimit-remaining-requests"), remaining("x-ratelimit-remaining-tokens")),
            fallback: call.fallback_group,
            error: error.map(Error::metric_class),
        };
        gateway.metrics.record(gateway.table, &record);
    }
}

/// The request's server span and its upstream attempt's client span.
fn spans(gateway: &Gateway, call: &Call, method: &Method, path: &str, status: u16, problem: Option<&str>) {
    let operation = match call.route {
        "/completions" => "text_completion",
        "/embeddings" => "embeddings",
        route if route.starts_with(crate::route::Api::Responses.route()) => "responses",
        _ => "chat",
    };
    let wall = |at: Instant| call.trace.started + at.saturating_duration_since(call.started);
    let end = wall(Instant::now());
    let error = problem.map(str::to_owned);
    gateway.tracer.record(server_span(call, operation, method, path, status, end, error.clone()));
    let (Some(sent), Some(d)) = (call.sent_at, call.deployment) else { return };
    let model = call.upstream_model.as_deref().unwrap_or(d.upstream_model);
    let mut attributes = vec![
        ("gen_ai.operation.name", json!(operation)),
        ("gen_ai.request.model", json!(model)),
        ("gen_ai.provider.name", json!(d.provider)),
        ("model_router.deployment_id", json!(d.id)),
        ("http.response.status_code", json!(status)),
    ];
    if let Some(base) = &call.api_base {
        attributes.push(("server.address", json!(base)));
    }
    gateway.tracer.record(Span {
        name: format!("{operation} {model}"),
        trace_id: call.trace.trace_id,
        span_id: call.trace.attempt_id,
        parent: Some(call.trace.span_id),
        server: false,
        start: wall(sent),
        end,
        attributes,
        error,
    });
}

/// The request's own span, with the GenAI attributes the client's side knows.
fn server_span(
    call: &Call,
    operation: &str,
    method: &Method,
    path: &str,
    status: u16,
    end: SystemTime,
    error: Option<String>,
) -> Span {
    let requested = call.requested.as_deref().unwrap_or("unknown");
    let provider = call.deployment.map_or("None", |d| d.provider);
    let mut attributes = vec![
        ("gen_ai.operation.name", json!(operation)),
        ("gen_ai.request.model", json!(requested)),
        ("gen_ai.provider.name", json!(provider)),
        ("gen_ai.system", json!(provider)),
        ("http.request.method", json!(method.as_str())),
        ("url.path", json!(path)),
        ("http.response.status_code", json!(status)),
        ("model_router.request_id", json!(call.request_id)),
    ];
    if let Some(model) = &call.upstream_model {
        attributes.push(("gen_ai.response.model", json!(model)));
    }
    if let Some(usage) = call.usage {
        attributes.push(("gen_ai.usage.input_tokens", json!(usage.prompt_tokens)));
        attributes.push(("gen_ai.usage.output_tokens", json!(usage.completion_tokens)));
    }
    Span {
        name: format!("{operation} {requested}"),
        trace_id: call.trace.trace_id,
        span_id: call.trace.span_id,
        parent: call.trace.parent,
        server: true,
        start: call.trace.started,
        end,
        attributes,
        error,
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    #[test]
    fn provider_and_gateway_refusals_are_failures_and_client_mistakes_are_not() {
        let throttled = Error::upstream(StatusCode::TOO_MANY_REQUESTS, "OpenAIException", b"{}");
        let slow = Error::Timeout { timeout_s: 5.0, elapsed_s: 5.0 };
        let cooling = Error::AllCoolingDown { model: "m".into(), wait_s: 5, ids: Vec::new() };
        for error in [&throttled, &slow, &cooling] {
            assert_eq!(outcome(error.status().as_u16(), Some(error), None), Outcome::Failed, "{error}");
        }
        assert_eq!(outcome(401, Some(&Error::NoKey), None), Outcome::Refused);
        assert_eq!(outcome(400, Some(&Error::BadJson("x".into())), None), Outcome::Refused);
        assert_eq!(outcome(200, None, Some("reset mid-stream")), Outcome::Failed);
        assert_eq!(outcome(200, None, None), Outcome::Served);
    }
}
