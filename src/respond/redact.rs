//! A provider's error body with the gateway's own credentials cut out: every exact
//! occurrence of the key or token the gateway sent is replaced by `***` before `respond`
//! turns the body into the error the client gets and the log line quotes.

use bytes::Bytes;
use memchr::memmem;

/// What a credential is replaced by.
const MASK: &[u8] = b"***";
/// Shorter values are not cut: placeholders such as `none` or `x`, which OpenAI-compatible
/// hosts take as keys, would blank ordinary words of a message, and they guard nothing.
pub const MIN_SECRET_LEN: usize = 8;

/// `body` with each of `secrets` (at least [`MIN_SECRET_LEN`] bytes) replaced by `***`,
/// longest first so a key holding another is cut whole; `body` itself when none occurs.
pub fn credentials(body: Bytes, secrets: &[&str]) -> Bytes {
    let mut secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).filter(|s| s.len() >= MIN_SECRET_LEN).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out: Option<Vec<u8>> = None;
    for secret in secrets {
        let text = out.as_deref().unwrap_or(&body);
        if memmem::find(text, secret).is_some() {
            out = Some(replace(text, secret));
        }
    }
    out.map_or(body, Bytes::from)
}

fn replace(text: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for found in memmem::find_iter(text, secret) {
        out.extend_from_slice(&text[at..found]);
        out.extend_from_slice(MASK);
        at = found + secret.len();
    }
    out.extend_from_slice(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(body: &str, secrets: &[&str]) -> String {
        String::from_utf8(credentials(Bytes::from(body.to_owned()), secrets).to_vec()).unwrap_or_default()
    }

    #[test]
    fn every_occurrence_of_a_credential_is_masked() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-abcdefgh1234 (Bearer sk-abcdefgh1234)"}}"#;
        assert_eq!(
            cut(body, &["sk-abcdefgh1234"]),
            r#"{"error":{"message":"Incorrect API key provided: *** (Bearer ***)"}}"#
        );
    }

    #[test]
    fn the_longest_credential_is_cut_first_and_short_ones_not_at_all() {
        assert_eq!(cut("token ya29.long-token-value here", &["ya29.long", "ya29.long-token-value"]), "token *** here");
        assert_eq!(cut("none of these", &["none"]), "none of these");
        assert_eq!(cut("nothing to cut", &["sk-abcdefgh1234"]), "nothing to cut");
    }
}
