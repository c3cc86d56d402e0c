//! A translating provider's whole 2xx reply, handed back unread ([`Whole`]): the
//! provider's bytes and which reader makes the typed chat completion of them
//! ([`Reader`]). The caller reads it once, into a `completion::Completion` borrowing from
//! those bytes, and writes its own format: `provider::call` the chat completion for a chat
//! client (as [`Source::Answered`](crate::provider::Source)), `/v1/messages` an Anthropic
//! message, the Responses bridge a Responses object; those two [`take`] any chat reply
//! this way, an OpenAI-compatible upstream's read as it came ([`Reader::Chat`]). The reply
//! goes on to `respond`.

use std::time::Instant;

use bytes::Bytes;

use super::completion::Completion;
use crate::error::Error;
use crate::provider::{Source, anthropic, bedrock, gemini};
use crate::usage::Usage;

/// Which provider's format a whole reply is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Anthropic,
    /// Gemini's, from Google AI Studio or Vertex AI.
    Gemini,
    /// Bedrock Converse's; in JSON mode the one forced tool call is the content.
    Bedrock {
        json_mode: bool,
    },
    /// Already a chat completion: an OpenAI-compatible upstream's (or the fake's).
    Chat,
}

/// A whole reply not yet read, with what its completion is given: the id, the time and
/// the requested name.
#[derive(Debug)]
pub struct Whole {
    pub bytes: Bytes,
    pub reader: Reader,
    id: String,
    created: u64,
    model: String,
}

impl Whole {
    /// The reply `bytes` to be read by `reader` into a completion naming `model`, with a
    /// fresh `chatcmpl-` id made now.
    pub fn new(bytes: Bytes, reader: Reader, model: String) -> Whole {
        Whole { bytes, reader, id: super::completion_id(), created: super::now(), model }
    }

    /// The typed completion, borrowing from the reply; `Err` says what is wrong with it.
    pub fn read(&self) -> Result<Completion<'_>, String> {
        let (bytes, id, model) = (&self.bytes[..], self.id.clone(), self.model.as_str());
        match self.reader {
            Reader::Anthropic => anthropic::response::translate(bytes, id, self.created, model),
            Reader::Gemini => {
                gemini::response::translate(bytes, id, self.created, model, &mut gemini::response::call_id)
            }
            Reader::Bedrock { json_mode } => bedrock::response::translate(bytes, id, self.created, model, json_mode),
            Reader::Chat => Completion::read(bytes),
        }
    }

    /// The chat completion's bytes, as a chat client gets them, with the usage counted.
    pub fn chat(&self) -> Result<(Bytes, Option<Usage>), String> {
        let (written, usage) = self.read()?.written()?;
        Ok((Bytes::from(written), usage.map(|u| u.counts())))
    }
}

/// A 2xx chat reply as a [`Whole`] to read once: a translator's as it was handed back, any
/// other read within `limit` bytes by `deadline` (`exception` names the provider's errors).
pub async fn take(source: Source, limit: usize, deadline: Instant, exception: &'static str) -> Result<Whole, Error> {
    if let Source::Whole(whole) = source {
        return Ok(*whole);
    }
    let bytes = crate::framing::read(source, limit, deadline, exception).await?;
    Ok(Whole { bytes, reader: Reader::Chat, id: String::new(), created: 0, model: String::new() })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const GEMINI: &[u8] = br#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1}}"#;

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn a_translators_reply_is_taken_unread_and_read_once_by_its_own_reader() {
        let whole = Whole::new(Bytes::from_static(GEMINI), Reader::Gemini, "gemini-pro".into());
        let taken = take(Source::Whole(Box::new(whole)), 64, deadline(), "X").await;
        let taken = taken.unwrap_or_else(|e| panic!("{e}"));
        // Still the provider's bytes: no chat completion was written on the way.
        assert_eq!((taken.reader, &taken.bytes[..]), (Reader::Gemini, GEMINI));
        let completion = taken.read().unwrap_or_default();
        assert_eq!(completion.choices[0].message.content.get(), Some("Hi"));
        assert_eq!((completion.model.as_ref(), completion.usage.tokens()), ("gemini-pro", (3, 1)));
    }

    #[tokio::test]
    async fn any_other_reply_is_read_within_its_bound_as_a_chat_completion() {
        let chat = br#"{"choices":[{"message":{"content":"Yo"},"finish_reason":"stop"}]}"#;
        let taken = take(Source::Full(Some(Bytes::from_static(chat))), 1024, deadline(), "X").await;
        let taken = taken.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(taken.reader, Reader::Chat);
        let completion = taken.read().unwrap_or_default();
        assert_eq!(completion.choices[0].finish_reason.get(), Some("stop"));
        let big = take(Source::Full(Some(Bytes::from_static(chat))), 8, deadline(), "X").await;
        assert!(big.is_err_and(|e| e.to_string().contains("larger than 8 bytes")));
        let broken = Whole::new(Bytes::from_static(b"{"), Reader::Anthropic, "m".into());
        assert!(broken.read().is_err_and(|e| e.starts_with("not JSON")));
    }
}
