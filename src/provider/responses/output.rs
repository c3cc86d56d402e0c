//! The output items, usage and error of a bridged Responses object, as wire structs that
//! borrow their text from the translation (the stream's held items, the whole reply's
//! parsed completion); [`super::object::Head`] writes them into the object and
//! [`super::stream`] into its item events.
//!
//! Each struct's fields are declared in serde_json's sorted key order: the order these
//! objects had when they were built as `json!` trees (whose maps sort their keys), which
//! the byte pins (`bytes_tests`) and clients' recorded transcripts keep.

use serde::{Serialize, Serializer};

use crate::provider::translate::chunk::ChatUsage;

/// An empty list: `annotations` and `logprobs`, which the bridge never fills.
pub type Empty = [(); 0];

/// One output item.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Output<'a> {
    Reasoning(Reasoning<'a>),
    Message(Message<'a>),
    Call(FunctionCall<'a>),
}

/// A `reasoning` item whose summary is the provider's thinking.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reasoning<'a> {
    id: &'a str,
    /// One part, or none when there is no thinking (yet).
    #[serde(serialize_with = "as_list")]
    summary: Option<SummaryText<'a>>,
    r#type: &'static str,
}

/// An assistant `message` item.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Message<'a> {
    /// One part, or none in the item's `response.output_item.added`.
    #[serde(serialize_with = "as_list")]
    content: Option<TextPart<'a>>,
    id: &'a str,
    role: &'static str,
    status: &'static str,
    r#type: &'static str,
}

/// A `function_call` item.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FunctionCall<'a> {
    arguments: &'a str,
    call_id: &'a str,
    id: &'a str,
    name: &'a str,
    status: &'static str,
    r#type: &'static str,
}

/// An `output_text` content part.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TextPart<'a> {
    annotations: Empty,
    logprobs: Empty,
    text: &'a str,
    r#type: &'static str,
}

/// A `summary_text` part of a reasoning item.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SummaryText<'a> {
    text: &'a str,
    r#type: &'static str,
}

/// The Responses `usage` object (cached and reasoning tokens among its details).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    input_tokens: u64,
    input_tokens_details: InputDetails,
    output_tokens: u64,
    output_tokens_details: OutputDetails,
    total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct InputDetails {
    cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct OutputDetails {
    reasoning_tokens: u64,
}

/// The `error` of a failed response.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Failure<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// An assistant `message` item holding `text`.
pub fn message_item<'a>(id: &'a str, text: &'a str, status: &'static str) -> Output<'a> {
    Output::Message(Message { content: Some(text_part(text)), id, role: "assistant", status, r#type: "message" })
}

/// A message item as it is added: in progress, no part yet.
pub fn message_added(id: &str) -> Output<'_> {
    Output::Message(Message { content: None, id, role: "assistant", status: "in_progress", r#type: "message" })
}

/// An `output_text` content part.
pub fn text_part(text: &str) -> TextPart<'_> {
    TextPart { annotations: [], logprobs: [], text, r#type: "output_text" }
}

/// A `summary_text` part.
pub fn summary_text(text: &str) -> SummaryText<'_> {
    SummaryText { text, r#type: "summary_text" }
}

/// A `function_call` item.
pub fn call_item<'a>(
    id: &'a str,
    call_id: &'a str,
    name: &'a str,
    arguments: &'a str,
    status: &'static str,
) -> Output<'a> {
    Output::Call(FunctionCall { arguments, call_id, id, name, status, r#type: "function_call" })
}

/// A `reasoning` item whose summary is the provider's thinking (none when it is empty).
pub fn reasoning_item<'a>(id: &'a str, text: &'a str) -> Output<'a> {
    let summary = (!text.is_empty()).then(|| summary_text(text));
    Output::Reasoning(Reasoning { id, summary, r#type: "reasoning" })
}

impl Usage {
    /// A typed chat usage (a translator's, or `object::chat_usage`'s) in the Responses shape.
    pub fn of(chat: &ChatUsage) -> Self {
        Usage {
            input_tokens: chat.prompt_tokens,
            input_tokens_details: InputDetails { cached_tokens: chat.prompt_tokens_details.cached_tokens },
            output_tokens: chat.completion_tokens,
            output_tokens_details: OutputDetails {
                reasoning_tokens: chat.completion_tokens_details.map_or(0, |details| details.reasoning_tokens),
            },
            total_tokens: chat.total_tokens,
        }
    }
}

/// An optional part as a list of none or one.
#[expect(clippy::ref_option, reason = "serde's serialize_with passes the field by reference")]
fn as_list<S: Serializer, T: Serialize>(part: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(part)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn items_write_what_their_trees_did() {
        let text = |item: &Output<'_>| serde_json::to_string(item).unwrap_or_default();
        assert_eq!(
            text(&message_item("msg_1", "Hi \"x\"", "completed")),
            json!({ "id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                "content": [{ "type": "output_text", "text": "Hi \"x\"", "annotations": [], "logprobs": [] }] })
            .to_string()
        );
        assert_eq!(
            text(&message_added("msg_1")),
            json!({ "id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": [] })
                .to_string()
        );
        assert_eq!(
            text(&call_item("fc_1", "call_1", "f", "{}", "incomplete")),
            json!({ "id": "fc_1", "type": "function_call", "status": "incomplete", "arguments": "{}",
                "call_id": "call_1", "name": "f" })
            .to_string()
        );
        assert_eq!(
            text(&reasoning_item("rs_1", "")),
            json!({ "id": "rs_1", "type": "reasoning", "summary": [] }).to_string()
        );
        assert_eq!(
            text(&reasoning_item("rs_1", "t")),
            json!({ "id": "rs_1", "type": "reasoning", "summary": [{ "type": "summary_text", "text": "t" }] })
                .to_string()
        );
    }
}
