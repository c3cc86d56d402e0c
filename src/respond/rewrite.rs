//! Puts the requested model name into a provider's JSON without re-serialising it: a
//! borrowing parse finds the top-level `model` value, which is spliced; `"finish_reason":
//! null` members are cut as LiteLLM leaves them out. Bytes the splice cannot handle get a
//! full parse instead. Used by `respond` for whole bodies relayed from a provider that
//! speaks the client's format (a translator writes the requested name itself) and by
//! `format::chunks` for each chunk.

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::usage::Usage;

/// The top-level members the gateway reads, borrowed from the input; the rest is skipped.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    choices: Option<Choices>,
}

/// Whether `choices` is `[]`: found while serde skips the value, without the UTF-8 check
/// and copy a borrowed raw value would cost over the whole list.
struct Choices {
    empty: bool,
}

impl<'de> Deserialize<'de> for Choices {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ChoicesVisitor)
    }
}

/// Reads any JSON value as [`Choices`]: only an array without elements is empty.
struct ChoicesVisitor;

impl<'de> Visitor<'de> for ChoicesVisitor {
    type Value = Choices;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Choices, A::Error> {
        let empty = seq.next_element::<IgnoredAny>()?.is_none();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Choices { empty })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Choices, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Choices { empty: false })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Choices, E> {
        Ok(Choices { empty: false })
    }

    fn visit_i64<E>(self, _: i64) -> Result<Choices, E> {
        Ok(Choices { empty: false })
    }

    fn visit_u64<E>(self, _: u64) -> Result<Choices, E> {
        Ok(Choices { empty: false })
    }

    fn visit_f64<E>(self, _: f64) -> Result<Choices, E> {
        Ok(Choices { empty: false })
    }

    fn visit_str<E>(self, _: &str) -> Result<Choices, E> {
        Ok(Choices { empty: false })
    }

    fn visit_unit<E>(self) -> Result<Choices, E> {
        Ok(Choices { empty: false })
    }
}

/// What a successful splice saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spliced {
    pub usage: Option<Usage>,
    /// `choices` is `[]`: a stream's usage-only chunk.
    pub no_choices: bool,
}

/// A null `finish_reason` member as compact JSON writes it. A `"` inside a JSON string is
/// always escaped, so this never matches string text, nor does `,"` or `{"` around it.
const NULL_FINISH: &[u8] = b"\"finish_reason\":null";

/// Writes `json` to `out` with its top-level `model` set to `model` (and, with
/// `drop_null_finish`, null `finish_reason` members cut). `None` when `json` is not an
/// object or its `model` is missing; nothing is written then.
pub fn model(json: &[u8], model: &str, drop_null_finish: bool, out: &mut Vec<u8>) -> Option<Spliced> {
    let Ok(Top { model: Some(raw), usage, choices }) = serde_json::from_slice::<Top<'_>>(json) else { return None };
    let start = raw.get().as_ptr().addr().wrapping_sub(json.as_ptr().addr());
    let end = start.wrapping_add(raw.get().len());
    if json.get(start..end) != Some(raw.get().as_bytes()) {
        return None;
    }
    let mark = out.len();
    out.extend_from_slice(&json[..start]);
    let _ = serde_json::to_writer(&mut *out, model);
    out.extend_from_slice(&json[end..]);
    if drop_null_finish {
        cut_null_finish(out, mark);
    }
    let no_choices = choices.is_some_and(|c| c.empty);
    Some(Spliced { usage, no_choices })
}

/// Removes null `finish_reason` members from `out[from..]` in one pass: kept bytes move down
/// over the cut ones, so the cost is linear in the chunk however many members are cut.
fn cut_null_finish(out: &mut Vec<u8>, from: usize) {
    let finder = memchr::memmem::Finder::new(NULL_FINISH);
    let (mut read, mut write) = (from, from);
    while let Some(found) = finder.find(&out[read..]) {
        let at = read + found;
        out.copy_within(read..at, write);
        write += at - read;
        read = at;
        let after = at + NULL_FINISH.len();
        let (before, next) = (write.checked_sub(1).map(|i| out[i]), out.get(after).copied());
        let closes = matches!(next, Some(b'}' | b','));
        if closes && before == Some(b',') {
            // `,"finish_reason":null`: the comma already written goes too.
            write -= 1;
            read = after;
        } else if next == Some(b',') && before == Some(b'{') {
            // `"finish_reason":null,` as the first member.
            read = after + 1;
        } else {
            out[write] = out[read];
            write += 1;
            read += 1;
        }
    }
    out.copy_within(read.., write);
    out.truncate(write + (out.len() - read));
}

/// The slow path: a full parse, `model` set or added, null `finish_reason`s removed.
/// `false` when `json` is not a JSON object.
pub fn reparse(json: &[u8], model: &str, drop_null_finish: bool, out: &mut Vec<u8>) -> bool {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(json) else { return false };
    object.insert("model".into(), Value::String(model.to_owned()));
    if drop_null_finish && let Some(Value::Array(choices)) = object.get_mut("choices") {
        for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
            if choice.get("finish_reason").is_some_and(Value::is_null) {
                choice.remove("finish_reason");
            }
        }
    }
    serde_json::to_writer(out, &object).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spliced(json: &str, drop: bool) -> Option<String> {
        let mut out = Vec::new();
        model(json.as_bytes(), "asked", drop, &mut out).map(|_| String::from_utf8(out).unwrap_or_default())
    }

    #[test]
    fn top_level_model_is_replaced_in_place() {
        let json = r#"{"id":"x","model":"up","choices":[{"model":"inner"}],"z":1}"#;
        assert_eq!(
            spliced(json, false).as_deref(),
            Some(r#"{"id":"x","model":"asked","choices":[{"model":"inner"}],"z":1}"#)
        );
        assert_eq!(spliced(r#"{ "model" : "up" }"#, false).as_deref(), Some(r#"{ "model" : "asked" }"#));
    }

    #[test]
    fn names_are_escaped() {
        let mut out = Vec::new();
        assert!(model(br#"{"model":"x"}"#, "a\"b", false, &mut out).is_some());
        assert_eq!(out, br#"{"model":"a\"b"}"#);
    }

    #[test]
    fn null_finish_reasons_are_cut_wherever_they_stand() {
        let json = r#"{"model":"m","choices":[{"index":0,"finish_reason":null},{"finish_reason":null,"index":1},{"finish_reason":"stop"}]}"#;
        let want = r#"{"model":"asked","choices":[{"index":0},{"index":1},{"finish_reason":"stop"}]}"#;
        assert_eq!(spliced(json, true).as_deref(), Some(want));
        let text = r#"{"model":"m","choices":[{"delta":{"content":"\"finish_reason\":null,"}}]}"#;
        assert_eq!(
            spliced(text, true).as_deref(),
            Some(r#"{"model":"asked","choices":[{"delta":{"content":"\"finish_reason\":null,"}}]}"#)
        );
    }

    #[test]
    fn many_null_finish_reasons_in_one_chunk_are_all_cut() {
        let choices: Vec<String> = (0..1000)
            .map(|i| {
                if i % 2 == 0 {
                    format!(r#"{{"finish_reason":null,"index":{i}}}"#)
                } else {
                    format!(r#"{{"index":{i},"finish_reason":null}}"#)
                }
            })
            .collect();
        let json = format!(r#"{{"model":"m","choices":[{}]}}"#, choices.join(","));
        let want: Vec<String> = (0..1000).map(|i| format!(r#"{{"index":{i}}}"#)).collect();
        let want = format!(r#"{{"model":"asked","choices":[{}]}}"#, want.join(","));
        assert_eq!(spliced(&json, true), Some(want));
    }

    #[test]
    fn what_cannot_be_spliced_is_refused() {
        assert_eq!(spliced(r#"{"id":"no model"}"#, false), None);
        assert_eq!(spliced("[1,2]", false), None);
        assert_eq!(spliced(r#"{"model":"a","model":"b"}"#, false), None, "duplicate keys take the slow path");
        assert_eq!(spliced(r#"{"model":"a""#, false), None);
    }

    #[test]
    fn usage_and_empty_choices_are_seen() {
        let mut out = Vec::new();
        let seen = model(
            br#"{"model":"m","choices":[ ],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
            "a",
            true,
            &mut out,
        );
        let seen = seen.unwrap_or(Spliced { usage: None, no_choices: false });
        assert!(seen.no_choices);
        assert_eq!(seen.usage.map(|u| u.total_tokens), Some(3));
        let seen = model(br#"{"model":"m","choices":[{}]}"#, "a", true, &mut out);
        assert_eq!(seen, Some(Spliced { usage: None, no_choices: false }));
        // Whatever else a provider puts there is spliced all the same, and is not `[]`.
        for choices in ["null", "{}", r#"{"a":[]}"#, r#""[]""#, "0", "-1", "1.5", "true", "[[]]", "[null]"] {
            out.clear();
            let json = format!(r#"{{"model":"m","choices":{choices},"id":"x"}}"#);
            let seen = model(json.as_bytes(), "a", true, &mut out);
            assert_eq!(seen, Some(Spliced { usage: None, no_choices: false }), "{choices}");
            assert_eq!(out, format!(r#"{{"model":"a","choices":{choices},"id":"x"}}"#).as_bytes());
        }
        assert_eq!(model(br#"{"model":"m","choices":[1,}"#, "a", true, &mut out), None, "malformed: not spliced");
    }

    #[test]
    fn reparse_adds_a_missing_model() {
        let mut out = Vec::new();
        assert!(reparse(br#"{"id":"x","choices":[{"finish_reason":null}]}"#, "asked", true, &mut out));
        assert_eq!(out, br#"{"choices":[{}],"id":"x","model":"asked"}"#);
    }
}
