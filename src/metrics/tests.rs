//! Recording and rendering, on the compiled base table.

use std::time::Duration;

use super::render::escape;
use super::*;
use crate::table::COMPILED;

fn enabled() -> Metrics {
    let mut metrics = Metrics::new(COMPILED);
    metrics.enabled = true;
    metrics
}

fn record(status: u16, usage: Option<Usage>) -> Record<'static> {
    Record {
        route: "/chat/completions",
        status,
        requested: "fake-openai-endpoint",
        key: "myns/myagent",
        vkey: None,
        vkey_remaining: (None, None),
        deployment: Some((0, "fake-openai-endpoint")),
        total: Duration::from_millis(30),
        api: Some(Duration::from_millis(20)),
        ttft: None,
        usage,
        cost: Some(0.5),
        remaining: (Some(99.0), None),
        fallback: None,
        error: (status >= 400).then_some((true, "RateLimitError")),
    }
}

#[test]
fn counts_and_labels_follow_litellm() {
    let metrics = enabled();
    let usage = Usage { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, ..Usage::default() };
    for _ in 0..2 {
        metrics.start();
        metrics.record(COMPILED, &record(200, Some(usage)));
    }
    metrics.start();
    metrics.attempt_failed(0, 429, (true, "RateLimitError"));
    metrics.record(COMPILED, &record(429, None));
    let page = metrics.render(COMPILED);
    let who = "api_key_alias=\"None\",api_provider=\"fake\",client_ip=\"None\",end_user=\"None\"";
    let what = "hashed_api_key=\"myns/myagent\",model_id=\"None\",org_alias=\"None\",org_id=\"None\",requested_model=\"fake-openai-endpoint\",route=\"/chat/completions\"";
    let rest = "team=\"None\",team_alias=\"None\",user=\"None\",user_agent=\"None\",user_email=\"None\"";
    assert!(
        page.contains(&format!(
            "litellm_proxy_total_requests_metric_total{{{who},{what},status_code=\"200\",{rest}}} 2\n"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "litellm_proxy_total_requests_metric_total{{{who},{what},status_code=\"429\",{rest}}} 1\n"
        )),
        "{page}"
    );
    let failed = format!(
        "litellm_proxy_failed_requests_metric_total{{{who},exception_class=\"Fake.RateLimitError\",exception_status=\"429\",{what},{rest}}} 1\n"
    );
    assert!(page.contains(&failed), "LiteLLM's exception labels, no status_code: {page}");
    assert!(page.contains("litellm_total_tokens_metric_total{"), "{page}");
    assert!(page.lines().any(|l| l.starts_with("litellm_total_tokens_metric_total{") && l.ends_with(" 42")), "{page}");
    assert!(page.lines().any(|l| l.starts_with("litellm_spend_metric_total{") && l.ends_with(" 1.5")), "{page}");
    assert!(page.lines().any(|l| l.starts_with("litellm_deployment_failure_responses_total{")
        && l.contains("exception_status=\"429\"")
        && l.ends_with(" 1")));
    assert!(
        page.lines().any(|l| l.starts_with("litellm_deployment_state{") && l.ends_with(" 2")),
        "429 marks an outage"
    );
    assert!(page.lines().any(|l| l.starts_with("litellm_remaining_requests_metric{") && l.ends_with(" 99")));
    assert!(page.contains("litellm_in_flight_requests 0\n"));
    assert!(
        page.contains(&format!("model_router_build_info{{env=\"base\",routes_sha256=\"{}\"", COMPILED.routes_sha256))
    );
    let buckets: Vec<&str> =
        page.lines().filter(|l| l.starts_with("litellm_request_total_latency_metric_bucket")).collect();
    assert!(buckets.iter().any(|l| l.contains("le=\"0.05\"") && l.ends_with(" 3")), "30 ms falls in the 0.05 s bucket");
    assert!(buckets.iter().any(|l| l.contains("le=\"0.025\"") && l.ends_with(" 0")));
}

#[test]
fn label_sets_are_bounded() {
    let metrics = enabled();
    let names: Vec<String> = (0..MAX_SERIES + 5).map(|i| format!("model-{i}")).collect();
    for name in &names {
        metrics.start();
        metrics.record(COMPILED, &Record { requested: name, deployment: None, ..record(400, None) });
    }
    let page = metrics.render(COMPILED);
    let lines = page.lines().filter(|l| l.starts_with("litellm_proxy_total_requests_metric_total{")).count();
    assert!(
        lines <= MAX_SERIES + 1 && lines < names.len() / 2 + MAX_SERIES / 2,
        "the extra names share one overflow series: {lines}"
    );
    assert!(page.contains("requested_model=\"__overflow__\""));
}

#[test]
fn disabled_metrics_record_nothing_but_in_flight() {
    let mut metrics = Metrics::new(COMPILED);
    metrics.enabled = false;
    metrics.start();
    assert!(metrics.render(COMPILED).contains("litellm_in_flight_requests 1\n"));
    metrics.record(COMPILED, &record(200, None));
    assert!(!metrics.render(COMPILED).contains("litellm_proxy_total_requests_metric_total{"));
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

/// Headers, build info, deployment health and the overflow series of the base table: the
/// part of the page whose labels come from the routes alone.
const TABLE_PART: usize = 64 * 1024;

#[test]
fn a_full_registry_renders_within_the_stated_bound() {
    let metrics = enabled();
    // Quotes render as two bytes each, so every value is as long as a label value gets.
    let long = "\"".repeat(MAX_LABEL_BYTES);
    for i in 0..2 * MAX_SERIES {
        let (key, requested) = (format!("{long}{i}"), format!("{long}-{i}"));
        let status = if i % 2 == 0 { 200 } else { 500 };
        metrics.start();
        metrics.record(
            COMPILED,
            &Record {
                key: &key,
                requested: &requested,
                deployment: Some((1, &requested)),
                fallback: Some("fake-openai-endpoint"),
                ..record(
                    status,
                    Some(Usage { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, ..Usage::default() }),
                )
            },
        );
    }
    let page = metrics.render(COMPILED);
    assert!(page.len() <= MAX_CLIENT_PAGE_BYTES + TABLE_PART, "{} bytes", page.len());
    assert!(page.len() > MAX_CLIENT_PAGE_BYTES / 2, "the budgets were reached: {} bytes", page.len());
    // A model line holds four client values (key, requested, model twice); the rest is
    // label names, the table's values, the metric's name and its value.
    let longest = page.lines().map(str::len).max().unwrap_or_default();
    assert!(longest <= 4 * MAX_LABEL_BYTES + 512, "label values are cut: a line of {longest} bytes");
    let families = [
        "litellm_proxy_total_requests_metric_total{",
        "litellm_requests_metric_total{",
        "litellm_deployment_successful_fallbacks_total{",
        "litellm_deployment_failed_fallbacks_total{",
    ];
    for family in families {
        assert!(
            page.lines().any(|l| l.starts_with(family) && l.contains("requested_model=\"__overflow__\"")),
            "{family} overflowed"
        );
    }
}

/// The label names of each line of `page` whose metric is `metric` (a histogram's `le` aside).
fn label_names(page: &str, metric: &str) -> Vec<Vec<String>> {
    page.lines()
        .filter_map(|line| line.strip_prefix(metric)?.strip_prefix('{'))
        .map(|labels| {
            let labels = &labels[..labels.rfind('}').unwrap_or(labels.len())];
            let names = labels
                .split("\",")
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, _)| name.trim_start_matches(',').to_owned());
            names.filter(|name| name != "le").collect()
        })
        .collect()
}

#[test]
fn every_family_carries_exactly_litellms_label_names() {
    let metrics = enabled();
    let usage = Usage {
        prompt_tokens: 9,
        completion_tokens: 12,
        total_tokens: 21,
        prompt_tokens_details: Some(crate::usage::PromptDetails { cached_tokens: 2, cache_creation_tokens: 0 }),
        completion_tokens_details: Some(crate::usage::CompletionDetails { reasoning_tokens: 1 }),
    };
    metrics.start();
    metrics.record(
        COMPILED,
        &Record {
            ttft: Some(Duration::from_millis(5)),
            fallback: Some("fake-openai-endpoint"),
            ..record(200, Some(usage))
        },
    );
    metrics.start();
    metrics.attempt_failed(0, 429, (true, "RateLimitError"));
    metrics.cooled_down(0, 429);
    metrics.record(COMPILED, &Record { fallback: Some("fake-openai-endpoint"), ..record(429, None) });
    let page = metrics.render(COMPILED);
    let families: [(&str, &[&str]); 21] = [
        ("litellm_proxy_total_requests_metric_total", names::PROXY_TOTAL),
        ("litellm_proxy_failed_requests_metric_total", names::PROXY_FAILED),
        ("litellm_requests_metric_total", names::REQUESTS),
        ("litellm_spend_metric_total", names::SPEND),
        ("litellm_input_tokens_metric_total", names::TOKENS),
        ("litellm_output_tokens_metric_total", names::TOKENS),
        ("litellm_total_tokens_metric_total", names::TOKENS),
        ("litellm_input_cached_tokens_metric_total", names::TOKEN_DETAILS),
        ("litellm_output_reasoning_tokens_metric_total", names::TOKEN_DETAILS),
        ("litellm_request_total_latency_metric_bucket", names::TOTAL_LATENCY),
        ("litellm_llm_api_latency_metric_count", names::API_LATENCY),
        ("litellm_llm_api_time_to_first_token_metric_sum", names::API_LATENCY),
        ("litellm_overhead_latency_metric_bucket", names::DEPLOYMENT_CALLER),
        ("litellm_remaining_requests_metric", names::DEPLOYMENT_CALLER),
        ("litellm_deployment_state", names::DEPLOYMENT_STATE),
        ("litellm_deployment_cooled_down_total", names::COOLED_DOWN),
        ("litellm_deployment_success_responses_total", names::DEPLOYMENT_CALLS),
        ("litellm_deployment_total_requests_total", names::DEPLOYMENT_CALLS),
        ("litellm_deployment_failure_responses_total", names::DEPLOYMENT_FAILURES),
        ("litellm_deployment_successful_fallbacks_total", names::FALLBACKS),
        ("litellm_deployment_failed_fallbacks_total", names::FALLBACKS),
    ];
    for (metric, expected) in families {
        let mut expected: Vec<String> = expected.iter().map(|n| (*n).to_owned()).collect();
        expected.sort();
        let lines = label_names(&page, metric);
        assert!(!lines.is_empty(), "{metric} rendered: {page}");
        for names in lines {
            assert_eq!(names, expected, "{metric}");
        }
    }
    for names in names::ALL {
        let mut unique = names.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }
    assert!(
        page.lines()
            .any(|l| l.starts_with("litellm_deployment_cooled_down_total{") && l.contains("exception_status=\"429\""))
    );
}
