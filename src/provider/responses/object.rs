//! The Responses object a bridged call answers with, shared by [`super::reply`] (whole) and
//! [`super::stream`] (in `response.created`, `.in_progress` and the final event): its head
//! (id, model, creation time), the request's parameters echoed back as OpenAI echoes them,
//! output items, status and usage, written as JSON text: its own members and the typed
//! items and usage of [`super::output`] serialised in place, the echoed members copied as
//! the client sent them (no tree is built of `tools` or `instructions`): as it is stored (its
//! own ids) or as the client gets it (ids issued), and the usage the gateway counts of it.

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::output::{Failure, Output, Usage};
use crate::parse::{Fields, Member};
use crate::provider::translate::chunk::{ChatUsage, CompletionDetails, PromptDetails};

/// The request parameters a response echoes, and what OpenAI echoes when one is not given.
const ECHOED: &[(&str, &str)] = &[
    ("instructions", "null"),
    ("max_output_tokens", "null"),
    ("metadata", "{}"),
    ("parallel_tool_calls", "true"),
    ("previous_response_id", "null"),
    ("reasoning", r#"{"effort":null,"summary":null}"#),
    ("service_tier", "\"auto\""),
    ("temperature", "1.0"),
    ("text", r#"{"format":{"type":"text"}}"#),
    ("tool_choice", "\"auto\""),
    ("tools", "[]"),
    ("top_p", "1.0"),
    ("truncation", "\"disabled\""),
    ("user", "null"),
];

/// Echoed only when the client sent them.
const ECHOED_IF_SET: &[&str] = &["prompt_cache_key", "safety_identifier", "top_logprobs", "max_tool_calls"];

/// What every rendering of one response repeats.
#[derive(Debug)]
pub struct Head {
    pub id: String,
    /// The name the client asked for.
    pub model: String,
    pub created_at: u64,
    /// Whether the response is kept (`store`), as the object says.
    pub store: bool,
    /// What the ids the client sees start with (the issuing deployment's
    /// `responses::prefix`); the stored copy carries them without it.
    pub issued: String,
    /// The echoed members: the client's (handles on its body) or the defaults' text.
    echo: Vec<(&'static str, Member)>,
}

/// How a response ended (or has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Completed,
    /// Cut short: `max_output_tokens` or `content_filter`.
    Incomplete(&'static str),
    Failed,
}

impl Status {
    /// The status a chat `finish_reason` means.
    pub fn of_finish(finish_reason: &str) -> Self {
        match finish_reason {
            "length" => Status::Incomplete("max_output_tokens"),
            "content_filter" => Status::Incomplete("content_filter"),
            _ => Status::Completed,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete(_) => "incomplete",
            Status::Failed => "failed",
        }
    }

    /// The status of the items a response so ended holds.
    pub fn item_status(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::InProgress => "in_progress",
            Status::Incomplete(_) | Status::Failed => "incomplete",
        }
    }
}

/// The rest of one rendering.
pub struct Body<'a> {
    pub status: Status,
    pub output: &'a [Output<'a>],
    pub usage: Option<&'a Usage>,
    /// The error of a failed response.
    pub error: Option<&'a Failure<'a>>,
}

/// The members every rendering starts with, in the order OpenAI writes them (the object was
/// always written member by member, never sorted), up to the echoed ones.
#[derive(Serialize)]
struct Members<'a> {
    id: Issued<'a>,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    background: bool,
    completed_at: Option<u64>,
    error: Option<&'a Failure<'a>>,
    incomplete_details: Option<Incomplete>,
    model: &'a str,
    store: bool,
    output: &'a [Output<'a>],
    usage: Option<&'a Usage>,
}

#[derive(Serialize)]
struct Incomplete {
    reason: &'static str,
}

/// An id with the prefix the client knows it by, written without joining them first.
struct Issued<'a> {
    prefix: &'a str,
    id: &'a str,
}

impl Serialize for Issued<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}{}", self.prefix, self.id))
    }
}

impl Head {
    /// The head of a response to `request` (read before it is translated), naming `model`.
    pub fn new(id: String, model: String, created_at: u64, request: &Fields) -> Self {
        let mut echo = Vec::with_capacity(ECHOED.len() + ECHOED_IF_SET.len());
        let given = |key: &str| request.members().find(|(k, m)| *k == key && !m.is_null()).map(|(_, m)| m.clone());
        for (key, default) in ECHOED {
            let member = given(key).unwrap_or_else(|| Member::Raw(bytes::Bytes::from_static(default.as_bytes())));
            echo.push((*key, member));
        }
        echo.extend(ECHOED_IF_SET.iter().filter_map(|key| Some((*key, given(key)?))));
        Head { id, model, created_at, store: false, issued: String::new(), echo }
    }

    /// Writes the response object as it is stored (its own ids) as JSON to `out`.
    pub fn write(&self, body: &Body<'_>, out: &mut Vec<u8>) {
        self.render(body, "", completed_at(body.status), out);
    }

    /// Writes the response object as the client gets it: its `id` and
    /// `previous_response_id` with the [`Head::issued`] prefix, as `respond` issues a
    /// relayed response's.
    pub fn write_client(&self, body: &Body<'_>, out: &mut Vec<u8>) {
        self.render(body, &self.issued, completed_at(body.status), out);
    }

    /// Writes both forms, [`Head::write`]'s to `stored` and [`Head::write_client`]'s to
    /// `client`, with the one completion time.
    pub fn write_both(&self, body: &Body<'_>, stored: &mut Vec<u8>, client: &mut Vec<u8>) {
        let completed_at = completed_at(body.status);
        self.render(body, "", completed_at, stored);
        self.render(body, &self.issued, completed_at, client);
    }

    fn render(&self, body: &Body<'_>, prefix: &str, completed_at: Option<u64>, out: &mut Vec<u8>) {
        let members = Members {
            id: Issued { prefix, id: &self.id },
            object: "response",
            created_at: self.created_at,
            status: body.status.name(),
            background: false,
            completed_at,
            error: body.error,
            incomplete_details: match body.status {
                Status::Incomplete(reason) => Some(Incomplete { reason }),
                _ => None,
            },
            model: &self.model,
            store: self.store,
            output: body.output,
            usage: body.usage,
        };
        // Writing these into a Vec cannot fail. The object stays open (its closing brace
        // taken off) for the echoed members.
        let _ = serde_json::to_writer(&mut *out, &members);
        out.pop();
        for (key, member) in &self.echo {
            write_key_after(",", key, out);
            if let Some(previous) = issued_previous(key, member, prefix) {
                let _ = serde_json::to_writer(&mut *out, &previous);
                continue;
            }
            match member {
                Member::Raw(raw) => out.extend_from_slice(raw),
                Member::Tree(value) => {
                    let _ = serde_json::to_writer(&mut *out, value);
                }
                built @ (Member::List(_) | Member::Mapped(_)) => {
                    let _ = serde_json::to_writer(&mut *out, &built.clone().into_value().unwrap_or_default());
                }
            }
        }
        out.push(b'}');
    }
}

/// Now, for a completed response; null for the others.
fn completed_at(status: Status) -> Option<u64> {
    (status == Status::Completed).then(crate::provider::translate::now)
}

/// The echoed `previous_response_id` as the client knows it (with `prefix`), when one is
/// given and the prefix is not empty.
fn issued_previous(key: &str, member: &Member, prefix: &str) -> Option<String> {
    if prefix.is_empty() || key != "previous_response_id" {
        return None;
    }
    let Member::Raw(raw) = member else { return None };
    let id = serde_json::from_slice::<String>(raw).ok()?;
    Some(format!("{prefix}{id}"))
}

fn write_key(key: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
}

fn write_key_after(separator: &str, key: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(separator.as_bytes());
    write_key(key, out);
}

/// `<prefix>_<uuid4 hex>`: `resp`, `msg`, `fc`, `rs`.
pub fn id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A chat `usage` object's counts as a translator's typed usage: a count that is not an
/// unsigned integer is missing (0; the total then input plus output), cached tokens read
/// from LiteLLM's `cache_read_input_tokens` when the details give none.
pub fn chat_usage(chat: &Value) -> ChatUsage {
    let count = |pointer: &str| chat.pointer(pointer).and_then(Value::as_u64);
    let input = count("/prompt_tokens").unwrap_or(0);
    let output = count("/completion_tokens").unwrap_or(0);
    let cached =
        count("/prompt_tokens_details/cached_tokens").or_else(|| count("/cache_read_input_tokens")).unwrap_or(0);
    let reasoning = count("/completion_tokens_details/reasoning_tokens");
    ChatUsage {
        completion_tokens: output,
        completion_tokens_details: reasoning.map(|reasoning_tokens| CompletionDetails { reasoning_tokens }),
        prompt_tokens: input,
        prompt_tokens_details: PromptDetails { cached_tokens: cached, ..PromptDetails::default() },
        total_tokens: count("/total_tokens").unwrap_or(input + output),
        ..ChatUsage::default()
    }
}

/// What the gateway counts of a typed chat usage written in the Responses shape
/// ([`Usage::of`]), as `usage::Usage` reads that shape through its aliases: input and
/// output tokens, cached and reasoning tokens, no cache writes.
pub fn counted(chat: &ChatUsage) -> crate::usage::Usage {
    use crate::usage;
    let reasoning_tokens = chat.completion_tokens_details.map_or(0, |details| details.reasoning_tokens);
    let cached_tokens = chat.prompt_tokens_details.cached_tokens;
    usage::Usage {
        prompt_tokens: chat.prompt_tokens,
        completion_tokens: chat.completion_tokens,
        total_tokens: chat.total_tokens,
        prompt_tokens_details: Some(usage::PromptDetails { cached_tokens, cache_creation_tokens: 0 }),
        completion_tokens_details: Some(usage::CompletionDetails { reasoning_tokens }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::responses::output::message_item;

    /// A chat `usage` in the Responses shape, as JSON.
    fn usage(chat: &Value) -> Value {
        serde_json::to_value(Usage::of(&chat_usage(chat))).unwrap_or_default()
    }

    #[test]
    fn the_request_is_echoed_with_openai_defaults() {
        let request = Fields::parse(&bytes::Bytes::from_static(
            br#"{"model":"m","input":"x","instructions":"Be brief.","tools":[{"type":"function","name":"f"}],"temperature":0.5,"safety_identifier":"u"}"#,
        ))
        .unwrap_or_default();
        let head = Head::new("resp_1".into(), "claude".into(), 7, &request);
        let mut out = Vec::new();
        let typed = Usage::of(&ChatUsage { prompt_tokens: 1, total_tokens: 1, ..ChatUsage::default() });
        let usage = json!({ "input_tokens": 1, "input_tokens_details": { "cached_tokens": 0 }, "output_tokens": 0,
            "output_tokens_details": { "reasoning_tokens": 0 }, "total_tokens": 1 });
        head.write(
            &Body { status: Status::Incomplete("max_output_tokens"), output: &[], usage: Some(&typed), error: None },
            &mut out,
        );
        let got: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(got["instructions"], "Be brief.");
        assert_eq!(got["tools"], json!([{ "type": "function", "name": "f" }]));
        assert_eq!((got["temperature"].as_f64(), got["top_p"].as_f64()), (Some(0.5), Some(1.0)));
        assert_eq!(got["tool_choice"], "auto");
        assert_eq!(got["safety_identifier"], "u");
        assert!(got.get("prompt_cache_key").is_none());
        assert_eq!(
            (got["status"].as_str(), got["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("max_output_tokens"))
        );
        assert_eq!(
            (got["model"].as_str(), got["object"].as_str(), got["store"].as_bool()),
            (Some("claude"), Some("response"), Some(false))
        );
        assert_eq!(got["usage"], usage);
    }

    #[test]
    fn the_client_form_is_what_the_relay_rewrite_makes_of_the_stored_form() {
        use crate::respond::format::responses::{Issuer, object};
        let request = Fields::parse(&bytes::Bytes::from_static(
            br#"{"model":"m","input":"x","previous_response_id":"resp_0","instructions":"Be brief."}"#,
        ))
        .unwrap_or_default();
        let mut head = Head::new("resp_1".into(), "claude".into(), 7, &request);
        head.issued = "resp_mr1_0123456789abcdef_".into();
        let output = [message_item("msg_1", "Hi", "completed")];
        let usage =
            Usage::of(&ChatUsage { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3, ..ChatUsage::default() });
        let body = Body { status: Status::Completed, output: &output, usage: Some(&usage), error: None };
        let (mut stored, mut client) = (Vec::new(), Vec::new());
        head.write(&body, &mut stored);
        head.write_client(&body, &mut client);
        let stored_json: Value = serde_json::from_slice(&stored).unwrap();
        assert_eq!(
            (stored_json["id"].as_str(), stored_json["previous_response_id"].as_str()),
            (Some("resp_1"), Some("resp_0"))
        );
        let mut rewritten = Vec::new();
        let issuer = Issuer { prefix: head.issued.clone(), model: Some("claude".into()) };
        object(&stored, &issuer, &mut rewritten).unwrap();
        let (client, rewritten) = (String::from_utf8(client).unwrap(), String::from_utf8(rewritten).unwrap());
        // The completion time is the clock's; the rest byte for byte.
        let at = |text: &str| {
            text.split("\"completed_at\":")
                .nth(1)
                .map(|t| t.trim_start_matches(|c: char| c.is_ascii_digit()).to_owned())
        };
        assert_eq!(at(&client), at(&rewritten));
        assert!(client.contains(r#""id":"resp_mr1_0123456789abcdef_resp_1""#), "{client}");
        assert!(client.contains(r#""previous_response_id":"resp_mr1_0123456789abcdef_resp_0""#), "{client}");
    }

    #[test]
    fn what_is_counted_is_what_the_responses_shape_reads_as() {
        for chat in [
            json!({ "prompt_tokens": 15, "completion_tokens": 7, "total_tokens": 22, "cache_creation_input_tokens": 4,
                "prompt_tokens_details": { "cached_tokens": 3, "cache_creation_tokens": 4 },
                "completion_tokens_details": { "reasoning_tokens": 4 } }),
            json!({ "prompt_tokens": 2, "completion_tokens": 3 }),
            json!({}),
        ] {
            let typed = chat_usage(&chat);
            let written = json!({ "usage": Usage::of(&typed) }).to_string();
            assert_eq!(Some(counted(&typed)), crate::usage::Usage::from_json(written.as_bytes()), "{chat}");
        }
    }

    #[test]
    fn chat_usage_takes_the_responses_shape() {
        let chat = json!({ "prompt_tokens": 15, "completion_tokens": 7, "total_tokens": 22,
            "prompt_tokens_details": { "cached_tokens": 3 }, "completion_tokens_details": { "reasoning_tokens": 4 } });
        assert_eq!(
            usage(&chat),
            json!({ "input_tokens": 15, "input_tokens_details": { "cached_tokens": 3 }, "output_tokens": 7,
                "output_tokens_details": { "reasoning_tokens": 4 }, "total_tokens": 22 })
        );
        assert_eq!(usage(&json!({ "prompt_tokens": 2, "completion_tokens": 3 }))["total_tokens"], 5);
    }
}
