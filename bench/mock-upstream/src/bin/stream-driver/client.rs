//! The HTTP/1.1 client side: a connection to the target, the benchmark's POST, and one
//! non-streaming exchange checked against the mock's answer.

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;
use crate::flags::Target;

/// A keep-alive connection's request half.
pub type Sender = SendRequest<Full<Bytes>>;

pub async fn connect(target: &Target) -> Result<Sender, Error> {
    let tcp = TcpStream::connect(target.addr).await.map_err(|e| format!("connect {}: {e}", target.addr))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

pub fn post(target: &Target, body: &Bytes, extra: &[(&str, String)]) -> Result<Request<Full<Bytes>>, Error> {
    let mut builder = Request::post(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::AUTHORIZATION, "Bearer bench");
    for (name, value) in extra {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Full::new(body.clone())).map_err(|e| format!("request: {e}"))
}

/// Checks a non-streaming answer: 200, then the mock's completion for the model.
fn check_completion(status: StatusCode, body: &[u8], model: &str) -> Result<(), String> {
    if status != StatusCode::OK {
        let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("status {status}: {snippet}"));
    }
    mock_upstream::check_completion(body, model)
}

/// One request on a connection; the latency is measured by the caller.
pub async fn exchange(sender: &mut Sender, request: Request<Full<Bytes>>, model: &str) -> Result<(), String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
    check_completion(status, &body, model)
}
