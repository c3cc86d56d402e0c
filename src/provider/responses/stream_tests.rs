//! Golden transcripts of the chat-chunk → Responses-event translation, and the invariants
//! every transcript must keep (sequence numbers, item order, ids, one final event).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;
use crate::framing::sse::transcript;
use crate::parse::Fields;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/responses");
/// The cases: `stream.<name>.chat.sse` in, `stream.<name>.responses.sse` out.
const CASES: &[&str] = &["text", "text_tool", "two_tools", "reasoning_text", "length", "error"];

/// Runs a chat SSE transcript through the translator.
fn run(sse: &str) -> String {
    let request = Fields::parse(&bytes::Bytes::from_static(br#"{"model":"claude","input":"Hi"}"#)).unwrap_or_default();
    let head = Head::new("resp_test".into(), "claude".into(), 1_700_000_000, &request);
    let events = std::cell::RefCell::new(Events::new(head));
    transcript(sse, |data, out| events.borrow_mut().event(data, out), |out| events.borrow_mut().finish(out))
}

/// The events of a transcript as (event line, data), ids renamed `<prefix>_<n>` in the order
/// they first appear and `completed_at` masked; panics on a malformed event.
fn events(text: &str) -> Vec<(String, Value)> {
    let mut names: HashMap<String, String> = HashMap::new();
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (event, data) = e.trim().split_once('\n').unwrap_or_else(|| panic!("two lines: {e}"));
            let event = event.strip_prefix("event: ").unwrap_or_else(|| panic!("an event line: {e}"));
            let data = data.strip_prefix("data: ").unwrap_or_else(|| panic!("a data line: {e}"));
            let mut data: Value = serde_json::from_str(data).unwrap_or_else(|err| panic!("{err}: {data}"));
            rename(&mut data, &mut names);
            (event.to_owned(), data)
        })
        .collect()
}

fn rename(value: &mut Value, names: &mut HashMap<String, String>) {
    match value {
        Value::String(s) => {
            let generated = s.split_once('_').filter(|(prefix, hex)| {
                matches!(*prefix, "msg" | "fc" | "rs" | "call")
                    && hex.len() == 32
                    && hex.bytes().all(|b| b.is_ascii_hexdigit())
            });
            if let Some((prefix, _)) = generated {
                let n = names.len();
                *s = names.entry(s.clone()).or_insert_with(|| format!("{prefix}_{n}")).clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename(v, names)),
        Value::Object(map) => {
            if map.get("completed_at").is_some_and(Value::is_u64) {
                map.insert("completed_at".into(), json!("<now>"));
            }
            map.values_mut().for_each(|v| rename(v, names));
        }
        _ => {}
    }
}

/// The properties LiteLLM's bridge breaks, checked on any transcript.
fn check_invariants(events: &[(String, Value)]) {
    let mut last = None;
    let (mut added, mut done): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for (i, (event, data)) in events.iter().enumerate() {
        assert_eq!(data["type"].as_str(), Some(event.as_str()), "the event line names the type");
        let sequence = data["sequence_number"].as_u64().unwrap_or_else(|| panic!("a sequence number: {data}"));
        assert!(last.is_none_or(|l| sequence > l), "sequence numbers increase: {data}");
        last = Some(sequence);
        let item_id = data["item_id"].as_str().map(str::to_owned);
        match event.as_str() {
            "response.output_item.added" => {
                assert_eq!(data["output_index"].as_u64(), Some(added.len() as u64), "output indexes count up");
                added.push(data["item"]["id"].as_str().unwrap_or_default().to_owned());
            }
            "response.output_item.done" => {
                let id = data["item"]["id"].as_str().unwrap_or_default().to_owned();
                assert_eq!(added.get(done.len()), Some(&id), "items are finished in the order they were added");
                done.push(id);
            }
            _ => {}
        }
        if let (Some(id), Some(index)) = (item_id, data["output_index"].as_u64()) {
            let open = added.get(usize::try_from(index).unwrap_or(usize::MAX));
            assert_eq!(open, Some(&id), "an event names an added item by its id and index: {data}");
            assert!(!done.contains(&id), "no event for a finished item: {data}");
        }
        let terminal = matches!(event.as_str(), "response.completed" | "response.incomplete" | "response.failed");
        assert_eq!(terminal, i == events.len() - 1, "exactly one final event, the last: {event}");
    }
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("response.created"));
    let Some((last, data)) = events.last() else { return };
    if last != "response.failed" {
        assert_eq!(added, done, "every added item is finished");
    }
    let output: Vec<&str> =
        data["response"]["output"].as_array().into_iter().flatten().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(output, added.iter().map(String::as_str).collect::<Vec<_>>(), "the final output lists the items");
}

#[test]
fn transcripts_match_their_golden_events_and_keep_the_invariants() {
    for case in CASES {
        let input = std::fs::read_to_string(format!("{FIXTURES}/stream.{case}.chat.sse")).unwrap_or_default();
        let got = run(&input);
        let golden = format!("{FIXTURES}/stream.{case}.responses.sse");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            let mut normalized = String::new();
            for (event, data) in events(&got) {
                normalized += &["event: ", &event, "\ndata: ", &data.to_string(), "\n\n"].concat();
            }
            std::fs::write(&golden, normalized).unwrap_or_else(|e| panic!("{e}"));
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        let got = events(&got);
        check_invariants(&got);
        assert_eq!(got, events(&want), "{case}");
    }
}

#[test]
fn the_final_event_follows_how_the_stream_ended() {
    let last = |sse: &str| events(&run(sse)).last().map(|(event, data)| (event.clone(), data["response"].clone()));
    let (event, response) = last("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n").unwrap_or_default();
    assert_eq!(event, "response.failed", "a stream cut off before its finish reason fails");
    assert_eq!(response["error"]["code"], "server_error");
    assert_eq!(response["output"][0]["status"], "incomplete");
    let (event, response) = last("data: [DONE]\n\n").unwrap_or_default();
    assert_eq!((event.as_str(), response["output"].as_array().map(Vec::len)), ("response.completed", Some(0)));
    let error = events(&run(include_str!("../../../tests/fixtures/responses/stream.error.chat.sse")));
    let (event, data) = &error[error.len() - 2];
    assert_eq!((event.as_str(), data["code"].as_str()), ("error", Some("rate_limit_exceeded")));
    assert_eq!(data["message"], "litellm.RateLimitError: overloaded");
}

#[test]
fn interleaved_tool_calls_stay_open_and_finish_in_order() {
    let call = |index: u64, id: &str, args: &str| {
        format!(
            "data: {}\n\n",
            json!({ "choices": [{ "delta": { "tool_calls": [{ "index": index, "id": id, "function": { "name": "f", "arguments": args } }] } }] })
        )
    };
    let sse = [call(0, "a", "{\"x\":"), call(1, "b", "{\"y\":"), call(0, "", "1}"), call(1, "", "2}")].concat()
        + "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    let got = events(&run(&sse));
    check_invariants(&got);
    let arguments: Vec<&str> = got[got.len() - 1].1["response"]["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["arguments"].as_str())
        .collect();
    assert_eq!(arguments, ["{\"x\":1}", "{\"y\":2}"]);
}

#[test]
fn output_over_the_bound_fails_the_stream() {
    let mut events = Events::new(Head::new("resp_test".into(), "m".into(), 0, &Fields::default()));
    let mut out = Vec::new();
    let big = json!({ "choices": [{ "delta": { "content": "x".repeat(MAX_OUTPUT_BYTES / 2 + 1) } }] }).to_string();
    events.event(big.as_bytes(), &mut out);
    out.clear();
    events.event(big.as_bytes(), &mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("event: error\n") && text.contains("event: response.failed\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    out.clear();
    events.finish(&mut out);
    assert!(out.is_empty(), "nothing after the final event");
}
