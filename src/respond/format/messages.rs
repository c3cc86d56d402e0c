//! Anthropic's events (`/v1/messages` relayed or translated): each written with its
//! `event:` line, `model` set to the requested name in `message_start`, usage summed from
//! `message_start` and `message_delta`, an `error` event counted as a failure; a failure at
//! the gateway ends the stream with an Anthropic `error` event.

use super::Failure;
use crate::usage::Usage;

/// The Anthropic event format's state.
pub struct Messages {
    model: String,
    usage: Option<Usage>,
    ended: bool,
}

impl Messages {
    pub fn new(model: String) -> Self {
        Messages { model, usage: None, ended: false }
    }

    pub fn event(&mut self, data: &[u8], out: &mut Vec<u8>) -> Option<String> {
        let seen = message_event(data, &self.model, out);
        let usage = self.usage.get_or_insert_default();
        usage.prompt_tokens = seen.input_tokens.unwrap_or(usage.prompt_tokens);
        usage.completion_tokens = seen.output_tokens.unwrap_or(usage.completion_tokens);
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
        seen.error
    }

    pub fn end(&mut self, failure: Option<Failure<'_>>, out: &mut Vec<u8>) {
        if let Some(failure) = failure.filter(|_| !self.ended) {
            out.extend_from_slice(&crate::provider::message_error_event(failure.message, failure.code));
        }
        self.ended = true;
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

/// What a relayed Anthropic event said, for the request's usage and outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MessageSeen {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// The message of an `error` event.
    pub error: Option<String>,
}

/// Writes one Anthropic event (`event: <type>` and its data) for the client, `model` set
/// to the requested name in `message_start`; other events pass byte for byte. Data that is
/// not a JSON object with a `type` is dropped.
pub fn message_event(data: &[u8], model: &str, out: &mut Vec<u8>) -> MessageSeen {
    let mut seen = MessageSeen::default();
    let Ok(mut event) = serde_json::from_slice::<serde_json::Value>(data) else { return seen };
    let Some(kind) = event.get("type").and_then(serde_json::Value::as_str).map(str::to_owned) else { return seen };
    let count = |usage: Option<&serde_json::Value>, key: &str| usage?.get(key)?.as_u64();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if kind == "message_start" {
        let usage = event.pointer("/message/usage");
        (seen.input_tokens, seen.output_tokens) = (count(usage, "input_tokens"), count(usage, "output_tokens"));
        if let Some(message) = event.get_mut("message").and_then(serde_json::Value::as_object_mut) {
            message.insert("model".into(), serde_json::Value::String(model.to_owned()));
        }
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &event);
    } else {
        let usage = event.get("usage");
        (seen.input_tokens, seen.output_tokens) = (count(usage, "input_tokens"), count(usage, "output_tokens"));
        if kind == "error" {
            let message = event.pointer("/error/message").and_then(serde_json::Value::as_str);
            seen.error = Some(message.unwrap_or("error").to_owned());
        }
        out.extend_from_slice(data);
    }
    out.extend_from_slice(b"\n\n");
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_events_keep_their_type_and_get_the_model() {
        let mut out = Vec::new();
        let seen = message_event(
            br#"{"type":"message_start","message":{"model":"up","usage":{"input_tokens":7,"output_tokens":1}}}"#,
            "asked",
            &mut out,
        );
        assert_eq!(seen, MessageSeen { input_tokens: Some(7), output_tokens: Some(1), error: None });
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.starts_with("event: message_start\ndata: {") && text.contains(r#""model":"asked""#), "{text}");
        let mut out = Vec::new();
        let seen = message_event(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "a",
            &mut out,
        );
        assert_eq!(seen.error.as_deref(), Some("Overloaded"));
        assert!(out.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        let mut out = Vec::new();
        assert_eq!(message_event(b"[DONE]", "a", &mut out), MessageSeen::default());
        assert!(out.is_empty());
    }
}
