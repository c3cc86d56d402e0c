//! Label values taken from clients, made safe to publish: the `hashed_api_key` of an open
//! gateway (a short name such as `myns/myagent` as sent, anything that may be a secret as its
//! SHA-256), and every other client string cut to a bounded length. `Metrics::record` stores
//! only what these return; `render` escapes it.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::NONE;
use crate::table::hex;

/// Longest label value taken from a client, counted as rendered (`\`, `"` and a newline
/// take two bytes once escaped). A longer value keeps its start and gets a hash suffix.
pub const MAX_LABEL_BYTES: usize = 128;
/// Longest key shown as sent: a Kubernetes namespace and name (63 bytes each) and a `/`.
pub const MAX_KEY_NAME_BYTES: usize = 127;
/// A run of letters and digits at least this long that holds a digit looks random: a secret.
const SECRET_RUN_WITH_DIGIT: usize = 20;
/// A run of letters (and digits) at least this long looks random whatever it holds.
const SECRET_RUN: usize = 32;
/// How a vendor's key or token starts (compared without case): OpenAI and Anthropic `sk-`,
/// Stripe, Mailgun, Google `AIza`, JWTs `eyJ`, GitHub, GitLab, Slack, Groq, xAI, Hugging
/// Face, Perplexity, Replicate, NVIDIA.
const SECRET_PREFIXES: [&str; 22] = [
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "key-",
    "aiza",
    "eyj",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "gsk_",
    "xai-",
    "hf_",
    "pplx-",
    "r8_",
    "nvapi-",
];
/// Separator and hex digits of the hash that ends a shortened value.
const SUFFIX_SEPARATOR: char = '~';
const SUFFIX_HEX_BYTES: usize = 8;

/// The `hashed_api_key` of a caller when no master key is set: the key as sent when it is
/// a name (see [`is_name`]), else its SHA-256 in hex, as LiteLLM labels hashed keys.
pub fn key_label(key: Option<&str>) -> String {
    match key {
        None => NONE.to_owned(),
        Some(key) if is_name(key) => key.to_owned(),
        Some(key) => hex(&Sha256::digest(key.as_bytes())),
    }
}

/// Whether `key` is a name safe to publish rather than possibly a secret: 1 to
/// [`MAX_KEY_NAME_BYTES`] bytes of `A-Z a-z 0-9 . _ / : -`, no part (between `/`, `:` or
/// `.`) starting like a known vendor key, and no long random-looking run of letters and
/// digits. `myns/myagent` and `testbench` are names; `sk-proj-…`, `sk-1234`, a JWT or a
/// 32-digit hex key are not.
pub fn is_name(key: &str) -> bool {
    let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b':' | b'-');
    !key.is_empty()
        && key.len() <= MAX_KEY_NAME_BYTES
        && key.bytes().all(safe)
        && !key.split(['/', ':', '.']).any(|part| SECRET_PREFIXES.iter().any(|p| starts_with_ignore_case(part, p)))
        && !key.split(|c: char| !c.is_ascii_alphanumeric()).any(looks_random)
}

fn starts_with_ignore_case(part: &str, prefix: &str) -> bool {
    part.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

fn looks_random(run: &str) -> bool {
    run.len() >= SECRET_RUN || (run.len() >= SECRET_RUN_WITH_DIGIT && run.bytes().any(|b| b.is_ascii_digit()))
}

/// `value` if it renders to at most [`MAX_LABEL_BYTES`] (borrowed: most are), else as much
/// of its start as fits with `~` and 16 hex digits of its SHA-256, so distinct long values
/// stay distinct.
pub fn bounded(value: &str) -> Cow<'_, str> {
    let width = |c: char| if matches!(c, '\\' | '"' | '\n') { 2 } else { c.len_utf8() };
    if value.chars().map(width).sum::<usize>() <= MAX_LABEL_BYTES {
        return Cow::Borrowed(value);
    }
    let room = MAX_LABEL_BYTES - SUFFIX_SEPARATOR.len_utf8() - 2 * SUFFIX_HEX_BYTES;
    let (mut used, mut end) = (0, 0);
    for (at, c) in value.char_indices() {
        used += width(c);
        if used > room {
            break;
        }
        end = at + c.len_utf8();
    }
    let digest = Sha256::digest(value.as_bytes());
    Cow::Owned(format!("{}{SUFFIX_SEPARATOR}{}", &value[..end], hex(&digest[..SUFFIX_HEX_BYTES])))
}

#[cfg(test)]
mod tests {
    use super::super::render::escape;
    use super::*;

    /// A namespace and an agent name of Kubernetes' longest (63 bytes each).
    fn longest_name() -> String {
        let part = format!("{}abc", "team-".repeat(12));
        format!("{part}/{part}")
    }

    #[test]
    fn short_names_show_as_sent() {
        let longest = longest_name();
        assert_eq!(longest.len(), MAX_KEY_NAME_BYTES);
        for name in ["myns/myagent", "testbench", "team-a/agent-7", "ns:agent.v2", "a", &longest] {
            assert!(is_name(name), "{name}");
            assert_eq!(key_label(Some(name)), name);
        }
        assert_eq!(key_label(None), "None");
    }

    #[test]
    fn anything_that_may_be_a_secret_is_hashed() {
        let openai = format!("sk-proj-{}", "Ab3".repeat(52));
        let secrets = [
            openai.as_str(),
            "sk-1234",
            "SK-abc",
            "sk-ant-api03-xyz",
            "ns/sk-live",
            "AIzaSyD",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            "ghp_abc",
            "3f2a9c0d4b5e6f708192a3b4c5d6e7f8",
            "agent/abcdefghijklmnopqrstuvwxyzabcdef",
            "Bearer abc",
            "my key",
            "ns/agent\n",
            "ключ",
            &format!("{}x", longest_name()),
        ];
        for secret in secrets {
            assert!(!is_name(secret), "{secret:?}");
            let label = key_label(Some(secret));
            assert_eq!(label, hex(&Sha256::digest(secret.as_bytes())), "{secret:?}");
            assert_eq!(label.len(), 64);
        }
    }

    #[test]
    fn long_values_are_cut_with_a_hash_suffix_and_stay_distinct() {
        assert_eq!(bounded("gpt-4o-mini"), "gpt-4o-mini");
        let exact = "m".repeat(MAX_LABEL_BYTES);
        assert_eq!(bounded(&exact), exact);
        let (a, b) = (format!("{}a", "m".repeat(500)), format!("{}b", "m".repeat(500)));
        let (cut_a, cut_b) = (bounded(&a), bounded(&b));
        assert_ne!(cut_a, cut_b);
        assert_eq!(cut_a.len(), MAX_LABEL_BYTES);
        assert!(cut_a.starts_with("mmmm") && cut_a.contains('~'), "{cut_a}");
        for odd in ["\"".repeat(100), "é".repeat(100), "\\\n".repeat(70), "x".repeat(1 << 16)] {
            let cut = bounded(&odd);
            assert!(escape(&cut).len() <= MAX_LABEL_BYTES, "{cut:?}");
            assert!(cut.len() > MAX_LABEL_BYTES / 2, "keeps what fits: {cut:?}");
        }
    }
}
