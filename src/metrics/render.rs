//! The Prometheus text exposition of the registry: `# HELP` / `# TYPE` per family, one
//! sorted line per label set, LiteLLM's label names with `"None"` where it has no value;
//! and what a label set costs on the page (`cost`), which each family's byte budget caps.

use std::fmt::Write as _;

use super::{
    BUCKETS, DeploymentKey, FallbackKey, Families, Family, Histogram, ModelKey, ModelSeries, NONE, ProxyKey,
    ProxySeries,
};
use crate::table::Table;

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

/// The labels of proxy-level counts, as rendered.
pub(super) fn proxy_labels(table: &Table, k: &ProxyKey) -> String {
    let (key, requested, route, status, provider) =
        (escape(&k.key), escape(&k.requested), k.route, k.status, k.provider);
    let (alias, team, team_alias) = who(table, k.vkey);
    format!(
        "api_key_alias=\"{alias}\",api_provider=\"{provider}\",end_user=\"{NONE}\",hashed_api_key=\"{key}\",requested_model=\"{requested}\",route=\"{route}\",status_code=\"{status}\",team=\"{team}\",team_alias=\"{team_alias}\",user=\"{NONE}\""
    )
}

/// `api_key_alias`, `team` and `team_alias` of a virtual key (`"None"` for the others).
pub(super) fn who(table: &Table, vkey: Option<u16>) -> (String, String, String) {
    let Some(key) = vkey.and_then(|k| table.keys.get(usize::from(k))) else {
        return (NONE.to_owned(), NONE.to_owned(), NONE.to_owned());
    };
    let team = key.team.and_then(|t| table.teams.get(usize::from(t)));
    (
        escape(key.alias),
        team.map_or_else(|| NONE.to_owned(), |t| escape(t.id)),
        team.and_then(|t| t.alias).map_or_else(|| NONE.to_owned(), escape),
    )
}

fn proxy(out: &mut String, table: &Table, f: &Families) {
    let labels = |k: &ProxyKey| proxy_labels(table, k);
    let name = "litellm_proxy_total_requests_metric_total";
    values(out, name, "counter", "Requests to the proxy's model routes.", &f.proxies, labels, |s| Some(s.total));
    let name = "litellm_proxy_failed_requests_metric_total";
    let failed = |s: &ProxySeries| (s.failed > 0.0).then_some(s.failed);
    values(out, name, "counter", "Requests answered with an error.", &f.proxies, labels, failed);
}

/// A count kept in a [`ModelSeries`].
type Field = fn(&ModelSeries) -> f64;
/// A histogram kept in a [`ModelSeries`].
type Timing = fn(&ModelSeries) -> &Histogram;

/// The labels of per-deployment call metrics, as rendered.
pub(super) fn model_labels(table: &Table, k: &ModelKey) -> String {
    let d = table.deployment(k.deployment);
    let (key, model, requested) = (escape(&k.key), escape(&k.model), escape(&k.requested));
    let (provider, group, id) = (d.provider, escape(d.model_name), escape(d.id));
    let (alias, team, team_alias) = who(table, k.vkey);
    format!(
        "api_key_alias=\"{alias}\",api_provider=\"{provider}\",end_user=\"{NONE}\",hashed_api_key=\"{key}\",litellm_model_name=\"{provider}/{model}\",model=\"{model}\",model_group=\"{group}\",model_id=\"{id}\",requested_model=\"{requested}\",team=\"{team}\",team_alias=\"{team_alias}\",user=\"{NONE}\""
    )
}

/// The remaining requests and tokens of each virtual key, per model it called.
fn keys(out: &mut String, table: &Table, f: &Families) {
    let labels = |k: &(u16, String)| {
        let alias = who(table, Some(k.0)).0;
        let hash = table.keys.get(usize::from(k.0)).and_then(|key| key.hashes.first()).copied().unwrap_or(NONE);
        format!("api_key_alias=\"{alias}\",hashed_api_key=\"{hash}\",model=\"{}\"", escape(&k.1))
    };
    let families = [
        ("litellm_remaining_api_key_requests_for_model", "Requests the key has left this minute.", &f.key_requests),
        ("litellm_remaining_api_key_tokens_for_model", "Tokens the key has left this minute.", &f.key_tokens),
    ];
    for (name, help, family) in families {
        if !family.series.is_empty() {
            values(out, name, "gauge", help, family, labels, |v| Some(*v));
        }
    }
}

fn model(out: &mut String, table: &Table, f: &Families) {
    let labels = |k: &ModelKey| model_labels(table, k);
    let counters: [(&str, &str, Field); 7] = [
        ("litellm_requests_metric_total", "Successful model calls per deployment.", |m| m.requests),
        ("litellm_input_tokens_metric_total", "Prompt tokens.", |m| m.input_tokens),
        ("litellm_output_tokens_metric_total", "Completion tokens.", |m| m.output_tokens),
        ("litellm_total_tokens_metric_total", "Total tokens.", |m| m.total_tokens),
        ("litellm_input_cached_tokens_metric_total", "Cached prompt tokens.", |m| m.cached_tokens),
        ("litellm_output_reasoning_tokens_metric_total", "Reasoning tokens.", |m| m.reasoning_tokens),
        ("litellm_spend_metric_total", "Spend in USD.", |m| m.spend),
    ];
    for (name, help, field) in counters {
        values(out, name, "counter", help, &f.models, labels, |m| Some(field(m)).filter(|v| *v > 0.0));
    }
    let timings: [(&str, &str, Timing); 4] = [
        ("litellm_request_total_latency_metric", "Whole request time, seconds.", |m| &m.total_latency),
        ("litellm_llm_api_latency_metric", "Provider time to response head, seconds.", |m| &m.api_latency),
        ("litellm_llm_api_time_to_first_token_metric", "Time to first streamed chunk, seconds.", |m| &m.ttft),
        ("litellm_overhead_latency_metric", "Time spent in the gateway, seconds.", |m| &m.overhead),
    ];
    for (name, help, field) in timings {
        histograms(out, name, help, &f.models, labels, field);
    }
}

fn deployment(out: &mut String, table: &Table, f: &Families) {
    let labels = |k: &DeploymentKey| {
        let d = table.deployment(k.deployment);
        let mut labels = format!(
            "api_provider=\"{}\",litellm_model_name=\"{}\",model_group=\"{}\",model_id=\"{}\"",
            d.provider,
            escape(d.model),
            escape(d.model_name),
            escape(d.id)
        );
        if k.status != 0 {
            let _ = write!(labels, ",exception_status=\"{}\"", k.status);
        }
        labels
    };
    let families = [
        ("litellm_deployment_state", "gauge", "0 healthy, 1 partial outage, 2 outage.", &f.deployment_state),
        (
            "litellm_deployment_success_responses_total",
            "counter",
            "Successful calls per deployment.",
            &f.deployment_success,
        ),
        (
            "litellm_deployment_failure_responses_total",
            "counter",
            "Failed calls per deployment.",
            &f.deployment_failure,
        ),
        ("litellm_deployment_total_requests_total", "counter", "Calls per deployment.", &f.deployment_total),
        ("litellm_remaining_requests_metric", "gauge", "Provider-reported remaining requests.", &f.remaining_requests),
        ("litellm_remaining_tokens_metric", "gauge", "Provider-reported remaining tokens.", &f.remaining_tokens),
        ("litellm_deployment_cooled_down_total", "counter", "Times a deployment entered cooldown.", &f.cooled_down),
    ];
    for (name, kind, help, family) in families {
        values(out, name, kind, help, family, labels, |v| Some(*v));
    }
    let labels = |k: &FallbackKey| fallback_labels(table, k);
    let fallbacks = [
        ("litellm_deployment_successful_fallbacks_total", "Calls a fallback group answered.", &f.fallbacks_ok),
        ("litellm_deployment_failed_fallbacks_total", "Calls whose fallbacks failed too.", &f.fallbacks_failed),
    ];
    for (name, help, family) in fallbacks {
        values(out, name, "counter", help, family, labels, |v| Some(*v));
    }
}

/// The labels of fallback counts, as rendered.
pub(super) fn fallback_labels(table: &Table, k: &FallbackKey) -> String {
    let (key, requested, fallback) = (escape(&k.key), escape(&k.requested), escape(&k.fallback));
    let (_, team, team_alias) = who(table, k.vkey);
    format!(
        "fallback_model=\"{fallback}\",hashed_api_key=\"{key}\",requested_model=\"{requested}\",team=\"{team}\",team_alias=\"{team_alias}\""
    )
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One metric of a family: a line per label set that has a `value`, sorted for a stable page.
fn values<K, V>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    family: &Family<K, V>,
    labels: impl Fn(&K) -> String,
    value: impl Fn(&V) -> Option<f64>,
) {
    header(out, name, kind, help);
    let mut lines: Vec<String> =
        family.series.iter().filter_map(|(k, v)| Some(format!("{name}{{{}}} {}", labels(k), value(v)?))).collect();
    lines.sort_unstable();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

fn histograms<K, V>(
    out: &mut String,
    name: &str,
    help: &str,
    family: &Family<K, V>,
    labels: impl Fn(&K) -> String,
    field: impl Fn(&V) -> &Histogram,
) {
    header(out, name, "histogram", help);
    let mut series: Vec<(String, &Histogram)> =
        family.series.iter().map(|(k, v)| (labels(k), field(v))).filter(|(_, h)| h.count > 0).collect();
    series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
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
