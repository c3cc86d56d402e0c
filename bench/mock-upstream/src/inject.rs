//! The mock's injected faults: which request gets one (`x-mock-fault`, a `-f<name>` model
//! token, or the `--faults` rates over the mock's own request count), the counts (`GET
//! /mock/stats`), and the bodies that fail: a reset after part of the answer, a body that is
//! not JSON. Requests without a fault take none of this beyond one header look-up.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use mock_upstream::faults::{Fault, Mix};

/// How long a reset waits after the part it sends, so that part leaves before the reset.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// What the faults need: the rates, the stall, the 429's `retry-after`, the counters.
pub struct Faults {
    pub mix: Mix,
    pub seed: u64,
    pub stall: Duration,
    pub retry_after_s: u64,
    /// Chat requests seen (the `--faults` plan's request number).
    requests: AtomicU64,
    /// Faults injected, indexed like [`Fault::ALL`].
    injected: [AtomicU64; Fault::ALL.len()],
}

impl Faults {
    pub fn new(mix: Mix, seed: u64, stall: Duration, retry_after_s: u64) -> Self {
        Faults {
            mix,
            seed,
            stall,
            retry_after_s,
            requests: AtomicU64::new(0),
            injected: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The fault this request gets (counted), if any: the header, else the model token, else
    /// the rates.
    pub fn choose(&self, headers: &HeaderMap, model: &str) -> Option<Fault> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let asked = headers.get("x-mock-fault").and_then(|v| v.to_str().ok()).and_then(Fault::parse);
        let fault = asked.or_else(|| Fault::from_model(model)).or_else(|| self.mix.pick(self.seed, n))?;
        self.injected[fault.index()].fetch_add(1, Ordering::Relaxed);
        Some(fault)
    }

    /// `{"requests": N, "faults": {"500": n, ...}, "mix": "...", "seed": S}`.
    pub fn stats(&self) -> String {
        let counts: Vec<String> = Fault::ALL
            .iter()
            .map(|f| format!("\"{}\":{}", f.name(), self.injected[f.index()].load(Ordering::Relaxed)))
            .collect();
        format!(
            "{{\"requests\":{},\"faults\":{{{}}},\"mix\":\"{}\",\"seed\":{},\"stall_ms\":{},\"retry_after_s\":{}}}",
            self.requests.load(Ordering::Relaxed),
            counts.join(","),
            self.mix,
            self.seed,
            self.stall.as_millis(),
            self.retry_after_s
        )
    }
}

/// The 500's body, as OpenAI words it.
pub const SERVER_ERROR: &str = "{\"error\":{\"message\":\"The server had an error while processing your request. \
Sorry about that!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";

/// The 429's body, as OpenAI words it.
pub const RATE_LIMITED: &str = "{\"error\":{\"message\":\"Rate limit reached for requests (injected by the mock).\",\
\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";

/// The part of `text` a broken answer keeps: its first half (never valid JSON on its own).
pub fn first_half(text: &str) -> Bytes {
    let mut end = text.len() / 2;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Bytes::copy_from_slice(&text.as_bytes()[..end])
}

/// A connection that can be reset: on drop, with the flag set, it closes with `SO_LINGER` 0,
/// so the peer gets a TCP RST instead of a FIN.
pub struct ResettableIo {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl ResettableIo {
    pub fn new(stream: TcpStream) -> (Self, Arc<AtomicBool>) {
        let reset = Arc::new(AtomicBool::new(false));
        (Self { stream, reset: Arc::clone(&reset) }, reset)
    }
}

impl Drop for ResettableIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A body that relays `frames` frames of `inner`, pauses, then resets the connection: the
/// error ends hyper's connection, whose socket then closes with a reset.
pub struct CutBody<B> {
    inner: B,
    frames: u32,
    reset: Arc<AtomicBool>,
    pause: Option<Pin<Box<Sleep>>>,
}

impl<B> CutBody<B> {
    pub fn new(inner: B, frames: u32, reset: Arc<AtomicBool>) -> Self {
        Self { inner, frames, reset, pause: None }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for CutBody<B> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.frames > 0 {
            return match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.frames -= 1;
                    Poll::Ready(Some(Ok(frame)))
                }
                Poll::Ready(_) => Poll::Ready(Some(Err(io::Error::other("the mock's answer ended early")))),
                Poll::Pending => Poll::Pending,
            };
        }
        let pause = self.pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_PAUSE)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.reset.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::ConnectionReset, "injected reset"))))
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_header_wins_then_the_model_then_the_rates() {
        let faults = Faults::new(Mix::parse("stall=1").unwrap(), 1, Duration::ZERO, 1);
        let mut headers = HeaderMap::new();
        headers.insert("x-mock-fault", HeaderValue::from_static("429"));
        assert_eq!(faults.choose(&headers, "mock-f500"), Some(Fault::RateLimited));
        assert_eq!(faults.choose(&HeaderMap::new(), "mock-f500"), Some(Fault::ServerError));
        assert_eq!(faults.choose(&HeaderMap::new(), "gpt-4o"), Some(Fault::Stall));
        let none = Faults::new(Mix::default(), 1, Duration::ZERO, 1);
        assert_eq!(none.choose(&HeaderMap::new(), "mock-c4"), None);
        let stats: serde_json::Value = serde_json::from_str(&faults.stats()).unwrap();
        assert_eq!(stats["requests"], 3);
        assert_eq!(stats["faults"]["429"], 1);
        assert_eq!(stats["faults"]["stall"], 1);
    }

    #[test]
    fn half_an_answer_is_not_json() {
        let half = first_half("{\"a\":\"é\"}");
        assert!(serde_json::from_slice::<serde_json::Value>(&half).is_err());
    }
}
