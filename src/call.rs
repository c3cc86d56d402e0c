//! One request's facts: what is known before its attempts (ids, start, route, key,
//! requested model, trace) and, once `retry` is done, their final [`Outcome`], from which
//! `respond` sets the response headers and `report` writes the log line and the metrics.

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName};

use crate::route::Kind;
use crate::state::Permit;
use crate::table::Deployment;
use crate::trace;
use crate::usage::Usage;

/// Longest client `x-request-id` kept; a longer or odd one is replaced by the call id.
const MAX_REQUEST_ID: usize = 128;
/// The request id a client may send and every answer carries (a name built at compile
/// time: a lookup by it neither parses nor lowercases a string).
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What is known about one request.
#[derive(Debug)]
pub struct Call {
    /// `x-litellm-call-id`: unique per request.
    pub id: String,
    /// `x-request-id`: the client's, else the call id; returned and logged.
    pub request_id: String,
    pub started: Instant,
    /// The model call's route (the metrics label); `None` for the answers that need no model.
    pub route: Option<Kind>,
    /// The `hashed_api_key` metrics label.
    pub key_label: String,
    /// The virtual key calling (index into the table's keys), and its held parallel slots.
    pub key: Option<u16>,
    pub key_ticket: Option<crate::keys::limit::Ticket>,
    pub requested: Option<String>,
    /// The global parallel-request slot, held until the call ends.
    pub global_permit: Option<Permit>,
    /// Where the request stands in a trace (continued from the client's `traceparent`).
    pub trace: trace::Context,
    /// What the attempts came to; empty until `retry` returns.
    pub outcome: Outcome,
}

/// The deployment an attempt reached, and when it sent the request there.
#[derive(Debug)]
pub struct Reached {
    pub index: u16,
    pub deployment: &'static Deployment,
    /// The model name sent upstream.
    pub upstream_model: String,
    /// The deployment's base URL as it may be shown (`x-litellm-model-api-base`).
    pub api_base: Option<http::HeaderValue>,
    pub sent_at: Instant,
    /// The deployment's slot, held until the call ends.
    pub permit: Permit,
}

/// The provider's response head as an attempt heard it.
#[derive(Debug)]
pub struct Head {
    pub at: Instant,
    pub headers: HeaderMap,
}

/// What one attempt came to besides its answer or error.
#[derive(Debug, Default)]
pub struct Attempted {
    /// The deployment it reached; `None` when none could be picked.
    pub reached: Option<Reached>,
    /// The provider's response head, when one came.
    pub head: Option<Head>,
    /// Usage read from a whole reply, and its cost (a stream reports its own at its end).
    pub usage: Option<Usage>,
    pub cost: Option<f64>,
}

/// What a provider said is left of its rate limits (`x-ratelimit-remaining-requests`,
/// `x-ratelimit-remaining-tokens`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Remaining {
    pub requests: Option<f64>,
    pub tokens: Option<f64>,
}

impl Remaining {
    fn of(headers: Option<&HeaderMap>) -> Remaining {
        let read = |name: &str| headers?.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
        Remaining { requests: read("x-ratelimit-remaining-requests"), tokens: read("x-ratelimit-remaining-tokens") }
    }
}

/// The call's attempts, summed up once by `retry`.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The last deployment an attempt reached (perhaps before a last attempt that could pick none).
    pub reached: Option<Reached>,
    /// Whether the last attempt reached it: the deployment metrics and statistics are charged to.
    pub last: bool,
    /// When the provider's response head came, on the attempt that reached [`Outcome::reached`].
    pub head_at: Option<Instant>,
    /// The last attempt's provider response headers, until `respond` has copied them into
    /// the answer (`llm_provider-*`): a stream does not hold them for its life.
    pub headers: Option<HeaderMap>,
    /// The provider's `x-ratelimit-remaining-*` counts on the last attempt, for the metrics.
    pub provider_remaining: Remaining,
    pub usage: Option<Usage>,
    pub cost: Option<f64>,
    /// Time to the first streamed bytes, reported by the stream at its end.
    pub ttft: Option<Duration>,
    /// Attempts after the first, in any group (`x-litellm-attempted-retries`).
    pub retries: u32,
    /// Fallback groups tried (`x-litellm-attempted-fallbacks`), and the last one.
    pub fallbacks: u32,
    pub fallback_group: Option<&'static str>,
}

impl Outcome {
    /// The deployment the last attempt reached, for metrics and statistics.
    pub fn charged(&self) -> Option<&Reached> {
        self.reached.as_ref().filter(|_| self.last)
    }

    /// The time from sending to the provider's response head.
    pub fn api_latency(&self) -> Option<Duration> {
        let sent = self.reached.as_ref()?.sent_at;
        Some(self.head_at?.saturating_duration_since(sent))
    }

    /// Folds in one attempt, the latest: its deployment and head replace the earlier ones'.
    pub fn add(&mut self, attempted: Attempted) {
        let Attempted { reached, head, usage, cost } = attempted;
        self.last = reached.is_some();
        if let Some(reached) = reached {
            self.reached = Some(reached);
            self.head_at = None;
        }
        self.head_at = head.as_ref().map(|h| h.at).or(self.head_at);
        self.headers = head.map(|h| h.headers);
        self.provider_remaining = Remaining::of(self.headers.as_ref());
        (self.usage, self.cost) = (usage, cost);
    }

    /// The call's cost from its usage, deployment and the model it was sent with.
    pub fn price(&self) -> Option<f64> {
        let reached = self.reached.as_ref()?;
        crate::usage::cost(reached.deployment, &reached.upstream_model, self.usage.as_ref()?)
    }
}

impl Call {
    pub fn new(headers: &HeaderMap) -> Self {
        // A call id names a request in logs and headers; it needs to be unique, not secret.
        let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
        // Encoded straight into its text, not through `Display`'s formatting machinery.
        let id = id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned();
        let request_id = headers
            .get(X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(|| id.clone(), str::to_owned);
        Call {
            id,
            request_id,
            started: Instant::now(),
            route: None,
            key_label: "None".to_owned(),
            key: None,
            key_ticket: None,
            requested: None,
            global_permit: None,
            trace: trace::Context::from_headers(headers),
            outcome: Outcome::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn client_request_ids_are_kept_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("req-42"));
        assert_eq!(Call::new(&headers).request_id, "req-42");
        headers.insert("x-request-id", HeaderValue::from_static("has space"));
        let call = Call::new(&headers);
        assert_eq!(call.request_id, call.id);
        assert_ne!(Call::new(&HeaderMap::new()).id, call.id);
    }

    /// An attempt that reached deployment 0 of the compiled table, with a head or not.
    async fn attempted(state: &crate::state::State, sent_at: Instant, head: bool) -> Attempted {
        let table = crate::table::COMPILED;
        let crate::state::Admission::Admitted(permit) = state.admit(0, table.deployment(0), sent_at).await else {
            panic!("the base table's deployment takes calls")
        };
        let reached = Reached {
            index: 0,
            deployment: table.deployment(0),
            upstream_model: "m".into(),
            api_base: Some(http::HeaderValue::from_static("b")),
            sent_at,
            permit,
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining-requests", http::HeaderValue::from_static(" 41 "));
        let head = head.then(|| Head { at: sent_at + Duration::from_millis(5), headers });
        Attempted { reached: Some(reached), head, usage: None, cost: None }
    }

    #[tokio::test]
    async fn an_outcome_keeps_the_last_deployment_reached_and_only_the_last_attempts_head() {
        let state = crate::state::State::local(crate::table::COMPILED);
        let sent = Instant::now();
        let mut outcome = Outcome::default();
        outcome.add(attempted(&state, sent, true).await);
        assert_eq!(outcome.api_latency(), Some(Duration::from_millis(5)));
        assert!(outcome.charged().is_some() && outcome.headers.is_some());
        assert_eq!(outcome.provider_remaining, Remaining { requests: Some(41.0), tokens: None });
        // A retry that picks no deployment: the one reached before is still shown, not charged.
        outcome.add(Attempted::default());
        assert!(outcome.reached.is_some() && outcome.charged().is_none() && outcome.headers.is_none());
        assert_eq!(outcome.provider_remaining, Remaining::default(), "only the last attempt's head counts");
        assert_eq!(outcome.api_latency(), Some(Duration::from_millis(5)));
        // A retry on a deployment that sent no head: no latency from the earlier head.
        outcome.add(attempted(&state, sent + Duration::from_millis(10), false).await);
        assert!(outcome.charged().is_some());
        assert_eq!(outcome.api_latency(), None);
    }
}
