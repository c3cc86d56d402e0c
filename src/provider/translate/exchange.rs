//! The exchange with a translating provider: the request sent, an error reply passed on
//! untranslated, a stream handed to [`Translated`] with its events, a whole 2xx body read
//! within its size and time limits and handed back unread with its reader
//! ([`Source::Whole`], which the caller reads once into its own format). The reply goes on
//! to `respond`.

use std::time::Instant;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::stream::{Events, Translated};
use super::whole::{Reader, Whole};
use crate::error::Error;
use crate::provider::Context as ProviderContext;
use crate::provider::{Attempt, Reply, Source};
use crate::upstream::Outgoing;

/// Sends `upstream` and shapes the reply: an error untranslated, a stream through `events`,
/// a whole body read (bounded in size and time) and handed back for `reader` to read into
/// a completion naming `model`, the requested name.
pub async fn exchange(
    cx: &ProviderContext,
    attempt: &Attempt<'_>,
    upstream: Request<Outgoing>,
    exception: &'static str,
    events: Option<Events>,
    (reader, model): (Reader, String),
) -> Result<Reply, Error> {
    let reply = send(cx, attempt, upstream, exception).await?;
    if !reply.status.is_success() {
        return Ok(reply);
    }
    let Reply { status, headers, body, head_at } = reply;
    if let Some(events) = events {
        let body = Source::Translated(Box::new(Translated::new(body, events)));
        return Ok(Reply { status, headers, body, head_at });
    }
    let Source::Upstream(incoming) = body else { return Ok(Reply { status, headers, body, head_at }) };
    let bytes = read(incoming, cx.max_upstream_bytes, attempt.deadline, exception).await?;
    let body = Source::Whole(Box::new(Whole::new(bytes, reader, model)));
    Ok(Reply { status: StatusCode::OK, headers, body, head_at })
}

/// A 502 for a 2xx reply that could not be translated, saying `what` is wrong with it.
pub fn untranslatable(exception: &'static str, what: &str) -> Error {
    Error::Upstream {
        status: StatusCode::BAD_GATEWAY,
        class: "APIError",
        exception,
        message: format!("the provider's reply could not be translated: {what}"),
        param: None,
    }
}

/// Sends `upstream` and returns the reply head, its body still streaming.
pub async fn send(
    cx: &ProviderContext,
    attempt: &Attempt<'_>,
    upstream: Request<Outgoing>,
    exception: &'static str,
) -> Result<Reply, Error> {
    let response = cx.client.send(upstream, attempt.deadline, exception).await?;
    let head_at = Instant::now();
    let (parts, incoming) = response.into_parts();
    Ok(Reply { status: parts.status, headers: parts.headers, body: Source::Upstream(incoming), head_at })
}

/// Reads a 2xx body up to `limit` bytes before `deadline`.
async fn read(incoming: Incoming, limit: usize, deadline: Instant, exception: &'static str) -> Result<Bytes, Error> {
    let started = Instant::now();
    let timeout = deadline.saturating_duration_since(started);
    match tokio::time::timeout(timeout, Limited::new(incoming, limit).collect()).await {
        Err(_) => Err(Error::Timeout { timeout_s: timeout.as_secs_f64(), elapsed_s: started.elapsed().as_secs_f64() }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Error::Upstream {
            status: StatusCode::BAD_GATEWAY,
            class: "APIError",
            exception,
            message: format!("the provider's reply is larger than {limit} bytes"),
            param: None,
        }),
        Ok(Err(e)) => Err(Error::Connect { exception, message: format!("reply broke off: {e}") }),
    }
}
