//! Who is calling: the key from `Authorization: Bearer`, `x-litellm-api-key`, `api-key`,
//! `x-api-key` or the configured `litellm_key_header_name`, checked against the master key
//! in constant time. The request goes on to `parse`.

use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::error::Error;

/// The caller as metrics and logs know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The key as sent; only ever used as a metrics label when no master key is set.
    pub key: Option<String>,
}

/// Finds the key a request carries, in LiteLLM's header order.
fn presented<'h>(headers: &'h HeaderMap, custom: Option<&str>) -> Result<Option<&'h str>, Error> {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().map_err(|_| Error::MalformedKey));
    if let Some(value) = custom.and_then(text) {
        let value = value?;
        return Ok(Some(value.strip_prefix("Bearer ").unwrap_or(value).trim()));
    }
    if let Some(value) = text("x-litellm-api-key") {
        let value = value?;
        return Ok(Some(value.strip_prefix("Bearer ").unwrap_or(value).trim()));
    }
    if let Some(value) = text("authorization") {
        let value = value?;
        let key = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(Error::MalformedKey)?;
        return Ok(Some(key.trim()));
    }
    for name in ["api-key", "x-api-key"] {
        if let Some(value) = text(name) {
            return Ok(Some(value?.trim()));
        }
    }
    Ok(None)
}

/// Checks the request's key against `master`; with no master key every caller is let in.
pub fn authenticate(headers: &HeaderMap, master: Option<&str>, custom: Option<&str>) -> Result<Caller, Error> {
    let key = presented(headers, custom);
    let Some(master) = master else {
        let key = key.ok().flatten().filter(|k| !k.is_empty()).map(str::to_owned);
        return Ok(Caller { key });
    };
    match key? {
        None | Some("") => Err(Error::NoKey),
        Some(key) if bool::from(key.as_bytes().ct_eq(master.as_bytes())) => Ok(Caller { key: Some(key.to_owned()) }),
        Some(_) => Err(Error::WrongKey),
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
            assert!(authenticate(&h, Some("sk-1"), Some("x-team-key")).is_ok(), "{h:?}");
        }
    }

    #[test]
    fn missing_wrong_and_malformed_keys_are_refused() {
        assert!(matches!(authenticate(&headers(&[]), Some("sk-1"), None), Err(Error::NoKey)));
        assert!(matches!(
            authenticate(&headers(&[("authorization", "Bearer sk-2")]), Some("sk-1"), None),
            Err(Error::WrongKey)
        ));
        assert!(matches!(
            authenticate(&headers(&[("authorization", "sk-1")]), Some("sk-1"), None),
            Err(Error::MalformedKey)
        ));
        assert!(matches!(
            authenticate(&headers(&[("authorization", "Bearer ")]), Some("sk-1"), None),
            Err(Error::NoKey)
        ));
    }

    #[test]
    fn open_access_keeps_the_callers_token() {
        let caller = authenticate(&headers(&[("authorization", "Bearer myns/myagent")]), None, None);
        assert_eq!(caller.ok().and_then(|c| c.key), Some("myns/myagent".to_owned()));
        assert!(authenticate(&headers(&[]), None, None).is_ok());
    }
}
