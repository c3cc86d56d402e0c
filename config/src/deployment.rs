//! One `model_list` entry: provider detection, parameters, model info, and the
//! `/model/info` body with every credential left out.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};

use crate::keys::{self, DEFAULT_PARAMS};
use crate::parse::{Walker, join};
use crate::routes::{DeploymentSpec, Setting, VertexSpec};
use crate::{ConfigError, vendors};

/// `litellm_params` never shown by `/model/info`.
const CREDENTIAL_PARAMS: &[&str] =
    &["api_key", "aws_access_key_id", "aws_secret_access_key", "extra_headers", "vertex_credentials"];

pub(crate) fn parse(walker: &mut Walker<'_>, item: &Value, path: &str) -> Result<DeploymentSpec, ConfigError> {
    let entry = walker.section(item, path, &keys::DEPLOYMENT, &[])?;
    let model_name = walker
        .string(entry, "model_name", path)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| walker.error(&join(path, "model_name"), "required: the name clients ask for"))?;
    let params_path = join(path, "litellm_params");
    let params_value = entry
        .get("litellm_params")
        .ok_or_else(|| walker.error(&params_path, "required: at least `model: provider/name`"))?;
    let params = walker.section(params_value, &params_path, &keys::LITELLM_PARAMS, DEFAULT_PARAMS)?;
    let model = walker
        .string(params, "model", &params_path)?
        .ok_or_else(|| walker.error(&join(&params_path, "model"), "required, such as openai/gpt-4o-mini"))?;
    let forced = walker.string(params, "custom_llm_provider", &params_path)?;
    let (provider, upstream_model) = split_provider(walker, &model, forced.as_deref(), &join(&params_path, "model"))?;
    let info_path = join(path, "model_info");
    let empty = Mapping::new();
    let info = match entry.get("model_info") {
        Some(v) => walker.mapping(v, &info_path)?,
        None => &empty,
    };
    let api_key = walker.setting(params, "api_key", &params_path)?;
    if provider != "fake" {
        walker.warn_literal(&join(&params_path, "api_key"), api_key.as_ref());
    }
    let weight = weight(walker, params, &params_path)?;
    let responses_api = match supported_endpoints(walker, info, &info_path)? {
        Some(endpoints) => endpoints.iter().any(|e| e == "responses"),
        None => vendors::RESPONSES_API.contains(&provider.as_str()),
    };
    let id = match walker.string(info, "id", &info_path)? {
        Some(id) => id,
        None => default_id(&model_name, params),
    };
    Ok(DeploymentSpec {
        info_json: info_json(walker, &model_name, &id, params, info, path)?,
        id,
        model_name,
        model,
        provider,
        upstream_model,
        api_base: walker.setting(params, "api_base", &params_path)?,
        api_key,
        api_version: walker.setting(params, "api_version", &params_path)?,
        organization: walker.setting(params, "organization", &params_path)?,
        timeout_ms: walker.seconds_ms(params, "timeout", &params_path)?,
        stream_timeout_ms: walker.seconds_ms(params, "stream_timeout", &params_path)?,
        max_retries: walker.whole(params, "max_retries", &params_path)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        weight,
        rpm: walker.whole(params, "rpm", &params_path)?,
        tpm: walker.whole(params, "tpm", &params_path)?,
        order: walker.whole(params, "order", &params_path)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        max_parallel: walker
            .whole(params, "max_parallel_requests", &params_path)?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        extra_headers: headers(walker, params, &params_path)?,
        vertex: vertex(walker, params, &params_path)?,
        default_params: default_params(walker, params, &params_path)?,
        mock_response: walker.string(params, "mock_response", &params_path)?,
        mock_latency_ms: walker.whole(params, "mock_latency_ms", &params_path)?.unwrap_or(0),
        mock_chunk_interval_ms: walker.whole(params, "mock_chunk_interval_ms", &params_path)?.unwrap_or(0),
        mode: walker.string(info, "mode", &info_path)?,
        max_input_tokens: walker.whole(info, "max_input_tokens", &info_path)?,
        max_output_tokens: max_output_tokens(walker, info, &info_path)?,
        input_cost_per_token: walker.number(info, "input_cost_per_token", &info_path)?,
        output_cost_per_token: walker.number(info, "output_cost_per_token", &info_path)?,
        responses_api,
    })
}

/// The endpoints `model_info.supported_endpoints` lists (LiteLLM's key), each without its
/// `/v1/` (`responses`, `chat/completions`); `None` when absent. A name LiteLLM does not
/// know fails the build.
fn supported_endpoints(
    walker: &Walker<'_>,
    info: &Mapping,
    info_path: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    const KNOWN: &[&str] = &[
        "audio/speech",
        "audio/transcriptions",
        "batch",
        "chat/completions",
        "completions",
        "embeddings",
        "images/edits",
        "images/generations",
        "messages",
        "moderations",
        "rerank",
        "responses",
    ];
    let path = join(info_path, "supported_endpoints");
    let Some(value) = info.get("supported_endpoints") else { return Ok(None) };
    let Some(list) = value.as_sequence() else {
        return Err(
            walker.error(&path, "expected a list of endpoints, such as [\"/v1/chat/completions\", \"/v1/responses\"]")
        );
    };
    let mut endpoints = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let text = item.as_str().ok_or_else(|| walker.error(&at, "expected a string such as \"/v1/responses\""))?;
        let name = text.strip_prefix("/v1/").or_else(|| text.strip_prefix('/')).unwrap_or(text);
        if !KNOWN.contains(&name) {
            let known = KNOWN.iter().map(|k| format!("/v1/{k}")).collect::<Vec<_>>().join(", ");
            return Err(walker.error(&at, format!("unknown endpoint \"{text}\"; known: {known}")));
        }
        endpoints.push(name.to_owned());
    }
    Ok(Some(endpoints))
}

/// `weight`, which must be more than 0 when given.
fn weight(walker: &Walker<'_>, params: &Mapping, params_path: &str) -> Result<Option<f64>, ConfigError> {
    let weight = walker.number(params, "weight", params_path)?;
    if weight == Some(0.0) {
        return Err(
            walker.error(&join(params_path, "weight"), "must be more than 0; remove the deployment to stop using it")
        );
    }
    Ok(weight)
}

/// `model_info.max_output_tokens`, else LiteLLM's older `max_tokens`.
fn max_output_tokens(walker: &Walker<'_>, info: &Mapping, info_path: &str) -> Result<Option<u64>, ConfigError> {
    match walker.whole(info, "max_output_tokens", info_path)? {
        Some(n) => Ok(Some(n)),
        None => walker.whole(info, "max_tokens", info_path),
    }
}

/// `openai/gpt-4o` → (`openai`, `gpt-4o`); a known OpenAI family needs no prefix.
fn split_provider(
    walker: &Walker<'_>,
    model: &str,
    forced: Option<&str>,
    path: &str,
) -> Result<(String, String), ConfigError> {
    if let Some(forced) = forced {
        if vendors::find(forced).is_none() {
            return Err(prefix_error(walker, forced, model, path));
        }
        let rest = model.strip_prefix(forced).and_then(|r| r.strip_prefix('/')).unwrap_or(model);
        return Ok((forced.to_owned(), rest.to_owned()));
    }
    match model.split_once('/') {
        Some((prefix, rest)) if vendors::find(prefix).is_some() => Ok((prefix.to_owned(), rest.to_owned())),
        Some((prefix, _)) => Err(prefix_error(walker, prefix, model, path)),
        None if vendors::implied_openai(model) => Ok(("openai".to_owned(), model.to_owned())),
        None => Err(walker.error(
            path,
            format!("\"{model}\" names no provider; write it as provider/model, such as \"openai/{model}\""),
        )),
    }
}

/// Why `prefix`, which no vendor row names, cannot be used, with the likely fix.
fn prefix_error(walker: &Walker<'_>, prefix: &str, model: &str, path: &str) -> ConfigError {
    if let Some((_, why)) = vendors::UNSUPPORTED.iter().find(|(p, _)| *p == prefix) {
        return walker.error(path, format!("provider \"{prefix}\" is not supported: {why}"));
    }
    let known = vendors::VENDORS.iter().map(|v| v.prefix);
    let fix = match keys::closest(prefix, known) {
        Some(p) => format!("; did you mean \"{p}\"?"),
        None => format!("; prefix the model with its provider, such as \"hosted_vllm/{model}\""),
    };
    walker.error(path, format!("unknown provider \"{prefix}\"{fix}"))
}

/// `vertex_project`, `vertex_location` and `vertex_credentials`. A credential written into
/// the config (a YAML map or a JSON string) fails the build: it would be compiled into the
/// binary. `os.environ/NAME` (the JSON or a path to it) or a file path is read at start-up.
fn vertex(walker: &Walker<'_>, params: &Mapping, path: &str) -> Result<VertexSpec, ConfigError> {
    const FIX: &str = "a service-account credential written here would be compiled into the binary; write \
                       `vertex_credentials: os.environ/NAME` with NAME holding the JSON or the path to its file";
    let credentials_path = join(path, "vertex_credentials");
    let credentials = match params.get("vertex_credentials") {
        Some(Value::Mapping(_)) => return Err(walker.error(&credentials_path, FIX)),
        _ => walker.setting(params, "vertex_credentials", path)?,
    };
    if let Some(Setting::Literal(text)) = &credentials {
        if text.trim_start().starts_with('{') {
            return Err(walker.error(&credentials_path, FIX));
        }
    }
    Ok(VertexSpec {
        project: walker.setting(params, "vertex_project", path)?,
        location: walker.setting(params, "vertex_location", path)?,
        credentials,
    })
}

fn headers(walker: &Walker<'_>, params: &Mapping, path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let path = join(path, "extra_headers");
    let Some(value) = params.get("extra_headers") else { return Ok(BTreeMap::new()) };
    let map = walker.mapping(value, &path)?;
    let mut headers = BTreeMap::new();
    for name in map.keys() {
        let name = name.as_str().ok_or_else(|| walker.error(&path, "header names must be strings"))?;
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !valid_name {
            return Err(walker.error(&path, format!("\"{name}\" is not a valid header name")));
        }
        let value = walker.string(map, name, &path)?.unwrap_or_default();
        if value.bytes().any(|b| b < b' ' && b != b'\t') {
            return Err(walker.error(&join(&path, name), "header values cannot hold control characters"));
        }
        headers.insert(name.to_ascii_lowercase(), value);
    }
    Ok(headers)
}

fn default_params(walker: &Walker<'_>, params: &Mapping, path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut defaults = BTreeMap::new();
    for key in DEFAULT_PARAMS {
        if let Some(value) = params.get(*key) {
            let json = serde_json::to_string(value).map_err(|e| walker.error(&join(path, key), e.to_string()))?;
            defaults.insert((*key).to_owned(), json);
        }
    }
    Ok(defaults)
}

/// LiteLLM's default deployment id: sha256 over the model name and each param as
/// `key` + `value`, in config order.
fn default_id(model_name: &str, params: &Mapping) -> String {
    let mut hasher = Sha256::new();
    hasher.update(model_name.as_bytes());
    for (k, v) in params {
        hasher.update(k.as_str().unwrap_or_default().as_bytes());
        hasher.update(python_str(v).as_bytes());
    }
    crate::routes::hex(&hasher.finalize())
}

/// A scalar as Python's `str()` writes it (`True`, `0.5`, `text`).
fn python_str(value: &Value) -> String {
    match value {
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `{"model_name", "litellm_params" (no credentials), "model_info"}` as compact JSON.
fn info_json(
    walker: &Walker<'_>,
    name: &str,
    id: &str,
    params: &Mapping,
    info: &Mapping,
    path: &str,
) -> Result<String, ConfigError> {
    let mut shown = params.clone();
    for key in CREDENTIAL_PARAMS {
        shown.remove(*key);
    }
    let mut info = info.clone();
    info.insert("id".into(), id.into());
    info.insert("db_model".into(), false.into());
    let params_json = serde_json::to_value(&shown).map_err(|e| walker.error(path, e.to_string()))?;
    let info_json = serde_json::to_value(&info).map_err(|e| walker.error(path, e.to_string()))?;
    let body = serde_json::json!({ "model_name": name, "litellm_params": params_json, "model_info": info_json });
    Ok(body.to_string())
}
