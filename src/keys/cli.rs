//! `model-router keys new --alias NAME` (a new random key, shown once, and the `keys:`
//! entry that holds only its hash) and `model-router keys hash` (a key on stdin → the hash
//! for `key_sha256`). Keys are 32 bytes from the operating system's CSPRNG (ring's
//! `SystemRandom`), written `sk-` + URL-safe base64.

use std::io::{Read, Write};
use std::process::ExitCode;

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// Random bytes in a new key.
const KEY_BYTES: usize = 32;
/// Longest key `keys hash` reads.
const MAX_KEY_BYTES: u64 = 4096;

pub const USAGE: &str = "usage: model-router keys new --alias NAME   (prints a new key once, and its keys: entry)
       model-router keys hash                (reads a key on stdin, prints its SHA-256 for key_sha256)";

/// Runs `keys <args>`; what it prints goes to `out`, mistakes to `err`.
pub fn run(args: &[String], input: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["new", "--alias", alias] if !alias.is_empty() => new(alias, out, err),
        ["new", flag] if flag.starts_with("--alias=") && flag.len() > "--alias=".len() => {
            new(&flag["--alias=".len()..], out, err)
        }
        ["hash"] => hash(input, out, err),
        _ => {
            let _ = writeln!(err, "{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The SHA-256 of `key`, lower-case hex, as `key_sha256` takes it.
pub fn sha256_hex(key: &str) -> String {
    crate::table::hex(&Sha256::digest(key.as_bytes()))
}

fn new(alias: &str, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let mut bytes = [0u8; KEY_BYTES];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        let _ = writeln!(err, "model-router: the system's random source failed; no key was made");
        return ExitCode::FAILURE;
    }
    let key = format!("sk-{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = sha256_hex(&key);
    let _ = writeln!(
        out,
        "# The key, shown once: hand it over now, it is not stored anywhere.\n{key}\n\n# Its entry for keys: in routes.yaml (add team_id, models, limits as needed):\n- key_alias: {alias}\n  key_sha256: [{hash}]"
    );
    ExitCode::SUCCESS
}

fn hash(input: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let mut text = String::new();
    if input.take(MAX_KEY_BYTES).read_to_string(&mut text).is_err() {
        let _ = writeln!(err, "model-router: stdin is not text");
        return ExitCode::from(2);
    }
    let key = text.trim();
    if key.is_empty() {
        let _ = writeln!(err, "model-router: no key on stdin");
        return ExitCode::from(2);
    }
    let _ = writeln!(out, "{}", sha256_hex(key));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(args: &[&str], stdin: &str) -> (ExitCode, String) {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut out = Vec::new();
        let code = run(&args, &mut stdin.as_bytes(), &mut out, &mut Vec::new());
        (code, String::from_utf8(out).unwrap_or_default())
    }

    #[test]
    fn hash_reads_a_key_on_stdin() {
        let (code, out) = run_with(&["hash"], "test\n");
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(out.trim(), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        assert_eq!(run_with(&["hash"], "\n").0, ExitCode::from(2));
    }

    #[test]
    fn new_keys_are_random_and_their_entry_holds_the_hash() {
        let (code, first) = run_with(&["new", "--alias", "search-agent"], "");
        assert_eq!(code, ExitCode::SUCCESS);
        let key = first.lines().find(|l| l.starts_with("sk-")).unwrap_or_default().to_owned();
        assert_eq!(key.len(), 3 + 43);
        assert!(first.contains("- key_alias: search-agent"));
        assert!(first.contains(&format!("key_sha256: [{}]", sha256_hex(&key))));
        let (_, second) = run_with(&["new", "--alias=search-agent"], "");
        assert!(!second.contains(&key), "a new key each time");
        assert_eq!(run_with(&["new"], "").0, ExitCode::from(2));
    }
}
