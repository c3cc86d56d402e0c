//! A client connection's byte stream as hyper reads it, watched for slow request heads: a
//! connection that has not said which HTTP version it speaks (nothing sent, or part of the
//! HTTP/2 preface) is closed after the header timeout, and one whose HTTP/1 head stops
//! arriving midway is answered 408 as it closes. Bytes go on to hyper, then `gateway`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::Error;

/// What a client sends first to speak HTTP/2 without TLS; anything else is HTTP/1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the connection's task and its stream tell each other.
#[derive(Debug, Default)]
pub struct HeadWatch {
    /// The client's first bytes have settled HTTP/1 or HTTP/2 (hyper's own head timeout only
    /// runs from then on).
    decided: AtomicBool,
    /// The client's first bytes were the HTTP/2 preface.
    http2: AtomicBool,
    /// hyper ended the connection because a request head did not arrive in time.
    timed_out: AtomicBool,
}

impl HeadWatch {
    /// Whether the client's first bytes have settled the HTTP version.
    pub fn decided(&self) -> bool {
        self.decided.load(Ordering::Acquire)
    }

    /// Whether the client speaks HTTP/2 (its first bytes were the whole preface).
    pub fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Acquire)
    }

    /// Marks the connection as ended by the header timeout, so the stream answers 408 when it
    /// is dropped (if a head had begun).
    pub fn time_out(&self) {
        self.timed_out.store(true, Ordering::Release);
    }
}

/// The client's TCP stream, remembering whether a request head has begun arriving since the
/// last response bytes were written.
pub struct Inbound {
    stream: TcpStream,
    watch: Arc<HeadWatch>,
    /// How much of the HTTP/2 preface the client's bytes have matched so far.
    preface_seen: usize,
    decided: bool,
    mid_request: bool,
    header_timeout: Duration,
}

impl Inbound {
    pub fn new(stream: TcpStream, watch: Arc<HeadWatch>, header_timeout: Duration) -> Self {
        Inbound { stream, watch, preface_seen: 0, decided: false, mid_request: false, header_timeout }
    }

    fn note_read(&mut self, bytes: &[u8]) {
        self.mid_request = true;
        if !self.decided {
            match preface_so_far(self.preface_seen, bytes) {
                Preface::Partly(seen) => self.preface_seen = seen,
                Preface::Whole => {
                    self.decided = true;
                    self.watch.http2.store(true, Ordering::Release);
                    self.watch.decided.store(true, Ordering::Release);
                }
                Preface::Not => {
                    self.decided = true;
                    self.watch.decided.store(true, Ordering::Release);
                }
            }
        }
    }
}

impl AsyncRead for Inbound {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.note_read(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Inbound {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.mid_request = false;
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.mid_request = false;
        }
        polled
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

impl Drop for Inbound {
    /// hyper closes a connection whose head timed out without a word; this says 408 first.
    /// The write does not wait: a fresh socket's send buffer takes these few hundred bytes.
    fn drop(&mut self) {
        if self.mid_request && self.watch.timed_out.load(Ordering::Acquire) {
            tracing::warn!(
                header_timeout_s = self.header_timeout.as_secs_f64(),
                "request head not received within the header timeout; answered 408 and closed"
            );
            let _ = self.stream.try_write(request_timeout().as_bytes());
        }
    }
}

/// What a client's first bytes, looked at where they wait in the socket, say about the HTTP
/// version it speaks.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstBytes {
    /// Not the start of the HTTP/2 preface: HTTP/1.
    Http1,
    /// The preface, or so far a part of it: for hyper-util's detection to settle.
    Unsettled,
    /// The client closed (or reset) the connection before sending anything.
    Closed,
}

/// Waits for the client's first bytes and reads them without taking them from the socket,
/// so that hyper's HTTP/1 parser later gets the whole head in its first read. (hyper-util's
/// own detection takes up to 24 bytes and hands them to the parser alone; the head then
/// takes two reads, and the second doubles the connection's read buffer to 16 KiB, which it
/// keeps for its life.)
pub async fn first_bytes(stream: &TcpStream) -> FirstBytes {
    let mut first = [0; H2_PREFACE.len()];
    match stream.peek(&mut first).await {
        Ok(0) | Err(_) => FirstBytes::Closed,
        Ok(n) if preface_so_far(0, &first[..n]) == Preface::Not => FirstBytes::Http1,
        Ok(_) => FirstBytes::Unsettled,
    }
}

/// What the client's first bytes say about the HTTP/2 preface.
#[derive(Debug, PartialEq, Eq)]
enum Preface {
    /// This many bytes of it so far: the version is not settled yet.
    Partly(usize),
    /// All of it: HTTP/2.
    Whole,
    /// A byte that differs: HTTP/1.
    Not,
}

/// How much of the HTTP/2 preface has been seen after `bytes` follow `seen` matching ones.
fn preface_so_far(seen: usize, bytes: &[u8]) -> Preface {
    let rest = &H2_PREFACE[seen..];
    let n = bytes.len().min(rest.len());
    if bytes[..n] != rest[..n] {
        Preface::Not
    } else if seen + n == H2_PREFACE.len() {
        Preface::Whole
    } else {
        Preface::Partly(seen + n)
    }
}

/// The 408 response, with the body every other error has.
fn request_timeout() -> String {
    let error = Error::ClientTimeout;
    let body = error.body().to_string();
    let status = error.status();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    )
}

/// Logs, once, why hyper ended a connection early; a head timeout marks the stream, which
/// logs and answers the 408 itself if a head had begun (an idle connection just closes).
pub fn note_end(watch: &HeadWatch, error: &(dyn std::error::Error + 'static)) {
    match error.downcast_ref::<hyper::Error>() {
        Some(e) if e.is_timeout() => watch.time_out(),
        Some(e) if e.is_parse_too_large() => {
            tracing::warn!(error = %e, "request head over the size or header-count limit; answered 431 (414 for the URI)");
        }
        Some(e) if e.is_parse() => tracing::warn!(error = %e, "malformed request head; answered 400"),
        _ => tracing::debug!(error = %error, "connection ended with an error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bytes_settle_the_version() {
        assert_eq!(preface_so_far(0, b"GET / HTTP/1.1\r\n"), Preface::Not, "HTTP/1 at the first byte");
        assert_eq!(preface_so_far(0, b"PRI * "), Preface::Partly(6), "still possibly HTTP/2");
        assert_eq!(preface_so_far(6, b"HTTP/1.1"), Preface::Not, "not the preface after all");
        assert_eq!(preface_so_far(0, H2_PREFACE), Preface::Whole, "HTTP/2");
        assert_eq!(preface_so_far(6, &H2_PREFACE[6..]), Preface::Whole, "HTTP/2, in two reads");
        assert_eq!(
            preface_so_far(0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0"),
            Preface::Whole,
            "HTTP/2 and its first frame"
        );
        assert_eq!(preface_so_far(0, b""), Preface::Partly(0), "nothing yet");
    }

    /// A connected pair of sockets on the loopback: (client, gateway's side).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.unwrap_or_else(|e| panic!("{e}")), accepted.unwrap_or_else(|e| panic!("{e}")).0)
    }

    #[tokio::test]
    async fn the_first_bytes_are_looked_at_and_left_in_the_socket() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let cases: [(&[u8], FirstBytes); 3] = [
            (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n\r\n", FirstBytes::Http1),
            (H2_PREFACE, FirstBytes::Unsettled),
            (b"P", FirstBytes::Unsettled),
        ];
        for (sent, expected) in cases {
            let (mut client, mut gateway) = pair().await;
            client.write_all(sent).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(first_bytes(&gateway).await, expected, "{}", String::from_utf8_lossy(sent));
            let mut read = vec![0; sent.len()];
            gateway.read_exact(&mut read).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(read, sent, "every byte is still there for hyper");
        }
        let (client, gateway) = pair().await;
        drop(client);
        assert_eq!(first_bytes(&gateway).await, FirstBytes::Closed);
    }

    #[test]
    fn the_408_is_a_complete_http_response_with_an_openai_body() {
        let response = request_timeout();
        let Some((head, body)) = response.split_once("\r\n\r\n") else { panic!("no blank line: {response}") };
        assert!(head.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(body["error"]["code"], "408");
    }
}
