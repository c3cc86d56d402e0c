//! The `model-router` binary: reads settings from the environment, serves the compiled
//! routes on `HOST:PORT` until SIGTERM or SIGINT, then drains.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use model_router::gateway::Gateway;
use model_router::settings::{LogFormat, Settings};
use model_router::{server, table, version_line};
use tracing_subscriber::EnvFilter;

/// The static musl build that ships allocates through mimalloc: musl's own malloc made it about
/// 20% slower per request than the glibc build (issue 18). glibc builds keep glibc's malloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: model-router [--version]
       model-router keys new --alias NAME | keys hash

Serves the routes compiled into this binary (see --version) on HOST:PORT
(default 0.0.0.0:4000). Environment: HOST, PORT, RUST_LOG (default info),
LOG_FORMAT (json|text), MODEL_ROUTER_DRAIN_SECONDS (default 25),
MODEL_ROUTER_BODY_BUDGET_MB (default: the memory limit less 64 MiB), SSL_CERT_FILE,
MODEL_ROUTER_RUNTIME (auto: one thread on one CPU; multi_thread; current_thread),
REDIS_URL or REDIS_HOST/REDIS_PORT/REDIS_PASSWORD (limits and cooldowns shared by
every replica; MODEL_ROUTER_REDIS_PREFIX, default model-router:),
MODEL_ROUTER_REVOKED_KEYS (virtual keys refused: aliases or hashes), and the variables
the routes name (os.environ/NAME, OPENAI_API_KEY, ...).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout = std::io::stdout();
    match args.first().map(String::as_str) {
        None => {}
        Some("--version" | "-V") => return reply(&mut stdout, &version_line(), ExitCode::SUCCESS),
        Some("--help" | "-h") => return reply(&mut stdout, USAGE, ExitCode::SUCCESS),
        Some("keys") => {
            return model_router::keys::cli::run(
                &args[1..],
                &mut std::io::stdin(),
                &mut stdout,
                &mut std::io::stderr(),
            );
        }
        Some(other) => {
            return reply(&mut std::io::stderr(), &format!("unknown argument {other}\n{USAGE}"), ExitCode::from(2));
        }
    }
    let vars = std::env::vars_os().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()));
    let settings = match Settings::from_vars(vars) {
        Ok(settings) => settings,
        Err(e) => return reply(&mut std::io::stderr(), &format!("model-router: {e}"), ExitCode::from(2)),
    };
    init_logging(settings.log_format);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if settings.runtime.single_threaded(cpus) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(settings))
}

fn reply(out: &mut dyn std::io::Write, text: &str, code: ExitCode) -> ExitCode {
    let _ = writeln!(out, "{text}");
    code
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(settings: Settings) -> ExitCode {
    let gateway = match Gateway::start(table::COMPILED, settings).await {
        Ok(gateway) => gateway,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    for warning in gateway.warnings() {
        tracing::warn!(warning = %warning, "start-up check");
    }
    let listener = match server::bind(&gateway).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(error = %e, host = %gateway.settings.host, port = gateway.settings.port, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let body_budget_mib = gateway.provider.budget.total() >> 20;
    tracing::info!(%addr, version = %version_line(), body_budget_mib, "listening");
    server::serve(listener, Arc::new(gateway), shutdown_signal()).await;
    ExitCode::SUCCESS
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
