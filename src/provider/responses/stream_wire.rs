//! The events [`super::Events`] writes between `response.in_progress` and the final event,
//! as wire structs borrowing the translation's state (item ids, held text, the chunk's
//! delta), each made by a constructor here that fills in its constant members and written
//! by [`send`] with its `event:` line.
//!
//! Each struct's fields are declared in serde_json's sorted key order, `sequence_number`
//! and `type` among them: the order these events had when they were built as `json!`
//! trees (whose maps sort their keys), which the byte pins (`bytes_tests`) and clients'
//! recorded transcripts keep. `type` sorts last in every one.

use serde::Serialize;

use crate::provider::responses::output::{Empty, Output, SummaryText, TextPart};

/// An event, and the name its `event:` line gives.
pub(super) trait Event: Serialize {
    fn kind(&self) -> &'static str;
}

/// Writes `event: <type>`, then the event as its `data`.
pub(super) fn send(event: &impl Event, out: &mut Vec<u8>) {
    write_head(event.kind(), out);
    // Writing these into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    out.extend_from_slice(b"\n\n");
}

/// `event: <kind>\ndata: `.
pub(super) fn write_head(kind: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
}

/// Whether an item or part event is its `.added` or its `.done`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Added,
    Done,
}

/// Which event of which item: the members every item event has, apart from its type.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    item_id: &'a str,
    output_index: usize,
    sequence_number: u64,
}

impl<'a> At<'a> {
    /// The next event of item `item_id`, the response's `output_index`th, taking the
    /// stream's next sequence number.
    pub fn next(item_id: &'a str, output_index: usize, sequence: &mut u64) -> Self {
        At { item_id, output_index, sequence_number: next(sequence) }
    }
}

/// Takes a stream's next sequence number.
pub(super) fn next(sequence: &mut u64) -> u64 {
    *sequence += 1;
    *sequence - 1
}

/// `response.output_item.added` and `.done`.
#[derive(Serialize)]
pub(super) struct ItemEvent<'a> {
    item: Output<'a>,
    output_index: usize,
    sequence_number: u64,
    r#type: &'static str,
}

/// `response.content_part.added` and `.done`.
#[derive(Serialize)]
pub(super) struct ContentPart<'a> {
    content_index: u8,
    item_id: &'a str,
    output_index: usize,
    part: TextPart<'a>,
    sequence_number: u64,
    r#type: &'static str,
}

/// `response.reasoning_summary_part.added` and `.done`.
#[derive(Serialize)]
pub(super) struct SummaryPart<'a> {
    item_id: &'a str,
    output_index: usize,
    part: SummaryText<'a>,
    sequence_number: u64,
    summary_index: u8,
    r#type: &'static str,
}

/// `response.output_text.delta`.
#[derive(Serialize)]
pub(super) struct TextDelta<'a> {
    content_index: u8,
    delta: &'a str,
    item_id: &'a str,
    logprobs: Empty,
    output_index: usize,
    sequence_number: u64,
    r#type: &'static str,
}

/// `response.output_text.done`.
#[derive(Serialize)]
pub(super) struct TextDone<'a> {
    content_index: u8,
    item_id: &'a str,
    logprobs: Empty,
    output_index: usize,
    sequence_number: u64,
    text: &'a str,
    r#type: &'static str,
}

/// `response.reasoning_summary_text.delta`.
#[derive(Serialize)]
pub(super) struct SummaryDelta<'a> {
    delta: &'a str,
    item_id: &'a str,
    output_index: usize,
    sequence_number: u64,
    summary_index: u8,
    r#type: &'static str,
}

/// `response.reasoning_summary_text.done`.
#[derive(Serialize)]
pub(super) struct SummaryDone<'a> {
    item_id: &'a str,
    output_index: usize,
    sequence_number: u64,
    summary_index: u8,
    text: &'a str,
    r#type: &'static str,
}

/// `response.function_call_arguments.delta`.
#[derive(Serialize)]
pub(super) struct ArgumentsDelta<'a> {
    delta: &'a str,
    item_id: &'a str,
    output_index: usize,
    sequence_number: u64,
    r#type: &'static str,
}

/// `response.function_call_arguments.done`.
#[derive(Serialize)]
pub(super) struct ArgumentsDone<'a> {
    arguments: &'a str,
    item_id: &'a str,
    name: &'a str,
    output_index: usize,
    sequence_number: u64,
    r#type: &'static str,
}

/// `error`, before `response.failed`.
#[derive(Serialize)]
pub(super) struct Error<'a> {
    code: &'a str,
    message: &'a str,
    /// Always `null`.
    param: (),
    sequence_number: u64,
    r#type: &'static str,
}

/// `response.output_item.added` or `.done`: `item` at `output_index`.
pub(super) fn item<'a>(phase: Phase, item: Output<'a>, output_index: usize, sequence: &mut u64) -> ItemEvent<'a> {
    let sequence_number = next(sequence);
    let r#type = match phase {
        Phase::Added => "response.output_item.added",
        Phase::Done => "response.output_item.done",
    };
    ItemEvent { item, output_index, sequence_number, r#type }
}

/// `response.content_part.added` or `.done`: the message's one part.
pub(super) fn content_part<'a>(phase: Phase, at: At<'a>, part: TextPart<'a>) -> ContentPart<'a> {
    let r#type = match phase {
        Phase::Added => "response.content_part.added",
        Phase::Done => "response.content_part.done",
    };
    let At { item_id, output_index, sequence_number } = at;
    ContentPart { content_index: 0, item_id, output_index, part, sequence_number, r#type }
}

/// `response.reasoning_summary_part.added` or `.done`: the summary's one part.
pub(super) fn summary_part<'a>(phase: Phase, at: At<'a>, part: SummaryText<'a>) -> SummaryPart<'a> {
    let r#type = match phase {
        Phase::Added => "response.reasoning_summary_part.added",
        Phase::Done => "response.reasoning_summary_part.done",
    };
    let At { item_id, output_index, sequence_number } = at;
    SummaryPart { item_id, output_index, part, sequence_number, summary_index: 0, r#type }
}

pub(super) fn text_delta<'a>(at: At<'a>, delta: &'a str) -> TextDelta<'a> {
    let At { item_id, output_index, sequence_number } = at;
    let r#type = "response.output_text.delta";
    TextDelta { content_index: 0, delta, item_id, logprobs: [], output_index, sequence_number, r#type }
}

pub(super) fn text_done<'a>(at: At<'a>, text: &'a str) -> TextDone<'a> {
    let At { item_id, output_index, sequence_number } = at;
    let r#type = "response.output_text.done";
    TextDone { content_index: 0, item_id, logprobs: [], output_index, sequence_number, text, r#type }
}

pub(super) fn summary_delta<'a>(at: At<'a>, delta: &'a str) -> SummaryDelta<'a> {
    let At { item_id, output_index, sequence_number } = at;
    let r#type = "response.reasoning_summary_text.delta";
    SummaryDelta { delta, item_id, output_index, sequence_number, summary_index: 0, r#type }
}

pub(super) fn summary_done<'a>(at: At<'a>, text: &'a str) -> SummaryDone<'a> {
    let At { item_id, output_index, sequence_number } = at;
    let r#type = "response.reasoning_summary_text.done";
    SummaryDone { item_id, output_index, sequence_number, summary_index: 0, text, r#type }
}

pub(super) fn arguments_delta<'a>(at: At<'a>, delta: &'a str) -> ArgumentsDelta<'a> {
    let At { item_id, output_index, sequence_number } = at;
    ArgumentsDelta { delta, item_id, output_index, sequence_number, r#type: "response.function_call_arguments.delta" }
}

pub(super) fn arguments_done<'a>(at: At<'a>, name: &'a str, arguments: &'a str) -> ArgumentsDone<'a> {
    let At { item_id, output_index, sequence_number } = at;
    let r#type = "response.function_call_arguments.done";
    ArgumentsDone { arguments, item_id, name, output_index, sequence_number, r#type }
}

/// `error`: `code` and `message` of the failure.
pub(super) fn error<'a>(code: &'a str, message: &'a str, sequence: &mut u64) -> Error<'a> {
    let sequence_number = next(sequence);
    Error { code, message, param: (), sequence_number, r#type: "error" }
}

macro_rules! kind_is_type {
    ($($event:ident),*) => {$(
        impl Event for $event<'_> {
            fn kind(&self) -> &'static str {
                self.r#type
            }
        }
    )*};
}

kind_is_type!(
    ItemEvent,
    ContentPart,
    SummaryPart,
    TextDelta,
    TextDone,
    SummaryDelta,
    SummaryDone,
    ArgumentsDelta,
    ArgumentsDone,
    Error
);
