//! The closed sets that the build validates and the gateway dispatches on: one definition,
//! compiled into both. `build.rs` (through this crate) writes each value as its variant, and
//! `src/table.rs` includes this same file with `#[path]`, so a variant the generated tables
//! name and the enum the gateway matches cannot drift apart, and no string is compared at
//! run time. Self-contained: nothing here may use `crate::`.

/// The wire protocol a deployment speaks; the gateway's `provider` module dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The built-in fake provider: answers in process, no network.
    Fake,
    /// OpenAI's HTTP API: `{base}/chat/completions` with `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: `{base}/openai/deployments/{model}/...?api-version=` with `api-key`.
    Azure,
    /// Anthropic Messages: `{base}/v1/messages` with `x-api-key`, translated from OpenAI chat.
    Anthropic,
    /// Google AI Studio: `{base}/models/{model}:generateContent` with `x-goog-api-key`,
    /// translated from OpenAI chat.
    Gemini,
    /// Vertex AI Gemini: the `Gemini` body on
    /// `{host}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
    /// with a service-account OAuth2 access token.
    Vertex,
    /// AWS Bedrock Converse: `{base}/model/{model id}/converse` signed with SigV4 (service
    /// `bedrock`), translated from OpenAI chat.
    Bedrock,
}

/// `router_settings.routing_strategy`: how `pick` chooses among a group's available
/// deployments of the lowest `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Weighted random (`weight`, else `rpm`, else `tpm`): LiteLLM's default.
    SimpleShuffle,
    /// Fewest calls in flight.
    LeastBusy,
    /// Lowest average time to the response head.
    LatencyBased,
    /// Fewest tokens this minute (`usage-based-routing` and `-v2`).
    UsageBased,
    /// Lowest price per token.
    CostBased,
}

impl Strategy {
    /// Every name LiteLLM accepts, with the strategy it selects.
    pub const NAMES: &'static [(&'static str, Strategy)] = &[
        ("cost-based-routing", Strategy::CostBased),
        ("latency-based-routing", Strategy::LatencyBased),
        ("least-busy", Strategy::LeastBusy),
        ("simple-shuffle", Strategy::SimpleShuffle),
        ("usage-based-routing", Strategy::UsageBased),
        ("usage-based-routing-v2", Strategy::UsageBased),
    ];

    /// The strategy a config name selects.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}
