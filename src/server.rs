//! Accepts connections and speaks HTTP/1.1 (keep-alive) and h2c with hyper, within the
//! head limits (size, header count, time to arrive: `inbound`); a keep-alive connection
//! that stays idle for the header timeout is closed, HTTP/1 by hyper and HTTP/2 (no open
//! stream, counted by `idle`) here, with GOAWAY; HTTP/2 peers are pinged so that a dead one
//! is noticed. On shutdown stops accepting, turns readiness to 503 and lets in-flight requests
//! finish within the drain period. Each request goes to `gateway`.

mod idle;
mod inbound;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use http::{Request, Response};

use crate::gateway::Gateway;
use crate::respond::Body;
use idle::{OpenStream, Streams, Tracked};
use inbound::{FirstBytes, HeadWatch, Inbound};

/// Pause after a failed accept (out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How often an HTTP/2 peer is pinged, idle or not, so that one that vanished without closing
/// (a dropped route, a suspended host) is noticed even while its stream waits on a long
/// upstream call.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// How long a ping may go unanswered before the HTTP/2 connection is closed.
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds the listening socket from the gateway's settings.
pub async fn bind(gateway: &Gateway) -> io::Result<TcpListener> {
    TcpListener::bind((gateway.settings.host.as_str(), gateway.settings.port)).await
}

/// Serves `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    let builders = Arc::new(Builders::new(&gateway.settings));
    // Every connection's task holds a receiver: a send asks them to finish, and `closed`
    // resolves once the last one has.
    let (drain, draining) = watch::channel(());
    let open = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => accept(stream, &builders, &gateway, &open, draining.clone()),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    gateway.drain();
    drop(listener);
    drop(draining);
    drain.send_replace(());
    let period = gateway.settings.drain;
    tracing::info!(drain_s = period.as_secs_f64(), "shutting down: no new connections, finishing in-flight requests");
    tokio::select! {
        () = drain.closed() => tracing::info!("drained"),
        () = tokio::time::sleep(period) => tracing::warn!("drain period over; closing remaining connections"),
    }
    gateway.books.tracer.shutdown().await;
}

/// The HTTP/1 settings, on hyper's builder or hyper-util's (alike in their methods, not in a
/// trait): the head limits, the time a head may take, keep-alive.
macro_rules! http1_settings {
    ($builder:expr, $settings:expr) => {
        $builder
            .timer(TokioTimer::new())
            .header_read_timeout($settings.header_timeout)
            .max_buf_size($settings.max_head_bytes)
            .max_headers($settings.max_headers)
            .keep_alive(true)
    };
}

/// hyper's connection settings, twice: `any` reads the HTTP version from the client's first
/// bytes (hyper-util's detection), `http1` serves a connection whose first bytes, looked at in
/// the socket, already ruled HTTP/2 out. The same HTTP/1 settings in both
/// (`http1_settings!`); `http1` also holds every head to the size limit exactly (hyper-util's
/// builder cannot set that, so there a complete head that arrived in one read past the
/// buffer's limit can still be taken).
struct Builders {
    any: auto::Builder<TokioExecutor>,
    http1: hyper::server::conn::http1::Builder,
}

impl Builders {
    fn new(settings: &crate::settings::Settings) -> Self {
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1_settings!(http1.max_header_size(settings.max_head_bytes), settings);
        Builders { any: builder(settings), http1 }
    }
}

/// hyper's connection settings: the head limits, HTTP/1 keep-alive, HTTP/2 pings.
fn builder(settings: &crate::settings::Settings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    http1_settings!(builder.http1(), settings);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT)
        .max_header_list_size(u32::try_from(settings.max_head_bytes).unwrap_or(u32::MAX));
    builder
}

/// Starts serving one accepted connection, or refuses it over the connection limit.
fn accept(
    stream: TcpStream,
    builders: &Arc<Builders>,
    gateway: &Arc<Gateway>,
    open: &Arc<AtomicUsize>,
    draining: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let settings = &gateway.settings;
    let Some(slot) = Open::enter(open, settings.max_connections) else {
        tokio::spawn(refuse(stream));
        return;
    };
    let header_timeout = settings.header_timeout;
    let watched = Watched {
        watch: Arc::new(HeadWatch::default()),
        streams: Streams::new(),
        header_timeout,
        decide_by: Instant::now() + header_timeout,
        draining,
        slot,
    };
    tokio::spawn(first_bytes_then_serve(stream, Arc::clone(builders), Arc::clone(gateway), watched));
}

/// Waits (until the header timeout) for the client's first bytes, then serves the connection
/// with the builder they call for.
async fn first_bytes_then_serve(stream: TcpStream, builders: Arc<Builders>, gateway: Arc<Gateway>, watched: Watched) {
    let first = tokio::time::timeout_at(watched.decide_by, inbound::first_bytes(&stream)).await;
    // Only a connection that may become HTTP/2 counts its open requests (for the HTTP/2 idle
    // timeout): on HTTP/1, hyper closes an idle keep-alive connection itself, and counting
    // would wake this task's HTTP/2 idle watch (a timer, a watch channel) on every request.
    let counted = matches!(first, Ok(FirstBytes::Unsettled)).then(|| Arc::clone(&watched.streams));
    let service = service_fn(move |request| answer(Arc::clone(&gateway), counted.as_ref().map(Streams::open), request));
    let io = TokioIo::new(Inbound::new(stream, Arc::clone(&watched.watch), watched.header_timeout));
    match first {
        Err(_) => closed_undecided(watched.header_timeout),
        Ok(FirstBytes::Closed) => {}
        Ok(FirstBytes::Http1) => serve_connection(builders.http1.serve_connection(io, service), watched, false).await,
        // Boxed: a task is sized for the larger of its two ways, and HTTP/1 connections (nearly
        // all of them) would otherwise each carry hyper-util's HTTP/2-capable state unused.
        Ok(FirstBytes::Unsettled) => {
            Box::pin(serve_connection(builders.any.serve_connection_with_upgrades(io, service), watched, true)).await;
        }
    }
}

fn closed_undecided(header_timeout: Duration) {
    tracing::info!(
        header_timeout_s = header_timeout.as_secs_f64(),
        "closed a connection that did not start a request within the header timeout"
    );
}

/// One request's answer, as the future hyper keeps for the connection's whole life (one
/// allocation, reused by its next request). The gateway's walk (parse → retry → provider →
/// respond) is a large state machine: boxed apart, it is freed as soon as the response head
/// is ready, so an open stream or an idle keep-alive connection does not hold it.
fn answer<B>(
    gateway: Arc<Gateway>,
    stream: Option<OpenStream>,
    request: Request<B>,
) -> impl Future<Output = Result<Response<Tracked<Body>>, Infallible>> + Send
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    // Allocated first and written in place: `Box::pin(walk)` builds the walk on the stack
    // and copies all of its ~7 KB (most of them not yet in use) into the heap.
    let handling = Box::into_pin(Box::write(Box::new_uninit(), async move { gateway.handle(request).await }));
    async move {
        let response = handling.await?;
        Ok(response.map(|body| Tracked::new(body, stream)))
    }
}

/// What a connection's task watches besides the connection itself.
struct Watched {
    watch: Arc<HeadWatch>,
    streams: Arc<Streams>,
    /// The time allowed for a request head, and the idle time of a keep-alive connection.
    header_timeout: Duration,
    /// When the client's first bytes must have settled the HTTP version.
    decide_by: Instant,
    draining: watch::Receiver<()>,
    slot: Open,
}

/// A hyper connection that can be asked to finish what it has begun and close (hyper-util's
/// own trait for this is sealed).
trait Graceful: Future<Output = Result<(), Self::Failure>> {
    /// How the connection failed.
    type Failure: Into<BoxError>;

    fn shut_down(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for auto::UpgradeableConnection<'_, I, S, TokioExecutor>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
    TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
    Self: Future<Output = Result<(), BoxError>>,
{
    type Failure = BoxError;

    fn shut_down(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B> Graceful for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
    type Failure = hyper::Error;

    fn shut_down(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Drives one connection to its end. hyper's header timeout only starts once the first bytes
/// have chosen HTTP/1 or HTTP/2, so a client that sends nothing (or stalls inside the HTTP/2
/// preface) is closed here; a head cut off by hyper's timeout is marked so that the stream
/// answers 408 as it is dropped. An HTTP/2 connection without an open stream for the header
/// timeout (what HTTP/1 keep-alive gets) is sent GOAWAY; it stops counting against the
/// connection limit then, and is dropped if its peer lets another such period pass without
/// closing.
///
/// Otherwise the connection (and with it the stream) is dropped before its slot stops
/// counting it.
async fn serve_connection<C: Graceful>(connection: C, watched: Watched, detecting: bool) {
    let Watched { watch, streams, header_timeout, decide_by, mut draining, slot } = watched;
    tokio::pin!(connection);
    // Only a connection still going through hyper-util's detection can stay undecided or
    // become HTTP/2; an HTTP/1 one skips both watches, which would otherwise be polled (two
    // timers, a watch channel) every time its task wakes.
    let ended = tokio::select! {
        ended = &mut connection => ended,
        () = never_decided(&watch, decide_by), if detecting => {
            closed_undecided(header_timeout);
            return;
        }
        () = idle_http2(&watch, &streams, header_timeout), if detecting => {
            tracing::debug!(idle_s = header_timeout.as_secs_f64(), "closing an HTTP/2 connection without an open stream");
            drop(slot);
            connection.as_mut().shut_down();
            tokio::select! {
                ended = &mut connection => ended,
                () = streams.idle_for(header_timeout) => return,
            }
        }
        _ = draining.changed() => {
            connection.as_mut().shut_down();
            (&mut connection).await
        }
    };
    if let Err(e) = ended {
        inbound::note_end(&watch, &*e.into());
    }
}

/// Resolves if the client's first bytes have not chosen an HTTP version by `decide_by`.
async fn never_decided(watch: &HeadWatch, decide_by: Instant) {
    tokio::time::sleep_until(decide_by).await;
    if watch.decided() {
        std::future::pending::<()>().await;
    }
}

/// Resolves once an HTTP/2 connection has had no open stream for `idle` (HTTP/1 is hyper's).
async fn idle_http2(watch: &HeadWatch, streams: &Streams, idle: Duration) {
    streams.idle_for(idle).await;
    if !watch.is_http2() {
        std::future::pending::<()>().await;
    }
}

/// One open client connection, counted against `max_connections` until dropped.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn enter(open: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Open(Arc::clone(open)))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a connection over the limit with 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    const BODY: &str = r#"{"error":{"message":"model-router is at its connection limit (MODEL_ROUTER_MAX_CONNECTIONS); try again shortly","type":"service_unavailable","param":null,"code":"503"}}"#;
    tracing::warn!("connection refused: at MODEL_ROUTER_MAX_CONNECTIONS");
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(BODY.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A gateway serving in the background, as tests and embedders run it.
pub struct Running {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Binds (port 0 picks a free one) and serves until [`Running::stop`].
    pub async fn start(gateway: Gateway) -> io::Result<Self> {
        let listener = bind(&gateway).await?;
        let addr = listener.local_addr()?;
        let gateway = Arc::new(gateway);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, Arc::clone(&gateway), async move {
            let _ = stopped.await;
        }));
        Ok(Running { addr, gateway, stop: Some(stop), task })
    }

    /// Starts draining; resolves once every connection is done or the drain period is over.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Most bytes the future hyper keeps per connection may take: the boxed walk's handle,
    /// the request's place in the open-stream count, the state.
    const MOST_KEPT_BYTES: usize = 64;

    #[tokio::test]
    async fn a_connection_keeps_a_small_future_not_the_gateways_walk() {
        let settings = crate::settings::Settings::from_vars(std::iter::empty()).unwrap_or_else(|e| panic!("{e}"));
        let gateway = Arc::new(Gateway::new(crate::table::COMPILED, settings).unwrap_or_else(|e| panic!("{e}")));
        let request = Request::new(http_body_util::Empty::<bytes::Bytes>::new());
        let walk = std::mem::size_of_val(&gateway.handle(Request::new(http_body_util::Empty::<bytes::Bytes>::new())));
        let kept = answer(Arc::clone(&gateway), Some(Streams::new().open()), request);
        let kept = std::mem::size_of_val(&kept);
        assert!(kept <= MOST_KEPT_BYTES, "{kept} bytes kept per connection (the walk takes {walk})");
        assert!(walk > 4 * MOST_KEPT_BYTES, "the walk is what boxing frees: {walk} bytes");
    }

    /// What a connection's task waits on, for a freshly accepted loopback connection.
    async fn accepted(open: &Arc<AtomicUsize>) -> (TcpStream, TcpStream, Watched) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let client = TcpStream::connect(listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let (client, accepted) = tokio::join!(client, listener.accept());
        let slot = Open::enter(open, 2).unwrap_or_else(|| panic!("a slot"));
        let header_timeout = Duration::from_secs(1);
        let watched = Watched {
            watch: Arc::new(HeadWatch::default()),
            streams: Streams::new(),
            header_timeout,
            decide_by: Instant::now() + header_timeout,
            draining: watch::channel(()).1,
            slot,
        };
        (client.unwrap_or_else(|e| panic!("{e}")), accepted.unwrap_or_else(|e| panic!("{e}")).0, watched)
    }

    /// A stream holds its connection's task for as long as it runs: an HTTP/1 connection's
    /// task is sized for HTTP/1, with hyper-util's detection (and HTTP/2) boxed apart.
    #[tokio::test]
    async fn an_http1_connection_task_is_not_sized_for_http2() {
        let settings = crate::settings::Settings::from_vars(std::iter::empty()).unwrap_or_else(|e| panic!("{e}"));
        let builders = Arc::new(Builders::new(&settings));
        let gateway = Arc::new(Gateway::new(crate::table::COMPILED, settings).unwrap_or_else(|e| panic!("{e}")));
        let open = Arc::new(AtomicUsize::new(0));
        let (_client, stream, watched) = accepted(&open).await;
        let task = first_bytes_then_serve(stream, Arc::clone(&builders), Arc::clone(&gateway), watched);
        let (_other, stream, watched) = accepted(&open).await;
        let streams = Arc::clone(&watched.streams);
        let service = service_fn(move |request| answer(Arc::clone(&gateway), Some(streams.open()), request));
        let io = TokioIo::new(Inbound::new(stream, Arc::clone(&watched.watch), watched.header_timeout));
        let detecting = serve_connection(builders.any.serve_connection_with_upgrades(io, service), watched, true);
        let (task, detecting) = (std::mem::size_of_val(&task), std::mem::size_of_val(&detecting));
        assert!(task < detecting, "the task takes {task} bytes, serving through hyper-util's detection {detecting}");
    }
}
