use serde_json::{Value, json};

use super::*;

fn items(n: usize) -> Vec<Box<RawValue>> {
    (1..=n)
        .map(|i| serde_json::value::to_raw_value(&json!({ "id": format!("msg_{i}"), "type": "message" })).unwrap())
        .collect()
}

fn listed(n: usize, query: &str) -> Value {
    let boxed = items(n);
    let borrowed: Vec<&RawValue> = boxed.iter().map(AsRef::as_ref).collect();
    serde_json::from_slice(&page(&borrowed, query, Op::InputItems).unwrap()).unwrap()
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap()).collect()
}

#[test]
fn pages_are_newest_first_twenty_at_a_time_unless_asked() {
    let first = listed(25, "");
    assert_eq!(
        (first["object"].as_str(), ids(&first).len(), first["has_more"].as_bool()),
        (Some("list"), 20, Some(true))
    );
    assert_eq!((first["first_id"].as_str(), first["last_id"].as_str()), (Some("msg_25"), Some("msg_6")));
    let rest = listed(25, "after=msg_6");
    assert_eq!(
        (ids(&rest), rest["has_more"].as_bool()),
        (vec!["msg_5", "msg_4", "msg_3", "msg_2", "msg_1"], Some(false))
    );
    let asc = listed(5, "order=asc&limit=2&after=msg_1");
    assert_eq!((ids(&asc), asc["has_more"].as_bool()), (vec!["msg_2", "msg_3"], Some(true)));
    let empty = listed(0, "");
    assert_eq!(empty, json!({ "object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false }));
}

#[test]
fn a_bad_limit_order_or_cursor_names_its_parameter() {
    let boxed = items(3);
    let borrowed: Vec<&RawValue> = boxed.iter().map(AsRef::as_ref).collect();
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("order=up", "order"),
        ("after=msg_9", "after"),
    ] {
        let e = page(&borrowed, query, Op::InputItems).err();
        assert_eq!(e.as_ref().and_then(Error::param), Some(param), "{query}: {e:?}");
    }
    assert!(page(&borrowed, "limit=100", Op::InputItems).is_ok());
}

#[test]
fn items_without_an_id_get_one_and_keep_the_rest() {
    let message: Value = serde_json::from_str(&with_id(r#"{"role":"user","content":"Hi"}"#)).unwrap();
    assert!(message["id"].as_str().unwrap().starts_with("msg_"), "{message}");
    assert_eq!((message["type"].as_str(), message["content"].as_str()), (Some("message"), Some("Hi")));
    let call: Value =
        serde_json::from_str(&with_id(r#"{ "type": "function_call_output", "call_id": "c", "output": "ok" }"#))
            .unwrap();
    assert!(call["id"].as_str().unwrap().starts_with("fco_"), "{call}");
    assert_eq!(call["call_id"], "c");
    let kept = r#"{"id":"msg_mine","type":"message","role":"user","content":"x"}"#;
    assert_eq!(with_id(kept), kept);
    let null_id = r#"{"id":null,"role":"user","content":"x"}"#;
    assert_eq!(with_id(null_id), null_id, "no second id");
    let empty: Value = serde_json::from_str(&with_id("{}")).unwrap();
    assert_eq!(empty["type"], "message");
    assert_eq!(with_id("[1]"), "[1]", "not an item: left for the translation to refuse");
}

#[test]
fn store_is_on_unless_false() {
    let fields = |body: &str| Fields::parse(&Bytes::from(body.to_owned())).unwrap();
    assert!(wanted(&fields(r#"{"input":"x"}"#)));
    assert!(wanted(&fields(r#"{"store":true}"#)));
    assert!(!wanted(&fields(r#"{"store":false}"#)));
}
