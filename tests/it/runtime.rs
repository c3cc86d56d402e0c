//! The binary itself under `MODEL_ROUTER_RUNTIME=current_thread` (issue 18, item 4), also the
//! default on one CPU: it starts, answers a chat completion and a stream from the base routes' fake provider on a
//! real socket with one thread, and stops on SIGTERM; a value it does not know stops the start.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the binary may take to say it listens, or to answer.
const WITHIN: Duration = Duration::from_secs(20);

/// Starts the compiled binary with `runtime` (unset: the default) on one CPU (`taskset -c 0`)
/// or on all of them; returns it and the address its log says.
fn spawn(runtime: Option<&str>, one_cpu: bool) -> (Child, String) {
    let binary = env!("CARGO_BIN_EXE_model-router");
    let mut command = if one_cpu { Command::new("taskset") } else { Command::new(binary) };
    if one_cpu {
        command.args(["-c", "0", binary]);
    }
    command.env_clear().envs([("HOST", "127.0.0.1"), ("PORT", "0"), ("LOG_FORMAT", "json")]);
    if let Some(runtime) = runtime {
        command.env("MODEL_ROUTER_RUNTIME", runtime);
    }
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
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

/// The threads of process `pid`: Linux lists them in /proc.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count()
}

#[tokio::test]
async fn the_binary_serves_on_a_current_thread_runtime_and_stops_on_sigterm() {
    let (mut child, addr) = spawn(Some("current_thread"), false);
    let plain = post(&addr, r#"{"model":"fake-openai-endpoint","messages":[{"role":"user","content":"hi"}]}"#).await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.contains(r#""object":"chat.completion""#), "{plain}");
    let streamed =
        post(&addr, r#"{"model":"fake-openai-endpoint","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            .await;
    assert!(streamed.starts_with("HTTP/1.1 200"), "{streamed}");
    assert!(streamed.contains("chat.completion.chunk") && streamed.contains("data: [DONE]"), "{streamed}");
    assert_eq!(threads(child.id()), 1, "the runtime ran the requests on the main thread");
    let pid = child.id().to_string();
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

#[test]
fn by_default_one_cpu_gets_one_thread_and_multi_thread_can_still_be_asked_for() {
    let (mut default, _) = spawn(None, true);
    let (mut multi, _) = spawn(Some("multi_thread"), true);
    let (default_threads, multi_threads) = (threads(default.id()), threads(multi.id()));
    for child in [&mut default, &mut multi] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(default_threads, 1, "the default on one CPU");
    assert!(multi_threads >= 2, "multi_thread on one CPU: the main thread and a worker, got {multi_threads}");
}
