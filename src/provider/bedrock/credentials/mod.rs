//! AWS credentials for `bedrock/` deployments, resolved at start-up as the AWS SDKs resolve
//! them ([`chain`]): the deployment's own key and secret (with its own session token only),
//! else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else web identity
//! (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, through STS), else the container
//! endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`). Temporary ones are fetched and cached by
//! [`cache`]. `sign` signs each call with what [`Source::get`] hands out.

pub mod cache;
pub mod chain;
pub mod container;
pub mod sts;

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::error::Error;
use crate::upstream::Client;

/// A set of AWS credentials. Its `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    secret: Arc<str>,
    session_token: Option<Arc<str>>,
    /// When temporary credentials stop working.
    pub expires: Option<SystemTime>,
}

impl Credentials {
    pub fn new(access_key_id: &str, secret: &str, session_token: Option<String>, expires: Option<SystemTime>) -> Self {
        Credentials {
            access_key_id: access_key_id.to_owned(),
            secret: Arc::from(secret),
            session_token: session_token.filter(|t| !t.is_empty()).map(Arc::from),
            expires,
        }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Where a deployment's credentials come from; `name` says which, for errors and logs.
#[derive(Debug)]
pub enum Source {
    /// Keys given once (the deployment's or the environment's).
    Static { name: &'static str, credentials: Credentials },
    /// Temporary credentials fetched and cached.
    Fetched(cache::Cached),
}

impl Source {
    /// What the credentials are called in messages (never their value).
    pub fn name(&self) -> String {
        match self {
            Source::Static { name, .. } => (*name).to_owned(),
            Source::Fetched(cached) => cached.name(),
        }
    }

    /// Credentials to sign a call with before `deadline`.
    pub async fn get(
        &self,
        client: &Client,
        deadline: Instant,
        deployment: &'static str,
    ) -> Result<Credentials, Error> {
        match self {
            Source::Static { credentials, .. } => Ok(credentials.clone()),
            Source::Fetched(cached) => cached.get(client, deadline, deployment).await,
        }
    }
}
