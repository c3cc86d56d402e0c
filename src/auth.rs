//! Who is calling: the key from `Authorization: Bearer`, `x-litellm-api-key`, `api-key`,
//! `x-api-key` or the configured `litellm_key_header_name`, checked against the master key
//! in constant time, else looked up among the virtual keys (`keys`). The request goes on to
//! `parse`.

use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::keys::{Found, Keys};

/// The caller as metrics and logs know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The key as sent; only ever used as a metrics label when no master key is set.
    pub key: Option<String>,
    /// The virtual key it is, when it is one.
    pub virtual_key: Option<Found>,
}

/// LiteLLM's key header; `Authorization: Bearer`; Azure's and Anthropic's key headers.
/// Names built at compile time, so a lookup neither parses nor lowercases a string.
const LITELLM_KEY: HeaderName = HeaderName::from_static("x-litellm-api-key");
const KEY_HEADERS: [HeaderName; 2] = [HeaderName::from_static("api-key"), HeaderName::from_static("x-api-key")];

/// Finds the key a request carries, in LiteLLM's header order.
fn presented<'h>(headers: &'h HeaderMap, custom: Option<&str>) -> Result<Option<&'h str>, Error> {
    let text = |value: &'h HeaderValue| value.to_str().map_err(|_| Error::MalformedKey);
    if let Some(value) = custom.and_then(|name| headers.get(name)).map(text) {
        let value = value?;
        return Ok(Some(value.strip_prefix("Bearer ").unwrap_or(value).trim()));
    }
    if let Some(value) = headers.get(LITELLM_KEY).map(text) {
        let value = value?;
        return Ok(Some(value.strip_prefix("Bearer ").unwrap_or(value).trim()));
    }
    if let Some(value) = headers.get(http::header::AUTHORIZATION).map(text) {
        let value = value?;
        let key = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(Error::MalformedKey)?;
        return Ok(Some(key.trim()));
    }
    for name in KEY_HEADERS {
        if let Some(value) = headers.get(name).map(text) {
            return Ok(Some(value?.trim()));
        }
    }
    Ok(None)
}

/// Checks the request's key against `master`, then against `keys` (the virtual keys, when
/// the table has any). With neither, every caller is let in.
pub fn authenticate(
    headers: &HeaderMap,
    master: Option<&str>,
    custom: Option<&str>,
    keys: Option<&Keys>,
) -> Result<Caller, Error> {
    let key = presented(headers, custom);
    let keys = keys.filter(|k| k.enabled());
    if master.is_none() && keys.is_none() {
        let key = key.ok().flatten().filter(|k| !k.is_empty()).map(str::to_owned);
        return Ok(Caller { key, virtual_key: None });
    }
    let key = match key? {
        None | Some("") => return Err(Error::NoKey),
        Some(key) => key,
    };
    if master.is_some_and(|master| bool::from(key.as_bytes().ct_eq(master.as_bytes()))) {
        return Ok(Caller { key: Some(key.to_owned()), virtual_key: None });
    }
    match keys.map(|k| k.identify(key)).transpose()?.flatten() {
        Some(found) => Ok(Caller { key: None, virtual_key: Some(found) }),
        None => Err(Error::WrongKey),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn every_litellm_header_carries_the_key() {
        for h in [
            headers(&[("authorization", "Bearer sk-1")]),
            headers(&[("x-api-key", "sk-1")]),
            headers(&[("api-key", "sk-1")]),
            headers(&[("x-litellm-api-key", "sk-1")]),
            headers(&[("x-litellm-api-key", "Bearer sk-1")]),
            headers(&[("x-team-key", "sk-1")]),
        ] {
            assert!(authenticate(&h, Some("sk-1"), Some("x-team-key"), None).is_ok(), "{h:?}");
        }
    }

    #[test]
    fn missing_wrong_and_malformed_keys_are_refused() {
        assert!(matches!(authenticate(&headers(&[]), Some("sk-1"), None, None), Err(Error::NoKey)));
        assert!(matches!(
            authenticate(&headers(&[("authorization", "Bearer sk-2")]), Some("sk-1"), None, None),
            Err(Error::WrongKey)
        ));
        assert!(matches!(
            authenticate(&headers(&[("authorization", "sk-1")]), Some("sk-1"), None, None),
            Err(Error::MalformedKey)
        ));
        assert!(matches!(
            authenticate(&headers(&[("authorization", "Bearer ")]), Some("sk-1"), None, None),
            Err(Error::NoKey)
        ));
    }

    #[test]
    fn open_access_keeps_the_callers_token() {
        let caller = authenticate(&headers(&[("authorization", "Bearer myns/myagent")]), None, None, None);
        assert_eq!(caller.ok().and_then(|c| c.key), Some("myns/myagent".to_owned()));
        assert!(authenticate(&headers(&[]), None, None, None).is_ok());
    }
}
