//! The models a deployment's provider offers, as it lists them itself (`GET {base}/models`,
//! Anthropic's `{base}/v1/models`), for `/v1/models` on a wildcard deployment whose
//! `model_info.check_provider_endpoint` is true. Each fetch is bounded in time, bytes and
//! ids; its answer is cached per deployment for [`LISTED_FOR`], a failure for
//! [`FAILED_FOR`], during which `catalog` lists the price table's models instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use http::{HeaderName, Method, Request};
use serde::Deserialize;

use super::Context;
use crate::provider::url::Url;
use crate::provider::{self, Source};
use crate::table::Protocol;
use crate::upstream::Outgoing;

/// How long a provider's list is served from the cache.
pub const LISTED_FOR: Duration = Duration::from_secs(600);
/// How long a provider whose list failed is not asked again.
pub const FAILED_FOR: Duration = Duration::from_secs(60);
/// Longest wait for a provider's list.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest list body read, most ids kept, longest id kept.
const MAX_BODY_BYTES: usize = 4 << 20;
pub const MAX_IDS: usize = 5_000;
const MAX_ID_BYTES: usize = 256;

/// A provider's list as fetched at a time: its ids, or `None` after a failure.
type Listed = (Instant, Option<Arc<[String]>>);

/// The provider lists, by deployment.
#[derive(Debug, Default)]
pub struct Cache {
    lists: Mutex<HashMap<u16, Listed>>,
}

impl Cache {
    /// Deployment `index`'s provider list, from the cache while fresh, else fetched now;
    /// `None` while the provider fails.
    pub async fn models(&self, cx: Context<'_>, index: u16) -> Option<Arc<[String]>> {
        let fresh = |(at, ids): &Listed| {
            let keep = if ids.is_some() { LISTED_FOR } else { FAILED_FOR };
            (at.elapsed() < keep).then(|| ids.clone())
        };
        if let Some(cached) = self.lists.lock().ok()?.get(&index).and_then(fresh) {
            return cached;
        }
        let d = cx.table.deployment(index);
        let ids = match fetch(cx, index).await {
            Ok(ids) => Some(Arc::from(ids)),
            Err(error) => {
                tracing::warn!(deployment = d.id, model = d.model, %error, "provider model list unavailable; listing the price table's models");
                None
            }
        };
        self.lists.lock().ok()?.insert(index, (Instant::now(), ids.clone()));
        ids
    }
}

/// Asks deployment `index`'s provider for its models.
async fn fetch(cx: Context<'_>, index: u16) -> Result<Vec<String>, String> {
    let d = cx.table.deployment(index);
    let endpoint = cx.endpoints.get(index).map_err(|e| e.to_string())?;
    let key = endpoint.key.as_deref().unwrap_or_default();
    let (url, auth): (Url, Vec<(HeaderName, String)>) = match d.protocol {
        Protocol::OpenAi => (Url::new(&endpoint.base).path("/models"), vec![(AUTHORIZATION, format!("Bearer {key}"))]),
        Protocol::Anthropic => (
            Url::new(&endpoint.base).path("/v1/models"),
            vec![
                (HeaderName::from_static("x-api-key"), key.to_owned()),
                (HeaderName::from_static("anthropic-version"), provider::ANTHROPIC_VERSION.to_owned()),
            ],
        ),
        _ => return Err(format!("{}'s model list is not read", d.provider)),
    };
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(url.into_string())
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, provider::GATEWAY_USER_AGENT);
    for (name, value) in auth.into_iter().filter(|(_, v)| !v.is_empty()) {
        request = request.header(name, value);
    }
    let request = request.body(Outgoing::from(bytes::Bytes::new())).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + FETCH_TIMEOUT;
    let exception = provider::exception(d);
    let response = cx.client.send(request, deadline, exception).await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the provider answered {}", response.status()));
    }
    let source = Source::Upstream(response.into_body());
    let body = crate::framing::read(source, MAX_BODY_BYTES, deadline, exception).await.map_err(|e| e.to_string())?;
    ids(&body)
}

/// The ids of an OpenAI- or Anthropic-shaped list (`{"data":[{"id":…}]}`), at most
/// [`MAX_IDS`], each non-empty and at most [`MAX_ID_BYTES`].
fn ids(body: &[u8]) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct List {
        data: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        id: String,
    }
    let list: List = serde_json::from_slice(body).map_err(|e| format!("not a model list: {e}"))?;
    let fits = |id: &String| !id.is_empty() && id.len() <= MAX_ID_BYTES;
    Ok(list.data.into_iter().map(|item| item.id).filter(fits).take(MAX_IDS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_read_within_its_bounds() {
        let body =
            br#"{"object":"list","data":[{"id":"gpt-4o","object":"model"},{"id":""},{"id":"o3","owned_by":"x"}]}"#;
        assert_eq!(ids(body), Ok(vec!["gpt-4o".to_owned(), "o3".to_owned()]));
        let long = format!(r#"{{"data":[{{"id":"{}"}}]}}"#, "m".repeat(MAX_ID_BYTES + 1));
        assert_eq!(ids(long.as_bytes()), Ok(vec![]));
        let many = format!(r#"{{"data":[{}]}}"#, vec![r#"{"id":"m"}"#; MAX_IDS + 5].join(","));
        assert_eq!(ids(many.as_bytes()).map(|ids| ids.len()), Ok(MAX_IDS));
        assert!(ids(b"[]").is_err() && ids(b"{\"models\":[]}").is_err());
    }
}
