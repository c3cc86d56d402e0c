//! Counts each client connection's open requests (from the request's head until its response
//! body has been sent or dropped), so that `server` can close an HTTP/2 connection that has
//! had none for the idle time HTTP/1 keep-alive gets: hyper's HTTP/2 server pings its peer but
//! has no idle timeout. Responses come from `gateway`; this only wraps their bodies.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::sync::watch;

/// One connection's count of open requests, watched by its task.
#[derive(Debug)]
pub struct Streams(watch::Sender<usize>);

impl Streams {
    pub fn new() -> Arc<Self> {
        Arc::new(Streams(watch::Sender::new(0)))
    }

    /// Counts a request as open until the returned guard is dropped.
    pub fn open(self: &Arc<Self>) -> OpenStream {
        self.0.send_modify(|n| *n += 1);
        OpenStream(Arc::clone(self))
    }

    /// How many requests are open now.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        *self.0.borrow()
    }

    /// Resolves once no request has been open for `idle` in a row.
    pub async fn idle_for(&self, idle: Duration) {
        let mut open = self.0.subscribe();
        loop {
            // Neither wait can fail: `self` holds the sender.
            if open.wait_for(|n| *n == 0).await.is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(idle) => return,
                changed = open.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// One open request; dropping it closes the request in the count.
#[derive(Debug)]
pub struct OpenStream(Arc<Streams>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body that keeps its request open in the count (if it is counted) until it is
/// done or dropped.
pub struct Tracked<B> {
    body: B,
    _open: Option<OpenStream>,
}

impl<B> Tracked<B> {
    pub fn new(body: B, open: Option<OpenStream>) -> Self {
        Tracked { body, _open: open }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_open_until_its_guard_is_dropped() {
        let streams = Streams::new();
        let first = streams.open();
        let second = streams.open();
        assert_eq!(streams.count(), 2);
        drop(first);
        assert_eq!(streams.count(), 1);
        let body = Tracked::new(http_body_util::Empty::<bytes::Bytes>::new(), Some(second));
        assert_eq!(streams.count(), 1, "the body holds its request open");
        drop(body);
        assert_eq!(streams.count(), 0);
    }
}
