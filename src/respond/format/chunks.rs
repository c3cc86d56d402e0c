//! OpenAI chat (and completion) chunks: each rewritten (`model` → the requested name, null
//! `finish_reason` dropped), a usage chunk the client did not ask for kept to the gateway
//! (`cost` added to one it did ask for), a provider's `{"error": ...}` event relayed and
//! counted as a failure, the stream ended by `data: [DONE]`. A translating provider's
//! stream is written so by its translator instead ([`Chunks::fuse`]).

use super::Failure;
use crate::provider::ChatClient;
use crate::provider::Source;
use crate::provider::{CHUNKS_DONE as DONE, chunk_error_event as error_event};
use crate::respond::rewrite::Spliced;
use crate::table::Deployment;
use crate::usage::Usage;

/// The chat chunk format's state.
pub struct Chunks {
    model: String,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    client_usage: bool,
    /// The deployment and the model it was called with, to price the usage chunk.
    price: Option<(&'static Deployment, String)>,
    usage: Option<Usage>,
    done: bool,
}

impl Chunks {
    pub fn new(model: String, client_usage: bool, price: Option<(&'static Deployment, String)>) -> Self {
        Chunks { model, client_usage, price, usage: None, done: false }
    }

    pub fn event(&mut self, data: &[u8], out: &mut Vec<u8>) -> Option<String> {
        if self.done {
            return None;
        }
        if data == b"[DONE]" {
            out.extend_from_slice(DONE);
            self.done = true;
            return None;
        }
        if let Some(message) = error_message(data) {
            // A provider's (or translator's) error event goes to the client as it is, and
            // the request counts as failed.
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\n\n");
            return Some(message);
        }
        let mark = out.len();
        let seen = rewrite(data, &self.model, out)?;
        if let Some(usage) = seen.usage {
            self.usage = Some(usage);
            if !self.client_usage && seen.no_choices {
                out.truncate(mark);
            } else {
                self.add_cost(out, mark);
            }
        }
        None
    }

    /// LiteLLM adds the call's `cost` to the usage chunk it relays.
    fn add_cost(&self, out: &mut Vec<u8>, from: usize) {
        const USAGE_OPEN: &[u8] = b"\"usage\":{";
        let (Some((d, model)), Some(usage)) = (&self.price, &self.usage) else { return };
        let Some(cost) = crate::usage::cost(d, model, usage) else { return };
        if let Some(at) = out[from..].windows(USAGE_OPEN.len()).position(|w| w == USAGE_OPEN) {
            let at = from + at + USAGE_OPEN.len();
            let member = format!("\"cost\":{cost},");
            out.splice(at..at, member.bytes());
        }
    }

    /// LiteLLM's error event for a `failure`, then `[DONE]`, unless the stream was done.
    pub fn end(&mut self, failure: Option<Failure<'_>>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if let Some(failure) = failure {
            out.extend_from_slice(&error_event(failure.message, failure.kind, failure.code));
        }
        out.extend_from_slice(DONE);
        self.done = true;
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// A translated `source` written by its translator as this format would write it
    /// (`translate::client`), so its chat bytes are not decoded and rewritten here; a
    /// provider's own chunks (OpenAI-compatible) still go through [`Chunks::event`].
    pub fn fuse(&self, source: Source) -> Source {
        let Source::Translated(translated) = source else { return source };
        let client = ChatClient::new(self.model.clone(), self.client_usage, self.price.clone());
        Source::Translated(Box::new(translated.into_chat_client(client)))
    }
}

/// Rewrites one chunk for the client: `model` becomes the requested name, and a null
/// `finish_reason` is left out as LiteLLM does. Data that is not JSON passes unchanged.
/// Returns what the fast path saw of the chunk (its usage), if it took it.
pub fn rewrite(data: &[u8], model: &str, out: &mut Vec<u8>) -> Option<Spliced> {
    out.extend_from_slice(b"data: ");
    let seen = crate::respond::rewrite::model(data, model, true, out);
    if seen.is_none() {
        let mark = out.len();
        if !crate::respond::rewrite::reparse(data, model, true, out) {
            out.truncate(mark);
            out.extend_from_slice(data);
        }
    }
    out.extend_from_slice(b"\n\n");
    seen
}

/// The message of an `{"error": ...}` event, if `data` is one.
fn error_message(data: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        error: serde_json::Value,
    }
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    if !data[start..].starts_with(b"{\"error\"") {
        return None;
    }
    let event: Event = serde_json::from_slice(data).ok()?;
    let message = event.error.get("message").and_then(serde_json::Value::as_str).map(str::to_owned);
    Some(message.unwrap_or_else(|| event.error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_sets_model_and_drops_null_finish_reason() {
        let mut out = Vec::new();
        rewrite(
            br#"{"model":"up","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#,
            "asked",
            &mut out,
        );
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(text, "data: {\"model\":\"asked\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n");
        let mut out = Vec::new();
        rewrite(b"{ \"choices\": [{\"finish_reason\": null}] }", "asked", &mut out);
        assert_eq!(out, b"data: {\"choices\":[{}],\"model\":\"asked\"}\n\n", "spaced JSON takes the full parse");
        let mut out = Vec::new();
        rewrite(b"not json", "asked", &mut out);
        assert_eq!(out, b"data: not json\n\n");
    }
}
