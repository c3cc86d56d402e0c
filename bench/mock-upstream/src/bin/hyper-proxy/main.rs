//! The benchmark's bare hyper hop: the HTTP stack model-router is built on (hyper 1 behind
//! hyper-util's `auto` server builder, hyper-util's pooled legacy client, tokio's
//! current-thread runtime), with none of the gateway's work: it reads the request body
//! whole, sends it to `--upstream` with the client's method, path and headers (`host`
//! replaced), and relays the answer's head and body as they come. No JSON, routing, auth,
//! headers, metrics or logs. Beside nginx, it shows what of a gateway's cost per request is
//! the HTTP stack's own, which no change inside the gateway can remove.
//!
//! `hyper-proxy --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT`; `GET /health/readiness`
//! is proxied like every path, so readiness is the upstream's.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// Idle upstream connections kept, as model-router's pool keeps them.
const POOL_MAX_IDLE_PER_HOST: usize = 64;
const POOL_IDLE: Duration = Duration::from_secs(90);

type Upstream = Client<HttpConnector, Full<Bytes>>;

/// `--name value` from the command line.
fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}

/// One request: read whole, sent upstream, the answer relayed as it streams.
async fn proxy(
    client: Upstream,
    authority: HeaderValue,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    let (mut head, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
    head.uri = Uri::builder().scheme("http").authority(authority.as_bytes()).path_and_query(path).build()?;
    head.headers.insert(header::HOST, authority);
    Ok(client.request(Request::from_parts(head, Full::new(body))).await?)
}

#[expect(clippy::print_stderr, reason = "a command-line tool reports on stderr")]
fn report(message: &str) {
    eprintln!("hyper-proxy: {message}");
}

fn main() -> ExitCode {
    let (Some(listen), Some(upstream)) = (flag("--listen"), flag("--upstream")) else {
        report("usage: hyper-proxy --listen HOST:PORT --upstream HOST:PORT");
        return ExitCode::from(2);
    };
    let Ok(authority) = HeaderValue::from_str(&upstream) else {
        report(&format!("bad --upstream {upstream}"));
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            report(&e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let listener = TcpListener::bind(&listen).await?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Upstream = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).keep_alive(true);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let (client, authority, builder) = (client.clone(), authority.clone(), builder.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| proxy(client.clone(), authority.clone(), request));
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
            });
        }
        #[expect(unreachable_code, reason = "the accept loop ends only by an error")]
        Ok::<(), std::io::Error>(())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e.to_string());
            ExitCode::FAILURE
        }
    }
}
