//! Unit tests of `request`'s mapped input: what a provider's translation walks when the
//! input is mapped (`Input::Mapped`) is what it reads back from the written chat list.

use bytes::Bytes;
use serde_json::{Value, json};

use super::*;
use crate::budget::Budget;

/// The chat `messages` member `body` (a Responses body) becomes, carried `how`, and the
/// messages a translation walking it (`list::each`) is handed.
fn walked(body: &Value, how: Input) -> Result<(Member, Vec<Value>), Error> {
    let (messages, _) = translated(body, how)?;
    let mut charge = Budget::new(u64::MAX).charge(0)?;
    let (mut seen, mut sink) = (Vec::new(), Built::default());
    let not_a_list = || bad("input", "not a list");
    list::each(messages.clone(), &mut sink, &mut charge, not_a_list, |message, _| {
        seen.push(message);
        Ok(())
    })?;
    Ok((messages, seen))
}

/// The chat `messages` member `body` becomes, carried `how`, and the bytes the translation
/// left charged for it.
fn translated(body: &Value, how: Input) -> Result<(Member, u64), Error> {
    let fields = Fields::parse(&Bytes::from(body.to_string())).unwrap_or_default();
    let mut charge = Budget::new(u64::MAX).charge(0)?;
    let options = Options { provider: "gemini", drop_params: false, web_search: false, input: how };
    let mut chat = to_chat(fields, &mut charge, options)?;
    Ok((chat.remove("messages").unwrap_or(Member::Tree(Value::Null)), charge.bytes()))
}

fn call(id: &str) -> Value {
    json!({ "type": "function_call", "call_id": id, "name": "f", "arguments": "{}" })
}

#[test]
fn mapped_input_walks_as_the_written_messages_read() {
    let golden = include_str!("../../../tests/fixtures/responses/request.responses.json");
    let golden: Value = serde_json::from_str(golden).unwrap();
    let string = json!({ "model": "m", "instructions": "Be brief.", "input": "Hi" });
    // A run of calls last: the assistant message kept back is handed on at the end.
    let calls = json!({ "model": "m", "input": [
        { "role": "assistant", "content": "" }, call("c1"), call("c2"),
        { "type": "function_call_output", "call_id": "c1", "output": "one" }, call("c3"),
    ] });
    for body in [golden, string, calls] {
        let (written, want) = walked(&body, Input::Written).unwrap();
        let (mapped, got) = walked(&body, Input::Mapped).unwrap();
        assert!(matches!(written, Member::List(_)), "{body}: written out");
        assert!(matches!(mapped, Member::Mapped(_)), "{body}: mapped where it is read");
        assert_eq!(got, want, "{body}");
        assert_eq!(mapped.into_value().ok(), Some(Value::Array(want)), "{body}: read whole");
    }
    let (_, seen) = walked(&json!({ "model": "m", "input": [call("c1"), call("c2")] }), Input::Mapped).unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0]["content"].clone(), seen[0]["tool_calls"][1]["id"].clone()), (Value::Null, json!("c2")));
}

#[test]
fn mapped_input_is_refused_as_the_written_one_is() {
    for input in [
        json!({}),
        json!(3),
        json!([{ "type": "item_reference", "id": "msg_1" }]),
        json!([{ "role": "tool", "content": "x" }]),
        json!([call("c1"), { "type": "function_call", "name": "f" }]),
    ] {
        let body = json!({ "model": "m", "input": input });
        let written = walked(&body, Input::Written).err().map(|e| e.to_string());
        assert!(written.as_deref().is_some_and(|e| e.contains("input")), "{body}: {written:?}");
        assert_eq!(walked(&body, Input::Mapped).err().map(|e| e.to_string()), written, "{body}");
    }
}

#[test]
fn instructions_given_as_items_are_written_out_before_a_string_input() {
    let body = json!({ "model": "m", "input": "Hi",
        "instructions": [{ "role": "developer", "content": "Be brief." }, { "role": "assistant", "content": "Ok." }] });
    let want = vec![
        json!({ "role": "system", "content": "Be brief." }),
        json!({ "role": "assistant", "content": "Ok." }),
        json!({ "role": "user", "content": "Hi" }),
    ];
    for how in [Input::Written, Input::Mapped] {
        let (member, seen) = walked(&body, how).unwrap();
        assert!(matches!(member, Member::List(_)), "{how:?}: items the input's calls may join are written out");
        assert_eq!(seen, want, "{how:?}");
    }
}

#[test]
fn mapped_input_leaves_nothing_charged_beside_the_body() {
    let golden = include_str!("../../../tests/fixtures/responses/request.responses.json");
    let golden: Value = serde_json::from_str(golden).unwrap();
    let (written, charged) = translated(&golden, Input::Written).unwrap();
    let text = written.into_value().unwrap().to_string();
    assert_eq!(charged, text.len() as u64 - 2, "the written list (but its brackets) is charged until it is sent");
    assert_eq!(translated(&golden, Input::Mapped).unwrap().1, 0, "the mapped input is the client's body");
}
