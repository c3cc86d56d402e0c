//! `router_settings.redis_host`, `redis_port`, `redis_password` and `redis_url`: where the
//! shared state lives when several replicas serve one Deployment. Each is a literal or
//! `os.environ/NAME`, resolved at start-up; the gateway's `state` module connects to it.
//! A Redis Cluster is named as LiteLLM's router takes one: `router_settings.cache_kwargs.
//! startup_nodes`, a list of `{host, port}` (or `os.environ/NAME` holding that list as JSON,
//! like LiteLLM's `REDIS_CLUSTER_NODES`), kept as JSON text for `state::config`.
//! `router_settings.responses_store_ttl` (seconds, model-router's own: LiteLLM has none) is
//! how long a bridged Responses API conversation stays stored there.

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::ConfigError;
use crate::keys::Section;
use crate::parse::{Walker, join};
use crate::routes::Setting;

/// The Redis settings as written; all `None` without Redis (then `REDIS_*` may still name one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedisSpec {
    pub host: Option<Setting>,
    pub port: Option<Setting>,
    pub password: Option<Setting>,
    pub url: Option<Setting>,
    /// `cache_kwargs.startup_nodes`: a Redis Cluster's nodes, as JSON text
    /// (`[{"host":"h","port":7000}]`) or the variable holding it. Left out of the hash when
    /// absent, so configs without it keep theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_nodes: Option<Setting>,
    /// `responses_store_ttl` in seconds; `None` is the gateway's default. Left out of the
    /// hash when absent, so configs without it keep theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_ttl_s: Option<u64>,
}

impl RedisSpec {
    pub fn is_empty(&self) -> bool {
        *self == RedisSpec::default()
    }
}

/// URL schemes the gateway connects with.
const SCHEMES: [&str; 2] = ["redis://", "rediss://"];

/// The longest `responses_store_ttl`: 30 days.
const MAX_STORE_TTL_S: u64 = 30 * 24 * 3600;

/// `router_settings.cache_kwargs`: LiteLLM passes it to its Redis client whole; the one key
/// model-router reads is the cluster's nodes.
const CACHE_KWARGS: Section = Section { used: &["startup_nodes"], ignored: &[] };

/// Most startup nodes a config may name (a cluster tells the client the rest).
const MAX_NODES: usize = 64;

/// Reads the Redis keys of `router` (at `path`).
pub(crate) fn parse(walker: &mut Walker<'_>, router: &Mapping, path: &str) -> Result<RedisSpec, ConfigError> {
    let spec = RedisSpec {
        host: walker.setting(router, "redis_host", path)?,
        port: walker.setting(router, "redis_port", path)?,
        password: walker.setting(router, "redis_password", path)?,
        url: walker.setting(router, "redis_url", path)?,
        startup_nodes: startup_nodes(walker, router, path)?,
        store_ttl_s: walker.whole(router, "responses_store_ttl", path)?,
    };
    if spec.store_ttl_s.is_some_and(|ttl| ttl == 0 || ttl > MAX_STORE_TTL_S) {
        return Err(walker.error(
            &join(path, "responses_store_ttl"),
            format!("expected seconds from 1 to {MAX_STORE_TTL_S} (30 days)"),
        ));
    }
    if let Some(Setting::Literal(port)) = &spec.port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(walker.error(&join(path, "redis_port"), format!("\"{port}\" is not a port number")));
        }
    }
    if let Some(Setting::Literal(url)) = &spec.url {
        if !SCHEMES.iter().any(|s| url.starts_with(s)) {
            return Err(walker.error(&join(path, "redis_url"), "expected redis://host:port or rediss://host:port"));
        }
        if url_has_password(url) {
            walker.warn_literal(&join(path, "redis_url"), spec.url.as_ref());
        }
    }
    walker.warn_literal(&join(path, "redis_password"), spec.password.as_ref());
    Ok(spec)
}

/// `cache_kwargs.startup_nodes` of `router`: a YAML list, a JSON list in a string, or
/// `os.environ/NAME` (checked when the gateway starts).
fn startup_nodes(walker: &mut Walker<'_>, router: &Mapping, path: &str) -> Result<Option<Setting>, ConfigError> {
    let Some(kwargs) = router.get("cache_kwargs") else { return Ok(None) };
    let kwargs_path = join(path, "cache_kwargs");
    let kwargs = walker.section(kwargs, &kwargs_path, &CACHE_KWARGS, &[])?;
    let at = join(&kwargs_path, "startup_nodes");
    let list = match kwargs.get("startup_nodes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => match Setting::from_config(s) {
            env @ Setting::Env(_) => return Ok(Some(env)),
            Setting::Literal(json) => serde_json::from_str::<serde_json::Value>(&json)
                .map_err(|e| walker.error(&at, format!("not a JSON list of {{host, port}}: {e}")))?,
        },
        Some(yaml) => serde_json::to_value(yaml).map_err(|e| walker.error(&at, e.to_string()))?,
    };
    let nodes = nodes(&list).map_err(|why| walker.error(&at, why))?;
    Ok(Some(Setting::Literal(serde_json::Value::Array(nodes).to_string())))
}

/// The nodes of `list`, each `{"host": "h", "port": 7000}` (port a number or a string,
/// 6379 when absent, as LiteLLM's `ClusterNode`).
fn nodes(list: &serde_json::Value) -> Result<Vec<serde_json::Value>, String> {
    let items = list.as_array().filter(|a| !a.is_empty()).ok_or("expected a list of {host, port}, at least one")?;
    if items.len() > MAX_NODES {
        return Err(format!("at most {MAX_NODES} startup nodes"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let map = item.as_object().ok_or(format!("[{i}]: expected {{host, port}}"))?;
        if let Some(other) = map.keys().find(|k| !matches!(k.as_str(), "host" | "port")) {
            return Err(format!("[{i}]: unknown key \"{other}\"; a node has host and port"));
        }
        let host = map.get("host").and_then(serde_json::Value::as_str).filter(|h| !h.is_empty());
        let host = host.ok_or(format!("[{i}]: needs host"))?;
        let port = match map.get("port") {
            None => Some(6379),
            Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(serde_json::Value::String(s)) => s.trim().parse::<u16>().ok(),
            Some(_) => None,
        };
        let port = port.filter(|p| *p != 0).ok_or(format!("[{i}].port: not a port number"))?;
        out.push(serde_json::json!({ "host": host, "port": port }));
    }
    Ok(out)
}

/// Whether `redis://user:pass@host` carries a password in its user part.
fn url_has_password(url: &str) -> bool {
    let rest = SCHEMES.iter().find_map(|s| url.strip_prefix(s)).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    authority.rsplit_once('@').is_some_and(|(user, _)| user.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_found() {
        assert!(url_has_password("redis://:secret@host:6379"));
        assert!(url_has_password("rediss://default:secret@host/0"));
        assert!(!url_has_password("redis://host:6379"));
        assert!(!url_has_password("redis://user@host:6379"));
    }
}
