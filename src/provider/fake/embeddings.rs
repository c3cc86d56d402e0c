//! The fake provider's embeddings: deterministic unit vectors, one per input, seeded by the
//! input's text, base64 when the request asks (the OpenAI SDK does by default). Every bound
//! (inputs, tokens in a token list, dimensions, numbers in the reply) is checked before a vector
//! is drawn, `input` is read item by item without being copied, and the reply is written
//! straight to bytes; `fake` hands them back as the provider's reply.

use std::fmt;
use std::io::Write as _;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use crate::error::Error;
use crate::parse::CallRequest;
use crate::route::Api;

/// Embedding width when the request sets no `dimensions`.
const DEFAULT_DIMENSIONS: usize = 1536;
/// The widest embedding: text-embedding-3-large's 3072, OpenAI's widest.
const MAX_DIMENSIONS: usize = 3072;
/// Most inputs one call takes, as OpenAI allows.
const MAX_INPUTS: usize = 2048;
/// Most token ids in one token-list input: OpenAI's embedding models take 8192 tokens.
const MAX_INPUT_TOKENS: usize = 8192;
/// Most numbers one reply holds (inputs × dimensions): 8 MiB of f32, about 11 MiB as base64
/// and at most 30 MiB as JSON floats. That is 2048 inputs of 1024 dimensions, 1365 of the
/// default 1536, or 682 of 3072.
const MAX_NUMBERS: usize = 1 << 21;
/// Bytes an embedding object takes besides its vector (`{"object":"embedding",...}`).
const OBJECT_BYTES: usize = 64;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The reply to an embeddings `request`, as JSON bytes, or 400 if it asks beyond the bounds.
pub fn reply(model: &str, request: &CallRequest) -> Result<Bytes, Error> {
    let route = Api::Embeddings.route();
    let dimensions = dimensions(request)?;
    let input = request.fields.get("input");
    let raw = input.as_deref().map_or("null", serde_json::value::RawValue::get);
    let inputs = serde_json::from_str::<Inputs>(raw)
        .map_err(|e| Error::BadParam { route, param: "input", reason: reason(&e) })?
        .0;
    if inputs.is_empty() {
        return Err(Error::BadParam { route, param: "input", reason: format!("must hold 1 to {MAX_INPUTS} items") });
    }
    let numbers = inputs.len().saturating_mul(dimensions);
    if numbers > MAX_NUMBERS {
        let reason = format!(
            "{} inputs of {dimensions} dimensions are {numbers} numbers; this provider answers at most {MAX_NUMBERS} per call (send fewer inputs or dimensions)",
            inputs.len()
        );
        return Err(Error::BadParam { route, param: "dimensions", reason });
    }
    let base64 = request.fields.text("encoding_format").as_deref() == Some("base64");
    Ok(Bytes::from(write(model, &inputs, dimensions, base64)))
}

/// `dimensions`, when given (not `null`), a whole number from 1 to [`MAX_DIMENSIONS`].
fn dimensions(request: &CallRequest) -> Result<usize, Error> {
    let field = request.fields.get("dimensions");
    let Some(raw) = field.as_deref().map(serde_json::value::RawValue::get).filter(|raw| *raw != "null") else {
        return Ok(DEFAULT_DIMENSIONS);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_DIMENSIONS).contains(&n) => Ok(n),
        _ => Err(Error::BadParam {
            route: Api::Embeddings.route(),
            param: "dimensions",
            reason: format!("must be a whole number from 1 to {MAX_DIMENSIONS}"),
        }),
    }
}

/// serde's message without its " at line 1 column N".
fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The reply, `{"object":"list","data":[...],"model":...,"usage":...}` in OpenAI's key order,
/// its buffer sized before the first vector is drawn.
fn write(model: &str, inputs: &[Input], dimensions: usize, base64: bool) -> Vec<u8> {
    const MAX_FLOAT_TEXT: usize = "-1.2345678e-10,".len();
    let per_vector = if base64 { (dimensions * 4).div_ceil(3) * 4 + 2 } else { dimensions * MAX_FLOAT_TEXT + 2 };
    let mut out = Vec::with_capacity(inputs.len() * (per_vector + OBJECT_BYTES) + model.len() + OBJECT_BYTES);
    // Writing into a Vec cannot fail.
    out.extend_from_slice(br#"{"object":"list","data":["#);
    for (index, input) in inputs.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let _ = write!(out, r#"{{"object":"embedding","index":{index},"embedding":"#);
        let vector = vector(input.seed, dimensions);
        if base64 {
            let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
            out.push(b'"');
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(bytes).as_bytes());
            out.push(b'"');
        } else {
            let _ = serde_json::to_writer(&mut out, &vector);
        }
        out.push(b'}');
    }
    let tokens: usize = inputs.iter().map(|i| i.tokens).sum();
    out.extend_from_slice(b"],\"model\":");
    let _ = serde_json::to_writer(&mut out, model);
    let _ = write!(out, r#","usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}"#);
    out
}

/// A unit vector drawn from xorshift64* seeded with `seed`.
fn vector(seed: u64, dimensions: usize) -> Vec<f32> {
    const XORSHIFT_MULTIPLIER: u64 = 0x2545_f491_4f6c_dd1d;
    let mut state = seed | 1;
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        reason = "a spread of values, not exact ones"
    )]
    let raw: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let unit = (state.wrapping_mul(XORSHIFT_MULTIPLIER) >> 11) as f64 / (1u64 << 53) as f64;
            (unit * 2.0 - 1.0) as f32
        })
        .collect();
    let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    raw.into_iter().map(|v| v / norm).collect()
}

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME))
}

/// One input: the FNV-1a hash of its text (of its compact JSON for a token list), and the
/// tokens it counts for in `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Input {
    seed: u64,
    tokens: usize,
}

impl Input {
    fn text(text: &str) -> Self {
        Input { seed: fnv(FNV_OFFSET, text.as_bytes()), tokens: text.split_whitespace().count().max(1) }
    }
}

/// A token list hashed as its compact JSON (`[1,2,3]`) while it is read.
struct Tokens(Input);

impl Tokens {
    fn new() -> Self {
        Tokens(Input { seed: fnv(FNV_OFFSET, b"["), tokens: 0 })
    }

    fn push<E: de::Error>(&mut self, id: u64) -> Result<(), E> {
        if self.0.tokens == MAX_INPUT_TOKENS {
            return Err(E::custom(format!("a token list holds at most {MAX_INPUT_TOKENS} token ids")));
        }
        if self.0.tokens > 0 {
            self.0.seed = fnv(self.0.seed, b",");
        }
        self.0.seed = fnv(self.0.seed, id.to_string().as_bytes());
        self.0.tokens += 1;
        Ok(())
    }

    fn finish<E: de::Error>(self) -> Result<Input, E> {
        if self.0.tokens == 0 {
            return Err(E::custom("a token list must not be empty"));
        }
        Ok(Input { seed: fnv(self.0.seed, b"]"), tokens: self.0.tokens })
    }
}

/// `input`: a string, a token list, or a list of strings or token lists, read item by item so
/// that a long list stops at the bound.
struct Inputs(Vec<Input>);

impl<'de> Deserialize<'de> for Inputs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InputsVisitor)
    }
}

struct InputsVisitor;

impl<'de> Visitor<'de> for InputsVisitor {
    type Value = Inputs;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a list of strings, a list of token ids or a list of token lists")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Inputs, E> {
        Ok(Inputs(vec![Input::text(text)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Inputs, A::Error> {
        let mut inputs = Vec::new();
        let mut tokens = Tokens::new();
        while let Some(item) = seq.next_element::<Item>()? {
            match item {
                Item::Token(id) if inputs.is_empty() => tokens.push(id)?,
                Item::Input(_) if inputs.len() == MAX_INPUTS => {
                    return Err(de::Error::custom(format!("must hold 1 to {MAX_INPUTS} items")));
                }
                Item::Input(input) if tokens.0.tokens == 0 => inputs.push(input),
                _ => return Err(de::Error::custom("mixes token ids with strings or token lists")),
            }
        }
        if tokens.0.tokens > 0 {
            inputs.push(tokens.finish()?);
        }
        Ok(Inputs(inputs))
    }
}

/// One item of an `input` list: a token id (the list is one token list), or an input.
enum Item {
    Token(u64),
    Input(Input),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a token id or a list of token ids")
    }

    fn visit_u64<E: de::Error>(self, id: u64) -> Result<Item, E> {
        Ok(Item::Token(id))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Item, E> {
        Ok(Item::Input(Input::text(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        let mut tokens = Tokens::new();
        while let Some(id) = seq.next_element::<u64>()? {
            tokens.push(id)?;
        }
        tokens.finish().map(Item::Input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::call_request;

    fn outcome(body: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let request = call_request(Api::Embeddings, None, body.to_string().as_bytes())?;
        reply("m", &request).map(|bytes| serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn ask(body: &serde_json::Value) -> serde_json::Value {
        outcome(body).unwrap_or_else(|e| panic!("refused: {e}"))
    }

    fn refused(body: &serde_json::Value) -> (&'static str, String) {
        match outcome(body) {
            Err(Error::BadParam { param, reason, .. }) => (param, reason),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn vectors_are_deterministic_unit_length() {
        let a = vector(fnv(FNV_OFFSET, b"hello"), 16);
        assert_eq!(a, vector(fnv(FNV_OFFSET, b"hello"), 16));
        assert_ne!(a, vector(fnv(FNV_OFFSET, b"world"), 16));
        let norm: f32 = a.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_reply_has_one_embedding_per_input_in_openais_shape() {
        let body = ask(&serde_json::json!({ "model": "m", "input": ["a b", "c"], "dimensions": 8 }));
        assert_eq!(body["object"], "list");
        assert_eq!(body["model"], "m");
        assert_eq!(body["data"][1]["index"], 1);
        assert_eq!(body["data"][1]["object"], "embedding");
        assert_eq!(body["data"][0]["embedding"].as_array().map(Vec::len), Some(8));
        assert_eq!(body["usage"], serde_json::json!({ "prompt_tokens": 3, "total_tokens": 3 }));
        let one = ask(&serde_json::json!({ "model": "m", "input": "c", "dimensions": 8 }));
        assert_eq!(one["data"][0]["embedding"], body["data"][1]["embedding"], "seeded by the text alone");
        let encoded =
            ask(&serde_json::json!({ "model": "m", "input": "c", "dimensions": 8, "encoding_format": "base64" }));
        assert_eq!(encoded["data"][0]["embedding"].as_str().map(str::len), Some(44), "8 f32 in base64");
    }

    #[test]
    fn token_lists_are_seeded_by_their_compact_json_as_before() {
        let tokens = ask(&serde_json::json!({ "model": "m", "input": [1, 2, 3], "dimensions": 4 }));
        let nested = ask(&serde_json::json!({ "model": "m", "input": [[1, 2, 3], [4]], "dimensions": 4 }));
        let text = ask(&serde_json::json!({ "model": "m", "input": "[1,2,3]", "dimensions": 4 }));
        assert_eq!(tokens["data"][0]["embedding"], text["data"][0]["embedding"]);
        assert_eq!(nested["data"][0]["embedding"], text["data"][0]["embedding"]);
        assert_eq!(nested["data"].as_array().map(Vec::len), Some(2));
        assert_eq!(tokens["usage"]["prompt_tokens"], 3, "one token per id");
    }

    #[test]
    fn the_bounds_are_checked_before_any_vector_is_drawn() {
        let many: Vec<String> = (0..MAX_INPUTS).map(|i| i.to_string()).collect();
        let (param, reason) = refused(&serde_json::json!({ "model": "m", "input": many, "dimensions": 8192 }));
        assert_eq!((param, reason.as_str()), ("dimensions", "must be a whole number from 1 to 3072"));
        let (param, reason) = refused(&serde_json::json!({ "model": "m", "input": many, "dimensions": 3072 }));
        assert_eq!(param, "dimensions");
        assert!(
            reason.contains("2048 inputs of 3072 dimensions are 6291456 numbers") && reason.contains("at most 2097152"),
            "{reason}"
        );
        let too_many: Vec<&str> = vec!["x"; MAX_INPUTS + 1];
        assert_eq!(
            refused(&serde_json::json!({ "model": "m", "input": too_many, "dimensions": 1 })),
            ("input", "must hold 1 to 2048 items".into())
        );
        let long = vec![7u32; MAX_INPUT_TOKENS + 1];
        let (param, reason) = refused(&serde_json::json!({ "model": "m", "input": [long] }));
        assert_eq!((param, reason.as_str()), ("input", "a token list holds at most 8192 token ids"));
        assert_eq!(refused(&serde_json::json!({ "model": "m", "input": [] })).1, "must hold 1 to 2048 items");
        assert_eq!(
            refused(&serde_json::json!({ "model": "m", "input": [1, "a"] })).1,
            "mixes token ids with strings or token lists"
        );
        assert!(
            refused(&serde_json::json!({ "model": "m", "input": [1.5] })).1.starts_with("invalid type: floating point")
        );
        for bad in [serde_json::json!(0), serde_json::json!(-1), serde_json::json!(1.5), serde_json::json!("8")] {
            assert_eq!(
                refused(&serde_json::json!({ "model": "m", "input": "x", "dimensions": bad })).0,
                "dimensions",
                "{bad}"
            );
        }
        let widest = ask(
            &serde_json::json!({ "model": "m", "input": vec!["x"; MAX_NUMBERS / MAX_DIMENSIONS], "dimensions": MAX_DIMENSIONS, "encoding_format": "base64" }),
        );
        assert_eq!(
            widest["data"].as_array().map(Vec::len),
            Some(MAX_NUMBERS / MAX_DIMENSIONS),
            "up to the bound is served"
        );
    }
}
