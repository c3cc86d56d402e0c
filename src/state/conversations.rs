//! Bridged Responses API conversations on the shared Redis: one key per response,
//! `<prefix>responses-v1:{<response id>}`, holding `{"response": <the response object>,
//! "input": [<its input items, earlier turns' included>]}` with a TTL
//! (`router_settings.responses_store_ttl`, default [`DEFAULT_TTL`]). `responses-v1` is the
//! layout version; the braces are a Redis Cluster hash tag. A record over
//! [`MAX_STORED_BYTES`] is not stored. Every command is bounded by the Redis command timeout
//! (`redis::COMMAND_TIMEOUT`, 200 ms) and answers at once while Redis is away. What is
//! stored is never logged: only ids and sizes. `provider::responses::store` decides what to
//! store and answers from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::redis::Shared;

/// The key layout version.
pub const LAYOUT: &str = "responses-v1";
/// How long a conversation stays stored when `responses_store_ttl` is not set.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The most JSON one stored response may take (its object and its input items); a larger
/// one is answered but not stored.
pub const MAX_STORED_BYTES: usize = 1024 * 1024;
/// Longest response id used in a key as it is; a longer one (or one with a brace) is hashed.
const MAX_ID_IN_KEY: usize = 128;

/// Redis could not answer in time (down, or slower than the command timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// The conversation store on one Redis.
pub struct Conversations {
    shared: Arc<Shared>,
    prefix: String,
    ttl: Duration,
    /// A store failed and no store has succeeded since: said once.
    failing: AtomicBool,
}

impl std::fmt::Debug for Conversations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversations").field("prefix", &self.prefix).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// The key response `id` is stored under.
pub fn key(prefix: &str, id: &str) -> String {
    let tag = if id.len() > MAX_ID_IN_KEY || id.contains(['{', '}']) {
        crate::table::hex(&Sha256::digest(id.as_bytes()))
    } else {
        id.to_owned()
    };
    format!("{prefix}{LAYOUT}:{{{tag}}}")
}

impl Conversations {
    /// The store on `shared`'s Redis, keys under `prefix`, kept `ttl_s` seconds (`None`: an hour).
    pub fn new(shared: Arc<Shared>, prefix: &str, ttl_s: Option<u64>) -> Self {
        let ttl = ttl_s.map_or(DEFAULT_TTL, Duration::from_secs);
        Conversations { shared, prefix: prefix.to_owned(), ttl, failing: AtomicBool::new(false) }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Stores response `id`: its object and its input items (JSON texts), unless together
    /// they are over [`MAX_STORED_BYTES`]; either refusal or failure is logged at warn,
    /// without content, and the response is still the client's.
    pub async fn save(&self, id: &str, response: &[u8], input: &[u8]) {
        let bytes = response.len() + input.len();
        if bytes > MAX_STORED_BYTES {
            tracing::warn!(
                response_id = id,
                bytes,
                limit = MAX_STORED_BYTES,
                "bridged response not stored: larger than the bound; a follow-up naming it gets not found"
            );
            return;
        }
        let record = [&b"{\"response\":"[..], response, b",\"input\":", input, b"}"].concat();
        let ttl_s = self.ttl.as_secs().max(1);
        let set = redis::cmd("SET").arg(key(&self.prefix, id)).arg(record).arg("EX").arg(ttl_s).to_owned();
        if self.shared.command::<()>(&set).await.is_some() {
            if self.failing.swap(false, Ordering::AcqRel) {
                tracing::info!("bridged responses are stored on Redis again");
            }
        } else if !self.failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                response_id = id,
                "bridged response not stored: Redis did not answer; follow-ups naming it get not found \
                 (said once until a store succeeds)"
            );
        }
    }

    /// Response `id`'s record, `None` when it is not stored (never, expired or deleted).
    pub async fn load(&self, id: &str) -> Result<Option<Bytes>, Unreachable> {
        let get = redis::cmd("GET").arg(key(&self.prefix, id)).to_owned();
        let found: Option<Vec<u8>> = self.shared.command(&get).await.ok_or(Unreachable)?;
        Ok(found.map(Bytes::from))
    }

    /// Deletes response `id`'s record; whether there was one.
    pub async fn delete(&self, id: &str) -> Result<bool, Unreachable> {
        let del = redis::cmd("DEL").arg(key(&self.prefix, id)).to_owned();
        let removed: u64 = self.shared.command(&del).await.ok_or(Unreachable)?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_prefix_layout_and_one_hash_tag() {
        assert_eq!(key("model-router:", "resp_0123abcd"), "model-router:responses-v1:{resp_0123abcd}");
        let odd = key("p:", "resp_{x}");
        assert_eq!((odd.matches('{').count(), odd.matches('}').count()), (1, 1), "{odd}");
        assert!(!odd.contains("resp_"), "{odd}");
        let long = key("p:", &"a".repeat(MAX_ID_IN_KEY + 1));
        assert_eq!(long.len(), "p:responses-v1:{}".len() + 64, "{long}");
    }
}
