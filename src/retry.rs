//! The attempts of one model call: `num_retries` more tries on retryable failures (each
//! picking again, after `retry_after` or the provider's `retry-after`), then the group's
//! fallbacks (`fallbacks`, `default_fallbacks`, or the context-window and content-policy
//! kinds for those 400s), at most `max_fallbacks`. Each attempt is `pick` → `provider` →
//! `respond`; failures feed the cooldowns. A wildcard capture no deployment URL has room for
//! is refused first, before any attempt. A stream is never retried once it has begun.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http::{HeaderMap, Response};

use crate::error::Error;
use crate::gateway::{Call, Gateway};
use crate::parse::CallRequest;
use crate::pick;
use crate::provider::{self, Attempt};
use crate::resolve::Target;
use crate::respond::{self, Body};
use crate::table::Table;

/// Most retries a client may ask for with `x-litellm-num-retries`.
const MAX_RETRIES: u32 = 10;
/// Longest a provider's `retry-after` may hold a client between attempts; a provider
/// asking for more gets its error relayed at once (with `llm_provider-retry-after`), so the
/// client decides whether to wait.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Serves a resolved call, retrying and falling back as configured.
pub async fn call(
    gateway: &Gateway,
    target: Target,
    request: &CallRequest,
    headers: &HeaderMap,
    call: &mut Call,
) -> Result<Response<Body>, Error> {
    let table = gateway.table;
    provider::check_captures(table, &target, &request.model)?;
    let retries = headers
        .get("x-litellm-num-retries")
        .and_then(|v| v.to_str().ok()?.trim().parse::<u32>().ok())
        .map_or(table.router.num_retries, |n| n.min(MAX_RETRIES));
    let group = group_of(table, &target);
    let mut error = match attempts(gateway, &target, request, headers, call, retries).await {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    let plan = fallbacks(table, group, &error);
    let most = usize::try_from(table.resilience.max_fallbacks).unwrap_or(usize::MAX);
    for fallback in plan.into_iter().take(most) {
        call.fallbacks += 1;
        call.fallback_group = Some(table.group(fallback).name);
        let target = Target::Group { group: fallback, captures: None };
        match attempts(gateway, &target, request, headers, call, retries).await {
            Ok(response) => return Ok(response),
            Err(next) => error = next,
        }
        if !error.falls_back() {
            break;
        }
    }
    Err(error)
}

/// The first try and up to `retries` more within one target.
async fn attempts(
    gateway: &Gateway,
    target: &Target,
    request: &CallRequest,
    headers: &HeaderMap,
    call: &mut Call,
    retries: u32,
) -> Result<Response<Body>, Error> {
    let mut tried = 0;
    loop {
        call.deployment_index = None;
        call.upstream_headers = None;
        let error = match once(gateway, target, request, headers, call).await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        // A name the URL had no room for is the client's fault, not the deployment's.
        let charged = !matches!(error, Error::UnsendableModel { .. });
        if let Some(index) = call.deployment_index.filter(|_| charged) {
            gateway.metrics.attempt_failed(index, error.status().as_u16());
            let group_size = match target {
                Target::Group { group, .. } => gateway.table.group(*group).deployments.len(),
                Target::Deployment(_) => 1,
            };
            let rules = &gateway.table.resilience;
            if error.retryable()
                && gateway.state.failed(index, error.upstream_status(), group_size, rules, Instant::now())
            {
                gateway.metrics.cooled_down(index);
                tracing::warn!(
                    deployment = gateway.table.deployment(index).id,
                    cooldown_ms = rules.cooldown_ms,
                    "deployment cooling down"
                );
            }
        }
        let pause = wait(gateway, call);
        let Some(pause) = pause.filter(|_| error.retryable() && tried < retries) else { return Err(error) };
        tried += 1;
        call.retries += 1;
        tokio::time::sleep(pause).await;
    }
}

/// One attempt: pick a deployment, call its provider, relay the answer.
async fn once(
    gateway: &Gateway,
    target: &Target,
    request: &CallRequest,
    headers: &HeaderMap,
    call: &mut Call,
) -> Result<Response<Body>, Error> {
    let pinned = request.responses.as_ref().and_then(|r| r.pinned);
    let choice = pick::pick(gateway, target, &request.model, pinned).await?;
    let endpoint = gateway.endpoint(choice.index)?;
    call.permit = Some(choice.permit);
    call.deployment = Some(choice.deployment);
    call.deployment_index = Some(choice.index);
    call.upstream_model = Some(choice.upstream_model.clone());
    call.api_base = Some(provider::url::shown(&endpoint.base).into_owned());
    let (timeout, idle) = gateway.timeouts(choice.deployment, request.stream);
    let now = Instant::now();
    let attempt = Attempt {
        deployment: choice.deployment,
        endpoint,
        upstream_model: &choice.upstream_model,
        deadline: now + timeout,
        stream_usage: request.stream,
        traceparent: gateway.tracer.enabled().then(|| call.trace.upstream_traceparent()),
        token: OnceLock::new(),
    };
    call.sent_at = Some(now);
    let reply = provider::call(gateway, &attempt, request, headers).await?;
    let limits = (gateway.settings.max_upstream_bytes, now + timeout, idle);
    respond::relay(call, reply, request, limits, &attempt.credentials()).await
}

/// Time before the next attempt: `retry_after`, or the provider's `retry-after` if longer;
/// `None` when the provider asks for more than [`MAX_RETRY_WAIT`].
fn wait(gateway: &Gateway, call: &Call) -> Option<Duration> {
    let configured = Duration::from_millis(gateway.table.resilience.retry_after_ms);
    let asked = call
        .upstream_headers
        .as_ref()
        .and_then(|h| h.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::ZERO, Duration::from_secs_f64);
    (asked <= MAX_RETRY_WAIT).then_some(configured.max(asked))
}

/// The group a target belongs to, for its fallbacks.
fn group_of(table: &Table, target: &Target) -> Option<u16> {
    match target {
        Target::Group { group, .. } => Some(*group),
        Target::Deployment(d) => table.names.get(table.deployment(*d).model_name).copied(),
    }
}

/// The groups to try after `group` failed with `error`.
fn fallbacks(table: &Table, group: Option<u16>, error: &Error) -> Vec<u16> {
    let rules = &table.resilience;
    let lookup =
        |list: &[(u16, &[u16])]| group.and_then(|g| list.iter().find(|(k, _)| *k == g)).map(|(_, t)| t.to_vec());
    if error.context_window() {
        return lookup(rules.context_window_fallbacks).unwrap_or_default();
    }
    if error.content_policy() {
        return lookup(rules.content_policy_fallbacks).unwrap_or_default();
    }
    if !error.falls_back() {
        return Vec::new();
    }
    lookup(rules.fallbacks)
        .unwrap_or_else(|| rules.default_fallbacks.iter().copied().filter(|g| Some(*g) != group).collect())
}
