//! Accepts connections and speaks HTTP/1.1 (keep-alive) and h2c with hyper, within the
//! head limits (size, header count, time to arrive: `inbound`); on shutdown stops
//! accepting, turns readiness to 503 and lets in-flight requests finish within the drain
//! period. Each request goes to `gateway`.

mod inbound;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::gateway::Gateway;
use inbound::{HeadWatch, Inbound};

/// Pause after a failed accept (out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Binds the listening socket from the gateway's settings.
pub async fn bind(gateway: &Gateway) -> io::Result<TcpListener> {
    TcpListener::bind((gateway.settings.host.as_str(), gateway.settings.port)).await
}

/// Serves `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    let settings = &gateway.settings;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(settings.max_head_bytes)
        .max_headers(settings.max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(settings.max_head_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    let open = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let Some(guard) = Open::enter(&open, settings.max_connections) else {
                        tokio::spawn(refuse(stream));
                        continue;
                    };
                    let gateway = Arc::clone(&gateway);
                    let service = service_fn(move |request| {
                        let gateway = Arc::clone(&gateway);
                        async move { gateway.handle(request).await }
                    });
                    let watch = Arc::new(HeadWatch::default());
                    let io = Inbound::new(stream, Arc::clone(&watch), settings.header_timeout);
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service).into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(serve_connection(connection, watch, settings.header_timeout, guard));
                }
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
    let drain = gateway.settings.drain;
    tracing::info!(drain_s = drain.as_secs_f64(), "shutting down: no new connections, finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(drain) => tracing::warn!("drain period over; closing remaining connections"),
    }
    gateway.tracer.shutdown().await;
}

/// Drives one connection to its end. hyper's header timeout only starts once the first bytes
/// have chosen HTTP/1 or HTTP/2, so a client that sends nothing (or stalls inside the HTTP/2
/// preface) is closed here; a head cut off by hyper's timeout is marked so that the stream
/// answers 408 as it is dropped.
///
/// The connection (and with it the stream) is dropped before `_open` stops counting it.
async fn serve_connection<C>(connection: C, watch: Arc<HeadWatch>, header_timeout: Duration, _open: Open)
where
    C: Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>,
{
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = &mut connection => ended,
        () = tokio::time::sleep(header_timeout) => {
            if !watch.decided() {
                tracing::info!(header_timeout_s = header_timeout.as_secs_f64(), "closed a connection that did not start a request within the header timeout");
                return;
            }
            (&mut connection).await
        }
    };
    if let Err(e) = ended {
        inbound::note_end(&watch, &*e);
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
