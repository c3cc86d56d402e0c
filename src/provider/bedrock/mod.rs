//! AWS Bedrock (`bedrock/`) behind the OpenAI chat API, through the Converse API. At
//! start-up [`endpoint`] resolves the region, the runtime endpoint and the credentials
//! ([`credentials::chain`]); each call is translated ([`request`]), POSTed to
//! `{base}/model/{model id}/converse` (or `/converse-stream`, the model id one
//! percent-encoded segment, `:` and `/` included), signed with SigV4 ([`sign`]) and its reply
//! translated back ([`response`], or frame by frame: `framing::eventstream` then [`stream`]).
//! Errors are read by [`errors`]; replies go on to `respond`. `/v1/messages` on an Anthropic
//! model goes to InvokeModel with Anthropic's own body instead ([`invoke`]).

pub mod body;
pub mod credentials;
pub mod errors;
pub mod invoke;
pub mod request;
pub mod response;
pub mod sign;
pub mod stream;
pub mod wire;

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::ACCEPT;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;

use super::translate::whole::{Reader, Whole};
use super::translate::{self, Events, Provider, Translated};
use super::url::{Refused, Room, Url};
use super::{Attempt, Endpoint, Reply, Source, Unavailable, head};
use crate::error::Error;
use crate::parse::CallRequest;
use crate::provider::Context;
use crate::settings::Settings;
use crate::table::{Deployment, Table};
use credentials::chain::{self, Shared};

pub use errors::EXCEPTION;

/// The URL segment a Bedrock model id (or ARN) fills.
pub const MODEL_ROOM: Room = Room::Id;
/// LiteLLM's region when neither the deployment nor the environment names one.
pub const DEFAULT_REGION: &str = "us-west-2";
/// Variables read, in order, for the region.
const REGION_ENV: &[&str] = &["AWS_REGION", "AWS_DEFAULT_REGION"];
/// The media type of a Converse stream.
pub(crate) const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";
/// Largest error body read from Bedrock.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// OpenAI parameters LiteLLM maps for Bedrock Converse.
pub const PROVIDER: Provider = Provider {
    name: "bedrock",
    supported: &[
        "max_completion_tokens",
        "max_tokens",
        "reasoning_effort",
        "response_format",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
    ],
};

/// Where and as whom a `bedrock/` deployment signs its calls.
#[derive(Debug)]
pub struct Aws {
    pub region: String,
    pub credentials: Arc<credentials::Source>,
}

/// Resolves a `bedrock/` deployment: region (`aws_region_name`, `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, else `us-west-2`), base (`aws_bedrock_runtime_endpoint`, `api_base`,
/// `AWS_BEDROCK_RUNTIME_ENDPOINT`, else the region's runtime host) and credentials.
pub fn endpoint(
    settings: &Settings,
    table: &Table,
    d: &Deployment,
    shared: &mut Shared,
) -> Result<Endpoint, Unavailable> {
    let resolve = |s| settings.resolve(table, s).map_err(Unavailable::MissingSecret);
    let region = match d.aws.region_name {
        Some(s) => resolve(s)?,
        None => {
            REGION_ENV.iter().find_map(|name| settings.var(table, name)).unwrap_or_else(|| DEFAULT_REGION.to_owned())
        }
    };
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Unavailable::Misconfigured(format!("aws_region_name \"{region}\" is not an AWS region")));
    }
    let base = match d.aws.runtime_endpoint.or(d.api_base) {
        Some(s) => resolve(s)?,
        None => d
            .base_env
            .and_then(|name| settings.var(table, name))
            .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com")),
    };
    let base = base.trim_end_matches('/').to_owned();
    super::check_base(&base)?;
    let source = chain::resolve(settings, table, d, &region)?;
    tracing::debug!(deployment = d.model_name, region, credentials = %source.name(), "bedrock deployment resolved");
    let aws = Aws { region, credentials: shared.share(source) };
    Ok(Endpoint { base, key: None, api_version: None, organization: None, google: None, aws: Some(Arc::new(aws)) })
}

/// `{base}/model/{model id}/converse`, or `/converse-stream`.
pub fn url(base: &str, model: &str, stream: bool) -> Result<Url, Refused> {
    let url = Url::new(base).path("/model/").segment(model, MODEL_ROOM)?;
    Ok(url.path(if stream { "/converse-stream" } else { "/converse" }))
}

/// Translates the chat call, signs and sends it, and returns the reply (translated when 2xx).
pub async fn forward(
    cx: &Context,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let (streaming, include_usage, held) = (chat.stream, chat.include_usage, chat.held);
    let url = url(&attempt.endpoint.base, attempt.upstream_model, streaming)
        .map_err(|why| super::unsendable(attempt.deployment, &chat.model, why))?;
    // A whole reply names the requested model.
    let requested = if streaming { String::new() } else { chat.model.clone() };
    // The charges for what the translation holds are kept until the reply is back.
    let (fields, members) = translate::chat_fields(cx, attempt, chat, &PROVIDER)?;
    let mut messages = cx.budget.charge_beside(held + members.bytes(), 0)?;
    let drop_params = cx.drop_params;
    let outgoing = request::translate(fields, attempt.upstream_model, drop_params, &mut messages)?;
    let body = outgoing.body.collect().await.map_err(|e: Infallible| match e {})?.to_bytes();
    let accept = if streaming { EVENT_STREAM } else { "application/json" };
    let reply = send(cx, attempt, url, streaming, client_headers, accept, body).await?;
    let Reply { status, headers, body, head_at } = reply;
    if streaming {
        // The usage chunk is written when the gateway wants it for metrics too; `respond`
        // keeps it from a client that did not ask.
        let usage = include_usage || attempt.stream_usage;
        let events = stream::Events::new(
            translate::completion_id(),
            attempt.upstream_model.to_owned(),
            usage,
            outgoing.json_mode,
        );
        let body = Source::Translated(Box::new(Translated::event_stream(body, Events::Bedrock(events))));
        return Ok(Reply { status, headers, body, head_at });
    }
    let bytes = crate::framing::read(body, cx.max_upstream_bytes, attempt.deadline, EXCEPTION).await?;
    let whole = Whole::new(bytes, Reader::Bedrock { json_mode: outgoing.json_mode }, requested);
    Ok(Reply { status: StatusCode::OK, headers, body: Source::Whole(Box::new(whole)), head_at })
}

/// Signs `body` for `url` with the deployment's credentials and sends it; a non-2xx reply
/// becomes its error ([`errors::reply`]).
pub async fn send(
    cx: &Context,
    attempt: &Attempt<'_>,
    url: Url,
    streaming: bool,
    client_headers: &HeaderMap,
    accept: &str,
    body: Bytes,
) -> Result<Reply, Error> {
    let deployment = attempt.deployment.model_name;
    let aws = attempt.endpoint.aws.as_ref().ok_or_else(|| Error::Misconfigured {
        deployment,
        reason: "no AWS settings were resolved for this bedrock/ deployment".into(),
    })?;
    let credentials = aws.credentials.get(&cx.client, attempt.deadline, deployment).await?;
    let auth = [(ACCEPT, accept)];
    let mut upstream = head::request(cx, attempt, url, streaming, client_headers, &auth, body.clone().into())?;
    sign::sign_request(&mut upstream, &body, &credentials, &aws.region, sign::SERVICE)
        .map_err(|reason| Error::Misconfigured { deployment, reason })?;
    let reply = translate::send(cx, attempt, upstream, EXCEPTION).await?;
    if reply.status.is_success() {
        return Ok(reply);
    }
    let error =
        crate::framing::read(reply.body, MAX_ERROR_BYTES, attempt.deadline, EXCEPTION).await.unwrap_or_default();
    Err(errors::reply(reply.status, &reply.headers, &error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_id_is_one_segment_with_colon_and_slash_encoded() {
        let url =
            |model, stream| url("https://bedrock-runtime.us-east-1.amazonaws.com", model, stream).map(Url::into_string);
        assert_eq!(
            url("anthropic.claude-3-5-sonnet-20240620-v1:0", false).as_deref(),
            Ok(
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
            )
        );
        assert_eq!(
            url("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0", true).as_deref(),
            Ok(
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-pro-v1%3A0/converse-stream"
            )
        );
        assert!(url("../x", false).is_err());
    }
}
