//! The normalised routes: what `parse` produces and `codegen` writes out. Plain data,
//! serialised (sorted, no paths, no times) to give the routes hash the binary embeds.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// A value that is either written in the config or read from the environment at start-up
/// (`os.environ/NAME`). Never resolved at build time, so no secret reaches the binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Setting {
    Literal(String),
    Env(String),
}

impl Setting {
    /// Reads `os.environ/NAME` as an environment reference, anything else as a literal.
    pub fn from_config(raw: &str) -> Self {
        match raw.strip_prefix("os.environ/") {
            Some(name) => Setting::Env(name.to_owned()),
            None => Setting::Literal(raw.to_owned()),
        }
    }
}

/// One `model_list` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSpec {
    /// `model_info.id`, else LiteLLM's sha256 of the model name and every param.
    pub id: String,
    /// `model_name`: the group (or wildcard pattern) clients ask for.
    pub model_name: String,
    /// `litellm_params.model` as written, such as `openai/*`.
    pub model: String,
    /// Provider prefix, such as `openai` or `groq`.
    pub provider: String,
    /// The model after the provider prefix; may hold `*` for wildcard substitution.
    pub upstream_model: String,
    pub api_base: Option<Setting>,
    pub api_key: Option<Setting>,
    pub api_version: Option<Setting>,
    pub organization: Option<Setting>,
    pub timeout_ms: Option<u64>,
    pub stream_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub weight: Option<f64>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub order: Option<u32>,
    /// `max_parallel_requests`, else `router_settings.default_max_parallel_requests`.
    pub max_parallel: Option<u32>,
    pub extra_headers: BTreeMap<String, String>,
    /// `vertex_project`, `vertex_location`, `vertex_credentials` (`vertex_ai/`). Left out of
    /// the routes hash when unset, so configs without them hash as before.
    #[serde(skip_serializing_if = "VertexSpec::is_empty")]
    pub vertex: VertexSpec,
    /// Request parameters the deployment sets (`temperature`, `max_tokens`, ...), as JSON;
    /// used where the client's request leaves them out.
    pub default_params: BTreeMap<String, String>,
    pub mock_response: Option<String>,
    pub mock_latency_ms: u64,
    pub mock_chunk_interval_ms: u64,
    /// `model_info` fields the gateway reads.
    pub mode: Option<String>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    /// Whether Responses API calls are relayed to the deployment as they are (else bridged
    /// through chat): `model_info.supported_endpoints` when it is given, else whether the
    /// vendor speaks it ([`crate::vendors::RESPONSES_API`]). Left out of the routes hash when
    /// false, so configs without Responses deployments hash as before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub responses_api: bool,
    /// `/model/info` body for this deployment: `litellm_params` without credentials and
    /// `model_info` as given, as compact JSON.
    pub info_json: String,
}

/// A `vertex_ai/` deployment's Google settings, each a literal or an `os.environ/` reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VertexSpec {
    pub project: Option<Setting>,
    pub location: Option<Setting>,
    /// Always `os.environ/NAME` or a file path: a credential itself is refused at build time.
    pub credentials: Option<Setting>,
}

impl VertexSpec {
    pub fn is_empty(&self) -> bool {
        self.project.is_none() && self.location.is_none() && self.credentials.is_none()
    }
}

/// A model group: the deployments sharing one `model_name`, in config order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSpec {
    pub name: String,
    pub deployments: Vec<usize>,
}

/// A `router_settings.model_group_alias` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasSpec {
    pub alias: String,
    pub group: usize,
    /// Hidden aliases route but are not listed by `/v1/models`.
    pub hidden: bool,
}

/// A wildcard `model_name` (such as `anthropic/*`), pointing at its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WildcardSpec {
    pub pattern: String,
    pub group: usize,
}

/// `router_settings` (and the router keys LiteLLM also takes under `litellm_settings`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouterSpec {
    pub routing_strategy: String,
    pub num_retries: u32,
    pub timeout_ms: Option<u64>,
    pub stream_timeout_ms: Option<u64>,
    /// `litellm_settings.request_timeout`; LiteLLM's default is 6000 s.
    pub request_timeout_ms: u64,
    pub drop_params: bool,
    pub require_auth_for_metrics: bool,
    pub callbacks: Vec<String>,
}

/// `general_settings` the gateway acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneralSpec {
    pub master_key: Option<Setting>,
    /// `litellm_key_header_name`: an extra header to read the key from.
    pub key_header: Option<String>,
    pub max_request_bytes: u64,
    pub forward_client_headers: bool,
    /// `global_max_parallel_requests`: model calls served at once, over all deployments.
    pub global_max_parallel: Option<u32>,
}

/// One environment, validated and normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Routes {
    pub env: String,
    pub deployments: Vec<DeploymentSpec>,
    pub groups: Vec<GroupSpec>,
    pub aliases: Vec<AliasSpec>,
    /// Longest pattern first, as LiteLLM tries them.
    pub wildcards: Vec<WildcardSpec>,
    pub router: RouterSpec,
    pub resilience: crate::resilience::ResilienceSpec,
    pub general: GeneralSpec,
    /// `router_settings.redis_*`; left out of the hash when absent, so configs without Redis
    /// keep their hash.
    #[serde(skip_serializing_if = "crate::redis::RedisSpec::is_empty")]
    pub redis: crate::redis::RedisSpec,
    /// `environment_variables`: defaults for environment look-ups at start-up.
    pub environment: BTreeMap<String, String>,
}

impl Routes {
    /// SHA-256 (hex) of the normalised routes: equal configs give equal hashes, whatever
    /// their formatting, comments or file location.
    pub fn sha256(&self) -> String {
        let normal = serde_json::to_vec(self).unwrap_or_default();
        hex(&Sha256::digest(&normal))
    }

    /// The group a model name or alias names, as the resolver's first two steps see it.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .or_else(|| self.aliases.iter().find(|a| a.alias == name).map(|a| a.group))
    }

    /// The deployment whose `litellm_params.model` is exactly `name` (first in config order).
    pub fn deployment_index(&self, name: &str) -> Option<usize> {
        self.deployments.iter().position(|d| d.model == name && !d.model.contains('*'))
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
