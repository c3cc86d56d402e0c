//! `router_settings.redis_host`, `redis_port`, `redis_password` and `redis_url`: where the
//! shared state lives when several replicas serve one Deployment. Each is a literal or
//! `os.environ/NAME`, resolved at start-up; the gateway's `state` module connects to it.
//! `router_settings.responses_store_ttl` (seconds, model-router's own: LiteLLM has none) is
//! how long a bridged Responses API conversation stays stored there.

use serde::Serialize;
use serde_yaml::Mapping;

use crate::ConfigError;
use crate::parse::{Walker, join};
use crate::routes::Setting;

/// The Redis settings as written; all `None` without Redis (then `REDIS_*` may still name one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedisSpec {
    pub host: Option<Setting>,
    pub port: Option<Setting>,
    pub password: Option<Setting>,
    pub url: Option<Setting>,
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

/// Reads the Redis keys of `router` (at `path`).
pub(crate) fn parse(walker: &mut Walker<'_>, router: &Mapping, path: &str) -> Result<RedisSpec, ConfigError> {
    let spec = RedisSpec {
        host: walker.setting(router, "redis_host", path)?,
        port: walker.setting(router, "redis_port", path)?,
        password: walker.setting(router, "redis_password", path)?,
        url: walker.setting(router, "redis_url", path)?,
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
