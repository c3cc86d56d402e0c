//! The body of a streamed answer, the relay between the upstream's framing and the
//! client's format: it reads the provider's stream through the decoder of its framing
//! (`framing::Decoder`: SSE here; a translated stream has been decoded and translated by
//! `provider::translate::stream` already), hands each event to the client's [`Format`]
//! (chat chunks, Anthropic events, Responses events) and moves what that wrote with
//! backpressure. A translated stream written in the client's format already is moved as it
//! is, not decoded again. It knows neither format: the format (or the translated stream)
//! tells it the usage, the end and any failure. A stalled or broken
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
use crate::usage::Usage;

/// The stream relay body.
pub struct Relay {
    source: Source,
    /// None for a source in the client's format already, passed on as it is.
    decoder: Option<Decoder>,
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
        let encoded = matches!(&source, Source::Translated(translated) if translated.writes_client_format());
        Relay {
            source,
            decoder: (!encoded).then(Decoder::sse),
            format,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            finisher: None,
            failure: None,
            first_at: None,
            finished: false,
        }
    }

    /// Whether the relay decodes its source (it does not when the source is written in the
    /// client's format already).
    #[cfg(test)]
    pub(crate) fn decodes(&self) -> bool {
        self.decoder.is_some()
    }

    /// Every byte of a relay whose source is always ready, with the usage and failure it
    /// would report.
    #[cfg(test)]
    pub(crate) fn drained(mut self) -> (String, Option<Usage>, Option<String>) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = http_body::Body::poll_frame(Pin::new(&mut self), &mut cx) {
            out.extend_from_slice(frame.data_ref().map_or(&[][..], |data| data));
        }
        let usage = self.usage();
        (String::from_utf8_lossy(&out).into_owned(), usage, self.failure.take())
    }

    /// Hands over the request to report when the stream is over.
    pub fn finish_with(&mut self, finisher: Finisher) {
        self.finisher = Some(Box::new(finisher));
    }

    /// Every complete event decoded so far, written in the client's format; `Err` after
    /// an oversized one.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<(), ()> {
        let Some(decoder) = &mut self.decoder else { return Ok(()) };
        while let Some(decoded) = decoder.next_decoded() {
            match decoded {
                Decoded::Event(event) => write(&mut self.format, &mut self.failure, &event, out),
                Decoded::Frame(frame) => {
                    let event = Event { data: frame.payload.to_vec(), ..Event::default() };
                    write(&mut self.format, &mut self.failure, &event, out);
                }
                Decoded::TooLarge | Decoded::Broken(_) => return Err(()),
            }
        }
        Ok(())
    }

    /// Takes one frame of the source: decoded, or as it is when it is in the client's
    /// format already (the failure it told kept).
    fn take(&mut self, data: &mut impl Buf, out: &mut Vec<u8>) {
        let Some(decoder) = &mut self.decoder else {
            while data.has_remaining() {
                let chunk = data.chunk();
                let len = chunk.len();
                out.extend_from_slice(chunk);
                data.advance(len);
            }
            if let Source::Translated(translated) = &mut self.source
                && let Some(failure) = translated.take_failure()
            {
                self.failure = Some(failure);
            }
            return;
        };
        while data.has_remaining() {
            let chunk = data.chunk();
            let len = chunk.len();
            decoder.feed(chunk);
            data.advance(len);
        }
    }

    /// The usage the format saw, or the one a source in the client's format told.
    fn usage(&mut self) -> Option<Usage> {
        match &mut self.source {
            Source::Translated(translated) if self.decoder.is_none() => translated.usage(),
            _ => self.format.usage(),
        }
    }

    /// Ends the stream with the format's ending (`failure`'s event, chat's `[DONE]`), then
    /// reports the request.
    fn end(&mut self, out: &mut Vec<u8>, failure: Option<(String, &str, u16)>) {
        let told = failure.as_ref().map(|(message, kind, code)| Failure { message, kind, code: *code });
        // A chat client's stream written by its translator is ended there, where its
        // `[DONE]` is known.
        let ended = match &mut self.source {
            Source::Translated(translated) if self.decoder.is_none() => {
                translated.end(told.map(|f| (f.message, f.kind, f.code)), out)
            }
            _ => false,
        };
        if !ended {
            self.format.end(told, out);
        }
        if let Some((message, ..)) = failure {
            self.failure = Some(message);
        }
        self.finished = true;
        self.report();
    }

    fn report(&mut self) {
        let Some(finisher) = self.finisher.take() else { return };
        let usage = self.usage();
        finisher.stream_ended(usage, self.first_at, self.failure.as_deref());
    }
}

/// Writes one decoded event in the client's format, keeping the failure it reports.
fn write(format: &mut Format, failure: &mut Option<String>, event: &Event, out: &mut Vec<u8>) {
    if let Some(reported) = format.event(event, out) {
        *failure = Some(reported);
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
                    this.take(&mut data, &mut out);
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
                    if let Some(last) = this.decoder.as_mut().and_then(Decoder::finish) {
                        write(&mut this.format, &mut this.failure, &last, &mut out);
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
