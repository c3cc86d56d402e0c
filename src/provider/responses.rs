//! OpenAI's Responses API (`/v1/responses` and the operations on a response): relayed as it
//! is to a deployment whose provider speaks it (`relay`), bridged through the chat
//! translation of the deployment's protocol for the others (`bridge`, with [`request`],
//! [`reply`], [`stream`], [`object`] and its typed items, [`output`]; stored on Redis, when
//! one is configured, by `store`). Which deployment a response lives on is encoded in the
//! ids the gateway hands out (`ids`), so follow-ups reach it with no server state. The
//! reply goes on to `respond`.

mod bridge;
mod ids;
mod input;
pub mod object;
pub mod output;
mod relay;
pub mod reply;
pub mod request;
mod store;
pub mod stream;

#[cfg(test)]
mod bytes_tests;

use http::HeaderMap;

pub use ids::{encode, prefix, target};

use super::{Attempt, Reply};
use crate::error::Error;
use crate::parse::CallRequest;
use crate::provider::Context;

/// Calls the deployment with a Responses API request: relayed when it speaks the API
/// (`Deployment::responses_api`), else bridged.
pub async fn call(
    cx: &Context,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    headers: &HeaderMap,
) -> Result<Reply, Error> {
    if attempt.deployment.responses_api {
        return relay::forward(cx, attempt, request, headers).await;
    }
    bridge::call(cx, attempt, request, headers).await
}
