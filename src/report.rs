//! What a finished request leaves behind, entered in the [`Books`] (metrics, tracer, the
//! state's statistics, the keys' spend): one structured log line (request id, model,
//! deployment, status, latency, time to first token, tokens, cost, error) and, for model
//! calls, its metrics and trace spans, all read from the [`Call`] and its final outcome.
//! Called once per request by `gateway`, or through the [`Finisher`] the stream relay
//! holds when a stream ends. The last step of a request.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::Method;
use serde_json::json;

use crate::call::Call;
use crate::error::Error;
use crate::keys::Keys;
use crate::metrics::{Metrics, Record};
use crate::route::Kind;
use crate::state::State;
use crate::table::Table;
use crate::trace::{Span, Tracer};
use crate::usage::Usage;

/// Where finished requests are entered; built once at start-up and shared with the streams
/// still running. `pick` reads the state's statistics and `auth` the keys from here too.
pub struct Books {
    pub table: &'static Table,
    pub metrics: Metrics,
    pub tracer: Tracer,
    /// Limits, cooldowns and routing statistics (shared through Redis when one is configured).
    pub state: State,
    /// The virtual keys, their limits and spend.
    pub keys: Keys,
}

/// What reports a streamed request once its stream is over: the one handle the stream relay
/// tells its end through.
pub struct Finisher {
    pub books: Arc<Books>,
    pub call: Call,
    pub method: Method,
    pub path: String,
    pub status: u16,
}

impl Finisher {
    /// The stream is over: its usage, when its first bytes went out, and how it failed, if
    /// it did. Reports the request.
    pub fn stream_ended(self, usage: Option<Usage>, first_at: Option<Instant>, failure: Option<&str>) {
        let Finisher { books, mut call, method, path, status } = self;
        let outcome = &mut call.outcome;
        outcome.usage = usage;
        outcome.cost = outcome.price();
        outcome.ttft = first_at.map(|at| at.saturating_duration_since(call.started));
        finish(&books, &call, &method, &path, status, None, failure);
    }
}

/// What a finished request's log line says, and how loud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Answered as asked (info).
    Served,
    /// The client's own mistake: bad key, bad JSON, unknown model (info).
    Refused,
    /// A 5xx, a stream cut short, or a refusal by a provider or the gateway itself (a relayed
    /// 429, a timeout, every deployment cooling down): the operator's business (warn).
    Failed,
}

fn verdict(status: u16, error: Option<&Error>, failure: Option<&str>) -> Verdict {
    let source = error.map(Error::source_kind);
    if status >= 500 || failure.is_some() || source.is_some_and(|s| s != "client") {
        Verdict::Failed
    } else if error.is_some() {
        Verdict::Refused
    } else {
        Verdict::Served
    }
}

/// Logs and counts a finished request. `failure` is a stream's mid-stream error.
pub fn finish(
    books: &Books,
    call: &Call,
    method: &Method,
    path: &str,
    status: u16,
    error: Option<&Error>,
    failure: Option<&str>,
) {
    let outcome = &call.outcome;
    let reached = outcome.reached.as_ref();
    let latency_ms = call.started.elapsed().as_secs_f64() * 1000.0;
    let ttft_ms = outcome.ttft.map(|t| t.as_secs_f64() * 1000.0);
    let usage = outcome.usage.unwrap_or_default();
    let (prompt_tokens, completion_tokens, total_tokens) =
        (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens);
    let deployment = reached.map(|r| r.deployment.id);
    let group = reached.map(|r| r.deployment.model_name);
    let model = call.requested.as_deref();
    let (request_id, call_id) = (call.request_id.as_str(), call.id.as_str());
    let problem = error.map(ToString::to_string).or_else(|| failure.map(str::to_owned));
    let source = error.map(Error::source_kind);
    let (cost, retries, fallbacks) = (outcome.cost, outcome.retries, outcome.fallbacks);
    let verdict = verdict(status, error, failure);
    if verdict == Verdict::Failed {
        tracing::warn!(request_id, call_id, %method, path, status, model, group, deployment, latency_ms, ttft_ms, prompt_tokens, completion_tokens, total_tokens, cost, retries, fallbacks, source, error = problem, "request failed");
    } else if verdict == Verdict::Refused {
        tracing::info!(request_id, call_id, %method, path, status, model, group, deployment, latency_ms, source, error = problem, "request refused");
    } else {
        tracing::info!(request_id, call_id, %method, path, status, model, group, deployment, latency_ms, ttft_ms, prompt_tokens, completion_tokens, total_tokens, cost, retries, fallbacks, "request served");
    }
    let Some(route) = call.route else { return };
    if books.tracer.enabled() {
        spans(&books.tracer, call, route, (method, path), status, problem.as_deref());
    }
    let charged = outcome.charged();
    if let Some(r) = charged {
        let tokens = outcome.usage.map(|u| u.total_tokens);
        books.state.finished(r.index, r.deployment, tokens, outcome.api_latency(), Instant::now());
    }
    if let Some(key) = call.key {
        books.keys.finished(key, outcome.cost, outcome.usage.map(|u| u.total_tokens));
    }
    let record = Record {
        route: route.as_str(),
        status,
        requested: model.unwrap_or("None"),
        key: &call.key_label,
        vkey: call.key,
        vkey_remaining: call.key.map_or((None, None), |k| {
            let usage = books.keys.usage(k);
            let own = usage.first().copied().unwrap_or_default();
            (own.remaining_requests(), own.remaining_tokens())
        }),
        deployment: charged.map(|r| (r.index, r.upstream_model.as_str())),
        total: call.started.elapsed(),
        api: outcome.api_latency(),
        ttft: outcome.ttft,
        usage: outcome.usage,
        cost: outcome.cost,
        remaining: (outcome.provider_remaining.requests, outcome.provider_remaining.tokens),
        fallback: outcome.fallback_group,
        error: error.map(Error::metric_class),
    };
    books.metrics.record(books.table, &record);
}

/// The request's server span and its upstream attempt's client span.
fn spans(
    tracer: &Tracer,
    call: &Call,
    route: Kind,
    (method, path): (&Method, &str),
    status: u16,
    problem: Option<&str>,
) {
    let operation = match route {
        Kind::Completions => "text_completion",
        Kind::Embeddings => "embeddings",
        Kind::Responses
        | Kind::ResponsesInputTokens
        | Kind::Response
        | Kind::ResponseInputItems
        | Kind::ResponseCancel => "responses",
        _ => "chat",
    };
    let wall = |at: Instant| call.trace.started + at.saturating_duration_since(call.started);
    let end = wall(Instant::now());
    let error = problem.map(str::to_owned);
    tracer.record(server_span(call, operation, method, path, status, end, error.clone()));
    let Some(reached) = &call.outcome.reached else { return };
    let (d, model) = (reached.deployment, reached.upstream_model.as_str());
    let attributes = vec![
        ("gen_ai.operation.name", json!(operation)),
        ("gen_ai.request.model", json!(model)),
        ("gen_ai.provider.name", json!(d.provider)),
        ("model_router.deployment_id", json!(d.id)),
        ("http.response.status_code", json!(status)),
        ("server.address", json!(reached.api_base.as_ref().and_then(|v| v.to_str().ok()))),
    ];
    tracer.record(Span {
        name: format!("{operation} {model}"),
        trace_id: call.trace.trace_id,
        span_id: call.trace.attempt_id,
        parent: Some(call.trace.span_id),
        server: false,
        start: wall(reached.sent_at),
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
    let reached = call.outcome.reached.as_ref();
    let provider = reached.map_or("None", |r| r.deployment.provider);
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
    if let Some(reached) = reached {
        attributes.push(("gen_ai.response.model", json!(reached.upstream_model)));
    }
    if let Some(usage) = call.outcome.usage {
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
            assert_eq!(verdict(error.status().as_u16(), Some(error), None), Verdict::Failed, "{error}");
        }
        assert_eq!(verdict(401, Some(&Error::NoKey), None), Verdict::Refused);
        assert_eq!(verdict(400, Some(&Error::BadJson("x".into())), None), Verdict::Refused);
        assert_eq!(verdict(200, None, Some("reset mid-stream")), Verdict::Failed);
        assert_eq!(verdict(200, None, None), Verdict::Served);
    }
}
