//! OpenAI `chat.completion` → Responses object, pure: the provider's thinking
//! (`reasoning_content`) as a `reasoning` item, the text as a `message` item with one
//! `output_text` part, each tool call as a `function_call` item (`call_id` the provider's
//! call id), `finish_reason` as `status` and `incomplete_details`, usage in the Responses
//! shape; the request echoed by [`Head`]. Written with the ids the client sees (and, to be
//! stored, with its own), it goes on to `respond` as the answer, with the usage counted.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::object::{self, Body, Head, Status};
use super::output;
use crate::usage::Usage;

#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    message: Message<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Message<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Function<'a>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// A translated response: as the client gets it, as it is stored (when asked for), and the
/// usage the gateway counts of it.
#[derive(Debug, Default)]
pub struct Response {
    pub client: Vec<u8>,
    pub stored: Option<Vec<u8>>,
    pub usage: Option<Usage>,
}

/// Translates a chat completion body into the Responses object `head` begins, also in its
/// stored form when `store`; `Err` says what is wrong with it.
pub fn to_response(body: &[u8], head: &Head, store: bool) -> Result<Response, String> {
    let completion: Completion<'_> = serde_json::from_slice(body).map_err(|e| format!("not a chat completion: {e}"))?;
    let choice = completion.choices.into_iter().next().ok_or("no choices")?;
    let status = Status::of_finish(choice.finish_reason.as_deref().unwrap_or("stop"));
    let message = choice.message;
    // Each item's id made first, so the items can borrow it and the completion's text.
    let thinking = message.reasoning_content.filter(|t| !t.is_empty()).map(|t| (object::id("rs"), t));
    let text = message.content.filter(|t| !t.is_empty()).or(message.refusal.filter(|t| !t.is_empty()));
    let text = text.map(|t| (object::id("msg"), t));
    let calls: Vec<_> = message
        .tool_calls
        .into_iter()
        .flatten()
        .map(|call| (call.id.unwrap_or_else(|| object::id("call").into()), object::id("fc"), call.function))
        .collect();
    let mut items = Vec::with_capacity(2 + calls.len());
    items.extend(thinking.as_ref().map(|(id, thinking)| output::reasoning_item(id, thinking)));
    items.extend(text.as_ref().map(|(id, text)| output::message_item(id, text, status.item_status())));
    items.extend(calls.iter().map(|(call_id, id, function)| {
        let arguments = function.arguments.as_deref().unwrap_or("{}");
        output::call_item(id, call_id, &function.name, arguments, status.item_status())
    }));
    let chat = completion.usage.filter(Value::is_object).map(|u| object::chat_usage(&u));
    let written = chat.as_ref().map(output::Usage::of);
    let body = Body { status, output: &items, usage: written.as_ref(), error: None };
    let mut client = Vec::new();
    let stored = if store {
        let mut stored = Vec::new();
        head.write_both(&body, &mut stored, &mut client);
        Some(stored)
    } else {
        head.write_client(&body, &mut client);
        None
    };
    Ok(Response { client, stored, usage: chat.as_ref().map(object::counted) })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse::Fields;

    /// The response to a chat completion, read back, ids replaced by their prefix.
    fn response(completion: &Value, request: &str) -> Value {
        let request = Fields::parse(&bytes::Bytes::from(request.to_owned())).unwrap_or_default();
        let head = Head::new("resp_test".into(), "claude".into(), 1_700_000_000, &request);
        let got = to_response(completion.to_string().as_bytes(), &head, true).unwrap_or_default();
        assert_eq!(got.usage, crate::usage::Usage::from_json(&got.client), "counted as read");
        assert_eq!(Some(&got.client), got.stored.as_ref(), "no prefix issued: one form");
        let mut got: Value = serde_json::from_slice(&got.client).unwrap_or_default();
        if got["completed_at"].is_u64() {
            got["completed_at"] = json!("<now>");
        }
        for item in got["output"].as_array_mut().into_iter().flatten() {
            let prefix = item["id"].as_str().and_then(|id| id.split('_').next()).unwrap_or_default().to_owned();
            item["id"] = Value::String(format!("{prefix}_x"));
        }
        got
    }

    #[test]
    fn text_and_tool_calls_match_the_golden_response() {
        let completion = serde_json::from_str(include_str!("../../../tests/fixtures/responses/reply.chat.json"));
        let want: Value = serde_json::from_str(include_str!("../../../tests/fixtures/responses/reply.responses.json"))
            .unwrap_or_default();
        let got = response(
            &completion.unwrap_or_default(),
            include_str!("../../../tests/fixtures/responses/request.responses.json"),
        );
        assert_eq!(got, want, "{got:#}");
    }

    #[test]
    fn a_length_cut_is_incomplete_and_thinking_is_a_reasoning_summary() {
        let completion = json!({ "choices": [{ "index": 0, "finish_reason": "length",
            "message": { "role": "assistant", "content": "Once upon", "reasoning_content": "A story." } }],
            "usage": { "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5 } });
        let got = response(&completion, r#"{"model":"m","input":"x","max_output_tokens":2}"#);
        assert_eq!(
            (got["status"].as_str(), got["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("max_output_tokens"))
        );
        assert_eq!(
            got["output"][0],
            json!({ "id": "rs_x", "type": "reasoning", "summary": [{ "type": "summary_text", "text": "A story." }] })
        );
        assert_eq!(got["output"][1]["status"], "incomplete");
        assert_eq!(got["max_output_tokens"], 2);
        let filtered = json!({ "choices": [{ "finish_reason": "content_filter", "message": { "content": null } }] });
        let got = response(&filtered, r#"{"model":"m","input":"x"}"#);
        assert_eq!(
            (got["incomplete_details"]["reason"].as_str(), got["output"].as_array().map(Vec::len)),
            (Some("content_filter"), Some(0))
        );
        let head = Head::new("resp_test".into(), "m".into(), 0, &Fields::default());
        assert!(to_response(b"{}", &head, false).is_err());
    }
}
