//! OpenAI `chat.completion.chunk` events → Responses SSE events, a state machine:
//! `response.created` and `.in_progress` first; an output item per run of thinking
//! (`reasoning`, its summary streamed), of text (`message`, one `output_text` part) and per
//! tool call (`function_call`), each added before its deltas and finished (`.done` events,
//! then `response.output_item.done`) in the order it was added; then exactly one of
//! `response.completed`, `.incomplete` (length, content filter) or `.failed` (an error
//! chunk, a stream that ends unfinished, or output over [`MAX_OUTPUT_BYTES`]: an `error`
//! event first). Every event has its `event:` line and a strictly increasing
//! `sequence_number`. The output is held until the final event, which repeats it, so memory
//! grows with the output and is bounded by [`MAX_OUTPUT_BYTES`]. The events go on to
//! `respond` through `translate::Translated`.

use serde_json::{Value, json};

use super::object::{self, Body, Head, Status};
use crate::provider::translate::ChunkHead;
use crate::provider::translate::chunk::{ChatUsage, Chunk, Delta, Sink, ToolCallDelta};
use crate::usage::{CompletionDetails, PromptDetails, Usage};

/// The most output text (thinking, text and arguments) one stream may hold.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// What an output item is.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Reasoning,
    Message,
    /// A tool call, by its chat index.
    Call {
        index: u64,
        call_id: String,
        name: String,
    },
}

/// One output item: its text (thinking, text or arguments) so far.
#[derive(Debug)]
struct Item {
    id: String,
    kind: Kind,
    text: String,
    /// Its final form, once finished.
    done: Option<Value>,
}

/// One stream's translation state.
#[derive(Debug)]
pub struct Events {
    head: Head,
    sequence: u64,
    started: bool,
    items: Vec<Item>,
    /// Items before this index are finished; the ones from it are open.
    open_from: usize,
    finish: Option<Status>,
    usage: Option<ChatUsage>,
    /// The message of the failure the stream ended with, until the relay takes it.
    failure: Option<String>,
    held: usize,
    /// `[DONE]` arrived.
    done: bool,
    ended: bool,
    /// Where the response is stored once it has completed (or is incomplete), with Redis.
    pub(super) keep: Option<super::store::Keep>,
}

impl Events {
    pub fn new(head: Head) -> Self {
        Events {
            head,
            sequence: 0,
            started: false,
            items: Vec::new(),
            open_from: 0,
            finish: None,
            usage: None,
            failure: None,
            held: 0,
            done: false,
            ended: false,
            keep: None,
        }
    }

    /// The head each rendering of the response repeats.
    #[cfg(test)]
    pub(crate) fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    /// Translates one typed chunk (a translator's, never written as chat bytes; or one
    /// [`Events::event`] read), writing Responses events to `out`.
    pub fn chunk(&mut self, chunk: Chunk<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        match chunk {
            Chunk::Done => {
                self.done = true;
                self.finish(out);
            }
            Chunk::Error { message, code, .. } => self.fail(message, code, out),
            Chunk::Usage(usage) => {
                self.start(out);
                self.usage = Some(usage);
            }
            Chunk::Delta { delta, .. } => {
                self.start(out);
                self.delta(delta, out);
            }
            Chunk::Finish { reason, .. } => {
                self.start(out);
                self.finish = Some(Status::of_finish(reason));
            }
        }
    }

    /// A choice's delta: thinking, then text, then tool calls; the stream fails once the
    /// output held is over the bound.
    fn delta(&mut self, delta: Delta, out: &mut Vec<u8>) {
        if let Some(thinking) = delta.reasoning.filter(|t| !t.is_empty()) {
            self.text(true, &thinking, out);
        }
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            self.text(false, &text, out);
        }
        for call in delta.tool_calls {
            self.tool_call(call, out);
        }
        if self.held > MAX_OUTPUT_BYTES {
            self.fail(&format!("the streamed output exceeded {MAX_OUTPUT_BYTES} bytes"), 500, out);
        }
    }

    /// Ends the response once: open items finished, then `response.completed` (or
    /// `.incomplete`); a stream that ended without a finish reason or `[DONE]` fails.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let Some(status) = self.finish.or(self.done.then_some(Status::Completed)) else {
            self.fail("the provider's stream ended before the response was complete", 502, out);
            return;
        };
        self.close(status, out);
        let kind = match status {
            Status::Incomplete(_) => "response.incomplete",
            _ => "response.completed",
        };
        self.response_event(kind, status, None, out);
        self.ended = true;
    }

    /// Ends the stream with an `error` event and `response.failed` carrying the error.
    pub fn fail(&mut self, message: &str, status: u16, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        let code = if status == 429 { "rate_limit_exceeded" } else { "server_error" };
        self.emit("error", json!({ "code": code, "message": message, "param": null }), out);
        let error = json!({ "code": code, "message": message });
        self.response_event("response.failed", Status::Failed, Some(&error), out);
        self.ended = true;
        self.failure = Some(message.to_owned());
    }

    /// The usage the response reports, in the counts the gateway keeps: what the Responses
    /// usage object says (cached and reasoning tokens among its details).
    pub fn usage(&self) -> Option<Usage> {
        let usage = self.usage.as_ref()?;
        Some(Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            prompt_tokens_details: Some(PromptDetails {
                cached_tokens: usage.prompt_tokens_details.cached_tokens,
                cache_creation_tokens: 0,
            }),
            completion_tokens_details: Some(CompletionDetails {
                reasoning_tokens: usage.completion_tokens_details.map_or(0, |d| d.reasoning_tokens),
            }),
        })
    }

    /// The failure the stream ended with, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.response_event("response.created", Status::InProgress, None, out);
        self.response_event("response.in_progress", Status::InProgress, None, out);
    }

    /// Appends thinking or text to the open item of `kind`, or opens one.
    fn text(&mut self, reasoning: bool, text: &str, out: &mut Vec<u8>) {
        let kind = if reasoning { Kind::Reasoning } else { Kind::Message };
        if !self.items.last().is_some_and(|item| item.done.is_none() && item.kind == kind) {
            self.open_text(kind, out);
        }
        let output_index = self.items.len() - 1;
        let Some(item) = self.items.last_mut() else { return };
        item.text.push_str(text);
        self.held += text.len();
        let at = json!({ "item_id": item.id, "output_index": output_index });
        let (kind, event) = if reasoning {
            ("response.reasoning_summary_text.delta", with(at, [("summary_index", json!(0)), ("delta", json!(text))]))
        } else {
            let members = [("content_index", json!(0)), ("delta", json!(text)), ("logprobs", json!([]))];
            ("response.output_text.delta", with(at, members))
        };
        self.emit(kind, event, out);
    }

    /// Finishes what is open and adds a reasoning or message item with its empty part.
    fn open_text(&mut self, kind: Kind, out: &mut Vec<u8>) {
        self.close(Status::Completed, out);
        let output_index = self.items.len();
        let (id, added, part_event, part) = if kind == Kind::Reasoning {
            let id = object::id("rs");
            let added = json!({ "id": id, "type": "reasoning", "summary": [] });
            let part = [("summary_index", json!(0)), ("part", json!({ "type": "summary_text", "text": "" }))];
            (id, added, "response.reasoning_summary_part.added", part)
        } else {
            let id = object::id("msg");
            let added =
                json!({ "id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": [] });
            (id, added, "response.content_part.added", [("content_index", json!(0)), ("part", object::text_part(""))])
        };
        self.emit("response.output_item.added", json!({ "output_index": output_index, "item": added }), out);
        self.emit(part_event, with(json!({ "item_id": id, "output_index": output_index }), part), out);
        self.items.push(Item { id, kind, text: String::new(), done: None });
    }

    /// A tool call's delta: its arguments to the open call of its index, or a new call
    /// opened. Calls stay open beside each other (a provider may interleave them) until
    /// other output or the end finishes them, in order.
    fn tool_call(&mut self, call: ToolCallDelta, out: &mut Vec<u8>) {
        let ToolCallDelta { index, start, arguments, .. } = call;
        let (call_id, name) = start.map_or((None, None), |start| (start.id, start.name));
        let found = self.items[self.open_from..]
            .iter()
            .position(|item| matches!(item.kind, Kind::Call { index: i, .. } if i == index))
            .map(|at| self.open_from + at);
        let at = if let Some(at) = found {
            at
        } else {
            if self.items[self.open_from..].iter().any(|item| !matches!(item.kind, Kind::Call { .. })) {
                self.close(Status::Completed, out);
            }
            let id = object::id("fc");
            let call_id = call_id.unwrap_or_else(|| object::id("call"));
            let name = name.unwrap_or_default();
            let item = object::call_item(&id, &call_id, &name, "", "in_progress");
            self.emit("response.output_item.added", json!({ "output_index": self.items.len(), "item": item }), out);
            self.items.push(Item { id, kind: Kind::Call { index, call_id, name }, text: String::new(), done: None });
            self.items.len() - 1
        };
        if arguments.is_empty() {
            return;
        }
        let item = &mut self.items[at];
        item.text.push_str(&arguments);
        self.held += arguments.len();
        let event = json!({ "item_id": item.id, "output_index": at, "delta": arguments });
        self.emit("response.function_call_arguments.delta", event, out);
    }

    /// Finishes every open item, in the order they were added.
    fn close(&mut self, status: Status, out: &mut Vec<u8>) {
        while self.open_from < self.items.len() {
            let output_index = self.open_from;
            let item = &self.items[output_index];
            let at = json!({ "item_id": item.id, "output_index": output_index });
            let (events, done) = match &item.kind {
                Kind::Reasoning => {
                    let part = json!({ "type": "summary_text", "text": item.text });
                    let events = vec![
                        (
                            "response.reasoning_summary_text.done",
                            with(at.clone(), [("summary_index", json!(0)), ("text", json!(item.text))]),
                        ),
                        (
                            "response.reasoning_summary_part.done",
                            with(at, [("summary_index", json!(0)), ("part", part)]),
                        ),
                    ];
                    (events, object::reasoning_item(&item.id, &item.text))
                }
                Kind::Message => {
                    let events = vec![
                        (
                            "response.output_text.done",
                            with(
                                at.clone(),
                                [("content_index", json!(0)), ("text", json!(item.text)), ("logprobs", json!([]))],
                            ),
                        ),
                        (
                            "response.content_part.done",
                            with(at, [("content_index", json!(0)), ("part", object::text_part(&item.text))]),
                        ),
                    ];
                    (events, object::message_item(&item.id, &item.text, status.item_status()))
                }
                Kind::Call { call_id, name, .. } => {
                    let done = with(at, [("name", json!(name)), ("arguments", json!(item.text))]);
                    let item_done = object::call_item(&item.id, call_id, name, &item.text, status.item_status());
                    (vec![("response.function_call_arguments.done", done)], item_done)
                }
            };
            for (kind, event) in events {
                self.emit(kind, event, out);
            }
            self.emit("response.output_item.done", json!({ "output_index": output_index, "item": done }), out);
            self.items[output_index].done = Some(done);
            self.open_from += 1;
        }
    }

    /// An event carrying the whole response as it stands.
    fn response_event(&mut self, kind: &str, status: Status, error: Option<&Value>, out: &mut Vec<u8>) {
        let output: Vec<Value> =
            self.items.iter().map(|item| item.done.clone().unwrap_or_else(|| unfinished(item))).collect();
        let usage = self.usage.as_ref().filter(|_| status != Status::InProgress).map(object::typed_usage);
        let body = Body { status, output: &output, usage: usage.as_ref(), error };
        if matches!(status, Status::Completed | Status::Incomplete(_)) {
            if let Some(keep) = self.keep.take() {
                let mut stored = Vec::new();
                self.head.write(&body, &mut stored);
                keep.save(&self.head.id, &stored);
            }
        }
        write_head(kind, out);
        out.extend_from_slice(b"{\"type\":");
        let _ = serde_json::to_writer(&mut *out, kind);
        out.extend_from_slice(format!(",\"sequence_number\":{},\"response\":", self.sequence).as_bytes());
        // The client's ids are written here, so `respond` passes the events on unread.
        self.head.write_client(&body, out);
        out.extend_from_slice(b"}\n\n");
        self.sequence += 1;
    }

    /// One event: `event: <kind>` and its data with `type` and `sequence_number` added.
    fn emit(&mut self, kind: &str, mut event: Value, out: &mut Vec<u8>) {
        if let Some(map) = event.as_object_mut() {
            map.insert("type".into(), json!(kind));
            map.insert("sequence_number".into(), json!(self.sequence));
        }
        self.sequence += 1;
        write_head(kind, out);
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &event);
        out.extend_from_slice(b"\n\n");
    }
}

/// An item still open when the response failed, as it stood.
fn unfinished(item: &Item) -> Value {
    match &item.kind {
        Kind::Reasoning => object::reasoning_item(&item.id, &item.text),
        Kind::Message => object::message_item(&item.id, &item.text, "incomplete"),
        Kind::Call { call_id, name, .. } => object::call_item(&item.id, call_id, name, &item.text, "incomplete"),
    }
}

/// `event: <kind>\ndata: `.
fn write_head(kind: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
}

/// `base` with `members` added.
fn with<const N: usize>(mut base: Value, members: [(&str, Value); N]) -> Value {
    if let Some(map) = base.as_object_mut() {
        for (key, value) in members {
            map.insert(key.to_owned(), value);
        }
    }
    base
}

/// The Responses translator as a chat translator's sink: typed chunks in, Responses
/// events out.
pub struct Into<'a> {
    pub events: &'a mut Events,
    pub out: &'a mut Vec<u8>,
}

impl Sink for Into<'_> {
    fn chunk(&mut self, _head: &ChunkHead, chunk: Chunk<'_>) {
        self.events.chunk(chunk, self.out);
    }
}

#[path = "stream_chat.rs"]
mod chat;

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
