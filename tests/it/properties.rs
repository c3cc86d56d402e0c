//! Property tests (the fuzzing this toolchain affords: cargo-fuzz needs nightly) over the
//! parsers that take untrusted bytes: the request body, wildcard matching, the SSE parser
//! and the model splice. None may panic; each must keep its invariant. More cases:
//! `PROPTEST_CASES=100000 cargo nextest run --test properties`.

use model_router::framing::sse::{Parsed, Parser};
use model_router::parse::call_request;
use model_router::resolve::{match_wildcard, upstream_model};
use model_router::respond::format::chunks::rewrite;
use model_router::route::Api;
use proptest::prelude::*;

/// Arbitrary JSON values, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        ".{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn events(chunks: &[Vec<u8>]) -> Vec<Parsed> {
    let mut parser = Parser::default();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        while let Some(event) = parser.next_event() {
            out.push(event);
        }
    }
    out
}

proptest! {
    #[test]
    fn request_parsing_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = call_request(Api::Chat, None, &body);
    }

    #[test]
    fn parsed_requests_round_trip_as_objects(extra in json(), model in "[a-z0-9/*-]{1,20}") {
        let body = serde_json::json!({ "model": model, "messages": [], "extra": extra });
        let request = call_request(Api::Chat, None, body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(&request.model, &model);
        let again: serde_json::Value = serde_json::from_slice(&request.fields.to_json()).unwrap();
        prop_assert_eq!(again, body);
    }

    #[test]
    fn wildcard_captures_rebuild_a_prefix_of_the_name(pattern in "[a-c/*]{0,8}", name in "[a-c/]{0,12}") {
        if let Some(captures) = match_wildcard(&pattern, &name) {
            let mut parts = pattern.split('*');
            let mut rebuilt = parts.next().unwrap_or_default().to_owned();
            for (capture, literal) in captures.iter().zip(parts) {
                rebuilt.push_str(capture);
                rebuilt.push_str(literal);
            }
            prop_assert!(name.starts_with(&rebuilt), "{} from {:?} is not a prefix of {}", rebuilt, captures, name);
            let _ = upstream_model("x/*", "openai", Some(&captures.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()), &name);
        }
    }

    #[test]
    fn sse_parsing_does_not_depend_on_how_bytes_are_split(
        stream in prop::collection::vec(prop_oneof![Just(b"data: ".to_vec()), Just(b"\n".to_vec()), Just(b"\r\n".to_vec()), Just(b": c\n".to_vec()), "[a-z {}\":,]{0,10}".prop_map(String::into_bytes)], 0..40),
        cut in any::<prop::sample::Index>(),
    ) {
        let whole: Vec<u8> = stream.concat();
        let at = cut.index(whole.len() + 1);
        let split = vec![whole[..at].to_vec(), whole[at..].to_vec()];
        prop_assert_eq!(events(std::slice::from_ref(&whole)), events(&split));
    }

    #[test]
    fn the_model_splice_yields_json_with_the_requested_model(chunk in json(), model in ".{0,16}") {
        let mut chunk = chunk;
        if let Some(object) = chunk.as_object_mut() {
            object.insert("model".into(), serde_json::json!("upstream"));
        }
        let mut out = Vec::new();
        rewrite(chunk.to_string().as_bytes(), &model, &mut out);
        let text = String::from_utf8(out).unwrap();
        let data = text.strip_prefix("data: ").and_then(|t| t.strip_suffix("\n\n")).unwrap();
        if chunk.is_object() {
            let parsed: serde_json::Value = serde_json::from_str(data).unwrap();
            prop_assert_eq!(&parsed["model"], &serde_json::json!(model));
        }
    }
}
