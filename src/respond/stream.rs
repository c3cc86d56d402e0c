//! The body of a streamed answer, the relay between the upstream's framing and the
//! client's format: it reads the provider's stream through the decoder of its framing
//! (`framing::Decoder`: SSE here; a translated stream has been decoded and translated by
//! `provider::translate::stream` already), hands each event to the client's [`Format`] (chat chunks, Anthropic
//! events, Responses events) and moves what that wrote with backpressure. It knows neither
//! format: the format tells it the usage, the end and any failure. A stalled or broken
//! provider, or an event too large, ends the stream with the format's failure; the request
//! is reported through its [`Finisher`] (`report`), told only the usage, the time of the
//! first bytes and the failure, when the stream ends or the client leaves. Memory is
//! bounded by the parser's limit, however long the stream.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body::Frame;
use tokio::time::Sleep;

use super::format::Failure;
pub use super::format::Format;
use crate::framing::sse::Event;
use crate::framing::{Decoded, Decoder};
use crate::provider::Source;
use crate::report::Finisher;

/// The stream relay body.
pub struct Relay {
    source: Source,
    decoder: Decoder,
    format: Format,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    finisher: Option<Box<Finisher>>,
    failure: Option<String>,
    first_at: Option<Instant>,
    finished: bool,
}

impl Relay {
    /// Relays `source`, SSE-framed, to the client in `format`, failing after `idle`
    /// without data.
    pub fn new(source: Source, format: Format, idle: Duration) -> Self {
        Relay {
            source,
            decoder: Decoder::sse(),
            format,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            finisher: None,
            failure: None,
            first_at: None,
            finished: false,
        }
    }

    /// Hands over the request to report when the stream is over.
    pub fn finish_with(&mut self, finisher: Finisher) {
        self.finisher = Some(Box::new(finisher));
    }

    /// Every complete event decoded so far, written in the client's format; `Err` after
    /// an oversized one.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<(), ()> {
        while let Some(decoded) = self.decoder.next_decoded() {
            match decoded {
                Decoded::Event(event) => self.write(&event, out),
                Decoded::Frame(frame) => self.write(&Event { data: frame.payload.to_vec(), ..Event::default() }, out),
                Decoded::TooLarge | Decoded::Broken(_) => return Err(()),
            }
        }
        Ok(())
    }

    fn write(&mut self, event: &Event, out: &mut Vec<u8>) {
        if let Some(failure) = self.format.event(event, out) {
            self.failure = Some(failure);
        }
    }

    /// Ends the stream with the format's ending (`failure`'s event, chat's `[DONE]`), then
    /// reports the request.
    fn end(&mut self, out: &mut Vec<u8>, failure: Option<(String, &str, u16)>) {
        let told = failure.as_ref().map(|(message, kind, code)| Failure { message, kind, code: *code });
        self.format.end(told, out);
        if let Some((message, ..)) = failure {
            self.failure = Some(message);
        }
        self.finished = true;
        self.report();
    }

    fn report(&mut self) {
        let Some(finisher) = self.finisher.take() else { return };
        finisher.stream_ended(self.format.usage(), self.first_at, self.failure.as_deref());
    }
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
                        this.decoder.feed(chunk);
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
                    if let Some(last) = this.decoder.finish() {
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
