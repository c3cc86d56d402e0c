//! What the mock upstream and the drivers share: the mock's answer text and its check, the
//! benchmark's request body, a percentile helper and the injected faults.
#![forbid(unsafe_code)]

pub mod faults;

/// The assistant message of every non-streaming answer (with the envelope, about 1 KB).
pub const CONTENT: &str = "Here is a short summary of the request. The gateway forwarded your \
chat completion to an upstream model, which read the conversation, weighed the system \
instructions against the latest user turn, and produced this answer. In a real deployment \
this text would be the model's reply: a few sentences of prose, maybe a list of steps, or a \
fragment of code. For the benchmark it only needs to be long enough that the response body \
is the size of a typical short completion, about one kilobyte once the JSON envelope, the \
usage block and the identifiers are included.";

const SYSTEM: &str = "You are a concise assistant for an engineering team. Answer in plain \
English, prefer short paragraphs, cite the relevant configuration keys by name, and say so \
plainly when you do not know something instead of guessing.";

const USER: &str = "Our service calls a chat completion API through an internal gateway. \
Latency went up slightly after we moved the gateway into its own pod, and we would like to \
know which parts of the request path are worth measuring first: connection reuse between the \
gateway and the provider, TLS session resumption, JSON parsing of the request body, or the \
logging middleware. Please summarise the trade-offs in a few sentences and suggest one \
experiment we can run this afternoon. We already \
have request traces with per-hop timings, a dashboard of p50 and p99 latency per route, and a \
staging copy of the gateway that we can restart freely.";

/// The benchmark's request body (about 1 KB): a system and a user message.
///
/// With `stream`, it asks for SSE and for the usage chunk.
pub fn request_body(model: &str, stream: bool) -> String {
    let model = serde_json::Value::String(model.to_owned());
    let stream_part = if stream { ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" } else { "" };
    format!(
        "{{\"model\":{model},\"messages\":[{{\"role\":\"system\",\"content\":\"{SYSTEM}\"}},\
         {{\"role\":\"user\",\"content\":\"{USER}\"}}],\"temperature\":0.2,\"max_tokens\":256{stream_part}}}"
    )
}

#[derive(serde::Deserialize)]
struct Completion {
    object: String,
    model: String,
    choices: Vec<Choice>,
}

#[derive(serde::Deserialize)]
struct Choice {
    message: Message,
}

#[derive(serde::Deserialize)]
struct Message {
    content: Option<String>,
}

/// Checks a 200's body: a `chat.completion` for `model` (a gateway may prefix it) carrying
/// the mock's text. `Err` says what is off.
pub fn check_completion(body: &[u8], model: &str) -> Result<(), String> {
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

/// The `p`-quantile (0..=1) of sorted values, nearest-rank; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rounded, non-negative count far below 2^52"
    )]
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_json_of_about_a_kilobyte() {
        let body = request_body("gpt-4o-mini", true);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["stream"], true);
        assert!((900..1300).contains(&body.len()), "{}", body.len());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
