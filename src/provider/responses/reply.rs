//! OpenAI `chat.completion` → Responses object, pure: the provider's thinking
//! (`reasoning_content`) as a `reasoning` item, the text as a `message` item with one
//! `output_text` part, each tool call as a `function_call` item (`call_id` the provider's
//! call id), `finish_reason` as `status` and `incomplete_details`, usage in the Responses
//! shape; the request echoed by [`Head`]. Written with the ids the client sees (and, to be
//! stored, with its own), it goes on to `respond` as the answer, with the usage counted.

use super::object::{self, Body, Head, Status};
use super::output;
use crate::provider::translate::chunk::{ChatUsage, PromptDetails};
use crate::provider::translate::completion::{self, Completion};
use crate::provider::translate::wire::Text;
use crate::usage::Usage;

/// A translated response: as the client gets it, as it is stored (when asked for), and the
/// usage the gateway counts of it.
#[derive(Debug, Default)]
pub struct Response {
    pub client: Vec<u8>,
    pub stored: Option<Vec<u8>>,
    pub usage: Option<Usage>,
}

/// Writes the completion's first choice as the Responses object `head` begins, also in
/// its stored form when `store`; `Err` says what is wrong with it.
pub fn to_response(completion: &Completion<'_>, head: &Head, store: bool) -> Result<Response, String> {
    let choice = completion.choices.first().ok_or("no choices")?;
    let status = Status::of_finish(choice.finish_reason.get().unwrap_or("stop"));
    let message = &choice.message;
    // Each item's id made first, so the items can borrow it and the completion's text.
    let thinking = present(&message.reasoning_content).map(|t| (object::id("rs"), t));
    let text = present(&message.content).or(present(&message.refusal)).map(|t| (object::id("msg"), t));
    let calls: Vec<_> = message
        .tool_calls
        .iter()
        .map(|call| (call.id.get().map_or_else(|| object::id("call"), str::to_owned), object::id("fc"), call))
        .collect();
    let mut items = Vec::with_capacity(2 + calls.len());
    items.extend(thinking.as_ref().map(|(id, thinking)| output::reasoning_item(id, thinking)));
    items.extend(text.as_ref().map(|(id, text)| output::message_item(id, text, status.item_status())));
    items.extend(calls.iter().map(|(call_id, id, call)| {
        let (name, arguments) = (call.function.name.as_str(), call.function.arguments.get().unwrap_or("{}"));
        output::call_item(id, call_id, name, arguments, status.item_status())
    }));
    let chat = chat_usage(&completion.usage);
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

/// The text, unless absent or empty.
fn present<'a>(text: &'a Text<'_>) -> Option<&'a str> {
    text.get().filter(|t| !t.is_empty())
}

/// The completion's usage as the Responses shape reads it: an upstream's object as it
/// came, a translator's count as written for a chat client would read back; none when the
/// upstream's is not an object.
fn chat_usage(usage: &completion::Usage) -> Option<ChatUsage> {
    match usage {
        completion::Usage::Read(read) => read.is_object().then(|| object::chat_usage(read)),
        completion::Usage::Counted(counted) => Some(ChatUsage {
            completion_tokens: counted.completion_tokens,
            completion_tokens_details: counted.completion_tokens_details,
            prompt_tokens: counted.prompt_tokens,
            prompt_tokens_details: PromptDetails {
                cached_tokens: counted.prompt_tokens_details.cached_tokens,
                ..PromptDetails::default()
            },
            total_tokens: counted.total_tokens,
            ..ChatUsage::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::parse::Fields;

    /// The response to a chat completion, read back, ids replaced by their prefix.
    fn response(completion: &Value, request: &str) -> Value {
        let request = Fields::parse(&bytes::Bytes::from(request.to_owned())).unwrap_or_default();
        let head = Head::new("resp_test".into(), "claude".into(), 1_700_000_000, &request);
        let body = completion.to_string();
        let got = to_response(&Completion::read(body.as_bytes()).unwrap_or_default(), &head, true).unwrap_or_default();
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
        assert!(to_response(&Completion::default(), &head, false).is_err_and(|e| e == "no choices"));
    }
}
