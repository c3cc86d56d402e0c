//! A translating provider's whole 2xx reply, handed back unread ([`Whole`]): the
//! provider's bytes and which reader makes the typed chat completion of them
//! ([`Reader`]). The caller reads it once, into a `completion::Completion` borrowing from
//! those bytes, and writes its own format: `provider::call` the chat completion for a chat
//! client (as [`Source::Answered`](crate::provider::Source)), `/v1/messages` an Anthropic
//! message, the Responses bridge a Responses object. The reply goes on to `respond`.

use bytes::Bytes;

use super::completion::Completion;
use crate::provider::{anthropic, bedrock, gemini};
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
        }
    }

    /// The chat completion's bytes, as a chat client gets them, with the usage counted.
    pub fn chat(&self) -> Result<(Bytes, Option<Usage>), String> {
        let (written, usage) = self.read()?.written()?;
        Ok((Bytes::from(written), usage.map(|u| u.counts())))
    }
}
