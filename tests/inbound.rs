//! Inbound limits on the request head's arrival, through a real socket: a head that stops
//! arriving is answered 408, a connection that never starts a request or goes idle between
//! requests is closed without a word, and other clients are served meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Duration;

use http::StatusCode;
use model_router::server::Running;
use model_router::table::COMPILED;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
