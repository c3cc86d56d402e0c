//! The body of a streamed answer: reads the provider's SSE, writes each chunk rewritten
//! (`sse`), ends with `data: [DONE]`, turns a failure or a stalled provider into an error
//! event, keeps a usage chunk the client did not ask for to itself (adding `cost` to one
//! it did ask for), and reports the request (`report`) when the stream ends or the client
//! leaves. `/v1/messages` streams are relayed as Anthropic events instead (no `[DONE]`,
//! failures as an `error` event). Memory is bounded by the parser's limit, however long
//! the stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::Method;
use http_body::Frame;
use tokio::time::Sleep;

use super::sse::{DONE, Parsed, Parser, error_event, message_event, rewrite};
use crate::gateway::{Call, Gateway};
use crate::provider::Source;
use crate::report;

/// What reports a streamed request once its stream is over.
pub struct Finisher {
    pub gateway: Arc<Gateway>,
    pub call: Call,
    pub method: Method,
    pub path: String,
    pub status: u16,
}

/// What a relayed stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenAI chunks, ended by `[DONE]`.
    Chunks,
    /// Anthropic events (`/v1/messages`), each with its `event:` line.
    Messages,
}

/// The stream relay body.
pub struct Relay {
    source: Source,
    parser: Parser,
    model: String,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    client_usage: bool,
    format: Format,
    finisher: Option<Box<Finisher>>,
    usage: Option<crate::usage::Usage>,
    failure: Option<String>,
    first_at: Option<Instant>,
    done_sent: bool,
    finished: bool,
}

impl Relay {
    /// Relays `source`, naming `model` in every chunk, failing after `idle` without data.
    pub fn new(source: Source, model: String, idle: Duration, client_usage: bool) -> Self {
        Relay {
            source,
            parser: Parser::default(),
            model,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            client_usage,
            format: Format::Chunks,
            finisher: None,
            usage: None,
            failure: None,
            first_at: None,
            done_sent: false,
            finished: false,
        }
    }

    /// Relays events in `format`.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Hands over the request to report when the stream is over.
    pub fn finish_with(&mut self, finisher: Finisher) {
        self.finisher = Some(Box::new(finisher));
    }

    /// Every complete event in the parser, rewritten; `Err` after an oversized one.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<(), ()> {
        while let Some(parsed) = self.parser.next_event() {
            let Parsed::Event(data) = parsed else { return Err(()) };
            self.write(&data, out);
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.done_sent {
            return;
        }
        if self.format == Format::Messages {
            let seen = message_event(data, &self.model, out);
            let usage = self.usage.get_or_insert_default();
            usage.prompt_tokens = seen.input_tokens.unwrap_or(usage.prompt_tokens);
            usage.completion_tokens = seen.output_tokens.unwrap_or(usage.completion_tokens);
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            if seen.error.is_some() {
                self.failure = seen.error;
            }
            return;
        }
        if data == b"[DONE]" {
            out.extend_from_slice(DONE);
            self.done_sent = true;
            return;
        }
        if let Some(message) = error_message(data) {
            // A provider's (or translator's) error event goes to the client as it is, and
            // the request counts as failed.
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\n\n");
            self.failure = Some(message);
            return;
        }
        let mark = out.len();
        let Some(seen) = rewrite(data, &self.model, out) else { return };
        if let Some(usage) = seen.usage {
            self.usage = Some(usage);
            if !self.client_usage && seen.no_choices {
                out.truncate(mark);
            } else {
                self.add_cost(out, mark);
            }
        }
    }

    /// LiteLLM adds the call's `cost` to the usage chunk it relays.
    fn add_cost(&self, out: &mut Vec<u8>, from: usize) {
        const USAGE_OPEN: &[u8] = b"\"usage\":{";
        let Some(finisher) = &self.finisher else { return };
        let mut call_usage = Call::new(&http::HeaderMap::new());
        call_usage.deployment = finisher.call.deployment;
        call_usage.upstream_model.clone_from(&finisher.call.upstream_model);
        call_usage.usage = self.usage;
        let Some(cost) = super::cost(&call_usage) else { return };
        if let Some(at) = out[from..].windows(USAGE_OPEN.len()).position(|w| w == USAGE_OPEN) {
            let at = from + at + USAGE_OPEN.len();
            let member = format!("\"cost\":{cost},");
            out.splice(at..at, member.bytes());
        }
    }

    /// Ends the stream with `failure`'s event (if any) and `[DONE]` (OpenAI chunks only),
    /// then reports the request.
    fn end(&mut self, out: &mut Vec<u8>, failure: Option<(String, &str, u16)>) {
        if !self.done_sent {
            if let Some((message, kind, code)) = failure {
                if self.format == Format::Messages {
                    out.extend_from_slice(&crate::provider::message_error_event(&message, code));
                } else {
                    out.extend_from_slice(&error_event(&message, kind, code));
                }
                self.failure = Some(message);
            }
            if self.format == Format::Chunks {
                out.extend_from_slice(DONE);
            }
            self.done_sent = true;
        }
        self.finished = true;
        self.report();
    }

    fn report(&mut self) {
        let Some(finisher) = self.finisher.take() else { return };
        let Finisher { gateway, mut call, method, path, status } = *finisher;
        call.usage = self.usage;
        call.cost = super::cost(&call);
        call.ttft = self.first_at.map(|at| at.saturating_duration_since(call.started));
        report::finish(&gateway, &call, &method, &path, status, None, self.failure.as_deref());
    }
}

/// The message of an `{"error": ...}` event, if `data` is one.
fn error_message(data: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        error: serde_json::Value,
    }
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    if !data[start..].starts_with(b"{\"error\"") {
        return None;
    }
    let event: Event = serde_json::from_slice(data).ok()?;
    let message = event.error.get("message").and_then(serde_json::Value::as_str).map(str::to_owned);
    Some(message.unwrap_or_else(|| event.error.to_string()))
}

impl Drop for Relay {
    /// A client that leaves mid-stream drops the body: the provider call is cancelled with
    /// it, and the request is still reported.
    fn drop(&mut self) {
        if self.finisher.is_some() {
            self.failure.get_or_insert_with(|| "the client closed the stream".to_owned());
            self.report();
        }
    }
}

impl http_body::Body for Relay {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let mut out = Vec::new();
        while !this.finished && out.is_empty() {
            match Pin::new(&mut this.source).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(mut data) = frame.into_data() else { continue };
                    this.sleep.as_mut().reset(tokio::time::Instant::now() + this.idle);
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        let len = chunk.len();
                        this.parser.feed(chunk);
                        data.advance(len);
                    }
                    if this.drain(&mut out).is_err() {
                        let message = "litellm.APIError: a streamed chunk exceeded 4 MiB".to_owned();
                        this.end(&mut out, Some((message, "internal_server_error", 500)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let message = format!("litellm.APIConnectionError: stream from the provider failed: {e}");
                    this.end(&mut out, Some((message, "internal_server_error", 500)));
                }
                Poll::Ready(None) => {
                    if let Some(last) = this.parser.finish() {
                        this.write(&last, &mut out);
                    }
                    this.end(&mut out, None);
                }
                Poll::Pending => {
                    if this.sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let message = format!(
                        "litellm.Timeout: APITimeoutError - the provider sent nothing for {:.1} s (stream_timeout)",
                        this.idle.as_secs_f64()
                    );
                    this.end(&mut out, Some((message, "timeout", 408)));
                }
            }
        }
        if out.is_empty() {
            return Poll::Ready(None);
        }
        this.first_at.get_or_insert_with(Instant::now);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))))
    }
}
