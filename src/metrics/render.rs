//! The Prometheus text exposition of the registry: `# HELP` / `# TYPE` per family, one
//! sorted line per label set, each family with exactly LiteLLM's label names (`names`) and
//! `"None"` where the gateway has no value; and what a label set costs on the page
//! (`cost`), which each family's byte budget caps.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    BUCKETS, Class, DeploymentKey, FallbackKey, Families, Family, Histogram, ModelKey, ModelSeries, NONE, ProxyKey,
    ProxySeries, names,
};
use crate::table::{Deployment, Setting, Table};

/// The whole page; `families` is `None` if the registry's lock was poisoned.
pub(super) fn page(table: &Table, in_flight: i64, families: Option<&Families>) -> String {
    let mut out = String::with_capacity(8192);
    header(&mut out, "model_router_build_info", "gauge", "The build serving: environment, routes hash, version.");
    let (env, sha, version) = (escape(table.env), table.routes_sha256, env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "model_router_build_info{{env=\"{env}\",routes_sha256=\"{sha}\",version=\"{version}\"}} 1");
    header(&mut out, "litellm_in_flight_requests", "gauge", "Model calls being served.");
    let _ = writeln!(out, "litellm_in_flight_requests {in_flight}");
    if let Some(f) = families {
        proxy(&mut out, table, f);
        keys(&mut out, table, f);
        model(&mut out, table, f);
        deployment(&mut out, table, f);
    }
    out
}

/// Bytes a line may take beside its labels: the longest metric name with its suffix
/// (`litellm_llm_api_time_to_first_token_metric_bucket`, 50), `,le="0.00625"` (13), the
/// braces, space and newline (4), and a value of up to 29 characters.
pub(super) const LINE_BYTES: usize = 96;
/// Lines one label set renders to: proxy totals and failures; the model family's seven
/// counters and four histograms (a line per bucket, `+Inf`, sum and count); a fallback count.
pub(super) const PROXY_LINES: usize = 2;
pub(super) const MODEL_LINES: usize = 7 + 4 * (BUCKETS.len() + 3);
pub(super) const FALLBACK_LINES: usize = 1;

/// What a label set with `labels` costs in a family of `lines` lines per set.
pub(super) fn cost(lines: usize, labels: &str) -> usize {
    lines * (labels.len() + LINE_BYTES)
}

/// What one series knows of its labels; every other label LiteLLM has gets `"None"`.
#[derive(Debug, Default)]
pub(super) struct View<'a> {
    key: Option<&'a str>,
    requested: Option<&'a str>,
    route: Option<&'a str>,
    status: Option<u16>,
    class: Option<Class>,
    provider: Option<&'a str>,
    deployment: Option<&'a Deployment>,
    /// The model sent upstream.
    sent: Option<&'a str>,
    fallback: Option<&'a str>,
    /// The virtual key's alias, team and team alias.
    who: Who,
}

/// `api_key_alias`, `team` and `team_alias` of a virtual key (all `None` for the others).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Who {
    alias: Option<&'static str>,
    team: Option<&'static str>,
    team_alias: Option<&'static str>,
}

/// Who virtual key `vkey` is.
pub(super) fn who(table: &Table, vkey: Option<u16>) -> Who {
    let Some(key) = vkey.and_then(|k| table.keys.get(usize::from(k))) else { return Who::default() };
    let team = key.team.and_then(|t| table.teams.get(usize::from(t)));
    Who { alias: Some(key.alias), team: team.map(|t| t.id), team_alias: team.and_then(|t| t.alias) }
}

impl View<'_> {
    fn value(&self, name: &str) -> Cow<'_, str> {
        let d = self.deployment;
        let value: Option<Cow<'_, str>> = match name {
            "hashed_api_key" => self.key.map(Cow::Borrowed),
            "requested_model" => self.requested.map(Cow::Borrowed),
            "route" => self.route.map(Cow::Borrowed),
            "status_code" | "exception_status" => self.status.map(|s| Cow::Owned(s.to_string())),
            "exception_class" => self.class.map(|c| c.label(self.provider.or(d.map(|d| d.provider)))),
            "api_provider" => self.provider.or(d.map(|d| d.provider)).map(Cow::Borrowed),
            "model" => self.sent.map(Cow::Borrowed),
            "litellm_model_name" => match (self.sent, d) {
                (Some(sent), Some(d)) => Some(Cow::Owned(format!("{}/{sent}", d.provider))),
                (None, Some(d)) => Some(Cow::Borrowed(d.model)),
                _ => None,
            },
            "model_group" => d.map(|d| Cow::Borrowed(d.model_name)),
            "model_id" => d.map(|d| Cow::Borrowed(d.id)),
            "api_base" => d.and_then(api_base).map(Cow::Borrowed),
            "fallback_model" => self.fallback.map(Cow::Borrowed),
            "api_key_alias" => self.who.alias.map(Cow::Borrowed),
            "team" => self.who.team.map(Cow::Borrowed),
            "team_alias" => self.who.team_alias.map(Cow::Borrowed),
            _ => None,
        };
        value.unwrap_or(Cow::Borrowed(NONE))
    }
}

/// A deployment's `api_base` as the routes write it (one read from the environment at
/// start-up is not known here), else its vendor's default.
fn api_base(d: &Deployment) -> Option<&'static str> {
    match d.api_base {
        Some(Setting::Literal(base)) => Some(base),
        Some(Setting::Env(_)) => None,
        None => d.default_base,
    }
}

/// `names` (LiteLLM's, see `names`) with `view`'s values, sorted by name, escaped.
pub(super) fn labels(names: &[&str], view: &View<'_>) -> String {
    let mut names = names.to_vec();
    names.sort_unstable();
    let pairs: Vec<String> = names.iter().map(|name| format!("{name}=\"{}\"", escape(&view.value(name)))).collect();
    pairs.join(",")
}

/// Proxy-level counts: who asked for what, on which route, with which outcome.
pub(super) fn proxy_view<'a>(table: &Table, k: &'a ProxyKey) -> View<'a> {
    View {
        who: who(table, k.vkey),
        key: Some(&k.key),
        requested: Some(&k.requested),
        route: Some(k.route),
        status: Some(k.status),
        class: k.class,
        provider: Some(k.provider),
        ..View::default()
    }
}

fn proxy(out: &mut String, table: &Table, f: &Families) {
    let name = "litellm_proxy_total_requests_metric_total";
    let total = |k: &ProxyKey| labels(names::PROXY_TOTAL, &proxy_view(table, k));
    values(out, name, "counter", "Requests to the proxy's model routes.", &f.proxies, total, |_, s| Some(s.total));
    let name = "litellm_proxy_failed_requests_metric_total";
    let failed = |k: &ProxyKey| labels(names::PROXY_FAILED, &proxy_view(table, k));
    let count = |_: &ProxyKey, s: &ProxySeries| (s.failed > 0.0).then_some(s.failed);
    values(out, name, "counter", "Requests answered with an error.", &f.proxies, failed, count);
}

/// A count kept in a [`ModelSeries`].
type Field = fn(&ModelSeries) -> f64;
/// A histogram kept in a [`ModelSeries`].
type Timing = fn(&ModelSeries) -> &Histogram;

/// Per-deployment call metrics: caller, requested model, deployment, model sent.
pub(super) fn model_view<'a>(table: &'a Table, k: &'a ModelKey) -> View<'a> {
    View {
        key: Some(&k.key),
        requested: Some(&k.requested),
        sent: Some(&k.model),
        deployment: Some(table.deployment(k.deployment)),
        who: who(table, k.vkey),
        ..View::default()
    }
}

/// The remaining requests and tokens of each virtual key, per model it called.
fn keys(out: &mut String, table: &Table, f: &Families) {
    let labels = |k: &(u16, String)| {
        let alias = escape(who(table, Some(k.0)).alias.unwrap_or(NONE));
        let hash = table.keys.get(usize::from(k.0)).and_then(|key| key.hashes.first()).copied().unwrap_or(NONE);
        format!("api_key_alias=\"{alias}\",hashed_api_key=\"{hash}\",model=\"{}\"", escape(&k.1))
    };
    let families = [
        ("litellm_remaining_api_key_requests_for_model", "Requests the key has left this minute.", &f.key_requests),
        ("litellm_remaining_api_key_tokens_for_model", "Tokens the key has left this minute.", &f.key_tokens),
    ];
    for (name, help, family) in families {
        if !family.series.is_empty() {
            values(out, name, "gauge", help, family, labels, |_, v| Some(*v));
        }
    }
}

fn model(out: &mut String, table: &Table, f: &Families) {
    let counters: [(&str, &str, &[&str], Field); 7] = [
        ("litellm_requests_metric_total", "Successful model calls per deployment.", names::REQUESTS, |m| m.requests),
        ("litellm_input_tokens_metric_total", "Prompt tokens.", names::TOKENS, |m| m.input_tokens),
        ("litellm_output_tokens_metric_total", "Completion tokens.", names::TOKENS, |m| m.output_tokens),
        ("litellm_total_tokens_metric_total", "Total tokens.", names::TOKENS, |m| m.total_tokens),
        ("litellm_input_cached_tokens_metric_total", "Cached prompt tokens.", names::TOKEN_DETAILS, |m| {
            m.cached_tokens
        }),
        ("litellm_output_reasoning_tokens_metric_total", "Reasoning tokens.", names::TOKEN_DETAILS, |m| {
            m.reasoning_tokens
        }),
        ("litellm_spend_metric_total", "Spend in USD.", names::SPEND, |m| m.spend),
    ];
    for (name, help, label_names, field) in counters {
        let labels = |k: &ModelKey| labels(label_names, &model_view(table, k));
        values(out, name, "counter", help, &f.models, labels, |_, m| Some(field(m)).filter(|v| *v > 0.0));
    }
    let timings: [(&str, &str, &[&str], Timing); 4] = [
        ("litellm_request_total_latency_metric", "Whole request time, seconds.", names::TOTAL_LATENCY, |m| {
            &m.total_latency
        }),
        ("litellm_llm_api_latency_metric", "Provider time to response head, seconds.", names::API_LATENCY, |m| {
            &m.api_latency
        }),
        (
            "litellm_llm_api_time_to_first_token_metric",
            "Time to first streamed chunk, seconds.",
            names::API_LATENCY,
            |m| &m.ttft,
        ),
        ("litellm_overhead_latency_metric", "Time spent in the gateway, seconds.", names::DEPLOYMENT_CALLER, |m| {
            &m.overhead
        }),
    ];
    for (name, help, label_names, field) in timings {
        let labels = |k: &ModelKey| labels(label_names, &model_view(table, k));
        histograms(out, name, help, &f.models, labels, field);
    }
}

/// Deployment health: the deployment, and for failures and cooldowns the status and class
/// that caused them (`requested_model` is the group, as LiteLLM writes it for a deployment).
fn deployment_view<'a>(table: &'a Table, k: &DeploymentKey) -> View<'a> {
    let d = table.deployment(k.deployment);
    View {
        requested: Some(d.model_name),
        status: (k.status != 0).then_some(k.status),
        class: k.class,
        deployment: Some(d),
        ..View::default()
    }
}

fn deployment(out: &mut String, table: &Table, f: &Families) {
    let labelled =
        |label_names: &'static [&'static str]| move |k: &DeploymentKey| labels(label_names, &deployment_view(table, k));
    let families = [
        (
            "litellm_deployment_state",
            "gauge",
            "0 healthy, 1 partial outage, 2 outage.",
            names::DEPLOYMENT_STATE,
            &f.deployment_state,
        ),
        (
            "litellm_deployment_success_responses_total",
            "counter",
            "Successful calls per deployment.",
            names::DEPLOYMENT_CALLS,
            &f.deployment_success,
        ),
        (
            "litellm_deployment_failure_responses_total",
            "counter",
            "Failed calls per deployment.",
            names::DEPLOYMENT_FAILURES,
            &f.deployment_failure,
        ),
        (
            "litellm_deployment_total_requests_total",
            "counter",
            "Calls per deployment.",
            names::DEPLOYMENT_CALLS,
            &f.deployment_total,
        ),
        (
            "litellm_remaining_requests_metric",
            "gauge",
            "Provider-reported remaining requests.",
            names::DEPLOYMENT_CALLER,
            &f.remaining_requests,
        ),
        (
            "litellm_remaining_tokens_metric",
            "gauge",
            "Provider-reported remaining tokens.",
            names::DEPLOYMENT_CALLER,
            &f.remaining_tokens,
        ),
        (
            "litellm_deployment_cooled_down_total",
            "counter",
            "Times a deployment entered cooldown.",
            names::COOLED_DOWN,
            &f.cooled_down,
        ),
    ];
    for (name, kind, help, label_names, family) in families {
        values(out, name, kind, help, family, labelled(label_names), |_, v| Some(*v));
    }
    let fallbacks = [
        ("litellm_deployment_successful_fallbacks_total", "Calls a fallback group answered.", &f.fallbacks_ok),
        ("litellm_deployment_failed_fallbacks_total", "Calls whose fallbacks failed too.", &f.fallbacks_failed),
    ];
    for (name, help, family) in fallbacks {
        values(out, name, "counter", help, family, |k: &FallbackKey| fallback_labels(table, k), |_, v| Some(*v));
    }
}

/// The labels of fallback counts, as rendered.
pub(super) fn fallback_labels(table: &Table, k: &FallbackKey) -> String {
    let view = View {
        key: Some(&k.key),
        requested: Some(&k.requested),
        fallback: Some(&k.fallback),
        who: who(table, k.vkey),
        ..View::default()
    };
    labels(names::FALLBACKS, &view)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One metric of a family: a line per label set that has a `value`, sorted for a stable
/// page; series whose labels render the same (they differ in a label this metric lacks)
/// are summed into one line.
fn values<K, V>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    family: &Family<K, V>,
    labels: impl Fn(&K) -> String,
    value: impl Fn(&K, &V) -> Option<f64>,
) {
    header(out, name, kind, help);
    let mut lines: BTreeMap<String, f64> = BTreeMap::new();
    for (k, v) in &family.series {
        if let Some(v) = value(k, v) {
            *lines.entry(labels(k)).or_default() += v;
        }
    }
    for (labels, value) in lines {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// One histogram of a family, series with the same rendered labels merged.
fn histograms<K, V>(
    out: &mut String,
    name: &str,
    help: &str,
    family: &Family<K, V>,
    labels: impl Fn(&K) -> String,
    field: impl Fn(&V) -> &Histogram,
) {
    header(out, name, "histogram", help);
    let mut series: BTreeMap<String, Histogram> = BTreeMap::new();
    for (k, v) in &family.series {
        let h = field(v);
        if h.count == 0 {
            continue;
        }
        let merged = series.entry(labels(k)).or_default();
        merged.counts.resize(BUCKETS.len(), 0);
        for (total, count) in merged.counts.iter_mut().zip(&h.counts) {
            *total += count;
        }
        merged.sum += h.sum;
        merged.count += h.count;
    }
    for (labels, h) in series {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&h.counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound:?}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub(super) fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
