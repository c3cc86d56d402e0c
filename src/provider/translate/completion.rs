//! The OpenAI `chat.completion`, typed once: what each translating provider's reader
//! (`anthropic::response`, `gemini::response`, `bedrock::response`) makes of its whole
//! reply, borrowing from the reply's bytes where it can, and what an OpenAI-compatible
//! upstream's reply reads into ([`Completion::read`]; its strings as lenient as [`Text`]).
//! Written for a chat client with its members sorted, as the trees it replaces wrote them
//! ([`Completion::written`]), or handed to the `/v1/messages` and Responses writers as it
//! is; the reply goes on to `respond`.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::chunk::ChatUsage;
use super::wire::{Text, unreadable};

/// A whole chat completion. The members only a translator writes are not read.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Completion<'a> {
    #[serde(borrow, default, deserialize_with = "list")]
    pub choices: Vec<Choice<'a>>,
    #[serde(skip_deserializing)]
    pub created: u64,
    #[serde(skip_deserializing)]
    pub id: Cow<'a, str>,
    /// The requested name.
    #[serde(skip_deserializing)]
    pub model: Cow<'a, str>,
    #[serde(skip_deserializing)]
    pub object: &'static str,
    #[serde(default)]
    pub usage: Usage,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Choice<'a> {
    #[serde(borrow, default)]
    pub finish_reason: Text<'a>,
    #[serde(skip_deserializing)]
    pub index: u64,
    #[serde(borrow, default)]
    pub message: Message<'a>,
    /// Gemini's own finish reason.
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub provider_specific_fields: Option<Native<'a>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Message<'a> {
    /// `null` when absent.
    #[serde(borrow, default)]
    pub content: Text<'a>,
    /// Anthropic's citations and thinking blocks.
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub provider_specific_fields: Option<Specific<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Text::is_none")]
    pub reasoning_content: Text<'a>,
    #[serde(borrow, default, skip_serializing_if = "Text::is_none")]
    pub refusal: Text<'a>,
    #[serde(skip_deserializing)]
    pub role: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub thinking_blocks: Vec<Thinking<'a>>,
    #[serde(borrow, default, deserialize_with = "list", skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Native<'a> {
    pub native_finish_reason: Cow<'a, str>,
}

#[derive(Debug, Serialize)]
pub struct Specific<'a> {
    pub citations: (),
    pub thinking_blocks: Option<Vec<Thinking<'a>>>,
}

/// A reasoning block as LiteLLM's `thinking_blocks` hold it: built from its parts, or a
/// provider's block passed back whole (client JSON as it came, written as a tree would).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Thinking<'a> {
    Text {
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<Value>,
        thinking: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Redacted {
        data: Value,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Whole(Value),
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ToolCall<'a> {
    #[serde(borrow, default)]
    pub function: Function<'a>,
    #[serde(borrow, default)]
    pub id: Text<'a>,
    #[serde(skip_deserializing)]
    pub index: usize,
    /// Gemini 3's thought signature.
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub provider_specific_fields: Option<Signature<'a>>,
    #[serde(rename = "type", skip_deserializing)]
    pub kind: &'static str,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Function<'a> {
    #[serde(borrow, default)]
    pub arguments: Text<'a>,
    /// `null` when absent.
    #[serde(borrow, default)]
    pub name: Text<'a>,
}

#[derive(Debug, Serialize)]
pub struct Signature<'a> {
    pub thought_signature: Cow<'a, str>,
}

/// A completion's usage: counted by a translator, or an upstream's as it came.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    Counted(ChatUsage),
    Read(Value),
}

impl Default for Usage {
    fn default() -> Self {
        Usage::Read(Value::Null)
    }
}

impl Usage {
    /// The prompt and completion tokens it says (0 for a count that is not one).
    pub fn tokens(&self) -> (u64, u64) {
        match self {
            Usage::Counted(usage) => (usage.prompt_tokens, usage.completion_tokens),
            Usage::Read(usage) => {
                let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
                (count("prompt_tokens"), count("completion_tokens"))
            }
        }
    }
}

impl Serialize for Usage {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        match self {
            Usage::Counted(usage) => usage.serialize(out),
            Usage::Read(usage) => usage.serialize(out),
        }
    }
}

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Value::deserialize(de).map(Usage::Read)
    }
}

/// A list that may be `null`, as empty.
fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Vec<T>, D::Error> {
    Option::<Vec<T>>::deserialize(de).map(Option::unwrap_or_default)
}

impl<'a> Completion<'a> {
    /// The completion a translator made of a provider's reply: its `choices` and `usage`,
    /// with the id and time it was given and `model`, the requested name.
    pub fn translated(choices: Vec<Choice<'a>>, id: Cow<'a, str>, created: u64, model: &'a str, usage: Usage) -> Self {
        Completion { choices, created, id, model: Cow::Borrowed(model), object: "chat.completion", usage }
    }

    /// An OpenAI-compatible upstream's reply, read once; `Err` says what is wrong with it.
    pub fn read(body: &'a [u8]) -> Result<Completion<'a>, String> {
        serde_json::from_slice(body).map_err(|e| unreadable(&e, &format!("not a chat completion: {e}")))
    }

    /// The completion's bytes as a chat client gets them, and the usage a translator counted.
    pub fn written(&self) -> Result<(Vec<u8>, Option<ChatUsage>), String> {
        let usage = match &self.usage {
            Usage::Counted(usage) => Some(*usage),
            Usage::Read(_) => None,
        };
        Ok((serde_json::to_vec(self).map_err(|e| e.to_string())?, usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_reply_reads_leniently_and_null_lists_are_empty() {
        let body = br#"{"choices":[{"finish_reason":7,"message":{"content":"Hi","tool_calls":null}},
            {"message":{"tool_calls":[{"id":3,"function":{"name":"f"}}]}}],"usage":{"prompt_tokens":2,"completion_tokens":"x"}}"#;
        let got = Completion::read(body).unwrap_or_default();
        assert_eq!((got.choices[0].finish_reason.get(), got.choices[0].message.content.get()), (None, Some("Hi")));
        assert!(got.choices[0].message.tool_calls.is_empty());
        let call = &got.choices[1].message.tool_calls[0];
        assert_eq!((call.id.get(), call.function.name.get(), call.function.arguments.get()), (None, Some("f"), None));
        assert_eq!(got.usage.tokens(), (2, 0));
        assert!(Completion::read(b"{").is_err_and(|e| e.starts_with("not JSON")));
        assert!(Completion::read(b"7").is_err_and(|e| e.starts_with("not a chat completion")));
    }
}
