//! The stream body's fused paths (two translators in one body) against the chains of
//! bodies they replace, and LiteLLM's error event.

use super::*;

const GEMINI_SSE: &str = include_str!("../../../tests/fixtures/translate/gemini/stream.gemini.sse");

/// Gemini's stream as chat chunks, as a chat client gets it.
fn gemini() -> Translated {
    let source = Source::Full(Some(Bytes::from_static(GEMINI_SSE.as_bytes())));
    Translated::new(source, Events::Gemini(gemini::stream::Events::new("chatcmpl-test".into(), true)))
}

fn messages() -> messages::stream::Events {
    messages::stream::Events::new("msg_test".into(), "flash".into())
}

/// Every byte of a body whose source is always ready.
fn drain(mut body: Translated) -> String {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    while let Poll::Ready(Some(Ok(frame))) = body.poll_frame(&mut cx) {
        out.extend_from_slice(frame.data_ref().map_or(&[][..], |data| data));
    }
    String::from_utf8(out).unwrap()
}

/// `text` with each random tool-call id cut to its `call_` prefix.
fn without_call_ids(text: &str) -> String {
    let mut pieces = text.split("call_");
    let mut out = pieces.next().unwrap_or_default().to_owned();
    for piece in pieces {
        out.push_str("call_");
        out.push_str(piece.get(32..).unwrap_or(piece));
    }
    out
}

#[test]
fn gemini_to_messages_is_one_body_that_writes_what_parsing_chat_bytes_did() {
    let fused = Translated::to_messages(Source::Translated(Box::new(gemini())), messages());
    // One body: Gemini's stream is decoded once, its chunks handed on typed; no chat
    // chunk is written for the Messages translator to parse again.
    assert!(matches!(fused.source, Source::Full(_)), "the fused body reads the provider itself");
    assert!(matches!(fused.events, Events::ToMessages(_)) && fused.writes_client_format());
    // The chain it replaces: Gemini's chat bytes, decoded and parsed by the Messages translator.
    let chained = Translated::new(Source::Translated(Box::new(gemini())), Events::Messages(messages()));
    let (fused, chained) = (drain(fused), drain(chained));
    assert!(
        fused.contains("\"name\":\"get_weather\"")
            && fused.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{fused}"
    );
    assert_eq!(without_call_ids(&fused), without_call_ids(&chained));
}

#[tokio::test]
async fn the_relay_passes_a_fused_stream_on_as_it_is() {
    use http_body_util::BodyExt as _;

    use crate::respond::format::{Format, messages::Messages};
    use crate::respond::stream::Relay;
    let idle = std::time::Duration::from_secs(60);
    let format = || Format::Messages(Messages::new("flash".into()));
    let fused = || Translated::to_messages(Source::Translated(Box::new(gemini())), messages());
    let relay = Relay::new(Source::Translated(Box::new(fused())), format(), idle);
    assert!(!relay.decodes(), "Anthropic events written by the translator are not decoded again");
    let relayed = relay.collect().await.unwrap().to_bytes();
    let relayed = String::from_utf8(relayed.to_vec()).unwrap();
    assert_eq!(without_call_ids(&relayed), without_call_ids(&drain(fused())));
    assert!(Relay::new(Source::Full(None), format(), idle).decodes(), "a relayed stream is decoded once");
}

#[test]
fn an_untranslated_source_gets_the_messages_translator_on_top() {
    let body = Translated::to_messages(Source::Full(None), messages());
    assert!(matches!(body.events, Events::Messages(_)) && body.writes_client_format());
    assert!(!gemini().writes_client_format(), "chat chunks go through the client's chat format");
}

const ANTHROPIC_SSE: &str = include_str!("../../../tests/fixtures/translate/anthropic/stream.anthropic.sse");

fn responses() -> responses::stream::Events {
    let head = responses::object::Head::new("resp_test".into(), "flash".into(), 1, &crate::parse::Fields::default());
    responses::stream::Events::new(head)
}

/// A provider's name and a maker of its stream as chat chunks.
type ChatBody = (&'static str, fn() -> Translated);

/// The translating providers' streams as chat chunks, as the chat path answers.
fn chat_bodies() -> [ChatBody; 3] {
    let anthropic = || {
        let source = Source::Full(Some(Bytes::from_static(ANTHROPIC_SSE.as_bytes())));
        Translated::new(source, Events::Anthropic(anthropic::stream::Events::new("chatcmpl-test".into(), true)))
    };
    let bedrock = || {
        let frame = |name: &str, payload: &str| crate::framing::eventstream::encode("event", name, payload.as_bytes());
        let body = [
            frame("messageStart", r#"{"role":"assistant"}"#),
            frame("contentBlockDelta", r#"{"delta":{"reasoningContent":{"text":"Hm."}}}"#),
            frame("contentBlockDelta", r#"{"delta":{"text":"Hi"}}"#),
            frame("contentBlockStart", r#"{"start":{"toolUse":{"toolUseId":"t1","name":"f"}}}"#),
            frame("contentBlockDelta", r#"{"delta":{"toolUse":{"input":"{\"a\":1}"}}}"#),
            frame("contentBlockStop", "{}"),
            frame("messageStop", r#"{"stopReason":"tool_use"}"#),
            frame("metadata", r#"{"usage":{"inputTokens":3,"outputTokens":4,"cacheReadInputTokens":2}}"#),
        ]
        .concat();
        let events = bedrock::stream::Events::new("chatcmpl-test".into(), "m".into(), true, false);
        Translated::event_stream(Source::Full(Some(Bytes::from(body))), Events::Bedrock(events))
    };
    [("gemini", gemini), ("anthropic", anthropic), ("bedrock", bedrock)]
}

/// `text` with each generated id (`msg_`, `fc_`, `rs_`, `call_` and 32 hex digits) cut
/// to its prefix and each `completed_at` time to 0.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('_') {
        let (before, after) = rest.split_at(at + 1);
        out.push_str(before);
        let generated = ["msg_", "fc_", "rs_", "call_"].iter().any(|p| out.ends_with(p))
            && after.get(..32).is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
        rest = if generated { &after[32..] } else { after };
    }
    out.push_str(rest);
    let mut pieces = out.split("\"completed_at\":");
    let mut masked = pieces.next().unwrap_or_default().to_owned();
    for piece in pieces {
        masked.push_str("\"completed_at\":0");
        masked.push_str(piece.trim_start_matches(|c: char| c.is_ascii_digit()));
    }
    masked
}

#[test]
fn a_translated_stream_to_responses_is_one_body_that_writes_what_parsing_chat_bytes_did() {
    for (name, chat) in chat_bodies() {
        let fused = Translated::to_responses(Source::Translated(Box::new(chat())), responses());
        // One body: the provider's stream is decoded once, its chunks handed on typed;
        // no chat chunk is written for the Responses translator to parse again.
        assert!(matches!(fused.source, Source::Full(_)), "{name}: the fused body reads the provider itself");
        assert!(matches!(fused.events, Events::ToResponses(_)) && fused.writes_client_format(), "{name}");
        // The chain it replaces: the chat bytes, decoded and parsed by the Responses translator.
        let chained = Translated::new(Source::Translated(Box::new(chat())), Events::Responses(Box::new(responses())));
        let (fused, chained) = (drain(fused), drain(chained));
        assert!(
            fused.contains("event: response.function_call_arguments.done\n")
                && fused.contains("\"input_tokens\":")
                && fused.contains("event: response.completed\n"),
            "{name}: {fused}"
        );
        assert_eq!(without_ids(&fused), without_ids(&chained), "{name}");
    }
}

/// What the ids a bridged response's client sees start with, in these tests.
const ISSUED: &str = "resp_mr1_0123456789abcdef_";

#[tokio::test]
async fn the_relay_passes_a_bridged_responses_stream_on_with_the_ids_the_old_rewrite_gave() {
    use crate::respond::format::{Format, responses::Events as Rewrite, responses::Issuer};
    use crate::respond::stream::Relay;
    let idle = std::time::Duration::from_secs(60);
    let issuer = || Issuer { prefix: ISSUED.into(), model: Some("flash".into()) };
    for (name, chat) in chat_bodies() {
        let mut events = responses();
        events.head_mut().issued = ISSUED.into();
        let fused = Translated::to_responses(Source::Translated(Box::new(chat())), events);
        let relay =
            Relay::new(Source::Translated(Box::new(fused)), Format::Responses(Box::new(Rewrite::new(issuer()))), idle);
        assert!(!relay.decodes(), "{name}: the translator's Responses events are not decoded again");
        let (passed, usage, failure) = relay.drained();
        // What the relay did before: the translator's events, with the translator's own
        // ids, decoded and each response object rewritten.
        let unissued = drain(Translated::to_responses(Source::Translated(Box::new(chat())), responses()));
        let rewrite = Format::Responses(Box::new(Rewrite::new(issuer())));
        let (rewritten, old_usage, old_failure) =
            Relay::new(Source::Full(Some(Bytes::from(unissued))), rewrite, idle).drained();
        assert!(passed.contains(&format!("\"id\":\"{ISSUED}resp_test\"")), "{name}: {passed}");
        assert_eq!(without_ids(&passed), without_ids(&rewritten), "{name}");
        assert_eq!((usage, failure), (old_usage, old_failure), "{name}");
        assert!(usage.is_some_and(|u| u.total_tokens > 0), "{name}: the relay is told the usage");
    }
}

#[test]
fn an_untranslated_source_gets_the_responses_translator_on_top() {
    let body = Translated::to_responses(Source::Full(None), responses());
    assert!(matches!(body.events, Events::Responses(_)), "an OpenAI-compatible upstream's chat bytes are parsed");
    let messages = Translated::to_messages(Source::Full(None), messages());
    let body = Translated::to_responses(Source::Translated(Box::new(messages)), responses());
    assert!(matches!(body.source, Source::Translated(_)) && matches!(body.events, Events::Responses(_)));
}

#[test]
fn error_event_matches_litellm_spacing() {
    let e = String::from_utf8(error_event("boom", "internal_server_error", 500)).unwrap_or_default();
    assert_eq!(
        e,
        "data: {\"error\": {\"message\": \"boom\", \"type\": \"internal_server_error\", \"param\": null, \"code\": \"500\"}}\n\n"
    );
}
