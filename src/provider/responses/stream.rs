//! OpenAI `chat.completion.chunk` events → Responses SSE events, a state machine:
//! `response.created` and `.in_progress` first; an output item per run of thinking
//! (`reasoning`, its summary streamed), of text (`message`, one `output_text` part) and per
//! tool call (`function_call`), each added before its deltas and finished (`.done` events,
//! then `response.output_item.done`) in the order it was added; then exactly one of
//! `response.completed`, `.incomplete` (length, content filter) or `.failed` (an error
//! chunk, a stream that ends unfinished, or output over [`MAX_OUTPUT_BYTES`]: an `error`
//! event first). Every event has its `event:` line and a strictly increasing
//! `sequence_number`. The output is held until the final event, which repeats it, so memory
//! grows with the output and is bounded by [`MAX_OUTPUT_BYTES`]; the events and items are
//! typed structs (`wire`, [`super::output`]) that borrow the held text, written once. The
//! events go on to `respond` through `translate::Translated`.

use std::io::Write as _;

use super::object::{self, Body, Head, Status};
use super::output::{self, Failure, Output};
use crate::provider::translate::ChunkHead;
use crate::provider::translate::chunk::{ChatUsage, Chunk, Delta, Sink, ToolCallDelta};
use crate::usage::{CompletionDetails, PromptDetails, Usage};
use wire::Phase::{Added, Done};
use wire::{At, send};

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
    /// The status it was finished with, once finished (its text is then final).
    done: Option<&'static str>,
}

impl Item {
    /// The item as the response lists it: as it was finished, or else as it stood when
    /// the response failed (incomplete).
    fn output(&self) -> Output<'_> {
        let status = self.done.unwrap_or("incomplete");
        match &self.kind {
            Kind::Reasoning => output::reasoning_item(&self.id, &self.text),
            Kind::Message => output::message_item(&self.id, &self.text, status),
            Kind::Call { call_id, name, .. } => output::call_item(&self.id, call_id, name, &self.text, status),
        }
    }
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
        send(&wire::error(code, message, &mut self.sequence), out);
        self.response_event("response.failed", Status::Failed, Some(&Failure { code, message }), out);
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
        let at = At::next(&item.id, output_index, &mut self.sequence);
        if reasoning {
            send(&wire::summary_delta(at, text), out);
        } else {
            send(&wire::text_delta(at, text), out);
        }
    }

    /// Finishes what is open and adds a reasoning or message item with its empty part.
    fn open_text(&mut self, kind: Kind, out: &mut Vec<u8>) {
        self.close(Status::Completed, out);
        let output_index = self.items.len();
        let reasoning = kind == Kind::Reasoning;
        let id = object::id(if reasoning { "rs" } else { "msg" });
        let item = if reasoning { output::reasoning_item(&id, "") } else { output::message_added(&id) };
        send(&wire::item(Added, item, output_index, &mut self.sequence), out);
        let at = At::next(&id, output_index, &mut self.sequence);
        if reasoning {
            send(&wire::summary_part(Added, at, output::summary_text("")), out);
        } else {
            send(&wire::content_part(Added, at, output::text_part("")), out);
        }
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
            let item = output::call_item(&id, &call_id, &name, "", "in_progress");
            send(&wire::item(Added, item, self.items.len(), &mut self.sequence), out);
            self.items.push(Item { id, kind: Kind::Call { index, call_id, name }, text: String::new(), done: None });
            self.items.len() - 1
        };
        if arguments.is_empty() {
            return;
        }
        let item = &mut self.items[at];
        item.text.push_str(&arguments);
        self.held += arguments.len();
        send(&wire::arguments_delta(At::next(&item.id, at, &mut self.sequence), &arguments), out);
    }

    /// Finishes every open item, in the order they were added: its `.done` events, then
    /// `response.output_item.done`.
    fn close(&mut self, status: Status, out: &mut Vec<u8>) {
        while self.open_from < self.items.len() {
            let output_index = self.open_from;
            self.items[output_index].done = Some(status.item_status());
            let item = &self.items[output_index];
            done_events(item, output_index, &mut self.sequence, out);
            send(&wire::item(Done, item.output(), output_index, &mut self.sequence), out);
            self.open_from += 1;
        }
    }

    /// An event carrying the whole response as it stands.
    fn response_event(&mut self, kind: &str, status: Status, error: Option<&Failure<'_>>, out: &mut Vec<u8>) {
        let output: Vec<Output<'_>> = self.items.iter().map(Item::output).collect();
        let usage = self.usage.as_ref().filter(|_| status != Status::InProgress).map(output::Usage::of);
        let body = Body { status, output: &output, usage: usage.as_ref(), error };
        if matches!(status, Status::Completed | Status::Incomplete(_)) {
            if let Some(keep) = self.keep.take() {
                let mut stored = Vec::new();
                self.head.write(&body, &mut stored);
                keep.save(&self.head.id, &stored);
            }
        }
        wire::write_head(kind, out);
        out.extend_from_slice(b"{\"type\":");
        let _ = serde_json::to_writer(&mut *out, kind);
        let _ = write!(out, ",\"sequence_number\":{},\"response\":", wire::next(&mut self.sequence));
        // The client's ids are written here, so `respond` passes the events on unread.
        self.head.write_client(&body, out);
        out.extend_from_slice(b"}\n\n");
    }
}

/// A finishing item's `.done` events, before its `response.output_item.done`.
fn done_events(item: &Item, output_index: usize, sequence: &mut u64, out: &mut Vec<u8>) {
    let (id, text) = (item.id.as_str(), item.text.as_str());
    match &item.kind {
        Kind::Reasoning => {
            send(&wire::summary_done(At::next(id, output_index, sequence), text), out);
            send(&wire::summary_part(Done, At::next(id, output_index, sequence), output::summary_text(text)), out);
        }
        Kind::Message => {
            send(&wire::text_done(At::next(id, output_index, sequence), text), out);
            send(&wire::content_part(Done, At::next(id, output_index, sequence), output::text_part(text)), out);
        }
        Kind::Call { name, .. } => send(&wire::arguments_done(At::next(id, output_index, sequence), name, text), out),
    }
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
#[path = "stream_wire.rs"]
mod wire;

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
