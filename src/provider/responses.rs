//! OpenAI's Responses API (`/v1/responses` and the operations on a response): relayed as it
//! is to a deployment whose provider speaks it (`relay`), bridged through the chat
//! translation of the deployment's protocol for the others ([`bridge`]). Which deployment a
//! response lives on is encoded in the ids the gateway hands out (`ids`), so follow-ups
//! reach it with no server state. The reply goes on to `respond`.

mod ids;
mod relay;

use http::HeaderMap;

pub use ids::{encode, prefix, target};

use super::{Attempt, Reply};
use crate::error::Error;
use crate::gateway::Gateway;
use crate::parse::CallRequest;
use crate::route::Api;

/// Calls the deployment with a Responses API request: relayed when it speaks the API
/// (`Deployment::responses_api`), else bridged.
pub async fn call(
    gateway: &Gateway,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    if attempt.deployment.responses_api {
        return relay::forward(gateway, attempt, request, headers).await;
    }
    bridge(gateway, attempt, request, headers).await
}

/// A Responses API request for a deployment whose provider does not speak it: to become a
/// chat request in the deployment's own protocol, its reply a Responses object.
/// Not built yet: a 400 naming the provider.
#[expect(clippy::unused_async, reason = "the bridge will await its provider")]
pub async fn bridge(
    gateway: &Gateway,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    let _ = (gateway, headers);
    Err(Error::UnsupportedApi {
        route: Api::Responses.route(),
        provider: attempt.deployment.provider,
        model: request.model.clone(),
    })
}
