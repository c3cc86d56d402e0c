//! The label names of every family `render` writes, exactly LiteLLM 1.110.2's
//! (`litellm/types/integrations/prometheus.py`, `PrometheusMetricLabels.get_labels` with its
//! default settings: `org_id` and `org_alias` appended to the families in `_org_label_metrics`,
//! no custom, tag, stream or rate-limit labels), in LiteLLM's order. `render` writes them
//! sorted; a label the gateway has no value for gets LiteLLM's `"None"`.

pub const PROXY_TOTAL: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "status_code",
    "user_email",
    "route",
    "client_ip",
    "user_agent",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

pub const PROXY_FAILED: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "exception_status",
    "exception_class",
    "route",
    "client_ip",
    "user_agent",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

/// `litellm_requests_metric`.
pub const REQUESTS: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "client_ip",
    "user_agent",
    "requested_model",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

/// `litellm_spend_metric`.
pub const SPEND: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "client_ip",
    "user_agent",
    "requested_model",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];

/// `litellm_input_tokens_metric`, `_output_`, `_total_`.
pub const TOKENS: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "requested_model",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

/// `litellm_input_cached_tokens_metric`, `litellm_output_reasoning_tokens_metric`: the
/// token families' labels, without the organisation ones.
pub const TOKEN_DETAILS: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "requested_model",
    "model_id",
    "api_provider",
];

/// `litellm_request_total_latency_metric`.
pub const TOTAL_LATENCY: &[&str] = &[
    "model_group",
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "model",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];

/// `litellm_llm_api_latency_metric`, `litellm_llm_api_time_to_first_token_metric`.
pub const API_LATENCY: &[&str] = &[
    "model_group",
    "model",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "requested_model",
    "end_user",
    "user",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];

/// `litellm_overhead_latency_metric`, `litellm_remaining_requests_metric`, `_tokens_`.
pub const DEPLOYMENT_CALLER: &[&str] =
    &["model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias", "model_id"];

/// `litellm_deployment_state`.
pub const DEPLOYMENT_STATE: &[&str] = &["litellm_model_name", "model_id", "api_base", "api_provider"];

/// `litellm_deployment_cooled_down`.
pub const COOLED_DOWN: &[&str] = &["litellm_model_name", "model_id", "api_base", "api_provider", "exception_status"];

/// `litellm_deployment_total_requests`, `litellm_deployment_success_responses`.
pub const DEPLOYMENT_CALLS: &[&str] = &[
    "model_group",
    "requested_model",
    "litellm_model_name",
    "model_id",
    "api_base",
    "api_provider",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "client_ip",
    "user_agent",
];

/// `litellm_deployment_failure_responses`.
pub const DEPLOYMENT_FAILURES: &[&str] = &[
    "model_group",
    "requested_model",
    "litellm_model_name",
    "model_id",
    "api_base",
    "api_provider",
    "exception_status",
    "exception_class",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "client_ip",
    "user_agent",
];

/// `litellm_deployment_successful_fallbacks`, `_failed_`.
pub const FALLBACKS: &[&str] = &[
    "requested_model",
    "fallback_model",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "exception_status",
    "exception_class",
    "model_id",
];

/// Every family's names, for the test that they hold no duplicates and no unknown name.
#[cfg(test)]
pub const ALL: &[&[&str]] = &[
    PROXY_TOTAL,
    PROXY_FAILED,
    REQUESTS,
    SPEND,
    TOKENS,
    TOKEN_DETAILS,
    TOTAL_LATENCY,
    API_LATENCY,
    DEPLOYMENT_CALLER,
    DEPLOYMENT_STATE,
    COOLED_DOWN,
    DEPLOYMENT_CALLS,
    DEPLOYMENT_FAILURES,
    FALLBACKS,
];
