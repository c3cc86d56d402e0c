//! The binary itself under `MODEL_ROUTER_RUNTIME=current_thread` (issue 18, item 4): it
//! starts, answers a chat completion and a stream from the base routes' fake provider on a
//! real socket with one thread, and stops on SIGTERM; a value it does not know stops the start.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the binary may take to say it listens, or to answer.
const WITHIN: Duration = Duration::from_secs(20);

/// Starts the compiled binary with `runtime`, returns it and the address its log says.
fn spawn(runtime: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_model-router"))
        .env_clear()
        .envs([("HOST", "127.0.0.1"), ("PORT", "0"), ("MODEL_ROUTER_RUNTIME", runtime), ("LOG_FORMAT", "json")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = lines.next() {
        let line = line.unwrap();
        let Ok(log) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if log["message"] == "listening" {
            // The rest of the log is read (and dropped) so the binary never writes to a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, log["addr"].as_str().unwrap().to_owned());
        }
    }
    panic!("the binary exited without listening: {:?}", child.wait());
}

/// One HTTP/1.1 POST with `Connection: close`, the whole answer as text.
async fn post(addr: &str, body: &str) -> String {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer sk-1234\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WITHIN, socket.read_to_end(&mut answer)).await.unwrap().unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn the_binary_serves_on_a_current_thread_runtime_and_stops_on_sigterm() {
    let (mut child, addr) = spawn("current_thread");
    let plain = post(&addr, r#"{"model":"fake-openai-endpoint","messages":[{"role":"user","content":"hi"}]}"#).await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.contains(r#""object":"chat.completion""#), "{plain}");
    let streamed =
        post(&addr, r#"{"model":"fake-openai-endpoint","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            .await;
    assert!(streamed.starts_with("HTTP/1.1 200"), "{streamed}");
    assert!(streamed.contains("chat.completion.chunk") && streamed.contains("data: [DONE]"), "{streamed}");
    let pid = child.id().to_string();
    // Linux lists a process's threads in /proc: the runtime ran the requests on the main one.
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count();
    assert_eq!(threads, 1, "threads of the current-thread binary");
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + WITHIN;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_unknown_runtime_stops_the_start_and_names_the_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_model-router"))
        .env_clear()
        .envs([("HOST", "127.0.0.1"), ("PORT", "0"), ("MODEL_ROUTER_RUNTIME", "fastest")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("MODEL_ROUTER_RUNTIME=fastest"), "{stderr}");
}
