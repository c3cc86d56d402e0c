//! Prometheus metrics under LiteLLM's names and labels, so existing dashboards keep
//! working: request and failure counts, latency histograms, tokens, spend, deployment
//! health, in-flight requests, plus a build-info metric. `report` records each finished
//! call once; `GET /metrics` renders the text format (`render`). What clients send is
//! bounded before it becomes a label (`label`) and every family is capped in series and in
//! bytes (`family`), so the page a scrape gets stays within [`MAX_CLIENT_PAGE_BYTES`].

mod family;
mod label;
mod names;
mod render;

use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::table::Table;
use crate::usage::Usage;
use family::Family;
pub use family::MAX_SERIES;
pub use label::{MAX_KEY_NAME_BYTES, MAX_LABEL_BYTES, key_label};

/// LiteLLM's latency buckets, in seconds.
pub(super) const BUCKETS: [f64; 35] = [
    0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0,
    7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0,
];
/// Most bytes each family with client-derived labels renders to. The model family's label
/// set takes 159 lines (eleven metrics, four of them histograms), so its budget holds about
/// 500 label sets of typical names (`myns/myagent`, `gpt-4o-mini`): callers times models.
pub const MAX_PROXY_BYTES: usize = 8 << 20;
pub const MAX_MODEL_BYTES: usize = 32 << 20;
/// Each of the two fallback families (succeeded, failed).
pub const MAX_FALLBACK_BYTES: usize = 4 << 20;
/// Most bytes of the page that client input can fill (50 MiB): the families above. The rest
/// of the page has labels from the routes alone: headers, build info, deployment health (a
/// line per deployment and status code), and the overflow series (one per route, status
/// and provider; per deployment; per fallback group).
pub const MAX_CLIENT_PAGE_BYTES: usize =
    MAX_PROXY_BYTES + MAX_MODEL_BYTES + 2 * MAX_FALLBACK_BYTES + 2 * MAX_KEY_GAUGE_BYTES;
/// Each of the two per-key gauges (remaining requests, tokens), by virtual key and model.
pub const MAX_KEY_GAUGE_BYTES: usize = 1 << 20;
const OVERFLOW: &str = "__overflow__";
/// What LiteLLM writes for a label it has no value for.
pub(super) const NONE: &str = "None";

/// LiteLLM's `exception_class` of a failure: the exception's class, and whether a provider
/// raised it (then the label is the provider's name first: `Openai.RateLimitError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Class {
    pub(super) by_provider: bool,
    pub(super) name: &'static str,
}

impl Class {
    fn new((by_provider, name): (bool, &'static str)) -> Self {
        Class { by_provider, name }
    }

    /// The label value, for a failure on `provider`.
    pub(super) fn label(self, provider: Option<&str>) -> std::borrow::Cow<'static, str> {
        let mut letters = provider.filter(|_| self.by_provider).unwrap_or_default().chars();
        match letters.next() {
            Some(first) => format!("{}{}.{}", first.to_ascii_uppercase(), letters.as_str(), self.name).into(),
            None => self.name.into(),
        }
    }
}

/// Labels of proxy-level request counts; `class` only for failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProxyKey {
    pub(super) key: String,
    /// The virtual key calling, for `api_key_alias`, `team` and `team_alias`.
    pub(super) vkey: Option<u16>,
    pub(super) requested: String,
    pub(super) route: &'static str,
    pub(super) status: u16,
    pub(super) provider: &'static str,
    pub(super) class: Option<Class>,
}

/// A [`ProxyKey`] borrowed from a call: how a known series is found without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ProxyLabels<'a> {
    key: &'a str,
    vkey: Option<u16>,
    requested: &'a str,
    route: &'static str,
    status: u16,
    provider: &'static str,
    class: Option<Class>,
}

impl ProxyKey {
    fn labels(&self) -> ProxyLabels<'_> {
        let ProxyKey { key, vkey, requested, route, status, provider, class } = self;
        ProxyLabels { key, vkey: *vkey, requested, route, status: *status, provider, class: *class }
    }
}

impl ProxyLabels<'_> {
    fn owned(&self) -> ProxyKey {
        let ProxyLabels { key, vkey, requested, route, status, provider, class } = *self;
        ProxyKey { key: key.to_owned(), vkey, requested: requested.to_owned(), route, status, provider, class }
    }
}

/// Hashed as its borrowed form, so that the two find the same series.
impl Hash for ProxyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.labels().hash(state);
    }
}

impl hashbrown::Equivalent<ProxyKey> for ProxyLabels<'_> {
    fn equivalent(&self, key: &ProxyKey) -> bool {
        *self == key.labels()
    }
}

/// Labels of per-deployment call metrics; `model` is the model sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ModelKey {
    pub(super) key: String,
    pub(super) vkey: Option<u16>,
    pub(super) requested: String,
    pub(super) model: String,
    pub(super) deployment: u16,
}

/// A [`ModelKey`] borrowed from a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ModelLabels<'a> {
    key: &'a str,
    vkey: Option<u16>,
    requested: &'a str,
    model: &'a str,
    deployment: u16,
}

impl ModelKey {
    fn labels(&self) -> ModelLabels<'_> {
        let ModelKey { key, vkey, requested, model, deployment } = self;
        ModelLabels { key, vkey: *vkey, requested, model, deployment: *deployment }
    }
}

impl ModelLabels<'_> {
    fn owned(&self) -> ModelKey {
        let ModelLabels { key, vkey, requested, model, deployment } = *self;
        ModelKey { key: key.to_owned(), vkey, requested: requested.to_owned(), model: model.to_owned(), deployment }
    }
}

/// Hashed as its borrowed form, so that the two find the same series.
impl Hash for ModelKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.labels().hash(state);
    }
}

impl hashbrown::Equivalent<ModelKey> for ModelLabels<'_> {
    fn equivalent(&self, key: &ModelKey) -> bool {
        *self == key.labels()
    }
}

/// Labels of deployment health metrics; `status` is 0 and `class` `None` where they are
/// not labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct DeploymentKey {
    pub(super) deployment: u16,
    pub(super) status: u16,
    pub(super) class: Option<Class>,
}

impl DeploymentKey {
    fn of(deployment: u16) -> Self {
        DeploymentKey { deployment, status: 0, class: None }
    }
}

#[derive(Debug, Default, Clone)]
pub(super) struct Histogram {
    pub(super) counts: Vec<u64>,
    pub(super) sum: f64,
    pub(super) count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.counts[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// Proxy-level counts of one label set.
#[derive(Debug, Default)]
pub(super) struct ProxySeries {
    pub(super) total: f64,
    pub(super) failed: f64,
}

/// Everything counted per (caller, requested model, deployment, model sent): one map entry,
/// found once per call.
#[derive(Debug, Default)]
pub(super) struct ModelSeries {
    pub(super) requests: f64,
    pub(super) total_latency: Histogram,
    pub(super) api_latency: Histogram,
    pub(super) ttft: Histogram,
    pub(super) overhead: Histogram,
    pub(super) input_tokens: f64,
    pub(super) output_tokens: f64,
    pub(super) total_tokens: f64,
    pub(super) cached_tokens: f64,
    pub(super) reasoning_tokens: f64,
    pub(super) spend: f64,
}

#[derive(Debug)]
pub(super) struct Families {
    pub(super) proxies: Family<ProxyKey, ProxySeries>,
    pub(super) models: Family<ModelKey, ModelSeries>,
    pub(super) deployment_success: Family<DeploymentKey, f64>,
    pub(super) deployment_failure: Family<DeploymentKey, f64>,
    pub(super) deployment_total: Family<DeploymentKey, f64>,
    pub(super) deployment_state: Family<DeploymentKey, f64>,
    pub(super) remaining_requests: Family<DeploymentKey, f64>,
    pub(super) remaining_tokens: Family<DeploymentKey, f64>,
    pub(super) cooled_down: Family<DeploymentKey, f64>,
    pub(super) fallbacks_ok: Family<FallbackKey, f64>,
    pub(super) fallbacks_failed: Family<FallbackKey, f64>,
    /// (virtual key, requested model) → its remaining requests and tokens this minute.
    pub(super) key_requests: Family<(u16, String), f64>,
    pub(super) key_tokens: Family<(u16, String), f64>,
}

impl Default for Families {
    fn default() -> Self {
        Families {
            proxies: Family::with_budget(MAX_PROXY_BYTES),
            models: Family::with_budget(MAX_MODEL_BYTES),
            deployment_success: Family::default(),
            deployment_failure: Family::default(),
            deployment_total: Family::default(),
            deployment_state: Family::default(),
            remaining_requests: Family::default(),
            remaining_tokens: Family::default(),
            cooled_down: Family::default(),
            fallbacks_ok: Family::with_budget(MAX_FALLBACK_BYTES),
            fallbacks_failed: Family::with_budget(MAX_FALLBACK_BYTES),
            key_requests: Family::with_budget(MAX_KEY_GAUGE_BYTES),
            key_tokens: Family::with_budget(MAX_KEY_GAUGE_BYTES),
        }
    }
}

/// Labels of fallback counts: who asked for what, and the group that was tried.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct FallbackKey {
    pub(super) key: String,
    pub(super) vkey: Option<u16>,
    pub(super) requested: String,
    pub(super) fallback: String,
}

/// One finished model call, as metrics see it.
#[derive(Debug)]
pub struct Record<'a> {
    pub route: &'static str,
    pub status: u16,
    pub requested: &'a str,
    /// The `hashed_api_key` label.
    pub key: &'a str,
    /// The virtual key calling, and what it has left of its rpm and tpm after the call.
    pub vkey: Option<u16>,
    pub vkey_remaining: (Option<u64>, Option<u64>),
    /// The deployment and the model sent to it.
    pub deployment: Option<(u16, &'a str)>,
    pub total: Duration,
    /// From sending upstream to the response head.
    pub api: Option<Duration>,
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
    pub cost: Option<f64>,
    /// `x-ratelimit-remaining-requests` / `-tokens` from the provider.
    pub remaining: (Option<f64>, Option<f64>),
    /// The last fallback group tried, if any was.
    pub fallback: Option<&'a str>,
    /// A failed call's `exception_class` ([`crate::error::Error::metric_class`]).
    pub error: Option<(bool, &'static str)>,
}

/// The registry; records nothing unless `callbacks` names `prometheus`.
pub struct Metrics {
    pub enabled: bool,
    families: Mutex<Families>,
    in_flight: AtomicI64,
}

impl Metrics {
    /// The text exposition format (`text/plain; version=0.0.4`).
    pub fn render(&self, table: &Table) -> String {
        let in_flight = self.in_flight.load(Ordering::Relaxed).max(0);
        match self.families.lock() {
            Ok(families) => render::page(table, in_flight, Some(&families)),
            Err(_) => render::page(table, in_flight, None),
        }
    }
}

/// Counts one attempt's outcome on a deployment: totals, success or failure, and state.
fn outcome(f: &mut Families, deployment: u16, status: u16, class: Option<Class>) {
    let at = DeploymentKey::of(deployment);
    *f.deployment_total.at(at) += 1.0;
    if status < 400 {
        *f.deployment_success.at(at) += 1.0;
    } else {
        let failed = DeploymentKey { deployment, status, class };
        *f.deployment_failure.at(failed) += 1.0;
    }
    *f.deployment_state.at(at) = if status < 400 || (status < 500 && status != 429) { HEALTHY } else { OUTAGE };
}

/// Deployment state as LiteLLM reports it.
const HEALTHY: f64 = 0.0;
const OUTAGE: f64 = 2.0;

impl Metrics {
    pub fn new(table: &Table) -> Self {
        let enabled = table.router.callbacks.contains(&"prometheus");
        Metrics { enabled, families: Mutex::new(Families::default()), in_flight: AtomicI64::new(0) }
    }

    /// Counts a model call as started; [`Metrics::record`] counts it as finished.
    pub fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a deployment entering cooldown after a failure with `status`.
    pub fn cooled_down(&self, deployment: u16, status: u16) {
        if !self.enabled {
            return;
        }
        if let Ok(mut f) = self.families.lock() {
            *f.cooled_down.at(DeploymentKey { deployment, status, class: None }) += 1.0;
        }
    }

    /// Counts one failed attempt on a deployment (a call may make several): its status and
    /// `exception_class` ([`crate::error::Error::metric_class`]).
    pub fn attempt_failed(&self, deployment: u16, status: u16, class: (bool, &'static str)) {
        if let (true, Ok(mut f)) = (self.enabled, self.families.lock()) {
            outcome(&mut f, deployment, status, Some(Class::new(class)));
        }
    }

    /// Records one finished model call.
    pub fn record(&self, table: &Table, r: &Record<'_>) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.enabled {
            return;
        }
        let Ok(mut f) = self.families.lock() else { return };
        let (key, requested) = (label::bounded(r.key), label::bounded(r.requested));
        let (key, requested) = (key.as_ref(), requested.as_ref());
        let provider = r.deployment.map_or(NONE, |(d, _)| table.deployment(d).provider);
        let class = (r.status >= 400).then(|| Class::new(r.error.unwrap_or((false, "ProxyException"))));
        let (route, status, vkey) = (r.route, r.status, r.vkey);
        let proxy = ProxyLabels { key, vkey, requested, route, status, provider, class };
        let proxy_over = || ProxyLabels { key: OVERFLOW, vkey: None, requested: OVERFLOW, ..proxy }.owned();
        let cost = |k: &ProxyKey| {
            render::cost(render::PROXY_LINES, &render::labels(names::PROXY_FAILED, &render::proxy_view(table, k)))
        };
        let series = f.proxies.get(&proxy, ProxyLabels::owned, cost, proxy_over);
        series.total += 1.0;
        if r.status >= 400 {
            series.failed += 1.0;
        }
        if let Some(fallback) = r.fallback {
            let key = FallbackKey {
                key: key.to_owned(),
                vkey: r.vkey,
                requested: requested.to_owned(),
                fallback: fallback.to_owned(),
            };
            let over = || FallbackKey {
                key: OVERFLOW.into(),
                vkey: None,
                requested: OVERFLOW.into(),
                fallback: fallback.to_owned(),
            };
            let cost = |k: &FallbackKey| render::cost(render::FALLBACK_LINES, &render::fallback_labels(table, k));
            let family = if r.status < 400 { &mut f.fallbacks_ok } else { &mut f.fallbacks_failed };
            *family.get(&key, Clone::clone, cost, over) += 1.0;
        }
        if let Some(vkey) = r.vkey {
            let at = (vkey, requested.to_owned());
            let cost = |k: &(u16, String)| render::cost(1, &k.1);
            let over = || (vkey, OVERFLOW.to_owned());
            if let Some(left) = r.vkey_remaining.0 {
                #[expect(clippy::cast_precision_loss, reason = "limits are far below 2^52")]
                let left = left as f64;
                *f.key_requests.get(&at, Clone::clone, cost, over) = left;
            }
            if let Some(left) = r.vkey_remaining.1 {
                #[expect(clippy::cast_precision_loss, reason = "limits are far below 2^52")]
                let left = left as f64;
                *f.key_tokens.get(&at, Clone::clone, cost, over) = left;
            }
        }
        let Some((deployment, sent)) = r.deployment else { return };
        let model = label::bounded(sent);
        let labels = ModelLabels { key, vkey: r.vkey, requested, model: &model, deployment };
        let over =
            || ModelLabels { key: OVERFLOW, vkey: None, requested: OVERFLOW, model: OVERFLOW, deployment }.owned();
        let cost = |k: &ModelKey| {
            render::cost(render::MODEL_LINES, &render::labels(names::SPEND, &render::model_view(table, k)))
        };
        let at = DeploymentKey::of(deployment);
        if r.status < 400 {
            // Failed attempts were counted one by one by `attempt_failed`.
            outcome(&mut f, deployment, r.status, None);
        }
        f.models.get(&labels, ModelLabels::owned, cost, over).observe(r);
        if let Some(v) = r.remaining.0 {
            *f.remaining_requests.at(at) = v;
        }
        if let Some(v) = r.remaining.1 {
            *f.remaining_tokens.at(at) = v;
        }
    }
}

impl ModelSeries {
    /// Counts one finished call: latencies, tokens, spend.
    fn observe(&mut self, r: &Record<'_>) {
        if r.status < 400 {
            self.requests += 1.0;
        }
        self.total_latency.observe(r.total.as_secs_f64());
        if let Some(api) = r.api {
            self.api_latency.observe(api.as_secs_f64());
            self.overhead.observe(r.total.saturating_sub(api).as_secs_f64());
        }
        if let Some(ttft) = r.ttft {
            self.ttft.observe(ttft.as_secs_f64());
        }
        #[expect(clippy::cast_precision_loss, reason = "token counts are far below 2^52")]
        if let Some(u) = r.usage {
            self.input_tokens += u.prompt_tokens as f64;
            self.output_tokens += u.completion_tokens as f64;
            self.total_tokens += u.total_tokens as f64;
            self.cached_tokens += u.cached_tokens() as f64;
            self.reasoning_tokens += u.reasoning_tokens() as f64;
        }
        if let Some(cost) = r.cost {
            self.spend += cost;
        }
    }
}

#[cfg(test)]
mod tests;
