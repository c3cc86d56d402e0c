//! One attempt of a model call, the closure `retry` drives: [`pick`] a deployment of the
//! target, call its [`provider`], relay the reply ([`respond::relay`]). It returns its
//! answer or error with what it came to ([`Attempted`]: the deployment reached, the
//! provider's head, the usage) rather than writing them anywhere; a failure charged to the
//! deployment feeds its metrics and cooldown here.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http::{HeaderMap, Response};

use crate::call::{Attempted, Head, Reached};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::parse::CallRequest;
use crate::pick::{self, Pool};
use crate::provider::{self, Attempt};
use crate::resolve::Target;
use crate::respond::{self, Body};
use crate::table::Deployment;
use crate::trace;

/// What an attempt reads besides the request.
pub struct Context<'a> {
    /// The deployments to pick from, their endpoints and state.
    pub pool: Pool<'a>,
    /// The client, budget and settings providers read.
    pub provider: &'a provider::Context,
    /// Where failed attempts and cooldowns are counted.
    pub metrics: &'a Metrics,
    /// Whether the request's trace context travels upstream (tracing is on).
    pub tracing: bool,
}

/// One attempt on `target`; the request's place in its `trace` goes upstream with it.
pub async fn once(
    cx: &Context<'_>,
    target: &Target,
    (request, headers): (&CallRequest, &HeaderMap),
    trace: &trace::Context,
) -> (Result<Response<Body>, Error>, Attempted) {
    let mut attempted = Attempted::default();
    let result = run(cx, target, (request, headers), trace, &mut attempted).await;
    if let (Err(error), Some(reached)) = (&result, &attempted.reached) {
        failed(cx, target, error, reached.index);
    }
    (result, attempted)
}

async fn run(
    cx: &Context<'_>,
    target: &Target,
    (request, headers): (&CallRequest, &HeaderMap),
    trace: &trace::Context,
    attempted: &mut Attempted,
) -> Result<Response<Body>, Error> {
    let pinned = request.responses.as_ref().and_then(|r| r.pinned);
    let choice = pick::pick(cx.pool, target, &request.model, pinned).await?;
    let endpoint = cx.pool.endpoints.get(choice.index)?;
    let (timeout, idle) = timeouts(&cx.pool.table.router, choice.deployment, request.stream);
    let now = Instant::now();
    let reached = attempted.reached.insert(Reached {
        index: choice.index,
        deployment: choice.deployment,
        upstream_model: choice.upstream_model,
        api_base: cx.pool.endpoints.shown_base(choice.index),
        sent_at: now,
        permit: choice.permit,
    });
    let attempt = Attempt {
        deployment: reached.deployment,
        endpoint,
        upstream_model: &reached.upstream_model,
        deadline: now + timeout,
        stream_usage: request.stream,
        traceparent: cx.tracing.then(|| trace.upstream_traceparent()),
        token: OnceLock::new(),
    };
    let mut reply = provider::call(cx.provider, &attempt, request, headers).await?;
    attempted.head = Some(Head { at: reply.head_at, headers: std::mem::take(&mut reply.headers) });
    let limits = (cx.provider.max_upstream_bytes, now + timeout, idle);
    let answer = respond::relay(reply, request, (reached, &request.model), limits, &attempt.credentials()).await?;
    (attempted.usage, attempted.cost) = (answer.usage, answer.cost);
    Ok(answer.response)
}

/// A failed attempt on deployment `index`: counted, and perhaps the start of its cooldown.
fn failed(cx: &Context<'_>, target: &Target, error: &Error, index: u16) {
    // A name the URL had no room for is the client's fault, not the deployment's.
    if matches!(error, Error::UnsendableModel { .. }) {
        return;
    }
    let table = cx.pool.table;
    cx.metrics.attempt_failed(index, error.status().as_u16(), error.metric_class());
    let group_size = match target {
        Target::Group { group, .. } => table.group(*group).deployments.len(),
        Target::Deployment(_) => 1,
    };
    let rules = &table.resilience;
    if error.retryable() && cx.pool.state.failed(index, error.upstream_status(), group_size, rules, Instant::now()) {
        cx.metrics.cooled_down(index, error.status().as_u16());
        tracing::warn!(
            deployment = table.deployment(index).id,
            cooldown_ms = rules.cooldown_ms,
            "deployment cooling down"
        );
    }
}

/// (time allowed for the answer, or for a stream's head; longest gap between chunks).
pub fn timeouts(router: &crate::table::Router, d: &Deployment, stream: bool) -> (Duration, Duration) {
    let total = Duration::from_millis(d.timeout_ms.or(router.timeout_ms).unwrap_or(router.request_timeout_ms));
    let stream_timeout = d.stream_timeout_ms.or(router.stream_timeout_ms).map(Duration::from_millis);
    let head = if stream { stream_timeout.unwrap_or(total) } else { total };
    (head, stream_timeout.unwrap_or(total))
}
