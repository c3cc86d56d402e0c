//! Where the shared state lives: `router_settings.redis_url` or `redis_host`/`redis_port`/
//! `redis_password` (each a literal or `os.environ/NAME`), else LiteLLM's `REDIS_URL`,
//! `REDIS_HOST`, `REDIS_PORT` and `REDIS_PASSWORD`; none of them means in-process state only.
//! `MODEL_ROUTER_REDIS_PREFIX` (default `model-router:`) starts every key. `rediss://` is TLS
//! (rustls) against the compiled-in web PKI roots, or `SSL_CERT_FILE`'s when that is set.

use std::sync::Arc;

use redis::{Client, IntoConnectionInfo, RedisError};

use crate::settings::Settings;
use crate::table::{Setting, Table};

/// The key prefix when `MODEL_ROUTER_REDIS_PREFIX` is unset.
pub const DEFAULT_PREFIX: &str = "model-router:";
/// Redis's port.
const DEFAULT_PORT: u16 = 6379;

/// A resolved Redis to connect to.
#[derive(Clone)]
pub struct Config {
    pub info: redis::ConnectionInfo,
    pub prefix: String,
    /// `host:port`, for logs and errors; never the password.
    pub shown: String,
    /// `SSL_CERT_FILE`: with `rediss://`, the roots Redis's certificate is checked against
    /// instead of the compiled-in ones (redis-rs takes one root store, not two).
    pub roots: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("shown", &self.shown).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// The Redis the config or environment names, if any.
pub fn resolve(table: &Table, settings: &Settings) -> Result<Option<Config>, String> {
    let r = &table.redis;
    let value = |setting: Option<Setting>, key: &str, fallback: &str| -> Result<Option<String>, String> {
        match setting {
            Some(s) => settings.resolve(table, s).map(Some).map_err(|name| {
                format!("router_settings.{key} reads {name}, which is not set; set it or remove {key}")
            }),
            None => Ok(settings.var(table, fallback)),
        }
    };
    let url = value(r.url, "redis_url", "REDIS_URL")?;
    let host = value(r.host, "redis_host", "REDIS_HOST")?;
    let password = value(r.password, "redis_password", "REDIS_PASSWORD")?.filter(|p| !p.is_empty());
    let port = match value(r.port, "redis_port", "REDIS_PORT")? {
        None => DEFAULT_PORT,
        Some(p) => p.trim().parse().map_err(|_| format!("the Redis port \"{p}\" is not a port number"))?,
    };
    let (url, shown) = match (url, host) {
        (Some(url), _) => {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            let authority = rest.split('/').next().unwrap_or_default();
            let shown = authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_owned();
            (url, shown)
        }
        (None, Some(host)) => {
            let shown = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            (format!("redis://{shown}"), shown)
        }
        (None, None) => return Ok(None),
    };
    let mut info =
        url.as_str().into_connection_info().map_err(|e| format!("the Redis URL for {shown} is not valid: {e}"))?;
    if let Some(password) = password.filter(|_| info.redis_settings().password().is_none()) {
        info = info.clone().set_redis_settings(info.redis_settings().clone().set_password(password));
    }
    let prefix =
        settings.vars.get("MODEL_ROUTER_REDIS_PREFIX").filter(|p| !p.is_empty()).map_or(DEFAULT_PREFIX, String::as_str);
    if prefix.contains(['{', '}']) {
        return Err(format!("MODEL_ROUTER_REDIS_PREFIX={prefix}: braces would break the keys' Cluster hash tags"));
    }
    Ok(Some(Config { info, prefix: prefix.to_owned(), shown, roots: settings.extra_roots.clone() }))
}

/// Whether `e` is a failed TLS handshake (an untrusted certificate, or no TLS on the other
/// side): a configuration error too.
pub(super) fn is_tls(e: &RedisError) -> bool {
    type Cause = Arc<dyn std::error::Error + Send + Sync>;
    let rustls = |error: &(dyn std::error::Error + 'static)| {
        // redis-rs keeps causes in an `Arc`, and an `io::Error` keeps rustls's inside it.
        let error: &(dyn std::error::Error + 'static) = match error.downcast_ref::<Cause>() {
            Some(shared) => shared.as_ref(),
            None => error,
        };
        let inner = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        error.is::<rustls::Error>() || inner.is_some_and(<dyn std::error::Error + Send + Sync>::is::<rustls::Error>)
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = cause {
        if rustls(error) {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The client for `config`: TLS roots from `SSL_CERT_FILE` when it is set and the URL is
/// `rediss://`.
pub(super) fn client(config: &Config) -> Result<Client, String> {
    let failed = |e: RedisError| format!("Redis at {}: {e}", config.shown);
    match (&config.roots, config.info.addr()) {
        (Some(path), redis::ConnectionAddr::TcpTls { .. }) => {
            let pem = std::fs::read(path).map_err(|e| format!("SSL_CERT_FILE={path} cannot be read for Redis: {e}"))?;
            let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
            Client::build_with_tls(config.info.clone(), certificates).map_err(failed)
        }
        _ => Client::open(config.info.clone()).map_err(failed),
    }
}
