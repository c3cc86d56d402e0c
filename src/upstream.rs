//! The one pooled upstream client: keep-alive, TCP_NODELAY, rustls with the compiled-in
//! webpki roots plus `SSL_CERT_FILE`, HTTP/1.1 or h2 by ALPN, and the connect and
//! time-to-headers limits. `provider` builds the request and its [`Outgoing`] body; the
//! reply goes to `respond`.

mod json;
mod outgoing;

pub use json::json_len;
pub use outgoing::{Builder, Outgoing, keeps};

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::Error;

/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream host: enough for steady load, while the connections
/// a burst of streams opened are closed once it is over rather than held for `POOL_IDLE`.
const POOL_MAX_IDLE_PER_HOST: usize = 64;

/// The pooled HTTP(S) client every provider call goes through.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<HttpsConnector<HttpConnector>, Outgoing>,
}

impl Client {
    /// A client trusting the webpki roots and, when given, the PEM certificates in
    /// `extra_roots` (a file path).
    pub fn new(extra_roots: Option<&str>, connect_timeout: Duration) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_roots {
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("SSL_CERT_FILE={path}: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("SSL_CERT_FILE={path}: {e}"))?;
                roots.add(cert).map_err(|e| format!("SSL_CERT_FILE={path}: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Client { inner })
    }

    /// Sends `request` and waits for the response head until `deadline`.
    pub async fn send(
        &self,
        request: Request<Outgoing>,
        deadline: Instant,
        exception: &'static str,
    ) -> Result<Response<Incoming>, Error> {
        let started = Instant::now();
        let timeout = deadline.saturating_duration_since(started);
        match tokio::time::timeout(timeout, self.inner.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(Error::Connect { exception, message: connect_message(&e) }),
            Err(_) => {
                Err(Error::Timeout { timeout_s: timeout.as_secs_f64(), elapsed_s: started.elapsed().as_secs_f64() })
            }
        }
    }
}

/// The innermost cause of a client error: what actually went wrong (refused, DNS, TLS).
fn connect_message(error: &hyper_util::client::legacy::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}
