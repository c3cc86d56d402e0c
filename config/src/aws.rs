//! A `bedrock/` deployment's AWS settings (`aws_*`) and its model forms: `bedrock/<model
//! id>`, `bedrock/converse/<model id>` and inference-profile or provisioned-model ARNs are
//! served through Converse; `bedrock/invoke/…` and other route prefixes fail the build,
//! saying what is served. Secrets must be `os.environ/NAME`: a literal one would be compiled
//! into the binary. `codegen` writes the result into the table's `Aws`.

use serde::Serialize;
use serde_yaml::Mapping;

use crate::ConfigError;
use crate::parse::{Walker, join};
use crate::routes::Setting;

/// Settings that are secrets: a literal fails the build.
const SECRETS: &[&str] = &["aws_secret_access_key", "aws_session_token", "aws_web_identity_token"];
/// What the build error for an unserved form says is served.
const SERVED: &str = "bedrock/<model id> (such as bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0 or \
                      bedrock/us.amazon.nova-pro-v1:0), bedrock/converse/<model id>, or bedrock/<inference-profile or \
                      provisioned-model ARN>, all through the Converse API";

/// `aws_*` of one deployment, each a literal or an `os.environ/` reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AwsSpec {
    pub region_name: Option<Setting>,
    pub access_key_id: Option<Setting>,
    pub secret_access_key: Option<Setting>,
    pub session_token: Option<Setting>,
    pub runtime_endpoint: Option<Setting>,
    pub role_name: Option<Setting>,
    pub session_name: Option<Setting>,
    pub web_identity_token: Option<Setting>,
    pub sts_endpoint: Option<Setting>,
}

impl AwsSpec {
    pub fn is_empty(&self) -> bool {
        *self == AwsSpec::default()
    }
}

/// Reads the `aws_*` keys; a secret written as a literal fails the build.
pub(crate) fn parse(walker: &Walker<'_>, params: &Mapping, path: &str) -> Result<AwsSpec, ConfigError> {
    for key in SECRETS {
        if let Some(Setting::Literal(_)) = walker.setting(params, key, path)? {
            return Err(walker.error(
                &join(path, key),
                "a secret written here would be compiled into the binary; write `os.environ/NAME` and set NAME at run time",
            ));
        }
    }
    let get = |key: &str| walker.setting(params, key, path);
    let spec = AwsSpec {
        region_name: get("aws_region_name")?,
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?,
        session_token: get("aws_session_token")?,
        runtime_endpoint: get("aws_bedrock_runtime_endpoint")?,
        role_name: get("aws_role_name")?,
        session_name: get("aws_session_name")?,
        web_identity_token: get("aws_web_identity_token")?,
        sts_endpoint: get("aws_sts_endpoint")?,
    };
    if spec.access_key_id.is_some() != spec.secret_access_key.is_some() {
        return Err(walker.error(
            path,
            "aws_access_key_id and aws_secret_access_key go together: set both, or neither to use the AWS credential chain",
        ));
    }
    if spec.web_identity_token.is_some() && spec.role_name.is_none() {
        return Err(
            walker.error(&join(path, "aws_web_identity_token"), "needs aws_role_name, the ARN of the role to assume")
        );
    }
    Ok(spec)
}

/// The model id a `bedrock/` model names: `converse/<id>` loses its route, an ARN and a
/// plain id stay; any other route (`invoke/`, `llama/`, ...) is refused with what is served.
pub(crate) fn model_id(walker: &Walker<'_>, rest: &str, path: &str) -> Result<String, ConfigError> {
    let id = rest.strip_prefix("converse/").unwrap_or(rest);
    if id.starts_with("arn:") || !id.contains('/') {
        if id.is_empty() {
            return Err(walker.error(path, format!("names no model id; write {SERVED}")));
        }
        return Ok(id.to_owned());
    }
    let route = id.split('/').next().unwrap_or_default();
    Err(walker.error(path, format!("bedrock/{route}/ is not served by model-router; it serves {SERVED}")))
}
