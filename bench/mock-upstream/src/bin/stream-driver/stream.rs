//! One SSE stream of `streams`: the request, each content chunk stamped on arrival, and the
//! checks of order, the usage chunk and `[DONE]`.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde::Deserialize;
use tokio::time::{Instant, timeout};

use crate::client::{Sender, connect, post};
use crate::flags::Target;
use crate::stats::nanos;

/// What one stream saw.
#[derive(Default)]
pub struct StreamResult {
    pub error: Option<String>,
    pub timed_out: bool,
    pub ttft: Option<u64>,
    pub arrivals: Vec<u64>,
    pub reads_with_several_chunks: u64,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

/// How far a stream has got: the next content chunk expected, and whether the usage chunk
/// and `[DONE]` have come.
#[derive(Default)]
struct Progress {
    next: u32,
    usage: bool,
    done: bool,
}

/// One SSE stream: sends the request, stamps each content chunk on arrival and checks order,
/// the usage chunk and `[DONE]`.
pub async fn one_stream(
    target: Target,
    body: Bytes,
    headers: Vec<(&'static str, String)>,
    chunks: u32,
    limit: Duration,
) -> StreamResult {
    let mut result = StreamResult::default();
    let mut sender = match connect(&target).await {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let request = match post(&target, &body, &headers) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let sent = Instant::now();
    let outcome = timeout(limit, async {
        let response = send(&mut sender, request).await?;
        read(response.into_body(), sent, chunks, &mut result).await
    })
    .await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => result.error = Some(e),
        Err(_) => result.timed_out = true,
    }
    result
}

/// Sends the request; the answer must be a 200.
async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, String> {
    let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("status {}", response.status()));
    }
    Ok(response)
}

/// Reads the stream to its end, stamping each content chunk with the time since `sent`.
async fn read(mut body: Incoming, sent: Instant, chunks: u32, result: &mut StreamResult) -> Result<(), String> {
    let mut buffer = BytesMut::new();
    let mut progress = Progress::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let at = nanos(sent.elapsed());
        buffer.extend_from_slice(&data);
        let mut in_this_read = 0;
        while let Some(end) = find_event_end(&buffer) {
            let event = buffer.split_to(end.0 + end.1);
            let text = std::str::from_utf8(&event[..end.0]).map_err(|_| "not UTF-8")?;
            for line in text.lines() {
                if take_line(line, at, &mut progress, result)? {
                    in_this_read += 1;
                }
            }
        }
        if in_this_read > 1 {
            result.reads_with_several_chunks += 1;
        }
    }
    if progress.next != chunks {
        return Err(format!("{} content chunks, expected {chunks}", progress.next));
    }
    if !progress.usage {
        return Err("no usage chunk".to_owned());
    }
    if !progress.done {
        return Err("no [DONE]".to_owned());
    }
    Ok(())
}

/// One line of an event: notes `[DONE]` and the usage chunk, checks a content chunk is the
/// next one and stamps it `at`. True for a content chunk.
fn take_line(line: &str, at: u64, progress: &mut Progress, result: &mut StreamResult) -> Result<bool, String> {
    let Some(payload) = line.strip_prefix("data:").map(str::trim_start) else {
        return Ok(false);
    };
    if payload == "[DONE]" {
        progress.done = true;
        return Ok(false);
    }
    let chunk: Chunk = serde_json::from_str(payload).map_err(|e| format!("chunk is not JSON: {e}"))?;
    if chunk.usage.as_ref().is_some_and(|u| !u.is_null()) {
        progress.usage = true;
    }
    let content = chunk.choices.first().and_then(|c| c.delta.as_ref()).and_then(|d| d.content.as_deref()).unwrap_or("");
    if content.is_empty() {
        return Ok(false);
    }
    let next = progress.next;
    let mut expected = String::new();
    let _ = write!(expected, " tok{next}");
    if content != expected {
        return Err(format!("chunk {next}: got {content:?}"));
    }
    if next == 0 {
        result.ttft = Some(at);
    }
    result.arrivals.push(at);
    progress.next += 1;
    Ok(true)
}

/// The end of the first SSE event in `buffer`: (length, separator length).
fn find_event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}
