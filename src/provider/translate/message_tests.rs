use serde_json::json;

use super::*;

/// The parts of a message's `content`, read from its text.
fn parts(raw: &RawValue) -> Vec<Content<'_>> {
    let mut message = Message::read(raw).unwrap_or_else(|e| panic!("{e}"));
    message.content().and_then(Said::into_parts).unwrap_or_else(|e| panic!("{e}"))
}

fn raw(text: &str) -> &RawValue {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_message_read_from_its_text_borrows_its_strings_and_keeps_unknown_parts_as_they_came() {
    let text = r#"{"role":"user","content":[
        {"type":"text","text":"hi"},
        {"type":"text","text":"a\nb","cache_control":{"type":"ephemeral"}},
        {"type":"document", "source": {"data":"d"}, "cache_control":null},
        {"cache_control":{"type": "ephemeral"},"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}
    ],"extra":[1,2]}"#;
    let message = raw(text);
    let mut read = Message::read(message).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.role.as_str(), "user");
    assert!(matches!(read.role.0, Some(Cow::Borrowed(_))), "the role is borrowed from the body");
    let parts = read.content().and_then(Said::into_parts).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&parts[0].part, Part::Text { text: Cow::Borrowed("hi") }), "{parts:?}");
    assert!(matches!(&parts[1].part, Part::Text { text: Cow::Owned(text) } if text == "a\nb"), "escaped: owned");
    assert!(matches!(&parts[1].cache_control, Some(Passed::Raw(raw)) if raw.get() == r#"{"type":"ephemeral"}"#));
    let Part::Other(Passed::Raw(unknown)) = &parts[2].part else { panic!("{parts:?}") };
    assert_eq!(unknown.get(), r#"{"type":"document", "source": {"data":"d"}, "cache_control":null}"#, "its raw text");
    assert!(text.contains(unknown.get()) && parts[2].cache_control.is_none());
    assert!(
        matches!(&parts[3].part, Part::Image { url: Some(Cow::Borrowed(url)) } if url.starts_with("data:image/png"))
    );
    assert!(matches!(&parts[3].cache_control, Some(Passed::Raw(raw)) if raw.get() == r#"{"type": "ephemeral"}"#));
}

#[test]
fn content_parts_are_typed_and_keep_what_they_do_not_read() {
    let text = json!({ "content": [
        { "type": "text", "text": "hi", "cache_control": { "type": "ephemeral" }, "x": 1 },
        { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } },
        { "type": "image_url", "image_url": "https://x/y.png" },
        { "type": "file", "file": { "file_data": "data:application/pdf;base64,QQ==" } },
        { "type": "document", "source": {}, "cache_control": null },
        7,
        { "type": "text", "text": 5 },
        { "type": "image_url", "image_url": { "url": 1 } },
    ] })
    .to_string();
    let parts = parts(raw(&text));
    let Part::Odd { text: Given::Str(hi), part } = &parts[0].part else { panic!("{parts:?}") };
    assert_eq!((hi.as_ref(), part.text().as_deref()), ("hi", Some("hi")));
    assert!(matches!(parts[0].cache_control.as_ref().map(Passed::kind), Some(Kind::Object)));
    assert!(matches!(&parts[1].part, Part::Image { url: Some(url) } if url.starts_with("data:image/png")));
    assert!(matches!(&parts[2].part, Part::Image { url: Some(url) } if url == "https://x/y.png"));
    assert!(matches!(&parts[3].part, Part::File { data: Some(_) }));
    assert!(matches!(&parts[4].part, Part::Other(p) if p.kind() == Kind::Object));
    assert!(matches!(&parts[5].part, Part::Other(p) if p.kind() == Kind::Other));
    assert!(matches!(&parts[6].part, Part::Odd { text: Given::Other(_), .. }));
    assert!(matches!(&parts[7].part, Part::Image { url: None }));
    let said = |content: Value| Said::read(Some(content)).and_then(Said::into_parts);
    assert!(said(json!("")).is_ok_and(|c| c.is_empty()));
    assert!(said(json!({ "a": 1 })).is_err());
}

#[test]
fn a_message_read_from_a_tree_reads_the_same() {
    let tree = json!({ "role": "user", "content": [{ "type": "text", "text": "hi" }, { "type": "x", "y": [1] }] });
    let mut read = Message::read(tree).unwrap_or_else(|e| panic!("{e}"));
    let parts = read.content().and_then(Said::into_parts).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&parts[0].part, Part::Text { text: Cow::Owned(text) } if text == "hi"), "moved out of the tree");
    assert!(matches!(&parts[1].part, Part::Other(Passed::Tree(tree)) if tree["y"] == json!([1])));
    for odd in [json!("x"), json!(null), json!([1]), json!({ "role": 7 })] {
        assert_eq!(Message::read(odd).map(|m| m.role).ok(), Some(Str::default()), "no role");
    }
}

#[test]
fn a_tool_result_names_the_function_of_the_call_it_answers() {
    let names = HashMap::from([("c1".to_owned(), "f".to_owned())]);
    let result =
        |message: Value| Message::read(message).and_then(|m| m.tool_result(&names)).unwrap_or_else(|e| panic!("{e}"));
    let got = result(json!({ "tool_call_id": "c1", "content": "x" }));
    assert_eq!((got.id.as_str(), got.function.as_deref()), (Some("c1"), Some("f")));
    assert!(matches!(got.content, Said::Text(text) if text == "x"));
    let got = result(json!({ "tool_call_id": "c9", "name": "g" }));
    assert_eq!((got.id.as_str(), got.function.as_deref()), (Some("c9"), Some("g")));
    assert!(matches!(got.content, Said::None));
    let got = result(json!({ "tool_call_id": null, "name": "g" }));
    assert_eq!((got.id.into_value().ok(), got.function.as_deref()), (Some(Value::Null), Some("g")), "a null id stays");
    let got = result(json!({ "name": 3 }));
    assert_eq!((got.id.into_value().ok(), got.function), (Some(json!(3)), None));
}

#[test]
fn tool_calls_read_their_ids_names_and_arguments() {
    let text = r#"{"tool_calls":[
        {"id":"c","function":{"name":"f","arguments":" "},"provider_specific_fields":{"thought_signature":"s"}},
        {"id":7,"function":{"arguments":"{\"z\":1,\"a\":2}"}},
        "odd",
        {"function":"odd"}
    ]}"#;
    let mut message = Message::read(raw(text)).unwrap_or_else(|e| panic!("{e}"));
    let calls = message.tool_calls().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&calls[0].id, Given::Str(Cow::Borrowed("c"))));
    assert_eq!((calls[0].name(), &calls[0].arguments), ("f", &json!({})));
    assert_eq!(calls[0].thought_signature.as_deref(), Some("s"));
    assert_eq!(serde_json::to_string(&calls[1].arguments).ok().as_deref(), Some(r#"{"a":2,"z":1}"#), "keys sorted");
    assert!(matches!(&calls[1].id, Given::Other(Passed::Raw(raw)) if raw.get() == "7"));
    assert!(matches!(calls[1].name, Given::Absent));
    assert!(calls[2..].iter().all(|c| matches!(c.id, Given::Absent) && c.arguments == json!({})));
    let bad = r#"{"tool_calls":[{"function":{"arguments":"{"}}]}"#;
    let e = Message::read(raw(bad)).and_then(|mut m| m.tool_calls()).err().map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("tool call arguments are not JSON")));
    let none = Message::read(raw(r#"{"tool_calls":{"a":1}}"#)).and_then(|mut m| m.tool_calls());
    assert!(none.is_ok_and(|calls| calls.is_empty()), "not a list: no calls");
}
