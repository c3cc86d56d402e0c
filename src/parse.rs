//! The request body: read within its size and time limits, checked for nesting depth,
//! parsed into a [`CallRequest`] whose fields stay raw JSON, so parameters the gateway does
//! not own reach the provider byte for byte. The request goes on to `resolve`.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use serde_json::value::RawValue;

use crate::error::Error;
use crate::route::Api;

/// Deepest JSON nesting accepted; real requests use a handful of levels.
pub const MAX_JSON_DEPTH: usize = 64;
/// Longest model name accepted.
pub const MAX_MODEL_LEN: usize = 512;
/// Time allowed to receive a request body once its head has arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
const BYTES_PER_MB: u64 = 1024 * 1024;

/// A JSON object's members, values kept as raw JSON. A repeated key keeps its last value,
/// as Python's `json` (and so LiteLLM) does, so gateway and provider read the same request.
#[derive(Debug, Clone, Default)]
pub struct Fields(BTreeMap<String, Box<RawValue>>);

impl Fields {
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.get(key).map(AsRef::as_ref)
    }

    /// A string member, `None` when absent or not a string.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn insert(&mut self, key: &str, value: Box<RawValue>) {
        self.0.insert(key.to_owned(), value);
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        self.0.remove(key)
    }

    /// The object as compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let size = self.0.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum::<usize>() + 2;
        let mut out = Vec::with_capacity(size);
        out.push(b'{');
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing a String into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, key);
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

/// A model call as the gateway needs to see it.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub api: Api,
    /// The model the client asked for: the response's `model`, the metrics' `requested_model`.
    pub model: String,
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
    pub fields: Fields,
}

/// Reads the body, refusing more than `limit` bytes (413) or a body that does not arrive
/// within [`BODY_TIMEOUT`] (408).
pub async fn read_body<B>(body: B, headers: &HeaderMap, limit: u64) -> Result<Bytes, Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let too_large = Error::TooLarge { limit_mb: limit.div_ceil(BYTES_PER_MB) };
    let declared =
        headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large);
    }
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => Err(Error::ClientTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large),
        Ok(Err(e)) => Err(Error::BodyRead(e.to_string())),
    }
}

/// Parses a model call. `path_model` (Azure-style routes) stands in for a missing `model`.
pub fn call_request(api: Api, path_model: Option<&str>, body: &[u8]) -> Result<CallRequest, Error> {
    let fields = object(body)?;
    let route = api.route();
    let model = match (fields.get("model"), path_model) {
        (Some(raw), _) => serde_json::from_str::<String>(raw.get()).map_err(|_| Error::BadParam {
            route,
            param: "model",
            reason: "must be a string".into(),
        })?,
        (None, Some(path)) => path.to_owned(),
        (None, None) => return Err(Error::MissingParam { route, param: "model" }),
    };
    if model.is_empty() {
        return Err(Error::MissingParam { route, param: "model" });
    }
    if model.len() > MAX_MODEL_LEN {
        return Err(Error::BadParam { route, param: "model", reason: format!("longer than {MAX_MODEL_LEN} bytes") });
    }
    let required: &[&'static str] = match api {
        Api::Chat => &["messages"],
        Api::Completions => &["prompt"],
        Api::Embeddings => &["input"],
        Api::Messages => &["messages", "max_tokens"],
    };
    if let Some(param) = required.iter().find(|p| !fields.contains(p)) {
        return Err(Error::MissingParam { route, param });
    }
    let stream = match fields.get("stream").map(RawValue::get) {
        None | Some("null" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::BadParam { route, param: "stream", reason: "must be true or false".into() }),
    };
    let include_usage = fields
        .get("stream_options")
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .and_then(|v| v.get("include_usage").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    Ok(CallRequest { api, model, stream, include_usage, fields })
}

/// A body that must be one JSON object, nested no deeper than [`MAX_JSON_DEPTH`].
pub fn object(body: &[u8]) -> Result<Fields, Error> {
    if depth(body) > MAX_JSON_DEPTH {
        return Err(Error::BadJson(format!("nested deeper than {MAX_JSON_DEPTH} levels")));
    }
    let map: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            Error::BadJson("the request body must be a JSON object".into())
        } else {
            Error::BadJson(e.to_string())
        }
    })?;
    Ok(Fields(map))
}

/// The deepest bracket nesting in `json`, ignoring brackets inside strings. String
/// contents, most of a chat request, are skipped with `memchr` rather than byte by byte.
fn depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    while let Some(&b) = json.get(at) {
        match b {
            b'"' => {
                at = after_string(json, at + 1);
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    deepest
}

/// Where the string whose contents start at `from` ends (just past its closing quote), or
/// the end of `json` when it does not close.
fn after_string(json: &[u8], mut from: usize) -> usize {
    while let Some(found) = json.get(from..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
        let at = from + found;
        if json[at] == b'"' {
            return at + 1;
        }
        from = at + 2; // an escape: skip the escaped byte, be it a quote or a backslash
    }
    json.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_byte_for_byte() {
        let body = br#"{"model":"m","messages":[],"new_param":{"x": [1, 2.50]},"stream":true}"#;
        let req = call_request(Api::Chat, None, body).unwrap_or_else(|e| panic!("{e}"));
        assert!(req.stream);
        let out = String::from_utf8(req.fields.to_json()).unwrap_or_default();
        assert!(out.contains(r#""new_param":{"x": [1, 2.50]}"#), "{out}");
    }

    #[test]
    fn missing_parameters_are_named() {
        let e = call_request(Api::Chat, None, br#"{"model":"m"}"#).err();
        assert_eq!(e.map(|e| e.to_string()), Some("/chat/completions: Missing required parameter: 'messages'.".into()));
        let e = call_request(Api::Embeddings, None, br#"{"input":"x"}"#).err();
        assert_eq!(e.and_then(|e| e.param().map(str::to_owned)), Some("model".into()));
    }

    #[test]
    fn messages_need_max_tokens() {
        let e = call_request(Api::Messages, None, br#"{"model":"m","messages":[]}"#).err();
        assert_eq!(e.map(|e| e.to_string()), Some("/v1/messages: Missing required parameter: 'max_tokens'.".into()));
        assert!(call_request(Api::Messages, None, br#"{"model":"m","messages":[],"max_tokens":1}"#).is_ok());
    }

    #[test]
    fn path_model_stands_in_for_the_body() {
        let req = call_request(Api::Chat, Some("dep"), br#"{"messages":[]}"#).map(|r| r.model);
        assert_eq!(req.ok().as_deref(), Some("dep"));
    }

    #[test]
    fn bad_json_and_deep_nesting_are_400s() {
        for body in [&b"{\"model\": "[..], b"[1,2]", b"\"text\""] {
            assert!(matches!(call_request(Api::Chat, None, body), Err(Error::BadJson(_))));
        }
        let deep = format!("{{\"model\":\"m\",\"messages\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(call_request(Api::Chat, None, deep.as_bytes()), Err(Error::BadJson(_))));
    }

    /// The byte-at-a-time scan `depth` replaced, kept as its specification.
    fn depth_bytewise(json: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
        for &b in json {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_string = true;
            } else if b == b'{' || b == b'[' {
                depth += 1;
                deepest = deepest.max(depth);
            } else if b == b'}' || b == b']' {
                depth = depth.saturating_sub(1);
            }
        }
        deepest
    }

    proptest::proptest! {
        #[test]
        fn depth_agrees_with_the_bytewise_scan(json in proptest::collection::vec(
            proptest::sample::select(b"\"\\[]{}a:,".to_vec()), 0..200)) {
            proptest::prop_assert_eq!(depth(&json), depth_bytewise(&json));
        }
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(depth(br#"{"a":"[[[[\"[["}"#), 1);
        assert_eq!(depth(br#"{"a":"\\","b":[[1]]}"#), 3, "an escaped backslash does not escape the quote");
        assert_eq!(depth(br#"{"a":"[[[ never closed"#), 1);
        assert_eq!(depth(br#"{"a":"ends in an escape\"#), 1);
        assert_eq!(depth(br#"{"a":[{"b":[]}]}"#), 4);
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let req = call_request(Api::Chat, None, br#"{"model":"a","messages":[],"model":"b"}"#).map(|r| r.model);
        assert_eq!(req.ok().as_deref(), Some("b"));
    }

    #[test]
    fn include_usage_is_read() {
        let body = br#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#;
        assert!(call_request(Api::Chat, None, body).is_ok_and(|r| r.include_usage));
    }
}
