//! The bounded read of a whole provider body (a non-streaming reply, an error body, a
//! token or credentials answer): at most a limit of bytes before a deadline, or the error
//! that says which bound it broke. Any body type, so it knows neither `provider`'s reply
//! nor `respond`'s answer; both read through it.

use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};

use crate::error::Error;

/// Reads a provider body up to `limit` bytes before `deadline`.
pub async fn read<B>(source: B, limit: usize, deadline: Instant, exception: &'static str) -> Result<Bytes, Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let timeout = deadline.saturating_duration_since(started);
    match tokio::time::timeout(timeout, Limited::new(source, limit).collect()).await {
        Err(_) => Err(Error::Timeout { timeout_s: timeout.as_secs_f64(), elapsed_s: started.elapsed().as_secs_f64() }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(bad_reply(exception, &format!("larger than {limit} bytes")))
        }
        Ok(Err(e)) => Err(Error::Connect { exception, message: format!("reply broke off: {e}") }),
    }
}

/// The 502 for a provider reply that cannot be used: `what` it is.
pub fn bad_reply(exception: &'static str, what: &str) -> Error {
    Error::Upstream {
        status: StatusCode::BAD_GATEWAY,
        class: "APIError",
        exception,
        message: format!("the provider's reply is {what}"),
        param: None,
    }
}
