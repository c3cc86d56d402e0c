//! OpenAI `chat.completion` → Anthropic Messages response, pure: id `msg_<uuid>`, the
//! text and each tool call as content blocks (arguments parsed into `input`),
//! `finish_reason` mapped to `stop_reason`, usage as input and output tokens, `model` the
//! requested name. Written from the typed completion the reply was read into once
//! (`translate::completion`), members sorted as the tree it replaces wrote them: the
//! client's message, which `respond` passes on unread.

use serde::Serialize;
use serde_json::{Value, json};

use crate::provider::translate::completion::Completion;
use crate::provider::translate::wire::Text;
use crate::usage::Usage;

/// The message written back, members sorted.
#[derive(Serialize)]
struct Message<'a> {
    content: Vec<Block<'a>>,
    id: &'a str,
    model: &'a str,
    role: &'static str,
    stop_reason: &'static str,
    stop_sequence: (),
    #[serde(rename = "type")]
    kind: &'static str,
    usage: Tokens,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Block<'a> {
    Text {
        text: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    ToolUse {
        /// `null` when the call has none.
        id: &'a Text<'a>,
        input: Value,
        name: &'a Text<'a>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

#[derive(Serialize)]
struct Tokens {
    input_tokens: u64,
    output_tokens: u64,
}

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// `msg_<uuid4>`, the id LiteLLM gives messages it synthesizes.
pub fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// A tool call's `arguments` string as the `input` object (`{}` when it is not JSON).
pub fn input(arguments: &str) -> Value {
    serde_json::from_str::<Value>(arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
}

/// Writes the completion's first choice as the message naming `model`, and the usage the
/// gateway counts of it (the message's input and output tokens, as read through
/// `usage::Usage`'s aliases: no cache counts); `Err` says what is wrong with it.
pub fn to_message(completion: &Completion<'_>, id: &str, model: &str) -> Result<(Vec<u8>, Usage), String> {
    let choice = completion.choices.first().ok_or("no choices")?;
    let message = &choice.message;
    let mut content = Vec::with_capacity(1 + message.tool_calls.len());
    if let Some(text) = message.content.get().filter(|t| !t.is_empty()) {
        content.push(Block::Text { text, kind: "text" });
    }
    content.extend(message.tool_calls.iter().map(|call| Block::ToolUse {
        id: &call.id,
        input: input(call.function.arguments.get().unwrap_or("{}")),
        name: &call.function.name,
        kind: "tool_use",
    }));
    let (input_tokens, output_tokens) = completion.usage.tokens();
    let message = Message {
        content,
        id,
        model,
        role: "assistant",
        stop_reason: stop_reason(choice.finish_reason.get().unwrap_or("stop")),
        stop_sequence: (),
        kind: "message",
        usage: Tokens { input_tokens, output_tokens },
    };
    let written = serde_json::to_vec(&message).map_err(|e| e.to_string())?;
    Ok((written, Usage { prompt_tokens: input_tokens, completion_tokens: output_tokens, ..Usage::default() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_reply_matches_the_golden_message() {
        let body = include_bytes!("../../../tests/fixtures/messages/response.openai.json");
        // The golden message names the model the reply does, which is the requested one here.
        let completion = Completion::read(body).unwrap_or_default();
        let (written, usage) = to_message(&completion, "msg_test", "gpt-4o-exact").unwrap_or_default();
        let got: Value = serde_json::from_slice(&written).unwrap_or_default();
        let want: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/messages/response.anthropic.json"))
                .unwrap_or_default();
        assert_eq!(got, want);
        assert_eq!(serde_json::to_vec(&got).ok(), Some(written.clone()), "written as the tree writes");
        assert_eq!(Some(usage), Usage::from_json(&written), "counted as read");
    }

    #[test]
    fn finish_reasons_map() {
        for (finish, stop) in
            [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")]
        {
            assert_eq!(stop_reason(finish), stop, "{finish}");
        }
        assert!(to_message(&Completion::default(), "msg_x", "m").is_err_and(|e| e == "no choices"));
        assert_eq!(input("not json"), json!({}));
    }
}
