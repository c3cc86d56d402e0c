//! Which config keys mean something: used by the gateway, accepted and ignored (LiteLLM
//! features a stateless gateway has no use for), or unknown, which fails the build with
//! the closest known key as the fix.

/// What the compiler does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Used,
    /// Accepted with a `cargo:warning` carrying the reason.
    Ignored(&'static str),
    Unknown,
}

const DB: &str = "no database in a stateless gateway";
const UI: &str = "no admin UI, SSO or alerting in model-router";
const LOGS: &str = "logging is set at run time (RUST_LOG, LOG_FORMAT)";
const LATER: &str = "not enforced by model-router yet";
const CACHE: &str = "no response cache in model-router";

/// A config section: its used keys and its ignored keys with their reason.
#[derive(Debug)]
pub struct Section {
    pub used: &'static [&'static str],
    pub ignored: &'static [(&'static str, &'static str)],
}

pub const TOP: Section = Section {
    used: &[
        "environment_variables",
        "general_settings",
        "keys",
        "litellm_settings",
        "model_list",
        "router_settings",
        "teams",
    ],
    ignored: &[
        ("assistant_settings", LATER),
        ("callback_settings", LATER),
        ("credential_list", LATER),
        ("files_settings", LATER),
        ("guardrails", LATER),
        ("mcp_servers", LATER),
        ("vector_store_registry", LATER),
    ],
};

pub const DEPLOYMENT: Section =
    Section { used: &["litellm_params", "model_info", "model_name"], ignored: &[("rpm", LATER), ("tpm", LATER)] };

/// Request parameters a deployment may set as defaults for its calls.
pub const DEFAULT_PARAMS: &[&str] = &[
    "frequency_penalty",
    "logit_bias",
    "max_completion_tokens",
    "max_tokens",
    "n",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
    "seed",
    "stop",
    "temperature",
    "top_p",
    "user",
];

pub const LITELLM_PARAMS: Section = Section {
    used: &[
        "api_base",
        "api_key",
        "api_version",
        "aws_access_key_id",
        "aws_bedrock_runtime_endpoint",
        "aws_region_name",
        "aws_role_name",
        "aws_secret_access_key",
        "aws_session_name",
        "aws_session_token",
        "aws_sts_endpoint",
        "aws_web_identity_token",
        "custom_llm_provider",
        "extra_headers",
        "max_parallel_requests",
        "max_retries",
        "mock_chunk_interval_ms",
        "mock_latency_ms",
        "mock_response",
        "model",
        "order",
        "organization",
        "rpm",
        "stream_timeout",
        "timeout",
        "tpm",
        "vertex_credentials",
        "vertex_location",
        "vertex_project",
        "weight",
    ],
    ignored: &[
        ("base_model", LATER),
        ("input_cost_per_token", LATER),
        ("num_retries", LATER),
        ("output_cost_per_token", LATER),
        ("tags", LATER),
    ],
};

pub const ROUTER: Section = Section {
    used: &[
        "allowed_fails",
        "cache_kwargs",
        "content_policy_fallbacks",
        "context_window_fallbacks",
        "cooldown_time",
        "default_fallbacks",
        "default_max_parallel_requests",
        "disable_cooldowns",
        "fallbacks",
        "max_fallbacks",
        "model_group_alias",
        "num_retries",
        "redis_host",
        "redis_password",
        "redis_port",
        "redis_url",
        "responses_store_ttl",
        "retry_after",
        "routing_strategy",
        "stream_timeout",
        "timeout",
    ],
    ignored: &[
        ("allowed_fails_policy", LATER),
        ("cache_responses", CACHE),
        ("enable_pre_call_checks", LATER),
        ("enable_tag_filtering", LATER),
        ("optional_pre_call_checks", LATER),
        ("retry_policy", LATER),
        ("routing_strategy_args", LATER),
        ("tag_filtering_match_any", LATER),
    ],
};

pub const LITELLM_SETTINGS: Section = Section {
    used: &[
        "callbacks",
        "check_provider_endpoint",
        "content_policy_fallbacks",
        "context_window_fallbacks",
        "default_fallbacks",
        "drop_params",
        "fallbacks",
        "num_retries",
        "request_timeout",
        "require_auth_for_metrics_endpoint",
    ],
    ignored: &[
        ("cache", CACHE),
        ("cache_params", CACHE),
        ("failure_callback", LATER),
        ("force_ipv4", LATER),
        ("json_logs", LOGS),
        ("modify_params", LATER),
        ("redact_user_api_key_info", LATER),
        ("service_callback", LATER),
        ("set_verbose", LOGS),
        ("success_callback", LATER),
        ("telemetry", LATER),
        ("turn_off_message_logging", LATER),
        ("use_chat_completions_url_for_anthropic_messages", LATER),
    ],
};

pub const GENERAL: Section = Section {
    used: &[
        "forward_client_headers_to_llm_api",
        "global_max_parallel_requests",
        "litellm_key_header_name",
        "master_key",
        "max_request_size_mb",
    ],
    ignored: &[
        ("alerting", UI),
        ("alerting_threshold", UI),
        ("allow_requests_on_db_unavailable", DB),
        ("allowed_ips", LATER),
        ("allowed_routes", LATER),
        ("background_health_checks", LATER),
        ("custom_auth", UI),
        ("dangerously_permit_weak_or_unset_master_key", LATER),
        ("database_connection_pool_limit", DB),
        ("database_connection_timeout", DB),
        ("database_url", DB),
        ("disable_error_logs", DB),
        ("disable_master_key_return", UI),
        ("disable_reset_budget", DB),
        ("disable_spend_logs", DB),
        ("enable_jwt_auth", UI),
        ("health_check_details", LATER),
        ("health_check_interval", LATER),
        ("key_management_settings", UI),
        ("key_management_system", UI),
        ("litellm_jwtauth", UI),
        ("max_parallel_requests", LATER),
        ("maximum_spend_logs_retention_interval", DB),
        ("maximum_spend_logs_retention_period", DB),
        ("proxy_batch_write_at", DB),
        ("proxy_budget_rescheduler_max_time", DB),
        ("proxy_budget_rescheduler_min_time", DB),
        ("public_routes", LATER),
        ("store_model_in_db", DB),
        ("ui_access_mode", UI),
        ("use_redis_transaction_buffer", CACHE),
        ("user_api_key_cache_ttl", DB),
    ],
};

impl Section {
    /// Classifies `key`.
    pub fn kind(&self, key: &str) -> Kind {
        if self.used.contains(&key) {
            return Kind::Used;
        }
        self.ignored.iter().find(|(k, _)| *k == key).map_or(Kind::Unknown, |(_, why)| Kind::Ignored(why))
    }

    /// The known key closest to `key`, if one is close enough to be a typo of it.
    pub fn suggest(&self, key: &str) -> Option<&'static str> {
        closest(key, self.used.iter().copied().chain(self.ignored.iter().map(|(k, _)| *k)))
    }
}

/// The candidate within a third of `word`'s length in edit distance, nearest first.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates.map(|c| (edit_distance(word, c), c)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("opena", "openai"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(GENERAL.suggest("master_kye"), Some("master_key"));
        assert_eq!(ROUTER.suggest("num_retry"), Some("num_retries"));
        assert_eq!(GENERAL.suggest("completely_different"), None);
    }

    #[test]
    fn classifies_db_keys_as_ignored() {
        assert!(matches!(GENERAL.kind("database_url"), Kind::Ignored(_)));
        assert_eq!(GENERAL.kind("master_key"), Kind::Used);
        assert_eq!(GENERAL.kind("nonsense"), Kind::Unknown);
    }
}
