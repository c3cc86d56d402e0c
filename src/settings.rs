//! Run-time settings: listen address, limits, logging, and the environment that
//! `os.environ/` references and provider fallbacks (`OPENAI_API_KEY`, ...) are read from.
//! Read once at start-up; routing itself is compiled in (`table`).

use std::collections::HashMap;
use std::time::Duration;

use crate::table::{Setting, Table};

/// The port LiteLLM's proxy listens on.
pub const DEFAULT_PORT: u16 = 4000;
/// How long in-flight requests get to finish after SIGTERM.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(25);
/// Time allowed to receive a request's head.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Most request headers accepted.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Most bytes of request head buffered (hyper's read buffer).
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest non-streaming upstream body read into memory.
pub const DEFAULT_MAX_UPSTREAM_BYTES: usize = 64 * 1024 * 1024;
/// Most client connections open at once; more are answered 503 and closed.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
const BYTES_PER_MIB: u64 = 1024 * 1024;
/// Time allowed to open a TCP (and TLS) connection upstream.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// The async runtime's scheduler (`MODEL_ROUTER_RUNTIME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The current-thread scheduler when the process may use one CPU (its affinity or its
    /// cgroup's CPU quota: a pod limited to 1 CPU), else the multi-thread one: on one core the
    /// multi-thread scheduler's own work costs about 14% of the CPU per request under load.
    Auto,
    /// Tokio's work-stealing scheduler, one worker thread per CPU the process may use.
    MultiThread,
    /// Every task on the main thread: no wake-ups across threads, at most one core's work.
    CurrentThread,
}

impl Runtime {
    /// Whether the gateway runs on one thread, given how many CPUs the process may use.
    #[must_use]
    pub fn single_threaded(self, cpus: usize) -> bool {
        match self {
            Runtime::Auto => cpus <= 1,
            Runtime::MultiThread => false,
            Runtime::CurrentThread => true,
        }
    }
}

/// Everything the gateway reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub drain: Duration,
    pub header_timeout: Duration,
    pub max_headers: usize,
    pub max_head_bytes: usize,
    pub max_upstream_bytes: usize,
    pub connect_timeout: Duration,
    pub max_connections: usize,
    /// `MODEL_ROUTER_BODY_BUDGET_MB`: bytes of request bodies held at once; `None` sizes it
    /// to the memory limit (`budget::sized_to`).
    pub body_budget: Option<u64>,
    pub log_format: LogFormat,
    pub runtime: Runtime,
    /// `SSL_CERT_FILE`: extra PEM roots trusted upstream, beside the compiled-in ones.
    pub extra_roots: Option<String>,
    /// The process environment (or a test's stand-in), for secrets and provider fallbacks.
    pub vars: HashMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: "0.0.0.0".to_owned(),
            port: DEFAULT_PORT,
            drain: DEFAULT_DRAIN,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_headers: DEFAULT_MAX_HEADERS,
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_upstream_bytes: DEFAULT_MAX_UPSTREAM_BYTES,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_budget: None,
            log_format: LogFormat::Json,
            runtime: Runtime::Auto,
            extra_roots: None,
            vars: HashMap::new(),
        }
    }
}

impl Settings {
    /// Settings from environment variables (`HOST`, `PORT`, `MODEL_ROUTER_DRAIN_SECONDS`,
    /// `MODEL_ROUTER_MAX_CONNECTIONS`, `MODEL_ROUTER_BODY_BUDGET_MB`, `MODEL_ROUTER_RUNTIME`,
    /// `LOG_FORMAT`, `SSL_CERT_FILE`); the rest of `vars` is kept for secrets.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, String> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let mut settings = Settings::default();
        if let Some(host) = vars.get("HOST").filter(|h| !h.is_empty()) {
            host.clone_into(&mut settings.host);
        }
        if let Some(port) = vars.get("PORT") {
            settings.port = port.parse().map_err(|_| format!("PORT={port} is not a port number"))?;
        }
        if let Some(secs) = vars.get("MODEL_ROUTER_DRAIN_SECONDS") {
            let secs: u64 =
                secs.parse().map_err(|_| format!("MODEL_ROUTER_DRAIN_SECONDS={secs} is not whole seconds"))?;
            settings.drain = Duration::from_secs(secs);
        }
        if let Some(max) = vars.get("MODEL_ROUTER_MAX_CONNECTIONS") {
            settings.max_connections =
                max.parse().map_err(|_| format!("MODEL_ROUTER_MAX_CONNECTIONS={max} is not a whole number"))?;
        }
        if let Some(mb) = vars.get("MODEL_ROUTER_BODY_BUDGET_MB") {
            let mb: u64 = mb
                .parse()
                .ok()
                .filter(|mb| *mb > 0)
                .ok_or_else(|| format!("MODEL_ROUTER_BODY_BUDGET_MB={mb} is not a whole number of MiB above 0"))?;
            settings.body_budget = Some(mb.saturating_mul(BYTES_PER_MIB));
        }
        settings.log_format = match vars.get("LOG_FORMAT").map(String::as_str) {
            None | Some("" | "json") => LogFormat::Json,
            Some("text" | "pretty") => LogFormat::Text,
            Some(other) => return Err(format!("LOG_FORMAT={other}: use json or text")),
        };
        settings.runtime = match vars.get("MODEL_ROUTER_RUNTIME").map(String::as_str) {
            None | Some("" | "auto") => Runtime::Auto,
            Some("multi_thread") => Runtime::MultiThread,
            Some("current_thread") => Runtime::CurrentThread,
            Some(other) => {
                return Err(format!("MODEL_ROUTER_RUNTIME={other}: use auto, multi_thread or current_thread"));
            }
        };
        settings.extra_roots = vars.get("SSL_CERT_FILE").filter(|p| !p.is_empty()).cloned();
        settings.vars = vars;
        Ok(settings)
    }

    /// A variable from the environment, else from the routes' `environment_variables`.
    pub fn var(&self, table: &Table, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .or_else(|| table.environment.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    /// A config value: the literal, or the variable it names. `Err` names the missing variable.
    pub fn resolve(&self, table: &Table, setting: Setting) -> Result<String, &'static str> {
        match setting {
            Setting::Literal(value) => Ok(value.to_owned()),
            Setting::Env(name) => self.var(table, name).ok_or(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_vars(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn the_body_budget_is_whole_mib_or_left_to_the_memory_limit() {
        assert_eq!(from(&[]).map(|s| s.body_budget), Ok(None));
        assert_eq!(from(&[("MODEL_ROUTER_BODY_BUDGET_MB", "40")]).map(|s| s.body_budget), Ok(Some(40 * BYTES_PER_MIB)));
        for bad in ["0", "-1", "1.5", "lots"] {
            assert!(from(&[("MODEL_ROUTER_BODY_BUDGET_MB", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_runtime_is_one_thread_on_one_cpu_unless_told() {
        assert_eq!(from(&[]).map(|s| s.runtime), Ok(Runtime::Auto));
        assert_eq!(from(&[("MODEL_ROUTER_RUNTIME", "auto")]).map(|s| s.runtime), Ok(Runtime::Auto));
        assert_eq!(from(&[("MODEL_ROUTER_RUNTIME", "multi_thread")]).map(|s| s.runtime), Ok(Runtime::MultiThread));
        assert_eq!(from(&[("MODEL_ROUTER_RUNTIME", "current_thread")]).map(|s| s.runtime), Ok(Runtime::CurrentThread));
        for bad in ["current-thread", "1", "fast"] {
            assert!(from(&[("MODEL_ROUTER_RUNTIME", bad)]).is_err(), "{bad}");
        }
        assert!(Runtime::Auto.single_threaded(1) && !Runtime::Auto.single_threaded(2));
        assert!(Runtime::CurrentThread.single_threaded(8) && !Runtime::MultiThread.single_threaded(1));
    }
}
