//! Temporary credentials from AWS STS: `AssumeRoleWithWebIdentity` (IRSA's
//! `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, the file read again on every fetch, or a
//! deployment's `aws_web_identity_token`), and `AssumeRole` signed with base credentials
//! (`aws_role_name` + `aws_session_name`). The query API's XML reply is read for its
//! `Credentials`; `cache` keeps them until shortly before they expire.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Credentials, Source};
use crate::error::Error;
use crate::provider::Source as Body;
use crate::upstream::{Client, Outgoing};

/// The STS API version every call names.
const VERSION: &str = "2011-06-15";
/// Largest STS reply read.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Longest STS error message quoted back.
const MAX_REASON_CHARS: usize = 300;
/// The exception named in errors, as for the calls the credentials are for.
const EXCEPTION: &str = "BedrockException";
/// Session name when none is configured.
pub const DEFAULT_SESSION_NAME: &str = "model-router";
/// Seconds in a day, for the expiry's date.
const DAY_S: i64 = 86_400;

/// Where the web identity token is read from.
#[derive(Debug)]
pub enum Token {
    /// A file, read again on every fetch (the kubelet rotates it).
    File(String),
    /// The value of a deployment setting, read at start-up.
    Value(String),
}

/// What STS is asked.
#[derive(Debug)]
pub enum Action {
    WebIdentity(Token),
    AssumeRole(Box<Source>),
}

/// One STS source: the endpoint, the role and how to ask for it.
#[derive(Debug)]
pub struct Sts {
    pub endpoint: String,
    pub region: String,
    pub role_arn: String,
    pub session_name: String,
    pub action: Action,
}

impl Sts {
    pub fn name(&self) -> String {
        let how = match &self.action {
            Action::WebIdentity(Token::File(path)) => format!("AssumeRoleWithWebIdentity, token file {path}"),
            Action::WebIdentity(Token::Value(_)) => "AssumeRoleWithWebIdentity, aws_web_identity_token".to_owned(),
            Action::AssumeRole(base) => format!("AssumeRole with {}", base.name()),
        };
        format!("STS {} ({how}) for role {}", self.endpoint, self.role_arn)
    }

    /// One STS call.
    pub async fn fetch(
        &self,
        client: &Client,
        deadline: Instant,
        deployment: &'static str,
    ) -> Result<Credentials, Error> {
        let failed = |status, reason| Error::aws_credentials(deployment, self.name(), status, reason);
        let mut form = vec![
            ("Version", VERSION.to_owned()),
            ("RoleArn", self.role_arn.clone()),
            ("RoleSessionName", self.session_name.clone()),
        ];
        let base = match &self.action {
            Action::WebIdentity(token) => {
                let token = match token {
                    Token::File(path) => std::fs::read_to_string(path)
                        .map_err(|e| failed(StatusCode::UNAUTHORIZED, format!("the token file cannot be read: {e}")))?,
                    Token::Value(value) => value.clone(),
                };
                form.push(("Action", "AssumeRoleWithWebIdentity".to_owned()));
                form.push(("WebIdentityToken", token.trim().to_owned()));
                None
            }
            Action::AssumeRole(base) => {
                form.push(("Action", "AssumeRole".to_owned()));
                Some(Box::pin(base.get(client, deadline, deployment)).await?)
            }
        };
        let body = encode_form(&form);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&self.endpoint)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .header(USER_AGENT, crate::provider::head::GATEWAY_USER_AGENT)
            .body(Outgoing::from(Bytes::from(body.clone())))
            .map_err(|_| failed(StatusCode::BAD_GATEWAY, "the STS endpoint is not a URL".to_owned()))?;
        if let Some(base) = &base {
            super::super::sign::sign_request(&mut request, body.as_bytes(), base, &self.region, "sts")
                .map_err(|reason| failed(StatusCode::BAD_GATEWAY, reason))?;
        }
        let response = client.send(request, deadline, EXCEPTION).await?;
        let status = response.status();
        let reply =
            crate::framing::read(Body::Upstream(response.into_body()), MAX_REPLY_BYTES, deadline, EXCEPTION).await?;
        let reply = String::from_utf8_lossy(&reply);
        if !status.is_success() {
            return Err(failed(status, refusal(status, &reply)));
        }
        granted(&reply).ok_or_else(|| failed(StatusCode::OK, "the reply holds no Credentials".to_owned()))
    }
}

fn encode_form(form: &[(&str, String)]) -> String {
    form.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect::<Vec<_>>().join("&")
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim())
}

/// The credentials of a 2xx reply.
fn granted(xml: &str) -> Option<Credentials> {
    let credentials = element(xml, "Credentials")?;
    let key = element(credentials, "AccessKeyId").filter(|k| !k.is_empty())?;
    let secret = element(credentials, "SecretAccessKey").filter(|s| !s.is_empty())?;
    let token = element(credentials, "SessionToken").map(str::to_owned);
    let expires = element(credentials, "Expiration").and_then(parse_time);
    Some(Credentials::new(key, secret, token, expires))
}

/// What a refusal says: its `Code` and `Message`, shortened; nothing else of the body.
fn refusal(status: StatusCode, xml: &str) -> String {
    let short = |s: &str| s.chars().take(MAX_REASON_CHARS).collect::<String>();
    match (element(xml, "Code"), element(xml, "Message")) {
        (Some(code), Some(message)) => format!("{} {}: {}", status.as_u16(), short(code), short(message)),
        (Some(code), None) => format!("{} {}", status.as_u16(), short(code)),
        _ => format!("STS answered {}", status.as_u16()),
    }
}

/// `2026-12-01T23:00:00Z` (fractions and offsets other than `Z` are not written by AWS).
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(str::parse::<i64>);
    let (y, m, d) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let time = time.split('.').next()?;
    let mut time = time.split(':').map(str::parse::<i64>);
    let (hh, mm, ss) = (time.next()?.ok()?, time.next()?.ok()?, time.next()?.ok()?);
    let seconds = days_from_civil(y, m, d) * DAY_S + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_reads_the_credentials_and_their_expiry() {
        let xml = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
                   <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>\
                   <SessionToken>tok</SessionToken><Expiration>2026-12-01T23:00:00Z</Expiration>\
                   </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
        let got = granted(xml).unwrap_or_else(|| panic!("granted"));
        assert_eq!((got.access_key_id.as_str(), got.secret(), got.session_token()), ("ASIAX", "s3cr3t", Some("tok")));
        assert_eq!(got.expires, Some(UNIX_EPOCH + Duration::from_secs(1_796_166_000)));
        assert!(granted("<Credentials><AccessKeyId>A</AccessKeyId></Credentials>").is_none());
        assert!(!format!("{got:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_refusal_quotes_code_and_message_only() {
        let xml = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                   <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>";
        assert_eq!(
            refusal(StatusCode::FORBIDDEN, xml),
            "403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
        );
        assert_eq!(refusal(StatusCode::BAD_GATEWAY, "<html/>"), "STS answered 502");
        assert_eq!(parse_time("1970-01-02T00:00:01Z"), Some(UNIX_EPOCH + Duration::from_secs(86_401)));
    }
}
