//! A scriptable mock upstream on 127.0.0.1:0 (plain HTTP or TLS): each request is recorded
//! and answered by the test's script.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// What the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub version: http::Version,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("upstream got JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How the mock answers one request.
pub enum Answer {
    Json {
        status: u16,
        body: String,
        headers: Vec<(&'static str, String)>,
    },
    /// SSE events (`data:` payloads); after the first, waits for `gate` when given.
    Sse {
        events: Vec<String>,
        gate: Option<Arc<Notify>>,
    },
    /// Sends `events`, waits for `gate`, then breaks the connection.
    SseThenReset {
        events: Vec<String>,
        gate: Arc<Notify>,
    },
    /// An SSE body sent as these pieces of raw text, one frame each (streams with `event:` lines).
    SseRaw {
        pieces: Vec<String>,
    },
    /// A binary body (AWS event-stream frames) sent as these pieces, one frame each; then,
    /// when `hold` is given, kept open until it is notified.
    Bytes {
        content_type: &'static str,
        pieces: Vec<Bytes>,
        hold: Option<Arc<Notify>>,
    },
    /// Sends nothing for `delay`, then the JSON body.
    Slow {
        delay: Duration,
        body: String,
    },
}

impl Answer {
    pub fn ok(body: &serde_json::Value) -> Self {
        Answer::Json { status: 200, body: body.to_string(), headers: vec![] }
    }
}

type Script = dyn Fn(&Seen) -> Answer + Send + Sync;

/// A running mock.
pub struct Mock {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Notified when a streamed answer's client went away before the stream ended.
    pub cancelled: Arc<Notify>,
}

impl Mock {
    /// `http://127.0.0.1:PORT/v1`.
    pub fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn last(&self) -> Seen {
        self.requests().pop().expect("the mock was called")
    }
}

/// Starts a plain-HTTP mock.
pub async fn start(script: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Mock {
    start_inner(Arc::new(script), None).await
}

/// Starts a TLS mock presenting `acceptor`'s certificate.
pub async fn start_tls(
    script: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
    acceptor: tokio_rustls::TlsAcceptor,
) -> Mock {
    start_inner(Arc::new(script), Some(acceptor)).await
}

async fn start_inner(script: Arc<Script>, tls: Option<tokio_rustls::TlsAcceptor>) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cancelled = Arc::new(Notify::new());
    let mock = Mock { addr, seen: Arc::clone(&seen), cancelled: Arc::clone(&cancelled) };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (script, seen, cancelled, tls) =
                (Arc::clone(&script), Arc::clone(&seen), Arc::clone(&cancelled), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    answer(request, Arc::clone(&script), Arc::clone(&seen), Arc::clone(&cancelled))
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    mock
}

type MockBody = BoxBody<Bytes, std::io::Error>;

async fn answer(
    request: Request<Incoming>,
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
    cancelled: Arc<Notify>,
) -> Result<Response<MockBody>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
    let path = parts.uri.path_and_query().map(ToString::to_string).unwrap_or_default();
    let request = Seen { method: parts.method, version: parts.version, path, headers: parts.headers, body };
    seen.lock().expect("lock").push(request.clone());
    let full = |status: u16, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
        *response.status_mut() = StatusCode::from_u16(status).expect("status");
        response.headers_mut().insert("content-type", "application/json".parse().expect("header"));
        response
    };
    Ok(match script(&request) {
        Answer::Json { status, body, headers } => {
            let mut response = full(status, body);
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().expect("header"));
            }
            response.headers_mut().insert("x-request-id", "req-up-1".parse().expect("header"));
            response
        }
        Answer::Slow { delay, body } => {
            tokio::time::sleep(delay).await;
            full(200, body)
        }
        Answer::Sse { events, gate } => sse(events, gate, None, cancelled),
        Answer::SseThenReset { events, gate } => sse(events, None, Some(gate), cancelled),
        Answer::Bytes { content_type, pieces, hold } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
            tokio::spawn(async move {
                for piece in pieces {
                    if tx.send(Ok(Frame::data(piece))).await.is_err() {
                        return;
                    }
                }
                if let Some(hold) = hold {
                    tokio::select! {
                        () = hold.notified() => {}
                        () = tx.closed() => {}
                    }
                }
            });
            let mut response = Response::new(BodyExt::boxed(ChannelBody(rx)));
            response.headers_mut().insert("content-type", content_type.parse().expect("header"));
            response
        }
        Answer::SseRaw { pieces } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
            tokio::spawn(async move {
                for piece in pieces {
                    if tx.send(Ok(Frame::data(Bytes::from(piece)))).await.is_err() {
                        return;
                    }
                }
            });
            let mut response = Response::new(BodyExt::boxed(ChannelBody(rx)));
            response.headers_mut().insert("content-type", "text/event-stream".parse().expect("header"));
            response
        }
    })
}

fn sse(
    events: Vec<String>,
    gate: Option<Arc<Notify>>,
    reset: Option<Arc<Notify>>,
    cancelled: Arc<Notify>,
) -> Response<MockBody> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for (i, event) in events.into_iter().enumerate() {
            if tx.send(Ok(Frame::data(Bytes::from(format!("data: {event}\n\n"))))).await.is_err() {
                cancelled.notify_one();
                return;
            }
            if i == 0 {
                if let Some(gate) = &gate {
                    tokio::select! {
                        () = gate.notified() => {}
                        () = tx.closed() => { cancelled.notify_one(); return; }
                    }
                }
            }
        }
        if let Some(reset) = reset {
            reset.notified().await;
            let _ = tx.send(Err(std::io::Error::other("upstream exploded mid-stream"))).await;
        }
    });
    let mut response = Response::new(BodyExt::boxed(ChannelBody(rx)));
    response.headers_mut().insert("content-type", "text/event-stream".parse().expect("header"));
    response
}

/// A body fed frame by frame through a channel; an `Err` breaks the connection.
struct ChannelBody(mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx)
    }
}
