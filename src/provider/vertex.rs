//! Vertex AI Gemini (`vertex_ai/`) behind the OpenAI chat API. At start-up [`endpoint`]
//! resolves the project, location, URL base and service account (`google_auth`); each call
//! then gets the account's access token (`google_auth::token`, cached) and goes through the
//! `gemini` translation, POSTed to
//! `{host}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
//! (or `:streamGenerateContent?alt=sse`) with `Authorization: Bearer`. Replies go on to
//! `respond` as Gemini's do.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::google_auth::token::TokenSource;
use super::google_auth::{self, ServiceAccount};
use super::translate::Provider;
use super::url::{self, Refused, Room, Url};
use super::{Attempt, Endpoint, Reply, Unavailable, gemini};
use crate::error::Error;
use crate::parse::CallRequest;
use crate::provider::Context;
use crate::settings::Settings;
use crate::table::{Deployment, Setting, Table};

pub const EXCEPTION: &str = "VertexAIException";
/// LiteLLM's location when neither the deployment nor `VERTEXAI_LOCATION` names one.
pub const DEFAULT_LOCATION: &str = "us-central1";
/// The host of location `global`; the others are `{location}-aiplatform.googleapis.com`.
const GLOBAL_HOST: &str = "https://aiplatform.googleapis.com";
const GLOBAL: &str = "global";
/// Variables LiteLLM reads when the deployment leaves a setting out.
const PROJECT_ENV: &str = "VERTEXAI_PROJECT";
const LOCATION_ENV: &str = "VERTEXAI_LOCATION";
const CREDENTIALS_ENV: &str = "VERTEXAI_CREDENTIALS";
/// Application Default Credentials: the path of a service-account key file.
const ADC_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The API version in the path (an `api_base` may end with it).
const API_VERSION: &str = "/v1";

/// The OpenAI parameters Vertex AI takes: Gemini's, under LiteLLM's name for the provider.
pub const PROVIDER: Provider = Provider { name: "vertex_ai", supported: gemini::PROVIDER.supported };

/// Service accounts by identity, so deployments sharing one share its token.
#[derive(Default)]
pub struct Accounts(HashMap<(String, Option<String>, String), Arc<TokenSource>>);

impl Accounts {
    fn share(&mut self, account: ServiceAccount) -> Arc<TokenSource> {
        let id = (account.client_email.clone(), account.private_key_id.clone(), account.token_uri.clone());
        Arc::clone(self.0.entry(id).or_insert_with(|| Arc::new(TokenSource::new(account))))
    }
}

/// Resolves a `vertex_ai/` deployment: its service account (loaded and checked now), project
/// (else `VERTEXAI_PROJECT`, else the key's `project_id`), location (else
/// `VERTEXAI_LOCATION`, else `us-central1`) and URL base (`api_base` replacing the host).
pub fn endpoint(
    settings: &Settings,
    table: &Table,
    d: &Deployment,
    accounts: &mut Accounts,
) -> Result<Endpoint, Unavailable> {
    let resolve = |s| settings.resolve(table, s).map_err(Unavailable::MissingSecret);
    let (value, source) = credential(settings, table, d)?;
    let account = google_auth::load(&value, &source).map_err(Unavailable::Misconfigured)?;
    let project = match d.vertex.project {
        Some(s) => resolve(s)?,
        None => settings.var(table, PROJECT_ENV).or_else(|| account.project_id.clone()).ok_or_else(|| {
            Unavailable::Misconfigured(format!(
                "needs vertex_project ({PROJECT_ENV}, or a project_id in the service-account key)"
            ))
        })?,
    };
    let location = match d.vertex.location {
        Some(s) => resolve(s)?,
        None => settings.var(table, LOCATION_ENV).unwrap_or_else(|| DEFAULT_LOCATION.to_owned()),
    };
    check_segment("vertex_project", &project)?;
    check_segment("vertex_location", &location)?;
    let host = match d.api_base {
        Some(s) => api_host(&resolve(s)?)?,
        None => default_host(&location),
    };
    let base = base(&host, &project, &location)
        .map_err(|why| Unavailable::Misconfigured(format!("the Vertex AI URL cannot be built: a segment {}", why.0)))?;
    Ok(Endpoint {
        base,
        key: None,
        api_version: None,
        organization: None,
        google: Some(accounts.share(account)),
        aws: None,
    })
}

/// The credential's text or path and where it came from: `vertex_credentials`, else
/// `VERTEXAI_CREDENTIALS`, else `GOOGLE_APPLICATION_CREDENTIALS`.
fn credential(settings: &Settings, table: &Table, d: &Deployment) -> Result<(String, String), Unavailable> {
    match d.vertex.credentials {
        Some(Setting::Env(name)) => {
            let value = settings.var(table, name).ok_or(Unavailable::MissingSecret(name))?;
            Ok((value, name.to_owned()))
        }
        Some(Setting::Literal(path)) => Ok((path.to_owned(), "vertex_credentials".to_owned())),
        None => [CREDENTIALS_ENV, ADC_ENV]
            .into_iter()
            .find_map(|name| settings.var(table, name).map(|value| (value, name.to_owned())))
            .ok_or(Unavailable::MissingSecret(ADC_ENV)),
    }
}

/// A project or location is one segment of the URL path and of the host name: plain
/// letters, digits and `-_.:` (a domain-scoped project is `example.com:my-proj`).
fn check_segment(name: &str, value: &str) -> Result<(), Unavailable> {
    let plain = !value.is_empty()
        && !value.contains("..")
        && value != "."
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if plain {
        Ok(())
    } else {
        Err(Unavailable::Misconfigured(format!("{name} \"{value}\" is not a Google Cloud {name}")))
    }
}

/// `https://{location}-aiplatform.googleapis.com`, or the global host.
fn default_host(location: &str) -> String {
    if location == GLOBAL { GLOBAL_HOST.to_owned() } else { format!("https://{location}-aiplatform.googleapis.com") }
}

/// An `api_base` as the scheme and host the Vertex path goes under: `http(s)://host[:port]`,
/// optionally ending in `/v1`. A longer path (a full model URL) is refused.
fn api_host(api_base: &str) -> Result<String, Unavailable> {
    let trimmed = api_base.trim_end_matches('/');
    let host = trimmed.strip_suffix(API_VERSION).unwrap_or(trimmed);
    let after_scheme = host.strip_prefix("https://").or_else(|| host.strip_prefix("http://"));
    match after_scheme {
        Some(authority) if !authority.is_empty() && !authority.contains(['/', '?', '#']) => Ok(host.to_owned()),
        _ => Err(Unavailable::Misconfigured(format!(
            "api_base \"{}\" for vertex_ai/ must be http(s)://host, optionally with /v1; the Vertex path is added to it",
            url::shown(api_base)
        ))),
    }
}

/// `{host}/v1/projects/{project}/locations/{location}/publishers/google`: the base that
/// `gemini::url` appends `/models/{model}:generateContent` to.
fn base(host: &str, project: &str, location: &str) -> Result<String, Refused> {
    let url = Url::new(host).path(API_VERSION).path("/projects/").segment(project, Room::Name)?;
    let url = url.path("/locations/").segment(location, Room::Name)?.path("/publishers/google");
    Ok(url.into_string())
}

/// Translates the chat call, gets an access token, sends the call and returns the reply
/// (translated when 2xx).
pub async fn forward(
    cx: &Context,
    attempt: &Attempt<'_>,
    chat: Cow<'_, CallRequest>,
    client_headers: &HeaderMap,
) -> Result<Reply, Error> {
    let deployment = attempt.deployment.model_name;
    let prepared = gemini::prepare(cx, attempt, chat, &PROVIDER)?;
    let source = attempt.endpoint.google.as_ref().ok_or_else(|| Error::Misconfigured {
        deployment,
        reason: "no service account was loaded for this vertex_ai/ deployment".into(),
    })?;
    let token = source.token(&cx.client, attempt.deadline, deployment).await?;
    let auth = [(AUTHORIZATION, token.authorization())];
    // An attempt fetches at most one token; a second `set` cannot happen.
    let _ = attempt.token.set(token.clone());
    gemini::exchange(cx, attempt, client_headers, prepared, &auth, EXCEPTION).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_and_global_hosts() {
        assert_eq!(default_host("us-central1"), "https://us-central1-aiplatform.googleapis.com");
        assert_eq!(default_host("global"), "https://aiplatform.googleapis.com");
    }

    #[test]
    fn the_url_names_project_location_and_model() {
        let base = base(&default_host("europe-west4"), "my-proj", "europe-west4").unwrap_or_default();
        let url = |stream| gemini::url(&base, "gemini-2.0-flash", stream).map(Url::into_string);
        assert_eq!(
            url(false).as_deref(),
            Ok(
                "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent"
            )
        );
        assert_eq!(
            url(true).as_deref(),
            Ok(
                "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
            )
        );
        assert!(gemini::url(&base, "gemini-2.0-flash:countTokens?", false).is_err());
    }

    #[test]
    fn api_base_replaces_the_host_only() {
        assert_eq!(api_host("http://127.0.0.1:9000").ok(), Some("http://127.0.0.1:9000".to_owned()));
        assert_eq!(api_host("https://proxy.internal/v1/").ok(), Some("https://proxy.internal".to_owned()));
        assert!(api_host("https://proxy.internal/v1/projects/p/locations/l/publishers/google/models/m").is_err());
        assert!(api_host("proxy.internal").is_err());
    }

    #[test]
    fn projects_and_locations_are_single_segments() {
        assert!(check_segment("vertex_project", "example.com:my-proj").is_ok());
        assert!(check_segment("vertex_location", "us-central1").is_ok());
        assert!(check_segment("vertex_location", "us-central1/../x").is_err());
        assert!(check_segment("vertex_location", "..").is_err());
        assert!(check_segment("vertex_project", "").is_err());
    }
}
