//! The compiled routes: the types `build.rs` fills with this environment's data (see
//! `$OUT_DIR/routes.rs`, data only) and the lookups the resolver runs on them.
//! Requests come here from `parse` and go on to `resolve`.

/// A value written in the config, or the name of the environment variable that holds it
/// (`os.environ/NAME`), read at start-up by `settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Literal(&'static str),
    Env(&'static str),
}

// The closed sets the build validated (protocol, routing strategy): the very definition the
// config compiler writes the tables with.
#[path = "../config/src/kinds.rs"]
mod kinds;
pub use kinds::{Protocol, Strategy};

/// A `bedrock/` deployment's AWS settings (`aws_*`); all `None` for other providers.
/// Secrets are always `os.environ/NAME` (a literal one fails the build).
#[derive(Debug, Clone, Copy)]
pub struct Aws {
    pub region_name: Option<Setting>,
    pub access_key_id: Option<Setting>,
    pub secret_access_key: Option<Setting>,
    pub session_token: Option<Setting>,
    pub runtime_endpoint: Option<Setting>,
    pub role_name: Option<Setting>,
    pub session_name: Option<Setting>,
    pub web_identity_token: Option<Setting>,
    pub sts_endpoint: Option<Setting>,
}

/// A `vertex_ai/` deployment's Google settings (`vertex_project`, `vertex_location`,
/// `vertex_credentials`); all `None` for other providers.
#[derive(Debug, Clone, Copy)]
pub struct Vertex {
    pub project: Option<Setting>,
    pub location: Option<Setting>,
    /// `os.environ/NAME` (the service-account JSON or a path to it) or a file path.
    pub credentials: Option<Setting>,
}

/// `litellm_params.mock_*`: how the fake provider answers.
#[derive(Debug, Clone, Copy)]
pub struct Mock {
    pub response: Option<&'static str>,
    pub latency_ms: u64,
    pub chunk_interval_ms: u64,
}

/// The `model_info` fields the gateway reads.
#[derive(Debug, Clone, Copy)]
pub struct ModelInfo {
    pub mode: Option<&'static str>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
}

/// One `model_list` entry.
#[derive(Debug)]
pub struct Deployment {
    pub id: &'static str,
    pub model_name: &'static str,
    /// `litellm_params.model` as written: `provider/model`.
    pub model: &'static str,
    pub provider: &'static str,
    pub protocol: Protocol,
    /// The model after the provider prefix; `*` marks wildcard substitutions.
    pub upstream_model: &'static str,
    pub api_base: Option<Setting>,
    /// Variable read for the base URL when `api_base` is absent (`OPENAI_API_BASE`).
    pub base_env: Option<&'static str>,
    pub default_base: Option<&'static str>,
    pub base_suffix: &'static str,
    pub api_key: Option<Setting>,
    /// Variable read for the key when `api_key` is absent (`OPENAI_API_KEY`).
    pub key_env: Option<&'static str>,
    pub api_version: Option<Setting>,
    pub organization: Option<Setting>,
    pub timeout_ms: Option<u64>,
    pub stream_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub weight: Option<f64>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub order: Option<u32>,
    /// Most calls in flight at once (`max_parallel_requests`).
    pub max_parallel: Option<u32>,
    pub extra_headers: &'static [(&'static str, &'static str)],
    pub vertex: Vertex,
    pub aws: Aws,
    /// Request parameters (name, JSON value) used where the request leaves them out.
    pub default_params: &'static [(&'static str, &'static str)],
    pub mock: Mock,
    pub info: ModelInfo,
    /// Responses API calls are relayed to it as they are (its provider speaks the API, or
    /// `model_info.supported_endpoints` lists `/v1/responses`); else they are bridged.
    pub responses_api: bool,
    /// This deployment's `/model/info` entry, credentials left out at build time.
    pub info_json: &'static str,
}

/// The deployments sharing one `model_name`.
#[derive(Debug)]
pub struct Group {
    pub name: &'static str,
    pub deployments: &'static [u16],
}

/// A wildcard `model_name` and its group; the table lists them longest first.
#[derive(Debug)]
pub struct Wildcard {
    pub pattern: &'static str,
    pub group: u16,
}

/// A `model_group_alias` entry.
#[derive(Debug)]
pub struct Alias {
    pub alias: &'static str,
    pub group: u16,
    pub hidden: bool,
}

/// `router_settings` and `litellm_settings`.
#[derive(Debug)]
pub struct Router {
    pub routing_strategy: Strategy,
    pub num_retries: u32,
    pub timeout_ms: Option<u64>,
    pub stream_timeout_ms: Option<u64>,
    pub request_timeout_ms: u64,
    pub drop_params: bool,
    pub require_auth_for_metrics: bool,
    pub callbacks: &'static [&'static str],
    /// `litellm_settings.check_provider_endpoint`: every wildcard deployment lists its
    /// provider's own `/models` (as `model_info.check_provider_endpoint` does for one).
    pub check_provider_endpoint: bool,
}

/// Retries' spacing, cooldowns and fallbacks (`router_settings`).
#[derive(Debug)]
pub struct Resilience {
    pub retry_after_ms: u64,
    pub allowed_fails: Option<u32>,
    pub cooldown_ms: u64,
    pub disable_cooldowns: bool,
    /// (group, the groups to try after it).
    pub fallbacks: &'static [(u16, &'static [u16])],
    pub default_fallbacks: &'static [u16],
    pub context_window_fallbacks: &'static [(u16, &'static [u16])],
    pub content_policy_fallbacks: &'static [(u16, &'static [u16])],
    pub max_fallbacks: u32,
}

/// `general_settings`.
#[derive(Debug)]
pub struct General {
    pub master_key: Option<Setting>,
    pub key_header: Option<&'static str>,
    pub max_request_bytes: u64,
    pub forward_client_headers: bool,
    pub global_max_parallel: Option<u32>,
}

/// `router_settings.redis_*`, each resolved at start-up by `state` (then `REDIS_*`), and
/// `responses_store_ttl`.
#[derive(Debug, Clone, Copy)]
pub struct Redis {
    pub host: Option<Setting>,
    pub port: Option<Setting>,
    pub password: Option<Setting>,
    pub url: Option<Setting>,
    /// `cache_kwargs.startup_nodes`: a Redis Cluster's nodes as JSON text, or the variable
    /// holding it.
    pub startup_nodes: Option<Setting>,
    /// How long a bridged Responses conversation stays stored, seconds (`None`: the default).
    pub store_ttl_s: Option<u64>,
}

/// A key's or team's limits (`rpm_limit`, `tpm_limit`, `max_parallel_requests`,
/// `max_budget` per `budget_duration`); `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeyLimits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u32>,
    pub max_budget: Option<f64>,
    pub budget_duration_s: Option<u64>,
}

/// A `keys:` entry: a virtual key, known by the hashes of its secrets.
#[derive(Debug)]
pub struct VirtualKey {
    pub alias: &'static str,
    /// Lower-case hex SHA-256 of each accepted secret.
    pub hashes: &'static [&'static str],
    /// `key: os.environ/NAME`: the variable whose value is hashed at start-up.
    pub env: Option<&'static str>,
    /// Index into [`Table::teams`].
    pub team: Option<u16>,
    /// Names, aliases, wildcards or `all-team-models`; empty: every model (of the team).
    pub models: &'static [&'static str],
    pub limits: KeyLimits,
    /// Unix seconds after which the key is refused.
    pub expires: Option<u64>,
    pub metadata_json: &'static str,
}

/// A `teams:` entry.
#[derive(Debug)]
pub struct Team {
    pub id: &'static str,
    pub alias: Option<&'static str>,
    pub models: &'static [&'static str],
    pub limits: KeyLimits,
}

/// One environment's routes.
#[derive(Debug)]
pub struct Table {
    pub env: &'static str,
    pub routes_sha256: &'static str,
    pub deployments: &'static [Deployment],
    pub groups: &'static [Group],
    /// Model names and aliases → group index.
    pub names: &'static phf::Map<&'static str, u16>,
    /// `provider/model` of each non-wildcard deployment → deployment index.
    pub deployment_names: &'static phf::Map<&'static str, u16>,
    pub wildcards: &'static [Wildcard],
    pub aliases: &'static [Alias],
    /// Virtual keys, and their hashes → key index (one probe per request).
    pub keys: &'static [VirtualKey],
    pub key_hashes: &'static phf::Map<&'static str, u16>,
    pub teams: &'static [Team],
    pub router: Router,
    pub resilience: Resilience,
    pub general: General,
    pub redis: Redis,
    /// `environment_variables`: defaults under the real environment.
    pub environment: &'static [(&'static str, &'static str)],
}

/// A fake deployment with nothing set, for unit tests to adjust with `..`.
#[cfg(test)]
pub(crate) fn test_deployment() -> Deployment {
    Deployment {
        id: "d",
        model_name: "g",
        model: "fake/x",
        provider: "fake",
        protocol: Protocol::Fake,
        upstream_model: "x",
        api_base: None,
        base_env: None,
        default_base: None,
        base_suffix: "",
        api_key: None,
        key_env: None,
        api_version: None,
        organization: None,
        timeout_ms: None,
        stream_timeout_ms: None,
        max_retries: None,
        weight: None,
        rpm: None,
        tpm: None,
        order: None,
        max_parallel: None,
        extra_headers: &[],
        vertex: Vertex { project: None, location: None, credentials: None },
        aws: Aws {
            region_name: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            runtime_endpoint: None,
            role_name: None,
            session_name: None,
            web_identity_token: None,
            sts_endpoint: None,
        },
        default_params: &[],
        mock: Mock { response: None, latency_ms: 0, chunk_interval_ms: 0 },
        info: ModelInfo {
            mode: None,
            max_input_tokens: None,
            max_output_tokens: None,
            input_cost_per_token: None,
            output_cost_per_token: None,
        },
        responses_api: false,
        info_json: "{}",
    }
}

impl Table {
    pub fn group(&self, index: u16) -> &'static Group {
        &self.groups[usize::from(index)]
    }

    pub fn deployment(&self, index: u16) -> &'static Deployment {
        &self.deployments[usize::from(index)]
    }
}

#[expect(clippy::unreadable_literal, reason = "generated data: phf keys and sizes")]
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/routes.rs"));
}

/// The routes this binary was built with.
pub static COMPILED: &Table = &compiled::TABLE;

/// The environments of `tests/fixtures/routes.yaml`, for integration tests only.
#[cfg(feature = "test-fixtures")]
#[expect(clippy::unreadable_literal, reason = "generated data: phf keys and sizes")]
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
