//! Inbound limits on the request head's arrival and on idle connections, through a real
//! socket: a head that stops arriving is answered 408, a connection that never starts a
//! request or goes idle between requests is closed without a word (HTTP/2: with GOAWAY, and
//! not while a stream is open), and other clients are served meanwhile.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::mock::{self, Answer};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use model_router::server::Running;
use model_router::table::{COMPILED, fixtures};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const KEY: &str = "sk-1234";
/// Short, so the tests are quick; the default is 30 s.
const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
/// A guard against a hang, far beyond the header timeout: the test fails instead of waiting.
const GUARD: Duration = Duration::from_secs(20);

async fn gateway() -> Running {
    assert_eq!(COMPILED.env, "base", "integration tests expect the default build (MODEL_ROUTER_ENV unset)");
    common::start_with(COMPILED, &[], |s| s.header_timeout = HEADER_TIMEOUT).await
}

/// Everything the gateway sends until it closes the connection.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut answer))
        .await
        .expect("the gateway closes the connection after the header timeout")
        .expect("read");
    String::from_utf8(answer).expect("UTF-8")
}

async fn other_clients_are_served(gw: &Running) {
    let chat = json!({ "model": "fake-openai-endpoint", "messages": [{ "role": "user", "content": "hi" }] });
    let reply = common::post(gw, "/v1/chat/completions", Some(KEY), &chat).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn a_head_that_stops_arriving_is_answered_408_and_closed() {
    let gw = gateway().await;
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-ty").await.unwrap();
    other_clients_are_served(&gw).await;
    let answer = until_closed(&mut slow).await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 408 Request Timeout"), "{answer}");
    let body: Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["error"]["code"], "408", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not received in time"), "{body}");
}

/// The gateway looks at a client's first bytes before hyper reads them: a head that could
/// still be the HTTP/2 preface ("P") goes to hyper-util's detection, and is served as HTTP/1
/// once the rest arrives; one that rules HTTP/2 out at once is served the same.
#[tokio::test]
async fn a_head_whose_first_byte_arrives_alone_is_served() {
    let gw = gateway().await;
    for first in [&b"P"[..], b"PU"] {
        let mut client = TcpStream::connect(gw.addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        client.write_all(first).await.unwrap();
        let rest = &b"PUT /health/liveliness HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"[first.len()..];
        client.write_all(rest).await.unwrap();
        let answer = until_closed(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{answer}");
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_without_an_answer() {
    let gw = gateway().await;
    let mut silent = TcpStream::connect(gw.addr).await.unwrap();
    other_clients_are_served(&gw).await;
    assert_eq!(until_closed(&mut silent).await, "");
}

#[tokio::test]
async fn a_stall_inside_the_http2_preface_is_closed_without_an_answer() {
    let gw = gateway().await;
    let mut stalled = TcpStream::connect(gw.addr).await.unwrap();
    stalled.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    other_clients_are_served(&gw).await;
    assert_eq!(until_closed(&mut stalled).await, "");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_last_answer() {
    let gw = gateway().await;
    let mut idle = TcpStream::connect(gw.addr).await.unwrap();
    idle.write_all(b"GET /health/liveliness HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let answer = until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "nothing after the one answer, no 408: {answer}");
}

/// The HTTP/2 tests' idle time (the header timeout): longer than `HEADER_TIMEOUT`, so that a
/// busy machine does not idle a connection out between its handshake and its first request.
const H2_IDLE: Duration = Duration::from_secs(1);
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
/// What an h2c client sends before anything else: the preface and an empty SETTINGS frame.
const PREFACE_AND_SETTINGS: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// One HTTP/2 frame's type and payload, or `None` at the end of the connection.
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 9];
    match tokio::time::timeout(GUARD, stream.read_exact(&mut head)).await.expect("a frame or the end, in time") {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("read: {e}"),
    }
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.expect("the frame's payload");
    Some((head[3], payload))
}

/// An h2c client that sends the preface and SETTINGS, then nothing (nor any PING ACK); returned
/// once the gateway's SETTINGS show it has taken the connection.
async fn silent_h2c(gw: &Running) -> TcpStream {
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream.write_all(PREFACE_AND_SETTINGS).await.unwrap();
    let (kind, _) = read_frame(&mut stream).await.expect("the gateway's SETTINGS");
    assert_eq!(kind, SETTINGS);
    stream
}

/// The GOAWAY's error code, once one arrives; the frame types sent before it are in `seen`.
async fn until_goaway(stream: &mut TcpStream, seen: &mut Vec<u8>) -> u32 {
    while let Some((kind, payload)) = read_frame(stream).await {
        if kind == GOAWAY {
            return u32::from_be_bytes(payload[4..8].try_into().unwrap());
        }
        seen.push(kind);
    }
    panic!("closed without GOAWAY after frames {seen:?}");
}

#[tokio::test]
async fn an_idle_http2_connection_is_sent_goaway_and_closed() {
    let gw = common::start_with(COMPILED, &[], |s| s.header_timeout = H2_IDLE).await;
    let mut idle = silent_h2c(&gw).await;
    other_clients_are_served(&gw).await;
    assert_eq!(until_goaway(&mut idle, &mut Vec::new()).await, 0, "GOAWAY with NO_ERROR");
    // This client never acknowledges the GOAWAY's PING: it is dropped after another idle period.
    while read_frame(&mut idle).await.is_some() {}
}

#[tokio::test]
async fn idle_http2_connections_give_their_slots_to_new_clients() {
    const MAX: usize = 3;
    let gw = common::start_with(COMPILED, &[], |s| {
        s.header_timeout = H2_IDLE;
        s.max_connections = MAX;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..MAX {
        idle.push(silent_h2c(&gw).await);
    }
    // Refused before it can say anything, as every client over the limit is.
    let mut refused = TcpStream::connect(gw.addr).await.unwrap();
    let refused = until_closed(&mut refused).await;
    assert!(refused.starts_with("HTTP/1.1 503") && refused.contains("connection limit"), "{refused}");
    for stream in &mut idle {
        until_goaway(stream, &mut Vec::new()).await;
    }
    let served = common::get(&gw, "/health/liveliness", None).await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text());
}

#[tokio::test]
async fn an_http2_connection_with_an_open_stream_is_not_idle() {
    let gate = Arc::new(Notify::new());
    let held = Arc::clone(&gate);
    let mock = mock::start(move |_| Answer::Sse {
        events: vec![r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#.into(), "[DONE]".into()],
        gate: Some(Arc::clone(&held)),
    })
    .await;
    let base = mock.base();
    let vars = [("MOCK_BASE", base.as_str()), ("MOCK_KEY", "k")];
    let gw = common::start_with(&fixtures::upstream::TABLE, &vars, |s| s.header_timeout = H2_IDLE).await;
    let tcp = TcpStream::connect(gw.addr).await.unwrap();
    let (mut client, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.unwrap();
    let connection = tokio::spawn(connection);
    let chat =
        serde_json::json!({ "model": "gpt-4o", "stream": true, "messages": [{ "role": "user", "content": "hi" }] });
    let request = Request::post(format!("http://{}/v1/chat/completions", gw.addr))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(chat.to_string())))
        .unwrap();
    let response = client.send_request(request).await.unwrap();
    assert_eq!((response.version(), response.status()), (http::Version::HTTP_2, StatusCode::OK));
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"hi\""), "{first:?}");

    // A connection opened after the stream began is idled out; the stream's is not.
    let mut clock = silent_h2c(&gw).await;
    until_goaway(&mut clock, &mut Vec::new()).await;
    gate.notify_one();
    let rest = body.collect().await.expect("the rest of the stream").to_bytes();
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"), "{rest:?}");
    assert_eq!(mock.requests().len(), 1, "the upstream got the one call");
    let again = Request::get(format!("http://{}/health/liveliness", gw.addr)).body(Full::new(Bytes::new())).unwrap();
    let again = client.send_request(again).await.expect("the connection still takes requests");
    assert_eq!(again.status(), StatusCode::OK);
    drop(again);

    // Idle now, it is closed: a well-behaved client sees GOAWAY and the end of the connection.
    tokio::time::timeout(GUARD, connection).await.expect("closed after the idle time").unwrap().unwrap();
}
