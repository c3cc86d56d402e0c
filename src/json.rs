//! One validating pass over a JSON object, handing each top-level member (its key and the
//! byte range of its value) to the caller: how `parse` splits a request body into its
//! members without serde's walk into a map of its own. It only ever accepts text
//! `serde_json` accepts too (RFC 8259: structure, strings with their escapes and no control
//! characters, numbers, literals, UTF-8 throughout); anything it is not sure of (an escaped
//! key, nesting deeper than asked, malformed text) it declines, and the caller takes serde's
//! path, which decides and words the error.
//!
//! serde_json is the only JSON crate in reach (no simd-json or sonic-rs in the registry this
//! builds from). With this pass the `parse` stage of a 1 KB chat request went from 12.0k to
//! 8.3k instructions under callgrind. Replies stay with serde's typed walk
//! (`respond::rewrite`): for an object of many short members with a typed `usage` beside
//! them, this pass measured no cheaper than serde's derive (13.2k before, 14.6k with it).

use std::ops::Range;

/// Deepest nesting [`object`] follows (the top-level object counts as one); the bit set of
/// open containers is a `u64`.
pub const MAX_DEPTH: usize = 64;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const WORD: usize = 8;

/// Walks `json`, which must be one JSON object (whitespace around it allowed), nested at most
/// `max_depth` deep (capped at [`MAX_DEPTH`]; every bracket counts, as `parse::scan` counts
/// them), calling `member(key, value)` for each top-level member in order: `key` where the
/// bytes between its quotes lie in `json`, `value` where its value's text does. `false` when the text
/// is declined (see the module doc) or `member` returned `false`; members seen before that
/// were handed over all the same.
pub fn object(json: &[u8], max_depth: usize, mut member: impl FnMut(Range<usize>, Range<usize>) -> bool) -> bool {
    if std::str::from_utf8(json).is_err() {
        return false;
    }
    let max_depth = max_depth.min(MAX_DEPTH);
    let mut at = skip_space(json, 0);
    if json.get(at) != Some(&b'{') || max_depth == 0 {
        return false;
    }
    at = skip_space(json, at + 1);
    if json.get(at) == Some(&b'}') {
        return skip_space(json, at + 1) == json.len();
    }
    loop {
        let Some((key, start)) = key(json, at) else { return false };
        let Some(end) = value(json, start, max_depth - 1) else { return false };
        if !member(key, start..end) {
            return false;
        }
        at = skip_space(json, end);
        match json.get(at) {
            Some(b',') => at = skip_space(json, at + 1),
            Some(b'}') => return skip_space(json, at + 1) == json.len(),
            _ => return false,
        }
    }
}

/// A key without escapes at `at` and its colon: where the key's bytes are and where its value
/// starts.
fn key(json: &[u8], at: usize) -> Option<(Range<usize>, usize)> {
    if json.get(at) != Some(&b'"') {
        return None;
    }
    let (end, escaped) = string(json, at + 1)?;
    if escaped {
        return None;
    }
    let colon = skip_space(json, end);
    (json.get(colon) == Some(&b':')).then(|| (at + 1..end - 1, skip_space(json, colon + 1)))
}

/// Where the value starting at `at` ends, its containers nested at most `levels` deep.
fn value(json: &[u8], mut at: usize, levels: usize) -> Option<usize> {
    // Bit `d` of `objects` is set when the container open at depth `d + 1` is an object.
    let (mut objects, mut depth) = (0u64, 0usize);
    loop {
        // A value starts at `at`.
        match *json.get(at)? {
            b'"' => at = string(json, at + 1)?.0,
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                let inner = skip_space(json, at + 1);
                if depth == levels {
                    return None;
                }
                if json.get(inner) == Some(&close) {
                    at = inner + 1;
                } else {
                    objects = (objects & !(1 << depth)) | (u64::from(open == b'{') << depth);
                    depth += 1;
                    at = if open == b'{' { key(json, inner)?.1 } else { inner };
                    continue;
                }
            }
            b't' => at = literal(json, at, b"true")?,
            b'f' => at = literal(json, at, b"false")?,
            b'n' => at = literal(json, at, b"null")?,
            _ => at = number(json, at)?,
        }
        // A value ended at `at`: close what it ends, up to the next value.
        loop {
            if depth == 0 {
                return Some(at);
            }
            let in_object = objects >> (depth - 1) & 1 == 1;
            at = skip_space(json, at);
            match (json.get(at)?, in_object) {
                (b',', true) => {
                    at = key(json, skip_space(json, at + 1))?.1;
                    break;
                }
                (b',', false) => {
                    at = skip_space(json, at + 1);
                    break;
                }
                (b'}', true) | (b']', false) => {
                    depth -= 1;
                    at += 1;
                }
                _ => return None,
            }
        }
    }
}

/// Where the string whose contents start at `at` ends (past its closing quote), and whether
/// it holds an escape. Eight bytes at a time until a quote, backslash or control byte.
fn string(json: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        while let Some(word) = json.get(at..at + WORD).and_then(|w| <[u8; WORD]>::try_from(w).ok()) {
            let word = u64::from_le_bytes(word);
            let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
            let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
            let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
            let found = quote | backslash | control;
            if found != 0 {
                // The lowest flagged byte is a true match; borrows only flag bytes above it.
                at += (found.trailing_zeros() / 8) as usize;
                break;
            }
            at += WORD;
        }
        match *json.get(at)? {
            b'"' => return Some((at + 1, escaped)),
            b'\\' => {
                escaped = true;
                at = escape(json, at + 1)?;
            }
            byte if byte < 0x20 => return None,
            _ => at += 1,
        }
    }
}

/// The high bit of each zero byte of `word` (and possibly of bytes above one).
const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// Past the escape whose letter is at `at`. Out of line: most strings hold none.
#[cold]
fn escape(json: &[u8], at: usize) -> Option<usize> {
    match *json.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => json.get(at + 1..at + 5)?.iter().all(u8::is_ascii_hexdigit).then_some(at + 5),
        _ => None,
    }
}

fn literal(json: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    json.get(at..)?.starts_with(word).then_some(at + word.len())
}

/// Past the number at `at`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(json: &[u8], mut at: usize) -> Option<usize> {
    if json.get(at) == Some(&b'-') {
        at += 1;
    }
    match *json.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at = digits(json, at),
        _ => return None,
    }
    if json.get(at) == Some(&b'.') {
        at = some_digits(json, at + 1)?;
    }
    if matches!(json.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(json.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        at = some_digits(json, at)?;
    }
    Some(at)
}

fn digits(json: &[u8], at: usize) -> usize {
    at + json.get(at..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count())
}

/// Past one or more digits at `at`.
fn some_digits(json: &[u8], at: usize) -> Option<usize> {
    let end = digits(json, at);
    (end > at).then_some(end)
}

fn skip_space(json: &[u8], mut at: usize) -> usize {
    while matches!(json.get(at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::value::RawValue;

    use super::*;

    /// The members as the scan hands them over, `None` when it declines.
    fn members(json: &str, depth: usize) -> Option<Vec<(String, String)>> {
        let mut seen = Vec::new();
        let ok = object(json.as_bytes(), depth, |key, value| {
            seen.push((json[key].to_owned(), json[value].to_owned()));
            true
        });
        ok.then_some(seen)
    }

    /// What serde_json makes of the same text, the way `parse` reads a body.
    fn serde_members(json: &str) -> Option<BTreeMap<String, String>> {
        let map: BTreeMap<String, &RawValue> = serde_json::from_str(json).ok()?;
        Some(map.into_iter().map(|(k, v)| (k, v.get().to_owned())).collect())
    }

    #[test]
    fn members_and_their_values_are_found() {
        let json = r#" { "a" : 1 , "b":[1,{"c":"}"}], "d":{"e":null},"f":"x\"y","g":-0.5e+3,"h":true } "#;
        let want = [("a", "1"), ("b", r#"[1,{"c":"}"}]"#), ("d", r#"{"e":null}"#), ("f", r#""x\"y""#)];
        let got = members(json, 64).unwrap_or_default();
        assert_eq!(got.len(), 6);
        for ((key, value), (want_key, want_value)) in got.iter().zip(want) {
            assert_eq!((key.as_str(), value.as_str()), (want_key, want_value));
        }
        assert_eq!(got[4].1, "-0.5e+3");
        assert_eq!(members("{}", 1), Some(vec![]));
        assert_eq!(members("{ }", 1), Some(vec![]));
    }

    #[test]
    fn what_is_not_a_valid_object_is_declined() {
        for bad in [
            "",
            "[]",
            "1",
            "{",
            "{}x",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12G4"}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\t\"}",
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":"x}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":truex}"#,
            r#"{"\u0061":1}"#,
        ] {
            assert_eq!(members(bad, 64), None, "{bad:?}");
        }
        assert!(!object(b"{\"a\":\"\xff\"}", 64, |_, _| true), "not UTF-8");
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |levels: usize| format!(r#"{{"a":{}1{}}}"#, "[".repeat(levels), "]".repeat(levels));
        assert!(members(&nested(63), 64).is_some());
        assert_eq!(members(&nested(64), 64), None);
        assert!(members(&nested(63), 200).is_some());
        assert_eq!(members(&nested(64), 200), None, "capped at MAX_DEPTH");
        assert!(members(r#"{"a":[[],{},[]]}"#, 3).is_some());
        assert_eq!(members(r#"{"a":[[],{}]}"#, 2), None, "an empty container is a level too, as parse::scan counts");
    }

    #[test]
    fn a_member_can_stop_the_walk() {
        let mut seen = 0;
        assert!(!object(br#"{"a":1,"b":2,"c":3}"#, 8, |_, _| {
            seen += 1;
            seen < 2
        }));
        assert_eq!(seen, 2);
    }

    /// JSON-ish text: valid JSON, sometimes broken by one edit, and whether the edit was a
    /// backslash (which may escape a key and so be declined).
    fn json_text() -> impl Strategy<Value = (String, bool)> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            "[ -~]{0,12}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
        ];
        let value = leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(" , "))),
                prop::collection::vec(("[a-z]{0,3}", inner), 0..6).prop_map(|m| {
                    let m: Vec<String> = m.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", m.join(","))
                }),
            ]
        });
        let object = prop::collection::vec(("[a-z]{0,3}", value), 0..6).prop_map(|m| {
            let m: Vec<String> = m.into_iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{{}}}", m.join(","))
        });
        (
            object,
            any::<prop::sample::Index>(),
            prop::sample::select(&["", "x", "\"", ",", "]", "}", "\\", "0", "\u{1}"][..]),
        )
            .prop_map(|(text, at, edit)| {
                let bounds: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
                let cut = bounds[at.index(bounds.len())];
                (format!("{}{edit}{}", &text[..cut], &text[cut..]), edit == "\\")
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever the scan accepts, serde_json accepts with the same members (the last of
        /// a repeated key winning, as `parse` keeps it); valid text without escaped keys it
        /// accepts.
        #[test]
        fn the_scan_agrees_with_serde_json((json, backslash) in json_text()) {
            let serde = serde_members(&json);
            match members(&json, MAX_DEPTH) {
                Some(seen) => {
                    let seen: BTreeMap<String, String> = seen.into_iter().collect();
                    prop_assert_eq!(Some(seen), serde);
                }
                None => prop_assert!(serde.is_none() || backslash, "declined valid {json:?}"),
            }
        }
    }
}
