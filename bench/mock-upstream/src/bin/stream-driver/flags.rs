//! The command line: `--name value` flags, the command after `--`, and the target URL.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::{Error, USAGE};

/// Flags as `--name value` pairs (a flag followed by another flag, or last, is a switch);
/// anything after `--` is the command of `startup`.
pub struct Flags {
    values: HashMap<String, String>,
    pub command: Vec<String>,
}

impl Flags {
    pub fn parse(args: &[String]) -> Result<Self, Error> {
        let mut values = HashMap::new();
        let mut command = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                command = args[i + 1..].to_vec();
                break;
            }
            let name = arg.strip_prefix("--").ok_or_else(|| format!("unexpected argument {arg:?}\n{USAGE}"))?;
            match args.get(i + 1) {
                Some(value) if !value.starts_with("--") => {
                    values.insert(name.to_owned(), value.clone());
                    i += 2;
                }
                _ => {
                    values.insert(name.to_owned(), "true".to_owned());
                    i += 1;
                }
            }
        }
        Ok(Self { values, command })
    }

    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Error> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("invalid --{name}: {v:?}")),
        }
    }

    pub fn text(&self, name: &str, default: &str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| default.to_owned())
    }
}

/// Where a request goes: the socket address, the Host header and the path.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub authority: String,
    pub path: String,
}

pub fn target(url: &str) -> Result<Target, Error> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let addr = authority.parse().map_err(|_| format!("the URL needs an IP:port authority: {url}"))?;
    Ok(Target { addr, authority: authority.to_owned(), path: path.to_owned() })
}
