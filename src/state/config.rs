//! Where the shared state lives: `router_settings.redis_url` or `redis_host`/`redis_port`/
//! `redis_password` (each a literal or `os.environ/NAME`), else LiteLLM's `REDIS_URL`,
//! `REDIS_HOST`, `REDIS_PORT` and `REDIS_PASSWORD`; none of them means in-process state only.
//! `MODEL_ROUTER_REDIS_PREFIX` (default `model-router:`) starts every key. `rediss://` is TLS
//! (rustls) against the compiled-in web PKI roots, plus `SSL_CERT_FILE`'s when that is set.
//! A Redis Cluster, as LiteLLM's router finds one: `router_settings.cache_kwargs.
//! startup_nodes`, else `REDIS_CLUSTER_NODES` (a JSON list of `{"host", "port"}`, port 6379
//! when absent); it wins over `redis_host`/`redis_url` as in LiteLLM, takes the password from
//! `redis_password`/`REDIS_PASSWORD` and TLS from `REDIS_SSL=true`. The connection is made in
//! `state::cluster`.

use std::sync::Arc;

use redis::{Client, IntoConnectionInfo, RedisError};

use super::cluster;
use crate::settings::Settings;
use crate::table::{Setting, Table};

/// The key prefix when `MODEL_ROUTER_REDIS_PREFIX` is unset.
pub const DEFAULT_PREFIX: &str = "model-router:";
/// Redis's port.
const DEFAULT_PORT: u16 = 6379;
/// Most startup nodes `REDIS_CLUSTER_NODES` may name (the cluster tells the client the rest).
const MAX_NODES: usize = 64;

/// A resolved Redis to connect to.
#[derive(Clone)]
pub struct Config {
    /// The node; with a cluster, its first startup node.
    pub info: redis::ConnectionInfo,
    /// A Redis Cluster's startup nodes (with the password and TLS of `info`); empty for one node.
    pub nodes: Vec<redis::ConnectionInfo>,
    pub prefix: String,
    /// `host:port`, for logs and errors; never the password.
    pub shown: String,
    /// `SSL_CERT_FILE`: with `rediss://`, roots Redis's certificate is also checked against,
    /// beside the compiled-in ones.
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
    let value = |setting: Option<Setting>, key: &str, fallback: &str| read(table, settings, setting, key, fallback);
    let (info, nodes, shown) = match value(r.startup_nodes, "cache_kwargs.startup_nodes", "REDIS_CLUSTER_NODES")? {
        Some(json) => {
            let password = value(r.password, "redis_password", "REDIS_PASSWORD")?.filter(|p| !p.is_empty());
            let tls = settings.var(table, "REDIS_SSL").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            cluster_nodes(&json, tls, password.as_deref())?
        }
        None => match one_node(table, settings)? {
            Some((info, shown)) => (info, Vec::new(), shown),
            None => return Ok(None),
        },
    };
    let prefix =
        settings.vars.get("MODEL_ROUTER_REDIS_PREFIX").filter(|p| !p.is_empty()).map_or(DEFAULT_PREFIX, String::as_str);
    if prefix.contains(['{', '}']) {
        return Err(format!("MODEL_ROUTER_REDIS_PREFIX={prefix}: braces would break the keys' Cluster hash tags"));
    }
    Ok(Some(Config { info, nodes, prefix: prefix.to_owned(), shown, roots: settings.extra_roots.clone() }))
}

/// `router_settings.<key>` as `setting` says (literal, or the variable it names), else the
/// variable `fallback`.
fn read(
    table: &Table,
    settings: &Settings,
    setting: Option<Setting>,
    key: &str,
    fallback: &str,
) -> Result<Option<String>, String> {
    match setting {
        Some(s) => settings
            .resolve(table, s)
            .map(Some)
            .map_err(|name| format!("router_settings.{key} reads {name}, which is not set; set it or remove {key}")),
        None => Ok(settings.var(table, fallback)),
    }
}

/// One node: `redis_url`, else `redis_host`/`redis_port` (then `REDIS_*`); `None` without them.
fn one_node(table: &Table, settings: &Settings) -> Result<Option<(redis::ConnectionInfo, String)>, String> {
    let r = &table.redis;
    let value = |setting: Option<Setting>, key: &str, fallback: &str| read(table, settings, setting, key, fallback);
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
    Ok(Some((info, shown)))
}

/// A cluster's startup nodes from `json` (`[{"host": "h", "port": 7000}]`, the port a number
/// or a string, 6379 when absent, as LiteLLM's `ClusterNode`): the first, all of them, and
/// how they are shown.
fn cluster_nodes(
    json: &str,
    tls: bool,
    password: Option<&str>,
) -> Result<(redis::ConnectionInfo, Vec<redis::ConnectionInfo>, String), String> {
    let bad = |why: String| {
        format!("the Redis Cluster's startup nodes (cache_kwargs.startup_nodes or REDIS_CLUSTER_NODES): {why}")
    };
    let list: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    let items =
        list.as_array().filter(|a| !a.is_empty()).ok_or_else(|| bad("expected a list of {host, port}".into()))?;
    if items.len() > MAX_NODES {
        return Err(bad(format!("at most {MAX_NODES} nodes")));
    }
    let scheme = if tls { "rediss" } else { "redis" };
    let mut nodes = Vec::with_capacity(items.len());
    let mut shown = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let host = item.get("host").and_then(serde_json::Value::as_str).filter(|h| !h.is_empty());
        let host = host.ok_or_else(|| bad(format!("[{i}] needs a host")))?;
        let port = match item.get("port") {
            None => Some(DEFAULT_PORT),
            Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        let port = port.filter(|p| *p != 0).ok_or_else(|| bad(format!("[{i}].port is not a port number")))?;
        let node = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let mut info =
            format!("{scheme}://{node}").as_str().into_connection_info().map_err(|e| bad(format!("[{i}]: {e}")))?;
        if let Some(password) = password {
            info = info.clone().set_redis_settings(info.redis_settings().clone().set_password(password));
        }
        nodes.push(info);
        shown.push(node);
    }
    Ok((nodes[0].clone(), nodes, format!("cluster {}", shown.join(","))))
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

/// The client for `config` (one node, or the cluster of its startup nodes): with TLS and
/// `SSL_CERT_FILE` set, TLS roots are the compiled-in ones plus the file's.
pub(super) fn client(config: &Config) -> Result<cluster::Client, String> {
    let failed = |e: RedisError| format!("Redis at {}: {e}", config.shown);
    let certificates = match (&config.roots, config.info.addr()) {
        (Some(path), redis::ConnectionAddr::TcpTls { .. }) => {
            let extra =
                std::fs::read(path).map_err(|e| format!("SSL_CERT_FILE={path} cannot be read for Redis: {e}"))?;
            Some(redis::TlsCertificates { client_tls: None, root_cert: Some(roots_with(&extra)) })
        }
        _ => None,
    };
    if !config.nodes.is_empty() {
        return cluster::Client::cluster(config.nodes.clone(), certificates).map_err(failed);
    }
    match certificates {
        Some(certificates) => Client::build_with_tls(config.info.clone(), certificates).map_err(failed),
        None => Client::open(config.info.clone()).map_err(failed),
    }
    .map(cluster::Client::Node)
}

/// The compiled-in web PKI roots as PEM, followed by `extra` (PEM). redis-rs takes one PEM
/// bundle that replaces its compiled-in roots, so the bundle carries both; the roots come
/// as whole certificates (`webpki-root-certs`, the same Mozilla set as `webpki-roots`) because
/// a PEM bundle needs certificates, not the trust anchors `webpki-roots` keeps.
fn roots_with(extra: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    /// PEM's line length.
    const PEM_LINE: usize = 64;
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048 + extra.len());
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(PEM_LINE) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem.extend_from_slice(extra);
    pem
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;

    use super::{cluster_nodes, roots_with};

    #[test]
    fn the_bundle_holds_the_compiled_in_roots_and_the_files() {
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["redis.test".to_owned()]).unwrap().self_signed(&key).unwrap();
        let bundle = roots_with(ca.pem().as_bytes());
        let certs: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(&bundle).map(Result::unwrap).collect();
        let compiled = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        assert_eq!(certs.len(), compiled.len() + 1);
        assert_eq!(&certs[..compiled.len()], compiled);
        assert_eq!(certs[compiled.len()].as_ref(), ca.der().as_ref());
    }

    #[test]
    fn cluster_nodes_read_as_litellms_redis_cluster_nodes() {
        let json = r#"[{"host": "10.0.0.1", "port": "7001"}, {"host": "node-b", "port": 7002}, {"host": "::1"}]"#;
        let (first, nodes, shown) = cluster_nodes(json, false, Some("s3cret")).unwrap();
        assert_eq!(shown, "cluster 10.0.0.1:7001,node-b:7002,[::1]:6379");
        assert_eq!(nodes.len(), 3);
        assert_eq!(first.addr().to_string(), "10.0.0.1:7001");
        assert!(nodes.iter().all(|n| n.redis_settings().password() == Some("s3cret")));
        assert!(matches!(first.addr(), redis::ConnectionAddr::Tcp(..)));
        let (tls, _, _) = cluster_nodes(r#"[{"host": "h", "port": 6380}]"#, true, None).unwrap();
        assert!(matches!(tls.addr(), redis::ConnectionAddr::TcpTls { .. }), "REDIS_SSL=true");
        assert_eq!(tls.redis_settings().password(), None);
        let many = format!("[{}]", vec![r#"{"host": "h"}"#; super::MAX_NODES + 1].join(","));
        for bad in [
            "",
            "[]",
            "{}",
            r#"[{"port": 1}]"#,
            r#"[{"host": "h", "port": 0}]"#,
            r#"[{"host": "h", "port": "x"}]"#,
            &many,
        ] {
            let error = cluster_nodes(bad, false, Some("s3cret")).unwrap_err();
            assert!(error.contains("REDIS_CLUSTER_NODES") && !error.contains("s3cret"), "{bad}: {error}");
        }
    }
}
