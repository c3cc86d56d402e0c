//! Providers: a closed set of wire protocols with `match` dispatch. Each turns the parsed
//! request into a [`Reply`] (status, headers, body still streaming) from its [`Attempt`]
//! and the shared [`Context`] (client, budget, the router settings it reads), never the
//! whole gateway; `respond` takes it from there. A translating provider's whole reply comes
//! back from [`chat`] unread with its reader ([`Source::Whole`]), and is written once in the
//! client's format (chat here, `messages`, `responses`) and handed over as the client gets
//! it, with its usage ([`Source::Answered`]). OpenAI-compatible vendors are rows of data (`config/src/vendors.rs`).

mod anthropic;
pub mod bedrock;
mod context;
mod fake;
mod gemini;
mod google_auth;
mod head;
mod list;
mod messages;
mod openai;
pub mod responses;
mod translate;
pub mod url;
mod vertex;

/// For `catalog`, which asks providers for their model lists.
pub use anthropic::API_VERSION as ANTHROPIC_VERSION;
pub use head::GATEWAY_USER_AGENT;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

pub use context::{Context, Endpoints};
pub use fake::FakeStream;
pub use messages::stream::error_event as message_error_event;
pub use translate::client::ChatClient;
pub use translate::stream::{DONE as CHUNKS_DONE, error_event as chunk_error_event};

use crate::error::Error;
use crate::parse::CallRequest;
use crate::resolve::{self, Target};
use crate::route::Api;
use crate::settings::Settings;
use crate::table::{Deployment, Protocol, Table};
use crate::usage::Usage;
use google_auth::token::AccessToken;
use url::{Refused, Room};

/// Where and as whom a deployment is called, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL without a trailing slash, suffix included (`http://host:11434/v1`).
    pub base: String,
    pub key: Option<String>,
    pub api_version: Option<String>,
    pub organization: Option<String>,
    /// The service account whose access token a `vertex_ai/` call carries (shared by the
    /// deployments using the same account); `None` for the others.
    pub google: Option<Arc<google_auth::token::TokenSource>>,
    /// The region and credentials a `bedrock/` call is signed with (shared by the
    /// deployments using the same temporary credentials); `None` for the others.
    pub aws: Option<Arc<bedrock::Aws>>,
}

/// Why a deployment cannot serve; its requests get the matching error.
#[derive(Debug, Clone)]
pub enum Unavailable {
    MissingSecret(&'static str),
    Misconfigured(String),
}

impl Unavailable {
    pub fn error(&self, deployment: &'static Deployment) -> Error {
        match self {
            Unavailable::MissingSecret(variable) => {
                Error::MissingSecret { deployment: deployment.model_name, variable }
            }
            Unavailable::Misconfigured(reason) => {
                Error::Misconfigured { deployment: deployment.model_name, reason: reason.clone() }
            }
        }
    }
}

/// The Azure API version used when neither the deployment nor `AZURE_API_VERSION` sets one.
const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Resolves every deployment's endpoint, in table order; deployments naming the same Google
/// service account share its token cache.
fn endpoints(settings: &Settings, table: &Table) -> Vec<Result<Endpoint, Unavailable>> {
    let mut accounts = vertex::Accounts::default();
    let mut aws = bedrock::credentials::chain::Shared::default();
    table
        .deployments
        .iter()
        .map(|d| {
            check_model(d)?;
            match d.protocol {
                Protocol::Vertex => vertex::endpoint(settings, table, d, &mut accounts),
                Protocol::Bedrock => bedrock::endpoint(settings, table, d, &mut aws),
                _ => endpoint(settings, table, d),
            }
        })
        .collect()
}

/// A configured model that goes into the URL must fit its segment (each `*` stands for a
/// capture, checked per request); one that cannot leaves the deployment unavailable.
fn check_model(d: &Deployment) -> Result<(), Unavailable> {
    let Some(room) = model_room(d) else { return Ok(()) };
    url::check(&d.upstream_model.replace('*', "x"), room).map_err(|why| {
        Unavailable::Misconfigured(format!(
            "model \"{}\" cannot go into the provider's URL: the name {}",
            d.upstream_model, why.0
        ))
    })
}

/// Resolves a deployment's base URL and credentials from its config and the environment,
/// with LiteLLM's provider fallbacks (`OPENAI_API_BASE`, `OPENAI_API_KEY`, ...).
pub fn endpoint(settings: &Settings, table: &Table, d: &Deployment) -> Result<Endpoint, Unavailable> {
    let resolve = |s| settings.resolve(table, s).map_err(Unavailable::MissingSecret);
    let base = match d.api_base {
        Some(s) => resolve(s)?,
        None => d
            .base_env
            .and_then(|name| settings.var(table, name))
            .or_else(|| d.default_base.map(str::to_owned))
            .ok_or_else(|| {
                Unavailable::Misconfigured(format!("needs api_base or {}", d.base_env.unwrap_or("an api_base")))
            })?,
    };
    let key = match (d.api_key, d.key_env) {
        (Some(s), _) => Some(resolve(s)?),
        (None, Some(name)) => settings.var(table, name),
        (None, None) => None,
    };
    let needs_key = matches!(d.protocol, Protocol::Azure | Protocol::Anthropic | Protocol::Gemini)
        || (d.protocol == Protocol::OpenAi && d.provider == "openai");
    if key.is_none() && needs_key && d.mock.response.is_none() {
        return Err(Unavailable::MissingSecret(d.key_env.unwrap_or("OPENAI_API_KEY")));
    }
    let api_version = match d.api_version {
        Some(s) => Some(resolve(s)?),
        None if d.protocol == Protocol::Azure => {
            Some(settings.var(table, "AZURE_API_VERSION").unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned()))
        }
        None => None,
    };
    let organization = d.organization.map(resolve).transpose()?;
    let base = format!("{}{}", base.trim_end_matches('/'), d.base_suffix);
    if d.protocol != Protocol::Fake {
        check_base(&base)?;
    }
    Ok(Endpoint { base, key, api_version, organization, google: None, aws: None })
}

/// An api_base paths are appended to: an absolute http(s) URL without query or fragment.
fn check_base(base: &str) -> Result<(), Unavailable> {
    let http = base.starts_with("http://") || base.starts_with("https://");
    let parsed = base.parse::<http::Uri>().is_ok_and(|uri| uri.authority().is_some());
    if http && parsed && !base.contains(['?', '#']) {
        return Ok(());
    }
    Err(Unavailable::Misconfigured(format!(
        "api_base \"{}\" is not an http(s) URL without query or fragment",
        url::shown(base)
    )))
}

/// The URL segment a deployment's model fills; `None` when the model travels in the body
/// (OpenAI-compatible vendors, Anthropic), where any name can be sent.
fn model_room(d: &Deployment) -> Option<Room> {
    match d.protocol {
        Protocol::Azure => Some(openai::AZURE_MODEL_ROOM),
        Protocol::Gemini | Protocol::Vertex => Some(gemini::MODEL_ROOM),
        Protocol::Bedrock => Some(bedrock::MODEL_ROOM),
        Protocol::OpenAi | Protocol::Anthropic | Protocol::Fake => None,
    }
}

/// The 400 for a `requested` name that deployment `d`'s URL has no room for.
pub fn unsendable(d: &Deployment, requested: &str, why: Refused) -> Error {
    Error::UnsendableModel { model: requested.to_owned(), provider: d.provider, reason: why.0 }
}

/// Refuses, before any attempt, a wildcard capture that some deployment of the group would
/// have to put into its URL and cannot: the answer is a 400, no deployment is charged with
/// a failure, nothing is retried or falls back. Other targets send configured names only.
pub fn check_captures(table: &Table, target: &Target, requested: &str) -> Result<(), Error> {
    let Target::Group { group, captures: Some(captures) } = target else { return Ok(()) };
    for d in table.group(*group).deployments.iter().map(|i| table.deployment(*i)) {
        if let Some(room) = model_room(d) {
            let model = resolve::upstream_model(d.upstream_model, d.provider, Some(captures), requested);
            url::check(&model, room).map_err(|why| unsendable(d, requested, why))?;
        }
    }
    Ok(())
}

/// A provider's answer with its body not yet read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Source,
    /// When the provider's response head arrived.
    pub head_at: Instant,
}

/// A reply body: the upstream connection's, or the fake provider's.
pub enum Source {
    Full(Option<Bytes>),
    /// A whole reply a translator wrote in the client's format (`model` the requested name,
    /// a Responses object's ids issued) with the usage it counted: `respond` passes it on
    /// unread.
    Answered {
        body: Bytes,
        usage: Option<Usage>,
    },
    Upstream(hyper::body::Incoming),
    Fake(FakeStream),
    /// A provider's stream translated into OpenAI chunks (Anthropic, Gemini).
    Translated(Box<translate::Translated>),
    /// A translating provider's whole 2xx reply, unread: [`chat`] hands it to its caller,
    /// which reads it once into its client's format; [`call`] answers a chat client with
    /// it, so `respond` never sees one.
    Whole(Box<translate::whole::Whole>),
}

/// What one provider call needs besides the request.
pub struct Attempt<'a> {
    pub deployment: &'static Deployment,
    pub endpoint: &'a Endpoint,
    pub upstream_model: &'a str,
    /// Deadline for the response head.
    pub deadline: Instant,
    /// Ask for a usage chunk at the end of a stream (for metrics and cost), whether or not
    /// the client did; `respond` keeps it from a client that did not ask.
    pub stream_usage: bool,
    /// The W3C `traceparent` to send upstream, when tracing is on.
    pub traceparent: Option<String>,
    /// The access token a `vertex_ai/` call sent, kept to be cut from the provider's errors.
    pub(crate) token: OnceLock<AccessToken>,
}

impl Attempt<'_> {
    /// The credentials this attempt sends upstream: the endpoint's key, or the access token
    /// it fetched. `respond` cuts them from error bodies.
    /// An absent one is empty, which masking skips (it cuts nothing under
    /// `redact::MIN_SECRET_LEN`); a fixed pair keeps the request path free of allocation.
    pub fn credentials(&self) -> [&str; 2] {
        [self.endpoint.key.as_deref().unwrap_or_default(), self.token.get().map_or("", AccessToken::secret)]
    }
}

/// Calls the deployment's provider; `/v1/messages` calls go through [`messages`], Responses
/// API calls through [`responses`].
pub async fn call(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    if request.api == Api::Messages {
        return messages::call(cx, attempt, request, headers).await;
    }
    if request.api == Api::Responses {
        return responses::call(cx, attempt, request, headers).await;
    }
    let reply = chat(cx, attempt, Cow::Borrowed(request), headers).await?;
    let Source::Whole(whole) = reply.body else { return Ok(reply) };
    let (body, usage) = whole.chat().map_err(|what| translate::untranslatable(exception(attempt.deployment), &what))?;
    Ok(Reply { body: Source::Answered { body, usage }, ..reply })
}

/// Calls the deployment's provider with an OpenAI-format request: the client's, or one the
/// gateway built (`messages`, `responses`), which the provider may take apart as it builds
/// its own. A translating provider's whole 2xx reply comes back unread ([`Source::Whole`]).
async fn chat(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: Cow<'_, CallRequest>,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    match attempt.deployment.protocol {
        Protocol::Fake => fake::answer(attempt, &request).await,
        Protocol::OpenAi | Protocol::Azure => openai::forward(cx, attempt, request, headers).await,
        Protocol::Anthropic => anthropic::forward(cx, attempt, request, headers).await,
        Protocol::Gemini => gemini::forward(cx, attempt, request, headers).await,
        Protocol::Vertex => vertex::forward(cx, attempt, request, headers).await,
        Protocol::Bedrock => bedrock::forward(cx, attempt, request, headers).await,
    }
}

/// The exception name LiteLLM puts in upstream error messages.
pub fn exception(deployment: &Deployment) -> &'static str {
    match deployment.protocol {
        Protocol::Azure => "AzureException",
        Protocol::Anthropic => anthropic::EXCEPTION,
        Protocol::Gemini => gemini::EXCEPTION,
        Protocol::Vertex => vertex::EXCEPTION,
        Protocol::Bedrock => bedrock::EXCEPTION,
        Protocol::Fake | Protocol::OpenAi => "OpenAIException",
    }
}

impl http_body::Body for Source {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Source::Whole(whole) = this {
            // Not reached: `call`, `messages` and the Responses bridge each read their own.
            // Were it, the chat completion as a chat client gets it; an unreadable reply
            // ends the body empty, and says why once.
            let body = whole.chat().map_or_else(
                |what| {
                    tracing::error!(reader = ?whole.reader, error = %what, "an unread whole reply reached the client");
                    Bytes::new()
                },
                |(body, _)| body,
            );
            *this = Source::Answered { body, usage: None };
        }
        match this {
            Source::Full(bytes) => std::task::Poll::Ready(bytes.take().map(|b| Ok(http_body::Frame::data(b)))),
            Source::Answered { body, .. } => {
                let body = std::mem::take(body);
                std::task::Poll::Ready((!body.is_empty()).then(|| Ok(http_body::Frame::data(body))))
            }
            Source::Upstream(incoming) => std::pin::Pin::new(incoming).poll_frame(cx),
            Source::Fake(fake) => std::pin::Pin::new(fake).poll_frame(cx).map(|f| f.map(Ok)),
            Source::Translated(translated) => translated.poll_frame(cx),
            Source::Whole(_) => std::task::Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_base_takes_paths_and_is_shown_without_userinfo() {
        for good in ["http://127.0.0.1:9/v1", "https://user:pw@proxy.internal/openai"] {
            assert!(check_base(good).is_ok(), "{good}");
        }
        for bad in ["proxy.internal/v1", "https://h/v1?key=1", "https://h/v1#x", "https://h /v1", "https://"] {
            assert!(check_base(bad).is_err(), "{bad}");
        }
        let Err(Unavailable::Misconfigured(why)) = check_base("https://user:pw@h/v1?x=1") else { panic!("refused") };
        assert!(!why.contains("pw"), "{why}");
    }
}
