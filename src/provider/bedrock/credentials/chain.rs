//! Which credentials a `bedrock/` deployment signs with, resolved once at start-up in the
//! order the AWS SDKs use when the deployment names none:
//!
//! 1. the deployment's `aws_access_key_id` + `aws_secret_access_key`, with its own
//!    `aws_session_token` only (never the environment's: AWS refuses a mixed set);
//! 2. the deployment's `aws_web_identity_token` + `aws_role_name` (STS web identity);
//! 3. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 4. `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (IRSA; `AWS_ROLE_SESSION_NAME`);
//! 5. `AWS_CONTAINER_CREDENTIALS_FULL_URI` / `…_RELATIVE_URI` (ECS, EKS Pod Identity).
//!
//! With `aws_role_name` (and no web identity token) the credentials found are used to
//! `AssumeRole` that role. STS is `aws_sts_endpoint`, else `AWS_ENDPOINT_URL_STS`, else the
//! region's. The EC2 metadata service is never asked.

use std::collections::HashMap;
use std::sync::Arc;

use super::cache::{Cached, Fetch};
use super::container::{Authorization, Container};
use super::sts::{Action, DEFAULT_SESSION_NAME, Sts, Token};
use super::{Credentials, Source};
use crate::provider::Unavailable;
use crate::settings::Settings;
use crate::table::{Deployment, Table};

/// Where ECS serves `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const ECS_HOST: &str = "http://169.254.170.2";
const WHAT_IS_READ: &str = "no AWS credentials: set aws_access_key_id and aws_secret_access_key (os.environ/…), \
                            AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, \
                            or AWS_CONTAINER_CREDENTIALS_FULL_URI";

/// Sources of temporary credentials by what they fetch, so deployments using the same
/// share one cache (and one fetch).
#[derive(Default)]
pub struct Shared(HashMap<String, Arc<Source>>);

impl Shared {
    pub fn share(&mut self, source: Source) -> Arc<Source> {
        match &source {
            Source::Static { .. } => Arc::new(source),
            Source::Fetched(_) => Arc::clone(self.0.entry(source.name()).or_insert_with(|| Arc::new(source))),
        }
    }
}

/// Resolves deployment `d`'s credentials; `region` is where STS is asked by default.
pub fn resolve(settings: &Settings, table: &Table, d: &Deployment, region: &str) -> Result<Source, Unavailable> {
    let setting = |s| settings.resolve(table, s).map_err(Unavailable::MissingSecret);
    let a = &d.aws;
    let own = match (a.access_key_id, a.secret_access_key) {
        (Some(key), Some(secret)) => {
            let token = a.session_token.map(setting).transpose()?;
            let credentials = Credentials::new(&setting(key)?, &setting(secret)?, token, None);
            Some(Source::Static { name: "aws_access_key_id/aws_secret_access_key", credentials })
        }
        _ => None,
    };
    let role = a.role_name.map(setting).transpose()?;
    let session_name = match a.session_name {
        Some(s) => setting(s)?,
        None => DEFAULT_SESSION_NAME.to_owned(),
    };
    let endpoint = match a.sts_endpoint {
        Some(s) => setting(s)?,
        None => {
            settings.var(table, "AWS_ENDPOINT_URL_STS").unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"))
        }
    };
    let sts = |role_arn: String, session_name: String, action| Sts {
        endpoint: endpoint.clone(),
        region: region.to_owned(),
        role_arn,
        session_name,
        action,
    };
    if let (Some(token), Some(role)) = (a.web_identity_token, role.clone()) {
        let action = Action::WebIdentity(Token::Value(setting(token)?));
        return Ok(Source::Fetched(Cached::new(Fetch::Sts(sts(role, session_name, action)))));
    }
    let base = match own {
        Some(own) => own,
        None => environment(settings, table, &sts)?,
    };
    match role {
        Some(role) => {
            let action = Action::AssumeRole(Box::new(base));
            Ok(Source::Fetched(Cached::new(Fetch::Sts(sts(role, session_name, action)))))
        }
        None => Ok(base),
    }
}

/// Steps 3 to 5: what the environment holds.
fn environment(
    settings: &Settings,
    table: &Table,
    sts: &impl Fn(String, String, Action) -> Sts,
) -> Result<Source, Unavailable> {
    let var = |name| settings.var(table, name);
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => {
            let credentials = Credentials::new(&key, &secret, var("AWS_SESSION_TOKEN"), None);
            return Ok(Source::Static { name: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", credentials });
        }
        (Some(_), None) => return Err(Unavailable::MissingSecret("AWS_SECRET_ACCESS_KEY")),
        (None, Some(_)) => return Err(Unavailable::MissingSecret("AWS_ACCESS_KEY_ID")),
        (None, None) => {}
    }
    if let (Some(role), Some(file)) = (var("AWS_ROLE_ARN"), var("AWS_WEB_IDENTITY_TOKEN_FILE")) {
        let session_name = var("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned());
        let action = Action::WebIdentity(Token::File(file));
        return Ok(Source::Fetched(Cached::new(Fetch::Sts(sts(role, session_name, action)))));
    }
    let uri = var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .or_else(|| var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").map(|path| format!("{ECS_HOST}{path}")));
    if let Some(uri) = uri {
        let authorization =
            match (var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), var("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
                (Some(file), _) => Authorization::File(file),
                (None, Some(token)) => Authorization::Value(token),
                (None, None) => Authorization::None,
            };
        return Ok(Source::Fetched(Cached::new(Fetch::Container(Container { uri, authorization }))));
    }
    Err(Unavailable::Misconfigured(WHAT_IS_READ.to_owned()))
}
