//! model-router: an OpenAI-compatible LLM egress gateway whose LiteLLM-format routes are
//! compiled into the binary.
//!
//! A request's path, one module per stage, in order:
//!
//! 1. [`server`] accepts the connection and frames HTTP/1.1 or h2c within the head limits
//!    (a head that stops arriving gets 408, an idle HTTP/2 connection GOAWAY); [`gateway`]
//!    walks each request through the stages below, lending each the narrow context it reads
//!    (no stage names the gateway), and logs its outcome once. What is known of a request
//!    before its attempts, and their final outcome, is its [`call`].
//! 2. [`route`] maps `(method, path)` to an endpoint, and a model call's endpoint to its
//!    route kind (the metrics label) (`/v1/messages` is Anthropic's format,
//!    relayed to `anthropic/` deployments and translated for the others by `provider`;
//!    `/v1/responses` and the operations on a response are OpenAI's Responses API, relayed
//!    to deployments that speak it and bridged for the others).
//! 3. [`auth`] finds the caller's key and checks it against the master key, else among the
//!    virtual [`keys`] (their models, limits and budgets are checked before `retry`).
//! 4. [`parse`] reads the bounded body, charged to the memory [`budget`], into a request
//!    that keeps unknown fields as slices of it.
//! 5. [`resolve`] maps the requested model to a group or deployment in the compiled
//!    [`table`] (exact name, alias, longest wildcard, deployment name); a Responses API id
//!    the gateway issued names its deployment instead (`provider::responses`).
//! 6. [`retry`] plans the call's attempts (retries, fallbacks) from the table's resilience
//!    settings and sums up their outcome; each [`attempt`] [`pick`]s an available deployment
//!    of the group from its pool and admits it through [`state`] (in-process [`limits`] and
//!    [`cooldown`]s, shared through Redis when one is configured), and returns what it came
//!    to (deployment, provider head, usage) instead of writing it anywhere.
//! 7. [`provider`] speaks the deployment's wire protocol (closed enum, `match` dispatch:
//!    OpenAI-compatible, Azure, Anthropic, Gemini, Vertex AI with its service-account token,
//!    AWS Bedrock signed with SigV4) through the pooled [`upstream`] client, or answers with
//!    the built-in fake; a Responses API call is relayed or bridged through chat. It reads
//!    its `provider::Context` (client, budget, router settings) and the attempt.
//! 8. [`framing`] decodes an upstream stream incrementally, whatever its framing (SSE with
//!    event names and ids, `framing::sse`; AWS's binary event stream, `framing::eventstream`;
//!    both behind `framing::Decoder`), and reads a whole body within its size and time
//!    bounds (`framing::read`). It sits below both `provider`, whose translators read their
//!    streams through it, and `respond`, and imports neither.
//! 9. [`respond`] relays the answer (JSON, a whole reply a translator wrote passed on unread
//!    with the usage it counted, or a stream decoded by `framing`, each event
//!    written in the client's format by `respond::format`; a translated stream already in
//!    the client's format, Anthropic events from typed chat chunks or InvokeModel, or a chat
//!    client's chunks written by its translator, is moved as it is),
//!    sets LiteLLM's headers once from the call's outcome, and turns every
//!    [`error::Error`] into one OpenAI-shaped body (Anthropic-shaped on `/v1/messages`).
//! 10. [`report`] enters the finished request in its books (log line, [`metrics`], [`trace`]
//!     spans, the state's statistics, the keys' spend): at once, or through the one handle
//!     a stream tells its end.
//!
//! [`catalog`] answers what needs no provider (models, model info, key info, health), with
//! [`prices`] (LiteLLM's cost map, compiled in) for cost and context windows; [`settings`]
//! holds what is read from the environment at start-up; [`json`] splits a JSON object
//! into its top-level members in one validating pass (for `parse`); [`budget`] bounds the
//! memory that request bodies (and the trees translations build from them) hold at once;
//! [`quota`] models a virtual key's and its team's limits (what is counted, its figures, a
//! limit hit, the clock), a leaf below [`error`], `keys` (which counts in process) and
//! `state` (which counts on Redis).

#![forbid(unsafe_code)]

// The stages, in request order.
pub mod server;
pub mod gateway;
pub mod call;
pub mod route;
pub mod auth;
pub mod keys;
pub mod parse;
pub mod table;
pub mod resolve;
pub mod retry;
pub mod attempt;
pub mod pick;
pub mod cooldown;
pub mod limits;
pub mod state;
pub mod provider;
pub mod upstream;
pub mod framing;
pub mod respond;
pub mod report;

// Beside the stages.
pub mod budget;
pub mod json;
pub mod error;
pub mod quota;
pub mod catalog;
pub mod settings;
pub mod usage;
pub mod prices;
pub mod metrics;
pub mod trace;

/// `model-router 0.1.0 (env base, routes sha256 …)`: what `--version` prints and what
/// start-up logs.
pub fn version_line() -> String {
    let table = table::COMPILED;
    format!("model-router {} (env {}, routes sha256 {})", env!("CARGO_PKG_VERSION"), table.env, table.routes_sha256)
}
