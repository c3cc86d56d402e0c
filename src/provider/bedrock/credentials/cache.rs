//! Temporary AWS credentials (STS, the container endpoint) cached per source and fetched
//! again once less than [`REFRESH_MARGIN`] of their life remains; concurrent callers share
//! one fetch, as the Vertex token cache (`google_auth::token`) does.

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Mutex;

use super::{Credentials, container, sts};
use crate::error::Error;
use crate::upstream::Client;

/// Credentials are fetched again when less than this much of their life remains.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long credentials that name no expiry are kept.
const NO_EXPIRY_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How temporary credentials are fetched.
#[derive(Debug)]
pub enum Fetch {
    Sts(sts::Sts),
    Container(container::Container),
}

struct Held {
    credentials: Credentials,
    refresh_at: Instant,
}

/// One source of temporary credentials and what it last handed out.
pub struct Cached {
    fetch: Fetch,
    held: Mutex<Option<Held>>,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached").field("fetch", &self.fetch).finish_non_exhaustive()
    }
}

impl Cached {
    pub fn new(fetch: Fetch) -> Self {
        Cached { fetch, held: Mutex::new(None) }
    }

    pub fn name(&self) -> String {
        match &self.fetch {
            Fetch::Sts(sts) => sts.name(),
            Fetch::Container(container) => container.name(),
        }
    }

    /// Fresh credentials: the held ones, or new ones fetched before `deadline`. The lock is
    /// held across the fetch, so callers waiting for it find the new credentials.
    pub async fn get(
        &self,
        client: &Client,
        deadline: Instant,
        deployment: &'static str,
    ) -> Result<Credentials, Error> {
        let started = Instant::now();
        let timeout = deadline.saturating_duration_since(started);
        let Ok(mut held) = tokio::time::timeout(timeout, self.held.lock()).await else {
            return Err(Error::Timeout {
                timeout_s: timeout.as_secs_f64(),
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        };
        if let Some(fresh) = held.as_ref().filter(|h| Instant::now() < h.refresh_at) {
            return Ok(fresh.credentials.clone());
        }
        let asked_at = Instant::now();
        let credentials = match &self.fetch {
            Fetch::Sts(sts) => Box::pin(sts.fetch(client, deadline, deployment)).await?,
            Fetch::Container(container) => container.fetch(client, deadline, deployment).await?,
        };
        let lifetime = credentials
            .expires
            .map_or(NO_EXPIRY_LIFETIME, |at| at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO));
        tracing::debug!(
            deployment,
            source = %self.name(),
            access_key_id = %credentials.access_key_id,
            expires_in_s = lifetime.as_secs(),
            "fetched AWS credentials"
        );
        let refresh_at = asked_at + lifetime.saturating_sub(REFRESH_MARGIN);
        *held = Some(Held { credentials: credentials.clone(), refresh_at });
        Ok(credentials)
    }
}
