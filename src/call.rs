//! One request's facts as the stages learn them (ids, model, deployment, timings, usage),
//! for its response headers (`respond`), its log line and its metrics (`report`).

use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::state::Permit;
use crate::table::Deployment;
use crate::trace;
use crate::usage::Usage;

/// Longest client `x-request-id` kept; a longer or odd one is replaced by the call id.
const MAX_REQUEST_ID: usize = 128;

/// What is known about one request.
#[derive(Debug)]
pub struct Call {
    /// `x-litellm-call-id`: unique per request.
    pub id: String,
    /// `x-request-id`: the client's, else the call id; returned and logged.
    pub request_id: String,
    pub started: Instant,
    /// The route label of metrics (`/chat/completions`, ...).
    pub route: &'static str,
    /// Whether this is a model call, counted by metrics.
    pub model_call: bool,
    /// The `hashed_api_key` metrics label.
    pub key_label: String,
    /// The virtual key calling (index into the table's keys), and its held parallel slots.
    pub key: Option<u16>,
    pub key_ticket: Option<crate::keys::limit::Ticket>,
    pub requested: Option<String>,
    pub deployment_index: Option<u16>,
    pub deployment: Option<&'static Deployment>,
    pub upstream_model: Option<String>,
    pub api_base: Option<String>,
    pub upstream_headers: Option<HeaderMap>,
    pub sent_at: Option<Instant>,
    pub head_at: Option<Instant>,
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
    pub cost: Option<f64>,
    /// Attempts after the first, in any group (`x-litellm-attempted-retries`).
    pub retries: u32,
    /// Fallback groups tried (`x-litellm-attempted-fallbacks`), and the last one.
    pub fallbacks: u32,
    pub fallback_group: Option<&'static str>,
    /// The chosen deployment's slot and the global one, held until the call ends.
    pub permit: Option<Permit>,
    pub global_permit: Option<Permit>,
    /// Where the request stands in a trace (continued from the client's `traceparent`).
    pub trace: trace::Context,
}

impl Call {
    pub fn new(headers: &HeaderMap) -> Self {
        // A call id names a request in logs and headers; it needs to be unique, not secret.
        let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid().to_string();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(|| id.clone(), str::to_owned);
        Call {
            id,
            request_id,
            started: Instant::now(),
            route: "",
            model_call: false,
            key_label: "None".to_owned(),
            key: None,
            key_ticket: None,
            requested: None,
            deployment_index: None,
            deployment: None,
            upstream_model: None,
            api_base: None,
            upstream_headers: None,
            sent_at: None,
            head_at: None,
            ttft: None,
            usage: None,
            cost: None,
            retries: 0,
            fallbacks: 0,
            fallback_group: None,
            permit: None,
            global_permit: None,
            trace: trace::Context::from_headers(headers),
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
}
