//! What a provider reads besides its [`Attempt`](super::Attempt): the [`Context`] (the
//! upstream client, the memory budget, the router settings providers follow) and the
//! deployments' resolved [`Endpoints`] (base URLs and credential sources), both built once
//! at start-up by `gateway` and lent to `retry`, `pick`, `catalog` and the providers.

use std::sync::Arc;

use http::HeaderValue;

use crate::budget::Budget;
use crate::error::Error;
use crate::settings::Settings;
use crate::state::conversations::Conversations;
use crate::table::Table;
use crate::upstream;

use super::{Endpoint, Unavailable};

/// The shared, read-only things a provider call uses.
pub struct Context {
    /// The pooled upstream client.
    pub client: upstream::Client,
    /// The memory budget translations charge what they build to.
    pub budget: Budget,
    /// Largest non-streaming reply body read from a provider.
    pub max_upstream_bytes: usize,
    /// `litellm_settings.drop_params`: parameters a provider cannot take are dropped, not refused.
    pub drop_params: bool,
    /// `forward_client_headers_to_llm_api`, and the extra header the caller's key may be in.
    pub forward_client_headers: bool,
    pub key_header: Option<&'static str>,
    /// Where bridged Responses API conversations are stored: the shared Redis, once
    /// `gateway` has connected to one; `None` without Redis.
    pub conversations: Option<Arc<Conversations>>,
}

impl Context {
    pub fn new(table: &Table, settings: &Settings, client: upstream::Client, budget: Budget) -> Self {
        Context {
            client,
            budget,
            max_upstream_bytes: settings.max_upstream_bytes,
            drop_params: table.router.drop_params,
            forward_client_headers: table.general.forward_client_headers,
            key_header: table.general.key_header,
            conversations: None,
        }
    }
}

/// Every deployment's endpoint, in table order, or why it cannot serve.
pub struct Endpoints {
    table: &'static Table,
    resolved: Vec<Result<Endpoint, Unavailable>>,
    /// Each available endpoint's base as it may be shown, as a header value: worked out
    /// once, not on every call (`x-litellm-model-api-base`, traces).
    shown: Vec<Option<HeaderValue>>,
}

impl Endpoints {
    /// Resolves every deployment's endpoint from `settings` ([`super::endpoints`]).
    pub fn resolve(settings: &Settings, table: &'static Table) -> Self {
        let resolved = super::endpoints(settings, table);
        let shown = resolved
            .iter()
            .map(|e| e.as_ref().ok().and_then(|e| HeaderValue::from_str(&super::url::shown(&e.base)).ok()))
            .collect();
        Endpoints { table, resolved, shown }
    }

    /// Deployment `i`'s base URL as it may be shown (without userinfo), `None` when it is
    /// unavailable or not a valid header value.
    pub fn shown_base(&self, i: u16) -> Option<HeaderValue> {
        self.shown.get(usize::from(i)).cloned().flatten()
    }

    /// Whether deployment `i` has what it needs to serve.
    pub fn available(&self, i: u16) -> bool {
        self.resolved.get(usize::from(i)).is_some_and(Result::is_ok)
    }

    /// The error a call to the unavailable deployment `i` gets.
    pub fn unavailable(&self, i: u16) -> Error {
        let d = self.table.deployment(i);
        match self.resolved.get(usize::from(i)) {
            Some(Err(why)) => why.error(d),
            _ => Error::Misconfigured { deployment: d.model_name, reason: "not available".into() },
        }
    }

    /// The resolved endpoint of an available deployment.
    pub fn get(&self, i: u16) -> Result<&Endpoint, Error> {
        match self.resolved.get(usize::from(i)) {
            Some(Ok(endpoint)) => Ok(endpoint),
            _ => Err(self.unavailable(i)),
        }
    }

    /// Why each deployment that cannot serve cannot, for start-up warnings.
    pub fn problems(&self) -> impl Iterator<Item = Error> + '_ {
        self.table
            .deployments
            .iter()
            .zip(&self.resolved)
            .filter_map(|(d, resolved)| resolved.as_ref().err().map(|why| why.error(d)))
    }
}
