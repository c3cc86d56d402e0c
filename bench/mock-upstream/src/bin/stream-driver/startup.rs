//! `startup` (T7): exec a command, time until `GET` on a URL answers 200, kill its process
//! group; repeat.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use mock_upstream::percentile;

use crate::flags::{Flags, Target, target};
use crate::stats::nanos;
use crate::{Error, USAGE};

/// The command to time: leading NAME=value words set the environment, as with env(1),
/// without another exec.
struct Launch<'a> {
    vars: Vec<(&'a str, &'a str)>,
    program: &'a str,
    args: &'a [String],
}

impl<'a> Launch<'a> {
    fn parse(command: &'a [String]) -> Result<Self, Error> {
        let assignments = command.iter().take_while(|word| word.split_once('=').is_some_and(|(k, _)| !k.is_empty()));
        let vars: Vec<(&str, &str)> = assignments.filter_map(|word| word.split_once('=')).collect();
        let (program, args) =
            command[vars.len()..].split_first().ok_or_else(|| format!("startup needs `-- COMMAND`\n{USAGE}"))?;
        Ok(Self { vars, program, args })
    }

    fn spawn(&self) -> Result<Child, Error> {
        Command::new(self.program)
            .args(self.args)
            .envs(self.vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program))
    }
}

/// Exec to first 200, `runs` times.
pub async fn startup(flags: &Flags) -> Result<String, Error> {
    let target = target(&flags.text("url", ""))?;
    let runs: u32 = flags.get("runs", 20)?;
    let limit = Duration::from_secs_f64(flags.get("timeout-s", 60.0)?);
    let launch = Launch::parse(&flags.command)?;
    if probe(&target).await {
        return Err(format!("{} already answers before the start", target.authority));
    }
    let mut times = Vec::new();
    let mut failures = 0u32;
    for _ in 0..runs {
        match one_run(&target, &launch, limit).await? {
            Some(took) => times.push(took),
            None => failures += 1,
        }
        wait_until_gone(&target).await;
    }
    times.sort_unstable();
    #[expect(clippy::cast_precision_loss, reason = "counts and durations far below 2^52")]
    let ms = |p: f64| percentile(&times, p) as f64 / 1e6;
    Ok(format!(
        "{{\"runs\":{runs},\"ok\":{},\"failures\":{failures},\"median_ms\":{:.3},\"min_ms\":{:.3},\
         \"max_ms\":{:.3}}}",
        times.len(),
        ms(0.5),
        ms(0.0),
        ms(1.0)
    ))
}

/// Starts the command and probes until it answers, exits or `limit` passes, then kills it.
/// The time to the first 200 in nanoseconds, or `None` if it never answered.
async fn one_run(target: &Target, launch: &Launch<'_>, limit: Duration) -> Result<Option<u64>, Error> {
    let start = Instant::now();
    let mut child = launch.spawn()?;
    let mut ready = false;
    while start.elapsed() < limit {
        if probe(target).await {
            ready = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let took = start.elapsed();
    kill_group(&mut child).await;
    Ok(ready.then(|| nanos(took)))
}

/// Lets the port go before the next run (waits up to 5 s for it to stop answering).
async fn wait_until_gone(target: &Target) {
    let wait = Instant::now();
    while probe(target).await && wait.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One `GET` on a fresh connection; true on a 200.
async fn probe(target: &Target) -> bool {
    let Ok(mut tcp) = TcpStream::connect(target.addr).await else {
        return false;
    };
    let request = format!("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", target.path, target.authority);
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match tcp.read(&mut head[got..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200")
}

/// Kills the child's whole process group (the child leads it), then reaps the child.
///
/// With the `kill` system call, not the `kill` program: procps-ng 4.0.2's `kill -KILL -12345`
/// parses `-12345` as `-1` and signals every process on the machine.
async fn kill_group(child: &mut Child) {
    let leader =
        child.id().and_then(|id| i32::try_from(id).ok()).filter(|&id| id > 1).and_then(rustix::process::Pid::from_raw);
    if let Some(pgid) = leader {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    let _ = child.kill().await;
    let _ = child.wait().await;
}
