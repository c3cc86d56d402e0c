//! What the translating providers (`anthropic`, `gemini`, `bedrock`) share, one stage a
//! module: the client's chat request with the gateway's fields out, the deployment's
//! defaults in and unsupported parameters refused or dropped (here); the parameters read
//! once into neutral types ([`params`]; function tools with their schemas as the client's
//! text, [`tools`]); the conversation read once into neutral turns (each message typed,
//! [`message`], from [`lenient`] readers) that each provider's renderer walks
//! ([`conversation`]), writing its typed blocks
//! ([`block`]); the exchange with the provider
//! and the bounded read of a 2xx body ([`exchange`]), handed back unread with its reader
//! ([`whole`]) to be read once into the typed chat completion ([`completion`]) the
//! client's format is written from; finish reasons shared by the
//! replies ([`reply`]) and the lenient scalars their typed formats read ([`wire`]); the
//! typed chat chunk stream translators write ([`chunk`]), written for a chat client
//! ([`client`]); the stream body that turns a provider's events into the client's format
//! ([`stream`]), two translators in a row when the client's format is not chat
//! ([`fused`]). Replies go on to `respond`,
//! streams through `respond::stream::Relay`.

pub mod block;
pub mod chunk;
pub mod client;
pub mod completion;
pub mod conversation;
pub mod exchange;
pub mod fused;
pub mod lenient;
pub mod message;
mod message_wire;
pub mod params;
pub mod reply;
pub mod stream;
pub mod tools;
pub mod whole;
pub mod wire;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use exchange::{exchange, send, untranslatable};
pub use stream::{ChunkHead, Events, Translated};

use super::Attempt;
use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{self, CallRequest, Fields, Member};
use crate::provider::Context as ProviderContext;
use crate::route::Api;

/// The OpenAI chat parameters LiteLLM checks against a provider's supported list; any other
/// field is the provider's own and passes through.
const OPENAI_PARAMS: &[&str] = &[
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

/// What a translating provider is called in messages, and which OpenAI parameters it takes.
pub struct Provider {
    /// LiteLLM's name for it (`anthropic`).
    pub name: &'static str,
    pub supported: &'static [&'static str],
}

/// The chat request's members ready to translate: gateway fields removed, deployment
/// defaults added, OpenAI parameters the provider cannot take refused, or dropped when
/// `drop_params` is set. The trees the translation will parse of its members (but
/// `messages`) are first charged to the memory budget ([`translation_bytes`]); the charge
/// comes back with the members, to be held until the translated body is sent.
pub fn chat_fields(
    cx: &ProviderContext,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    provider: &Provider,
) -> Result<(Fields, Charge), Error> {
    if chat.api != Api::Chat {
        return Err(Error::UnsupportedApi {
            route: chat.api.route(),
            provider: provider.name,
            model: chat.model.clone(),
        });
    }
    // Copying a client's members copies handles on its body.
    let (mut fields, held) = match chat {
        Cow::Borrowed(request) => (request.fields.clone(), request.held),
        Cow::Owned(request) => (request.fields, request.held),
    };
    let charge = cx.budget.charge_beside(held, translation_bytes(&fields))?;
    super::openai::upstream_fields(attempt, &mut fields);
    let refused: Vec<&str> =
        OPENAI_PARAMS.iter().copied().filter(|p| fields.is_set(p) && !provider.supported.contains(p)).collect();
    if !refused.is_empty() && !cx.drop_params {
        let params = refused.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ");
        return Err(Error::UnsupportedParams {
            provider: provider.name,
            model: attempt.upstream_model.to_owned(),
            params: format!("[{params}]"),
        });
    }
    for param in refused {
        fields.remove(param);
    }
    Ok((fields, charge))
}

/// The most memory the members of `fields` other than `messages` take as trees, which a
/// translation parses (`messages` is charged as it is translated, by `list::each`).
/// Members the gateway built are trees already, charged by whoever built them.
pub fn translation_bytes(fields: &Fields) -> u64 {
    fields
        .members()
        .map(|(key, member)| match member {
            Member::Raw(raw) if key != "messages" => parse::scan(raw).tree_bytes(raw.len()),
            _ => 0,
        })
        .sum()
}

/// A JSON object of `members`, moved in: `json!` serializes what it embeds, copying every
/// string and tree, so translations build anything that may be large with this.
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(key, value)| (key.to_owned(), value)).collect())
}

/// A 400 naming a bad chat parameter.
pub fn bad(param: &'static str, reason: impl Into<String>) -> Error {
    Error::BadParam { route: Api::Chat.route(), param, reason: reason.into() }
}

/// Seconds since the epoch, for `created`.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `chatcmpl-<uuid4>`, the id LiteLLM gives translated replies.
pub fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4())
}
