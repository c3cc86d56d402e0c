//! The request body: read within its size and time limits, checked for nesting depth,
//! parsed into a [`CallRequest`] whose fields stay raw JSON, so parameters the gateway does
//! not own reach the provider byte for byte. The request goes on to `resolve`.

mod fields;

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;

pub use fields::{Fields, Item, MapFn, Mapped, Member};

use crate::budget::{Budget, Charge};
use crate::error::Error;
use crate::route::{Api, Op};

/// Deepest JSON nesting accepted; real requests use a handful of levels.
pub const MAX_JSON_DEPTH: usize = 64;
/// Longest model name accepted.
pub const MAX_MODEL_LEN: usize = 512;
/// Time allowed to receive a request body once its head has arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
const BYTES_PER_MB: u64 = 1024 * 1024;
/// What a JSON text costs as a `serde_json::Value` tree, at most, beyond its own bytes: each
/// value its slot and the slack of the vector holding it, each object one B-tree leaf, each
/// string (keys too) its allocation ([`Shape::tree_bytes`]).
const TREE_BYTES_PER_VALUE: u64 = 64;
const TREE_BYTES_PER_OBJECT: u64 = 640;
const TREE_BYTES_PER_STRING: u64 = 32;

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
    /// Bytes of memory the request holds under its body's budget charge (its body's
    /// length), beside which a translation charges what it builds.
    pub held: u64,
    /// What a Responses API request does and to which response; `None` for other APIs.
    pub responses: Option<Box<Responses>>,
}

/// The parts of a Responses API request the gateway reads; `input` and everything else
/// stay raw members of [`CallRequest::fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responses {
    pub op: Op,
    /// The response the path names (retrieve, delete, input items, cancel), as the client
    /// sent it.
    pub id: Option<String>,
    /// The path's query (`stream=true&starting_after=N`, `limit`, `after`, ...), passed on.
    pub query: Option<String>,
    /// `previous_response_id` of a create, as the client sent it.
    pub previous_response_id: Option<String>,
    /// The deployment the response named (`id` or `previous_response_id`) was issued by,
    /// once `provider::responses` has decoded it: every attempt goes there.
    pub pinned: Option<u16>,
}

impl CallRequest {
    /// The Responses API operation, `None` for the other APIs.
    pub fn op(&self) -> Option<Op> {
        self.responses.as_ref().map(|r| r.op)
    }
}

/// Reads the body, refusing more than `limit` bytes (413), a body that does not arrive
/// within [`BODY_TIMEOUT`] (408), and one the memory `budget` cannot hold now (503). The
/// body is charged to the budget as it arrives: its `Content-Length` up front, else chunk by
/// chunk; the charge comes back with the body, to be held as long as the body is.
///
/// A body refused for memory is still read to its end (up to `limit`) and dropped as it
/// comes, so an HTTP/1.1 client that sends all of its body before reading the answer hears
/// the 503 rather than a reset connection; one waiting on `Expect: 100-continue` is answered
/// before it sends any.
pub async fn read_body<B>(body: B, headers: &HeaderMap, limit: u64, budget: &Budget) -> Result<(Bytes, Charge), Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared =
        headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(Error::TooLarge { limit_mb: limit.div_ceil(BYTES_PER_MB) });
    }
    let waits = headers.get(http::header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let read = async {
        let mut body = std::pin::pin!(body);
        let refused = match budget.charge(declared.unwrap_or(0)) {
            Err(refused) if waits => return Err(refused),
            Err(refused) => refused,
            Ok(charge) => match collect(body.as_mut(), declared, limit, charge).await {
                Err(refused @ (Error::BodyBudget { .. } | Error::OverBudget { .. })) => refused,
                done => return done,
            },
        };
        discard(body, limit).await;
        Err(refused)
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Err(_) => Err(Error::ClientTimeout),
        Ok(read) => read,
    }
}

/// The body's bytes, growing `charge` as they arrive.
async fn collect<B>(
    mut body: std::pin::Pin<&mut B>,
    declared: Option<u64>,
    limit: u64,
    mut charge: Charge,
) -> Result<(Bytes, Charge), Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    // The declared length is at most `limit`, so this allocation is bounded.
    let mut buf = Vec::with_capacity(usize::try_from(declared.unwrap_or(0)).unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::BodyRead(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        let len = (buf.len() + data.len()) as u64;
        if len > limit {
            return Err(Error::TooLarge { limit_mb: limit.div_ceil(BYTES_PER_MB) });
        }
        if len > charge.bytes() {
            charge.grow(len - charge.bytes())?;
        }
        buf.extend_from_slice(&data);
    }
    Ok((Bytes::from(buf), charge))
}

/// Reads the rest of a refused body, up to `limit` bytes, keeping none of it.
async fn discard<B: http_body::Body<Data = Bytes>>(mut body: std::pin::Pin<&mut B>, limit: u64) {
    let mut seen = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |data| data.len() as u64);
        if seen > limit {
            return;
        }
    }
}

/// Parses a model call from a body the caller only borrows (a copy is made); the gateway
/// hands over its body with [`request`].
pub fn call_request(api: Api, path_model: Option<&str>, body: &[u8]) -> Result<CallRequest, Error> {
    request(api, path_model, &Bytes::copy_from_slice(body))
}

/// Parses a model call; its members stay slices of `body`. `path_model` (Azure-style
/// routes) stands in for a missing `model`.
pub fn request(api: Api, path_model: Option<&str>, body: &Bytes) -> Result<CallRequest, Error> {
    let fields = object(body)?;
    let route = api.route();
    let model = match (fields.json_text("model"), path_model) {
        (Some(raw), _) => plain_string(&raw)
            .map_or_else(|| serde_json::from_str::<String>(&raw), |text| Ok(text.to_owned()))
            .map_err(|_| Error::BadParam { route, param: "model", reason: "must be a string".into() })?,
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
        Api::Responses => &[],
    };
    if let Some(param) = required.iter().find(|p| !fields.contains(p)) {
        return Err(Error::MissingParam { route, param });
    }
    let stream = match fields.json_text("stream").as_deref() {
        None | Some("null" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::BadParam { route, param: "stream", reason: "must be true or false".into() }),
    };
    let include_usage = fields
        .value("stream_options")
        .and_then(|v| v.get("include_usage").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    Ok(CallRequest { api, model, stream, include_usage, fields, held: body.len() as u64, responses: None })
}

/// Parses a Responses API request. A create or input-token count is a JSON body with a
/// `model` (`stream` and `previous_response_id` read, the rest kept raw); the operations
/// on one response carry no body, their model is `model` from the query, else empty (the
/// response's id decides where they go, `provider::responses`).
pub fn responses(op: Op, id: Option<String>, query: Option<&str>, body: &Bytes) -> Result<CallRequest, Error> {
    let query = query.filter(|q| !q.is_empty()).map(str::to_owned);
    let mut request = if op.has_body() {
        request(Api::Responses, None, body)?
    } else {
        let model = query.as_deref().and_then(|q| query_value(q, "model")).unwrap_or_default();
        let stream = query.as_deref().and_then(|q| query_value(q, "stream")).is_some_and(|v| v == "true");
        if model.len() > MAX_MODEL_LEN {
            return Err(Error::BadParam {
                route: op.route(),
                param: "model",
                reason: format!("longer than {MAX_MODEL_LEN} bytes"),
            });
        }
        let fields = Fields::default();
        CallRequest { api: Api::Responses, model, stream, include_usage: false, fields, held: 0, responses: None }
    };
    if op == Op::InputTokens {
        request.stream = false;
    }
    let previous_response_id = match request.fields.json_text("previous_response_id").as_deref() {
        None | Some("null") => None,
        Some(raw) => Some(serde_json::from_str::<String>(raw).map_err(|_| Error::BadParam {
            route: op.route(),
            param: "previous_response_id",
            reason: "must be a string".into(),
        })?),
    };
    request.responses = Some(Box::new(Responses { op, id, query, previous_response_id, pinned: None }));
    Ok(request)
}

/// The text of a JSON string without escapes (`raw` being valid JSON), as it stands between
/// its quotes; `None` for any other value, for serde to read.
fn plain_string(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')?.strip_suffix('"').filter(|text| !text.contains('\\'))
}

/// The percent-decoded value of `key` in a URL query, if it is there.
pub fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
    })
}

/// A body that must be one JSON object, nested no deeper than [`MAX_JSON_DEPTH`]; its
/// members are slices of it.
fn object(body: &Bytes) -> Result<Fields, Error> {
    if let Some(fields) = Fields::read(body, MAX_JSON_DEPTH) {
        return Ok(fields);
    }
    if scan(body).depth > MAX_JSON_DEPTH {
        return Err(Error::BadJson(format!("nested deeper than {MAX_JSON_DEPTH} levels")));
    }
    let fields = Fields::parse_with_serde(body).map_err(|e| {
        if e.is_data() {
            Error::BadJson("the request body must be a JSON object".into())
        } else {
            Error::BadJson(e.to_string())
        }
    })?;
    Ok(fields)
}

/// What one pass over a JSON text learns of its structure.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The deepest bracket nesting.
    pub depth: usize,
    /// Values after the first (`,` and `:` outside strings).
    pub values: u64,
    pub objects: u64,
    /// String literals, keys included.
    pub strings: u64,
}

impl Shape {
    /// The most memory a text of `len` bytes of this shape takes as a tree.
    pub fn tree_bytes(&self, len: usize) -> u64 {
        (len as u64)
            + (self.values + 1) * TREE_BYTES_PER_VALUE
            + self.objects * TREE_BYTES_PER_OBJECT
            + self.strings * TREE_BYTES_PER_STRING
    }
}

/// The [`Shape`] of `json`, ignoring brackets inside strings. String contents, most of a
/// chat request, are skipped with `memchr` rather than byte by byte.
pub fn scan(json: &[u8]) -> Shape {
    let (mut shape, mut depth, mut at) = (Shape::default(), 0usize, 0usize);
    while let Some(&b) = json.get(at) {
        match b {
            b'"' => {
                shape.strings += 1;
                at = after_string(json, at + 1);
                continue;
            }
            b'{' | b'[' => {
                shape.objects += u64::from(b == b'{');
                depth += 1;
                shape.depth = shape.depth.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' | b':' => shape.values += 1,
            _ => {}
        }
        at += 1;
    }
    shape
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

    /// The one-pass split (`crate::json`) and serde's, which takes what it declines, agree on
    /// where the depth limit falls, on repeated keys and on escaped ones.
    #[test]
    fn the_fast_split_and_its_fallback_read_the_same_request() {
        let nested = |levels: usize| {
            format!(r#"{{"model":"m","messages":{}{}}}"#, "[".repeat(levels - 1), "]".repeat(levels - 1))
        };
        assert!(call_request(Api::Chat, None, nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let refused = call_request(Api::Chat, None, nested(MAX_JSON_DEPTH + 1).as_bytes()).map(|r| r.model);
        assert!(matches!(refused, Err(Error::BadJson(why)) if why.contains("deeper than 64")));
        let escaped = br#"{"m\u006fdel":"esc\"aped","messages":[],"model":"m","model":"last"}"#;
        let req = call_request(Api::Chat, None, escaped).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.model, "last", "the last of a repeated key wins");
        let escaped = br#"{"m\u006fdel":"esc\"aped","messages":[]}"#;
        let req = call_request(Api::Chat, None, escaped).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.model, "esc\"aped", "an escaped key is serde's to read");
        let bad = call_request(Api::Chat, None, br#"{"model":"m","messages":[],"x":tru}"#).map(|r| r.model);
        assert!(matches!(bad, Err(Error::BadJson(why)) if why.contains("line 1")), "serde words the error");
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
            proptest::prop_assert_eq!(scan(&json).depth, depth_bytewise(&json));
        }
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        let depth = |json: &[u8]| scan(json).depth;
        assert_eq!(depth(br#"{"a":"[[[[\"[["}"#), 1);
        assert_eq!(depth(br#"{"a":"\\","b":[[1]]}"#), 3, "an escaped backslash does not escape the quote");
        assert_eq!(depth(br#"{"a":"[[[ never closed"#), 1);
        assert_eq!(depth(br#"{"a":"ends in an escape\"#), 1);
        assert_eq!(depth(br#"{"a":[{"b":[]}]}"#), 4);
    }

    #[test]
    fn the_shape_counts_values_objects_and_strings_outside_strings() {
        let shape = scan(br#"{"a":[1,{"b":"x,:{"}],"c":null}"#);
        assert_eq!(shape, Shape { depth: 3, values: 5, objects: 2, strings: 4 });
        let small = scan(br#"{"s":"a long string with no structure at all"}"#).tree_bytes(49);
        let many = scan(br"[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]").tree_bytes(49);
        assert!(many > 10 * small, "many small nodes cost more than one string: {many} vs {small}");
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let req = call_request(Api::Chat, None, br#"{"model":"a","messages":[],"model":"b"}"#).map(|r| r.model);
        assert_eq!(req.ok().as_deref(), Some("b"));
    }

    #[test]
    fn responses_bodies_keep_input_and_unknown_fields_raw() {
        let body = Bytes::from_static(
            br#"{"model":"m","input":[{"role":"user","content":"hi"}],"stream":true,"previous_response_id":"resp_1","reasoning":{"effort":"low"}}"#,
        );
        let req = responses(Op::Create, None, None, &body).unwrap_or_else(|e| panic!("{e}"));
        assert!(req.stream && req.api == Api::Responses && req.op() == Some(Op::Create));
        let parts = req.responses.as_deref().map(|r| r.previous_response_id.clone());
        assert_eq!(parts, Some(Some("resp_1".to_owned())));
        assert_eq!(
            req.fields.get("input").map(|raw| raw.get().to_owned()).as_deref(),
            Some(r#"[{"role":"user","content":"hi"}]"#)
        );
        assert!(req.fields.contains("reasoning"));
        let bad = Bytes::from_static(br#"{"model":"m","previous_response_id":7}"#);
        assert!(matches!(
            responses(Op::Create, None, None, &bad),
            Err(Error::BadParam { param: "previous_response_id", .. })
        ));
        assert!(matches!(
            responses(Op::Create, None, None, &Bytes::from_static(b"{}")),
            Err(Error::MissingParam { .. })
        ));
    }

    #[test]
    fn response_operations_need_no_body() {
        let req = responses(
            Op::Retrieve,
            Some("resp_1".into()),
            Some("stream=true&starting_after=3&model=a%2Fb"),
            &Bytes::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(req.stream);
        assert_eq!(req.model, "a/b");
        let parts = req.responses.as_deref().map(|r| (r.id.clone(), r.query.clone()));
        assert_eq!(parts, Some((Some("resp_1".into()), Some("stream=true&starting_after=3&model=a%2Fb".into()))));
    }

    #[test]
    fn include_usage_is_read() {
        let body = br#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#;
        assert!(call_request(Api::Chat, None, body).is_ok_and(|r| r.include_usage));
    }
}
