//! The HTTP/1.1 client side: a connection to the target, the benchmark's POST, and one
//! non-streaming exchange checked against the mock's answer.

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use mock_upstream::CONTENT;

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

#[derive(Deserialize)]
struct Completion {
    object: String,
    model: String,
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

/// Checks a non-streaming answer: 200, a `chat.completion` for the model, the mock's text.
fn check_completion(status: StatusCode, body: &[u8], model: &str) -> Result<(), String> {
    if status != StatusCode::OK {
        let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("status {status}: {snippet}"));
    }
    let parsed: Completion = serde_json::from_slice(body).map_err(|e| format!("not a chat.completion: {e}"))?;
    if parsed.object != "chat.completion" {
        return Err(format!("object {:?}", parsed.object));
    }
    if !parsed.model.ends_with(model) {
        return Err(format!("model {:?}, expected {model:?}", parsed.model));
    }
    match parsed.choices.first().and_then(|c| c.message.content.as_deref()) {
        Some(text) if text == CONTENT => Ok(()),
        _ => Err("the answer is not the mock's text".to_owned()),
    }
}

/// One request on a connection; the latency is measured by the caller.
pub async fn exchange(sender: &mut Sender, request: Request<Full<Bytes>>, model: &str) -> Result<(), String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
    check_completion(status, &body, model)
}
