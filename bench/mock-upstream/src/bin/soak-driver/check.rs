//! What the client sees of one request, and what it should see given the fault the request
//! asked the mock for (the gateway's mapping: `src/error.rs`, `src/respond/`).

use std::fmt;

use mock_upstream::faults::Fault;

/// The client-visible outcome of one request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// 200 with the mock's complete, correct answer.
    Ok,
    /// A non-2xx answer with an OpenAI-shaped error body whose `code` is the status.
    Status(u16),
    /// A 200 stream that ended with an error event (`code`) and `[DONE]`.
    StreamError(u16),
    /// A 200 stream, complete, except for one chunk that is not JSON (relayed as it came).
    BadChunk,
    /// Anything else: a transport error, a wrong answer, no answer in time.
    Broken(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("200 ok"),
            Outcome::Status(s) => write!(f, "status {s}"),
            Outcome::StreamError(c) => write!(f, "200 stream + error event {c}"),
            Outcome::BadChunk => f.write_str("200 stream + one non-JSON chunk"),
            Outcome::Broken(_) => f.write_str("broken"),
        }
    }
}

/// What the gateway answers for a request whose every upstream attempt gets `fault`.
///
/// Non-streaming: the provider's 500 and 429 are relayed; a reply that breaks off is
/// `APIConnectionError` (500); no head within the deployment's timeout is 408; a 200 that is not
/// JSON is 502. Streaming: errors before the first byte are the same; once the stream has begun,
/// a reset becomes an error event (500) before `[DONE]`, and a chunk that is not JSON is relayed
/// unchanged.
pub fn expected(fault: Option<Fault>, stream: bool) -> Outcome {
    match (fault, stream) {
        (None, _) => Outcome::Ok,
        (Some(Fault::ServerError), _) | (Some(Fault::Reset), false) => Outcome::Status(500),
        (Some(Fault::RateLimited), _) => Outcome::Status(429),
        (Some(Fault::Stall), _) => Outcome::Status(408),
        (Some(Fault::BadJson), false) => Outcome::Status(502),
        (Some(Fault::Reset), true) => Outcome::StreamError(500),
        (Some(Fault::BadJson), true) => Outcome::BadChunk,
    }
}

/// Upstream attempts the gateway makes for a request with `fault` when it may retry
/// `retries` times: every failure before the answer begins is retryable (5xx, 429, timeout,
/// connection), a stream that has begun is never retried.
pub fn attempts(fault: Option<Fault>, stream: bool, retries: u32) -> u32 {
    match (fault, stream) {
        (None, _) | (Some(Fault::Reset | Fault::BadJson), true) => 1,
        _ => 1 + retries,
    }
}

/// Classifies a non-streaming answer.
pub fn completion(status: u16, body: &[u8], model: &str) -> Outcome {
    if status != 200 {
        return error_body(status, body);
    }
    match mock_upstream::check_completion(body, model) {
        Ok(()) => Outcome::Ok,
        Err(why) => Outcome::Broken(format!("200, not the mock's answer ({why}): {}", snippet(body))),
    }
}

/// An error answer: the OpenAI shape with `code` equal to the status, else broken.
fn error_body(status: u16, body: &[u8]) -> Outcome {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = value.pointer("/error/code").map(code_of);
    if code == Some(Some(status)) {
        Outcome::Status(status)
    } else {
        Outcome::Broken(format!("status {status}: {}", snippet(body)))
    }
}

/// `code` as LiteLLM writes it: a string (`"500"`) or a number.
fn code_of(value: &serde_json::Value) -> Option<u16> {
    match value {
        serde_json::Value::String(s) => s.parse().ok(),
        other => other.as_u64().and_then(|n| u16::try_from(n).ok()),
    }
}

fn snippet(body: &[u8]) -> String {
    const SNIPPET: usize = 160;
    String::from_utf8_lossy(&body[..body.len().min(SNIPPET)]).into_owned()
}

/// Classifies a whole SSE body (status 200) that should carry `chunks` content chunks
/// ` tok0`, ` tok1`, …, a usage chunk and `[DONE]`.
pub fn stream(body: &[u8], chunks: u32) -> Outcome {
    let Ok(text) = std::str::from_utf8(body) else { return Outcome::Broken("stream is not UTF-8".to_owned()) };
    let (mut seen, mut usage, mut done, mut bad, mut error) = (Vec::new(), false, false, 0u32, None);
    for event in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim) else { continue };
        if done {
            return Outcome::Broken("data after [DONE]".to_owned());
        }
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
            bad += 1;
            continue;
        };
        if let Some(e) = value.get("error") {
            error = Some(e.get("code").and_then(code_of).unwrap_or(0));
            continue;
        }
        usage |= value.get("usage").is_some_and(|u| !u.is_null());
        let content = value.pointer("/choices/0/delta/content").and_then(serde_json::Value::as_str);
        if let Some(content) = content.filter(|c| !c.is_empty()) {
            let Some(n) = content.strip_prefix(" tok").and_then(|n| n.parse::<u32>().ok()) else {
                return Outcome::Broken(format!("unexpected content {content:?}"));
            };
            seen.push(n);
        }
    }
    if !done {
        return Outcome::Broken(format!("no [DONE] after {} chunks", seen.len()));
    }
    let in_order = seen.windows(2).all(|w| w[0] < w[1]) && seen.iter().all(|&n| n < chunks);
    if !in_order {
        return Outcome::Broken(format!("chunks out of order: {seen:?}"));
    }
    let count = u32::try_from(seen.len()).unwrap_or(u32::MAX);
    match (error, bad) {
        (Some(code), 0) => Outcome::StreamError(code),
        (None, 0) if count == chunks && usage => Outcome::Ok,
        (None, 1) if count + 1 == chunks && usage => Outcome::BadChunk,
        _ => Outcome::Broken(format!("{count} of {chunks} chunks, {bad} not JSON, usage {usage}, error {error:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: u32) -> String {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" tok{n}\"}}}}]}}\n\n")
    }

    const USAGE: &str = "data: {\"choices\":[],\"usage\":{\"total_tokens\":3}}\n\n";
    const DONE: &str = "data: [DONE]\n\n";

    #[test]
    fn every_fault_has_one_expected_outcome() {
        assert_eq!(expected(None, true), Outcome::Ok);
        assert_eq!(expected(Some(Fault::Reset), false), Outcome::Status(500));
        assert_eq!(expected(Some(Fault::Reset), true), Outcome::StreamError(500));
        assert_eq!(expected(Some(Fault::Stall), true), Outcome::Status(408));
        assert_eq!(expected(Some(Fault::BadJson), false), Outcome::Status(502));
        assert_eq!(attempts(Some(Fault::ServerError), true, 1), 2);
        assert_eq!(attempts(Some(Fault::Reset), true, 1), 1, "a stream that began is not retried");
        assert_eq!(attempts(None, false, 1), 1);
    }

    #[test]
    fn streams_are_classified() {
        let ok = format!("{}{}{USAGE}{DONE}", chunk(0), chunk(1));
        assert_eq!(stream(ok.as_bytes(), 2), Outcome::Ok);
        let bad = format!("{}data: {{\"choices\n\n{}{USAGE}{DONE}", chunk(0), chunk(2));
        assert_eq!(stream(bad.as_bytes(), 3), Outcome::BadChunk);
        let cut = format!("{}data: {{\"error\": {{\"code\": \"500\"}}}}\n\n{DONE}", chunk(0));
        assert_eq!(stream(cut.as_bytes(), 3), Outcome::StreamError(500));
        let short = format!("{}{USAGE}{DONE}", chunk(0));
        assert!(matches!(stream(short.as_bytes(), 2), Outcome::Broken(_)));
        assert!(matches!(stream(chunk(0).as_bytes(), 1), Outcome::Broken(_)), "no [DONE]");
    }

    #[test]
    fn error_answers_need_the_openai_shape() {
        assert_eq!(completion(429, br#"{"error":{"code":"429"}}"#, "m"), Outcome::Status(429));
        assert!(matches!(completion(500, b"oops", "m"), Outcome::Broken(_)));
        let ok = format!(
            "{{\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{{\"message\":{{\"content\":{}}}}}]}}",
            serde_json::to_string(mock_upstream::CONTENT).unwrap()
        );
        assert_eq!(completion(200, ok.as_bytes(), "m"), Outcome::Ok);
        assert!(matches!(completion(200, ok.as_bytes(), "other"), Outcome::Broken(_)));
    }
}
