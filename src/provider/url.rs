//! Upstream URLs from typed parts: the endpoint's base (checked at start-up), fixed path
//! text written in the code, variable segments (a model, a deployment) checked and
//! percent-encoded one at a time, and named query values, encoded. A requested model fills
//! at most the one segment it is given; one that cannot ([`Refused`]) is answered with a
//! 400 before anything is sent. Also [`shown`]: a URL as it may appear in headers, errors
//! and logs, without its `user:password@`. The URL goes into the request head (`head`).
//!
//! Which names fit a segment ([`check`]) is one rule for every provider: not empty, not `.`,
//! no `..`, ASCII only, no whitespace or control characters, none of `?`, `#`, `%` or `\`;
//! `/` only in a [`Room::Id`] (sent as `%2F`), `:` not in a [`Room::BeforeMethod`].
//! Providers that carry the model in the JSON body (OpenAI-compatible vendors, Anthropic)
//! put no name in a URL and take any name.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes a path segment keeps as they are: RFC 3986's unreserved characters and the `:` and
/// `@` a segment may hold (`anthropic.claude-v2:1`, an ARN's colons, Vertex's `@` versions).
/// Every other byte is sent as `%XX`, `/` included.
const SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b':').remove(b'@');
/// Bytes an id segment keeps: a Bedrock model id or ARN goes with its `:` as `%3A` too, as
/// AWS's SDKs send (and sign) it.
const ID_SEGMENT: &AsciiSet = &SEGMENT.add(b':');
/// Bytes a query value keeps as they are: the unreserved characters only.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What a variable segment has room for, beyond the rule every segment follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// One name (an Azure deployment, a Vertex project): no `/`.
    Name,
    /// One name that a `:method` follows (Gemini's `models/{model}:generateContent`): no
    /// `/` and no `:`, so the name cannot pick the method.
    BeforeMethod,
    /// One id that may hold `/` and `:`, sent as `%2F` and `%3A` inside its one segment (a Bedrock ARN such as
    /// `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v2:1`).
    Id,
}

/// Why a value cannot fill a segment; the words follow "the name".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// Checks that `value` fits one segment with `room`.
pub fn check(value: &str, room: Room) -> Result<(), Refused> {
    let refused = if value.is_empty() {
        "is empty"
    } else if value == "." || value.contains("..") {
        "is or holds a dot segment (`.`, `..`)"
    } else if !value.is_ascii() {
        "holds non-ASCII characters"
    } else if value.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        "holds whitespace or control characters"
    } else if value.contains(['?', '#', '%', '\\']) {
        "holds `?`, `#`, `%` or `\\`"
    } else if room != Room::Id && value.contains('/') {
        "holds `/`, and the provider's URL has room for one path segment"
    } else if room == Room::BeforeMethod && value.contains(':') {
        "holds `:`, which would name the provider's method"
    } else {
        return Ok(());
    };
    Err(Refused(refused))
}

/// A URL being built: base, then path parts, then the query.
#[derive(Debug, Clone)]
pub struct Url {
    text: String,
    has_query: bool,
}

impl Url {
    /// Starts from an endpoint's base (scheme, authority, optional path; no query), checked
    /// when the endpoint was resolved.
    pub fn new(base: &str) -> Self {
        Url { text: base.trim_end_matches('/').to_owned(), has_query: false }
    }

    /// Appends fixed path text from the code (`/openai/deployments/`, `:generateContent`).
    #[must_use]
    pub fn path(mut self, fixed: &'static str) -> Self {
        debug_assert!(!self.has_query, "path text after the query");
        self.text.push_str(fixed);
        self
    }

    /// Appends `value` as one percent-encoded segment, if it fits `room`.
    pub fn segment(mut self, value: &str, room: Room) -> Result<Self, Refused> {
        check(value, room)?;
        let keep = if room == Room::Id { ID_SEGMENT } else { SEGMENT };
        self.text.extend(utf8_percent_encode(value, keep));
        Ok(self)
    }

    /// Appends `name=value` to the query, the value percent-encoded.
    #[must_use]
    pub fn query(mut self, name: &'static str, value: &str) -> Self {
        self.text.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        self.text.push_str(name);
        self.text.push('=');
        self.text.extend(utf8_percent_encode(value, QUERY_VALUE));
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// `url` as it may be shown (the `x-litellm-model-api-base` header, errors, logs): without
/// the `user:password@` of its authority.
pub fn shown(url: &str) -> Cow<'_, str> {
    let Some(scheme) = url.find("://") else { return Cow::Borrowed(url) };
    let start = scheme + "://".len();
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}{}", &url[..start], &url[start + at + 1..])),
        None => Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_fills_one_segment_and_the_query_stays_the_codes() {
        let url = Url::new("http://h/v1/")
            .path("/openai/deployments/")
            .segment("gpt-4o.v2", Room::Name)
            .map(|u| u.path("/chat/completions").query("api-version", "2024-10-21&x=#1"))
            .map(Url::into_string);
        assert_eq!(
            url.as_deref(),
            Ok("http://h/v1/openai/deployments/gpt-4o.v2/chat/completions?api-version=2024-10-21%26x%3D%231")
        );
        let url = Url::new("http://h").path("/a").query("x", "1").query("y", "2");
        assert_eq!(url.as_str(), "http://h/a?x=1&y=2");
    }

    #[test]
    fn an_arn_is_one_encoded_segment_colons_and_slash_included() {
        let arn =
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
        let url = Url::new("https://bedrock-runtime.us-east-1.amazonaws.com")
            .path("/model/")
            .segment(arn, Room::Id)
            .map(|u| u.path("/converse").into_string());
        assert_eq!(
            url.as_deref(),
            Ok(
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
            )
        );
        assert!(check(arn, Room::Name).is_err(), "only an Id has room for `/`");
        assert!(check("anthropic.claude-v2:1", Room::Name).is_ok());
    }

    #[test]
    fn names_that_would_leave_their_segment_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/../b",
            "x?y",
            "x#y",
            "x%2Fy",
            "a\\b",
            "x y",
            "x\ty",
            "x\ny",
            "x\u{7f}",
            "gémini",
            "dall-e-3/images/generations?api-version=2025-04-01-preview&",
        ] {
            assert!(check(bad, Room::Name).is_err(), "{bad:?}");
            assert!(check(bad, Room::Id).is_err(), "{bad:?}");
        }
        assert!(check("tunedModels/x", Room::BeforeMethod).is_err());
        assert_eq!(
            check("gemini-2.0-flash:countTokens", Room::BeforeMethod),
            Err(Refused("holds `:`, which would name the provider's method"))
        );
        for good in ["gemini-2.0-flash", "gemini-2.5-flash-preview-05-20", "claude-3-5-sonnet@20240620", "my_dep.v2"] {
            assert!(check(good, Room::BeforeMethod).is_ok(), "{good}");
        }
    }

    #[test]
    fn what_is_left_is_still_encoded() {
        let url = Url::new("http://h").path("/m/").segment("a;b=c&d'e(f)!*+,$\"<>[]^`{|}", Room::Name);
        assert_eq!(
            url.map(Url::into_string).as_deref(),
            Ok("http://h/m/a%3Bb%3Dc%26d%27e%28f%29%21%2A%2B%2C%24%22%3C%3E%5B%5D%5E%60%7B%7C%7D")
        );
    }

    #[test]
    fn userinfo_is_never_shown() {
        assert_eq!(shown("https://user:pw@host:8443/v1"), "https://host:8443/v1");
        assert_eq!(shown("http://a@b@host/p@q"), "http://host/p@q");
        assert_eq!(shown("http://host/v1?u=a@b"), "http://host/v1?u=a@b");
        assert!(matches!(shown("http://host/v1"), Cow::Borrowed(_)));
        assert_eq!(shown("no scheme"), "no scheme");
    }
}
