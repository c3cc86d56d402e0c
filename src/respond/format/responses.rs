//! The Responses API's events and objects, relayed from a provider that speaks the API:
//! each event written with its `event:` name (and `id:`) as the provider sent it, nothing
//! added at its end (no `[DONE]`). Only the response object is touched, spliced in place:
//! its `id` (and `previous_response_id`) become the ids the gateway issues
//! (`provider::responses`), its `model` the requested name on a create. Usage is read from
//! `response.completed`, `response.incomplete` and `response.failed`; `response.failed` and
//! `error` events count as failures. A failure at the gateway is an `error` event.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::Failure;
use crate::framing::sse::Event;
use crate::usage::Usage;

/// How a response object is rewritten for the client.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// What the issuing deployment's ids start with (`resp_mr1_<tag>_`).
    pub prefix: String,
    /// The requested name, set as `model` (creates); `None` keeps the provider's.
    pub model: Option<String>,
}

/// What a rewritten object held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Seen {
    pub usage: Option<Usage>,
    /// `error.message` of a failed response.
    pub error: Option<String>,
}

/// The members of a reply object (a response, a deletion, a list) the gateway reads or
/// rewrites, borrowed.
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    object: Option<&'a str>,
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    previous_response_id: Option<&'a RawValue>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

/// The members of an event the gateway reads, borrowed.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
    #[serde(default)]
    sequence_number: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// Writes the JSON object `json` with its response members rewritten, what it saw; `None`
/// (nothing written) when it is not a JSON object. Objects that are not responses (an
/// input-items list, a token count) pass byte for byte; a deleted response's `id` is
/// rewritten too.
pub fn object(json: &[u8], issuer: &Issuer, out: &mut Vec<u8>) -> Option<Seen> {
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    match serde_json::from_slice::<Reply<'_>>(json) {
        Ok(object) => {
            let is_response = matches!(object.object, Some("response" | "response.deleted"));
            let mut edits = Vec::new();
            let seen = if is_response { rewrite(&object, json, issuer, &mut edits) } else { Seen::default() };
            splice(json, &mut edits, out);
            Some(seen)
        }
        Err(_) => reparse(json, issuer, None, out),
    }
}

/// The edits of one response object's members (offsets into `json`) and what it said.
fn rewrite(object: &Reply<'_>, json: &[u8], issuer: &Issuer, edits: &mut Vec<(usize, usize, Vec<u8>)>) -> Seen {
    for raw in [object.id, object.previous_response_id].into_iter().flatten() {
        if let (Some(at), Ok(id)) = (offset(json, raw), serde_json::from_str::<String>(raw.get())) {
            edits.push((at, at + raw.get().len(), quoted(&format!("{}{id}", issuer.prefix))));
        }
    }
    if let (Some(raw), Some(model)) = (object.model, &issuer.model) {
        if let Some(at) = offset(json, raw) {
            edits.push((at, at + raw.get().len(), quoted(model)));
        }
    }
    let error = object.error.as_ref().and_then(|e| e.get("message")).and_then(Value::as_str).map(str::to_owned);
    Seen { usage: object.usage, error }
}

/// Where `raw`, borrowed from `json`, starts in it.
fn offset(json: &[u8], raw: &RawValue) -> Option<usize> {
    let at = raw.get().as_ptr().addr().checked_sub(json.as_ptr().addr())?;
    (json.get(at..at + raw.get().len()) == Some(raw.get().as_bytes())).then_some(at)
}

fn quoted(text: &str) -> Vec<u8> {
    serde_json::to_vec(text).unwrap_or_default()
}

/// Writes `json` with each `(start, end, text)` edit in place.
fn splice(json: &[u8], edits: &mut [(usize, usize, Vec<u8>)], out: &mut Vec<u8>) {
    edits.sort_by_key(|(start, ..)| *start);
    let mut at = 0;
    for (start, end, text) in edits.iter() {
        if *start < at {
            continue;
        }
        out.extend_from_slice(&json[at..*start]);
        out.extend_from_slice(text);
        at = *end;
    }
    out.extend_from_slice(&json[at..]);
}

/// The slow path (duplicate keys, odd JSON): a full parse, the response (at `pointer`, or
/// the object itself) rewritten, written back.
fn reparse(json: &[u8], issuer: &Issuer, pointer: Option<&str>, out: &mut Vec<u8>) -> Option<Seen> {
    let Ok(mut value @ Value::Object(_)) = serde_json::from_slice::<Value>(json) else { return None };
    let mut seen = Seen::default();
    let target = match pointer {
        Some(pointer) => value.pointer_mut(pointer),
        None => Some(&mut value),
    };
    if let Some(Value::Object(response)) = target {
        let kind = response.get("object").and_then(Value::as_str);
        if pointer.is_some() || matches!(kind, Some("response" | "response.deleted")) {
            for key in ["id", "previous_response_id"] {
                if let Some(Value::String(id)) = response.get_mut(key) {
                    *id = format!("{}{id}", issuer.prefix);
                }
            }
            if let Some(model) = &issuer.model {
                response.insert("model".into(), Value::String(model.clone()));
            }
            seen.usage = response.get("usage").and_then(|u| serde_json::from_value(u.clone()).ok());
            let error = response.get("error").and_then(|e| e.get("message")).and_then(Value::as_str);
            seen.error = error.map(str::to_owned);
        }
    }
    serde_json::to_writer(&mut *out, &value).ok()?;
    Some(seen)
}

/// The Responses event format's state.
pub struct Events {
    issuer: Issuer,
    usage: Option<Usage>,
    /// The last `sequence_number` seen, for an error event the gateway adds.
    sequence: Option<u64>,
    /// A terminal event (`response.completed`, `.incomplete`, `.failed`) has been relayed.
    ended: bool,
}

/// The events whose `response` is rewritten; the last three end a response.
const LIFECYCLE: &[&str] = &[
    "response.created",
    "response.queued",
    "response.in_progress",
    "response.completed",
    "response.incomplete",
    "response.failed",
];

impl Events {
    pub fn new(issuer: Issuer) -> Self {
        Events { issuer, usage: None, sequence: None, ended: false }
    }

    pub fn event(&mut self, event: &Event, out: &mut Vec<u8>) -> Option<String> {
        if let Some(name) = &event.name {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(name);
            out.push(b'\n');
        }
        if let Some(id) = &event.id {
            out.extend_from_slice(b"id: ");
            out.extend_from_slice(id);
            out.push(b'\n');
        }
        out.extend_from_slice(b"data: ");
        let failure = self.data(&event.data, out);
        out.extend_from_slice(b"\n\n");
        failure
    }

    /// Writes one event's data rewritten; the failure it reports.
    fn data(&mut self, data: &[u8], out: &mut Vec<u8>) -> Option<String> {
        let object = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let Some(top) = serde_json::from_slice::<Top<'_>>(data).ok().filter(|_| object) else {
            if reparse(data, &self.issuer, Some("/response"), out).is_none() {
                out.extend_from_slice(data);
            }
            return None;
        };
        self.sequence = top.sequence_number.or(self.sequence);
        let kind = top.kind.unwrap_or_default();
        if kind == "error" {
            out.extend_from_slice(data);
            return Some(top.message.unwrap_or_else(|| "error".to_owned()));
        }
        let response = top.response.filter(|_| LIFECYCLE.contains(&kind));
        let Some(response) = response else {
            out.extend_from_slice(data);
            return None;
        };
        let mut edits = Vec::new();
        let seen = match serde_json::from_str::<Reply<'_>>(response.get()) {
            Ok(object) => rewrite(&object, data, &self.issuer, &mut edits),
            Err(_) => Seen::default(),
        };
        splice(data, &mut edits, out);
        if matches!(kind, "response.completed" | "response.incomplete" | "response.failed") {
            self.ended = true;
            self.usage = seen.usage.or(self.usage);
        }
        (kind == "response.failed").then(|| seen.error.unwrap_or_else(|| "the response failed".to_owned()))
    }

    /// An `error` event for a failure at the gateway, numbered after the last event.
    pub fn end(&mut self, failure: Option<Failure<'_>>, out: &mut Vec<u8>) {
        let Some(failure) = failure else { return };
        let sequence = self.sequence.map_or(0, |n| n + 1);
        let event = serde_json::json!({
            "type": "error",
            "code": failure.code.to_string(),
            "message": failure.message,
            "param": null,
            "sequence_number": sequence,
        });
        out.extend_from_slice(b"event: error\ndata: ");
        let _ = serde_json::to_writer(&mut *out, &event);
        out.extend_from_slice(b"\n\n");
        self.ended = true;
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;

    fn issuer(model: Option<&str>) -> Issuer {
        Issuer { prefix: "resp_mr1_0123456789abcdef_".into(), model: model.map(str::to_owned) }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn response_objects_get_issued_ids_and_the_requested_model_in_place() {
        let json = br#"{"id":"resp_1","object":"response","model":"gpt-up","previous_response_id":"resp_0","output":[{"id":"msg_1","type":"message"}],"usage":{"input_tokens":3,"output_tokens":5,"total_tokens":8,"input_tokens_details":{"cached_tokens":1}}}"#;
        let mut out = Vec::new();
        let seen = object(json, &issuer(Some("asked")), &mut out).unwrap_or_default();
        assert_eq!(
            text(out),
            r#"{"id":"resp_mr1_0123456789abcdef_resp_1","object":"response","model":"asked","previous_response_id":"resp_mr1_0123456789abcdef_resp_0","output":[{"id":"msg_1","type":"message"}],"usage":{"input_tokens":3,"output_tokens":5,"total_tokens":8,"input_tokens_details":{"cached_tokens":1}}}"#
        );
        let usage = seen.usage.unwrap_or_default();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens()), (3, 5, 1));
    }

    #[test]
    fn other_objects_pass_byte_for_byte() {
        for json in [
            &br#"{"object":"list","data":[{"id":"msg_1"}],"first_id":"msg_1"}"#[..],
            br#"{"object":"response.input_tokens","input_tokens":7}"#,
        ] {
            let mut out = Vec::new();
            assert!(object(json, &issuer(Some("asked")), &mut out).is_some());
            assert_eq!(out, json);
        }
        let mut out = Vec::new();
        object(br#"{"id":"resp_1","object":"response.deleted","deleted":true}"#, &issuer(None), &mut out);
        assert_eq!(
            text(out),
            r#"{"id":"resp_mr1_0123456789abcdef_resp_1","object":"response.deleted","deleted":true}"#
        );
        assert!(object(b"[1]", &issuer(None), &mut Vec::new()).is_none());
    }

    fn event(name: &str, data: &str) -> Event {
        Event { name: Some(BytesMut::from(name.as_bytes())), id: None, data: data.as_bytes().to_vec() }
    }

    #[test]
    fn events_keep_their_names_and_only_the_response_changes() {
        let mut events = Events::new(issuer(Some("asked")));
        let mut out = Vec::new();
        let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","model":"up","status":"in_progress"}}"#;
        let delta = r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","delta":"Hi"}"#;
        let completed = r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","model":"up","usage":{"input_tokens":4,"output_tokens":2,"total_tokens":6}}}"#;
        for (name, data) in
            [("response.created", created), ("response.output_text.delta", delta), ("response.completed", completed)]
        {
            assert_eq!(events.event(&event(name, data), &mut out), None);
        }
        events.end(None, &mut out);
        let want = format!(
            "event: response.created\ndata: {}\n\nevent: response.output_text.delta\ndata: {delta}\n\nevent: response.completed\ndata: {}\n\n",
            created.replace(r#""resp_1""#, r#""resp_mr1_0123456789abcdef_resp_1""#).replace(r#""up""#, r#""asked""#),
            completed.replace(r#""resp_1""#, r#""resp_mr1_0123456789abcdef_resp_1""#).replace(r#""up""#, r#""asked""#),
        );
        assert_eq!(text(out), want, "nothing appended at the end");
        assert_eq!(events.usage().map(|u| u.total_tokens), Some(6));
    }

    #[test]
    fn failures_are_reported_and_a_gateway_failure_is_an_error_event() {
        let mut events = Events::new(issuer(None));
        let mut out = Vec::new();
        let failed = r#"{"type":"response.failed","sequence_number":4,"response":{"id":"r","object":"response","error":{"code":"server_error","message":"boom"}}}"#;
        assert_eq!(events.event(&event("response.failed", failed), &mut out).as_deref(), Some("boom"));
        let error = r#"{"type":"error","code":"x","message":"bad","param":null,"sequence_number":5}"#;
        assert_eq!(events.event(&event("error", error), &mut out).as_deref(), Some("bad"));
        let mut out = Vec::new();
        events.end(Some(Failure { message: "stalled", kind: "timeout", code: 408 }), &mut out);
        assert_eq!(
            text(out),
            "event: error\ndata: {\"code\":\"408\",\"message\":\"stalled\",\"param\":null,\"sequence_number\":6,\"type\":\"error\"}\n\n"
        );
    }
}
