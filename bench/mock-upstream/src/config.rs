//! The mock's settings: flags, `MOCK_*` environment variables and their defaults.

use std::net::SocketAddr;
use std::time::Duration;

use mock_upstream::faults::Mix;

use crate::Shape;
use crate::inject::Faults;

fn usage() -> &'static str {
    "Usage: mock-upstream [--listen ADDR] [--chunks N] [--interval-ms P] [--delay-ms D] [--threads T]\n\
     \x20                    [--faults 500=R,429=R,reset=R,stall=R,json=R] [--fault-seed S] [--stall-ms MS]\n\
     \x20                    [--retry-after-s S]\n\
     Environment: MOCK_LISTEN, MOCK_CHUNKS, MOCK_INTERVAL_MS, MOCK_DELAY_MS, MOCK_THREADS, MOCK_FAULTS,\n\
     MOCK_FAULT_SEED, MOCK_STALL_MS, MOCK_RETRY_AFTER_S.\n\
     Per request: headers x-mock-chunks, x-mock-interval-ms, x-mock-delay-ms, x-mock-fault, or model\n\
     `mock-c64-i50-d0` (`-f500`, `-f429`, `-freset`, `-fstall`, `-fjson` for a fault).\n\
     GET /mock/stats: requests seen and faults injected."
}

/// The settings of one run.
pub struct Config {
    pub listen: SocketAddr,
    pub shape: Shape,
    pub threads: usize,
    pub faults: Faults,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn parse<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("invalid value for {what}: {value:?}"))
}

/// The settings from the flags, over the environment, over the defaults; the usage as the error
/// for `--help`.
pub fn config() -> Result<Config, String> {
    let mut listen = env_or("MOCK_LISTEN", "127.0.0.1:18080");
    let mut chunks = env_or("MOCK_CHUNKS", "16");
    let mut interval = env_or("MOCK_INTERVAL_MS", "0");
    let mut delay = env_or("MOCK_DELAY_MS", "0");
    let mut threads = env_or("MOCK_THREADS", "1");
    let mut faults = env_or("MOCK_FAULTS", "");
    let mut seed = env_or("MOCK_FAULT_SEED", "1");
    let mut stall = env_or("MOCK_STALL_MS", "10000");
    let mut retry_after = env_or("MOCK_RETRY_AFTER_S", "1");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--listen" => &mut listen,
            "--chunks" => &mut chunks,
            "--interval-ms" => &mut interval,
            "--delay-ms" => &mut delay,
            "--threads" => &mut threads,
            "--faults" => &mut faults,
            "--fault-seed" => &mut seed,
            "--stall-ms" => &mut stall,
            "--retry-after-s" => &mut retry_after,
            "-h" | "--help" => return Err(usage().to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        };
        *slot = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
    }
    Ok(Config {
        listen: parse("--listen", &listen)?,
        shape: Shape {
            chunks: parse("--chunks", &chunks)?,
            interval: Duration::from_millis(parse("--interval-ms", &interval)?),
            delay: Duration::from_millis(parse("--delay-ms", &delay)?),
        },
        threads: parse::<usize>("--threads", &threads)?.max(1),
        faults: Faults::new(
            Mix::parse(&faults)?,
            parse("--fault-seed", &seed)?,
            Duration::from_millis(parse("--stall-ms", &stall)?),
            parse("--retry-after-s", &retry_after)?,
        ),
    })
}
