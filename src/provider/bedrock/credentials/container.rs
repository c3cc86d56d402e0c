//! Temporary credentials from the container endpoint that ECS and EKS Pod Identity run:
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` (or `…_RELATIVE_URI` under 169.254.170.2), with
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN` or the file `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
//! names (read again on every fetch) as its `Authorization`. `cache` keeps them.

use std::time::Instant;

use http::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use http::{Method, Request, StatusCode};
use serde_json::Value;

use super::Credentials;
use super::sts::parse_time;
use crate::error::Error;
use crate::provider::Source as Body;
use crate::upstream::{Client, Outgoing};

/// Largest reply read.
const MAX_REPLY_BYTES: usize = 64 * 1024;
const EXCEPTION: &str = "BedrockException";

/// Where the endpoint's authorization token is read from.
#[derive(Debug)]
pub enum Authorization {
    None,
    Value(String),
    File(String),
}

#[derive(Debug)]
pub struct Container {
    pub uri: String,
    pub authorization: Authorization,
}

impl Container {
    pub fn name(&self) -> String {
        format!("the container credentials endpoint {}", crate::provider::url::shown(&self.uri))
    }

    pub async fn fetch(
        &self,
        client: &Client,
        deadline: Instant,
        deployment: &'static str,
    ) -> Result<Credentials, Error> {
        let failed = |status, reason| Error::aws_credentials(deployment, self.name(), status, reason);
        let token = match &self.authorization {
            Authorization::None => None,
            Authorization::Value(value) => Some(value.clone()),
            Authorization::File(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                failed(StatusCode::UNAUTHORIZED, format!("the authorization token file {path} cannot be read: {e}"))
            })?),
        };
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(&self.uri)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, crate::provider::head::GATEWAY_USER_AGENT);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token.trim());
        }
        let request = request
            .body(Outgoing::default())
            .map_err(|_| failed(StatusCode::BAD_GATEWAY, "the endpoint or its token is not valid in HTTP".into()))?;
        let response = client.send(request, deadline, EXCEPTION).await?;
        let status = response.status();
        let reply =
            crate::framing::read(Body::Upstream(response.into_body()), MAX_REPLY_BYTES, deadline, EXCEPTION).await?;
        if !status.is_success() {
            return Err(failed(status, format!("the endpoint answered {}", status.as_u16())));
        }
        granted(&reply).ok_or_else(|| failed(StatusCode::OK, "the reply holds no AccessKeyId/SecretAccessKey".into()))
    }
}

fn granted(reply: &[u8]) -> Option<Credentials> {
    let json: Value = serde_json::from_slice(reply).ok()?;
    let field = |key: &str| json.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let expires = field("Expiration").and_then(parse_time);
    Some(Credentials::new(field("AccessKeyId")?, field("SecretAccessKey")?, field("Token").map(str::to_owned), expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_holds_key_secret_token_and_expiry() {
        let got = granted(
            br#"{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"2030-01-01T00:00:00Z"}"#,
        );
        let got = got.unwrap_or_else(|| panic!("granted"));
        assert_eq!((got.access_key_id.as_str(), got.session_token()), ("ASIA1", Some("t")));
        assert!(got.expires.is_some());
        assert!(granted(br#"{"AccessKeyId":"ASIA1"}"#).is_none());
    }
}
