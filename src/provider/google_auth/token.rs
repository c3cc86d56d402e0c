//! One service account's access token: exchanged for a signed assertion at the account's
//! `token_uri` (OAuth2 JWT-bearer grant) through the pooled `upstream` client, cached, and
//! refreshed once less than [`REFRESH_MARGIN`] of its life remains. Concurrent calls share
//! one refresh. `vertex` puts the token in the call's `Authorization` header.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, StatusCode};
use serde_json::Value;
use tokio::sync::Mutex;

use super::ServiceAccount;
use crate::error::Error;
use crate::provider::Source;
use crate::upstream::{Client, Outgoing};

/// A token is refreshed when less than this much of its life remains, so no call goes out
/// with one about to expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// `grant_type` of the JWT-bearer grant, form-encoded.
const GRANT_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
/// Largest token endpoint reply read.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Longest `error` / `error_description` of a refusal quoted back.
const MAX_REASON_CHARS: usize = 300;
/// The exception named in errors, as for the calls the token is for.
const EXCEPTION: &str = "VertexAIException";

/// An access token, kept as the `Authorization` value it travels in (`Bearer <token>`), made
/// once per fetch rather than on every call. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

/// What precedes the token in its `Authorization` value.
const BEARER: &str = "Bearer ";

impl AccessToken {
    fn new(token: &str) -> Self {
        AccessToken(Arc::from(format!("{BEARER}{token}")))
    }

    /// The token itself, to cut from a provider's error body; never sent or logged.
    pub fn secret(&self) -> &str {
        &self.0[BEARER.len()..]
    }

    /// `Bearer <token>`, for the `Authorization` header and nothing else.
    pub fn authorization(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// A service account and its cached token, shared by every deployment using the account.
pub struct TokenSource {
    account: ServiceAccount,
    cached: Mutex<Option<Cached>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource").field("account", &self.account).finish_non_exhaustive()
    }
}

impl TokenSource {
    pub fn new(account: ServiceAccount) -> Self {
        TokenSource { account, cached: Mutex::new(None) }
    }

    pub fn account(&self) -> &ServiceAccount {
        &self.account
    }

    /// A token with more than [`REFRESH_MARGIN`] to live: the cached one, or a new one
    /// fetched before `deadline`. The lock is held across the fetch, so callers waiting for
    /// it find the new token instead of fetching their own.
    pub async fn token(
        &self,
        client: &Client,
        deadline: Instant,
        deployment: &'static str,
    ) -> Result<AccessToken, Error> {
        let started = Instant::now();
        let timeout = deadline.saturating_duration_since(started);
        let Ok(mut cached) = tokio::time::timeout(timeout, self.cached.lock()).await else {
            return Err(Error::Timeout {
                timeout_s: timeout.as_secs_f64(),
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        };
        if let Some(fresh) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(fresh.token.clone());
        }
        let asked_at = Instant::now();
        let (token, lifetime) = self.fetch(client, deadline, deployment).await?;
        tracing::debug!(
            deployment,
            client_email = %self.account.client_email,
            expires_in_s = lifetime.as_secs(),
            "fetched a Google access token"
        );
        let refresh_at = asked_at + lifetime.saturating_sub(REFRESH_MARGIN);
        *cached = Some(Cached { token: token.clone(), refresh_at });
        Ok(token)
    }

    /// One JWT-bearer grant at the account's `token_uri`.
    async fn fetch(
        &self,
        client: &Client,
        deadline: Instant,
        deployment: &'static str,
    ) -> Result<(AccessToken, Duration), Error> {
        let token_uri = &self.account.token_uri;
        let assertion =
            self.account.assertion(unix_now()).map_err(|reason| Error::Misconfigured { deployment, reason })?;
        let body = format!("grant_type={GRANT_TYPE}&assertion={assertion}");
        let request = Request::builder()
            .method(Method::POST)
            .uri(token_uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, crate::provider::head::GATEWAY_USER_AGENT)
            .body(Outgoing::from(Bytes::from(body)))
            .map_err(|_| Error::Misconfigured { deployment, reason: format!("token_uri {token_uri} is not a URL") })?;
        let response = client.send(request, deadline, EXCEPTION).await.map_err(|e| match e {
            Error::Connect { exception, message } => {
                Error::Connect { exception, message: format!("the token endpoint {token_uri}: {message}") }
            }
            other => other,
        })?;
        let status = response.status();
        let incoming = Source::Upstream(response.into_body());
        let reply = crate::framing::read(incoming, MAX_REPLY_BYTES, deadline, EXCEPTION).await?;
        let granted = if status.is_success() { grant(&reply) } else { Err(refusal(status, &reply, &assertion)) };
        granted.map_err(|reason| Error::token_grant(deployment, token_uri, status, reason))
    }
}

/// The token and its lifetime from a 2xx reply.
fn grant(reply: &[u8]) -> Result<(AccessToken, Duration), String> {
    let json: Value = serde_json::from_slice(reply).map_err(|_| "the reply is not JSON".to_owned())?;
    let token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "the reply holds no access_token".to_owned())?;
    let expires_in = json.get("expires_in").and_then(Value::as_u64).unwrap_or(0);
    Ok((AccessToken::new(token), Duration::from_secs(expires_in)))
}

/// What a refusal says: OAuth2's `error` and `error_description`, the assertion taken out
/// should the endpoint echo it, then shortened; nothing else of the body is quoted.
fn refusal(status: StatusCode, reply: &[u8], assertion: &str) -> String {
    let json: Value = serde_json::from_slice(reply).unwrap_or(Value::Null);
    let text = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str().or_else(|| v.get("message").and_then(Value::as_str)))
            .map(|s| redact(s, assertion).chars().take(MAX_REASON_CHARS).collect::<String>())
    };
    match (text("error"), text("error_description")) {
        (Some(error), Some(description)) => format!("{} {error}: {description}", status.as_u16()),
        (Some(error), None) => format!("{} {error}", status.as_u16()),
        _ => format!("the token endpoint answered {}", status.as_u16()),
    }
}

/// `reason` with the assertion, and any of its parts, taken out.
fn redact(reason: &str, assertion: &str) -> String {
    const MIN_PART: usize = 16;
    let mut out = reason.replace(assertion, "<assertion>");
    for part in assertion.split('.').filter(|p| p.len() >= MIN_PART) {
        out = out.replace(part, "<assertion>");
    }
    out
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_reads_the_token_and_its_lifetime() {
        let (token, lifetime) = grant(br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((token.secret(), lifetime), ("ya29.x", Duration::from_secs(3599)));
        assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
        assert!(grant(br#"{"expires_in":3599}"#).is_err());
        assert!(grant(b"<html>").is_err());
    }

    #[test]
    fn a_refusal_quotes_only_the_oauth_error_fields() {
        let body = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature.","debug":"secret"}"#;
        assert_eq!(refusal(StatusCode::BAD_REQUEST, body, "a.b.c"), "400 invalid_grant: Invalid JWT Signature.");
        assert_eq!(refusal(StatusCode::BAD_GATEWAY, b"<html>boom</html>", "a.b.c"), "the token endpoint answered 502");
    }

    #[test]
    fn the_assertion_never_survives_in_a_reason() {
        let assertion = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhQGIuYyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
        let reason = format!("400 invalid_grant: bad {assertion} and eyJpc3MiOiJhQGIuYyJ9 alone");
        let out = redact(&reason, assertion);
        assert!(!out.contains("eyJ") && out.contains("<assertion>"), "{out}");
    }
}
