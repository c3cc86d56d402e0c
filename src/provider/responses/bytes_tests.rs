//! Byte pins of what the bridge writes: streamed events (completed, incomplete, failed) and
//! a whole reply, compared byte for byte with `tests/fixtures/responses/pin.*` (generated
//! ids numbered, `completed_at` masked), so a change to how events and items are built
//! cannot reorder a key or change an escape unnoticed. `UPDATE_GOLDEN=1` rewrites them.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::object::Head;
use super::stream::Events;
use crate::framing::sse::transcript;
use crate::parse::Fields;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/responses");
/// What the ids the client sees start with, in these pins.
const ISSUED: &str = "resp_mr1_0123456789abcdef_";
/// A request whose echo holds a previous response (issued to the client with the prefix),
/// instructions with escapes and a tool.
const REQUEST: &str = r#"{"model":"claude","input":"Hi","previous_response_id":"resp_prev","instructions":"Be \"brief\".\n","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"temperature":0.5}"#;

fn head() -> Head {
    let request = Fields::parse(&bytes::Bytes::from_static(REQUEST.as_bytes())).unwrap_or_default();
    Head::new("resp_test".into(), "claude".into(), 1_700_000_000, &request)
}

/// Chat SSE `data` lines, each a chunk.
fn sse(chunks: &[&str]) -> String {
    chunks.iter().flat_map(|c| ["data: ", c, "\n\n"]).collect()
}

fn delta(delta: &str) -> String {
    format!(r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{delta}}}]}}"#)
}

/// Thinking, text, then two tool calls interleaved (one without an id), finished with usage.
fn completed() -> String {
    let chunks = [
        delta(r#"{"role":"assistant","reasoning_content":"Think \"hard\"\n"}"#),
        delta(r#"{"reasoning_content":"é then ✓"}"#),
        delta(r#"{"content":"Hi <b>"}"#),
        delta(r#"{"content":" there\u2028"}"#),
        delta(r#"{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"get_weather","arguments":"{\"city\":"}}]}"#),
        delta(r#"{"tool_calls":[{"index":1,"function":{"name":"get_time","arguments":""}}]}"#),
        delta(r#"{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}"#),
        delta(r#"{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}"#),
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":15,"completion_tokens":30,"total_tokens":45,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":12}}}"#.to_owned(),
        "[DONE]".to_owned(),
    ];
    sse(&chunks.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Text, then a tool call still open when the provider's error arrives.
fn failed() -> String {
    let chunks = [
        delta(r#"{"role":"assistant","content":"Partial"}"#),
        delta(r#"{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"f","arguments":"{\"x\":"}}]}"#),
        r#"{"error":{"message":"overloaded \"now\"","type":"throttling_error","param":null,"code":"429"}}"#.to_owned(),
    ];
    sse(&chunks.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Thinking, still open when the stream ends without a finish.
fn cut_off() -> String {
    sse(&[&delta(r#"{"reasoning_content":"Hmm"}"#)])
}

/// Text cut short by the length limit.
fn incomplete() -> String {
    let chunks = [
        delta(r#"{"content":"Once upon"}"#),
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#.to_owned(),
        "[DONE]".to_owned(),
    ];
    sse(&chunks.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The events the translator writes for a chat SSE transcript, with the client's ids.
fn stream(input: &str) -> String {
    let mut head = head();
    head.issued = ISSUED.into();
    let events = std::cell::RefCell::new(Events::new(head));
    transcript(input, |data, out| events.borrow_mut().event(data, out), |out| events.borrow_mut().finish(out))
}

/// `text` with each generated id (`msg_`, `fc_`, `rs_` or `call_` and 32 hex digits after a
/// quote) numbered in the order it first appears, and each `completed_at` time 0.
fn masked(text: &str) -> String {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('"') {
        let (before, after) = rest.split_at(at + 1);
        out.push_str(before);
        rest = after;
        let Some((prefix, tail)) = rest.split_once('_') else { continue };
        let hex = tail.get(..32).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if let (true, Some(hex)) = (matches!(prefix, "msg" | "fc" | "rs" | "call"), hex) {
            let next = names.len();
            let n = *names.entry(hex).or_insert(next);
            let _ = write!(out, "{prefix}_<{n}>");
            rest = &tail[32..];
        }
    }
    out.push_str(rest);
    let mut pieces = out.split("\"completed_at\":");
    let mut masked = pieces.next().unwrap_or_default().to_owned();
    for piece in pieces {
        let time = piece.trim_start_matches(|c: char| c.is_ascii_digit());
        masked.push_str(if time.len() < piece.len() { "\"completed_at\":0" } else { "\"completed_at\":" });
        masked.push_str(time);
    }
    masked
}

/// Compares `got` (masked) with the pin `name`, byte for byte.
fn pin(name: &str, got: &str) {
    let path = format!("{FIXTURES}/pin.{name}");
    let got = masked(got);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if got != want {
        let at = got.bytes().zip(want.bytes()).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
        let from = at.saturating_sub(120);
        panic!(
            "{name} differs at byte {at}:\n got: {}\nwant: {}",
            got.get(from..(at + 120).min(got.len())).unwrap_or_default(),
            want.get(from..(at + 120).min(want.len())).unwrap_or_default()
        );
    }
}

#[test]
fn a_completed_stream_with_thinking_text_and_two_calls_writes_its_pinned_bytes() {
    pin("stream.completed.sse", &stream(&completed()));
}

#[test]
fn a_stream_failing_mid_way_writes_its_pinned_bytes() {
    pin("stream.failed.sse", &stream(&failed()));
    pin("stream.cut_off.sse", &stream(&cut_off()));
}

#[test]
fn an_incomplete_stream_writes_its_pinned_bytes() {
    pin("stream.incomplete.sse", &stream(&incomplete()));
}

#[test]
fn a_whole_reply_with_thinking_text_and_two_calls_writes_its_pinned_bytes() {
    let completion = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"up","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"Hi <b> there\u2028","reasoning_content":"Think \"hard\"\né then ✓","tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"type":"function","function":{"name":"get_time","arguments":"{}"}}]}}],"usage":{"prompt_tokens":15,"completion_tokens":30,"total_tokens":45,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":12}}}"#;
    // The stored form is what `to_response` wrote before the client's copy was written there too.
    let stored = |body: &str| {
        let completion = crate::provider::translate::completion::Completion::read(body.as_bytes());
        super::reply::to_response(&completion.unwrap_or_default(), &head(), true).unwrap_or_default().stored
    };
    pin("reply.json", &String::from_utf8(stored(completion).unwrap_or_default()).unwrap_or_default());
    let cut = r#"{"choices":[{"finish_reason":"length","message":{"content":"Once upon"}}]}"#;
    pin("reply.incomplete.json", &String::from_utf8(stored(cut).unwrap_or_default()).unwrap_or_default());
}
