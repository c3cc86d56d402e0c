//! The benchmark's own load client: one client for every contender, each response checked.
//!
//! Subcommands (each prints one JSON object on stdout):
//! - `body` prints the ~1 KB request body (for wrk's script).
//! - `latency` closed loop over C keep-alive connections (T1 uses C = 1).
//! - `rate` open loop at a fixed rate; latency counts from the scheduled send time (T2).
//! - `streams` S concurrent SSE streams on S connections, per-chunk arrival times (T6).
//! - `startup` exec a command, time until `GET` on a URL answers 200, kill it; repeat (T7).
#![forbid(unsafe_code)]

mod client;
mod flags;
mod latency;
mod rate;
mod startup;
mod stats;
mod stream;
mod streams;

use std::process::ExitCode;

use mock_upstream::request_body;

use crate::flags::Flags;

const USAGE: &str = "Usage:
  stream-driver body [--model M] [--stream]
  stream-driver latency --url URL [--model M] [--connections C] [--requests N] [--duration-s S] [--warmup N] [--warmup-s S]
  stream-driver rate --url URL --rps R [--model M] [--duration-s S] [--connections K] [--timeout-s T] [--grace-s G]
  stream-driver streams --url URL [--streams S] [--chunks N] [--interval-ms P] [--ramp-ms R] [--timeout-s T]
  stream-driver startup --url URL [--runs N] [--timeout-s T] -- [NAME=value...] COMMAND [ARGS...]";

type Error = String;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(json) => {
            emit(&json);
            ExitCode::SUCCESS
        }
        Err(message) => {
            complain(&message);
            ExitCode::from(2)
        }
    }
}

#[expect(clippy::print_stdout, reason = "the driver prints its JSON result on stdout")]
fn emit(text: &str) {
    println!("{text}");
}

#[expect(clippy::print_stderr, reason = "a command-line tool reports on stderr")]
fn complain(text: &str) {
    eprintln!("stream-driver: {text}");
}

async fn run(args: Vec<String>) -> Result<String, Error> {
    let (command, rest) = args.split_first().ok_or_else(|| USAGE.to_owned())?;
    let flags = Flags::parse(rest)?;
    match command.as_str() {
        "body" => Ok(request_body(&flags.text("model", "gpt-4o-mini"), flags.get("stream", false)?)),
        "latency" => latency::latency(&flags).await,
        "rate" => rate::rate(&flags).await,
        "streams" => streams::streams(&flags).await,
        "startup" => startup::startup(&flags).await,
        _ => Err(USAGE.to_owned()),
    }
}
